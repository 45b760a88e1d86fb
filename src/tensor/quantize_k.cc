// K-quant quantization (Q2_K..Q6_K), scalar.
//
// Each super-block starts from the reference quantizer's encoding (its sub-block fits and
// super-scale rounding, reproduced byte for byte), which kquant::polish then improves with a few
// closed-form least-squares refits. The polished code is stored only when its exact squared
// reconstruction error is lower, so on every block we are never worse than the reference.
//
// Earlier versions also started from squared-error sub-block fits and ran a wide super-block
// search; that gained another 1-2% RMSE for 4-10x the time, too slow for converting whole models.
#include <cmath>
#include <cstring>

#include "tensor/blocks_k.h"
#include "tensor/fp16.h"
#include "tensor/k_scales.h"
#include "tensor/quant_k.h"
#include "tensor/quant_k_search.h"

namespace ember {
namespace {

using kquant::AffineFit;
using kquant::SuperCode;
using kquant::SuperLayout;

constexpr SuperLayout kQ2Layout{16, 0, 3, 0, 15, 15};
constexpr SuperLayout kQ3Layout{16, -4, 3, -32, 31, 0};
constexpr SuperLayout kQ4Layout{32, 0, 15, 0, 63, 63};
constexpr SuperLayout kQ5Layout{32, 0, 31, 0, 63, 63};
constexpr SuperLayout kQ6Layout{16, -32, 31, -128, 127, 0};

// The reference's super-block step for scale+min types: the largest sub-block scale (min) maps
// to the top integer, the others are rounded against the same inverse scale.
SuperCode affine_baseline(const float* x, const SuperLayout& lay, const AffineFit* fits) {
  const int nsub = 256 / lay.sub;
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < nsub; ++j) {
    if (fits[j].scale > max_scale) max_scale = fits[j].scale;
    if (fits[j].min > max_min) max_min = fits[j].min;
  }
  const float top = static_cast<float>(lay.shi);
  const float inv_scale = max_scale > 0 ? top / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? top / max_min : 0.0f;
  SuperCode code;
  for (int j = 0; j < nsub; ++j) {
    code.ls[j] = kquant::round_clamp(inv_scale * fits[j].scale, 0, lay.shi);
    code.lm[j] = kquant::round_clamp(inv_min * fits[j].min, 0, lay.mhi);
  }
  code.d = fp32_to_fp16(max_scale / top);
  code.dmin = fp32_to_fp16(max_min / top);
  kquant::requantize(x, lay, &code);
  return code;
}

// The reference's super-block step for symmetric types: the sub-block scale of largest magnitude
// maps to the most negative integer (the wider side of the signed range).
SuperCode symmetric_baseline(const float* x, const SuperLayout& lay, const float* scales) {
  const int nsub = 256 / lay.sub;
  float max_scale = 0, amax = 0;
  for (int j = 0; j < nsub; ++j) {
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  SuperCode code;
  if (amax < 1e-15f) return code;  // all zero
  const float iscale = static_cast<float>(lay.slo) / max_scale;
  for (int j = 0; j < nsub; ++j) {
    code.ls[j] = kquant::round_clamp(iscale * scales[j], lay.slo, lay.shi);
  }
  code.d = fp32_to_fp16(1 / iscale);
  kquant::requantize(x, lay, &code);
  return code;
}

// Picks the better of two candidate codes or the all-zero code. The zero code wins for values
// too small for any fp16 super-scale, where rounding the scales could otherwise add error.
SuperCode best_of(const float* x, const SuperLayout& lay, const SuperCode& a, const SuperCode& b) {
  const SuperCode zero;
  const double ea = kquant::code_sse(x, lay, a), eb = kquant::code_sse(x, lay, b);
  const double ez = kquant::code_sse(x, lay, zero);
  if (ez < ea && ez < eb) return zero;
  return eb < ea ? b : a;
}

// Quantizes one super-block of a scale+min type. `ref_fit` produces the reference's sub-block
// fit for sub-block values xs.
template <typename RefFit>
SuperCode quantize_affine(const float* x, const SuperLayout& lay, RefFit ref_fit) {
  const int nsub = 256 / lay.sub;
  AffineFit fits[16];
  for (int j = 0; j < nsub; ++j) fits[j] = ref_fit(x + j * lay.sub);
  const SuperCode base = affine_baseline(x, lay, fits);
  SuperCode a = base;
  kquant::polish(x, lay, &a);
  return best_of(x, lay, base, a);
}

template <typename RefFit>
SuperCode quantize_symmetric(const float* x, const SuperLayout& lay, RefFit ref_fit) {
  const int nsub = 256 / lay.sub;
  float scales[16];
  for (int j = 0; j < nsub; ++j) scales[j] = ref_fit(x + j * lay.sub);
  const SuperCode base = symmetric_baseline(x, lay, scales);
  SuperCode a = base;
  kquant::polish(x, lay, &a);
  return best_of(x, lay, base, a);
}

// Packs 2-bit values: byte 32h + l holds elements 128h + l, +32, +64, +96 from the low bits up.
void pack_2bit(const int* L, uint8_t* qs) {
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const int* p = L + 128 * h + l;
      qs[32 * h + l] = static_cast<uint8_t>(p[0] | (p[32] << 2) | (p[64] << 4) | (p[96] << 6));
    }
  }
}

// Packs the low nibbles of Q4_K/Q5_K: byte 32c + l holds element 64c + l (low) and 64c + 32 + l.
void pack_4bit_k4(const int* L, uint8_t* qs) {
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      qs[32 * c + l] = static_cast<uint8_t>((L[64 * c + l] & 0xF) | ((L[64 * c + 32 + l] & 0xF) << 4));
    }
  }
}

// Quants of a code shifted to the unsigned stored range.
void stored_quants(const SuperCode& code, int bias, int* L) {
  for (int e = 0; e < 256; ++e) L[e] = code.q[e] + bias;
}

}  // namespace

void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ2K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    // Reference fit: weights |x|, absolute-error candidate ranking.
    const SuperCode code = quantize_affine(x, kQ2Layout, [](const float* xs) {
      float w[16];
      for (int i = 0; i < 16; ++i) w[i] = std::fabs(xs[i]);
      return kquant::fit_affine(xs, 16, 3, w, -0.5f, 0.1f, 15, true);
    });
    BlockQ2K& blk = blocks[b];
    for (int j = 0; j < 16; ++j) blk.scales[j] = static_cast<uint8_t>(code.ls[j] | (code.lm[j] << 4));
    int L[256];
    stored_quants(code, 0, L);
    pack_2bit(L, blk.qs);
    blk.d = code.d;
    blk.dmin = code.dmin;
  }
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ3K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    const SuperCode code = quantize_symmetric(x, kQ3Layout, [](const float* xs) {
      return kquant::fit_symmetric_q3_ref(xs, 16, 4);
    });
    BlockQ3K& blk = blocks[b];
    int8_t ls[16];
    for (int j = 0; j < 16; ++j) ls[j] = static_cast<int8_t>(code.ls[j]);
    kquant::pack_scales_q3k(ls, blk.scales);
    int L[256];
    stored_quants(code, 4, L);
    std::memset(blk.hmask, 0, sizeof blk.hmask);
    for (int e = 0; e < 256; ++e) {
      if (L[e] > 3) {
        blk.hmask[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
        L[e] -= 4;
      }
    }
    pack_2bit(L, blk.qs);
    blk.d = code.d;
  }
}

// Reference sub-block weights for Q4_K/Q5_K: the group's rms plus each value's magnitude.
template <int kNmax>
static AffineFit ref_fit_q45(const float* xs, float rmin, int nstep) {
  float sum_x2 = 0;
  for (int i = 0; i < 32; ++i) sum_x2 += xs[i] * xs[i];
  const float av_x = std::sqrt(sum_x2 / 32);
  float w[32];
  for (int i = 0; i < 32; ++i) w[i] = av_x + std::fabs(xs[i]);
  return kquant::fit_affine(xs, 32, kNmax, w, rmin, 0.1f, nstep, false);
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    const SuperCode code = quantize_affine(
        x, kQ4Layout, [](const float* xs) { return ref_fit_q45<15>(xs, -1.0f, 20); });
    BlockQ4K& blk = blocks[b];
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      ls[j] = static_cast<uint8_t>(code.ls[j]);
      lm[j] = static_cast<uint8_t>(code.lm[j]);
    }
    kquant::pack_scale_min_k4(ls, lm, blk.scales);
    int L[256];
    stored_quants(code, 0, L);
    pack_4bit_k4(L, blk.qs);
    blk.d = code.d;
    blk.dmin = code.dmin;
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    const SuperCode code = quantize_affine(
        x, kQ5Layout, [](const float* xs) { return ref_fit_q45<31>(xs, -0.5f, 15); });
    BlockQ5K& blk = blocks[b];
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      ls[j] = static_cast<uint8_t>(code.ls[j]);
      lm[j] = static_cast<uint8_t>(code.lm[j]);
    }
    kquant::pack_scale_min_k4(ls, lm, blk.scales);
    int L[256];
    stored_quants(code, 0, L);
    std::memset(blk.qh, 0, sizeof blk.qh);
    for (int e = 0; e < 256; ++e) {
      if (L[e] > 15) blk.qh[e % 32] |= static_cast<uint8_t>(1u << (e / 32));
    }
    pack_4bit_k4(L, blk.qs);
    blk.d = code.d;
    blk.dmin = code.dmin;
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ6K*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float* x = src + b * kQK_K;
    const SuperCode code = quantize_symmetric(x, kQ6Layout, [](const float* xs) {
      return kquant::fit_symmetric_ref(xs, 16, 32);
    });
    BlockQ6K& blk = blocks[b];
    for (int j = 0; j < 16; ++j) blk.scales[j] = static_cast<int8_t>(code.ls[j]);
    int L[256];
    stored_quants(code, 32, L);
    for (int h = 0; h < 2; ++h) {
      const int* p = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        blk.ql[64 * h + l] = static_cast<uint8_t>((p[l] & 0xF) | ((p[l + 64] & 0xF) << 4));
        blk.ql[64 * h + 32 + l] =
            static_cast<uint8_t>((p[l + 32] & 0xF) | ((p[l + 96] & 0xF) << 4));
        blk.qh[32 * h + l] = static_cast<uint8_t>((p[l] >> 4) | ((p[l + 32] >> 4) << 2) |
                                                  ((p[l + 64] >> 4) << 4) |
                                                  ((p[l + 96] >> 4) << 6));
      }
    }
    blk.d = code.d;
  }
}

}  // namespace ember
