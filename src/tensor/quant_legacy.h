// Scalar conversions between F32 and the legacy block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0),
// plus the activation formats Q8_1 and Q8_K.
//
// Every function handles a row of `n` elements; `n` must be a multiple of the format's block size
// (32, or 256 for Q8_K) and callers check that (quantize.cc's dispatch does). `src` / `dst` may
// have any alignment.
//
// Dequantization is bit-exact with the reference implementation: the same float operations in
// the same order, fp16 scales widened exactly.
//
// The weight quantizers (Q4_0 .. Q8_0) start from the reference quantizer's choice and then try
// a small set of other scales (and offsets), keeping whichever gives the least squared error
// after the scales are rounded to fp16. They are therefore never worse than the reference on
// any block, and usually better. Inputs must be finite (the dispatch checks).
//
// The activation quantizers (Q8_1, Q8_K) do plain rounding as the reference does, because they
// run on every matrix product and their exact output is compared with the reference's.
#pragma once

#include <cstdint>

namespace ember {

void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

}  // namespace ember
