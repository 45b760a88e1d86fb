#include "serve/kv_blocks.h"

#include <algorithm>

namespace ember::serve {

KvBlocks::KvBlocks(runtime::Context& ctx, int32_t n_seq_ids)
    : ctx_(ctx), seqs_(static_cast<size_t>(n_seq_ids)) {
  const int64_t n = ctx.kv_cache().size() / kBlock;
  refs_.assign(static_cast<size_t>(n), 0);
  // A stack with the lowest block on top: a fresh cache fills from the start.
  for (int64_t b = n - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

KvBlocks::Prefix KvBlocks::longest_prefix(const std::vector<int32_t>& tokens,
                                          int32_t max_len) const {
  Prefix best;
  const bool recurrent = ctx_.has_recurrent();
  for (size_t s = 0; s < seqs_.size(); ++s) {
    const Seq& q = seqs_[s];
    if (!q.used) continue;
    const size_t n = std::min(q.tokens.size(), tokens.size());
    size_t i = 0;
    while (i < n && q.tokens[i] == tokens[i]) ++i;
    if (recurrent && (i != q.tokens.size() || static_cast<int64_t>(i) > max_len ||
                      !ctx_.can_resume(static_cast<int32_t>(s), static_cast<int32_t>(i)))) {
      continue;  // the state is known only after the whole sequence
    }
    if (static_cast<int32_t>(i) > best.length) {
      best.seq = static_cast<int32_t>(s);
      best.length = static_cast<int32_t>(i);
    }
  }
  best.length = std::min(best.length, std::max(max_len, 0));
  if (best.length == 0) best.seq = -1;
  return best;
}

int64_t KvBlocks::available(int32_t pinned) const {
  std::vector<uint8_t> held(refs_.size(), 0);
  for (size_t s = 0; s < seqs_.size(); ++s) {
    const Seq& q = seqs_[s];
    if (!q.used || !(q.live || static_cast<int32_t>(s) == pinned)) continue;
    for (int32_t b : q.blocks) held[static_cast<size_t>(b)] = 1;
  }
  int64_t evictable = 0;
  for (size_t b = 0; b < refs_.size(); ++b) evictable += refs_[b] > 0 && held[b] == 0;
  return free_blocks() - outstanding_ + evictable;
}

int32_t KvBlocks::free_seq_ids() const {
  int32_t n = 0;
  for (const Seq& q : seqs_) n += !q.used;
  return n;
}

int32_t KvBlocks::n_cached() const {
  int32_t n = 0;
  for (const Seq& q : seqs_) n += q.used && !q.live;
  return n;
}

bool KvBlocks::ensure_seq_ids(int32_t n, int32_t pinned) {
  while (free_seq_ids() < n) {
    const int32_t victim = least_recently_used_cached(pinned);
    if (victim < 0) return false;
    evict(victim);
  }
  return true;
}

void KvBlocks::evict_for_blocks(int32_t pinned) {
  while (free_blocks() < outstanding_) {
    const int32_t victim = least_recently_used_cached(pinned);
    if (victim < 0) return;
    evict(victim);
  }
}

int32_t KvBlocks::least_recently_used_cached(int32_t pinned) const {
  int32_t victim = -1;
  for (size_t s = 0; s < seqs_.size(); ++s) {
    const Seq& q = seqs_[s];
    if (!q.used || q.live || static_cast<int32_t>(s) == pinned) continue;
    if (victim < 0 || q.last_used < seqs_[static_cast<size_t>(victim)].last_used) {
      victim = static_cast<int32_t>(s);
    }
  }
  return victim;
}

int32_t KvBlocks::take_seq_id() {
  for (size_t s = 0; s < seqs_.size(); ++s) {
    if (!seqs_[s].used) return static_cast<int32_t>(s);
  }
  return -1;
}

int32_t KvBlocks::take_block(Seq& s) {
  if (s.reserve <= 0 || free_.empty()) return -1;
  const int32_t b = free_.back();
  free_.pop_back();
  refs_[static_cast<size_t>(b)] = 1;
  s.blocks.push_back(b);
  --s.reserve;
  --outstanding_;
  return b;
}

void KvBlocks::evict(int32_t seq) {
  Seq& q = seqs_[static_cast<size_t>(seq)];
  if (!q.used) return;
  (void)ctx_.seq_rm(seq, 0, -1);
  for (int32_t b : q.blocks) {
    if (--refs_[static_cast<size_t>(b)] == 0) free_.push_back(b);
  }
  if (q.live) outstanding_ -= q.reserve;
  q = Seq{};
}

Status KvBlocks::share(int32_t dst, int32_t src, int32_t shared) {
  Seq& d = seqs_[static_cast<size_t>(dst)];
  Seq& s = seqs_[static_cast<size_t>(src)];
  if (shared > static_cast<int32_t>(s.tokens.size()) || !d.blocks.empty()) {
    return internal_error("prefix sharing: bad source or destination");
  }
  s.last_used = ++clock_;
  const int64_t full = shared / kBlock;
  const int64_t partial = shared % kBlock;
  for (int64_t b = 0; b < full; ++b) {
    const int32_t blk = s.blocks[static_cast<size_t>(b)];
    ++refs_[static_cast<size_t>(blk)];
    d.blocks.push_back(blk);
  }
  if (full > 0) {
    EMBER_RETURN_IF_ERROR(ctx_.seq_cp(src, dst, 0, static_cast<int32_t>(full * kBlock)));
  }
  // Room for the reservations, keeping the source (its partial block is copied below).
  evict_for_blocks(src);
  if (partial > 0) {
    const int32_t blk = take_block(d);
    if (blk < 0) return internal_error("prefix sharing: no block reserved for the copy");
    std::vector<int64_t> from, to;
    const int64_t src_blk = s.blocks[static_cast<size_t>(full)];
    for (int64_t j = 0; j < partial; ++j) {
      from.push_back(src_blk * kBlock + j);
      to.push_back(static_cast<int64_t>(blk) * kBlock + j);
    }
    EMBER_RETURN_IF_ERROR(ctx_.copy_cells(from, to, dst));
  }
  if (ctx_.has_recurrent()) {
    // The state stands after the source's last position: only a whole source can be shared.
    if (shared != static_cast<int32_t>(s.tokens.size()) || !ctx_.can_resume(src, shared)) {
      return internal_error("prefix sharing: a recurrent state shared from mid-sequence");
    }
    EMBER_RETURN_IF_ERROR(ctx_.copy_state(src, dst));
  }
  d.tokens.assign(s.tokens.begin(), s.tokens.begin() + shared);
  return Status::Ok();
}

Result<int32_t> KvBlocks::create(int64_t reserve, int32_t src, int32_t shared) {
  const int32_t id = take_seq_id();
  if (id < 0) return internal_error("no free sequence id");
  Seq& q = seqs_[static_cast<size_t>(id)];
  q.used = true;
  q.live = true;
  q.reserve = reserve;
  q.last_used = ++clock_;
  outstanding_ += reserve;
  if (src >= 0 && shared > 0) {
    Status st = share(id, src, shared);
    if (!st.ok()) {
      evict(id);
      return st;
    }
  } else {
    evict_for_blocks(-1);
  }
  return id;
}

bool KvBlocks::top_up(int32_t seq, int64_t extra, int32_t pinned) {
  if (extra <= 0) return true;
  if (available(pinned) < extra) return false;
  seqs_[static_cast<size_t>(seq)].reserve += extra;
  outstanding_ += extra;
  evict_for_blocks(pinned);
  return true;
}

Result<int64_t> KvBlocks::cell_for(int32_t seq, int32_t pos) {
  Seq& q = seqs_[static_cast<size_t>(seq)];
  const auto b = static_cast<size_t>(pos / kBlock);
  if (b == q.blocks.size()) {
    if (take_block(q) < 0) {
      return internal_error("sequence " + std::to_string(seq) + " ran out of reserved blocks");
    }
  }
  if (b >= q.blocks.size()) return internal_error("position beyond the sequence's blocks");
  return static_cast<int64_t>(q.blocks[b]) * kBlock + pos % kBlock;
}

void KvBlocks::append(int32_t seq, int32_t token) {
  seqs_[static_cast<size_t>(seq)].tokens.push_back(token);
}

void KvBlocks::release(int32_t seq, bool keep) {
  Seq& q = seqs_[static_cast<size_t>(seq)];
  if (!q.used) return;
  if (!keep || q.tokens.empty()) {  // nothing worth caching
    evict(seq);
    return;
  }
  outstanding_ -= q.reserve;
  q.reserve = 0;
  q.live = false;
  q.last_used = ++clock_;
}

void KvBlocks::evict_all_cached() {
  for (size_t s = 0; s < seqs_.size(); ++s) {
    if (seqs_[s].used && !seqs_[s].live) evict(static_cast<int32_t>(s));
  }
}

int64_t KvBlocks::cells_used() const {
  return ctx_.kv_cache().n_used();
}

int64_t KvBlocks::cells_live() const {
  uint64_t live = 0;
  for (size_t s = 0; s < seqs_.size(); ++s) {
    if (seqs_[s].used && seqs_[s].live) live |= uint64_t{1} << s;
  }
  const KvCache& kv = ctx_.kv_cache();
  int64_t n = 0;
  for (int64_t c = 0; c < kv.used_end(); ++c) n += (kv.cell_seqs()[c] & live) != 0;
  return n;
}

}  // namespace ember::serve
