// Activation conversion (x86 AVX2): the same bytes as convert_activations_scalar, 8 floats at a
// time. Blocks with non-finite values (or a scale whose reciprocal overflows) take the scalar
// code, so the output never depends on the Isa.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/static_for.h"

namespace ember::kernels::x86 {
namespace {

EMBER_INLINE __m256 abs_ps(__m256 v) {
  return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

EMBER_INLINE bool non_finite(__m256 v) {
  const __m256i e = _mm256_set1_epi32(0x7f800000);
  const __m256i bits = _mm256_and_si256(_mm256_castps_si256(v), e);
  return _mm256_movemask_epi8(_mm256_cmpeq_epi32(bits, e)) != 0;
}

EMBER_INLINE float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

EMBER_INLINE int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// Round to nearest, ties to even, of each lane.
EMBER_INLINE __m256 round_even(__m256 v) {
  return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// Packs 32 int32 codes (in [-127, 127]) into 32 bytes in order.
EMBER_INLINE void store_codes(uint8_t* out, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // per 128-bit lane: a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i bytes = _mm256_packs_epi16(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  const __m256i order =
      _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), order);
}

void q8_0_token(const ActLayout& l, const float* x, uint8_t* out) {
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const float* xb = x + 32 * b;
    __m256 v[4];
    bool bad = false;
    __m256 amax_v = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(xb + 8 * i);
      bad |= non_finite(v[i]);
      amax_v = _mm256_max_ps(amax_v, abs_ps(v[i]));
    }
    if (bad) {
      convert_q8_0_block(l, x, out, b);
      continue;
    }
    const float amax = hmax(amax_v);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    if (std::isinf(id)) {
      convert_q8_0_block(l, x, out, b);
      continue;
    }
    const __m256 vid = _mm256_set1_ps(id);
    const __m256 lim = _mm256_set1_ps(127.0f), nlim = _mm256_set1_ps(-127.0f);
    __m256i q[4];
    __m256i sum = _mm256_setzero_si256();
    for (int i = 0; i < 4; ++i) {
      const __m256 r =
          _mm256_min_ps(lim, _mm256_max_ps(nlim, round_even(_mm256_mul_ps(v[i], vid))));
      q[i] = _mm256_cvtps_epi32(r);
      sum = _mm256_add_epi32(sum, q[i]);
    }
    store_codes(out + 32 * b, q[0], q[1], q[2], q[3]);
    store_q8_scales(l, out, b, d, hsum(sum));
  }
}

void q8_k_token(const ActLayout& l, const float* x, uint8_t* out) {
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const float* xb = x + 256 * b;
    __m256 amax_v = _mm256_setzero_ps();
    bool bad = false;
    for (int i = 0; i < 32; ++i) {
      const __m256 v = _mm256_loadu_ps(xb + 8 * i);
      bad |= non_finite(v);
      amax_v = _mm256_max_ps(amax_v, abs_ps(v));
    }
    const float amax = bad ? 0.0f : hmax(amax_v);
    if (bad || amax == 0.0f) {
      convert_q8_k_block(l, x, out, b);
      continue;
    }
    float max = 0.0f;
    for (int j = 0; j < 256; ++j) {
      if (std::fabs(xb[j]) == amax) {
        max = xb[j];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127), nlim = _mm256_set1_epi32(-127);
    for (int i = 0; i < 8; ++i) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        const __m256 r = _mm256_round_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(xb + 32 * i + 8 * k)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[k] = _mm256_min_epi32(lim, _mm256_max_epi32(nlim, _mm256_cvtps_epi32(r)));
      }
      store_codes(out + 256 * b + 32 * i, q[0], q[1], q[2], q[3]);
    }
    store_q8_k_sums(l, out, b, 1.0f / iscale);
  }
}

void convert(TensorType weight_type, const float* x, int64_t n_tokens, int64_t cols, void* out) {
  const ActLayout l = act_layout(weight_type, cols);
  auto* base = static_cast<uint8_t*>(out);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x + t * cols;
    uint8_t* o = base + static_cast<size_t>(t) * l.stride;
    std::memset(o, 0, l.stride);
    switch (l.kind) {
      case ActKind::kF32:
        std::memcpy(o, xt, static_cast<size_t>(cols) * sizeof(float));
        break;
      case ActKind::kQ8_0:
      case ActKind::kQ8_1:
        q8_0_token(l, xt, o);
        break;
      case ActKind::kQ8_K:
        q8_k_token(l, xt, o);
        break;
    }
  }
}

}  // namespace

ConvertKernel avx2_convert() {
  return &convert;
}

}  // namespace ember::kernels::x86
