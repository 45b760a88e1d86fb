// llama4: Llama 4 (Scout / Maverick text). Llama layout with rope_freqs and normal RoPE, except
// every 4th layer (NoPE: no RoPE, but queries scaled by the attention temperature
// 1 + 0.1 ln(1 + floor((pos + 1) / 8192))); RoPE layers RMS-normalise Q and K heads without a
// weight after the rotation. Every interleave_moe_layer_step-th layer is a mixture of experts:
// the top k router logits, each expert's input scaled by the sigmoid of its logit, plus a shared
// expert. The RoPE layers use chunked attention (chunks of 8192 positions): ember refuses
// contexts longer than one chunk rather than attend across chunk boundaries.
#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_llama4(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNormal, config.rope);
  EMBER_RETURN_IF_ERROR(arch_detail::read_optional_vector(file, "rope_freqs.weight", hp.n_rot / 2,
                                                          config.rope.freq_factors));
  config.moe_gating = MoeGating::kSigmoidLogits;
  config.moe_norm_topk = false;
  config.moe_weight_before_ffn = true;
  EMBER_RETURN_IF_ERROR(
      arch_detail::read_arch_float(file, hp, "expert_weights_scale", config.moe_weights_scale));
  if (config.moe_weights_scale == 0.0f) config.moe_weights_scale = 1.0f;
  // Files with sliding_window = 0 have no chunked attention and use RoPE on every layer.
  const bool chunked = !(file.find("llama4.attention.sliding_window") && hp.sliding_window == 0);
  config.layer_no_rope.assign(static_cast<size_t>(hp.n_layer), 0);
  if (chunked) {
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      config.layer_no_rope[static_cast<size_t>(il)] = (il + 1) % 4 == 0 ? 1 : 0;
    }
    config.attn_chunk = 8192;
    config.attn_temp_scale = 0.1f;
    config.attn_temp_offset = 1.0f;
    config.attn_temp_floor_scale = 8192;
    config.attn_temp_nope_only = true;
  }
  // The 128-expert model (Maverick) has no Q/K norm.
  config.kq_norm_after_rope = hp.n_expert != 128;
  return Status::Ok();
}

}  // namespace ember
