// Rotary position embedding (RoPE) with linear, YaRN and per-dimension frequency-factor scaling,
// computed the way the reference implementation computes it (single precision, the angle of pair
// i obtained by repeated multiplication by base^(-2/n_rot)): RoPE feeds quantized products, where
// last-bit differences matter (see kernels/ops.h).
//
// For pair i of the first n_rot dimensions of a head, position p rotates by
//   theta_extrap = p * base^(-2i/n_rot) / freq_factor[i]
//   theta        = freq_scale * theta_extrap                   (plain / linear scaling)
//   YaRN (ext_factor != 0) mixes the interpolated and the extrapolated angle per dimension with a
//   ramp between the "correction dimensions" of beta_fast and beta_slow rotations over the
//   original context, and scales cos/sin by 1 + 0.1 ln(1 / freq_scale).
// cos and sin are multiplied by attn_factor in every case. Normal style rotates (x[2i], x[2i+1]);
// NeoX style rotates (x[i], x[i + n_rot/2]). Dimensions beyond n_rot pass through unchanged.
#pragma once

#include <cstdint>
#include <vector>

namespace ember::kernels {

enum class RopeStyle : uint8_t { kNormal, kNeox };

struct RopeParams {
  int64_t n_rot = 0;
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;  // 1 / linear scaling factor
  float ext_factor = 0.0f;  // 1 for YaRN
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int64_t n_ctx_orig = 0;           // original training context (YaRN correction dimensions)
  std::vector<float> freq_factors;  // n_rot/2 divisors of the base frequencies, or empty
};

class RopeTable {
 public:
  RopeTable() = default;
  explicit RopeTable(RopeParams params);

  int64_t n_rot() const { return p_.n_rot; }
  // cos_sin[2i] = cos(theta_i(pos)) * mscale, cos_sin[2i+1] = sin(...) for i < n_rot/2.
  void compute(int64_t pos, float* cos_sin) const;

 private:
  RopeParams p_;
  float theta_scale_ = 1.0f;
  float corr_low_ = 0.0f;
  float corr_high_ = 0.0f;
};

// Rotates one head in place with a table row from RopeTable::compute.
void rope_apply(RopeStyle style, float* x, int64_t n_rot, const float* cos_sin);

}  // namespace ember::kernels
