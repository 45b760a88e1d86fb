// AVX-512 (F + BW + DQ) variants of kernels/ops.h. Compiled with AVX-512 flags only; reached
// through ops(Isa::kAvx512) after run-time detection. Bit-identical to ops_scalar.cc, which
// emulates these lanes.
//
// GCC 12's AVX-512 headers trip -Wuninitialized on their internal _mm512_undefined_*() values
// (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_common.h"
#include "kernels/rows.h"
#include "kernels/x86/gelu_avx512.h"
#include "kernels/x86/static_for.h"  // EMBER_INLINE
#include "kernels/x86/transpose_x86.h"
#include "tensor/blocks_legacy.h"  // block layout constants only

namespace ember::kernels {
namespace {

inline __mmask16 tail_mask(int64_t remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xffff)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

// The 16-lane sum tree of ops_scalar.cc's reduce16: halves, quarters, then pairs.
inline float reduce16(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 t8 = _mm256_add_ps(hi, lo);
  const __m128 t4 = _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
  const __m128 t2 = _mm_add_ps(t4, _mm_shuffle_ps(t4, t4, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, _MM_SHUFFLE(1, 1, 1, 1))));
}

inline double reduce8d(__m512d v) {
  const __m256d t4 = _mm256_add_pd(_mm512_extractf64x4_pd(v, 1), _mm512_castpd512_pd256(v));
  const __m128d t2 = _mm_add_pd(_mm256_extractf128_pd(t4, 1), _mm256_castpd256_pd128(t4));
  return _mm_cvtsd_f64(_mm_add_sd(t2, _mm_unpackhi_pd(t2, t2)));
}

// vexp_lane (ops_common.h) on 16 lanes.
inline __m512 vexp(__m512 x) {
  const __m512 shift = _mm512_set1_ps(kExpShift);
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(kExpLog2e), shift);
  const __m512 n = _mm512_sub_ps(z, shift);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(kExpLn2Lo),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(kExpLn2Hi), x));
  const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(kExpC0), b, _mm512_set1_ps(kExpC1)), u,
                      _mm512_fmadd_ps(_mm512_set1_ps(kExpC2), b, _mm512_set1_ps(kExpC3))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(kExpC4), b, _mm512_set1_ps(1.0f)));
  const __m512 res = _mm512_scalef_ps(j, n);
  if (big == 0) return res;
  const __m512 zero = _mm512_setzero_ps();
  const __m512 alt =
      _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, zero, _CMP_LE_OQ),
                           _mm512_set1_ps(std::numeric_limits<float>::infinity()), zero);
  return _mm512_mask_blend_ps(big, res, alt);
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m512d acc0 = _mm512_setzero_pd();
  __m512d acc1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
    const __m512 sq = _mm512_mul_ps(v, v);
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    acc1 = _mm512_add_pd(
        acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
  }
  const double sum = reduce8d(_mm512_add_pd(acc0, acc1));
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const __m512 s = _mm512_set1_ps(1.0f / __builtin_sqrtf(mean + eps));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    if (w != nullptr) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

void scale(float* x, float a, int64_t n) {
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), va));
  }
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(
        y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
  }
}

void silu_mul(float* g, const float* u, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const int64_t nv = n & ~int64_t{15};
  for (int64_t i = 0; i < nv; i += 16) {
    const __m512 x = _mm512_loadu_ps(g + i);
    const __m512 e = vexp(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
    _mm512_storeu_ps(g + i, _mm512_mul_ps(s, _mm512_loadu_ps(u + i)));
  }
  for (int64_t i = nv; i < n; ++i) {
    const float x = g[i];
    g[i] = (x / (1.0f + __builtin_expf(-x))) * u[i];
  }
}

void gelu_mul(float* g, const float* u, int64_t n) {
  const float* table = gelu_half_table();
  const __m512 lo = _mm512_set1_ps(-10.0f);
  const __m512 hi = _mm512_set1_ps(10.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
    const __m512i idx = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
    __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, table, 4);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, hi, _CMP_GE_OQ), v, x);
    v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, u + i));
    // Below -10 the result is +0 (not multiplied, so never -0).
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, lo, _CMP_LE_OQ), v, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(g + i, m, v);
  }
}

void softcap(float* x, float cap, int64_t n) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = __builtin_tanhf(x[i] * inv) * cap;
}

double softmax(float* x, float max, int64_t n) {
  const __m512 vm = _mm512_set1_ps(max);
  double sum = 0.0;
  const int64_t nv = n & ~int64_t{15};
  for (int64_t i = 0; i < nv; i += 16) {
    const __m512 e = vexp(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
    _mm512_storeu_ps(x + i, e);
    sum += static_cast<double>(reduce16(e));
  }
  for (int64_t i = nv; i < n; ++i) {
    x[i] = __builtin_expf(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  return sum;
}

float vmax(const float* x, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 acc = ninf;
  for (int64_t i = 0; i < n; i += 16) {
    acc = _mm512_max_ps(acc, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
  }
  return _mm512_reduce_max_ps(acc);
}

inline __m512 load_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_f16(__mmask16 m, const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

inline float combine4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  a0 = _mm512_add_ps(a0, a2);
  a1 = _mm512_add_ps(a1, a3);
  return reduce16(_mm512_add_ps(a0, a1));
}

float dot_f16(const float* q, const uint16_t* k, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  double sum = 0.0;
  if (np > 0) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < np; i += 64) {
      a0 = _mm512_fmadd_ps(load_f16(k + i), _mm512_loadu_ps(q + i), a0);
      a1 = _mm512_fmadd_ps(load_f16(k + i + 16), _mm512_loadu_ps(q + i + 16), a1);
      a2 = _mm512_fmadd_ps(load_f16(k + i + 32), _mm512_loadu_ps(q + i + 32), a2);
      a3 = _mm512_fmadd_ps(load_f16(k + i + 48), _mm512_loadu_ps(q + i + 48), a3);
    }
    sum = combine4(a0, a1, a2, a3);
  }
  for (int64_t i = np; i < n; ++i) {
    sum += static_cast<double>(_cvtsh_ss(k[i]) * q[i]);
  }
  return static_cast<float>(sum);
}

float dot_f32(const float* q, const float* k, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float sum = 0.0f;
  if (np > 0) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t i = 0; i < np; i += 64) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(k + i), _mm512_loadu_ps(q + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(k + i + 16), _mm512_loadu_ps(q + i + 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(k + i + 32), _mm512_loadu_ps(q + i + 32), a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(k + i + 48), _mm512_loadu_ps(q + i + 48), a3);
    }
    sum = combine4(a0, a1, a2, a3);
  }
  for (int64_t i = np; i < n; ++i) sum = __builtin_fmaf(k[i], q[i], sum);
  return sum;
}

void f16_scale(uint16_t* acc, float s, int64_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 v = _mm512_mul_ps(load_f16(m, acc + i), vs);
    _mm256_mask_storeu_epi16(acc + i, m, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
}

void f16_mad(uint16_t* acc, const uint16_t* v, float s, int64_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 r = _mm512_fmadd_ps(load_f16(m, v + i), vs, load_f16(m, acc + i));
    _mm256_mask_storeu_epi16(acc + i, m, _mm512_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT));
  }
}

void f32_mad(float* acc, const float* v, float s, int64_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(
        acc + i, m,
        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, v + i), vs, _mm512_maskz_loadu_ps(m, acc + i)));
  }
}

// The register block of gemm_4x64 and gemm_f16b_4x64: C[4 x 64] += A[4 x k] * B[k x 64], B's
// 16-column vector q of row kk given by load_b(kk, q); each element an FMA chain over k
// ascending. 16 accumulators in named registers (GCC keeps arrays of vectors in memory here,
// storing every accumulator on every step). kMasked: C's vector q is read and written under
// m[q] (columns past the block's width untouched); otherwise whole. kZero: the chains start from
// zero instead of C (C = A B; C is not read).
template <bool kMasked, class LoadB, bool kZero = false>
EMBER_INLINE void block_4x64(float* c, int64_t ldc, const float* a, int64_t lda, int64_t k,
                             const __mmask16 (&m)[4], LoadB load_b) {
  auto ld = [&](const float* p, int q) __attribute__((always_inline)) {
    if constexpr (kZero) return _mm512_setzero_ps();
    if constexpr (kMasked) return _mm512_maskz_loadu_ps(m[q], p + 16 * q);
    return _mm512_loadu_ps(p + 16 * q);
  };
  auto st = [&](float* p, int q, __m512 v) __attribute__((always_inline)) {
    if constexpr (kMasked) {
      _mm512_mask_storeu_ps(p + 16 * q, m[q], v);
    } else {
      _mm512_storeu_ps(p + 16 * q, v);
    }
  };
  float* c0 = c;
  float* c1 = c + ldc;
  float* c2 = c + 2 * ldc;
  float* c3 = c + 3 * ldc;
  __m512 x00 = ld(c0, 0), x01 = ld(c0, 1), x02 = ld(c0, 2), x03 = ld(c0, 3);
  __m512 x10 = ld(c1, 0), x11 = ld(c1, 1), x12 = ld(c1, 2), x13 = ld(c1, 3);
  __m512 x20 = ld(c2, 0), x21 = ld(c2, 1), x22 = ld(c2, 2), x23 = ld(c2, 3);
  __m512 x30 = ld(c3, 0), x31 = ld(c3, 1), x32 = ld(c3, 2), x33 = ld(c3, 3);
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m512 b0 = load_b(kk, 0), b1 = load_b(kk, 1);
    const __m512 b2 = load_b(kk, 2), b3 = load_b(kk, 3);
    __m512 p = _mm512_set1_ps(a[kk]);
    x00 = _mm512_fmadd_ps(p, b0, x00);
    x01 = _mm512_fmadd_ps(p, b1, x01);
    x02 = _mm512_fmadd_ps(p, b2, x02);
    x03 = _mm512_fmadd_ps(p, b3, x03);
    p = _mm512_set1_ps(a[lda + kk]);
    x10 = _mm512_fmadd_ps(p, b0, x10);
    x11 = _mm512_fmadd_ps(p, b1, x11);
    x12 = _mm512_fmadd_ps(p, b2, x12);
    x13 = _mm512_fmadd_ps(p, b3, x13);
    p = _mm512_set1_ps(a[2 * lda + kk]);
    x20 = _mm512_fmadd_ps(p, b0, x20);
    x21 = _mm512_fmadd_ps(p, b1, x21);
    x22 = _mm512_fmadd_ps(p, b2, x22);
    x23 = _mm512_fmadd_ps(p, b3, x23);
    p = _mm512_set1_ps(a[3 * lda + kk]);
    x30 = _mm512_fmadd_ps(p, b0, x30);
    x31 = _mm512_fmadd_ps(p, b1, x31);
    x32 = _mm512_fmadd_ps(p, b2, x32);
    x33 = _mm512_fmadd_ps(p, b3, x33);
  }
  st(c0, 0, x00), st(c0, 1, x01), st(c0, 2, x02), st(c0, 3, x03);
  st(c1, 0, x10), st(c1, 1, x11), st(c1, 2, x12), st(c1, 3, x13);
  st(c2, 0, x20), st(c2, 1, x21), st(c2, 2, x22), st(c2, 3, x23);
  st(c3, 0, x30), st(c3, 1, x31), st(c3, 2, x32), st(c3, 3, x33);
}

// C[4 x 64] += A[4 x k] * B[k x 64] (kZero: C = A B).
template <bool kZero>
inline void gemm_4x64(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                      int64_t ldb, int64_t k) {
  constexpr __mmask16 kAll[4] = {0xffff, 0xffff, 0xffff, 0xffff};  // not read: unmasked block
  auto load_b = [&](int64_t kk, int q) __attribute__((always_inline)) {
    return _mm512_loadu_ps(b + kk * ldb + 16 * q);
  };
  block_4x64<false, decltype(load_b), kZero>(c, ldc, a, lda, k, kAll, load_b);
}

// C[R x w] += A[R x k] * B[k x w] for w <= 32 columns (masked: the narrow blocks attention over
// short sequences has, e.g. P . V with 32-wide heads): 2R independent FMA chains instead of
// gemm_row's 2, with each element the same FMA chain over k ascending (kZero: from zero). R = 8
// halves the B loads per FMA for blocks with many rows.
template <int R, bool kZero>
inline void gemm_rx32_masked(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                             int64_t ldb, int64_t k, int64_t w) {
  const __mmask16 m0 = tail_mask(w);
  const __mmask16 m1 = w > 16 ? tail_mask(w - 16) : static_cast<__mmask16>(0);
  __m512 x[R][2];
  x86::static_for<R>([&](auto i) {
    x[i][0] = kZero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, c + i * ldc);
    x[i][1] = kZero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
  });
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* bk = b + kk * ldb;
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, bk), b1 = _mm512_maskz_loadu_ps(m1, bk + 16);
    x86::static_for<R>([&](auto i) {
      const __m512 p = _mm512_set1_ps(a[i * lda + kk]);
      x[i][0] = _mm512_fmadd_ps(p, b0, x[i][0]);
      x[i][1] = _mm512_fmadd_ps(p, b1, x[i][1]);
    });
  }
  x86::static_for<R>([&](auto i) {
    _mm512_mask_storeu_ps(c + i * ldc, m0, x[i][0]);
    _mm512_mask_storeu_ps(c + i * ldc + 16, m1, x[i][1]);
  });
}

// One row of C, columns [0, n) with n <= 64 (the edges of the blocked loop).
template <bool kZero>
inline void gemm_row(float* c, const float* a, const float* b, int64_t ldb, int64_t k, int64_t n) {
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = tail_mask(n - j);
    __m512 x = kZero ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, c + j);
    for (int64_t kk = 0; kk < k; ++kk) {
      x = _mm512_fmadd_ps(_mm512_set1_ps(a[kk]), _mm512_maskz_loadu_ps(m, b + kk * ldb + j), x);
    }
    _mm512_mask_storeu_ps(c + j, m, x);
  }
}

template <bool kZero>
void gemm_blocks(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
                 int64_t m, int64_t k, int64_t n) {
  for (int64_t j = 0; j < n; j += 64) {
    const int64_t w = n - j < 64 ? n - j : 64;
    int64_t i = 0;
    if (w == 64) {
      for (; i + 4 <= m; i += 4) {
        gemm_4x64<kZero>(c + i * ldc + j, ldc, a + i * lda, lda, b + j, ldb, k);
      }
    } else {
      for (; i + 8 <= m; i += 8) {
        for (int64_t jj = 0; jj < w; jj += 32) {
          gemm_rx32_masked<8, kZero>(c + i * ldc + j + jj, ldc, a + i * lda, lda, b + j + jj, ldb,
                                     k, w - jj < 32 ? w - jj : 32);
        }
      }
      for (; i + 4 <= m; i += 4) {
        for (int64_t jj = 0; jj < w; jj += 32) {
          gemm_rx32_masked<4, kZero>(c + i * ldc + j + jj, ldc, a + i * lda, lda, b + j + jj, ldb,
                                     k, w - jj < 32 ? w - jj : 32);
        }
      }
    }
    for (; i < m; ++i) gemm_row<kZero>(c + i * ldc + j, a + i * lda, b + j, ldb, k, w);
  }
}

void gemm_acc(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
              int64_t m, int64_t k, int64_t n) {
  gemm_blocks<false>(c, ldc, a, lda, b, ldb, m, k, n);
}

void gemm(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
          int64_t m, int64_t k, int64_t n) {
  gemm_blocks<true>(c, ldc, a, lda, b, ldb, m, k, n);
}

// C[4 x w] += A[4 x k] * B (F16 rows b[kk] + j), w <= 64 columns (masked): gemm_4x64's FMA
// chains with the value rows widened on the fly.
inline void gemm_f16b_4x64(float* c, int64_t ldc, const float* a, int64_t lda,
                           const uint16_t* const* b, int64_t j, int64_t k, int64_t w) {
  const __mmask16 m[4] = {tail_mask(w), w > 16 ? tail_mask(w - 16) : static_cast<__mmask16>(0),
                          w > 32 ? tail_mask(w - 32) : static_cast<__mmask16>(0),
                          w > 48 ? tail_mask(w - 48) : static_cast<__mmask16>(0)};
  block_4x64<true>(
      c, ldc, a, lda, k, m, [&](int64_t kk, int q) __attribute__((always_inline)) {
        return load_f16(m[q], b[kk] + j + 16 * q);
      });
}

void gemm_acc_f16b(float* c, int64_t ldc, const float* a, int64_t lda,
                   const uint16_t* const* b_rows, int64_t m, int64_t k, int64_t n) {
  for (int64_t j = 0; j < n; j += 64) {
    const int64_t w = n - j < 64 ? n - j : 64;
    int64_t i = 0;
    for (; i + 4 <= m; i += 4)
      gemm_f16b_4x64(c + i * ldc + j, ldc, a + i * lda, lda, b_rows, j, k, w);
    for (; i < m; ++i) {
      float* ci = c + i * ldc + j;
      const float* ai = a + i * lda;
      for (int64_t jj = 0; jj < w; jj += 16) {
        const __mmask16 mk = tail_mask(w - jj);
        __m512 x = _mm512_maskz_loadu_ps(mk, ci + jj);
        for (int64_t kk = 0; kk < k; ++kk)
          x = _mm512_fmadd_ps(_mm512_set1_ps(ai[kk]), load_f16(mk, b_rows[kk] + j + jj), x);
        _mm512_mask_storeu_ps(ci + jj, mk, x);
      }
    }
  }
}

// f16_rows_to_f32_t for 16 rows at a time: 16 x 32 half-precision values transposed as 16-bit
// words (three rounds of in-lane unpacks, one cross-lane permute), then widened: half the data
// movement of transposing after the conversion. Other rows go through the 8 x 8 ymm version.
void f16_rows_to_f32_t(const uint16_t* const* rows, int64_t n_rows, int64_t cols, float* dst,
                       int64_t ld_dst) {
  // Qwords of the permute: [x.lane0, y.lane0, x.lane1, y.lane1] and the same for lanes 2, 3.
  const __m512i idx_lo = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i idx_hi = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  int64_t r = 0;
  for (; r + 16 <= n_rows; r += 16) {
    for (int64_t c = 0; c < cols; c += 32) {
      const int64_t w = cols - c < 32 ? cols - c : 32;
      const auto mk =
          w == 32 ? static_cast<__mmask32>(0xffffffffu) : static_cast<__mmask32>((1u << w) - 1u);
      __m512i x[16];
      for (int i = 0; i < 16; ++i) x[i] = _mm512_maskz_loadu_epi16(mk, rows[r + i] + c);
      // Round 1: rows 2p, 2p + 1 interleaved; per 128-bit lane, lo holds offsets 0-3, hi 4-7.
      __m512i y[16];
      for (int p = 0; p < 8; ++p) {
        y[2 * p] = _mm512_unpacklo_epi16(x[2 * p], x[2 * p + 1]);
        y[2 * p + 1] = _mm512_unpackhi_epi16(x[2 * p], x[2 * p + 1]);
      }
      // Round 2: four rows per dword pair; z[4q + o] holds offsets 2o, 2o + 1 of rows 4q..4q+3.
      __m512i z[16];
      for (int q = 0; q < 4; ++q) {
        const __m512i* a = y + 4 * q;  // pair 2q: a[0], a[1]; pair 2q + 1: a[2], a[3]
        z[4 * q + 0] = _mm512_unpacklo_epi32(a[0], a[2]);
        z[4 * q + 1] = _mm512_unpackhi_epi32(a[0], a[2]);
        z[4 * q + 2] = _mm512_unpacklo_epi32(a[1], a[3]);
        z[4 * q + 3] = _mm512_unpackhi_epi32(a[1], a[3]);
      }
      // Round 3: eight rows per qword pair; u[8h + t] holds offset t of rows 8h..8h+7 in each
      // 128-bit lane (lane L: column c + 8L + t).
      __m512i u[16];
      for (int h = 0; h < 2; ++h) {
        for (int o = 0; o < 4; ++o) {
          const __m512i lo = z[8 * h + o], hi = z[8 * h + 4 + o];
          u[8 * h + 2 * o] = _mm512_unpacklo_epi64(lo, hi);
          u[8 * h + 2 * o + 1] = _mm512_unpackhi_epi64(lo, hi);
        }
      }
      // Round 4: rows 0-7 and 8-15 of one column side by side (256 bits), then widened.
      float* d = dst + r;
      for (int t = 0; t < 8; ++t) {
        const __m512i v01 = _mm512_permutex2var_epi64(u[t], idx_lo, u[8 + t]);
        const __m512i v23 = _mm512_permutex2var_epi64(u[t], idx_hi, u[8 + t]);
        const __m256i cols4[4] = {_mm512_castsi512_si256(v01), _mm512_extracti64x4_epi64(v01, 1),
                                  _mm512_castsi512_si256(v23), _mm512_extracti64x4_epi64(v23, 1)};
        for (int lane = 0; lane < 4; ++lane) {
          const int64_t col = c + 8 * lane + t;
          if (col < cols) _mm512_storeu_ps(d + col * ld_dst, _mm512_cvtph_ps(cols4[lane]));
        }
      }
    }
  }
  if (r < n_rows) x86::f16_rows_to_f32_t_ymm(rows + r, n_rows - r, cols, dst + r, ld_dst);
}

void q8_0_to_f32(const uint8_t* row, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = row + b * sizeof(BlockQ8_0);  // F16 scale, then 32 int8 values
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(dh));
    for (int g = 0; g < 2; ++g) {
      const __m128i q8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2 + 16 * g));
      const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8));
      _mm512_storeu_ps(y + b * kQK8_0 + 16 * g, _mm512_mul_ps(q, d));
    }
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, load_f16(m, x + i));
  }
}

void store_f32(const float* x, void* row, int64_t n) {
  std::memcpy(row, x, static_cast<size_t>(n) * sizeof(float));
}

void store_f16(const float* x, void* row, int64_t n) {
  auto* k = static_cast<uint16_t*>(row);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_mask_storeu_epi16(k + i, m, h);
  }
}

// ---- kernels/rows.h ---------------------------------------------------------------------

void layer_norm(float* x, const float* res, const float* bias, const float* w, const float* b,
                int64_t n, float eps) {
  // Residual add and the mean's 8 partial sums (lane j of `part` is partial j).
  __m512d part = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    if (res != nullptr) {
      __m512 a = _mm512_loadu_ps(res + i);
      if (bias != nullptr) a = _mm512_add_ps(a, _mm512_loadu_ps(bias + i));
      v = _mm512_add_ps(v, a);
      _mm512_storeu_ps(x + i, v);
    }
    part = _mm512_add_pd(part, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    part = _mm512_add_pd(
        part, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
  }
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    if (res != nullptr) {
      __m512 a = _mm512_maskz_loadu_ps(m, res + i);
      if (bias != nullptr) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, bias + i));
      v = _mm512_add_ps(v, a);
      _mm512_mask_storeu_ps(x + i, m, v);
    }
    if (n - i >= 8) {
      part = _mm512_add_pd(part, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
      i += 8;
    }
  }
  double p[8];
  _mm512_storeu_pd(p, part);
  for (; i < n; ++i) p[0] += static_cast<double>(x[i]);
  const double sum = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  const __m512 mean = _mm512_set1_ps(static_cast<float>(sum / static_cast<double>(n)));
  // Centre, and the squares summed as rmsnorm sums them.
  __m512d acc0 = _mm512_setzero_pd();
  __m512d acc1 = _mm512_setzero_pd();
  for (i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 c = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), mean);
    _mm512_mask_storeu_ps(x + i, m, c);
    const __m512 sq = _mm512_mul_ps(c, c);
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    acc1 = _mm512_add_pd(
        acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
  }
  const double sq_sum = reduce8d(_mm512_add_pd(acc0, acc1));
  const float ms = static_cast<float>(sq_sum / static_cast<double>(n));
  const __m512 s = _mm512_set1_ps(1.0f / __builtin_sqrtf(ms + eps));
  for (i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
    if (w != nullptr) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
    if (b != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, b + i));
    _mm512_mask_storeu_ps(x + i, m, v);
  }
}

void softmax_scaled(float* x, float scale, int64_t n) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 acc = ninf;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc = _mm512_max_ps(acc, _mm512_mask_mul_ps(ninf, m, _mm512_maskz_loadu_ps(m, x + i), vs));
  }
  const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(acc));
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 y = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs), vm);
    const __m512 e = _mm512_maskz_mov_ps(m, vexp(y));
    _mm512_mask_storeu_ps(x + i, m, e);
    sum += static_cast<double>(reduce16(e));
  }
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
}

// softmax_scaled on R rows at once, pass by pass (the same operations per row, in the same
// order): the rows' dependency chains (max -> exp -> sum -> 1 / sum) overlap.
template <int R>
EMBER_INLINE void softmax_scaled_block(float* x, int64_t ld, float scale, int64_t n) {
  const __m512 vs = _mm512_set1_ps(scale);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 v[R];
  double sum[R];
  for (int r = 0; r < R; ++r) v[r] = ninf;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    for (int r = 0; r < R; ++r) {
      v[r] = _mm512_max_ps(
          v[r], _mm512_mask_mul_ps(ninf, m, _mm512_maskz_loadu_ps(m, x + r * ld + i), vs));
    }
  }
  for (int r = 0; r < R; ++r) {
    v[r] = _mm512_set1_ps(_mm512_reduce_max_ps(v[r]));
    sum[r] = 0.0;
  }
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    for (int r = 0; r < R; ++r) {
      float* xr = x + r * ld + i;
      const __m512 y = _mm512_sub_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr), vs), v[r]);
      const __m512 e = _mm512_maskz_mov_ps(m, vexp(y));
      _mm512_mask_storeu_ps(xr, m, e);
      sum[r] += static_cast<double>(reduce16(e));
    }
  }
  for (int r = 0; r < R; ++r) v[r] = _mm512_set1_ps(static_cast<float>(1.0 / sum[r]));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    for (int r = 0; r < R; ++r) {
      float* xr = x + r * ld + i;
      _mm512_mask_storeu_ps(xr, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr), v[r]));
    }
  }
}

void softmax_scaled_rows(float* x, int64_t ld, int64_t rows, float scale, int64_t n) {
  int64_t r = 0;
  for (; r + 2 <= rows; r += 2) softmax_scaled_block<2>(x + r * ld, ld, scale, n);
  for (; r < rows; ++r) softmax_scaled(x + r * ld, scale, n);
}

void bias_gelu(float* x, const float* bias, int64_t n) {
  const float* table = gelu_half_table();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    if (bias != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + i));
    _mm512_mask_storeu_ps(x + i, m, x86::gelu_half16(v, m, table));
  }
}

}  // namespace

const OpsTable& ops_avx512() {
  static const OpsTable table = {
      .isa = Isa::kAvx512,
      .rmsnorm = rmsnorm,
      .scale = scale,
      .add = add,
      .silu_mul = silu_mul,
      .gelu_mul = gelu_mul,
      .softcap = softcap,
      .softmax = softmax,
      .max = vmax,
      .dot_f16 = dot_f16,
      .dot_f32 = dot_f32,
      .f16_scale = f16_scale,
      .f16_mad = f16_mad,
      .f32_mad = f32_mad,
      .gemm_acc = gemm_acc,
      .gemm = gemm,
      .gemm_acc_f16b = gemm_acc_f16b,
      .transpose = x86::transpose_f32_ymm,
      .f16_rows_to_f32_t = f16_rows_to_f32_t,
      .f16_to_f32 = f16_to_f32,
      .q8_0_to_f32 = q8_0_to_f32,
      .kv_store = {store_f32, store_f16, store_q8_0_plain},
  };
  return table;
}

const RowOps& row_ops_avx512() {
  static const RowOps table = {
      .isa = Isa::kAvx512,
      .layer_norm = layer_norm,
      .softmax_scaled = softmax_scaled,
      .softmax_scaled_rows = softmax_scaled_rows,
      .bias_gelu = bias_gelu,
  };
  return table;
}

}  // namespace ember::kernels
