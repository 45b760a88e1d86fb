// Q5_1 and Q5_K weights in the reference's 8-lane orders (matmul_internal.h q5_1_dot_lanes /
// q5_k_dot_lanes, WeightForm::kReferenceOrder), AVX2; every x86 Isa runs these. Both keep, beside
// the 8 FMA lane chains, one scalar FMA chain per output for the blocks' offsets (Q5_1: m * a.s;
// Q5_K: -(a.d * dmin) * the exact min sum), added after the lane reduction. The integer sums are
// exact (codes 0..31 times int8 in pairs by vpmaddubsw: at most 2 * 31 * 128, no saturation), so
// every output sees the same float operations whatever tile it falls in: a row's bits do not
// depend on the token count or the row range.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/act_layout.h"
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/reference_avx2.h"
#include "kernels/x86/static_for.h"
#include "tensor/k_scales.h"

namespace ember::kernels::x86 {
namespace {

using reference_avx2::hsum8;
using reference_avx2::q5_codes;

// Q5_1 (24-byte blocks: fp16 d, fp16 m, 32 fifth bits, 16 bytes of nibbles; low nibbles are
// columns 0..15, high nibbles 16..31, bit k of the 32-bit qh the fifth bit of column k): the 32
// unsigned codes (0..31) of one block.
constexpr int64_t kQ5_1BlockBytes = 24;

EMBER_INLINE __m256i q5_1_codes(const uint8_t* blk) {
  return q5_codes(blk + 8, blk + 4);
}

// R consecutive Q5_1 weight rows from r times T consecutive tokens from t0 (Q8_1 activations).
template <int R, int T>
EMBER_INLINE void tile_q5_1(const uint8_t* wr, size_t row_bytes, const uint8_t* act,
                            const ActLayout& l, float* y, int64_t ldy, int64_t r, int64_t t0) {
  const __m256i ones = _mm256_set1_epi16(1);
  const uint8_t* at[T];
  for (int j = 0; j < T; ++j) at[j] = act + static_cast<size_t>(t0 + j) * l.stride;
  __m256 acc[R][T];
  float summs[R][T];
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < T; ++j) {
      acc[i][j] = _mm256_setzero_ps();
      summs[i][j] = 0.0f;
    }
  }
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    __m256i code[R];
    float wd[R], wm[R];
    for (int i = 0; i < R; ++i) {
      const uint8_t* blk = wr + i * row_bytes + b * kQ5_1BlockBytes;
      uint16_t h[2];
      std::memcpy(h, blk, 4);
      wd[i] = _cvtsh_ss(h[0]);
      wm[i] = _cvtsh_ss(h[1]);
      code[i] = q5_1_codes(blk);
    }
    for (int j = 0; j < T; ++j) {
      const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[j] + 32 * b));
      float xd, xs;
      std::memcpy(&xd, at[j] + l.d_offset + 4 * static_cast<size_t>(b), 4);
      std::memcpy(&xs, at[j] + l.aux_offset + 4 * static_cast<size_t>(b), 4);
      for (int i = 0; i < R; ++i) {
        const __m256i sums = _mm256_madd_epi16(_mm256_maddubs_epi16(code[i], qx), ones);
        acc[i][j] =
            _mm256_fmadd_ps(_mm256_set1_ps(wd[i] * xd), _mm256_cvtepi32_ps(sums), acc[i][j]);
        summs[i][j] = std::fma(wm[i], xs, summs[i][j]);
      }
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < T; ++j) y[(t0 + j) * ldy + r + i] = hsum8(acc[i][j]) + summs[i][j];
}

template <int R, int T>
void q5_1_row_steps(const uint8_t* wbase, size_t row_bytes, const uint8_t* act, const ActLayout& l,
                    int64_t t_begin, int64_t t_end, float* y, int64_t ldy, int64_t row_begin,
                    int64_t row_end) {
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R) {
    for (int64_t t = t_begin; t + T <= t_end; t += T)
      tile_q5_1<R, T>(wbase + static_cast<size_t>(r) * row_bytes, row_bytes, act, l, y, ldy, r, t);
  }
  for (; r < row_end; ++r) {
    for (int64_t t = t_begin; t + T <= t_end; t += T)
      tile_q5_1<1, T>(wbase + static_cast<size_t>(r) * row_bytes, row_bytes, act, l, y, ldy, r, t);
  }
}

// Q5_K (176-byte super-blocks: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins, qh[32],
// qs[128]; element 32s + l: nibble s % 2 of qs[32 (s / 2) + l], fifth bit s of qh[l]): per
// super-block and token, sub-block s gives 8 int32 lanes (lane l: its elements 4l .. 4l + 3 as
// scale_s * code * x: vpmaddubsw in pairs, vpmaddwd with the scale), summed over the sub-blocks;
// one FMA per lane with a.d * fp16(d), and one scalar FMA of -(a.d * fp16(dmin)) with the exact
// sum of min_s times the activations' 32-code sums. One weight row's block is decoded once for T
// tokens.
constexpr int64_t kQ5KBlockBytes = 176;

template <int T>
EMBER_INLINE void tile_q5_k(const uint8_t* wr, const uint8_t* act, const ActLayout& l, float* y,
                            int64_t ldy, int64_t r, int64_t t0) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i one = _mm256_set1_epi8(1);
  const uint8_t* at[T];
  for (int j = 0; j < T; ++j) at[j] = act + static_cast<size_t>(t0 + j) * l.stride;
  __m256 acc[T];
  float summs[T];
  for (int j = 0; j < T; ++j) {
    acc[j] = _mm256_setzero_ps();
    summs[j] = 0.0f;
  }
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const uint8_t* blk = wr + b * kQ5KBlockBytes;
    uint16_t hd, hm;
    std::memcpy(&hd, blk, 2);
    std::memcpy(&hm, blk + 2, 2);
    const float wd = _cvtsh_ss(hd), wdmin = _cvtsh_ss(hm);
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; ++s) kquant::unpack_scale_min_k4(s, blk + 4, &sc[s], &mn[s]);
    // code[s]: the codes of sub-block s (elements 32s .. 32s + 31), one per byte, in order.
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16));
    auto high = [&](int s) {
      return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, s), one), 4);
    };
    __m256i code[8];
    for (int c = 0; c < 4; ++c) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48 + 32 * c));
      code[2 * c] = _mm256_or_si256(_mm256_and_si256(q, m4), high(2 * c));
      code[2 * c + 1] =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), high(2 * c + 1));
    }
    for (int j = 0; j < T; ++j) {
      __m256i sumi = _mm256_setzero_si256();
      for (int s = 0; s < 8; ++s) {
        const __m256i qx =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[j] + 256 * b + 32 * s));
        sumi = _mm256_add_epi32(
            sumi, _mm256_madd_epi16(_mm256_set1_epi16(sc[s]), _mm256_maddubs_epi16(code[s], qx)));
      }
      int16_t bsum32[8];
      std::memcpy(bsum32, at[j] + l.aux2_offset + 16 * static_cast<size_t>(b), sizeof bsum32);
      int32_t imin = 0;
      for (int s = 0; s < 8; ++s) imin += mn[s] * bsum32[s];
      float xd;
      std::memcpy(&xd, at[j] + l.d_offset + 4 * static_cast<size_t>(b), 4);
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(xd * wd), _mm256_cvtepi32_ps(sumi), acc[j]);
      summs[j] = std::fma(-(xd * wdmin), static_cast<float>(imin), summs[j]);
    }
  }
  for (int j = 0; j < T; ++j) y[(t0 + j) * ldy + r] = hsum8(acc[j]) + summs[j];
}

}  // namespace

void avx2_q5_1_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kQ5_1, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  // Groups of 4 tokens take 2 rows per step, single tokens 4 rows (as the Q8_0 kernel).
  const int64_t t4 = n_tokens / 4 * 4;
  q5_1_row_steps<2, 4>(wbase, w.row_bytes, act, l, 0, t4, y, ldy, row_begin, row_end);
  q5_1_row_steps<4, 1>(wbase, w.row_bytes, act, l, t4, n_tokens, y, ldy, row_begin, row_end);
}

void avx2_q5_k_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kQ5_K, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) tile_q5_k<4>(wr, act, l, y, ldy, r, t);
    for (; t < n_tokens; ++t) tile_q5_k<1>(wr, act, l, y, ldy, r, t);
  }
}

}  // namespace ember::kernels::x86
