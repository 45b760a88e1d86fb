// Portable reference kernels: activation conversion and matrix products on the weights' own
// (GGUF) block layouts.
//
// Every product follows its format's definition literally: for each weight block, an exact
// integer dot product between the weight codes (offset as the format says, e.g. q - 8 for Q4_0)
// and the 8-bit activation codes, then one F32 update of the running sum with the block's
// scales, blocks in increasing order. The SIMD kernels compute the same integers (possibly
// grouped differently, which is exact) and are tested against these functions.
#include <cmath>
#include <cstring>

#include "kernels/matmul_internal.h"
#include "tensor/blocks_iq4.h"
#include "tensor/blocks_k.h"
#include "tensor/blocks_legacy.h"
#include "tensor/fp16.h"
#include "tensor/k_scales.h"
#include "tensor/quant_mxfp4.h"
#include "tensor/quant_util.h"

namespace ember::kernels {

// ---- activation layout ----------------------------------------------------------------------

ActKind act_kind(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0:
    case TensorType::kIQ4_NL:
    case TensorType::kMXFP4:
      return ActKind::kQ8_0;
    case TensorType::kQ4_1:
    case TensorType::kQ5_1:
      return ActKind::kQ8_1;
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kIQ4_XS:
      return ActKind::kQ8_K;
    default:
      return ActKind::kF32;
  }
}

ActLayout act_layout(TensorType weight_type, int64_t cols) {
  ActLayout l;
  l.kind = act_kind(weight_type);
  l.cols = cols;
  const size_t n = static_cast<size_t>(cols);
  switch (l.kind) {
    case ActKind::kF32:
      l.stride = round_up64(n * sizeof(float));
      break;
    case ActKind::kQ8_0:
    case ActKind::kQ8_1: {
      l.n_blocks = cols / kQK8_0;
      const size_t nb = static_cast<size_t>(l.n_blocks);
      l.d_offset = round_up64(n);
      l.aux_offset = l.d_offset + nb * sizeof(float);
      l.stride = round_up64(l.aux_offset + nb * 4);
      if (l.kind == ActKind::kQ8_0) {
        // What the SIMD kernels add to make the weight codes unsigned (x86/tiles_legacy.h;
        // MXFP4's doubled E2M1 values lie in [-12, 12]).
        l.code_offset = weight_type == TensorType::kQ4_0    ? 8
                        : weight_type == TensorType::kQ5_0  ? 16
                        : weight_type == TensorType::kMXFP4 ? 12
                                                            : 128;
      }
      break;
    }
    case ActKind::kQ8_K: {
      l.n_blocks = cols / kQK_K;
      const size_t nb = static_cast<size_t>(l.n_blocks);
      l.d_offset = round_up64(n);
      l.aux_offset = l.d_offset + nb * sizeof(float);
      l.aux2_offset = l.aux_offset + nb * 16 * sizeof(int16_t);
      l.stride = round_up64(l.aux2_offset + nb * 8 * sizeof(int16_t));
      break;
    }
  }
  return l;
}

// ---- activation conversion ------------------------------------------------------------------
namespace {

// Rounds to nearest, ties to even (the current rounding mode, never changed by ember), with NaN
// (from inf * 0) mapped to 0 and the result kept in [-127, 127] so the int8 conversion is always
// defined.
int8_t round_code(float v) {
  float r = std::nearbyint(v);
  if (r != r) r = 0.0f;
  r = std::fmin(127.0f, std::fmax(-127.0f, r));
  return static_cast<int8_t>(r);
}

}  // namespace

// Block b of one token of Q8_0 / Q8_1 activations, as the reference's x86 build quantizes them
// (its vectorised quantize_row_q8_0 / _q8_1, not its portable reference quantizer): d = amax / 127
// stored as fp16, codes = x * (127 / amax) rounded to nearest even. (The portable quantizer,
// x * (1 / d) rounded half away from zero, differs when a scaled value lies within a float
// rounding of a .5 boundary: rarely, but each such code moves a matrix product's result.)
void convert_q8_0_block(const ActLayout& l, const float* x, uint8_t* out, int64_t b) {
  auto* q = reinterpret_cast<int8_t*>(out);
  const float* xb = x + b * kQK8_0;
  float amax = 0.0f;
  for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  int32_t sum = 0;
  for (int j = 0; j < kQK8_0; ++j) {
    const int8_t c = round_code(xb[j] * id);
    q[b * kQK8_0 + j] = c;
    sum += c;
  }
  store_q8_scales(l, out, b, d, sum);
}

void store_q8_scales(const ActLayout& l, uint8_t* out, int64_t b, float d, int32_t sum) {
  const float dq = fp16_to_fp32(scale_to_fp16(d));
  std::memcpy(out + l.d_offset + static_cast<size_t>(b) * 4, &dq, 4);
  if (l.kind == ActKind::kQ8_0) {
    const int32_t bias = -l.code_offset * sum;
    std::memcpy(out + l.aux_offset + static_cast<size_t>(b) * 4, &bias, 4);
  } else {
    const float s = fp16_to_fp32(scale_to_fp16(static_cast<float>(sum) * d));
    std::memcpy(out + l.aux_offset + static_cast<size_t>(b) * 4, &s, 4);
  }
}

// Block b of one token of Q8_K activations: the value of largest magnitude maps to -127 exactly,
// codes are rounded to nearest even, d is the float reciprocal of the scale used.
void convert_q8_k_block(const ActLayout& l, const float* x, uint8_t* out, int64_t b) {
  auto* q = reinterpret_cast<int8_t*>(out);
  const float* xb = x + b * kQK_K;
  int8_t* qb = q + b * kQK_K;
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK_K; ++j) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      max = xb[j];
    }
  }
  float d = 0.0f;
  if (amax == 0.0f) {
    std::memset(qb, 0, kQK_K);
  } else {
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      const int v = nearest_int(iscale * xb[j]);
      qb[j] = static_cast<int8_t>(v > 127 ? 127 : (v < -127 ? -127 : v));
    }
    d = 1.0f / iscale;
  }
  store_q8_k_sums(l, out, b, d);
}

void store_q8_k_sums(const ActLayout& l, uint8_t* out, int64_t b, float d) {
  const auto* qb = reinterpret_cast<const int8_t*>(out) + b * kQK_K;
  std::memcpy(out + l.d_offset + static_cast<size_t>(b) * 4, &d, 4);
  int16_t s16[16], s32[8];
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) sum += qb[g * 16 + j];
    s16[g] = static_cast<int16_t>(sum);
  }
  for (int g = 0; g < 8; ++g) s32[g] = static_cast<int16_t>(s16[2 * g] + s16[2 * g + 1]);
  std::memcpy(out + l.aux_offset + static_cast<size_t>(b) * sizeof s16, s16, sizeof s16);
  std::memcpy(out + l.aux2_offset + static_cast<size_t>(b) * sizeof s32, s32, sizeof s32);
}

void convert_activations_scalar(TensorType weight_type, const float* x, int64_t n_tokens,
                                int64_t cols, void* out) {
  const ActLayout l = act_layout(weight_type, cols);
  auto* base = static_cast<uint8_t*>(out);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * cols;
    uint8_t* o = base + static_cast<size_t>(t) * l.stride;
    // Padding bytes are zeroed so the buffer's content is fully determined by x.
    std::memset(o, 0, l.stride);
    switch (l.kind) {
      case ActKind::kF32:
        std::memcpy(o, xt, static_cast<size_t>(cols) * sizeof(float));
        break;
      case ActKind::kQ8_0:
      case ActKind::kQ8_1:
        for (int64_t b = 0; b < l.n_blocks; ++b) convert_q8_0_block(l, xt, o, b);
        break;
      case ActKind::kQ8_K:
        for (int64_t b = 0; b < l.n_blocks; ++b) convert_q8_k_block(l, xt, o, b);
        break;
    }
  }
}

// ---- dot products ---------------------------------------------------------------------------
namespace {

// Views of one token's converted activations.
struct Act {
  const int8_t* q;
  const uint8_t* base;
  const ActLayout* l;
  float d(int64_t b) const { return load<float>(l->d_offset, b); }
  float s(int64_t b) const { return load<float>(l->aux_offset, b); }
  int16_t bsum16(int64_t b, int g) const { return load<int16_t>(l->aux_offset, b * 16 + g); }
  int16_t bsum32(int64_t b, int g) const { return load<int16_t>(l->aux2_offset, b * 8 + g); }
  template <typename T>
  T load(size_t offset, int64_t i) const {
    T v;
    std::memcpy(&v, base + offset + static_cast<size_t>(i) * sizeof(T), sizeof(T));
    return v;
  }
};

float dot_q4_0(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ4_0>(w, b);
    const int8_t* x = a.q + b * kQK4_0;
    int32_t isum = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      isum += ((blk.qs[j] & 0xF) - 8) * x[j] + ((blk.qs[j] >> 4) - 8) * x[j + 16];
    }
    sum += static_cast<float>(isum) * (fp16_to_fp32(blk.d) * a.d(b));
  }
  return sum;
}

float dot_q4_1(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ4_1>(w, b);
    const int8_t* x = a.q + b * kQK4_1;
    int32_t isum = 0;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      isum += (blk.qs[j] & 0xF) * x[j] + (blk.qs[j] >> 4) * x[j + 16];
    }
    sum += static_cast<float>(isum) * (fp16_to_fp32(blk.d) * a.d(b));
    sum += fp16_to_fp32(blk.m) * a.s(b);
  }
  return sum;
}

// Five-bit code of element j of a Q5 block (low nibble | fifth bit << 4).
template <typename Block>
int q5_code(const Block& blk, uint32_t qh, int j) {
  const int nib = j < 16 ? (blk.qs[j] & 0xF) : (blk.qs[j - 16] >> 4);
  return nib | static_cast<int>(((qh >> j) & 1u) << 4);
}

float dot_q5_0(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ5_0>(w, b);
    uint32_t qh;
    std::memcpy(&qh, blk.qh, 4);
    const int8_t* x = a.q + b * kQK5_0;
    int32_t isum = 0;
    for (int j = 0; j < kQK5_0; ++j) isum += (q5_code(blk, qh, j) - 16) * x[j];
    sum += static_cast<float>(isum) * (fp16_to_fp32(blk.d) * a.d(b));
  }
  return sum;
}

float dot_q5_1(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ5_1>(w, b);
    uint32_t qh;
    std::memcpy(&qh, blk.qh, 4);
    const int8_t* x = a.q + b * kQK5_1;
    int32_t isum = 0;
    for (int j = 0; j < kQK5_1; ++j) isum += q5_code(blk, qh, j) * x[j];
    sum += static_cast<float>(isum) * (fp16_to_fp32(blk.d) * a.d(b));
    sum += fp16_to_fp32(blk.m) * a.s(b);
  }
  return sum;
}

float dot_q8_0(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ8_0>(w, b);
    const int8_t* x = a.q + b * kQK8_0;
    int32_t isum = 0;
    for (int j = 0; j < kQK8_0; ++j) isum += blk.qs[j] * x[j];
    sum += static_cast<float>(isum) * (fp16_to_fp32(blk.d) * a.d(b));
  }
  return sum;
}

float dot_iq4_nl(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockIQ4_NL>(w, b);
    const int8_t* x = a.q + b * kQK4_NL;
    int32_t isum = 0;
    for (int j = 0; j < kQK4_NL / 2; ++j) {
      isum += kIq4Values[blk.qs[j] & 0xF] * x[j] + kIq4Values[blk.qs[j] >> 4] * x[j + 16];
    }
    sum += static_cast<float>(isum) * (fp16_to_fp32(blk.d) * a.d(b));
  }
  return sum;
}

// MXFP4: as IQ4_NL with the doubled E2M1 levels and the halved E8M0 scale (exact product).
float dot_mxfp4(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockMXFP4>(w, b);
    const int8_t* x = a.q + b * kQKMxfp4;
    int32_t isum = 0;
    for (int j = 0; j < kQKMxfp4 / 2; ++j) {
      isum += kMxfp4Values[blk.qs[j] & 0xF] * x[j] + kMxfp4Values[blk.qs[j] >> 4] * x[j + 16];
    }
    sum += static_cast<float>(isum) * (mxfp4_half_scale(blk.e) * a.d(b));
  }
  return sum;
}

// K-quants: per super-block, isc = sum over sub-blocks of scale * (integer dot of the sub-block)
// and, for the types with mins, imin = sum of min * (sum of the sub-block's activation codes).
// Then sum += isc * (d * dx) - imin * (dmin * dx).

float dot_q2_k(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ2K>(w, b);
    const int8_t* x = a.q + b * kQK_K;
    int32_t isc = 0, imin = 0;
    for (int j = 0; j < 16; ++j) {
      // Sub-block j = 8h + 2k + s holds elements 16j .. 16j + 15.
      const int h = j / 8, k = (j / 2) % 4, s = j % 2;
      int32_t isum = 0;
      for (int l = 0; l < 16; ++l) {
        const int q = (blk.qs[32 * h + 16 * s + l] >> (2 * k)) & 3;
        isum += q * x[16 * j + l];
      }
      isc += (blk.scales[j] & 0xF) * isum;
      imin += (blk.scales[j] >> 4) * a.bsum16(b, j);
    }
    const float dx = a.d(b);
    sum += static_cast<float>(isc) * (fp16_to_fp32(blk.d) * dx);
    sum -= static_cast<float>(imin) * (fp16_to_fp32(blk.dmin) * dx);
  }
  return sum;
}

float dot_q3_k(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ3K>(w, b);
    const int8_t* x = a.q + b * kQK_K;
    int8_t scales[16];
    kquant::unpack_scales_q3k(blk.scales, scales);
    int32_t isc = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t isum = 0;
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;
        const int h = e / 128, k = (e / 32) % 4, l = e % 32;
        const int low = (blk.qs[32 * h + l] >> (2 * k)) & 3;
        const int high = (blk.hmask[l] >> (e / 32)) & 1;
        isum += (low + 4 * high - 4) * x[e];
      }
      isc += scales[j] * isum;
    }
    sum += static_cast<float>(isc) * (fp16_to_fp32(blk.d) * a.d(b));
  }
  return sum;
}

template <typename Block, bool kFifthBit>
float dot_q45_k(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<Block>(w, b);
    const int8_t* x = a.q + b * kQK_K;
    int32_t isc = 0, imin = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      kquant::unpack_scale_min_k4(j, blk.scales, &sc, &m);
      const int c = j / 2, shift = 4 * (j % 2);
      int32_t isum = 0;
      for (int l = 0; l < 32; ++l) {
        int q = (blk.qs[32 * c + l] >> shift) & 0xF;
        if constexpr (kFifthBit) q |= ((blk.qh[l] >> j) & 1) << 4;
        isum += q * x[32 * j + l];
      }
      isc += sc * isum;
      imin += m * a.bsum32(b, j);
    }
    const float dx = a.d(b);
    sum += static_cast<float>(isc) * (fp16_to_fp32(blk.d) * dx);
    sum -= static_cast<float>(imin) * (fp16_to_fp32(blk.dmin) * dx);
  }
  return sum;
}

float dot_q6_k(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockQ6K>(w, b);
    const int8_t* x = a.q + b * kQK_K;
    int32_t isc = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t isum = 0;
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;
        const int h = e / 128, k = (e / 32) % 4, l = e % 32;
        const int low = (blk.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
        const int high = (blk.qh[32 * h + l] >> (2 * k)) & 3;
        isum += ((low | (high << 4)) - 32) * x[e];
      }
      isc += blk.scales[j] * isum;
    }
    sum += static_cast<float>(isc) * (fp16_to_fp32(blk.d) * a.d(b));
  }
  return sum;
}

float dot_iq4_xs(const uint8_t* w, const Act& a) {
  float sum = 0.0f;
  for (int64_t b = 0; b < a.l->n_blocks; ++b) {
    const auto blk = load_block<BlockIQ4_XS>(w, b);
    const int8_t* x = a.q + b * kQK_K;
    int32_t isc = 0;
    for (int j = 0; j < 8; ++j) {
      const int ls =
          ((blk.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((blk.scales_h >> (2 * j)) & 3) << 4);
      const uint8_t* qs = blk.qs + 16 * j;
      int32_t isum = 0;
      for (int l = 0; l < 16; ++l) {
        isum +=
            kIq4Values[qs[l] & 0xF] * x[32 * j + l] + kIq4Values[qs[l] >> 4] * x[32 * j + 16 + l];
      }
      isc += (ls - 32) * isum;
    }
    sum += static_cast<float>(isc) * (fp16_to_fp32(blk.d) * a.d(b));
  }
  return sum;
}

// Plain float types: one running F32 sum over the columns in order.
template <typename Convert>
float dot_float(const uint8_t* w, const float* x, int64_t cols, size_t elem, Convert convert) {
  float sum = 0.0f;
  for (int64_t c = 0; c < cols; ++c) sum += convert(w + static_cast<size_t>(c) * elem) * x[c];
  return sum;
}

float w_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}
float w_bf16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return bf16_to_fp32(h);
}

using DotFn = float (*)(const uint8_t*, const Act&);

DotFn quant_dot(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
      return dot_q4_0;
    case TensorType::kQ4_1:
      return dot_q4_1;
    case TensorType::kQ5_0:
      return dot_q5_0;
    case TensorType::kQ5_1:
      return dot_q5_1;
    case TensorType::kQ8_0:
      return dot_q8_0;
    case TensorType::kIQ4_NL:
      return dot_iq4_nl;
    case TensorType::kMXFP4:
      return dot_mxfp4;
    case TensorType::kQ2_K:
      return dot_q2_k;
    case TensorType::kQ3_K:
      return dot_q3_k;
    case TensorType::kQ4_K:
      return dot_q45_k<BlockQ4K, false>;
    case TensorType::kQ5_K:
      return dot_q45_k<BlockQ5K, true>;
    case TensorType::kQ6_K:
      return dot_q6_k;
    case TensorType::kIQ4_XS:
      return dot_iq4_xs;
    default:
      return nullptr;
  }
}

}  // namespace

void matmul_scalar(const Weights& w, const void* act, int64_t n_tokens, float* y, int64_t ldy,
                   int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(w.type, w.cols);
  const auto* abase = static_cast<const uint8_t*>(act);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  if (l.kind == ActKind::kF32) {
    const size_t elem = w.type == TensorType::kF32 ? 4 : 2;
    for (int64_t r = row_begin; r < row_end; ++r) {
      const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
      for (int64_t t = 0; t < n_tokens; ++t) {
        const auto* x = reinterpret_cast<const float*>(abase + static_cast<size_t>(t) * l.stride);
        float v = 0.0f;
        switch (w.type) {
          case TensorType::kF16:
            v = dot_float(wr, x, w.cols, elem, w_f16);
            break;
          case TensorType::kBF16:
            v = dot_float(wr, x, w.cols, elem, w_bf16);
            break;
          default:
            v = f32_gemm_order(w) ? f32_dot_gemm_order(reinterpret_cast<const float*>(wr), x, w.cols)
                                  : f32_dot_vec_order(reinterpret_cast<const float*>(wr), x, w.cols);
            break;
        }
        y[t * ldy + r] = v;
      }
    }
    return;
  }
  const DotFn dot = quant_dot(w.type);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const uint8_t* at = abase + static_cast<size_t>(t) * l.stride;
      const Act a{reinterpret_cast<const int8_t*>(at), at, &l};
      y[t * ldy + r] = dot(wr, a);
    }
  }
}

}  // namespace ember::kernels
