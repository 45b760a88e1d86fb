// gemma2: Gemma 2. GeGLU (tanh GELU), embeddings scaled by sqrt(n_embd), RMS norms after the
// attention and FFN blocks as well as before (post_attention_norm, post_ffw_norm), soft-capped
// attention scores and final logits, and a sliding window on every other layer (even layers are
// local). Queries are scaled by 1/sqrt(head size), except for the 27B model (46 layers), which
// Google scales by 1/sqrt(n_embd / n_head).
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_gemma2(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kGeluTanh;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  // Gemma 2 has no separate local RoPE: the sliding layers use the global settings.
  config.rope.freq_base_swa = config.rope.freq_base;
  config.rope.freq_scale_swa = config.rope.freq_scale;
  config.embed_scale = std::sqrt(static_cast<float>(hp.n_embd));
  const bool is_27b = hp.n_layer == 46;
  config.prescale_q = true;  // the query is scaled, in F32, before attention
  config.attn_scale = is_27b ? 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head))
                             : 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k));
  // Defaults of the released models when the keys are absent.
  config.attn_softcap = file.find("gemma2.attn_logit_softcapping") ? hp.attn_softcap : 50.0f;
  config.final_softcap = file.find("gemma2.final_logit_softcapping") ? hp.final_softcap : 30.0f;
  config.sliding_window = file.find("gemma2.attention.sliding_window") ? hp.sliding_window : 4096;
  if (config.sliding_window > 0) {
    arch_detail::set_sliding_pattern(hp.n_layer, 2, config.layer_sliding);
  }
  return Status::Ok();
}

}  // namespace ember
