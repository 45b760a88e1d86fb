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
  config.moe_gating = MoeGating::kSigmoid;
  config.moe_norm_topk = true;
  const std::string prefix = std::string(architecture_traits(hp.arch).name) + ".";
  if (const GgufValue* v = file.find(prefix + "expert_weights_norm"); v != nullptr) {
    Result<bool> b = v->as_bool();
    if (!b.ok()) return b.status().with_context(prefix + "expert_weights_norm");
    config.moe_norm_topk = *b;
  }
  EMBER_RETURN_IF_ERROR(
      arch_detail::read_arch_float(file, hp, "expert_weights_scale", config.moe_weights_scale));
  if (config.moe_weights_scale == 0.0f) config.moe_weights_scale = 1.0f;
  if (const GgufValue* v = file.find(prefix + "expert_gating_func"); v != nullptr) {
    Result<uint64_t> g = v->as_uint();
    if (!g.ok()) return g.status().with_context(prefix + "expert_gating_func");
    // 1 = softmax, 2 = sigmoid (0 = unset: sigmoid, as the reference defaults for this family).
    if (*g == 1) config.moe_gating = MoeGating::kSoftmax;
    else if (*g != 0 && *g != 2) {
      return unimplemented(prefix + "expert_gating_func = " + std::to_string(*g) +
                           " is not supported");
    }
  }
  return Status::Ok();
}

}  // namespace ember
