// gemma3: Gemma 3 (text). Like gemma2 without soft-capping, plus RMS norms over each query and
// key head; five sliding-window layers then one global layer (pattern 6, or
// attention.sliding_window_pattern), the local layers with their own RoPE base (10000 unless
// rope.freq_base_swa says otherwise) and no RoPE scaling.
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {

Status configure_gemma3(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kGeluTanh;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNeox, config.rope);
  const bool has_swa_base = file.find("gemma3.rope.freq_base_swa") != nullptr ||
                            file.find("gemma3.rope.local_freq_base") != nullptr;
  config.rope.freq_base_swa = has_swa_base ? hp.rope_freq_base_swa : 10000.0f;
  config.rope.freq_scale_swa = 1.0f;
  config.embed_scale = std::sqrt(static_cast<float>(hp.n_embd));
  const bool is_27b = hp.n_layer == 62;
  config.prescale_q = true;  // the query is scaled, in F32, before attention
  config.attn_scale = is_27b ? 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head))
                             : 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k));
  config.sliding_window = hp.sliding_window;
  if (config.sliding_window > 0) {
    const int64_t pattern = hp.sliding_window_pattern > 0 ? hp.sliding_window_pattern : 6;
    arch_detail::set_sliding_pattern(hp.n_layer, pattern, config.layer_sliding);
  }
  return Status::Ok();
}

}  // namespace ember
