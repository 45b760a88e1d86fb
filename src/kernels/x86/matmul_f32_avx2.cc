// F32 weights, AVX2: the "gemm" summation order of matmul_internal.h with two 8-lane vectors per
// (row, token) output (lanes 0-7 and 8-15 of the order's 16 FMA chains). Register blocks of
// 2 rows x 2 tokens; every output sees the same operations whatever block it falls in.
#include <immintrin.h>

#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/static_for.h"

namespace ember::kernels::x86 {
namespace {

// Lanes l + 8 onto l (hi onto lo), then l + 4, then (0 + 2) + (1 + 3): f32_reduce16.
EMBER_INLINE float reduce16(__m256 lo, __m256 hi) {
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
  __m256 lo[R][T], hi[R][T];
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < T; ++j) lo[i][j] = hi[i][j] = _mm256_setzero_ps();
  }
  for (int64_t c = 0; c < w.cols; c += 16) {
    __m256 xl[T], xh[T];
    for (int j = 0; j < T; ++j) {
      xl[j] = _mm256_loadu_ps(xt[j] + c);
      xh[j] = _mm256_loadu_ps(xt[j] + c + 8);
    }
    for (int i = 0; i < R; ++i) {
      const __m256 wl = _mm256_loadu_ps(wr[i] + c), wh = _mm256_loadu_ps(wr[i] + c + 8);
      for (int j = 0; j < T; ++j) {
        lo[i][j] = _mm256_fmadd_ps(wl, xl[j], lo[i][j]);
        hi[i][j] = _mm256_fmadd_ps(wh, xh[j], hi[i][j]);
      }
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < T; ++j) y[(t + j) * ldy + r + i] = reduce16(lo[i][j], hi[i][j]);
  }
}

template <int R>
void rows(const Weights& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
          int64_t ldy, int64_t r) {
  int64_t t = 0;
  for (; t + 2 <= n_tokens; t += 2) block<R, 2>(w, x, x_stride, y, ldy, r, t);
  for (; t < n_tokens; ++t) block<R, 1>(w, x, x_stride, y, ldy, r, t);
}

}  // namespace

void avx2_f32_gemm(const Weights& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                   int64_t ldy, int64_t row_begin, int64_t row_end) {
  int64_t r = row_begin;
  for (; r + 2 <= row_end; r += 2) rows<2>(w, x, x_stride, n_tokens, y, ldy, r);
  for (; r < row_end; ++r) rows<1>(w, x, x_stride, n_tokens, y, ldy, r);
}

}  // namespace ember::kernels::x86
