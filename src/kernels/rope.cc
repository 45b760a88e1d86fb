#include "kernels/rope.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace ember::kernels {
namespace {

constexpr float kPi = 3.14159265358979323846f;

// The dimension at which `rotations` full turns fit in the original context (YaRN).
float corr_dim(int64_t n_dims, int64_t n_ctx_orig, float rotations, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(n_ctx_orig) / (rotations * 2.0f * kPi)) /
         (2.0f * std::log(base));
}

}  // namespace

RopeTable::RopeTable(RopeParams params) : p_(std::move(params)) {
  theta_scale_ = std::pow(p_.freq_base, -2.0f / static_cast<float>(p_.n_rot));
  if (p_.ext_factor != 0.0f) {
    const float start = std::floor(corr_dim(p_.n_rot, p_.n_ctx_orig, p_.beta_fast, p_.freq_base));
    const float end = std::ceil(corr_dim(p_.n_rot, p_.n_ctx_orig, p_.beta_slow, p_.freq_base));
    corr_low_ = std::max(0.0f, start);
    corr_high_ = std::min(static_cast<float>(p_.n_rot - 1), end);
  }
}

void RopeTable::compute(int64_t pos, float* cos_sin) const {
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < p_.n_rot / 2; ++i) {
    const float ff = p_.freq_factors.empty() ? 1.0f : p_.freq_factors[static_cast<size_t>(i)];
    const float theta_extrap = theta / ff;
    const float theta_interp = p_.freq_scale * theta_extrap;
    float th = theta_interp;
    float mscale = p_.attn_factor;
    if (p_.ext_factor != 0.0f) {
      // ramp = 1 for low dimensions (fast rotations keep extrapolating), 0 for high ones.
      const float y =
          (static_cast<float>(i) - corr_low_) / std::max(0.001f, corr_high_ - corr_low_);
      const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p_.ext_factor;
      th = theta_interp * (1.0f - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / p_.freq_scale);
    }
    cos_sin[2 * i] = std::cos(th) * mscale;
    cos_sin[2 * i + 1] = std::sin(th) * mscale;
    theta *= theta_scale_;
  }
}

// The rotated pair as the reference's build computes it: the difference unfused, the sum with
// its first product fused (x0 * sin + x1 * cos as fma(x0, sin, x1 * cos)). Measured, not
// derived: of the nine combinations tried (each output plain or with one of its two products
// fused) none does better on the golden models; this one keeps every model that matched the
// reference bit for bit matching and makes three more match (docs/inference.md, "Numerics").
void rope_apply(RopeStyle style, float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t half = n_rot / 2;
  if (style == RopeStyle::kNormal) {
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = x0 * c - x1 * s;
      x[2 * i + 1] = std::fma(x0, s, x1 * c);
    }
  } else {
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float x0 = x[i], x1 = x[i + half];
      x[i] = x0 * c - x1 * s;
      x[i + half] = std::fma(x0, s, x1 * c);
    }
  }
}

}  // namespace ember::kernels
