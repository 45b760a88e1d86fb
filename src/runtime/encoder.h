// The forward pass of the encoder architectures (bert, nomic-bert): several independent
// sequences evaluated together, each attending bidirectionally to itself only; no key/value
// cache (every call starts from scratch). Output: the final hidden state of every token.
//
// Shapes (n = tokens of the call, d = n_embd, H = heads, dk = head size, f = n_ff):
//   x_   [n][d]        residual stream (post-norm: the block input is x_ itself)
//   qkv_ [n][3 H dk]   queries | keys | values
//   att_ [n][H dk]     attention output
//   o_   [n][d]        block output before the residual add
//   ff_  [n][2 f]      bert: up (activated in place) | unused; nomic: gate (activated) | up
//
// Results do not depend on the thread count, nor on which other sequences share the call: every
// step is per token or per sequence, and the matrix kernels compute each token's outputs with the
// same operations whatever the batch (kernels/matmul.h).
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
  Encoder(const Model& model, const EncoderParams& params, int n_threads);
  void layer(int64_t il, int64_t n, std::span<const int32_t> seq_lens);
  // y[t][0..rows) (row stride ldy) = W x[t] for t < n (x rows ldx apart), parallel over the
  // rows of W. `reuse_input`: x is the input of the previous product and W has that product's
  // type and width, so its converted activations are used again (Q/K/V, gate/up).
  void product(const Linear& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy,
               bool reuse_input = false);
  // True when w's products run in the split-BF16 form (prepared so for this encoder's Isa).
  bool split(const Linear& w) const;
  // True when b takes the same converted activations as a (same type and form).
  bool same_input(const Linear& a, const Linear& b) const;
  // x[t] = LayerNorm(x[t] + (add[t] + bias)) * w + b for every row, in place (add and bias may
  // be null; add[t] gets the bias added in place). One parallel region.
  void add_norm(float* x, float* add, const float* bias, const float* w, const float* b, int64_t n);

  const Model& model_;
  EncoderParams params_;
  kernels::Isa isa_;
  const kernels::OpsTable* ops_;
  ThreadPool pool_;
  kernels::RopeTable rope_;
  std::vector<float> x_, qkv_, att_, o_, ff_, cos_sin_, scratch_;
  std::vector<float> ones_;   // [n_ff] of 1.0: GELU through the runtime's gelu_mul
  std::vector<int32_t> pos_;  // position of each token within its sequence
  std::vector<uint8_t> act_;  // converted activations
};

}  // namespace ember::runtime
