// F32 weights, AVX-512: the "gemm" summation order of matmul_internal.h with one 16-lane vector
// per (row, token) output, so each lane is exactly one of the order's 16 FMA chains.
// Register blocks of 4 rows x 4 tokens (16 accumulators); every output sees the same operations
// whatever block it falls in.
// GCC 12: see simd_avx512.h (bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/static_for.h"

namespace ember::kernels::x86 {
namespace {

// Lanes l + 8 onto l, then l + 4, then (0 + 2) + (1 + 3): f32_reduce16.
EMBER_INLINE float reduce16(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 t8 = _mm256_add_ps(lo, hi);
  const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
  const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
  return _mm_cvtss_f32(_mm_add_ss(t2, _mm_movehdup_ps(t2)));
}

template <int R, int T>
EMBER_INLINE void block(const Weights& w, const float* x, int64_t x_stride, float* y, int64_t ldy,
                        int64_t r, int64_t t) {
  const float* wr[R];
  for (int i = 0; i < R; ++i) {
    wr[i] = reinterpret_cast<const float*>(static_cast<const uint8_t*>(w.data) +
                                           static_cast<size_t>(r + i) * w.row_bytes);
  }
  const float* xt[T];
  for (int j = 0; j < T; ++j) xt[j] = x + (t + j) * x_stride;
  __m512 acc[R][T];
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < T; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < w.cols; c += 16) {
    __m512 xv[T];
    for (int j = 0; j < T; ++j) xv[j] = _mm512_loadu_ps(xt[j] + c);
    for (int i = 0; i < R; ++i) {
      const __m512 wv = _mm512_loadu_ps(wr[i] + c);
      for (int j = 0; j < T; ++j) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < T; ++j) y[(t + j) * ldy + r + i] = reduce16(acc[i][j]);
  }
}

template <int R>
void rows(const Weights& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
          int64_t ldy, int64_t r) {
  int64_t t = 0;
  for (; t + 4 <= n_tokens; t += 4) block<R, 4>(w, x, x_stride, y, ldy, r, t);
  for (; t < n_tokens; ++t) block<R, 1>(w, x, x_stride, y, ldy, r, t);
}

}  // namespace

void avx512_f32_gemm(const Weights& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                     int64_t ldy, int64_t row_begin, int64_t row_end) {
  int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) rows<4>(w, x, x_stride, n_tokens, y, ldy, r);
  for (; r < row_end; ++r) rows<1>(w, x, x_stride, n_tokens, y, ldy, r);
}

}  // namespace ember::kernels::x86
