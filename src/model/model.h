// A loaded model: hyper-parameters, the architecture's forward-pass settings, and typed views of
// every weight straight into the memory-mapped GGUF file (nothing is copied except small 1-D
// tensors stored in a type other than F32, which are widened once). Internal (namespace
// ember::runtime); the public handle, shared by contexts and engines, is ember/model.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ember/numerics.h"
#include "ember/status.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "model/arch/arch.h"
#include "model/encoder_weights.h"
#include "model/hparams.h"

namespace ember::runtime {

// A matrix of a linear layer: the view into the file, and the copy packed for the model's Isa
// (kernels/matmul.h prepare_weights; it may hold no copy, then the view is used).
struct Linear {
  kernels::Weights w;
  kernels::PreparedWeights prepared;
  bool present() const { return w.data != nullptr; }
};

// Weights of one transformer block. Matrices are [rows = output features][cols = input
// features]; absent optional tensors have data == nullptr.
struct LayerWeights {
  const float* attn_norm = nullptr;       // [n_embd]
  Linear wq, wk, wv;                      // [n_head*dk][n_embd], [n_head_kv*dk][n_embd], ...
  Linear wqkv;                            // phi3: [n_q + n_k + n_v][n_embd]
  const float* bq = nullptr;              // qwen2: [n_head*dk]
  const float* bk = nullptr;              // [n_head_kv*dk]
  const float* bv = nullptr;              // [n_head_kv*dv]
  const float* q_norm = nullptr;          // qwen3/gemma3: [dk], shared by all heads
  const float* k_norm = nullptr;          // [dk]
  Linear wo;                              // [n_embd][n_head*dv]
  const float* post_attn_norm = nullptr;  // gemma: [n_embd]
  const float* ffn_norm = nullptr;        // [n_embd]
  Linear ffn_gate;                        // [n_ff][n_embd] (phi3: first half of the fused ffn_up)
  Linear ffn_up;                          // [n_ff][n_embd] (phi3: second half)
  Linear ffn_down;                        // [n_embd][n_ff]
  const float* post_ffn_norm = nullptr;   // gemma: [n_embd]
  // Mixture of experts: the router, and each expert's matrices (row slices of the stacked
  // ffn_*_exps tensors, expert e holding rows [e * n, (e + 1) * n)).
  Linear ffn_gate_inp;            // [n_expert][n_embd]
  std::vector<Linear> gate_exps;  // n_expert x [n_ff_exp][n_embd]
  std::vector<Linear> up_exps;    // n_expert x [n_ff_exp][n_embd]
  std::vector<Linear> down_exps;  // n_expert x [n_embd][n_ff_exp]
  // Gemma 4: router input scale [n_embd] and per-expert output scale [n_expert]; norms around
  // the dense branch (post_ffn_norm_1) and the expert branch (pre_ffn_norm_2, post_ffn_norm_2)
  // when a layer has both.
  const float* gate_inp_scale = nullptr;
  const float* down_exps_scale = nullptr;
  const float* post_ffn_norm_1 = nullptr;
  const float* pre_ffn_norm_2 = nullptr;
  const float* post_ffn_norm_2 = nullptr;
  // Gemma 4 per-layer embeddings: x += post_norm(proj(gelu(inp_gate x) * per_layer_input)).
  Linear pl_inp_gate;                   // [n_embd_per_layer][n_embd]
  Linear pl_proj;                       // [n_embd][n_embd_per_layer]
  const float* pl_post_norm = nullptr;  // [n_embd]
  const float* out_scale = nullptr;     // [1]: the hidden state is multiplied by it after the layer
  // gpt-oss: output projection bias [n_embd], attention sinks [n_head], router bias [n_expert]
  // and expert biases (gate/up [n_expert][n_ff_exp], down [n_expert][n_embd]).
  const float* bo = nullptr;
  const float* sinks = nullptr;
  const float* gate_inp_b = nullptr;
  const float* gate_exps_b = nullptr;
  const float* up_exps_b = nullptr;
  const float* down_exps_b = nullptr;
  // Expert-selection bias [n_expert] (added to the gate probabilities for the choice only).
  const float* exp_probs_b = nullptr;
  // Multi-head latent attention (DeepSeek; model/hparams.h). With H heads, q = n_lora_q,
  // kv = n_lora_kv, dq = head_dim_k_mla (nope + rope), dvm = head_dim_v_mla:
  Linear wq_a;                       // [q][n_embd] (absent in "lite" files: wq [H*dq][n_embd])
  const float* q_a_norm = nullptr;   // [q]
  Linear wq_b;                       // [H*dq][q]
  Linear wkv_a_mqa;                  // [kv + n_rot][n_embd]: the latent, then the RoPE key
  const float* kv_a_norm = nullptr;  // [kv]
  std::vector<Linear> wk_b;          // H x [kv][nope]: the nope query into latent space
  std::vector<Linear> wv_b;          // H x [dvm][kv]: the attended latent into V space
  bool mla() const { return wkv_a_mqa.present(); }
  // qwen35moe: the shared expert (bound as ffn_gate/up/down) is scaled by sigmoid(shexp_gate . h)
  // [n_embd].
  const float* shexp_gate = nullptr;
  // Gated delta-net layers (qwen35; ModelHParams::is_delta_net): wqkv holds attn_qkv
  // [conv_channels][n_embd] (q | k | v, conv_channels = 2 * n_group * d_state + d_inner).
  bool delta_net = false;
  Linear ssm_z;                        // attn_gate [d_inner][n_embd]
  Linear ssm_alpha;                    // [n_v_heads][n_embd]
  Linear ssm_beta;                     // [n_v_heads][n_embd]
  Linear ssm_out;                      // [n_embd][d_inner]
  const float* ssm_conv1d = nullptr;   // [conv_channels][d_conv], oldest input's tap first
  const float* ssm_dt_bias = nullptr;  // [n_v_heads]
  const float* ssm_a = nullptr;        // [n_v_heads] (-exp(A_log): negative)
  const float* ssm_norm = nullptr;     // [head_v_dim]
  // lfm2 gated short convolution (recurrent layers): in_proj [3 * n_embd][n_embd] giving B | C |
  // x, the depthwise kernel [n_embd][l_cache] (tap 0 applies to the oldest input), out_proj
  // [n_embd][n_embd].
  Linear shortconv_in;
  const float* shortconv_kernel = nullptr;
  Linear shortconv_out;
};

struct ModelLoadOptions {
  bool use_mmap = true;
  // Pack the matrices for this Isa at load (default: the best the CPU runs). Contexts using
  // another Isa fall back to the unpacked (slower) kernels.
  std::optional<kernels::Isa> isa;
  bool prepare = true;
  // Encoders: prepare the layer matrices in the split-BF16 form (AMX-BF16 tiles, about 16
  // significant bits per operand; kernels/matmul.h WeightForm) where isa is avx512-amx and the
  // CPU has AMX-BF16; false keeps the exact F32 arithmetic of the other Isas.
  bool encoder_split_bf16 = true;
  // Decoders: prepare every BF16 matrix in the on-the-fly split-BF16 form (AMX-BF16 tiles read
  // straight from the 2-byte weights, activations split into two BF16 parts; kernels/matmul.h
  // WeightForm::kSplitBf16Fly) where isa is avx512-amx and the CPU has AMX-BF16, for every token
  // count (batch and token-by-token evaluations keep the same bits); false keeps the exact F32
  // arithmetic. Ignored with numerics = kReference (BF16 matrices then keep the exact form).
  bool decoder_split_bf16 = true;
  // Decoders: the same form for every F16 matrix, where decoder_split_bf16's conditions hold and
  // this CPU passed the start-up check (kernels::split_bf16_fly_exact) that products with 1..15
  // tokens, which run on AVX-512 FMA instructions reproducing the tile unit's arithmetic, give
  // the bits the tile unit gives for 16 and more (so batch and token-by-token evaluations keep
  // the same logits). Opt-in (also EMBER_F16_TILES=1 in the environment): prompts run about 1.75x
  // faster and one sequence decodes at about the same speed, but products with 2..15 tokens
  // (several sequences decoding together) run at about 0.3x the F16 FMA kernel (three products
  // per weight; docs/performance.md). false keeps F16 matrices in the exact form.
  // Ignored with numerics = kReference.
  bool decoder_split_f16 = false;
  // kReference: Q8_0 and MXFP4 matrices are prepared in the reference summation order
  // (kernels::WeightForm::kReferenceOrder, read in place) instead of packed; ember/numerics.h.
  Numerics numerics = Numerics::kFast;
  int n_threads = 0;  // threads for packing, 0: all hardware threads
  // Called as the weight matrices are packed (the long part of a load): matrices done, total.
  // Calls are serialized (never two at once) but come from the packing threads.
  std::function<void(size_t done, size_t total)> progress;
};

class Model {
 public:
  // Opens and checks a GGUF model (architecture, hyper-parameters, every tensor's presence,
  // shape and type). Errors name the file's problem (unknown architecture, missing tensor ...).
  static Result<std::unique_ptr<Model>> load(const std::string& path,
                                             const ModelLoadOptions& options = {});
  // The same from an already opened file (tests build models in memory).
  static Result<std::unique_ptr<Model>> from_file(GgufFile file,
                                                  const ModelLoadOptions& options = {});

  const GgufFile& file() const { return file_; }
  const ModelHParams& hparams() const { return hp_; }
  const ArchConfig& config() const { return config_; }
  const LayerWeights& layer(int64_t il) const { return layers_[static_cast<size_t>(il)]; }

  const kernels::Weights& token_embd() const { return token_embd_; }  // [n_vocab][n_embd]
  // When the file is mapped: gives the token embedding's whole pages back to the OS. Lookups
  // read a row or two per token, but each fault maps its neighbours too (the kernel's
  // fault-around), so over a long run the whole embedding (as large as the output matrix's
  // packed copy when tied) would become resident; contexts call this after each ubatch's
  // lookups. The pages are clean file pages: the next lookup reloads them from the page cache.
  // A no-op for a model read into memory.
  void release_token_embd_pages() const;
  const Linear& output() const { return output_; }  // [n_vocab][n_embd]
  // The Isa the matrices are packed for.
  kernels::Isa isa() const { return isa_; }
  // The numerics the model was loaded with (ModelLoadOptions::numerics).
  Numerics numerics() const { return numerics_; }
  // Bytes of packed weight copies held in memory (0 when nothing was packed).
  size_t packed_bytes() const { return packed_bytes_; }
  // True when the decoder's BF16 matrices were prepared in the on-the-fly split-BF16 form
  // (ModelLoadOptions::decoder_split_bf16; never in the reference numerics mode): products with
  // them take split activations (kernels::convert_split_activations) when run with isa().
  bool bf16_split() const { return bf16_split_; }
  // The same for the F16 matrices (ModelLoadOptions::decoder_split_f16).
  bool f16_split() const { return f16_split_; }
  const float* output_norm() const { return output_norm_; }  // [n_embd]
  // Gemma 4 per-layer embeddings (absent: data == nullptr).
  const kernels::Weights& per_layer_tok_embd() const {
    return per_layer_tok_embd_;
  }  // [n_vocab][n_layer*npl]
  const Linear& per_layer_model_proj() const {
    return per_layer_model_proj_;
  }  // [n_layer*npl][n_embd]
  const float* per_layer_proj_norm() const { return per_layer_proj_norm_; }  // [npl]
  bool tied_output() const { return tied_output_; }

  // Embedding and ranking (model/encoder_weights.h). Encoders keep their matrices in layer(il)
  // (wq/wk/wv or wqkv, wo, ffn_up, ffn_gate, ffn_down) and the rest in encoder().
  const EncoderWeights& encoder() const { return encoder_; }
  const EmbeddingInfo& embedding_info() const { return embedding_info_; }
  // Classification head: cls.weight [n_embd][n_embd] + cls.bias (optional; then tanh), and
  // cls.output.weight [n_cls_out][n_embd] + cls.output.bias (optional). Absent: !present().
  const Linear& cls() const { return cls_; }
  const float* cls_bias() const { return cls_bias_; }
  const Linear& cls_out() const { return cls_out_; }
  const float* cls_out_bias() const { return cls_out_bias_; }

  // Bytes of all tensor data in the file(s).
  uint64_t weight_bytes() const { return weight_bytes_; }
  // Parameters: the elements of all tensors in the file(s).
  uint64_t n_params() const;
  // e.g. "llama 1.24B Q4_K_M": architecture, parameter count, file type.
  std::string description() const;
  // The most common weight type among the matrices (by bytes), e.g. "q4_0".
  std::string main_type_name() const;

 private:
  Model() = default;
  Status bind();
  Status bind_encoder();  // model/model_encoder.cc
  Status bind_head();     // model/model_encoder.cc
  // A 1-D tensor of n values as F32 (widened once when stored otherwise); nullptr when absent
  // and not required.
  Status bind_vector(const std::string& name, int64_t n, bool required, const float** out);
  Status prepare(const ModelLoadOptions& options, bool release_source_pages);
  static Result<std::unique_ptr<Model>> from_file_impl(GgufFile file,
                                                       const ModelLoadOptions& options,
                                                       bool mapped);

  GgufFile file_;
  ModelHParams hp_;
  ArchConfig config_;
  std::vector<LayerWeights> layers_;
  kernels::Weights token_embd_;
  Linear output_;
  kernels::Isa isa_ = kernels::Isa::kScalar;
  Numerics numerics_ = Numerics::kFast;
  size_t packed_bytes_ = 0;
  bool bf16_split_ = false;
  bool f16_split_ = false;
  const float* output_norm_ = nullptr;
  kernels::Weights per_layer_tok_embd_;
  Linear per_layer_model_proj_;
  const float* per_layer_proj_norm_ = nullptr;
  bool tied_output_ = false;
  bool mapped_ = false;  // tensor data lives in a read-only file mapping
  EncoderWeights encoder_;
  EmbeddingInfo embedding_info_;
  Linear cls_, cls_out_;
  const float* cls_bias_ = nullptr;
  const float* cls_out_bias_ = nullptr;
  uint64_t weight_bytes_ = 0;
  // 1-D tensors stored as F16/BF16, widened to F32 at load.
  std::vector<std::unique_ptr<std::vector<float>>> widened_;
};

}  // namespace ember::runtime
