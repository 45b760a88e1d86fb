// Small numeric helpers shared by the quantizers.
#pragma once

#include <cstdint>
#include <cstring>

#include "tensor/fp16.h"

namespace ember {

// Rounds to the nearest integer, ties to even, independent of the FPU rounding mode.
// Valid for |v| < 2^22: adding 1.5 * 2^23 puts v's integer part in the low mantissa bits (the
// addition itself rounds to nearest even), which are then read back as an integer.
inline int nearest_int(float v) {
  const float shifted = v + 12582912.0f;  // 1.5 * 2^23
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

// Largest finite half value. Scales of blocks whose values are too large for an fp16 scale are
// clamped to it: the block then saturates instead of turning into inf / NaN.
inline constexpr float kFp16Max = 65504.0f;

// fp16 bits of a scale, clamped to the finite half range; NaN (a degenerate fit on extreme
// input) becomes 0 so a block never dequantizes to NaN.
inline uint16_t scale_to_fp16(float d) {
  if (d != d) return 0;
  if (d > kFp16Max) d = kFp16Max;
  if (d < -kFp16Max) d = -kFp16Max;
  return fp32_to_fp16(d);
}

inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Clamps a float to [lo, hi] before nearest_int so huge ratios stay inside its valid range.
inline int round_clamped(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;  // also catches NaN
  if (v > static_cast<float>(hi)) return hi;
  return clamp_int(nearest_int(v), lo, hi);
}

}  // namespace ember
