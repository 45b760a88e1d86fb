// The key/value cache: a fixed number of cells, each holding one token's keys and values for
// every layer, plus the token's position and the set of sequences it belongs to.
//
// Several independent sequences share the cells: a cell belongs to every sequence in its mask,
// so a prompt prefix copied to another sequence (seq_cp) costs no memory. A query of sequence s
// at position p attends to the cells of s with position <= p (and, on sliding-window layers,
// position > p - window). Cells are scanned in index order, so which cell a token lands in is
// part of the arithmetic order of attention; allocation is deterministic (lowest free cells).
//
// Layout per layer: head-major planes, K as [n_head_kv][cell][head_dim_k] and V as
// [n_head_kv][cell][head_dim_v], each head's row stored as the cache type (F16 by default, F32,
// or Q8_0 blocks). Attention reads one key/value head at a time over many cells, so each head's
// cells are one contiguous stream the hardware prefetchers follow; with cell-major rows
// ([cell][all heads]) a head's rows are small pieces a whole row apart, which decoding at depth
// reads at a fraction of the memory bandwidth. Planes hold a whole number of 64-cell tiles.
//
// Tiled keys (an F16 cache created with `tiled_keys`, for contexts that always use the tiled
// attention algorithm): in every layer with values of its own, a head's keys are stored per
// 64-cell tile transposed, [head_dim_k][64] halves (kernels::AttentionKv::k_tiles), so the
// score GEMM reads them in place instead of transposing every tile of every decoding step.
// Write and copy keys through write_key / copy_cells, which know the layout.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ember/status.h"
#include "kernels/ops.h"

namespace ember {

class KvCache {
 public:
  static constexpr int kMaxSequences = 64;

  // Errors: sizes out of range, Q8_0 with a head size that is not a multiple of 32, or not
  // enough memory.
  static Result<std::unique_ptr<KvCache>> create(int64_t n_layer, int64_t n_cells, int64_t k_values,
                                                 int64_t v_values, kernels::KvType type);
  // Per-layer row sizes (k_values[il] / v_values[il] values per cell); a layer with 0 K values
  // has no storage (it reads another layer's cache), a layer with K but 0 V values stores keys
  // only (multi-head latent attention reads its values from the key rows).
  // `heads`: key/value heads per layer (empty: one per layer); each layer's K and V values split
  // evenly into that many head planes (Q8_0: each head a whole number of blocks).
  static Result<std::unique_ptr<KvCache>> create(const std::vector<int64_t>& k_values,
                                                 const std::vector<int64_t>& v_values,
                                                 int64_t n_cells, kernels::KvType type,
                                                 const std::vector<int64_t>& heads = {},
                                                 bool tiled_keys = false);

  int64_t size() const { return n_cells_; }
  kernels::KvType type() const { return type_; }
  // Bytes of one cell's keys / values in a layer, all heads (0: the layer owns no storage).
  size_t k_row_bytes(int64_t layer = 0) const { return k_row_bytes_[static_cast<size_t>(layer)]; }
  size_t v_row_bytes(int64_t layer = 0) const { return v_row_bytes_[static_cast<size_t>(layer)]; }
  int64_t heads(int64_t layer = 0) const { return heads_[static_cast<size_t>(layer)]; }
  // Bytes of one head's row of one cell: the distance between consecutive cells of a head plane.
  size_t k_head_row_bytes(int64_t layer = 0) const {
    return k_row_bytes(layer) / static_cast<size_t>(heads(layer));
  }
  size_t v_head_row_bytes(int64_t layer = 0) const {
    return v_row_bytes(layer) / static_cast<size_t>(heads(layer));
  }
  // Bytes of K and V storage for all layers.
  size_t memory_bytes() const { return total_bytes_; }

  // Whether the layer's keys are stored as transposed tiles (see above).
  bool keys_tiled(int64_t layer) const { return k_tiled_[static_cast<size_t>(layer)] != 0; }
  // Head `head`'s row of `cell`: the plane of the head at k_head(layer, head), cells
  // k_head_row_bytes(layer) apart. Keys: only for layers whose keys are not tiled.
  uint8_t* k_cell(int64_t layer, int64_t head, int64_t cell) {
    return k_[static_cast<size_t>(layer)] + plane_offset(k_head_row_bytes(layer), head, cell);
  }
  // Stores one head's key row (k_head_row_bytes(layer) bytes of the cache type) for `cell`,
  // in whichever layout the layer has.
  void write_key(int64_t layer, int64_t head, int64_t cell, const uint8_t* row);
  uint8_t* v_cell(int64_t layer, int64_t head, int64_t cell) {
    return v_[static_cast<size_t>(layer)] + plane_offset(v_head_row_bytes(layer), head, cell);
  }
  const uint8_t* k_head(int64_t layer, int64_t head) const {
    return k_[static_cast<size_t>(layer)] + plane_offset(k_head_row_bytes(layer), head, 0);
  }
  const uint8_t* v_head(int64_t layer, int64_t head) const {
    return v_[static_cast<size_t>(layer)] + plane_offset(v_head_row_bytes(layer), head, 0);
  }

  // Cell metadata (position -1 and an empty mask for a free cell).
  const int32_t* cell_pos() const { return pos_.data(); }
  const uint64_t* cell_seqs() const { return seqs_.data(); }
  // One past the highest used cell: attention scans [0, used_end()).
  int64_t used_end() const { return used_end_; }
  int64_t n_used() const;

  // Picks `n` free cells (lowest indices first) without claiming them; out_of_range when fewer
  // are free.
  Status find_free(int64_t n, std::vector<int64_t>& cells) const;
  // Claims a cell for a token at `pos` of sequence `seq`.
  void assign(int64_t cell, int32_t pos, int32_t seq);
  // Copies cells src[i] -> dst[i] (K and V rows of every layer, and the position) and gives the
  // copies to sequence `seq` only: copy-on-write of a partly shared block. The caller checks
  // that sources are used, destinations free and all distinct (Context::copy_cells does).
  void copy_cells(const int64_t* src, const int64_t* dst, int64_t n, int32_t seq);

  // Sequence operations. `seq` < 0 means every sequence; p1 < 0 means "to the end". Ranges are
  // [p0, p1) in positions.
  void seq_rm(int32_t seq, int32_t p0, int32_t p1);
  void seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
  void seq_keep(int32_t seq);
  // Highest / lowest position of `seq` in the cache, -1 when it has none.
  int32_t seq_pos_max(int32_t seq) const;
  int32_t seq_pos_min(int32_t seq) const;
  void clear();

 private:
  KvCache() = default;
  void update_used_end();
  size_t plane_offset(size_t head_row_bytes, int64_t head, int64_t cell) const {
    return head_row_bytes * (static_cast<size_t>(head) * static_cast<size_t>(plane_cells_) +
                             static_cast<size_t>(cell));
  }

  int64_t n_layer_ = 0;
  int64_t n_cells_ = 0;
  kernels::KvType type_ = kernels::KvType::kF16;
  std::vector<size_t> k_row_bytes_;  // per layer
  std::vector<size_t> v_row_bytes_;
  std::vector<int64_t> heads_;    // per layer (1 for layers without storage)
  std::vector<uint8_t> k_tiled_;  // per layer: keys stored as transposed 64-cell tiles
  int64_t plane_cells_ = 0;       // cells per head plane: n_cells rounded up to whole tiles
  size_t total_bytes_ = 0;
  // One allocation for everything; not zeroed, so pages of unused cells are never touched.
  std::unique_ptr<uint8_t[]> storage_;
  std::vector<uint8_t*> k_;
  std::vector<uint8_t*> v_;
  std::vector<int32_t> pos_;
  std::vector<uint64_t> seqs_;
  int64_t used_end_ = 0;
};

}  // namespace ember
