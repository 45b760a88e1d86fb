// Q8_0 weights in the reference's 8-lane order (matmul_internal.h), AVX2 (every x86 Isa runs
// this: wider vectors would change nothing but the block count per step). Per block, one
// 256-bit vector holds the 8 lanes: |w| * sign(x, w) summed in pairs (vpmaddubsw; at most
// 2 * 128 * 127, no saturation) and in fours (vpmaddwd), exact; then one FMA per block with
// the broadcast scale product. Up to 4 tokens share each weight load; every output sees the
// same operations whatever group it falls in.
#include <immintrin.h>

#include <cstring>

#include "kernels/act_layout.h"
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/static_for.h"

namespace ember::kernels::x86 {
namespace {

constexpr int64_t kBlockBytes = 34;  // fp16 d + 32 codes

// ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)): q8_0_reduce8.
EMBER_INLINE float hsum8(__m256 a) {
  __m128 t = _mm_add_ps(_mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(a));
  t = _mm_add_ps(t, _mm_movehl_ps(t, t));
  t = _mm_add_ss(t, _mm_movehdup_ps(t));
  return _mm_cvtss_f32(t);
}

template <int T>
EMBER_INLINE void row_tokens(const uint8_t* wr, const uint8_t* act, size_t stride, size_t d_offset,
                             int64_t n_blocks, float* y, int64_t ldy, int64_t r, int64_t t0) {
  const __m256i ones = _mm256_set1_epi16(1);
  const uint8_t* at[T];
  for (int j = 0; j < T; ++j) at[j] = act + static_cast<size_t>(t0 + j) * stride;
  __m256 acc[T];
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* blk = wr + b * kBlockBytes;
    uint16_t h;
    std::memcpy(&h, blk, 2);
    const float wd = _cvtsh_ss(h);
    const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m256i aw = _mm256_sign_epi8(qw, qw);
    for (int j = 0; j < T; ++j) {
      const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at[j] + 32 * b));
      const __m256i sums =
          _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(qx, qw)), ones);
      float xd;
      std::memcpy(&xd, at[j] + d_offset + 4 * static_cast<size_t>(b), 4);
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(wd * xd), _mm256_cvtepi32_ps(sums), acc[j]);
    }
  }
  for (int j = 0; j < T; ++j) y[(t0 + j) * ldy + r] = hsum8(acc[j]);
}

}  // namespace

void avx2_q8_0_lanes(const Weights& w, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                     int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(TensorType::kQ8_0, w.cols);
  const auto* wbase = static_cast<const uint8_t*>(w.data);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* wr = wbase + static_cast<size_t>(r) * w.row_bytes;
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4)
      row_tokens<4>(wr, act, l.stride, l.d_offset, l.n_blocks, y, ldy, r, t);
    for (; t < n_tokens; ++t)
      row_tokens<1>(wr, act, l.stride, l.d_offset, l.n_blocks, y, ldy, r, t);
  }
}

}  // namespace ember::kernels::x86
