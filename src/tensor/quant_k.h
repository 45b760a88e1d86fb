// Scalar conversion between F32 rows and the K-quant formats Q2_K..Q6_K.
//
// `n` is the number of elements in the row and must be a multiple of 256 (the caller, normally
// quantize.cc's dispatch, validates it). `src`/`dst` of the quantized side hold
// n / 256 blocks of the layouts in blocks_k.h.
//
// Dequantization is bit-exact with llama.cpp's reference (same float operation order).
// Quantization starts from the reference quantizer's choices and refits the scales by least
// squares, keeping a refit only where it lowers the block's error: never worse than llama.cpp's
// reference quantizer on any block.
#pragma once

#include <cstdint>

namespace ember {

void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);

void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);

}  // namespace ember
