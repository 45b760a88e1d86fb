// Q8_0, Q5_0, Q6_K and MXFP4 weights in the reference's 8-lane orders (Q5_1 and Q5_K:
// matmul_reference_q5_avx2.cc), and Q4_K in its repacked order (matmul_internal.h,
// WeightForm::kReferenceOrder), AVX2; every x86 Isa runs these (wider vectors would change nothing
// but the block count per step). Per block, one 256-bit vector holds the 8 lanes: |w| * sign(x, w)
// summed in pairs (vpmaddubsw; at most 2 * 128 * 127, no saturation) and in fours (vpmaddwd),
// exact; then one FMA per block with the broadcast scale product. Two weight rows and up to 4
// tokens share each load; every output sees the same operations whatever group it falls in, so a
// row's bits do not depend on the token count or the row range.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/act_layout.h"
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/reference_avx2.h"
#include "kernels/x86/static_for.h"
#include "tensor/k_scales.h"
#include "tensor/quant_mxfp4.h"

namespace ember::kernels::x86 {
namespace {

using reference_avx2::hsum8;
using reference_avx2::q5_codes;

constexpr int64_t kBlockBytes = 34;    // Q8_0: fp16 d + 32 codes
constexpr int64_t kQ5BlockBytes = 22;  // Q5_0: fp16 d, 32 fifth bits, 16 bytes of nibbles

// The 32 signed codes (5-bit code - 16, in [-16, 15]) of a Q5_0 block (fp16 d, qh, nibbles).
EMBER_INLINE __m256i q5_0_codes(const uint8_t* blk) {
  return _mm256_sub_epi8(q5_codes(blk + 6, blk + 2), _mm256_set1_epi8(16));
}

// One block b of R weight rows (codes qw, |codes| aw, scales wd) against T token rows (at): each
// lane's exact 4-product sum, then one FMA per (row, token) with the scale product.
template <int R, int T>
EMBER_INLINE void accumulate_block(const __m256i (&qw)[R], const __m256i (&aw)[R],
                                   const float (&wd)[R], const uint8_t* const (&at)[T],
                                   size_t d_offset, int64_t b, __m256 (&acc)[R][T]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int j = 0; j < T; ++j) {
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[j] + 32 * b));
    float xd;
    std::memcpy(&xd, at[j] + d_offset + 4 * static_cast<size_t>(b), 4);
    for (int i = 0; i < R; ++i) {
      const __m256i sums =
          _mm256_madd_epi16(_mm256_maddubs_epi16(aw[i], _mm256_sign_epi8(qx, qw[i])), ones);
      acc[i][j] = _mm256_fmadd_ps(_mm256_set1_ps(wd[i] * xd), _mm256_cvtepi32_ps(sums), acc[i][j]);
    }
  }
}

// R consecutive weight rows from r times T consecutive tokens from t0 (Q8_0 weights, or Q5_0
// with kQ5).
template <int R, int T, bool kQ5>
EMBER_INLINE void tile(const uint8_t* wr, size_t row_bytes, const uint8_t* act, size_t stride,
                       size_t d_offset, int64_t n_blocks, float* y, int64_t ldy, int64_t r,
                       int64_t t0) {
  const uint8_t* at[T];
  for (int j = 0; j < T; ++j) at[j] = act + static_cast<size_t>(t0 + j) * stride;
  __m256 acc[R][T];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) acc[i][j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i qw[R], aw[R];
    float wd[R];
    for (int i = 0; i < R; ++i) {
      const uint8_t* blk = wr + i * row_bytes + b * (kQ5 ? kQ5BlockBytes : kBlockBytes);
      uint16_t h;
      std::memcpy(&h, blk, 2);
      wd[i] = _cvtsh_ss(h);
      qw[i] = kQ5 ? q5_0_codes(blk) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      aw[i] = _mm256_sign_epi8(qw[i], qw[i]);
    }
    accumulate_block<R, T>(qw, aw, wd, at, d_offset, b, acc);
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[(t0 + j) * ldy + r + i] = hsum8(acc[i][j]);
}

// MXFP4 (17-byte blocks: E8M0 byte, 16 bytes of nibbles, low nibbles = columns 0..15): the
// codes decoded to doubled E2M1 values by a byte shuffle, then as Q8_0; even blocks accumulate
// in one vector and odd blocks in another, added lane by lane before the reduction; an odd last
// block joins after the reduction, fused.
constexpr int64_t kMxBlockBytes = 17;

EMBER_INLINE __m256i mxfp4_codes(const uint8_t* blk, __m128i table) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 1));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(q, m4));
  const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), m4));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

template <int R, int T>
EMBER_INLINE void tile_mxfp4(const uint8_t* wr, size_t row_bytes, const uint8_t* act, size_t stride,
                             size_t d_offset, int64_t n_blocks, float* y, int64_t ldy, int64_t r,
                             int64_t t0) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m128i table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kMxfp4Values.data()));
  const uint8_t* at[T];
  for (int j = 0; j < T; ++j) at[j] = act + static_cast<size_t>(t0 + j) * stride;
  __m256 acc[2][R][T];
  for (int p = 0; p < 2; ++p)
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < T; ++j) acc[p][i][j] = _mm256_setzero_ps();
  auto block = [&](int64_t b, int p) {
    __m256i qw[R], aw[R];
    float wd[R];
    for (int i = 0; i < R; ++i) {
      const uint8_t* blk = wr + i * row_bytes + b * kMxBlockBytes;
      wd[i] = mxfp4_half_scale(blk[0]);
      qw[i] = mxfp4_codes(blk, table);
      aw[i] = _mm256_sign_epi8(qw[i], qw[i]);
    }
    accumulate_block<R, T>(qw, aw, wd, at, d_offset, b, acc[p]);
  };
  int64_t b = 0;
  for (; b + 1 < n_blocks; b += 2) {
    block(b, 0);
    block(b + 1, 1);
  }
  float out[R][T];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) out[i][j] = hsum8(_mm256_add_ps(acc[0][i][j], acc[1][i][j]));
  if (b < n_blocks) {
    // The odd last block: its 32 products summed exactly, one fused step onto the result.
    for (int i = 0; i < R; ++i) {
      const uint8_t* blk = wr + i * row_bytes + b * kMxBlockBytes;
      const float wd = mxfp4_half_scale(blk[0]);
      const __m256i qw = mxfp4_codes(blk, table);
      const __m256i aw = _mm256_sign_epi8(qw, qw);
      for (int j = 0; j < T; ++j) {
        const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[j] + 32 * b));
        float xd;
        std::memcpy(&xd, at[j] + d_offset + 4 * static_cast<size_t>(b), 4);
        const __m256i s8 =
            _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(qx, qw)), ones);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
        s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
        const float sum = static_cast<float>(_mm_cvtsi128_si32(s4));
        out[i][j] = _mm_cvtss_f32(
            _mm_fmadd_ss(_mm_set_ss(xd * wd), _mm_set_ss(sum), _mm_set_ss(out[i][j])));
      }
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[(t0 + j) * ldy + r + i] = out[i][j];
}

template <int R>
void rows_mxfp4(const uint8_t* wr, size_t row_bytes, const uint8_t* act, const ActLayout& l,
                int64_t n_tokens, float* y, int64_t ldy, int64_t r) {
  int64_t t = 0;
  for (; t + 4 <= n_tokens; t += 4)
    tile_mxfp4<R, 4>(wr, row_bytes, act, l.stride, l.d_offset, l.n_blocks, y, ldy, r, t);
  for (; t < n_tokens; ++t)
    tile_mxfp4<R, 1>(wr, row_bytes, act, l.stride, l.d_offset, l.n_blocks, y, ldy, r, t);
}

// Groups of 4 tokens take 2 rows per step (8 accumulators), single tokens 4 rows (decoding: each
// activation load serves 4 rows); both fit AVX2's 16 registers and give the same bits.
template <int R, int T, bool kQ5>
void rows(const uint8_t* wr, size_t row_bytes, const uint8_t* act, const ActLayout& l,
          int64_t t_begin, int64_t t_end, float* y, int64_t ldy, int64_t r) {
  for (int64_t t = t_begin; t + T <= t_end; t += T)
    tile<R, T, kQ5>(wr, row_bytes, act, l.stride, l.d_offset, l.n_blocks, y, ldy, r, t);
}

template <int R, int T, bool kQ5>
void row_steps(const uint8_t* wbase, size_t row_bytes, const uint8_t* act, const ActLayout& l,
               int64_t t_begin, int64_t t_end, float* y, int64_t ldy, int64_t row_begin,
               int64_t row_end) {
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R)
    rows<R, T, kQ5>(wbase + static_cast<size_t>(r) * row_bytes, row_bytes, act, l, t_begin, t_end,
                    y, ldy, r);
  for (; r < row_end; ++r)
    rows<1, T, kQ5>(wbase + static_cast<size_t>(r) * row_bytes, row_bytes, act, l, t_begin, t_end,
                    y, ldy, r);
}

// Q6_K (210-byte super-blocks: ql[128], qh[64], int8 scales[16], fp16 d; ggml_vec_dot_q6_K_q8_K's
// order): per super-block and token, the 8 groups of 32 columns give 8 int32 lanes each (lane l:
// columns 4l .. 4l + 3 of the group, as scale * (code - 32) * x, exact: code * x in pairs by
// vpmaddubsw minus 32 * x in pairs, then times the scale in fours by vpmaddwd), summed over the
// groups; one FMA per lane with fp16(d) * x.d; the Q8_0 tree at the end. One weight row's block
// is decoded once for T tokens.
constexpr int64_t kQ6BlockBytes = 210;

template <int T>
EMBER_INLINE void tile_q6_k(const uint8_t* wr, const uint8_t* act, size_t stride, size_t d_offset,
                            int64_t n_blocks, float* y, int64_t ldy, int64_t r, int64_t t0) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(3);
  const __m256i m32 = _mm256_set1_epi8(32);
  const uint8_t* at[T];
  for (int j = 0; j < T; ++j) at[j] = act + static_cast<size_t>(t0 + j) * stride;
  __m256 acc[T];
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* blk = wr + b * kQ6BlockBytes;
    // code[g]: the 6-bit codes of columns 32g .. 32g + 31, one per byte, in column order.
    __m256i code[8];
    for (int h = 0; h < 2; ++h) {
      const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h));
      const __m256i q2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * h + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * h));
      auto high = [&](int shift) {
        return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, shift), m2), 4);
      };
      code[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(q1, m4), high(0));
      code[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(q2, m4), high(2));
      code[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q1, 4), m4), high(4));
      code[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q2, 4), m4), high(6));
    }
    // scale[g]: 16-bit lanes 0-7 (columns 32g .. 32g + 15) scale 2g, lanes 8-15 scale 2g + 1.
    const auto* sc = reinterpret_cast<const int8_t*>(blk + 192);
    __m256i scale[8];
    for (int g = 0; g < 8; ++g) {
      scale[g] = _mm256_set_m128i(_mm_set1_epi16(sc[2 * g + 1]), _mm_set1_epi16(sc[2 * g]));
    }
    uint16_t hd;
    std::memcpy(&hd, blk + 208, 2);
    const float wd = _cvtsh_ss(hd);
    for (int j = 0; j < T; ++j) {
      __m256i sumi = _mm256_setzero_si256();
      for (int g = 0; g < 8; ++g) {
        const __m256i qx =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[j] + 256 * b + 32 * g));
        const __m256i p =
            _mm256_sub_epi16(_mm256_maddubs_epi16(code[g], qx), _mm256_maddubs_epi16(m32, qx));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale[g], p));
      }
      float xd;
      std::memcpy(&xd, at[j] + d_offset + 4 * static_cast<size_t>(b), 4);
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(wd * xd), _mm256_cvtepi32_ps(sumi), acc[j]);
    }
  }
  for (int j = 0; j < T; ++j) y[(t0 + j) * ldy + r] = hsum8(acc[j]);
}

// Q4_K (144-byte super-blocks: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes
// of nibbles) as the reference's repacked 8-row kernels multiply it: per super-block and token
// the exact integers isc = sum_j scale_j * dot(codes_j, x_j) (vpmaddubsw in pairs, vpmaddwd with
// the scale, added as int32) and imin = sum_j min_j * (sum of x_j, the activations' 32-code
// sums), then one scalar FMA each into two chains; the result is their difference. One weight
// row's block is decoded once for T tokens.
constexpr int64_t kQ4KBlockBytes = 144;

template <int T>
EMBER_INLINE void tile_q4_k(const uint8_t* wr, const uint8_t* act, const ActLayout& l, float* y,
                            int64_t ldy, int64_t r, int64_t t0) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const uint8_t* at[T];
  for (int j = 0; j < T; ++j) at[j] = act + static_cast<size_t>(t0 + j) * l.stride;
  float acc[T], acc_min[T];
  for (int j = 0; j < T; ++j) acc[j] = acc_min[j] = 0.0f;
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + b * kQ4KBlockBytes;
    uint16_t hd, hm;
    std::memcpy(&hd, blk, 2);
    std::memcpy(&hm, blk + 2, 2);
    const float wd = _cvtsh_ss(hd), wdmin = _cvtsh_ss(hm);
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; ++s) kquant::unpack_scale_min_k4(s, blk + 4, &sc[s], &mn[s]);
    // code[s]: the codes of sub-block s (columns 32s .. 32s + 31).
    __m256i code[8];
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
      code[2 * c] = _mm256_and_si256(q, m4);
      code[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    }
    for (int j = 0; j < T; ++j) {
      __m256i isum = _mm256_setzero_si256();
      for (int s = 0; s < 8; ++s) {
        const __m256i qx =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[j] + 256 * b + 32 * s));
        isum = _mm256_add_epi32(
            isum, _mm256_madd_epi16(_mm256_set1_epi16(sc[s]), _mm256_maddubs_epi16(code[s], qx)));
      }
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(isum), _mm256_extracti128_si256(isum, 1));
      s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
      const int32_t isc = _mm_cvtsi128_si32(s4);
      int16_t bsum32[8];
      std::memcpy(bsum32, at[j] + l.aux2_offset + 16 * static_cast<size_t>(b), sizeof bsum32);
      int32_t imin = 0;
      for (int s = 0; s < 8; ++s) imin += mn[s] * bsum32[s];
      float xd;
      std::memcpy(&xd, at[j] + l.d_offset + 4 * static_cast<size_t>(b), 4);
      acc[j] = std::fma(static_cast<float>(isc), wd * xd, acc[j]);
      acc_min[j] = std::fma(static_cast<float>(imin), wdmin * xd, acc_min[j]);
    }
  }
  for (int j = 0; j < T; ++j) y[(t0 + j) * ldy + r] = acc[j] - acc_min[j];
}

}  // namespace

void avx2_q4_k_repacked(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y,
                        int64_t ldy, int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kQ4_K, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) tile_q4_k<4>(wr, act, l, y, ldy, r, t);
    for (; t < n_tokens; ++t) tile_q4_k<1>(wr, act, l, y, ldy, r, t);
  }
}

void avx2_q6_k_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kQ6_K, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4)
      tile_q6_k<4>(wr, act, l.stride, l.d_offset, l.n_blocks, y, ldy, r, t);
    for (; t < n_tokens; ++t) tile_q6_k<1>(wr, act, l.stride, l.d_offset, l.n_blocks, y, ldy, r, t);
  }
}

void avx2_mxfp4_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                      int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kMXFP4, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  int64_t r = row_begin;
  for (; r + 2 <= row_end; r += 2) {
    rows_mxfp4<2>(wbase + static_cast<size_t>(r) * w.row_bytes, w.row_bytes, act, l, n_tokens, y,
                  ldy, r);
  }
  for (; r < row_end; ++r) {
    rows_mxfp4<1>(wbase + static_cast<size_t>(r) * w.row_bytes, w.row_bytes, act, l, n_tokens, y,
                  ldy, r);
  }
}

void avx2_q8_0_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kQ8_0, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  const int64_t t4 = n_tokens / 4 * 4;
  row_steps<2, 4, false>(wbase, w.row_bytes, act, l, 0, t4, y, ldy, row_begin, row_end);
  row_steps<4, 1, false>(wbase, w.row_bytes, act, l, t4, n_tokens, y, ldy, row_begin, row_end);
}

void avx2_q5_0_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kQ5_0, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  const int64_t t4 = n_tokens / 4 * 4;
  row_steps<2, 4, true>(wbase, w.row_bytes, act, l, 0, t4, y, ldy, row_begin, row_end);
  row_steps<4, 1, true>(wbase, w.row_bytes, act, l, t4, n_tokens, y, ldy, row_begin, row_end);
}

}  // namespace ember::kernels::x86
