// AVX2 + FMA + F16C variants of kernels/ops.h. Compiled with AVX2 flags only; reached through
// ops(Isa::kAvx2) after run-time detection.
//
// Tails go through masked loads/stores (or a zero-padded local copy), so each element gets the
// same vector arithmetic wherever it falls in the slice.
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_common.h"
#include "tensor/blocks_legacy.h"  // block layout constants only

namespace ember::kernels {
namespace {

inline __m256i tail_mask(int64_t remaining) {
  const int r = remaining >= 8 ? 8 : static_cast<int>(remaining);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Same algorithm and constants as exp512 in ops_avx512.cc.
inline __m256 exp256(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.376259f);
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(x, hi);
  x = _mm256_max_ps(x, lo);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_blendv_ps(result, _mm256_setzero_ps(), underflow);
}

inline __m256 tanh256(__m256 x) {
  const __m256 c = _mm256_set1_ps(9.0f);
  x = _mm256_max_ps(_mm256_min_ps(x, c), _mm256_sub_ps(_mm256_setzero_ps(), c));
  const __m256 e = exp256(_mm256_add_ps(x, x));
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
}

inline __m256 load(const float* p, int64_t remaining) {
  return remaining >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail_mask(remaining));
}

inline void store(float* p, __m256 v, int64_t remaining) {
  if (remaining >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, tail_mask(remaining), v);
  }
}

inline __m256 load_f16(const uint16_t* p, int64_t remaining) {
  if (remaining >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(tmp, p, static_cast<size_t>(remaining) * 2);
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tmp)));
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m256d acc0 = _mm256_setzero_pd();
  __m256d acc1 = _mm256_setzero_pd();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 v = load(x + i, n - i);
    const __m256 sq = _mm256_mul_ps(v, v);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
  }
  const __m256d a = _mm256_add_pd(acc0, acc1);
  __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  s2 = _mm_add_sd(s2, _mm_unpackhi_pd(s2, s2));
  const double sum = _mm_cvtsd_f64(s2);
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
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 x = load(g + i, n - i);
    const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), x));
    const __m256 s = _mm256_div_ps(x, _mm256_add_ps(one, e));
    store(g + i, _mm256_mul_ps(s, load(u + i, n - i)), n - i);
  }
}

void gelu_mul(float* g, const float* u, int64_t n) {
  const __m256 a = _mm256_set1_ps(kGeluCoefA);
  const __m256 c = _mm256_set1_ps(kGeluSqrt2OverPi);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 half = _mm256_set1_ps(0.5f);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 x = load(g + i, n - i);
    const __m256 inner =
        _mm256_mul_ps(_mm256_mul_ps(c, x), _mm256_fmadd_ps(_mm256_mul_ps(a, x), x, one));
    const __m256 t = tanh256(inner);
    const __m256 r = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, t)),
                                   load(u + i, n - i));
    store(g + i, r, n - i);
  }
}

void softcap(float* x, float cap, int64_t n) {
  const __m256 vc = _mm256_set1_ps(cap);
  const __m256 inv = _mm256_set1_ps(1.0f / cap);
  for (int64_t i = 0; i < n; i += 8) {
    store(x + i, _mm256_mul_ps(vc, tanh256(_mm256_mul_ps(load(x + i, n - i), inv))), n - i);
  }
}

float exp_sum(float* x, float max, int64_t n) {
  const __m256 vm = _mm256_set1_ps(max);
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = load(x + i, n - i);
    if (n - i < 8) v = _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(tail_mask(n - i)));
    const __m256 e = exp256(_mm256_sub_ps(v, vm));
    acc = _mm256_add_ps(acc, e);
    store(x + i, e, n - i);
  }
  return hsum(acc);
}

float vmax(const float* x, int64_t n) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 acc = ninf;
  for (int64_t i = 0; i < n; i += 8) {
    __m256 v = load(x + i, n - i);
    if (n - i < 8) v = _mm256_blendv_ps(ninf, v, _mm256_castsi256_ps(tail_mask(n - i)));
    acc = _mm256_max_ps(acc, v);
  }
  return hmax(acc);
}

float dot_f32(const float* q, const void* row, int64_t n) {
  const auto* k = static_cast<const float*>(row);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    acc = _mm256_fmadd_ps(load(q + i, n - i), load(k + i, n - i), acc);
  }
  return hsum(acc);
}

float dot_f16(const float* q, const void* row, int64_t n) {
  const auto* k = static_cast<const uint16_t*>(row);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8) {
    acc = _mm256_fmadd_ps(load(q + i, n - i), load_f16(k + i, n - i), acc);
  }
  return hsum(acc);
}

inline __m256 load_i8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

float dot_q8_0(const float* q, const void* row, int64_t n) {
  const auto* blocks = static_cast<const uint8_t*>(row);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = blocks + b * sizeof(BlockQ8_0);
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const auto* qs = reinterpret_cast<const int8_t*>(blk + 2);
    const float* qb = q + b * kQK8_0;
    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(qb), load_i8(qs));
    s = _mm256_fmadd_ps(_mm256_loadu_ps(qb + 8), load_i8(qs + 8), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(qb + 16), load_i8(qs + 16), s);
    s = _mm256_fmadd_ps(_mm256_loadu_ps(qb + 24), load_i8(qs + 24), s);
    acc = _mm256_fmadd_ps(s, _mm256_set1_ps(_cvtsh_ss(d16)), acc);
  }
  return hsum(acc);
}

void axpy_f32(float a, const void* row, float* acc, int64_t n) {
  const auto* v = static_cast<const float*>(row);
  const __m256 va = _mm256_set1_ps(a);
  for (int64_t i = 0; i < n; i += 8) {
    store(acc + i, _mm256_fmadd_ps(va, load(v + i, n - i), load(acc + i, n - i)), n - i);
  }
}

void axpy_f16(float a, const void* row, float* acc, int64_t n) {
  const auto* v = static_cast<const uint16_t*>(row);
  const __m256 va = _mm256_set1_ps(a);
  for (int64_t i = 0; i < n; i += 8) {
    store(acc + i, _mm256_fmadd_ps(va, load_f16(v + i, n - i), load(acc + i, n - i)), n - i);
  }
}

void axpy_q8_0(float a, const void* row, float* acc, int64_t n) {
  const auto* blocks = static_cast<const uint8_t*>(row);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = blocks + b * sizeof(BlockQ8_0);
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const auto* qs = reinterpret_cast<const int8_t*>(blk + 2);
    const __m256 ad = _mm256_set1_ps(a * _cvtsh_ss(d16));
    float* o = acc + b * kQK8_0;
    for (int j = 0; j < kQK8_0; j += 8) {
      _mm256_storeu_ps(o + j, _mm256_fmadd_ps(ad, load_i8(qs + j), _mm256_loadu_ps(o + j)));
    }
  }
}

void store_f32(const float* x, void* row, int64_t n) {
  std::memcpy(row, x, static_cast<size_t>(n) * sizeof(float));
}

void store_f16(const float* x, void* row, int64_t n) {
  auto* k = static_cast<uint16_t*>(row);
  for (int64_t i = 0; i < n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(load(x + i, n - i), _MM_FROUND_TO_NEAREST_INT);
    if (n - i >= 8) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(k + i), h);
    } else {
      uint16_t tmp[8];
      _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp), h);
      std::memcpy(k + i, tmp, static_cast<size_t>(n - i) * 2);
    }
  }
}

}  // namespace

const OpsTable& ops_avx2() {
  static const OpsTable table = {
      Isa::kAvx2,
      rmsnorm,
      scale,
      add,
      silu_mul,
      gelu_mul,
      softcap,
      exp_sum,
      vmax,
      {dot_f32, dot_f16, dot_q8_0},
      {axpy_f32, axpy_f16, axpy_q8_0},
      {store_f32, store_f16, store_q8_0_plain},
  };
  return table;
}

}  // namespace ember::kernels
