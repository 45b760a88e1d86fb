// GELU through the reference's half-precision table, 16 lanes at a time (kernels/ops_common.h
// gelu_half_table). Shared by the AVX-512 row kernels (ops_avx512.cc) and the split-BF16 product's
// epilogue (matmul_split_avx512amxbf16.cc). Include only from files compiled with AVX-512 flags.
#pragma once

#include <immintrin.h>

namespace ember::kernels::x86 {
namespace {

// gelu(v) for the lanes of m (others 0), as the reference computes it for F32 rows: v <= -10
// gives 0, v >= 10 gives v, anything else table[half(v)] (v rounded to the nearest half).
inline __attribute__((always_inline)) __m512 gelu_half16(__m512 v, __mmask16 m,
                                                         const float* table) {
  // The zero-masked forms: the plain intrinsics trip GCC 12's -Wmaybe-uninitialized on their
  // undefined pass-through.
  const __m512i idx =
      _mm512_maskz_cvtepu16_epi32(m, _mm512_maskz_cvtps_ph(m, v, _MM_FROUND_TO_NEAREST_INT));
  __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, table, 4);
  g = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_set1_ps(10.0f), _CMP_GE_OQ), g, v);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_set1_ps(-10.0f), _CMP_LE_OQ), g,
                              _mm512_setzero_ps());
}

}  // namespace
}  // namespace ember::kernels::x86
