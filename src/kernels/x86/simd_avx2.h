// AVX2 (+FMA, F16C) operations used by the generic tile kernels (x86/tiles.h), as a traits class.
// Include only from files compiled with AVX2 flags (*_avx2.cc).
//
// One vector holds 8 int32/float lanes, one per weight row: a packed group of 16 rows is two
// vectors, the first reading bytes 0..31 of each 64-byte packed vector, the second bytes 32..63.
// There is no int8 dot-product instruction: vpmaddubsw + vpmaddwd give the same exact sums while
// the unsigned operand stays <= 127 (kWideDot false; wider codes use the signed form).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/static_for.h"

namespace ember::kernels::x86 {
namespace {

struct Avx2 {
  using VI = __m256i;
  using VF = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kVecBytes = 32;
  static constexpr bool kWideDot = false;

  static EMBER_INLINE VI load(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static EMBER_INLINE VI bcst32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  static EMBER_INLINE VI zero() { return _mm256_setzero_si256(); }
  static EMBER_INLINE VI set1_8(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }
  static EMBER_INLINE VI set1_32(int32_t v) { return _mm256_set1_epi32(v); }
  static EMBER_INLINE VI and_(VI a, VI b) { return _mm256_and_si256(a, b); }
  static EMBER_INLINE VI xor_(VI a, VI b) { return _mm256_xor_si256(a, b); }
  template <int N>
  static EMBER_INLINE VI shift16(VI a) {
    if constexpr (N > 0) return _mm256_slli_epi16(a, N);
    if constexpr (N < 0) return _mm256_srli_epi16(a, -N);
    return a;
  }
  static EMBER_INLINE VI or_and(VI a, VI b, VI c) {
    return _mm256_or_si256(a, _mm256_and_si256(b, c));
  }
  static EMBER_INLINE VI shuffle8(VI table, VI idx) { return _mm256_shuffle_epi8(table, idx); }
  static EMBER_INLINE VI table16(const int8_t* t) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
  }

  static EMBER_INLINE VI dot(VI acc, VI u, VI a) {
    const VI p16 = _mm256_maddubs_epi16(u, a);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
  }
  static EMBER_INLINE VI dot_signed(VI acc, VI w, VI a) {
    return dot(acc, _mm256_abs_epi8(w), _mm256_sign_epi8(a, w));
  }
  static EMBER_INLINE VI dot16(VI acc, VI a, VI b) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
  }
  static EMBER_INLINE VI add32(VI a, VI b) { return _mm256_add_epi32(a, b); }
  static EMBER_INLINE VI sub32(VI a, VI b) { return _mm256_sub_epi32(a, b); }
  static EMBER_INLINE VI mullo32(VI a, VI b) { return _mm256_mullo_epi32(a, b); }
  template <int N>
  static EMBER_INLINE VI slli32(VI a) {
    return _mm256_slli_epi32(a, N);
  }
  template <int N>
  static EMBER_INLINE VI srai32(VI a) {
    return _mm256_srai_epi32(a, N);
  }
  template <int N>
  static EMBER_INLINE VI srli32(VI a) {
    return _mm256_srli_epi32(a, N);
  }

  static EMBER_INLINE VI u8_to_i32(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static EMBER_INLINE VI i8_to_i32(const uint8_t* p) {
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static EMBER_INLINE VI u8_to_i16(const uint8_t* p) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static EMBER_INLINE VI i8_to_i16(const uint8_t* p) {
    return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }

  static EMBER_INLINE VF zerof() { return _mm256_setzero_ps(); }
  static EMBER_INLINE VF cvt(VI a) { return _mm256_cvtepi32_ps(a); }
  static EMBER_INLINE VF as_f32(VI a) { return _mm256_castsi256_ps(a); }  // same bits
  static EMBER_INLINE VF mul(VF a, VF b) { return _mm256_mul_ps(a, b); }
  static EMBER_INLINE VF fmadd(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
  static EMBER_INLINE VF fnmadd(VF a, VF b, VF c) { return _mm256_fnmadd_ps(a, b, c); }
  static EMBER_INLINE VF bcstf(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_ps(v);
  }
  static EMBER_INLINE VF f16(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static EMBER_INLINE VF bf16(const uint8_t* p) {
    const VI w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static EMBER_INLINE VF f32(const uint8_t* p) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
  }

  static EMBER_INLINE void store(float* y, VF v, int lo, int hi) {
    if (lo == 0 && hi == kLanes) {
      _mm256_storeu_ps(y, v);
    } else {
      const VI idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const VI mask = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)),
                                       _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
      _mm256_maskstore_ps(y, mask, v);
    }
  }
};

}  // namespace
}  // namespace ember::kernels::x86
