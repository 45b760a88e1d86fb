// The forward pass of the encoder architectures (bert, nomic-bert): several independent
// sequences evaluated together, each attending bidirectionally to itself only; no key/value
// cache (every call starts from scratch). Output: the final hidden state of every token.
//
// Shapes (n = tokens of the call, d = n_embd, H = heads, dk = head size, f = n_ff):
//   x_   [n][d]        residual stream (post-norm: the block input is x_ itself); the caller's
//                      output buffer
//   qkv_ [n][3 H dk]   queries | keys | values
//   att_ [n][H dk]     attention output
//   o_   [n][d]        block output before the residual add
//   ff_  [n][f]        bert: up (activated in place); nomic [n][2 f]: gate (activated) | up
//
// Results do not depend on the thread count, nor on which other sequences share the call: every
// step is per token or per sequence, and the matrix kernels compute each token's outputs with the
// same operations whatever the batch (kernels/matmul.h).
//
// Parallel regions per layer (each a fork/join of the thread pool): the Q/K/V products (one
// region for all three when they share a weight type), attention per (sequence, head) with the
// Q/K/V biases and RoPE applied inside, the attention output's conversion, its product, bias +
// residual + LayerNorm + the conversion of the normalized rows for the FFN, the up (and gate)
// products, bias + activation + the conversion for the down product, the down product, and
// bias + residual + LayerNorm + the conversion for the next layer's Q/K/V. Fusing the row-wise
// steps with the conversion that follows them reads each activation row once while it is in
// cache, and halves the regions (their join is where threads wait for each other).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/thread_pool.h"
#include "ember/status.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "kernels/rows.h"
#include "model/model.h"

namespace ember::runtime {

struct EncoderParams {
  int64_t n_ubatch = 512;  // most tokens per encode() call
  int n_threads = 0;       // 0: all hardware threads
  std::optional<kernels::Isa> isa;
};

class Encoder {
 public:
  // Errors: a model that is not an encoder, bad parameters.
  static Result<std::unique_ptr<Encoder>> create(const Model& model, const EncoderParams& params);

  // Evaluates sequences laid out one after the other in `tokens` (seq_lens[i] tokens each, every
  // length >= 1) and writes the final hidden states to out[n_tokens][n_embd]. Errors: more than
  // n_ubatch tokens, a sequence longer than the model's position table (bert), token ids outside
  // the vocabulary, lengths that do not add up.
  Status encode(std::span<const int32_t> tokens, std::span<const int32_t> seq_lens, float* out);

  int n_threads() const { return pool_.n_threads(); }
  int64_t n_ubatch() const { return params_.n_ubatch; }
  // Longest sequence the model can take (bert: its position table; nomic-bert: n_ctx_train).
  int64_t max_sequence() const { return model_.hparams().n_ctx_train; }

 private:
  // A product's output: y[t][0..rows of w) at row stride ldy. Split-BF16 products may also fold
  // the pass after them into their epilogue (kernels/matmul.h SplitEpilogue): `epilogue`, with
  // act_out (if set) the buffer of token 0 and act_stride its bytes per token.
  struct Out {
    const Linear* w;
    float* y;
    int64_t ldy;
    kernels::SplitEpilogue epilogue = {};
    size_t act_stride = 0;
  };

  Encoder(const Model& model, const EncoderParams& params, int n_threads);
  void layer(int64_t il, int64_t n, std::span<const int32_t> seq_lens);
  // The Q/K/V products of layer il from act_ (holding x_ converted for qkv_input(il)).
  void qkv_products(int64_t il, int64_t n);
  void attention(int64_t il, int64_t n, std::span<const int32_t> seq_lens);
  // The weights whose activation type the first product of a block's input takes (the
  // LayerNorm before it converts its rows for them).
  const Linear& qkv_input(int64_t il) const;
  const Linear& ffn_input(int64_t il) const;
  // True when w's products run in the split-BF16 form (prepared so for this encoder's Isa).
  bool split(const Linear& w) const;
  // True when b takes the same converted activations as a (same type, width and form).
  bool same_input(const Linear& a, const Linear& b) const;
  // Sizes act_ for n rows converted for `w`, and converts rows [t0, t1) of x (rows ldx apart)
  // into it.
  void size_act(const Linear& w, int64_t n);
  void convert_rows(const Linear& w, const float* x, int64_t ldx, int64_t t0, int64_t t1);
  // y = W x for every output, from the activations in act_ (converted for all of them: the
  // weights share one type and width); one region over the row blocks of all outputs (for
  // split-BF16 products with few row blocks, over row blocks x 32-token chunks).
  void products(std::span<const Out> outs, int64_t n);
  // Converts x[t] (rows ldx apart) into act_ for w, then products({w, y, ldy}).
  void product(const Linear& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy);
  // x[t] = LayerNorm(x[t] + (add[t] + bias)) * w + b for every row, in place (add and bias may
  // be null), then, when `next` is given, the row converted into act_ for it. One region.
  void add_norm(float* x, const float* add, const float* bias, const float* w, const float* b,
                int64_t n, const Linear* next);

  const Model& model_;
  EncoderParams params_;
  kernels::Isa isa_;
  const kernels::OpsTable* ops_;
  const kernels::RowOps* rows_;
  ThreadPool pool_;
  kernels::RopeTable rope_;
  float* x_ = nullptr;  // the residual stream: encode()'s output buffer
  std::vector<float> qkv_, att_, o_, ff_, cos_sin_, scratch_;
  size_t act_row_ = 0;        // bytes of one converted row in act_ (not the split form's)
  std::vector<int32_t> pos_;  // position of each token within its sequence
  std::vector<uint8_t> act_;  // converted activations
  // The FFN's activated rows converted for the down product by the up product's epilogue (then
  // swapped into act_).
  std::vector<uint8_t> act_next_;
  // True when this layer's Q/K/V products added the biases bq, bk, bv (in their epilogue).
  bool qkv_biased_ = false;
};

}  // namespace ember::runtime
