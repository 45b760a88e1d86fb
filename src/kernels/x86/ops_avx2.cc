// AVX2 + FMA + F16C variants of kernels/ops.h. Compiled with AVX2 flags only; reached through
// ops(Isa::kAvx2) after run-time detection. A 16-lane vector of the AVX-512 variant is a pair of
// 8-lane registers here, with the same fused multiply-adds and reduction trees, so results are
// bit-identical to ops_scalar.cc and ops_avx512.cc.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_common.h"
#include "kernels/rows.h"
#include "kernels/x86/static_for.h"  // EMBER_INLINE
#include "kernels/x86/transpose_x86.h"
#include "tensor/blocks_legacy.h"  // block layout constants only

namespace ember::kernels {
namespace {

inline __m256i tail_mask(int64_t remaining) {
  const int r = remaining >= 8 ? 8 : (remaining < 0 ? 0 : static_cast<int>(remaining));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256 load(const float* p, int64_t remaining) {
  if (remaining >= 8) return _mm256_loadu_ps(p);
  if (remaining <= 0) return _mm256_setzero_ps();
  return _mm256_maskload_ps(p, tail_mask(remaining));
}

inline void store(float* p, __m256 v, int64_t remaining) {
  if (remaining >= 8) {
    _mm256_storeu_ps(p, v);
  } else if (remaining > 0) {
    _mm256_maskstore_ps(p, tail_mask(remaining), v);
  }
}

inline __m256 load_f16(const uint16_t* p, int64_t remaining) {
  if (remaining >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (remaining > 0) std::memcpy(tmp, p, static_cast<size_t>(remaining) * 2);
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tmp)));
}

inline void store_f16(uint16_t* p, __m256 v, int64_t remaining) {
  const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
  if (remaining >= 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
  } else if (remaining > 0) {
    uint16_t tmp[8];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), h);
    std::memcpy(p, tmp, static_cast<size_t>(remaining) * 2);
  }
}

// The 16-lane tree (lanes 0-7 in lo, 8-15 in hi): halves, quarters, then pairs.
inline float reduce16(__m256 lo, __m256 hi) {
  const __m256 t8 = _mm256_add_ps(hi, lo);
  const __m128 t4 = _mm_add_ps(_mm256_extractf128_ps(t8, 1), _mm256_castps256_ps128(t8));
  const __m128 t2 = _mm_add_ps(t4, _mm_shuffle_ps(t4, t4, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, _MM_SHUFFLE(1, 1, 1, 1))));
}

// 2^n for integer-valued n in [-126, 127].
inline __m256 pow2(__m256 n) {
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}

// vexp_lane (ops_common.h) on 8 lanes. j * 2^n is formed as (j * 2^n1) * 2^n2 with
// n1 = floor(n / 2): the first product is exact, the second rounds once, which is the correctly
// rounded j * 2^n that the AVX-512 scalef instruction gives.
inline __m256 vexp(__m256 x) {
  const __m256 shift = _mm256_set1_ps(kExpShift);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(kExpLog2e), shift);
  const __m256 n = _mm256_sub_ps(z, shift);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(kExpLn2Lo),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(kExpLn2Hi), x));
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 big = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(kExpC0), b, _mm256_set1_ps(kExpC1)), u,
                      _mm256_fmadd_ps(_mm256_set1_ps(kExpC2), b, _mm256_set1_ps(kExpC3))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(kExpC4), b, _mm256_set1_ps(1.0f)));
  const __m256 nc =
      _mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-192.0f)), _mm256_set1_ps(192.0f));
  const __m256 n1 = _mm256_floor_ps(_mm256_mul_ps(nc, _mm256_set1_ps(0.5f)));
  const __m256 n2 = _mm256_sub_ps(nc, n1);
  const __m256 res = _mm256_mul_ps(_mm256_mul_ps(j, pow2(n1)), pow2(n2));
  if (_mm256_movemask_ps(big) == 0) return res;
  const __m256 alt =
      _mm256_blendv_ps(_mm256_set1_ps(std::numeric_limits<float>::infinity()), _mm256_setzero_ps(),
                       _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ));
  return _mm256_blendv_ps(res, alt, big);
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  // Lanes 0-7 of each group of 16 in acc0 (as two halves of 4 doubles), lanes 8-15 in acc1.
  __m256d a0l = _mm256_setzero_pd(), a0h = a0l, a1l = a0l, a1h = a0l;
  for (int64_t i = 0; i < n; i += 16) {
    const __m256 v0 = load(x + i, n - i);
    const __m256 v1 = load(x + i + 8, n - i - 8);
    const __m256 s0 = _mm256_mul_ps(v0, v0);
    const __m256 s1 = _mm256_mul_ps(v1, v1);
    a0l = _mm256_add_pd(a0l, _mm256_cvtps_pd(_mm256_castps256_ps128(s0)));
    a0h = _mm256_add_pd(a0h, _mm256_cvtps_pd(_mm256_extractf128_ps(s0, 1)));
    a1l = _mm256_add_pd(a1l, _mm256_cvtps_pd(_mm256_castps256_ps128(s1)));
    a1h = _mm256_add_pd(a1h, _mm256_cvtps_pd(_mm256_extractf128_ps(s1, 1)));
  }
  const __m256d sl = _mm256_add_pd(a0l, a1l);  // lanes 0-3 of the 8-lane sum
  const __m256d sh = _mm256_add_pd(a0h, a1h);  // lanes 4-7
  const __m256d t4 = _mm256_add_pd(sh, sl);
  const __m128d t2 = _mm_add_pd(_mm256_extractf128_pd(t4, 1), _mm256_castpd256_pd128(t4));
  const double sum = _mm_cvtsd_f64(_mm_add_sd(t2, _mm_unpackhi_pd(t2, t2)));
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const __m256 s = _mm256_set1_ps(1.0f / __builtin_sqrtf(mean + eps));
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = _mm256_mul_ps(load(x + i, n - i), s);
    if (w != nullptr) v = _mm256_mul_ps(v, load(w + i, n - i));
    store(y + i, v, n - i);
  }
}

void scale(float* x, float a, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  for (int64_t i = 0; i < n; i += 8) store(x + i, _mm256_mul_ps(load(x + i, n - i), va), n - i);
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) {
    store(y + i, _mm256_add_ps(load(y + i, n - i), load(x + i, n - i)), n - i);
  }
}

void silu_mul(float* g, const float* u, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const int64_t nv = n & ~int64_t{15};
  for (int64_t i = 0; i < nv; i += 8) {
    const __m256 x = _mm256_loadu_ps(g + i);
    const __m256 e = vexp(_mm256_sub_ps(_mm256_setzero_ps(), x));
    const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, e));
    _mm256_storeu_ps(g + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
  }
  for (int64_t i = nv; i < n; ++i) {
    const float x = g[i];
    g[i] = (x / (1.0f + __builtin_expf(-x))) * u[i];
  }
}

void gelu_mul(float* g, const float* u, int64_t n) {
  const float* table = gelu_half_table();
  const __m256 lo = _mm256_set1_ps(-10.0f);
  const __m256 hi = _mm256_set1_ps(10.0f);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 x = load(g + i, n - i);
    const __m256i idx = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
    __m256 v = _mm256_i32gather_ps(table, idx, 4);
    v = _mm256_blendv_ps(v, x, _mm256_cmp_ps(x, hi, _CMP_GE_OQ));
    v = _mm256_mul_ps(v, load(u + i, n - i));
    // Below -10 the result is +0 (not multiplied, so never -0).
    v = _mm256_blendv_ps(v, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LE_OQ));
    store(g + i, v, n - i);
  }
}

void softcap(float* x, float cap, int64_t n) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = __builtin_tanhf(x[i] * inv) * cap;
}

double softmax(float* x, float max, int64_t n) {
  const __m256 vm = _mm256_set1_ps(max);
  double sum = 0.0;
  const int64_t nv = n & ~int64_t{15};
  for (int64_t i = 0; i < nv; i += 16) {
    const __m256 e0 = vexp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    const __m256 e1 = vexp(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm));
    _mm256_storeu_ps(x + i, e0);
    _mm256_storeu_ps(x + i + 8, e1);
    sum += static_cast<double>(reduce16(e0, e1));
  }
  for (int64_t i = nv; i < n; ++i) {
    x[i] = __builtin_expf(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  return sum;
}

float vmax(const float* x, int64_t n) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 acc = ninf;
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = load(x + i, n - i);
    if (n - i < 8) v = _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(tail_mask(n - i)));
    acc = _mm256_max_ps(acc, v);
  }
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Four 16-lane accumulators (each a lo/hi pair) over groups of 64, combined 0+2, 1+3, then the
// two, then the 16-lane tree.
template <typename LoadK>
float dot64(const float* q, int64_t np, LoadK load_k) {
  __m256 a[4][2];
  for (auto& v : a) v[0] = v[1] = _mm256_setzero_ps();
  for (int64_t i = 0; i < np; i += 64) {
    for (int j = 0; j < 4; ++j) {
      for (int h = 0; h < 2; ++h) {
        const int64_t e = i + 16 * j + 8 * h;
        a[j][h] = _mm256_fmadd_ps(load_k(e), _mm256_loadu_ps(q + e), a[j][h]);
      }
    }
  }
  __m256 s[2];
  for (int h = 0; h < 2; ++h) {
    const __m256 x0 = _mm256_add_ps(a[0][h], a[2][h]);
    const __m256 x1 = _mm256_add_ps(a[1][h], a[3][h]);
    s[h] = _mm256_add_ps(x0, x1);
  }
  return reduce16(s[0], s[1]);
}

float dot_f16(const float* q, const uint16_t* k, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  double sum = 0.0;
  if (np > 0) sum = dot64(q, np, [k](int64_t e) { return load_f16(k + e, 8); });
  for (int64_t i = np; i < n; ++i) sum += static_cast<double>(_cvtsh_ss(k[i]) * q[i]);
  return static_cast<float>(sum);
}

float dot_f32(const float* q, const float* k, int64_t n) {
  const int64_t np = n & ~int64_t{63};
  float sum = 0.0f;
  if (np > 0) sum = dot64(q, np, [k](int64_t e) { return _mm256_loadu_ps(k + e); });
  for (int64_t i = np; i < n; ++i) sum = __builtin_fmaf(k[i], q[i], sum);
  return sum;
}

void f16_scale(uint16_t* acc, float s, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += 8)
    store_f16(acc + i, _mm256_mul_ps(load_f16(acc + i, n - i), vs), n - i);
}

void f16_mad(uint16_t* acc, const uint16_t* v, float s, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += 8) {
    store_f16(acc + i, _mm256_fmadd_ps(load_f16(v + i, n - i), vs, load_f16(acc + i, n - i)),
              n - i);
  }
}

void f32_mad(float* acc, const float* v, float s, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  for (int64_t i = 0; i < n; i += 8) {
    store(acc + i, _mm256_fmadd_ps(load(v + i, n - i), vs, load(acc + i, n - i)), n - i);
  }
}

// The register block of gemm_2x32 and gemm_f16b_2x32: C[2 x 32] += A[2 x k] * B[k x 32], B's
// 8-column vector q of row kk given by load_b(kk, q); each element an FMA chain over k
// ascending, 8 accumulators in named registers.
template <class LoadB>
EMBER_INLINE void block_2x32(float* c, int64_t ldc, const float* a, int64_t lda, int64_t k,
                             LoadB load_b) {
  float* c0 = c;
  float* c1 = c + ldc;
  __m256 x00 = _mm256_loadu_ps(c0), x01 = _mm256_loadu_ps(c0 + 8);
  __m256 x02 = _mm256_loadu_ps(c0 + 16), x03 = _mm256_loadu_ps(c0 + 24);
  __m256 x10 = _mm256_loadu_ps(c1), x11 = _mm256_loadu_ps(c1 + 8);
  __m256 x12 = _mm256_loadu_ps(c1 + 16), x13 = _mm256_loadu_ps(c1 + 24);
  for (int64_t kk = 0; kk < k; ++kk) {
    const __m256 b0 = load_b(kk, 0), b1 = load_b(kk, 1);
    const __m256 b2 = load_b(kk, 2), b3 = load_b(kk, 3);
    __m256 p = _mm256_set1_ps(a[kk]);
    x00 = _mm256_fmadd_ps(p, b0, x00);
    x01 = _mm256_fmadd_ps(p, b1, x01);
    x02 = _mm256_fmadd_ps(p, b2, x02);
    x03 = _mm256_fmadd_ps(p, b3, x03);
    p = _mm256_set1_ps(a[lda + kk]);
    x10 = _mm256_fmadd_ps(p, b0, x10);
    x11 = _mm256_fmadd_ps(p, b1, x11);
    x12 = _mm256_fmadd_ps(p, b2, x12);
    x13 = _mm256_fmadd_ps(p, b3, x13);
  }
  _mm256_storeu_ps(c0, x00), _mm256_storeu_ps(c0 + 8, x01);
  _mm256_storeu_ps(c0 + 16, x02), _mm256_storeu_ps(c0 + 24, x03);
  _mm256_storeu_ps(c1, x10), _mm256_storeu_ps(c1 + 8, x11);
  _mm256_storeu_ps(c1 + 16, x12), _mm256_storeu_ps(c1 + 24, x13);
}

// C[2 x 32] += A[2 x k] * B[k x 32].
inline void gemm_2x32(float* c, int64_t ldc, const float* a, int64_t lda, const float* b,
                      int64_t ldb, int64_t k) {
  block_2x32(
      c, ldc, a, lda, k, [&](int64_t kk, int q) __attribute__((always_inline)) {
        return _mm256_loadu_ps(b + kk * ldb + 8 * q);
      });
}

// One row of C, columns [0, n) with n <= 32.
inline void gemm_row(float* c, const float* a, const float* b, int64_t ldb, int64_t k, int64_t n) {
  for (int64_t j = 0; j < n; j += 8) {
    __m256 x = load(c + j, n - j);
    for (int64_t kk = 0; kk < k; ++kk) {
      x = _mm256_fmadd_ps(_mm256_set1_ps(a[kk]), load(b + kk * ldb + j, n - j), x);
    }
    store(c + j, x, n - j);
  }
}

void gemm_acc(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
              int64_t m, int64_t k, int64_t n) {
  for (int64_t j = 0; j < n; j += 32) {
    const int64_t w = n - j < 32 ? n - j : 32;
    int64_t i = 0;
    if (w == 32) {
      for (; i + 2 <= m; i += 2) gemm_2x32(c + i * ldc + j, ldc, a + i * lda, lda, b + j, ldb, k);
    }
    for (; i < m; ++i) gemm_row(c + i * ldc + j, a + i * lda, b + j, ldb, k, w);
  }
}

// C[2 x 32] += A[2 x k] * B (F16 rows), as gemm_2x32 with B widened on the fly.
inline void gemm_f16b_2x32(float* c, int64_t ldc, const float* a, int64_t lda,
                           const uint16_t* const* b, int64_t j, int64_t k) {
  block_2x32(
      c, ldc, a, lda, k, [&](int64_t kk, int q) __attribute__((always_inline)) {
        return load_f16(b[kk] + j + 8 * q, 8);
      });
}

// gemm_acc on a zeroed C (not the hot path on this Isa).
void gemm(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
          int64_t m, int64_t k, int64_t n) {
  // A plain loop, not std::fill: a template instantiated here could be shared with baseline code.
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = 0.0f;
  }
  gemm_acc(c, ldc, a, lda, b, ldb, m, k, n);
}

void gemm_acc_f16b(float* c, int64_t ldc, const float* a, int64_t lda,
                   const uint16_t* const* b_rows, int64_t m, int64_t k, int64_t n) {
  for (int64_t j = 0; j < n; j += 32) {
    const int64_t w = n - j < 32 ? n - j : 32;
    int64_t i = 0;
    if (w == 32) {
      for (; i + 2 <= m; i += 2) {
        gemm_f16b_2x32(c + i * ldc + j, ldc, a + i * lda, lda, b_rows, j, k);
      }
    }
    for (; i < m; ++i) {
      float* ci = c + i * ldc + j;
      const float* ai = a + i * lda;
      for (int64_t jj = 0; jj < w; jj += 8) {
        __m256 x = load(ci + jj, w - jj);
        for (int64_t kk = 0; kk < k; ++kk)
          x = _mm256_fmadd_ps(_mm256_set1_ps(ai[kk]), load_f16(b_rows[kk] + j + jj, w - jj), x);
        store(ci + jj, x, w - jj);
      }
    }
  }
}

void q8_0_to_f32(const uint8_t* row, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = row + b * sizeof(BlockQ8_0);  // F16 scale, then 32 int8 values
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(dh));
    for (int g = 0; g < 4; ++g) {
      const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + 8 * g));
      const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
      _mm256_storeu_ps(y + b * kQK8_0 + 8 * g, _mm256_mul_ps(q, d));
    }
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 8) store(y + i, load_f16(x + i, n - i), n - i);
}

void store_f32_row(const float* x, void* row, int64_t n) {
  std::memcpy(row, x, static_cast<size_t>(n) * sizeof(float));
}

void store_f16_row(const float* x, void* row, int64_t n) {
  auto* k = static_cast<uint16_t*>(row);
  for (int64_t i = 0; i < n; i += 8) store_f16(k + i, load(x + i, n - i), n - i);
}

// ---- kernels/rows.h ---------------------------------------------------------------------

inline __m256 masked(__m256 v, int64_t remaining) {
  return remaining >= 8 ? v : _mm256_and_ps(v, _mm256_castsi256_ps(tail_mask(remaining)));
}

void layer_norm(float* x, const float* res, const float* bias, const float* w, const float* b,
                int64_t n, float eps) {
  // Residual add and the mean's 8 partial sums (lanes 0-3 in pl, 4-7 in ph).
  __m256d pl = _mm256_setzero_pd(), ph = pl;
  const int64_t n8 = n & ~int64_t{7};
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = load(x + i, n - i);
    if (res != nullptr) {
      __m256 a = load(res + i, n - i);
      if (bias != nullptr) a = _mm256_add_ps(a, load(bias + i, n - i));
      v = _mm256_add_ps(v, a);
      store(x + i, v, n - i);
    }
    if (i < n8) {
      pl = _mm256_add_pd(pl, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      ph = _mm256_add_pd(ph, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
  }
  double p[8];
  _mm256_storeu_pd(p, pl);
  _mm256_storeu_pd(p + 4, ph);
  for (int64_t i = n8; i < n; ++i) p[0] += static_cast<double>(x[i]);
  const double sum = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  const __m256 mean = _mm256_set1_ps(static_cast<float>(sum / static_cast<double>(n)));
  // Centre, and the squares summed as rmsnorm sums them.
  __m256d a0l = _mm256_setzero_pd(), a0h = a0l, a1l = a0l, a1h = a0l;
  for (int64_t i = 0; i < n; i += 16) {
    const __m256 c0 = masked(_mm256_sub_ps(load(x + i, n - i), mean), n - i);
    const __m256 c1 = masked(_mm256_sub_ps(load(x + i + 8, n - i - 8), mean), n - i - 8);
    store(x + i, c0, n - i);
    store(x + i + 8, c1, n - i - 8);
    const __m256 s0 = _mm256_mul_ps(c0, c0);
    const __m256 s1 = _mm256_mul_ps(c1, c1);
    a0l = _mm256_add_pd(a0l, _mm256_cvtps_pd(_mm256_castps256_ps128(s0)));
    a0h = _mm256_add_pd(a0h, _mm256_cvtps_pd(_mm256_extractf128_ps(s0, 1)));
    a1l = _mm256_add_pd(a1l, _mm256_cvtps_pd(_mm256_castps256_ps128(s1)));
    a1h = _mm256_add_pd(a1h, _mm256_cvtps_pd(_mm256_extractf128_ps(s1, 1)));
  }
  const __m256d sl = _mm256_add_pd(a0l, a1l);
  const __m256d sh = _mm256_add_pd(a0h, a1h);
  const __m256d t4 = _mm256_add_pd(sh, sl);
  const __m128d t2 = _mm_add_pd(_mm256_extractf128_pd(t4, 1), _mm256_castpd256_pd128(t4));
  const double sq_sum = _mm_cvtsd_f64(_mm_add_sd(t2, _mm_unpackhi_pd(t2, t2)));
  const float ms = static_cast<float>(sq_sum / static_cast<double>(n));
  const __m256 s = _mm256_set1_ps(1.0f / __builtin_sqrtf(ms + eps));
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = _mm256_mul_ps(load(x + i, n - i), s);
    if (w != nullptr) v = _mm256_mul_ps(v, load(w + i, n - i));
    if (b != nullptr) v = _mm256_add_ps(v, load(b + i, n - i));
    store(x + i, v, n - i);
  }
}

void softmax_scaled(float* x, float scale, int64_t n) {
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 acc = ninf;
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = _mm256_mul_ps(load(x + i, n - i), vs);
    if (n - i < 8) v = _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(tail_mask(n - i)));
    acc = _mm256_max_ps(acc, v);
  }
  __m128 mx = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  mx = _mm_max_ps(mx, _mm_movehl_ps(mx, mx));
  mx = _mm_max_ss(mx, _mm_movehdup_ps(mx));
  const __m256 vm = _mm256_set1_ps(_mm_cvtss_f32(mx));
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += 16) {
    const __m256 y0 = _mm256_sub_ps(_mm256_mul_ps(load(x + i, n - i), vs), vm);
    const __m256 y1 = _mm256_sub_ps(_mm256_mul_ps(load(x + i + 8, n - i - 8), vs), vm);
    const __m256 e0 = masked(vexp(y0), n - i);
    const __m256 e1 = masked(vexp(y1), n - i - 8);
    store(x + i, e0, n - i);
    store(x + i + 8, e1, n - i - 8);
    sum += static_cast<double>(reduce16(e0, e1));
  }
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (int64_t i = 0; i < n; i += 8) store(x + i, _mm256_mul_ps(load(x + i, n - i), inv), n - i);
}

void softmax_scaled_rows(float* x, int64_t ld, int64_t rows, float scale, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) softmax_scaled(x + r * ld, scale, n);
}

void bias_gelu(float* x, const float* bias, int64_t n) {
  const float* table = gelu_half_table();
  const __m256 lo = _mm256_set1_ps(-10.0f);
  const __m256 hi = _mm256_set1_ps(10.0f);
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = load(x + i, n - i);
    if (bias != nullptr) v = _mm256_add_ps(v, load(bias + i, n - i));
    const __m256i idx = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    __m256 g = _mm256_i32gather_ps(table, idx, 4);
    g = _mm256_blendv_ps(g, v, _mm256_cmp_ps(v, hi, _CMP_GE_OQ));
    g = _mm256_blendv_ps(g, _mm256_setzero_ps(), _mm256_cmp_ps(v, lo, _CMP_LE_OQ));
    store(x + i, g, n - i);
  }
}

}  // namespace

const OpsTable& ops_avx2() {
  static const OpsTable table = {
      .isa = Isa::kAvx2,
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
      .f16_rows_to_f32_t = x86::f16_rows_to_f32_t_ymm,
      .f16_to_f32 = f16_to_f32,
      .q8_0_to_f32 = q8_0_to_f32,
      .kv_store = {store_f32_row, store_f16_row, store_q8_0_plain},
  };
  return table;
}

const RowOps& row_ops_avx2() {
  static const RowOps table = {
      .isa = Isa::kAvx2,
      .layer_norm = layer_norm,
      .softmax_scaled = softmax_scaled,
      .softmax_scaled_rows = softmax_scaled_rows,
      .bias_gelu = bias_gelu,
  };
  return table;
}

}  // namespace ember::kernels
