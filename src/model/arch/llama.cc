// llama: Llama 2/3/3.x, Mistral, SmolLM and their mixture-of-experts variants (Mixtral-style
// ffn_*_exps tensors). Normal (interleaved-pair) RoPE, SwiGLU, optional rope_freqs.weight with
// Llama 3.x's per-dimension frequency divisors.
#include <cmath>

#include "gguf/gguf.h"
#include "model/arch/arch.h"

namespace ember {
namespace {

// Llama 3.1 "llama3" RoPE scaling, for files that name the type instead of shipping
// rope_freqs.weight: wavelengths beyond orig_ctx / low_freq_factor are divided by `factor`,
// those below orig_ctx / high_freq_factor are kept, and the band between is interpolated.
std::vector<float> llama3_freq_factors(const ModelHParams& hp, float low_freq_factor,
                                       float high_freq_factor) {
  const int64_t half = hp.n_rot / 2;
  const double orig =
      static_cast<double>(hp.rope_scaling_orig_ctx > 0 ? hp.rope_scaling_orig_ctx : 8192);
  const double factor = hp.rope_scaling_factor;
  const double low_wavelen = orig / low_freq_factor;
  const double high_wavelen = orig / high_freq_factor;
  std::vector<float> out(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const double freq = std::pow(static_cast<double>(hp.rope_freq_base),
                                 -2.0 * static_cast<double>(i) / static_cast<double>(hp.n_rot));
    const double wavelen = 2.0 * 3.14159265358979323846 / freq;
    double divisor = 1.0;
    if (wavelen > low_wavelen) {
      divisor = factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth =
          (orig / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      divisor = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    out[static_cast<size_t>(i)] = static_cast<float>(divisor);
  }
  return out;
}

}  // namespace

Status configure_llama(const GgufFile& file, const ModelHParams& hp, ArchConfig& config) {
  config.ffn_act = FfnActivation::kSilu;
  arch_detail::set_common_rope(hp, kernels::RopeStyle::kNormal, config.rope);
  EMBER_RETURN_IF_ERROR(arch_detail::read_optional_vector(file, "rope_freqs.weight", hp.n_rot / 2,
                                                          config.rope.freq_factors));
  if (hp.rope_scaling == RopeScalingType::kLlama3) {
    // The divisors replace the plain linear scale.
    config.rope.freq_scale = 1.0f;
    if (config.rope.freq_factors.empty()) {
      float low = 1.0f, high = 4.0f;
      const std::string prefix = "llama.rope.scaling.";
      if (const GgufValue* v = file.find(prefix + "low_freq_factor"); v != nullptr) {
        EMBER_ASSIGN_OR_RETURN(const double d, v->as_float());
        low = static_cast<float>(d);
      }
      if (const GgufValue* v = file.find(prefix + "high_freq_factor"); v != nullptr) {
        EMBER_ASSIGN_OR_RETURN(const double d, v->as_float());
        high = static_cast<float>(d);
      }
      if (!(high > low) || !(low > 0.0f)) {
        return invalid_argument("llama3 RoPE scaling needs 0 < low_freq_factor < high_freq_factor");
      }
      config.rope.freq_factors = llama3_freq_factors(hp, low, high);
    }
  }
  config.moe_norm_topk = true;
  // Sliding windows of Mistral-style files are not applied by the reference for this
  // architecture either; attention is full.
  return Status::Ok();
}

}  // namespace ember
