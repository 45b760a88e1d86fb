// Activation conversion (x86 AVX-512): the same bytes as convert_activations_scalar, computed 16
// floats at a time. Blocks with non-finite values (or a scale whose reciprocal overflows) take
// the scalar code, so the output never depends on the Isa.
#include <cmath>
#include <cstring>

#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx512.h"

namespace ember::kernels::x86 {
namespace {

// Any lane NaN or +-infinity.
EMBER_INLINE bool non_finite(__m512 v) {
  return _mm512_fpclass_ps_mask(v, 0x99) != 0;
}

// Round to nearest, ties to even, of each lane.
EMBER_INLINE __m512 round_even(__m512 v) {
  return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// fp16_to_fp32(scale_to_fp16(v)) for a finite v (tensor/quant_util.h): clamped to +-65504, then
// rounded to half precision (nearest even, subnormals included) by the F16C instructions, which
// round exactly as the software conversion does.
EMBER_INLINE float fp16_round_clamped(float v) {
  const __m128 c =
      _mm_min_ss(_mm_max_ss(_mm_set_ss(v), _mm_set_ss(-65504.0f)), _mm_set_ss(65504.0f));
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(c, _MM_FROUND_TO_NEAREST_INT)));
}

// store_q8_scales (matmul_internal.h) inline, for a finite scale d (the callers send blocks with
// non-finite values to the scalar code).
EMBER_INLINE void store_q8_scales_finite(const ActLayout& l, uint8_t* out, int64_t b, float d,
                                         int32_t sum) {
  const float dq = fp16_round_clamped(d);
  std::memcpy(out + l.d_offset + static_cast<size_t>(b) * 4, &dq, 4);
  if (l.kind == ActKind::kQ8_0) {
    const int32_t bias = -l.code_offset * sum;
    std::memcpy(out + l.aux_offset + static_cast<size_t>(b) * 4, &bias, 4);
  } else {
    const float s = fp16_round_clamped(static_cast<float>(sum) * d);
    std::memcpy(out + l.aux_offset + static_cast<size_t>(b) * 4, &s, 4);
  }
}

void q8_0_token(const ActLayout& l, const float* x, uint8_t* out) {
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const float* xb = x + 32 * b;
    const __m512 x0 = _mm512_loadu_ps(xb), x1 = _mm512_loadu_ps(xb + 16);
    if (non_finite(x0) || non_finite(x1)) {
      convert_q8_0_block(l, x, out, b);
      continue;
    }
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    if (std::isinf(id)) {
      convert_q8_0_block(l, x, out, b);
      continue;
    }
    const __m512 vid = _mm512_set1_ps(id);
    const __m512 lim = _mm512_set1_ps(127.0f), nlim = _mm512_set1_ps(-127.0f);
    const __m512 r0 = _mm512_min_ps(lim, _mm512_max_ps(nlim, round_even(_mm512_mul_ps(x0, vid))));
    const __m512 r1 = _mm512_min_ps(lim, _mm512_max_ps(nlim, round_even(_mm512_mul_ps(x1, vid))));
    const __m512i q0 = _mm512_cvtps_epi32(r0), q1 = _mm512_cvtps_epi32(r1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32 * b), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32 * b + 16), _mm512_cvtepi32_epi8(q1));
    store_q8_scales_finite(l, out, b, d, _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)));
  }
}

void q8_k_token(const ActLayout& l, const float* x, uint8_t* out) {
  for (int64_t b = 0; b < l.n_blocks; ++b) {
    const float* xb = x + 256 * b;
    __m512 v[16];
    __m512 amax_v = _mm512_setzero_ps();
    bool bad = false;
    for (int i = 0; i < 16; ++i) {
      v[i] = _mm512_loadu_ps(xb + 16 * i);
      bad |= non_finite(v[i]);
      amax_v = _mm512_max_ps(amax_v, _mm512_abs_ps(v[i]));
    }
    const float amax = bad ? 0.0f : _mm512_reduce_max_ps(amax_v);
    if (bad || amax == 0.0f) {
      convert_q8_k_block(l, x, out, b);
      continue;
    }
    // The first value of largest magnitude sets the sign of the scale (as the scalar loop's
    // strict comparison does).
    float max = 0.0f;
    const __m512 va = _mm512_set1_ps(amax);
    for (int i = 0; i < 16; ++i) {
      const __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(v[i]), va, _CMP_EQ_OQ);
      if (m != 0) {
        max = xb[16 * i + __builtin_ctz(m)];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 vs = _mm512_set1_ps(iscale);
    const __m512i lim = _mm512_set1_epi32(127), nlim = _mm512_set1_epi32(-127);
    for (int i = 0; i < 16; ++i) {
      __m512i q = _mm512_cvt_roundps_epi32(_mm512_mul_ps(vs, v[i]),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      q = _mm512_min_epi32(lim, _mm512_max_epi32(nlim, q));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 256 * b + 16 * i), _mm512_cvtepi32_epi8(q));
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
    if (l.kind == ActKind::kF32) {
      // The values, then only the padding zeroed (the row is written once).
      const size_t bytes = static_cast<size_t>(cols) * sizeof(float);
      std::memcpy(o, xt, bytes);
      std::memset(o + bytes, 0, l.stride - bytes);
      continue;
    }
    std::memset(o, 0, l.stride);
    switch (l.kind) {
      case ActKind::kF32:
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

ConvertKernel avx512_convert() {
  return &convert;
}

}  // namespace ember::kernels::x86
