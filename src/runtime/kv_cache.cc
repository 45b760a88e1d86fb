#include "runtime/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "kernels/attention.h"
#include "tensor/blocks_legacy.h"

namespace ember {

Result<std::unique_ptr<KvCache>> KvCache::create(int64_t n_layer, int64_t n_cells, int64_t k_values,
                                                 int64_t v_values, kernels::KvType type) {
  if (n_layer <= 0 || k_values <= 0 || v_values <= 0) {
    return invalid_argument("key/value cache sizes must be positive");
  }
  return create(std::vector<int64_t>(static_cast<size_t>(n_layer), k_values),
                std::vector<int64_t>(static_cast<size_t>(n_layer), v_values), n_cells, type);
}

Result<std::unique_ptr<KvCache>> KvCache::create(const std::vector<int64_t>& k_values,
                                                 const std::vector<int64_t>& v_values,
                                                 int64_t n_cells, kernels::KvType type,
                                                 const std::vector<int64_t>& heads,
                                                 bool tiled_keys) {
  const auto n_layer = static_cast<int64_t>(k_values.size());
  if (n_layer <= 0 || v_values.size() != k_values.size() || n_cells <= 0 ||
      (!heads.empty() && heads.size() != k_values.size())) {
    return invalid_argument("key/value cache sizes must be positive");
  }
  if (n_cells > (int64_t{1} << 24)) {
    return invalid_argument("context of " + std::to_string(n_cells) + " cells is too large");
  }
  std::unique_ptr<KvCache> c(new KvCache());
  c->n_layer_ = n_layer;
  c->n_cells_ = n_cells;
  c->type_ = type;
  // Whole tiles per plane: attention reads a tiled key tile whole.
  c->plane_cells_ =
      (n_cells + kernels::kAttentionTile - 1) / kernels::kAttentionTile * kernels::kAttentionTile;
  std::vector<size_t> per_layer(static_cast<size_t>(n_layer));
  for (size_t il = 0; il < per_layer.size(); ++il) {
    const int64_t kv = k_values[il], vv = v_values[il];
    const int64_t nh = heads.empty() || kv == 0 ? 1 : heads[il];
    // V values without K values make no sense; K without V is a layer whose values are part of
    // its key rows (multi-head latent attention).
    if (kv < 0 || vv < 0 || (kv == 0 && vv != 0) || nh <= 0 || kv % nh != 0 || vv % nh != 0) {
      return invalid_argument("key/value cache sizes must be positive");
    }
    if (type == kernels::KvType::kQ8_0 && ((kv / nh) % kQK8_0 != 0 || (vv / nh) % kQK8_0 != 0)) {
      return invalid_argument("a q8_0 key/value cache needs head sizes that are multiples of 32");
    }
    c->heads_.push_back(nh);
    c->k_tiled_.push_back(tiled_keys && type == kernels::KvType::kF16 && vv > 0 ? 1 : 0);
    c->k_row_bytes_.push_back(kernels::kv_row_bytes(type, kv));
    c->v_row_bytes_.push_back(kernels::kv_row_bytes(type, vv));
    per_layer[il] =
        (c->k_row_bytes_.back() + c->v_row_bytes_.back()) * static_cast<size_t>(c->plane_cells_);
    c->total_bytes_ += per_layer[il];
  }
  c->storage_.reset(new (std::nothrow) uint8_t[std::max<size_t>(c->total_bytes_, 1)]);
  if (!c->storage_) {
    return resource_exhausted("cannot allocate " + std::to_string(c->total_bytes_ >> 20) +
                              " MiB for the key/value cache");
  }
  size_t offset = 0;
  for (size_t il = 0; il < per_layer.size(); ++il) {
    uint8_t* base = c->storage_.get() + offset;
    c->k_.push_back(base);
    c->v_.push_back(base + c->k_row_bytes_[il] * static_cast<size_t>(c->plane_cells_));
    offset += per_layer[il];
  }
  c->pos_.assign(static_cast<size_t>(n_cells), -1);
  c->seqs_.assign(static_cast<size_t>(n_cells), 0);
  return c;
}

int64_t KvCache::n_used() const {
  int64_t n = 0;
  for (int64_t i = 0; i < used_end_; ++i) n += seqs_[static_cast<size_t>(i)] != 0;
  return n;
}

Status KvCache::find_free(int64_t n, std::vector<int64_t>& cells) const {
  cells.clear();
  for (int64_t i = 0; i < n_cells_ && static_cast<int64_t>(cells.size()) < n; ++i) {
    if (seqs_[static_cast<size_t>(i)] == 0) cells.push_back(i);
  }
  if (static_cast<int64_t>(cells.size()) < n) {
    return out_of_range("context is full: " + std::to_string(n) + " new tokens, " +
                        std::to_string(cells.size()) + " free cells of " +
                        std::to_string(n_cells_));
  }
  return Status::Ok();
}

void KvCache::assign(int64_t cell, int32_t pos, int32_t seq) {
  pos_[static_cast<size_t>(cell)] = pos;
  seqs_[static_cast<size_t>(cell)] = uint64_t{1} << seq;
  used_end_ = std::max(used_end_, cell + 1);
}

void KvCache::write_key(int64_t layer, int64_t head, int64_t cell, const uint8_t* row) {
  if (!keys_tiled(layer)) {
    std::memcpy(k_cell(layer, head, cell), row, k_head_row_bytes(layer));
    return;
  }
  const auto dims = static_cast<int64_t>(k_head_row_bytes(layer) / 2);
  auto* plane = reinterpret_cast<uint16_t*>(k_[static_cast<size_t>(layer)] +
                                            plane_offset(k_head_row_bytes(layer), head, 0));
  for (int64_t j = 0; j < dims; ++j) {
    uint16_t h;
    std::memcpy(&h, row + 2 * j, 2);
    plane[kernels::tiled_key_index(dims, cell, j)] = h;
  }
}

void KvCache::copy_cells(const int64_t* src, const int64_t* dst, int64_t n, int32_t seq) {
  for (int64_t il = 0; il < n_layer_; ++il) {
    const size_t kb = k_head_row_bytes(il), vb = v_head_row_bytes(il);
    const auto dims = static_cast<int64_t>(kb / 2);
    for (int64_t h = 0; h < heads(il); ++h) {
      auto* plane =
          reinterpret_cast<uint16_t*>(k_[static_cast<size_t>(il)] + plane_offset(kb, h, 0));
      for (int64_t i = 0; i < n; ++i) {
        if (keys_tiled(il)) {
          for (int64_t j = 0; j < dims; ++j)
            plane[kernels::tiled_key_index(dims, dst[i], j)] =
                plane[kernels::tiled_key_index(dims, src[i], j)];
        } else if (kb != 0) {
          std::memcpy(k_cell(il, h, dst[i]), k_cell(il, h, src[i]), kb);
        }
        if (vb != 0) std::memcpy(v_cell(il, h, dst[i]), v_cell(il, h, src[i]), vb);
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) assign(dst[i], pos_[static_cast<size_t>(src[i])], seq);
}

void KvCache::update_used_end() {
  while (used_end_ > 0 && seqs_[static_cast<size_t>(used_end_ - 1)] == 0) --used_end_;
}

namespace {
bool in_range(int32_t pos, int32_t p0, int32_t p1) {
  return pos >= p0 && (p1 < 0 || pos < p1);
}
}  // namespace

void KvCache::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  const uint64_t mask = seq < 0 ? ~uint64_t{0} : uint64_t{1} << seq;
  for (int64_t i = 0; i < used_end_; ++i) {
    const size_t c = static_cast<size_t>(i);
    if ((seqs_[c] & mask) != 0 && in_range(pos_[c], p0, p1)) {
      seqs_[c] &= ~mask;
      if (seqs_[c] == 0) pos_[c] = -1;
    }
  }
  update_used_end();
}

void KvCache::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  if (src == dst) return;
  const uint64_t s = uint64_t{1} << src;
  for (int64_t i = 0; i < used_end_; ++i) {
    const size_t c = static_cast<size_t>(i);
    if ((seqs_[c] & s) != 0 && in_range(pos_[c], p0, p1)) seqs_[c] |= uint64_t{1} << dst;
  }
}

void KvCache::seq_keep(int32_t seq) {
  const uint64_t s = uint64_t{1} << seq;
  for (int64_t i = 0; i < used_end_; ++i) {
    const size_t c = static_cast<size_t>(i);
    seqs_[c] &= s;
    if (seqs_[c] == 0) pos_[c] = -1;
  }
  update_used_end();
}

int32_t KvCache::seq_pos_max(int32_t seq) const {
  const uint64_t s = uint64_t{1} << seq;
  int32_t best = -1;
  for (int64_t i = 0; i < used_end_; ++i) {
    const size_t c = static_cast<size_t>(i);
    if ((seqs_[c] & s) != 0) best = std::max(best, pos_[c]);
  }
  return best;
}

int32_t KvCache::seq_pos_min(int32_t seq) const {
  const uint64_t s = uint64_t{1} << seq;
  int32_t best = -1;
  for (int64_t i = 0; i < used_end_; ++i) {
    const size_t c = static_cast<size_t>(i);
    if ((seqs_[c] & s) != 0 && (best < 0 || pos_[c] < best)) best = pos_[c];
  }
  return best;
}

void KvCache::clear() {
  std::fill(pos_.begin(), pos_.end(), -1);
  std::fill(seqs_.begin(), seqs_.end(), 0);
  used_end_ = 0;
}

}  // namespace ember
