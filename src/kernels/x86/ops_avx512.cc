// AVX-512 (F + BW) variants of kernels/ops.h. Compiled with AVX-512 flags only; reached through
// ops(Isa::kAvx512) after run-time detection.
//
// Tails are handled with masked loads and stores, so an element is computed with the same
// vector arithmetic whether it falls in a full vector or in the tail: results do not depend on
// the length of the slice a caller passes.
// GCC 12's AVX-512 headers trip -Wuninitialized on their internal _mm512_undefined_*() values
// (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "kernels/ops.h"
#include "kernels/ops_common.h"
#include "tensor/blocks_legacy.h"  // block layout constants only

namespace ember::kernels {
namespace {

inline __mmask16 tail_mask(int64_t remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xffff)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

// exp(x) for 16 lanes: x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-7 polynomial
// (Cephes' expf coefficients), scaled by 2^n through the exponent bits. Inputs below -87.3
// (including -inf) give exactly 0; inputs above 88.37 are clamped (no inf).
inline __m512 exp512(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.376259f);
  const __m512 lo = _mm512_set1_ps(-87.33654f);
  const __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_min_ps(x, hi);
  x = _mm512_max_ps(x, lo);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 r2 = _mm512_mul_ps(r, r);
  p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  const __m512 result = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
  return _mm512_mask_blend_ps(underflow, result, _mm512_setzero_ps());
}

// tanh(x) = 1 - 2 / (exp(2x) + 1), with |x| clamped to 9 (tanh(9) rounds to 1 in float).
inline __m512 tanh512(__m512 x) {
  const __m512 c = _mm512_set1_ps(9.0f);
  x = _mm512_max_ps(_mm512_min_ps(x, c), _mm512_sub_ps(_mm512_setzero_ps(), c));
  const __m512 e = exp512(_mm512_add_ps(x, x));
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
}

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m512d acc0 = _mm512_setzero_pd();
  __m512d acc1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
    const __m512 sq = _mm512_mul_ps(v, v);
    acc0 = _mm512_add_pd(acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    acc1 = _mm512_add_pd(acc1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
  }
  const double sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
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
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), x));
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + i)));
  }
}

void gelu_mul(float* g, const float* u, int64_t n) {
  const __m512 a = _mm512_set1_ps(kGeluCoefA);
  const __m512 c = _mm512_set1_ps(kGeluSqrt2OverPi);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 half = _mm512_set1_ps(0.5f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
    const __m512 inner = _mm512_mul_ps(_mm512_mul_ps(c, x), _mm512_fmadd_ps(_mm512_mul_ps(a, x), x, one));
    const __m512 t = tanh512(inner);
    const __m512 r = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, t)),
                                   _mm512_maskz_loadu_ps(m, u + i));
    _mm512_mask_storeu_ps(g + i, m, r);
  }
}

void softcap(float* x, float cap, int64_t n) {
  const __m512 vc = _mm512_set1_ps(cap);
  const __m512 inv = _mm512_set1_ps(1.0f / cap);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(vc, tanh512(_mm512_mul_ps(v, inv))));
  }
}

float exp_sum(float* x, float max, int64_t n) {
  const __m512 vm = _mm512_set1_ps(max);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const __m512 v = _mm512_mask_loadu_ps(ninf, m, x + i);
    const __m512 e = exp512(_mm512_sub_ps(v, vm));
    acc = _mm512_add_ps(acc, e);
    _mm512_mask_storeu_ps(x + i, m, e);
  }
  return _mm512_reduce_add_ps(acc);
}

float vmax(const float* x, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 acc = ninf;
  for (int64_t i = 0; i < n; i += 16) {
    acc = _mm512_max_ps(acc, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
  }
  return _mm512_reduce_max_ps(acc);
}

float dot_f32(const float* q, const void* row, int64_t n) {
  const auto* k = static_cast<const float*>(row);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_maskz_loadu_ps(m, k + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

inline __m512 load_f16(__mmask16 m, const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

float dot_f16(const float* q, const void* row, int64_t n) {
  const auto* k = static_cast<const uint16_t*>(row);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), load_f16(m, k + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

inline __m512 load_i8(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

float dot_q8_0(const float* q, const void* row, int64_t n) {
  const auto* blocks = static_cast<const uint8_t*>(row);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = blocks + b * sizeof(BlockQ8_0);
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const auto* qs = reinterpret_cast<const int8_t*>(blk + 2);
    __m512 s = _mm512_mul_ps(_mm512_loadu_ps(q + b * kQK8_0), load_i8(qs));
    s = _mm512_fmadd_ps(_mm512_loadu_ps(q + b * kQK8_0 + 16), load_i8(qs + 16), s);
    acc = _mm512_fmadd_ps(s, _mm512_set1_ps(_cvtsh_ss(d16)), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

void axpy_f32(float a, const void* row, float* acc, int64_t n) {
  const auto* v = static_cast<const float*>(row);
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(acc + i, m,
                          _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, v + i), _mm512_maskz_loadu_ps(m, acc + i)));
  }
}

void axpy_f16(float a, const void* row, float* acc, int64_t n) {
  const auto* v = static_cast<const uint16_t*>(row);
  const __m512 va = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(acc + i, m,
                          _mm512_fmadd_ps(va, load_f16(m, v + i), _mm512_maskz_loadu_ps(m, acc + i)));
  }
}

void axpy_q8_0(float a, const void* row, float* acc, int64_t n) {
  const auto* blocks = static_cast<const uint8_t*>(row);
  for (int64_t b = 0; b < n / kQK8_0; ++b) {
    const uint8_t* blk = blocks + b * sizeof(BlockQ8_0);
    uint16_t d16;
    std::memcpy(&d16, blk, 2);
    const auto* qs = reinterpret_cast<const int8_t*>(blk + 2);
    const __m512 ad = _mm512_set1_ps(a * _cvtsh_ss(d16));
    float* o = acc + b * kQK8_0;
    _mm512_storeu_ps(o, _mm512_fmadd_ps(ad, load_i8(qs), _mm512_loadu_ps(o)));
    _mm512_storeu_ps(o + 16, _mm512_fmadd_ps(ad, load_i8(qs + 16), _mm512_loadu_ps(o + 16)));
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

}  // namespace

const OpsTable& ops_avx512() {
  static const OpsTable table = {
      Isa::kAvx512,
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
