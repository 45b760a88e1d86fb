// smollm3: SmolLM3. Llama layout (usually tied), SwiGLU, normal RoPE, except that every fourth
// layer (il % 4 == 3) uses no positional encoding at all (NoPE).
#include "model/arch/arch.h"

namespace ember {

Status configure_smollm3(const GgufFile&, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNormal, config.rope);
  config.layer_no_rope.assign(static_cast<size_t>(hp.n_layer), 0);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    config.layer_no_rope[static_cast<size_t>(il)] = (il + 1) % 4 == 0 ? 1 : 0;
  }
  return Status::Ok();
}

}  // namespace ember
