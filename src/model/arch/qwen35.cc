// qwen35 / qwen35moe: Qwen 3.5, a hybrid of gated delta-net layers (linear attention with a
// recurrent state per sequence) and gated full-attention layers; every full_attention_interval-th
// layer is full attention (ModelHParams::is_delta_net). As the reference computes it:
//  - full attention: attn_q rows per head are [query(dk), gate(dk)]; Q/K RMS norms with weights;
//    M-RoPE, which for text (every section at the same position) is NeoX RoPE over the first
//    rope.dimension_count dimensions; each head's output times sigmoid(gate) before attn_output;
//  - delta-net (runtime/delta_net.cc, kernels/delta_net.h): attn_qkv -> causal depthwise
//    convolution (ssm_conv1d, the last conv_kernel - 1 inputs kept per sequence) -> SiLU ->
//    q | k | v; q and k L2-normalised per head (eps = the RMS epsilon), q scaled by
//    1/sqrt(state_size); per v head decay g = softplus(alpha + ssm_dt.bias) * ssm_a and
//    beta = sigmoid(beta projection); the gated delta rule updates the state and reads it with q;
//    the output is RMS-normed per head (ssm_norm) times silu(attn_gate projection), then ssm_out;
//  - post_attention_norm is the FFN input norm (no post-norms); SwiGLU FFN, or (qwen35moe)
//    softmax top-k experts renormalised plus a shared expert scaled by
//    sigmoid(ffn_gate_inp_shexp . x).
#include "model/arch/arch.h"

namespace ember {

Status configure_qwen35(const GgufFile&, const ModelHParams& hp, ArchConfig& config) {
  if (hp.full_attn_interval <= 0) {
    return invalid_argument("qwen35: full_attention_interval must be positive");
  }
  if (hp.head_dim_k != hp.head_dim_v) {
    // The output gate has one value per query dimension and multiplies the value dimensions.
    return invalid_argument("qwen35: attention.key_length and value_length must be equal");
  }
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  config.attn_output_gate = true;
  config.moe_gating = MoeGating::kSoftmax;
  config.moe_norm_topk = true;
  return Status::Ok();
}

}  // namespace ember
