// deepseek2: DeepSeek V2 / V3 / V3.1 / R1 and the models built on them (Kimi K2, GigaChat 3,
// ...), in llama.cpp's multi-head latent attention ("MLA") layout.
//
// Attention (runtime/mla.cc): queries through a low-rank bottleneck (attn_q_a, RMS norm,
// attn_q_b; "lite" variants one attn_q), each head [nope | rope]; one shared latent plus one RoPE
// key (attn_kv_a_mqa, the latent RMS-normed). The nope part of each query is multiplied into
// latent space by that head's attn_k_b, so attention runs over the cached [latent | RoPE key] as
// a single KV head, and each head's result (a latent) goes through its attn_v_b, then
// attn_output. RoPE is normal (adjacent pairs) on the rope part only; with YaRN the rotation is
// not magnitude-scaled, instead the scores are scaled by mscale^2 / sqrt(key_length_mla) with
// mscale = rope.scaling.attn_factor * (1 + yarn_log_multiplier * ln(factor)) (the converter
// stores 0.1 * mscale_all_dim as the multiplier).
//
// FFN: the first leading_dense_block_count layers dense, the others routed experts (softmax
// gating in V2, sigmoid + selection bias in V3, expert groups, normalised and scaled weights)
// plus shared experts.
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_deepseek2(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNormal, config.rope);
  const float factor = 1.0f / config.rope.freq_scale;
  if (config.rope.yarn && factor != 1.0f) {
    // Cancels the magnitude correction the YaRN rotation applies.
    config.rope.attn_factor_override = 1.0f / (1.0f + 0.1f * std::log(factor));
  }
  float log_mul = 0.0f;
  EMBER_RETURN_IF_ERROR(
      arch_detail::read_arch_float(file, hp, "rope.scaling.yarn_log_multiplier", log_mul));
  const float mscale = hp.rope_attn_factor * (1.0f + log_mul * std::log(factor));
  config.attn_scale = mscale * mscale / std::sqrt(static_cast<float>(hp.head_dim_k_mla));
  // Files without expert_gating_func are DeepSeek V2 / V2.5: softmax, weights not normalised.
  return arch_detail::read_moe_routing(file, hp, MoeGating::kSoftmax, false, config);
}

}  // namespace ember
