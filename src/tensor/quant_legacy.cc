// Dequantization of the legacy block formats and Q8_1 / Q8_K, and the activation quantizers
// (Q8_1, Q8_K), which follow the reference rounding exactly. The searching weight quantizers are
// in quant_legacy_quantize.cc.
#include "tensor/quant_legacy.h"

#include <cmath>
#include <cstring>

#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"
#include "tensor/quant_util.h"

namespace ember {
namespace {

// The 32-bit word of fifth bits of a Q5 block (stored little-endian, as 4 bytes).
uint32_t load_qh(const uint8_t qh[4]) {
  return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
         (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

}  // namespace

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK4_0;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ4_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK4_0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 0x0f) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

// Affine formats compute q * d + m as a product rounded to float, then a sum rounded to float:
// that is the reference's order, and the quantizer's error evaluation uses the same expression.
void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK4_1;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ4_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    float* y = dst + i * kQK4_1;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0x0f) * d + m;
      y[j + kQK4_1 / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK5_0;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ5_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    const uint32_t qh = load_qh(b.qh);
    float* y = dst + i * kQK5_0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int hi1 = static_cast<int>((qh >> (j + kQK5_0 / 2)) & 1u) << 4;
      y[j] = static_cast<float>(((b.qs[j] & 0x0f) | hi0) - 16) * d;
      y[j + kQK5_0 / 2] = static_cast<float>(((b.qs[j] >> 4) | hi1) - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK5_1;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ5_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    const float m = fp16_to_fp32(b.m);
    const uint32_t qh = load_qh(b.qh);
    float* y = dst + i * kQK5_1;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int hi0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int hi1 = static_cast<int>((qh >> (j + kQK5_1 / 2)) & 1u) << 4;
      y[j] = static_cast<float>((b.qs[j] & 0x0f) | hi0) * d + m;
      y[j + kQK5_1 / 2] = static_cast<float>((b.qs[j] >> 4) | hi1) * d + m;
    }
  }
}

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ8_0>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK8_0;
    for (int j = 0; j < kQK8_0; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void dequantize_row_q8_1(const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK8_1;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ8_1>(src, i);
    const float d = fp16_to_fp32(b.d);
    float* y = dst + i * kQK8_1;
    for (int j = 0; j < kQK8_1; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = load_block<BlockQ8_K>(src, i);
    float* y = dst + i * kQK_K;
    for (int j = 0; j < kQK_K; ++j) y[j] = b.d * static_cast<float>(b.qs[j]);
  }
}

// Q8_1: scale from the block's largest magnitude so that it maps to 127, round half away from
// zero (std::round), and store d * sum(q) for the offset term of Q4_1 / Q5_1 dot products.
void quantize_row_q8_1(const float* src, void* dst, int64_t n) {
  const int64_t nb = n / kQK8_1;
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK8_1;
    float amax = 0.0f;
    for (int j = 0; j < kQK8_1; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_1 b;
    b.d = scale_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) {
      const float v = std::round(x[j] * id);
      b.qs[j] = static_cast<int8_t>(v);
      sum += b.qs[j];
    }
    b.s = scale_to_fp16(static_cast<float>(sum) * d);
    store_block(dst, i, b);
  }
}

// Q8_K: the scale maps the value of largest magnitude to -127 exactly (so codes stay within
// [-127, 127] and never need the asymmetric -128), rounding is to nearest even, and d is stored
// as the exact float reciprocal of the scale the codes were computed with. Group sums of 16
// codes are precomputed for the K-quant dot products.
void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    BlockQ8_K b;
    if (amax == 0.0f) {
      std::memset(&b, 0, sizeof b);
      store_block(dst, i, b);
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      // |iscale * x| <= 127 (plus rounding), well inside nearest_int's range.
      const int v = nearest_int(iscale * x[j]);
      b.qs[j] = static_cast<int8_t>(v > 127 ? 127 : (v < -127 ? -127 : v));
    }
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b.qs[g * 16 + j];
      b.bsums[g] = static_cast<int16_t>(sum);
    }
    b.d = 1.0f / iscale;
    store_block(dst, i, b);
  }
}

}  // namespace ember
