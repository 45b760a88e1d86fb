// Pieces shared by the reference-order AVX2 kernels (matmul_reference_avx2.cc,
// matmul_reference_q5_avx2.cc; both compiled with the AVX2 flags).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/static_for.h"

namespace ember::kernels::x86::reference_avx2 {

// ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)): q8_0_reduce8 (the reference's hsum_float_8).
EMBER_INLINE float hsum8(__m256 a) {
  __m128 t = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));
  t = _mm_add_ps(t, _mm_movehl_ps(t, t));
  t = _mm_add_ss(t, _mm_movehdup_ps(t));
  return _mm_cvtss_f32(t);
}

// The 32 unsigned 5-bit codes (0..31) of a Q5_0 / Q5_1 block: 16 bytes of nibbles at `nibbles`
// (low nibbles are columns 0..15, high nibbles 16..31) and the 32-bit qh at `qh_bytes` (bit k the
// fifth bit of column k).
EMBER_INLINE __m256i q5_codes(const uint8_t* nibbles, const uint8_t* qh_bytes) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(nibbles));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  const __m256i nib = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, m4)),
                                              _mm_and_si128(_mm_srli_epi16(q, 4), m4), 1);
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  // Byte k gets byte k / 8 of qh (the shuffle indexes within each 128-bit half, which both hold
  // qh broadcast), then is tested against bit k % 8.
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(qh)),
                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                           2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_or_si256(nib, _mm256_and_si256(set, _mm256_set1_epi8(16)));
}

}  // namespace ember::kernels::x86::reference_avx2
