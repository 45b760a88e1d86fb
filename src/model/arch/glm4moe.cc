// glm4moe: GLM-4.5 / 4.6 (and Solar Open). Q/K/V biases, NeoX RoPE on the first
// rope.dimension_count dimensions of each head (half of it), the first leading_dense_block_count
// layers dense, the others a mixture of experts: sigmoid of the router logits, the top k of
// sigmoid + exp_probs_b (the bias only chooses), the chosen sigmoids normalised to sum to 1 and
// scaled by expert_weights_scale, plus a shared expert on the same input. The FFN input norm is
// the tensor named post_attention_norm; the trailing nextn_predict_layers blocks (multi-token
// prediction) are stored but never run.
#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_glm4moe(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  // Sigmoid gating and normalised weights unless the file says otherwise.
  EMBER_RETURN_IF_ERROR(
      arch_detail::read_moe_routing(file, hp, MoeGating::kSigmoid, true, config));
  return Status::Ok();
}

}  // namespace ember
