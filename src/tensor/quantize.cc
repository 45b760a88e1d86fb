// Dispatch from a TensorType to the scalar row converters, with the argument checks the
// converters themselves leave to their callers (block multiple, finite input).
#include "tensor/quantize.h"

#include <cmath>
#include <string>

#include "tensor/quant_float.h"
#include "tensor/quant_iq4.h"
#include "tensor/quant_mxfp4.h"
#include "tensor/quant_k.h"
#include "tensor/quant_legacy.h"

namespace ember {
namespace {

using DequantizeFn = void (*)(const void*, float*, int64_t);
using QuantizeFn = void (*)(const float*, void*, int64_t);

struct RowConverters {
  DequantizeFn dequantize;
  QuantizeFn quantize;
};

// The converters of `type`, or nulls for types ember cannot convert.
RowConverters converters(TensorType type) {
  switch (type) {
    case TensorType::kF32: return {dequantize_row_f32, quantize_row_f32};
    case TensorType::kF16: return {dequantize_row_f16, quantize_row_f16};
    case TensorType::kBF16: return {dequantize_row_bf16, quantize_row_bf16};
    case TensorType::kQ4_0: return {dequantize_row_q4_0, quantize_row_q4_0};
    case TensorType::kQ4_1: return {dequantize_row_q4_1, quantize_row_q4_1};
    case TensorType::kQ5_0: return {dequantize_row_q5_0, quantize_row_q5_0};
    case TensorType::kQ5_1: return {dequantize_row_q5_1, quantize_row_q5_1};
    case TensorType::kQ8_0: return {dequantize_row_q8_0, quantize_row_q8_0};
    case TensorType::kQ8_K: return {dequantize_row_q8_k, quantize_row_q8_k};
    case TensorType::kQ2_K: return {dequantize_row_q2_k, quantize_row_q2_k};
    case TensorType::kQ3_K: return {dequantize_row_q3_k, quantize_row_q3_k};
    case TensorType::kQ4_K: return {dequantize_row_q4_k, quantize_row_q4_k};
    case TensorType::kQ5_K: return {dequantize_row_q5_k, quantize_row_q5_k};
    case TensorType::kQ6_K: return {dequantize_row_q6_k, quantize_row_q6_k};
    case TensorType::kIQ4_NL: return {dequantize_row_iq4_nl, quantize_row_iq4_nl};
    case TensorType::kIQ4_XS: return {dequantize_row_iq4_xs, quantize_row_iq4_xs};
    case TensorType::kMXFP4: return {dequantize_row_mxfp4, quantize_row_mxfp4};
    default: return {nullptr, nullptr};
  }
}

// Checks that `n` is a valid row length for `type` (known type, multiple of the block size).
Status check_row(TensorType type, int64_t n) {
  Result<size_t> size = tensor_row_size(type, n);
  return size.ok() ? Status::Ok() : size.status();
}

}  // namespace

Status dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  EMBER_RETURN_IF_ERROR(check_row(type, n));
  const RowConverters c = converters(type);
  if (c.dequantize == nullptr) {
    return unimplemented("dequantizing " + tensor_type_name(type) + " is not implemented");
  }
  if (n == 0) return Status::Ok();
  if (src == nullptr || dst == nullptr) return invalid_argument("dequantize_row: null buffer");
  c.dequantize(src, dst, n);
  return Status::Ok();
}

Status quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
  EMBER_RETURN_IF_ERROR(check_row(type, n));
  const RowConverters c = converters(type);
  if (c.quantize == nullptr) {
    return unimplemented("quantizing to " + tensor_type_name(type) + " is not implemented");
  }
  if (n == 0) return Status::Ok();
  if (src == nullptr || dst == nullptr) return invalid_argument("quantize_row: null buffer");
  // The block quantizers assume finite input (scales from NaN / inf are meaningless), so reject
  // it here with the position rather than write garbage.
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(src[i])) {
      return invalid_argument("cannot quantize to " + tensor_type_name(type) +
                              ": non-finite value at element " + std::to_string(i));
    }
  }
  c.quantize(src, dst, n);
  return Status::Ok();
}

Status quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows,
                     int64_t n_per_row) {
  if (n_rows < 0) return invalid_argument("quantize_rows: negative row count");
  EMBER_ASSIGN_OR_RETURN(const size_t row_bytes, tensor_row_size(type, n_per_row));
  for (int64_t r = 0; r < n_rows; ++r) {
    Status s = quantize_row(type, src + r * n_per_row,
                            static_cast<unsigned char*>(dst) + static_cast<size_t>(r) * row_bytes,
                            n_per_row);
    if (!s.ok()) return s.with_context("row " + std::to_string(r));
  }
  return Status::Ok();
}

bool can_quantize(TensorType type) { return converters(type).quantize != nullptr; }

}  // namespace ember
