// An inference context: a key/value cache, a thread pool and scratch memory for running a Model.
// Internal (namespace ember::runtime); the public, argument-checking wrapper is ember/context.h.
//
//   auto model = Model::load("model.gguf");
//   auto ctx = Context::create(**model, {.n_ctx = 4096});
//   Batch b;
//   for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], i, /*seq=*/0, i + 1 ==
//   prompt.size()); ctx->decode(b);                       // batched prompt evaluation (split into
//   ubatches) const float* logits = ctx->logits(0);  // [n_vocab] for the one position that asked
//   b.clear(); b.add(next, prompt.size(), 0, true); ctx->decode(b);  // one decode step
//
// Several sequences share one context (sequence ids in [0, n_seq_max)): each token names its
// sequence, attends only to its own sequence's cells, and the seq_* functions remove or copy
// position ranges (a server keeps one sequence per client and reuses shared prompt prefixes).
//
// Results do not depend on the number of threads, nor on other sequences; with a fixed attention
// algorithm (AttentionMode) not on how a sequence is split into batches and ubatches either
// (docs/inference.md, "Determinism").
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "base/thread_pool.h"
#include "ember/status.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/recurrent_state.h"

namespace ember::runtime {

// Which attention algorithm runs (kernels/attention.h).
enum class AttentionMode : uint8_t {
  // As the reference: tiled for ubatches of 64 tokens or more, per-key otherwise. Matches the
  // reference's numerics best; a sequence evaluated in large batches then differs in the last
  // bits from token-by-token evaluation.
  kAuto,
  kPerKey,  // always per-key: batch and token-by-token results are bit-identical
  kTiled,   // always tiled (where the cache type allows): likewise bit-identical, and fast
};

// Where decode time goes, when ContextParams::profile is set (wall-clock seconds per stage).
enum class Stage : int {
  kMatmulQkv,
  kMatmulOut,     // attention output projection
  kMatmulUpGate,  // FFN gate and up (experts included)
  kMatmulDown,    // FFN down (experts included)
  kMatmulLogits,
  kMatmulRouter,
  kConvert,  // activation conversion for the matrix products
  kAttention,
  kOther,  // norms, RoPE, cache stores, activations, residuals, bookkeeping
  kCount,
};
const char* stage_name(Stage s);

struct ContextParams {
  int64_t n_ctx = 4096;    // key/value cells (total over all sequences)
  int64_t n_ubatch = 512;  // tokens evaluated together; longer batches are split
  int n_seq_max = 1;       // sequence ids in [0, n_seq_max), at most 64
  kernels::KvType kv_type = kernels::KvType::kF16;
  int n_threads = 0;                // 0: all hardware threads
  std::optional<kernels::Isa> isa;  // default: the best the CPU supports
  AttentionMode attention = AttentionMode::kAuto;
  bool profile = false;  // accumulate time per Stage (see Context::profile())
  // Embedding mode: the outputs are the final hidden states after output_norm ([n_embd] each,
  // read with Context::hidden) instead of logits; the output projection is skipped.
  bool embeddings = false;
};

// Tokens to evaluate: token id, position, sequence and whether its logits are wanted.
//
// `cells` is optional: empty = the context picks the lowest free cells (token i of the batch
// in the i-th lowest); otherwise one cache cell per token, chosen by the caller (a paged
// layout: see kernels/attention.h). With explicit cells, attention visits each sequence's tiles
// in position order rather than cell order, so a sequence whose 64-cell blocks lie anywhere in
// the cache computes exactly what it would with its blocks in order.
struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> pos;
  std::vector<int32_t> seq;
  std::vector<uint8_t> logits;
  std::vector<int64_t> cells;

  void add(int32_t token, int32_t position, int32_t sequence, bool want_logits) {
    tokens.push_back(token);
    pos.push_back(position);
    seq.push_back(sequence);
    logits.push_back(want_logits ? 1 : 0);
  }
  // With an explicit cell (do not mix with add() in one batch).
  void add(int32_t token, int32_t position, int32_t sequence, bool want_logits, int64_t cell) {
    add(token, position, sequence, want_logits);
    cells.push_back(cell);
  }
  void clear() {
    tokens.clear();
    pos.clear();
    seq.clear();
    logits.clear();
    cells.clear();
  }
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
};

class Context {
 public:
  // Errors: bad parameters, not enough memory for the cache.
  static Result<std::unique_ptr<Context>> create(const Model& model, const ContextParams& params);
  ~Context();

  // Evaluates the batch, appending its tokens' keys and values to the cache. On success the
  // logits of the tokens that asked for them are available (in batch order) until the next
  // decode. Errors (nothing is evaluated): a token id outside the vocabulary, a sequence id out
  // of range, a position not after the sequence's last cached position, a full context;
  // explicit cells (Batch::cells) out of range, in use or repeated.
  Status decode(const Batch& batch);

  int64_t n_outputs() const { return n_outputs_; }
  // Logits [n_vocab] of output i (0 <= i < n_outputs()).
  const float* logits(int64_t i) const {
    return logits_.data() + static_cast<size_t>(i) * static_cast<size_t>(n_vocab_);
  }
  int64_t n_vocab() const { return n_vocab_; }
  // Embedding mode (ContextParams::embeddings): the normalized hidden state [n_embd] of output i.
  const float* hidden(int64_t i) const {
    return logits_.data() + static_cast<size_t>(i) * static_cast<size_t>(model_.hparams().n_embd);
  }

  // Sequence management (see KvCache). seq < 0 means all sequences, p1 < 0 "to the end".
  // Models with recurrent layers apply the same operations to their per-sequence state
  // (runtime/recurrent_state.h): seq_rm of a range that would need the state before it (a middle
  // or leading part of the sequence) is an error and changes nothing; removing a tail leaves the
  // state unknown, so the sequence must be removed whole before it continues; seq_cp copies the
  // state when its range covers all of the source's positions.
  Status seq_rm(int32_t seq, int32_t p0, int32_t p1);
  Status seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1);
  Status seq_keep(int32_t seq);
  // Copies cells src[i] -> dst[i] (keys, values, position) into sequence `seq` alone: the
  // copy-on-write of a partly shared block. Errors: cells out of range, a source that is free,
  // a destination in use, repeated destinations, a sequence id out of range.
  Status copy_cells(const std::vector<int64_t>& src, const std::vector<int64_t>& dst, int32_t seq);
  // Highest cached position of `seq`, -1 when empty.
  int32_t seq_pos_max(int32_t seq) const;
  void clear();

  // Recurrent (hybrid) models: per-sequence state beside the cache. Without recurrent layers
  // recurrent_state() is nullptr and the functions below are trivially true / no-ops.
  bool has_recurrent() const { return rs_ != nullptr; }
  const RecurrentState* recurrent_state() const { return rs_.get(); }
  // Whether `seq` can continue at position `pos` (its positions >= pos removed first): always
  // for attention-only models; with recurrent layers only from scratch (pos 0) or exactly where
  // its state is (pos = the state's position + 1), since the state at other positions is gone.
  bool can_resume(int32_t seq, int32_t pos) const;
  // Copies the whole recurrent state of src (and the position it stands for) into dst: with
  // copy_cells, how a paged server gives a sequence another one's complete prefix. Errors:
  // sequence ids out of range. A no-op without recurrent layers.
  Status copy_state(int32_t src, int32_t dst);

  const Model& model() const { return model_; }
  const ContextParams& params() const { return params_; }
  kernels::Isa isa() const { return isa_; }
  int n_threads() const { return pool_.n_threads(); }
  const KvCache& kv_cache() const { return *kv_; }
  // Bytes of the key/value cache and of the scratch buffers.
  size_t kv_bytes() const { return kv_->memory_bytes(); }
  // Bytes of the recurrent state (0 without recurrent layers).
  size_t recurrent_bytes() const { return rs_ ? rs_->memory_bytes() : 0; }
  size_t scratch_bytes() const;

  // Seconds spent per Stage since creation or the last reset (all zero unless params.profile).
  const std::array<double, static_cast<size_t>(Stage::kCount)>& profile() const { return profile_; }
  void reset_profile() { profile_.fill(0.0); }

 private:
  Context(const Model& model, const ContextParams& params, int n_threads);
  Status init();

  // One ubatch: tokens [begin, end) of the batch, already validated and assigned cells.
  // `paged`: attention visits each sequence's tiles in position order (explicit cells).
  void forward(const Batch& batch, int64_t begin, int64_t end, const std::vector<int64_t>& cells,
               int64_t out_offset, bool paged);
  // Fills tile_list_ / tile_range_ for the sequences in `seq_mask` (cells already assigned).
  void build_tile_lists(uint64_t seq_mask);

  // Steps of forward() (runtime/forward.cc and runtime/ffn.cc).
  struct Ubatch;
  void embed(const Ubatch& ub);
  void attention_block(const Ubatch& ub, int64_t il);
  // Its first part: norm, Q/K/V projections, RoPE, queries into qkv_, keys and values into
  // the cache.
  void project_qkv(const Ubatch& ub, int64_t il);
  // Multi-head latent attention (runtime/mla.cc): the same for an MLA layer (queries absorbed
  // into latent space, [latent | RoPE key] into the cache) for n tokens in cells[0..n), and after
  // the attention each head's latent result through attn_v_b: [n_rows][n_head * dv_mla].
  void mla_project(int64_t il, int64_t n, const int64_t* cells);
  const float* mla_values(int64_t il, int64_t n_rows);
  // y[t][h * y_head + j] = (W_h x_h[t])[j] for the per-head matrices W_h of `w`, where x_h holds
  // n rows of `cols` values at x + h * n * cols (gathered per head): one parallel region.
  void run_head_products(const std::vector<Linear>& w, const float* x, int64_t n, int64_t cols,
                         float* y, int64_t ldy, int64_t y_head, Stage stage);
  void ffn_block(const Ubatch& ub, int64_t il, int64_t n_rows);
  void moe_block(const Ubatch& ub, int64_t il, int64_t n_rows);
  // out[t] = down(act(gate(h)) * up(h)) with h = rmsnorm(x_[t]) * norm_w, for n_rows rows.
  void dense_ffn(int64_t il, int64_t n_rows, const float* norm_w, float* out);
  // Gemma 4 per-layer embeddings (runtime/per_layer.cc): the per-layer inputs of the ubatch
  // (after embed), and the per-layer branch added after a layer's FFN.
  // per_layer_block's rows are ubatch tokens, or (last layer) rows_to_tokens[i].
  void per_layer_inputs(const int32_t* tokens, int64_t n);
  void per_layer_block(int64_t il, int64_t n_rows, const int32_t* rows_to_tokens);
  void output_block(const Ubatch& ub, int64_t out_offset);
  // A recurrent layer (runtime/recurrent.cc): runs the architecture's block, which reads the
  // residual stream x_ [n][n_embd] and its sequences' state (rs_) and writes the mixer output to
  // o_ [n][n_embd]; then adds the residual (in the last layer only for the output rows,
  // compacted to the front as attention_block does). Every row goes through the recurrence,
  // including rows whose logits are not wanted, since the state must see every token.
  void recurrent_block(const Ubatch& ub, int64_t il);
  // lfm2 gated short convolution (runtime/shortconv.cc).
  void shortconv_block(const Ubatch& ub, int64_t il);
  // qwen35 gated delta-net (runtime/delta_net.cc).
  void delta_net_block(const Ubatch& ub, int64_t il);
  // The attention algorithm for a ubatch of n_tokens rows and a layer with this value head size.
  kernels::AttentionPath attention_path(int64_t n_tokens, int64_t head_dim_v) const;

  // y_j = W_j x for several products sharing one input (already converted): one parallel region
  // over the rows of all of them.
  struct Product {
    const Linear* w;
    const void* x;  // converted activations
    float* y;
    int64_t ldy;
  };
  void run_products(const Product* products, int n_products, int64_t n_tokens, Stage stage);
  // Activations for weights of `type` (kernels/act_layout.h), or the split layout for BF16 / F16
  // weights when the model prepared them in the on-the-fly split-BF16 form for this Isa
  // (bf16_split_, f16_split_): bytes for n rows of `cols` and the conversion of x[n][cols] as
  // tokens first_token .. first_token + n - 1 of the buffer whose token 0 is at `out` (the split
  // layout is tile-major, kernels/matmul.h; the others are row by row, and take a first_token > 0
  // only when their bytes for n rows are n times those for one).
  bool split_acts(TensorType type) const {
    return (bf16_split_ && type == TensorType::kBF16) || (f16_split_ && type == TensorType::kF16);
  }
  size_t act_bytes_for(TensorType type, int64_t n, int64_t cols) const;
  void convert_acts(TensorType type, const float* x, int64_t n, int64_t cols, void* out,
                    int64_t first_token = 0) const;
  // Converts x[n][cols] for `type` into activation slot `slot`; returns the converted buffer.
  const void* convert(int slot, TensorType type, const float* x, int64_t n, int64_t cols);

  // Conversion fused into the pass that produces the rows (a norm, an activation): each distinct
  // weight type gets a slot; convert_row(t) fills row t of every slot (rows are independent in
  // the kernels' layout, so tasks can convert their own rows).
  struct RowConversion {
    int n_types = 0;
    TensorType types[3] = {};
    uint8_t* out[3] = {};
    int64_t cols = 0;
    bool deferred = false;  // the layout is not row by row: convert everything in finish_rows
    const void* data(TensorType type) const;
  };
  RowConversion begin_rows(std::initializer_list<TensorType> types, int64_t n, int64_t cols);
  void convert_row(const RowConversion& rc, const float* x, int64_t t) const;
  // Completes a deferred conversion of x[n][cols] (no-op otherwise).
  void finish_rows(const RowConversion& rc, const float* x, int64_t n) const;

  const Model& model_;
  ContextParams params_;
  kernels::Isa isa_ = kernels::Isa::kScalar;
  bool bf16_split_ = false;  // model_.bf16_split() and model_.isa() == isa_
  bool f16_split_ = false;   // model_.f16_split() and model_.isa() == isa_
  const kernels::OpsTable* ops_ = nullptr;
  ThreadPool pool_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<RecurrentState> rs_;  // null without recurrent layers
  kernels::RopeTable rope_global_;
  kernels::RopeTable rope_local_;
  int64_t n_vocab_ = 0;

  // Scratch, sized for n_ubatch tokens (floats unless noted).
  std::vector<float> x_;           // [ub][n_embd] residual stream
  std::vector<float> h_;           // [ub][n_embd] normalised input of a block
  std::vector<float> qkv_;         // [ub][n_q + n_k + n_v]
  std::vector<uint8_t> key_rows_;  // [ub][max head_dim_k] F16: keys on their way into tiles
  std::vector<float> attn_;        // [ub][n_head * dv]
  std::vector<float> o_;           // [ub][n_embd] block output
  std::vector<float> ff_;          // [ub][2 * n_ff] gate | up  (MoE: [ub * k][2 * n_ff_exp])
  std::vector<float> cos_sin_[2];  // [ub][rope_n_rot_[i]] per RoPE table (global, local)
  int64_t rope_n_rot_[2] = {0, 0};
  std::vector<float> ones_;     // weights of the unweighted RMS norms (V heads, router input)
  std::vector<float> o2_;       // [ub][n_embd] dense branch of a layer that also has experts
  std::vector<float> pl_;       // [ub][n_layer * n_embd_per_layer] per-layer inputs (Gemma 4)
  std::vector<float> pl_tok_;   // [ub][n_layer * n_embd_per_layer] token rows
  std::vector<float> pl_gate_;  // [ub][n_embd_per_layer]
  std::vector<float> conv_;     // lfm2: [ub][3 * n_embd] in_proj output | [ub][n_embd] gated conv
  std::vector<float> qgate_;    // [ub][2 * n_head * dk] gated-Q projection (qwen35 attention)
  // Delta-net layers (qwen35): convolution output [ub][conv_channels], z [ub][d_inner],
  // alpha | beta -> decay | beta [ub][2 * n_v_heads].
  std::vector<float> dn_conv_, dn_z_, dn_ab_;
  static constexpr int kActSlots = 3;
  std::vector<uint8_t> act_[kActSlots];  // converted activations
  std::vector<uint8_t> thread_scratch_;  // per-thread attention scratch (64-byte aligned slices)
  size_t thread_scratch_stride_ = 0;
  uint8_t* thread_scratch(int thread) {
    auto base = reinterpret_cast<uintptr_t>(thread_scratch_.data());
    base = (base + 63) & ~uintptr_t{63};
    return reinterpret_cast<uint8_t*>(base) + static_cast<size_t>(thread) * thread_scratch_stride_;
  }
  // MoE routing.
  std::vector<float> router_;          // [ub][n_expert]
  std::vector<int32_t> route_expert_;  // [ub][k]
  std::vector<float> route_weight_;    // [ub][k]
  std::vector<float> moe_in_;          // [ub * k][n_embd] gathered inputs
  std::vector<float> moe_out_;         // [ub * k][n_embd] expert outputs (weighted)
  std::vector<float> route_score_;     // [ub][n_expert] selection scores (bias, group masks)
  // Multi-head latent attention (runtime/mla.cc; H heads, shapes in model/model.h).
  std::vector<float> mla_qa_;      // [ub][n_lora_q] query bottleneck
  std::vector<float> mla_q_;       // [ub][H * dq] decompressed queries, head h = [nope | rope]
  std::vector<float> mla_kv_;      // [ub][n_lora_kv + n_rot] latent | RoPE key
  std::vector<float> mla_gather_;  // [H][ub][max(nope, n_lora_kv)] per-head product inputs
  std::vector<float> mla_v_;       // [ub][H * dv_mla] attention output per head, in V space
  std::vector<uint8_t> mla_act_;   // H converted copies of mla_gather_ (one slot per head)
  size_t mla_act_slot_ = 0;        // bytes of one slot
  std::vector<Product> mla_products_;

  struct Chunk {
    int product;
    int64_t r0, r1;
  };
  std::vector<Chunk> chunks_;  // run_products' work list

  std::vector<float> logits_;  // [n_out][n_vocab], or [n_out][n_embd] in embedding mode
  int64_t n_outputs_ = 0;

  // Paged ubatches: per sequence, its tiles in position order (tile_list_[begin, end)).
  std::vector<int32_t> tile_list_;
  std::array<std::pair<int64_t, int64_t>, KvCache::kMaxSequences> tile_range_{};
  // Per sequence: (lowest position, tile) of each tile holding its cells.
  std::array<std::vector<std::pair<int32_t, int32_t>>, KvCache::kMaxSequences> tile_scratch_;
  std::vector<int32_t> row_order_;  // tiled rows grouped by sequence
  // Decoding (at most kSplitRows attention rows): per sorted row, head and span, the partial
  // result of the tiled algorithm ([row][head][span][head_dim_v + 2]), so the spans of one row
  // run on different threads. Not zeroed: pages are touched only as deep as the cache is used.
  static constexpr int64_t kSplitRows = 16;
  std::unique_ptr<float[]> span_partials_;
  int64_t span_partials_spans_ = 0;  // spans per row and head it has room for
  size_t span_partials_floats_ = 0;  // its size
  // Per (row group, key/value head) of a decoding ubatch: spans not yet computed.
  std::unique_ptr<std::atomic<int32_t>[]> span_pending_;
  std::vector<std::pair<int64_t, int64_t>> row_groups_;  // [begin, end) of row_order_

  std::array<double, static_cast<size_t>(Stage::kCount)> profile_{};
  // Adds the time of a scope to a stage when profiling.
  class StageTimer {
   public:
    StageTimer(Context& c, Stage s);
    ~StageTimer();

   private:
    Context& c_;
    Stage s_;
    bool on_;
    std::chrono::steady_clock::time_point t0_;
  };
};

}  // namespace ember::runtime
