// Constants and helpers shared by every variant of kernels/ops.h.
#pragma once

#include <cstdint>

namespace ember::kernels {

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
inline constexpr float kGeluCoefA = 0.044715f;
inline constexpr float kGeluSqrt2OverPi = 0.79788456080286535587989211986876f;

// Plain round-to-nearest Q8_0 (scale = max|x| / 127), as the reference stores a Q8_0 cache row.
// Storing is cheap next to attention, so every Isa shares this one (defined in ops.cc, a baseline
// translation unit) and cache contents never depend on the Isa.
void store_q8_0_plain(const float* x, void* row, int64_t n);

// Note for the per-ISA files (src/kernels/x86/): they must not call ember's inline helpers from
// shared headers (fp16.h, load_block, ...). The linker keeps one copy of an inline function, and
// it could be the one compiled with AVX-512 flags, used from baseline code on an older CPU.

}  // namespace ember::kernels
