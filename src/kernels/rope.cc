#include "kernels/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ember::kernels {
namespace {

// The dimension index at which the rotation count over the original context equals `rotations`
// (YaRN's "correction dimension").
double yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, double rotations, double base) {
  return static_cast<double>(n_dims) *
         std::log(static_cast<double>(n_ctx_orig) / (rotations * 2.0 * std::numbers::pi)) /
         (2.0 * std::log(base));
}

}  // namespace

RopeTable::RopeTable(const RopeParams& p) : n_rot_(p.n_rot), magnitude_(p.magnitude) {
  const int64_t half = p.n_rot / 2;
  inv_freq_.resize(static_cast<size_t>(half));
  double low = 0.0, high = 0.0;
  if (p.yarn) {
    low = std::max(0.0, std::floor(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.yarn_beta_fast, p.freq_base)));
    high = std::min(static_cast<double>(p.n_rot - 1),
                    std::ceil(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.yarn_beta_slow, p.freq_base)));
  }
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(static_cast<double>(p.freq_base),
                        -2.0 * static_cast<double>(i) / static_cast<double>(p.n_rot));
    if (!p.freq_factors.empty()) f /= static_cast<double>(p.freq_factors[static_cast<size_t>(i)]);
    double speed = f * p.freq_scale;
    if (p.yarn) {
      // ramp = 1 for low dimensions (fast rotations, keep extrapolating), 0 for high ones.
      const double y = (static_cast<double>(i) - low) / std::max(0.001, high - low);
      const double ramp = 1.0 - std::min(1.0, std::max(0.0, y));
      speed = f * (p.freq_scale * (1.0 - ramp) + ramp);
    }
    inv_freq_[static_cast<size_t>(i)] = speed;
  }
}

void RopeTable::compute(int64_t pos, float* cos_sin) const {
  const double p = static_cast<double>(pos);
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const double theta = p * inv_freq_[i];
    cos_sin[2 * i] = static_cast<float>(std::cos(theta)) * magnitude_;
    cos_sin[2 * i + 1] = static_cast<float>(std::sin(theta)) * magnitude_;
  }
}

void rope_apply(RopeStyle style, float* x, int64_t n_rot, const float* cos_sin) {
  const int64_t half = n_rot / 2;
  if (style == RopeStyle::kNormal) {
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float x0 = x[2 * i], x1 = x[2 * i + 1];
      x[2 * i] = x0 * c - x1 * s;
      x[2 * i + 1] = x0 * s + x1 * c;
    }
  } else {
    for (int64_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float x0 = x[i], x1 = x[i + half];
      x[i] = x0 * c - x1 * s;
      x[i + half] = x0 * s + x1 * c;
    }
  }
}

}  // namespace ember::kernels
