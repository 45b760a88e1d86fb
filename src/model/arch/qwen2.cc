// qwen2: Qwen 1.5/2/2.5. Like llama with NeoX-style RoPE and biases on the Q, K and V
// projections (the tensor layout adds attn_{q,k,v}.bias).
#include "model/arch/arch.h"

namespace ember {

Status configure_qwen2(const GgufFile&, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  return Status::Ok();
}

}  // namespace ember
