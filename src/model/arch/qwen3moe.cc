// qwen3moe: Qwen 3 mixture of experts. Attention as qwen3; every layer's FFN routes each token to
// the expert_used_count best of expert_count experts: softmax over the router logits, top-k, and
// the selected probabilities renormalised to sum to 1 (norm_topk_prob), which equals a softmax
// over the selected experts' logits.
#include "model/arch/arch.h"

namespace ember {

Status configure_qwen3moe(const GgufFile&, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  config.moe_norm_topk = true;
  return Status::Ok();
}

}  // namespace ember
