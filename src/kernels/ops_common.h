// Pieces shared by every variant of kernels/ops.h. Defined in baseline translation units
// (ops.cc), so the per-ISA files only take their addresses.
//
// Note for the per-ISA files (src/kernels/x86/): they must not call ember's inline helpers from
// shared headers (fp16.h, load_block, ...). The linker keeps one copy of an inline function, and
// it could be the one compiled with AVX-512 flags, used from baseline code on an older CPU.
#pragma once

#include <cstdint>

namespace ember::kernels {

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))).
inline constexpr float kGeluCoefA = 0.044715f;
inline constexpr float kGeluSqrt2OverPi = 0.79788456080286535587989211986876f;

// Plain round-to-nearest Q8_0 (scale = max|x| / 127), as the reference stores a Q8_0 cache row.
// Every Isa shares it, so cache contents never depend on the Isa.
void store_q8_0_plain(const float* x, void* row, int64_t n);

// 65536 floats: for each half-precision bit pattern h, gelu(float(h)) rounded to half precision
// and widened back (the reference's lookup table). Built on first use, immutable afterwards.
const float* gelu_half_table();

// The exp() the vector kernels use, one lane at a time (bit-identical to the vector versions):
// x = n ln2 + b with n = round(x / ln2), exp(b) by a degree-5 polynomial, times 2^n.
// Accurate to about 1.5 ulp; below about -104 it returns 0, above 88.7 +inf.
float vexp_lane(float x);

// Coefficients of vexp: ln2 split in two, and the polynomial for exp(b), b in [-ln2/2, ln2/2]
// (a minimax fit, as in Arm's optimized-routines expf).
inline constexpr float kExpShift = 0x1.8p23f;  // rounds x / ln2 to an integer when added
inline constexpr float kExpLog2e = 0x1.715476p+0f;
inline constexpr float kExpLn2Hi = 0x1.62e4p-1f;
inline constexpr float kExpLn2Lo = 0x1.7f7d1cp-20f;
inline constexpr float kExpC0 = 0x1.0e4020p-7f;
inline constexpr float kExpC1 = 0x1.573e2ep-5f;
inline constexpr float kExpC2 = 0x1.555e66p-3f;
inline constexpr float kExpC3 = 0x1.fffdb6p-2f;
inline constexpr float kExpC4 = 0x1.ffffecp-1f;

}  // namespace ember::kernels
