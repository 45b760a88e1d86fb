// lfm2: Liquid AI's LFM2 / LFM2.5, a hybrid of gated short-convolution layers and attention
// layers (head_count_kv is an array: 0 marks a convolution layer).
//  - every layer: x += mixer(rmsnorm(x) * attn_norm); x += SwiGLU FFN(rmsnorm(x) * ffn_norm);
//  - convolution layers (runtime/shortconv.cc): [B | C | x] = in_proj h, each [n_embd]; the
//    product B * x is convolved causally per channel with the shortconv.conv kernel
//    ([l_cache][n_embd], tap 0 on the oldest input, no bias, no activation), multiplied by C,
//    then out_proj. The last l_cache - 1 products are the per-sequence recurrent state;
//  - attention layers: Q/K RMS-normed per head with weights, NEOX RoPE, scale 1/sqrt(head);
//  - the final norm is the tensor named token_embd_norm; the output shares token_embd.
#include "model/arch/arch.h"

namespace ember {

Status configure_lfm2(const GgufFile&, const ModelHParams& hp, ArchConfig& config) {
  if (hp.n_head_kv_arr.empty() || !hp.has_recurrent()) {
    return invalid_argument(
        "lfm2: attention.head_count_kv must be an array with 0 for the convolution layers");
  }
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  return Status::Ok();
}

}  // namespace ember
