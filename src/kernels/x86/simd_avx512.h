// AVX-512 operations used by the generic tile kernels (x86/tiles.h), as a traits class.
// Include only from files compiled with AVX-512 flags (*_avx512.cc, *_avx512vnni.cc).
//
// One vector holds 16 int32/float lanes, one per weight row of a packed group. kVnni selects
// vpdpbusd/vpdpwssd; without it the same exact integer sums come from vpmaddubsw + vpmaddwd,
// which needs the unsigned operand <= 127 to stay clear of int16 saturation (kWideDot false).
#pragma once

// GCC 12 reports its own _mm512_undefined_*() placeholders inside the intrinsics as "maybe
// uninitialized" once inlined (GCC bug 105593); the diagnostic location is in this header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>
#include <cstring>

#include "kernels/x86/static_for.h"

namespace ember::kernels::x86 {
namespace {

template <bool kVnni>
struct Avx512 {
  using VI = __m512i;
  using VF = __m512;
  static constexpr int kLanes = 16;
  // Bytes of a packed 64-byte vector that one register covers, and its offset per sub-vector.
  static constexpr int kVecBytes = 64;
  // dot() is exact for unsigned codes up to 255.
  static constexpr bool kWideDot = kVnni;

  static EMBER_INLINE VI load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static EMBER_INLINE VI bcst32(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  static EMBER_INLINE VI zero() { return _mm512_setzero_si512(); }
  static EMBER_INLINE VI set1_8(int v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  static EMBER_INLINE VI set1_32(int32_t v) { return _mm512_set1_epi32(v); }
  static EMBER_INLINE VI and_(VI a, VI b) { return _mm512_and_si512(a, b); }
  static EMBER_INLINE VI xor_(VI a, VI b) { return _mm512_xor_si512(a, b); }
  template <int N>
  static EMBER_INLINE VI shift16(VI a) {  // left for N > 0, right for N < 0 (16-bit lanes)
    if constexpr (N > 0) return _mm512_slli_epi16(a, N);
    if constexpr (N < 0) return _mm512_srli_epi16(a, -N);
    return a;
  }
  // a | (b & c)
  static EMBER_INLINE VI or_and(VI a, VI b, VI c) {
    return _mm512_ternarylogic_epi32(a, b, c, 0xF8);
  }
  static EMBER_INLINE VI shuffle8(VI table, VI idx) { return _mm512_shuffle_epi8(table, idx); }
  static EMBER_INLINE VI table16(const int8_t* t) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
  }

  // acc + sum of 4 products u (unsigned bytes) * a (signed bytes) per 32-bit lane.
  static EMBER_INLINE VI dot(VI acc, VI u, VI a) {
    if constexpr (kVnni) {
      return _mm512_dpbusd_epi32(acc, u, a);
    } else {
      const VI p16 = _mm512_maddubs_epi16(u, a);
      return _mm512_add_epi32(acc, _mm512_madd_epi16(p16, _mm512_set1_epi16(1)));
    }
  }
  // acc + sum of 4 products w * a, both signed bytes (w may be -128).
  static EMBER_INLINE VI dot_signed(VI acc, VI w, VI a) {
    const __mmask64 neg = _mm512_movepi8_mask(w);
    const VI sa = _mm512_mask_sub_epi8(a, neg, _mm512_setzero_si512(), a);
    return dot(acc, _mm512_abs_epi8(w), sa);
  }
  // acc + sum of 2 products of signed 16-bit halves per 32-bit lane.
  static EMBER_INLINE VI dot16(VI acc, VI a, VI b) {
    if constexpr (kVnni) {
      return _mm512_dpwssd_epi32(acc, a, b);
    } else {
      return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
    }
  }
  static EMBER_INLINE VI add32(VI a, VI b) { return _mm512_add_epi32(a, b); }
  static EMBER_INLINE VI sub32(VI a, VI b) { return _mm512_sub_epi32(a, b); }
  static EMBER_INLINE VI mullo32(VI a, VI b) { return _mm512_mullo_epi32(a, b); }
  template <int N>
  static EMBER_INLINE VI slli32(VI a) {
    return _mm512_slli_epi32(a, N);
  }
  template <int N>
  static EMBER_INLINE VI srai32(VI a) {
    return _mm512_srai_epi32(a, N);
  }
  template <int N>
  static EMBER_INLINE VI srli32(VI a) {
    return _mm512_srli_epi32(a, N);
  }

  // kLanes bytes -> int32 lanes.
  static EMBER_INLINE VI u8_to_i32(const uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static EMBER_INLINE VI i8_to_i32(const uint8_t* p) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  // 2 * kLanes bytes -> int16 pairs (one pair per 32-bit lane).
  static EMBER_INLINE VI u8_to_i16(const uint8_t* p) {
    return _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static EMBER_INLINE VI i8_to_i16(const uint8_t* p) {
    return _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }

  static EMBER_INLINE VF zerof() { return _mm512_setzero_ps(); }
  static EMBER_INLINE VF cvt(VI a) { return _mm512_cvtepi32_ps(a); }
  static EMBER_INLINE VF as_f32(VI a) { return _mm512_castsi512_ps(a); }  // same bits
  static EMBER_INLINE VF mul(VF a, VF b) { return _mm512_mul_ps(a, b); }
  static EMBER_INLINE VF fmadd(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
  static EMBER_INLINE VF fnmadd(VF a, VF b, VF c) { return _mm512_fnmadd_ps(a, b, c); }
  static EMBER_INLINE VF bcstf(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_ps(v);
  }
  // kLanes fp16 / bf16 / f32 values -> float lanes.
  static EMBER_INLINE VF f16(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static EMBER_INLINE VF bf16(const uint8_t* p) {
    const VI w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
  static EMBER_INLINE VF f32(const uint8_t* p) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p));
  }

  // Stores lanes [lo, hi) of v to y[lo .. hi).
  static EMBER_INLINE void store(float* y, VF v, int lo, int hi) {
    if (lo == 0 && hi == kLanes) {
      _mm512_storeu_ps(y, v);
    } else {
      const auto mask = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
      _mm512_mask_storeu_ps(y, mask, v);
    }
  }
};

}  // namespace
}  // namespace ember::kernels::x86
