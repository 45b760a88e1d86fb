// F32 / F16 / BF16 rows. Elements are copied with memcpy because tensor data need not be
// aligned to the element size.
#include "tensor/quant_float.h"

#include <cstring>

#include "tensor/fp16.h"

namespace ember {
namespace {

uint16_t load_u16(const void* src, int64_t i) {
  uint16_t v;
  std::memcpy(&v, static_cast<const unsigned char*>(src) + 2 * i, sizeof v);
  return v;
}

void store_u16(void* dst, int64_t i, uint16_t v) {
  std::memcpy(static_cast<unsigned char*>(dst) + 2 * i, &v, sizeof v);
}

}  // namespace

void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src, i));
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src, i));
}

void quantize_row_f32(const float* src, void* dst, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_row_f16(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) store_u16(dst, i, fp32_to_fp16(src[i]));
}

void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) store_u16(dst, i, fp32_to_bf16(src[i]));
}

}  // namespace ember
