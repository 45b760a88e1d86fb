// ember — the lower layer: evaluate token batches of several sequences and read their logits.
//
// A Context owns a key/value cache, a thread pool and scratch memory, and runs a shared Model
// (ember/model.h). Use it when ember::Engine (one sequence, text in, text out) is not enough: a
// server with one sequence per client, several continuations of one prompt, your own sampling.
//
//   auto model = ember::Model::load("model.gguf");
//   if (!model.ok()) { /* model.status().to_string() */ }
//   auto ctx = ember::Context::create(*model, {.n_ctx = 2048, .n_seq_max = 2});
//   if (!ctx.ok()) { /* ... */ }
//
//   // Evaluate a prompt in sequence 0, asking for the logits of its last token only.
//   std::vector<int32_t> prompt = *(*model)->tokenizer().tokenize("Once upon a time");
//   ember::Batch batch;
//   for (size_t i = 0; i < prompt.size(); ++i) {
//     batch.add(prompt[i], /*pos=*/i, /*seq_id=*/0, /*want_logits=*/i + 1 == prompt.size());
//   }
//   if (ember::Status s = (*ctx)->decode(batch); !s.ok()) { /* ... */ }
//   std::span<const float> logits = *(*ctx)->logits(0);  // n_vocab values
//
//   // Share the prompt with sequence 1 (no copy of the cached keys/values), then extend both
//   // sequences in one batch.
//   (*ctx)->seq_cp(0, 1);
//   batch.clear();
//   batch.add(token_a, prompt.size(), 0, true);  // output 0
//   batch.add(token_b, prompt.size(), 1, true);  // output 1
//   (*ctx)->decode(batch);
//
// Sequences. Every token of a batch names its sequence (an id in [0, n_seq_max)) and its
// position. A token attends to the cached tokens of its own sequence at positions <= its own
// (and to the earlier tokens of that sequence in the same batch); sequences never see each other.
// Within a sequence positions must increase: each new position must be greater than the
// sequence's last cached position (seq_pos_max) — to rewrite the end of a sequence, remove it
// first with seq_rm. All sequences share the n_ctx cells of the cache.
//
// Hybrid models (lfm2, and others whose layers keep a recurrent state instead of, or beside,
// attention) fold every token into a fixed-size state per sequence, which holds no earlier
// positions. For them a sequence must continue exactly at its next position (positions
// 0, 1, 2, ... with no gaps), seq_rm refuses to remove a leading or middle range (kInvalidArgument,
// nothing changed), removing a tail [p0, end) with p0 > 0 leaves the sequence unusable until it is
// removed whole (seq_rm(seq_id, 0)), and seq_cp copies the state only when it copies all of the
// source's positions (otherwise the destination is unusable until removed whole).
//
// Numerics. Results do not depend on the thread count, nor on the other sequences sharing a
// batch or the cache, except in the last bits in two cases: batches of 64 or more tokens use a
// tiled attention algorithm (as llama.cpp does; ContextOptions::attention fixes one algorithm for
// every batch size instead), and attention sums a sequence's cached tokens in
// the order of the cells holding them, so a token placed in a cell freed by seq_rm / seq_keep
// before older cells of its sequence changes that order. Otherwise a token's logits are
// bit-identical however the tokens are split into batches.
//
// Threads: a Context is used by one thread at a time (decode() itself runs on the Context's own
// threads). Several Contexts may share one Model and run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ember/kv_cache_type.h"
#include "ember/model.h"
#include "ember/status.h"

namespace ember {

struct ContextOptions {
  // Key/value cache cells, i.e. tokens held at once over all sequences. 0 = the model's training
  // context, capped at 8192.
  int32_t n_ctx = 4096;
  // The most tokens one decode() call accepts.
  int32_t n_batch = 512;
  // Tokens evaluated together inside decode() (a longer batch is evaluated in pieces of this
  // size); 0 = n_batch. At most n_batch. Larger is faster for prompts and needs more scratch.
  int32_t n_ubatch = 0;
  // Sequence ids are in [0, n_seq_max); at most 64.
  int32_t n_seq_max = 1;
  KvCacheType kv_cache_type = KvCacheType::kF16;
  // Worker threads for decode(); 0 = all hardware threads.
  int32_t n_threads = 0;
  // Attention algorithm. kBySize follows llama.cpp: tiled for batches of 64 tokens or more,
  // one key at a time below, which matches its numerics best but makes a sequence evaluated in
  // one batch differ in the last bits from the same sequence evaluated in pieces. kTiled (what
  // Engine uses) and kPerKey use one algorithm for every batch size, so results are bit-identical
  // however a sequence is split; kTiled is the faster of the two for prompts. With a Q8_0 cache
  // the tiled algorithm is unavailable and every mode computes per key.
  enum class Attention : uint8_t { kBySize, kTiled, kPerKey };
  Attention attention = Attention::kBySize;
};

// Tokens to evaluate in one Context::decode(): for each, the token id, its position, its
// sequence and whether its logits are wanted. decode() checks every entry (the vectors are
// accepted as given here).
class Batch {
 public:
  Batch() = default;

  // Appends one token. Outputs (the tokens with want_logits) are numbered in the order they are
  // added: the first one is Context::logits(0).
  void add(int32_t token, int32_t pos, int32_t seq_id, bool want_logits) {
    tokens_.push_back(token);
    pos_.push_back(pos);
    seq_.push_back(seq_id);
    logits_.push_back(want_logits ? 1 : 0);
  }
  // Removes every token (keeps the memory for reuse).
  void clear() {
    tokens_.clear();
    pos_.clear();
    seq_.clear();
    logits_.clear();
  }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  bool empty() const { return tokens_.empty(); }

  std::span<const int32_t> tokens() const { return tokens_; }
  std::span<const int32_t> positions() const { return pos_; }
  std::span<const int32_t> seq_ids() const { return seq_; }
  // 1 where the token's logits are wanted, 0 elsewhere.
  std::span<const uint8_t> want_logits() const { return logits_; }

 private:
  std::vector<int32_t> tokens_;
  std::vector<int32_t> pos_;
  std::vector<int32_t> seq_;
  std::vector<uint8_t> logits_;
};

class Context {
 public:
  // Allocates the cache and scratch memory for `model` (which the Context keeps alive). Errors:
  // a null model; n_ctx, n_batch, n_ubatch or n_threads negative, or n_batch < 1; n_ubatch >
  // n_batch; n_seq_max outside [1, 64]; an unknown kv_cache_type, or Q8_0 with a head size that
  // is not a multiple of 32; not enough memory.
  static Result<std::unique_ptr<Context>> create(std::shared_ptr<const Model> model,
                                                 const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Evaluates the batch and stores its tokens' keys and values in the cache. On success the
  // logits of the tokens that asked for them are available through logits() until the next
  // decode() or clear(). Errors leave the context unchanged (nothing is evaluated): an empty
  // batch; more than n_batch() tokens; more tokens than free cells; a token id outside
  // [0, n_vocab); a sequence id outside [0, n_seq_max()); a negative position, or one that does
  // not follow the sequence's last position (cached or earlier in the batch).
  Status decode(const Batch& batch);

  // Number of outputs (tokens with want_logits) of the last successful decode().
  int32_t n_outputs() const;
  // The n_vocab logits of output i of the last decode(): 0 <= i < n_outputs(), or negative to
  // count from the end (-1 = the last output). The span stays valid until the next decode() or
  // clear(). Error (kOutOfRange): no such output.
  Result<std::span<const float>> logits(int32_t i) const;

  // Removes the cached tokens of sequence `seq_id` with positions in [p0, p1). seq_id -1 means
  // every sequence; p0 < 0 means from the start, p1 < 0 to the end. Errors: seq_id outside
  // [-1, n_seq_max()); p1 >= 0 and p0 > p1; with recurrent layers, a range that would need the
  // state before it (see "Hybrid models" above).
  Status seq_rm(int32_t seq_id, int32_t p0 = -1, int32_t p1 = -1);
  // Makes sequence `dst` share the cached tokens of sequence `src` with positions in [p0, p1)
  // (no keys or values are copied). p0 < 0 means from the start, p1 < 0 to the end; src == dst
  // does nothing. Errors: src or dst outside [0, n_seq_max()); p1 >= 0 and p0 > p1; `dst`
  // already holds one of the positions to copy (remove them first with seq_rm).
  Status seq_cp(int32_t src, int32_t dst, int32_t p0 = -1, int32_t p1 = -1);
  // Removes every sequence but `seq_id` from the cache. Error: seq_id outside [0, n_seq_max()).
  Status seq_keep(int32_t seq_id);
  // Highest / lowest cached position of the sequence, -1 when it has none. Error: seq_id outside
  // [0, n_seq_max()).
  Result<int32_t> seq_pos_max(int32_t seq_id) const;
  Result<int32_t> seq_pos_min(int32_t seq_id) const;
  // Empties the cache (every sequence) and forgets the last outputs.
  void clear();

  int32_t n_ctx() const;      // cache cells (tokens over all sequences)
  int32_t n_batch() const;    // most tokens per decode()
  int32_t n_ubatch() const;   // tokens evaluated together
  int32_t n_seq_max() const;  // sequence ids are in [0, n_seq_max())
  int32_t n_threads() const;
  int32_t n_vocab() const;  // length of a logits row
  // Cells holding at least one sequence's token.
  int32_t n_cells_used() const;
  // Bytes of the key/value cache.
  size_t kv_bytes() const;

  // The model this Context runs (shared).
  const std::shared_ptr<const Model>& model() const;

 private:
  struct Impl;
  explicit Context(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
