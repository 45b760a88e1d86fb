// gpt-oss: OpenAI's open-weight MoE models. NeoX RoPE with YaRN (the same rotation on every
// layer), a sliding window on even layers, biases on Q/K/V and the output projection, one learned
// attention sink per head (a logit that joins the softmax denominator only), and in every layer a
// mixture of experts: router logits plus bias, the top k of those logits, a softmax over the k
// selected, and experts with biases and the clamped "OAI" SwiGLU. Its FFN input norm is the
// tensor named post_attention_norm; the experts usually ship as MXFP4.
#include "model/arch/arch.h"

namespace ember {

Status configure_gpt_oss(const GgufFile&, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSwigluOai;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  config.rope.freq_base_swa = config.rope.freq_base;
  config.rope.freq_scale_swa = config.rope.freq_scale;
  config.moe_gating = MoeGating::kSoftmaxWeight;
  config.moe_norm_topk = false;
  config.sliding_window = hp.sliding_window;
  if (config.sliding_window > 0) {
    arch_detail::set_sliding_pattern(hp.n_layer, 2, config.layer_sliding);
  }
  return Status::Ok();
}

}  // namespace ember
