// The reference numerics mode's products (WeightForm::kReferenceOrder, matmul_internal.h): the
// scalar definitions of the reference implementation's summation orders for Q8_0, MXFP4, Q5_0,
// Q5_1, Q4_K, Q5_K and Q6_K weights, and the dispatch to the x86 kernels that compute the same
// bits.
#include <cmath>
#include <cstring>

#include "kernels/act_layout.h"
#include "kernels/matmul_internal.h"
#include "tensor/blocks_k.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"
#include "tensor/k_scales.h"
#include "tensor/quant_mxfp4.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/x86/kernels_x86.h"
#endif

namespace ember::kernels {

bool reference_order_supported(TensorType type) {
  return type == TensorType::kQ8_0 || type == TensorType::kMXFP4 || type == TensorType::kQ5_0 ||
         type == TensorType::kQ5_1 || type == TensorType::kQ4_K || type == TensorType::kQ5_K ||
         type == TensorType::kQ6_K;
}

bool reference_order_supported(TensorType type, int64_t rows) {
  // The reference repacks Q4_K matrices (8 rows interleaved) only when their row count is a
  // multiple of 8; others go through its vector dot product, whose order is not implemented.
  if (type == TensorType::kQ4_K) return rows % 8 == 0;
  return reference_order_supported(type);
}

float q8_0_reduce8(const float* a) {
  const float t0 = a[0] + a[4], t1 = a[1] + a[5], t2 = a[2] + a[6], t3 = a[3] + a[7];
  return (t0 + t2) + (t1 + t3);
}

float q8_0_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < n_blocks; ++b) {
    const auto blk = load_block<BlockQ8_0>(w, b);
    const int8_t* x = q + b * kQK8_0;
    float db;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    const float s = fp16_to_fp32(blk.d) * db;
    for (int l = 0; l < 8; ++l) {
      int32_t sum = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) sum += static_cast<int32_t>(blk.qs[k]) * x[k];
      acc[l] = std::fma(s, static_cast<float>(sum), acc[l]);
    }
  }
  return q8_0_reduce8(acc);
}

float q5_0_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < n_blocks; ++b) {
    const auto blk = load_block<BlockQ5_0>(w, b);
    uint32_t qh;
    std::memcpy(&qh, blk.qh, 4);
    const int8_t* x = q + b * kQK5_0;
    float db;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    const float s = fp16_to_fp32(blk.d) * db;
    for (int l = 0; l < 8; ++l) {
      int32_t sum = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) {
        const int nib = k < 16 ? (blk.qs[k] & 0xF) : (blk.qs[k - 16] >> 4);
        const int code = nib | static_cast<int>(((qh >> k) & 1u) << 4);
        sum += (code - 16) * x[k];
      }
      acc[l] = std::fma(s, static_cast<float>(sum), acc[l]);
    }
  }
  return q8_0_reduce8(acc);
}

float q5_1_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, const uint8_t* s,
                     int64_t n_blocks) {
  float acc[8] = {};
  float summs = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const auto blk = load_block<BlockQ5_1>(w, b);
    uint32_t qh;
    std::memcpy(&qh, blk.qh, 4);
    const int8_t* x = q + b * kQK5_1;
    float db, sb;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    std::memcpy(&sb, s + 4 * static_cast<size_t>(b), 4);
    summs = std::fma(fp16_to_fp32(blk.m), sb, summs);
    const float scale = fp16_to_fp32(blk.d) * db;
    for (int l = 0; l < 8; ++l) {
      int32_t sum = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) {
        const int nib = k < 16 ? (blk.qs[k] & 0xF) : (blk.qs[k - 16] >> 4);
        sum += (nib | static_cast<int>(((qh >> k) & 1u) << 4)) * x[k];
      }
      acc[l] = std::fma(scale, static_cast<float>(sum), acc[l]);
    }
  }
  return q8_0_reduce8(acc) + summs;
}

float q5_k_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, const uint8_t* bsum32,
                     int64_t n_blocks) {
  float acc[8] = {};
  float summs = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const auto blk = load_block<BlockQ5K>(w, b);
    const int8_t* x = q + b * kQK_K;
    int16_t bs[8];
    std::memcpy(bs, bsum32 + 16 * static_cast<size_t>(b), sizeof bs);
    int32_t sum[8] = {}, imin = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      kquant::unpack_scale_min_k4(j, blk.scales, &sc, &m);
      imin += m * bs[j];
      for (int l = 0; l < 32; ++l) {
        const int low = (blk.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF;
        const int code = low | (((blk.qh[l] >> j) & 1) << 4);
        sum[l / 4] += sc * (code * x[32 * j + l]);
      }
    }
    float db;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    summs = std::fma(-(db * fp16_to_fp32(blk.dmin)), static_cast<float>(imin), summs);
    const float scale = db * fp16_to_fp32(blk.d);
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(scale, static_cast<float>(sum[l]), acc[l]);
  }
  return q8_0_reduce8(acc) + summs;
}

float q4_k_dot_repacked(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks) {
  float acc = 0.0f, acc_min = 0.0f;
  for (int64_t b = 0; b < n_blocks; ++b) {
    const auto blk = load_block<BlockQ4K>(w, b);
    const int8_t* x = q + b * kQK_K;
    int32_t isc = 0, imin = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      kquant::unpack_scale_min_k4(j, blk.scales, &sc, &m);
      const int c = j / 2, shift = 4 * (j % 2);
      int32_t isum = 0, xsum = 0;
      for (int l = 0; l < 32; ++l) {
        isum += ((blk.qs[32 * c + l] >> shift) & 0xF) * x[32 * j + l];
        xsum += x[32 * j + l];
      }
      isc += sc * isum;
      imin += m * xsum;
    }
    float db;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    acc = std::fma(static_cast<float>(isc), fp16_to_fp32(blk.d) * db, acc);
    acc_min = std::fma(static_cast<float>(imin), fp16_to_fp32(blk.dmin) * db, acc_min);
  }
  return acc - acc_min;
}

float q6_k_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks) {
  float acc[8] = {};
  for (int64_t b = 0; b < n_blocks; ++b) {
    const auto blk = load_block<BlockQ6K>(w, b);
    const int8_t* x = q + b * kQK_K;
    int32_t sum[8] = {};
    for (int e = 0; e < kQK_K; ++e) {
      const int h = e / 128, k = (e / 32) % 4, l = e % 32;
      const int low = (blk.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
      const int high = (blk.qh[32 * h + l] >> (2 * k)) & 3;
      sum[(e % 32) / 4] += blk.scales[e / 16] * (((low | (high << 4)) - 32) * x[e]);
    }
    float db;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    const float s = fp16_to_fp32(blk.d) * db;
    for (int l = 0; l < 8; ++l) acc[l] = std::fma(s, static_cast<float>(sum[l]), acc[l]);
  }
  return q8_0_reduce8(acc);
}

float mxfp4_dot_lanes(const uint8_t* w, const int8_t* q, const uint8_t* d, int64_t n_blocks) {
  float acc[2][8] = {};
  // Block b's 8 lane sums (lane l: columns 4l .. 4l + 3) and scale.
  auto lanes = [&](int64_t b, int32_t* sum) {
    const auto blk = load_block<BlockMXFP4>(w, b);
    const int8_t* x = q + b * kQKMxfp4;
    for (int l = 0; l < 8; ++l) {
      sum[l] = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) {
        const int code = k < 16 ? blk.qs[k] & 0xF : blk.qs[k - 16] >> 4;
        sum[l] += kMxfp4Values[static_cast<size_t>(code)] * x[k];
      }
    }
    float db;
    std::memcpy(&db, d + 4 * static_cast<size_t>(b), 4);
    return db * mxfp4_half_scale(blk.e);
  };
  int64_t b = 0;
  int32_t sum[8];
  for (; b + 1 < n_blocks; b += 2) {
    for (int p = 0; p < 2; ++p) {
      const float s = lanes(b + p, sum);
      for (int l = 0; l < 8; ++l) acc[p][l] = std::fma(s, static_cast<float>(sum[l]), acc[p][l]);
    }
  }
  float v[8];
  for (int l = 0; l < 8; ++l) v[l] = acc[0][l] + acc[1][l];
  float result = q8_0_reduce8(v);
  if (b < n_blocks) {
    const float s = lanes(b, sum);
    int32_t total = 0;
    for (int l = 0; l < 8; ++l) total += sum[l];
    result = std::fma(s, static_cast<float>(total), result);
  }
  return result;
}

void matmul_reference_order(Isa isa, const Weights& w, const void* act, int64_t n_tokens, float* y,
                            int64_t ldy, int64_t row_begin, int64_t row_end) {
  const auto* a = static_cast<const uint8_t*>(act);
#if defined(__x86_64__) || defined(_M_X64)
  // Every x86 Isa from AVX2 up runs the AVX2 kernel: the order fixes 8 lanes, so wider vectors
  // would only change how many blocks one step covers, not the bits.
  if (isa >= Isa::kAvx2) {
    switch (w.type) {
      case TensorType::kMXFP4:
        x86::avx2_mxfp4_lanes(w, a, n_tokens, y, ldy, row_begin, row_end);
        return;
      case TensorType::kQ8_0:
        x86::avx2_q8_0_lanes(w, a, n_tokens, y, ldy, row_begin, row_end);
        return;
      case TensorType::kQ5_0:
        x86::avx2_q5_0_lanes(w, a, n_tokens, y, ldy, row_begin, row_end);
        return;
      case TensorType::kQ6_K:
        x86::avx2_q6_k_lanes(w, a, n_tokens, y, ldy, row_begin, row_end);
        return;
      case TensorType::kQ4_K:
        x86::avx2_q4_k_repacked(w, a, n_tokens, y, ldy, row_begin, row_end);
        return;
      case TensorType::kQ5_1:
        x86::avx2_q5_1_lanes(w, a, n_tokens, y, ldy, row_begin, row_end);
        return;
      case TensorType::kQ5_K:
        x86::avx2_q5_k_lanes(w, a, n_tokens, y, ldy, row_begin, row_end);
        return;
      default:
        break;
    }
  }
#else
  (void)isa;
#endif
  const ActLayout l = act_layout(w.type, w.cols);
  // One output from a weight row and a token's activation row (q codes at 0, then its scales).
  auto dot = [&](const uint8_t* wr, const uint8_t* at) {
    const auto* q = reinterpret_cast<const int8_t*>(at);
    const uint8_t* d = at + l.d_offset;
    switch (w.type) {
      case TensorType::kMXFP4:
        return mxfp4_dot_lanes(wr, q, d, l.n_blocks);
      case TensorType::kQ5_0:
        return q5_0_dot_lanes(wr, q, d, l.n_blocks);
      case TensorType::kQ5_1:
        return q5_1_dot_lanes(wr, q, d, at + l.aux_offset, l.n_blocks);
      case TensorType::kQ4_K:
        return q4_k_dot_repacked(wr, q, d, l.n_blocks);
      case TensorType::kQ5_K:
        return q5_k_dot_lanes(wr, q, d, at + l.aux2_offset, l.n_blocks);
      case TensorType::kQ6_K:
        return q6_k_dot_lanes(wr, q, d, l.n_blocks);
      default:
        return q8_0_dot_lanes(wr, q, d, l.n_blocks);
    }
  };
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t t = 0; t < n_tokens; ++t) {
      y[t * ldy + r] = dot(wr, a + static_cast<size_t>(t) * l.stride);
    }
  }
}

}  // namespace ember::kernels
