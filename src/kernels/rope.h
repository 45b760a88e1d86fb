// Rotary position embedding (RoPE) with linear, YaRN and per-dimension frequency-factor scaling.
//
// For pair i of the first n_rot dimensions of a head (i in [0, n_rot/2)), position p rotates by
//   theta_extrap = p * base^(-2i/n_rot) / freq_factor[i]
//   theta        = freq_scale * theta_extrap                      (plain / linear scaling)
//   YaRN mixes the interpolated and the extrapolated angle per dimension with a ramp between the
//   "correction dimensions" of beta_fast and beta_slow rotations over the original context, and
//   scales cos/sin by `magnitude` (attention temperature).
// Normal style rotates (x[2i], x[2i+1]); NeoX style rotates (x[i], x[i + n_rot/2]). Dimensions
// beyond n_rot pass through unchanged.
#pragma once

#include <cstdint>
#include <vector>

namespace ember::kernels {

enum class RopeStyle : uint8_t { kNormal, kNeox };

struct RopeParams {
  int64_t n_rot = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;      // 1 / linear scaling factor
  bool yarn = false;            // YaRN ramp between interpolation and extrapolation
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;
  int64_t n_ctx_orig = 0;       // original training context (YaRN correction dimensions)
  float magnitude = 1.0f;       // multiplies cos and sin (YaRN attention factor)
  std::vector<float> freq_factors;  // n_rot/2 divisors of the base frequencies, or empty
};

// Per-dimension constants of one RoPE configuration, precomputed once.
class RopeTable {
 public:
  RopeTable() = default;
  explicit RopeTable(const RopeParams& params);

  int64_t n_rot() const { return n_rot_; }
  // cos_sin[2i] = cos(theta_i(pos)) * magnitude, cos_sin[2i+1] = sin(...) for i < n_rot/2.
  void compute(int64_t pos, float* cos_sin) const;

 private:
  int64_t n_rot_ = 0;
  float magnitude_ = 1.0f;
  std::vector<double> inv_freq_;  // angular speed of pair i (radians per position)
};

// Rotates one head of `head_dim` values in place with a table row from RopeTable::compute.
void rope_apply(RopeStyle style, float* x, int64_t n_rot, const float* cos_sin);

}  // namespace ember::kernels
