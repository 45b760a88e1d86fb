// The serving layer's view of the KV cache: 64-cell blocks, sequences with block tables, the
// prefix cache of finished sequences, and reservations so that running sequences never run out.
//
// Layout: position p of a sequence lives at cell table[p / 64] * 64 + p % 64 (kBlock =
// kernels::kAttentionTile), so attention visits a sequence's tiles in position order wherever
// its blocks are (runtime::Batch::cells) and results do not depend on the cache's history.
//
// Sharing: a block belongs to every sequence whose table holds it (a reference count here, the
// cells' sequence masks in the cache). A new sequence reuses the longest prefix another
// sequence holds: its full blocks are shared (seq_cp on their positions, no copy); a partly
// shared block is copied cell by cell into a fresh block (copy-on-write), since the source may
// still write the rest of it.
//
// Sequences are live (running: never evicted, their worst case reserved) or cached (finished,
// kept for their prefix, evicted least recently used when blocks or sequence ids are needed).
// Not thread-safe: the scheduler thread owns it.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "ember/status.h"
#include "kernels/attention.h"
#include "runtime/context.h"

namespace ember::serve {

inline constexpr int64_t kBlock = kernels::kAttentionTile;

class KvBlocks {
 public:
  KvBlocks(runtime::Context& ctx, int32_t n_seq_ids);

  int64_t n_blocks() const { return static_cast<int64_t>(refs_.size()); }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }
  // Blocks reserved by live sequences and not yet allocated.
  int64_t outstanding() const { return outstanding_; }

  // Blocks a sequence of `n_tokens` positions occupies.
  static int64_t blocks_for(int64_t n_tokens) { return (n_tokens + kBlock - 1) / kBlock; }

  // The sequence (live or cached) holding the longest prefix of `tokens` that a new sequence
  // can start from, at most `max_len` positions, and its length. With recurrent layers
  // (runtime/recurrent_state.h) only a sequence's whole evaluated token list qualifies, and only
  // while its state stands right after it: the state at earlier positions is not kept, so a
  // shorter prefix would have to be evaluated again anyway.
  struct Prefix {
    int32_t seq = -1;
    int32_t length = 0;
  };
  Prefix longest_prefix(const std::vector<int32_t>& tokens,
                        int32_t max_len = std::numeric_limits<int32_t>::max()) const;

  // Blocks that could be made free for a new sequence: free ones, minus reservations, plus those
  // held only by cached sequences other than `pinned` (evictable).
  int64_t available(int32_t pinned) const;
  int32_t free_seq_ids() const;
  int32_t n_cached() const;

  // Makes `n` sequence ids free by evicting least recently used cached sequences (not
  // `pinned`); false when impossible.
  bool ensure_seq_ids(int32_t n, int32_t pinned);

  // Creates a live sequence reserving `reserve` blocks (the caller checked available()). With a
  // source, its first `shared` positions are reused: full blocks shared, the partial block
  // copied (taking one block of the reservation), and with recurrent layers the source's state
  // (then `shared` must be the source's whole length, as longest_prefix returns it). Evicts
  // cached sequences (not `src`) as needed.
  // Returns the new sequence id. Errors: the runtime's (a bug if it happens).
  Result<int32_t> create(int64_t reserve, int32_t src, int32_t shared);
  // For a live sequence with no positions yet (created with reserve only): share a prefix of
  // `src` now (siblings of an n > 1 request, once the first choice evaluated the prompt).
  Status share_into(int32_t dst, int32_t src, int32_t shared) { return share(dst, src, shared); }

  // Adds `extra` blocks to a live sequence's reservation when available (evicting cached
  // sequences other than `pinned`); false when they are not.
  bool top_up(int32_t seq, int64_t extra, int32_t pinned);
  int64_t reserve_of(int32_t seq) const { return seqs_[static_cast<size_t>(seq)].reserve; }
  int64_t blocks_of(int32_t seq) const {
    return static_cast<int64_t>(seqs_[static_cast<size_t>(seq)].blocks.size());
  }

  // The cell of position `pos` (the sequence's next position), allocating its block from the
  // reservation when it starts one. Error: the sequence has no reservation left (a bug).
  Result<int64_t> cell_for(int32_t seq, int32_t pos);
  // Positions evaluated: appended to the sequence's token list (after a successful decode).
  void append(int32_t seq, int32_t token);
  int32_t length(int32_t seq) const {
    return static_cast<int32_t>(seqs_[static_cast<size_t>(seq)].tokens.size());
  }

  // A live sequence finished: it becomes cached (keep) or is evicted at once (its cells may be
  // inconsistent after an error). Its remaining reservation is released.
  void release(int32_t seq, bool keep);
  // Drops every cached sequence (tests, shutdown).
  void evict_all_cached();

  // Cells used by any sequence / by live sequences (for stats).
  int64_t cells_used() const;
  int64_t cells_live() const;

 private:
  struct Seq {
    bool used = false;
    bool live = false;
    std::vector<int32_t> blocks;
    std::vector<int32_t> tokens;  // positions [0, size) are in the cache
    int64_t reserve = 0;          // live: blocks it may still allocate
    uint64_t last_used = 0;
  };
  int32_t take_seq_id();
  // The cached (finished) sequence used longest ago, other than `pinned`; -1 when none.
  int32_t least_recently_used_cached(int32_t pinned) const;
  int32_t take_block(Seq& s);
  void evict(int32_t seq);
  // Evicts LRU cached sequences (not `pinned`) until free blocks cover the reservations.
  void evict_for_blocks(int32_t pinned);
  Status share(int32_t dst, int32_t src, int32_t shared);

  runtime::Context& ctx_;
  std::vector<Seq> seqs_;
  std::vector<int32_t> refs_;  // per block: sequences holding it
  std::vector<int32_t> free_;  // free blocks (a stack; lowest index on top)
  int64_t outstanding_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace ember::serve
