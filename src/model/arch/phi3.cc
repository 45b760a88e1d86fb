// phi3: Phi-3 / Phi-3.5 / Phi-4-mini. One fused attn_qkv projection (rows: q, then k, then v), a
// fused ffn_up holding [gate; up] (SwiGLU over its two halves), NeoX RoPE, and LongRoPE factor
// tensors (rope_factors_long / rope_factors_short, picked by context size). The reference
// disables Phi's sliding window, and so does ember.
#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_phi3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  // Queries are scaled by 1/sqrt(head size) before attention, not the scores.
  config.prescale_q = true;
  const int64_t half = hp.n_rot / 2;
  EMBER_RETURN_IF_ERROR(arch_detail::read_optional_vector(file, "rope_factors_long.weight", half,
                                                          config.rope.freq_factors_long));
  EMBER_RETURN_IF_ERROR(arch_detail::read_optional_vector(file, "rope_factors_short.weight", half,
                                                          config.rope.freq_factors_short));
  if (config.rope.freq_factors_long.empty() != config.rope.freq_factors_short.empty()) {
    return not_found(
        "phi3 model has only one of rope_factors_long.weight and rope_factors_short.weight");
  }
  return Status::Ok();
}

}  // namespace ember
