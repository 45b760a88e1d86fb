// What distinguishes the forward pass of each architecture, beyond the tensor layout
// (model/architecture.h): RoPE style, activation, scales, soft-capping, sliding-window layers,
// expert routing. One file per architecture (src/model/arch/<name>.cc) fills an ArchConfig from
// the hyper-parameters and the file; the runtime's single transformer implementation follows it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ember/status.h"
#include "kernels/rope.h"
#include "model/hparams.h"

namespace ember {

class GgufFile;

enum class FfnActivation : uint8_t {
  kSilu,      // SwiGLU: silu(gate) * up
  kGeluTanh,  // GeGLU with the tanh approximation of GELU
  kGelu,      // plain GELU on ffn_up (no gate): BERT
  kSwigluOai,  // gpt-oss: x = min(gate, 7), y = clamp(up, -7, 7), x * sigmoid(1.702 x) * (y + 1)
};

enum class MoeGating : uint8_t {
  kSoftmax,        // softmax over all experts, then top-k of the probabilities
  kSoftmaxWeight,  // top-k of the logits, softmax over the selected k (gpt-oss)
  kSigmoid,        // sigmoid per expert; top-k of sigmoid + selection bias (DeepSeek V3, GLM)
  kSigmoidLogits,  // top-k of the logits, weights = their sigmoids (Llama 4)
};

// RoPE settings before the context size is known (LongRoPE picks its factors by context size).
struct RopeConfig {
  kernels::RopeStyle style = kernels::RopeStyle::kNormal;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;  // 1 / linear factor
  bool yarn = false;
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  int64_t n_ctx_orig = 0;
  float attn_factor = 1.0f;               // rope.scaling.attn_factor
  std::vector<float> freq_factors;        // rope_freqs.weight (Llama 3.x), n_rot/2
  std::vector<float> freq_factors_long;   // rope_factors_long.weight (Phi-3 LongRoPE)
  std::vector<float> freq_factors_short;  // rope_factors_short.weight
  // Sliding-window layers of some architectures use their own base (and no scaling).
  float freq_base_swa = 10000.0f;
  float freq_scale_swa = 1.0f;
  // freq_factors apply to the global (non-sliding) layers only (Gemma 4's proportional RoPE).
  bool freq_factors_global_only = false;
  // When nonzero, the attention factor handed to the rotation as is (Mistral 3 cancels YaRN's
  // magnitude correction with 1 / (1 + 0.1 ln factor)).
  float attn_factor_override = 0.0f;

  // The parameters for a context of n_ctx positions; `sliding` selects the local-layer settings.
  kernels::RopeParams params(int64_t n_rot, int64_t n_ctx, bool sliding) const;
};

struct ArchConfig {
  FfnActivation ffn_act = FfnActivation::kSilu;
  RopeConfig rope;
  float embed_scale = 1.0f;   // token embeddings are multiplied by this (Gemma: sqrt(n_embd))
  float attn_scale = 1.0f;    // scale of q.k (default 1/sqrt(head size))
  bool prescale_q = false;    // apply attn_scale to q (in F32) instead of to the scores, as the
                              // reference does for phi3 and Gemma (it changes the roundings)
  float attn_softcap = 0.0f;  // scores = cap * tanh(scores / cap) (0 = off)
  float final_softcap = 0.0f;
  int64_t sliding_window = 0;  // window size of sliding layers (key pos > query pos - window)
  std::vector<uint8_t> layer_sliding;  // n_layer entries, 1 = sliding-window layer
  bool moe_norm_topk = true;           // renormalise the selected experts' weights to sum to 1
  MoeGating moe_gating = MoeGating::kSoftmax;
  float moe_weights_scale = 1.0f;  // the selected experts' weights are multiplied by it
  // Expert groups (DeepSeek V3): a group scores the sum of its two best selection scores; only
  // the moe_n_group_used best groups are eligible (0 or 1 group: off).
  int64_t moe_n_group = 0;
  int64_t moe_n_group_used = 0;
  bool moe_weight_before_ffn = false;  // weights scale each expert's input, not its output
  bool kq_norm_after_rope = false;     // unweighted RMS norm of Q and K heads after RoPE (RoPE
                                       // layers only; Llama 4)
  bool attn_temp_nope_only = false;    // the attention temperature applies to NoPE layers only
  int64_t attn_chunk = 0;              // chunked attention size (contexts beyond it refused)
  bool v_norm = false;                 // RMS-normalise each V head (no weight) before caching
  std::vector<uint8_t> layer_no_rope;  // n_layer entries (or empty), 1 = no RoPE (SmolLM3 NoPE)
  // qwen35: attn_q rows per head are [query(dk), gate(dk)]; the attention output of each head is
  // multiplied by sigmoid(gate) before the output projection.
  bool attn_output_gate = false;
  // Granite multipliers: block outputs are scaled before the residual add, logits divided.
  float residual_scale = 1.0f;
  float logit_scale = 1.0f;
  // Attention temperature (Llama 4 / Mistral 3): after RoPE, q *= 1 + scale * ln(1 +
  // floor((pos + offset) / floor_scale)) (0 = off).
  float attn_temp_scale = 0.0f;
  float attn_temp_offset = 0.0f;
  int64_t attn_temp_floor_scale = 8192;
};

// Fills `config` for hp.arch (after read_hparams); errors for settings ember cannot run.
Status configure_architecture(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);

// Per-architecture parts (src/model/arch/*.cc).
Status configure_llama(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_qwen2(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_qwen3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_qwen3moe(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_phi3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_gemma2(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_gemma3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_gemma4(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_mistral3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_smollm3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_granite(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_gpt_oss(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_glm4moe(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_llama4(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_deepseek2(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_qwen35(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_lfm2(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_bert(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);
Status configure_nomic_bert(const GgufFile& file, const ModelHParams& hp, ArchConfig& config);

// Shared helpers for the architecture files.
namespace arch_detail {
// Sets rope base/scale/YaRN fields from the hyper-parameters (common to every architecture).
void set_common_rope(const ModelHParams& hp, kernels::RopeStyle style, RopeConfig& rope);
// Reads an optional 1-D F32/F16/BF16 tensor of exactly `n` values into `out` (left empty when
// the tensor is absent); errors when present with another size or type.
Status read_optional_vector(const GgufFile& file, const std::string& name, int64_t n,
                            std::vector<float>& out);
// Marks layer il as sliding when il % pattern < pattern - 1 (pattern 2: even layers; pattern 6:
// five local layers, then one global).
void set_sliding_pattern(int64_t n_layer, int64_t pattern, std::vector<uint8_t>& layer_sliding);
// Reads the optional float key `<arch>.<suffix>` into `out` (left unchanged when absent).
Status read_arch_float(const GgufFile& file, const ModelHParams& hp, const std::string& suffix,
                       float& out);
// DeepSeek-style routing keys: expert_gating_func (1 softmax, 2 sigmoid; absent or 0 gives
// `default_gating`), expert_weights_norm (absent: `default_norm`), expert_weights_scale (absent
// or 0: 1), and the expert groups from the hyper-parameters.
Status read_moe_routing(const GgufFile& file, const ModelHParams& hp, MoeGating default_gating,
                        bool default_norm, ArchConfig& config);
}  // namespace arch_detail

}  // namespace ember
