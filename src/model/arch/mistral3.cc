// mistral3: Mistral 3 / Ministral 3 text models. Llama layout and SwiGLU, normal (adjacent-pair)
// RoPE with YaRN whose magnitude correction is cancelled (the rotation gets the attention factor
// 1 / (1 + 0.1 ln factor)), and an attention temperature: after RoPE each query is multiplied by
// 1 + attention.temperature_scale * ln(1 + floor(pos / original context)).
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_mistral3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNormal, config.rope);
  EMBER_RETURN_IF_ERROR(arch_detail::read_optional_vector(file, "rope_freqs.weight", hp.n_rot / 2,
                                                          config.rope.freq_factors));
  if (config.rope.yarn && config.rope.freq_scale != 1.0f) {
    config.rope.attn_factor_override =
        1.0f / (1.0f + 0.1f * std::log(1.0f / config.rope.freq_scale));
  }
  EMBER_RETURN_IF_ERROR(
      arch_detail::read_arch_float(file, hp, "attention.temperature_scale", config.attn_temp_scale));
  config.attn_temp_offset = 0.0f;
  config.attn_temp_floor_scale = hp.rope_scaling_orig_ctx > 0 ? hp.rope_scaling_orig_ctx : 8192;
  float length = 0.0f;
  EMBER_RETURN_IF_ERROR(
      arch_detail::read_arch_float(file, hp, "attention.temperature_length", length));
  if (length > 0.0f) config.attn_temp_floor_scale = static_cast<int64_t>(length);
  return Status::Ok();
}

}  // namespace ember
