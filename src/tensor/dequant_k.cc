// K-quant dequantization (Q2_K..Q6_K), scalar.
//
// Bit-exactness with the reference matters (tests compare with memcmp), so each value is
// computed with the reference's float operation order: first the sub-block factor
// (super-scale * integer sub-scale, one float multiply), then factor * quant, then minus the
// min term. The integer parts are converted to float exactly, so only those roundings occur.
#include <cstring>

#include "tensor/blocks_k.h"
#include "tensor/fp16.h"
#include "tensor/k_scales.h"
#include "tensor/quant_k.h"

namespace ember {

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ2K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    const float dmin = fp16_to_fp32(blk.dmin);
    float* y = dst + b * kQK_K;
    // Element e = 128h + 32k + 16s + l sits in qs[32h + 16s + l] at bit 2k; its sub-block is
    // e / 16 = 8h + 2k + s.
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, k = (e / 32) % 4, s = (e / 16) % 2, l = e % 16;
      const uint8_t sc = blk.scales[e / 16];
      const float dl = d * static_cast<float>(sc & 0xF);
      const float ml = dmin * static_cast<float>(sc >> 4);
      const int q = (blk.qs[32 * h + 16 * s + l] >> (2 * k)) & 3;
      y[e] = dl * static_cast<float>(q) - ml;
    }
  }
}

void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ3K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ3K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    int8_t scales[16];
    kquant::unpack_scales_q3k(blk.scales, scales);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, k = (e / 32) % 4, l = e % 32;
      const float dl = d * static_cast<float>(scales[e / 16]);
      const int low = (blk.qs[32 * h + l] >> (2 * k)) & 3;
      // The high bit plane index is e / 32 (0..7); a clear bit means "subtract 4".
      const int high = (blk.hmask[l] >> (e / 32)) & 1;
      y[e] = dl * static_cast<float>(low - (high ? 0 : 4));
    }
  }
}

// Shared by Q4_K and Q5_K: `qh` is null for Q4_K (no fifth bit).
static void dequantize_q45(const uint16_t d16, const uint16_t dmin16, const uint8_t* scales,
                           const uint8_t* qs, const uint8_t* qh, float* y) {
  const float d = fp16_to_fp32(d16);
  const float dmin = fp16_to_fp32(dmin16);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    kquant::unpack_scale_min_k4(j, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    const int c = j / 2;  // 64-element chunk; even sub-blocks use low nibbles, odd high ones
    const int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) {
      int q = (qs[32 * c + l] >> shift) & 0xF;
      if (qh != nullptr && ((qh[l] >> j) & 1)) q += 16;
      y[32 * j + l] = d1 * static_cast<float>(q) - m1;
    }
  }
}

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ4K& blk = blocks[b];
    dequantize_q45(blk.d, blk.dmin, blk.scales, blk.qs, nullptr, dst + b * kQK_K);
  }
}

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ5K& blk = blocks[b];
    dequantize_q45(blk.d, blk.dmin, blk.scales, blk.qs, blk.qh, dst + b * kQK_K);
  }
}

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6K*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const BlockQ6K& blk = blocks[b];
    const float d = fp16_to_fp32(blk.d);
    float* y = dst + b * kQK_K;
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, k = (e / 32) % 4, l = e % 32;
      // k = 0,1 use low nibbles of ql[64h + 32k + l]; k = 2,3 the high nibbles of the same bytes.
      const int low = (blk.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
      const int high = (blk.qh[32 * h + l] >> (2 * k)) & 3;
      const int q = (low | (high << 4)) - 32;
      y[e] = d * static_cast<float>(blk.scales[e / 16]) * static_cast<float>(q);
    }
  }
}

}  // namespace ember
