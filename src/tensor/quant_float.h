// Row conversions between F32 and the plain float types F16 and BF16 (and F32 itself).
// Conversions round to nearest even; F16 overflows to +-inf like a hardware conversion.
#pragma once

#include <cstdint>

namespace ember {

void dequantize_row_f32(const void* src, float* dst, int64_t n);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);

void quantize_row_f32(const float* src, void* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);

}  // namespace ember
