// Conversion between F32 and every supported tensor type, row by row.
//
// These are the portable scalar reference implementations: dequantization is bit-exact with the
// reference implementation's (see tests/tensor_quant_test.cc), and the SIMD kernels in
// src/kernels/ are tested against them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ember/status.h"
#include "tensor/tensor_type.h"

namespace ember {

// Converts `n` elements stored as `type` at `src` into F32 at `dst`.
// `n` must be a multiple of the type's block size; `src` holds tensor_row_size(type, n) bytes.
// Errors: unsupported type, bad n. Never reads past the given row.
Status dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Converts `n` F32 values at `src` into `type` at `dst` (tensor_row_size(type, n) bytes).
// K-quants refine the reference quantizer's scales toward lower squared error and IQ4 searches its
// scales; neither is plain rounding.
// Errors: unsupported type, bad n, non-finite input values.
Status quantize_row(TensorType type, const float* src, void* dst, int64_t n);

// Quantizes `n_rows` rows of `n_per_row` values each; `dst` receives the rows back to back.
Status quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows,
                     int64_t n_per_row);

// True when quantize_row supports `type` (all types ember can dequantize, except none today).
bool can_quantize(TensorType type);

}  // namespace ember
