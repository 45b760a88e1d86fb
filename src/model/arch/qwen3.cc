// qwen3: Qwen 3 dense models. NeoX RoPE, RMS norms over each query and key head before RoPE
// (attn_q_norm / attn_k_norm), head size from attention.key_length (128 while n_embd / n_head
// may differ).
#include "model/arch/arch.h"

namespace ember {

Status configure_qwen3(const GgufFile&, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  return Status::Ok();
}

}  // namespace ember
