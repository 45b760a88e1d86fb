// Encoders: bert (BGE, MiniLM, E5, GTE, Arctic-embed, bge-reranker) and nomic-bert
// (nomic-embed-text). Both attend bidirectionally within a sequence and normalize after each
// block (x = LN(x + attn(x)); x = LN(x + ffn(x))) with LayerNorm weight and bias. bert adds
// learned absolute positions and uses GELU on ffn_up; nomic-bert rotates each whole head with
// NEOX-style RoPE and uses SwiGLU. The forward pass is runtime/encoder.cc.
#include "model/arch/arch.h"

namespace ember {

Status configure_bert(const GgufFile& /*file*/, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kGelu;
  // No rotation; the settings stay valid for the (unused) tables.
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNormal, config.rope);
  return Status::Ok();
}

Status configure_nomic_bert(const GgufFile& /*file*/, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  return Status::Ok();
}

}  // namespace ember
