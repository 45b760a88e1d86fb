// Scalar conversions between F32 and the non-linear 4-bit formats IQ4_NL (blocks of 32) and
// IQ4_XS (super-blocks of 256). `n` must be a multiple of the block size (callers check).
//
// Dequantization is bit-exact with the reference implementation. The quantizers minimise the
// plain squared error of the dequantized row: each block's result is the better of the
// reference algorithm's choice and a search over scales that accounts for the fp16 (and, for
// IQ4_XS, 6-bit) rounding of the scales, so they are never worse than the reference per block.
#pragma once

#include <cstdint>

namespace ember {

void dequantize_row_iq4_nl(const void* src, float* dst, int64_t n);
void dequantize_row_iq4_xs(const void* src, float* dst, int64_t n);

void quantize_row_iq4_nl(const float* src, void* dst, int64_t n);
void quantize_row_iq4_xs(const float* src, void* dst, int64_t n);

}  // namespace ember
