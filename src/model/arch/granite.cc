// granite: IBM Granite 3.x dense models. Llama layout, SwiGLU, normal RoPE, and four multipliers:
// embeddings x embedding_scale, each block's output x residual_scale before the residual add,
// attention scores x attention.scale (instead of 1/sqrt(head size)), logits / logit_scale.
#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_granite(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNormal, config.rope);
  EMBER_RETURN_IF_ERROR(arch_detail::read_optional_vector(file, "rope_freqs.weight", hp.n_rot / 2,
                                                          config.rope.freq_factors));
  float embedding = 0.0f, residual = 0.0f, attention = 0.0f, logit = 0.0f;
  EMBER_RETURN_IF_ERROR(arch_detail::read_arch_float(file, hp, "embedding_scale", embedding));
  EMBER_RETURN_IF_ERROR(arch_detail::read_arch_float(file, hp, "residual_scale", residual));
  EMBER_RETURN_IF_ERROR(arch_detail::read_arch_float(file, hp, "attention.scale", attention));
  EMBER_RETURN_IF_ERROR(arch_detail::read_arch_float(file, hp, "logit_scale", logit));
  // A multiplier of 0 (or absent) means "not used", as in the reference.
  if (embedding != 0.0f) config.embed_scale = embedding;
  if (residual != 0.0f) config.residual_scale = residual;
  if (attention != 0.0f) config.attn_scale = attention;
  if (logit != 0.0f) config.logit_scale = logit;
  return Status::Ok();
}

}  // namespace ember
