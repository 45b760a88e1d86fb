// IEEE half precision and bfloat16 <-> float conversions (scalar, exact, no lookup tables).
#pragma once

#include <cstdint>
#include <cstring>

namespace ember {

inline float fp32_from_bits(uint32_t w) {
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}
inline uint32_t fp32_to_bits(float f) {
  uint32_t w;
  std::memcpy(&w, &f, sizeof w);
  return w;
}

// Half -> float is exact for every half value (including subnormals, inf and NaN).
inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return fp32_from_bits(sign | 0x7f800000u | (mant << 13));  // inf / NaN
  if (exp == 0) {
    if (mant == 0) return fp32_from_bits(sign);  // signed zero
    // Subnormal: value = mant * 2^-24, exactly representable in float.
    float v = static_cast<float>(mant) * fp32_from_bits(0x33800000u);  // 2^-24
    return sign ? -v : v;
  }
  return fp32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Float -> half with round-to-nearest-even, overflow to inf, NaN kept NaN.
inline uint16_t fp32_to_fp16(float f) {
  const uint32_t x = fp32_to_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): value / 2^-24 rounded to nearest even integer.
    // Adding 0.5f (2^-1) aligns the mantissa so the FPU does the rounding.
    const float a = fp32_from_bits(abs);
    const float r = a * fp32_from_bits(0x4b800000u) /* 2^24 */;
    // r < 1024; nearbyint semantics via the magic-number trick (round to nearest even).
    const float magic = 8388608.0f;  // 2^23
    const uint32_t m = static_cast<uint32_t>((r + magic) - magic);
    return static_cast<uint16_t>(sign | m);
  }
  // Normal: rebias exponent and round the 13 dropped mantissa bits to nearest even.
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float bf16_to_fp32(uint16_t b) { return fp32_from_bits(static_cast<uint32_t>(b) << 16); }

// Float -> bfloat16 with round-to-nearest-even; NaN stays NaN (quiet).
inline uint16_t fp32_to_bf16(float f) {
  const uint32_t x = fp32_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace ember
