// The F32 block transpose of kernels/ops.h (OpsTable::transpose), shared by the AVX2 and
// AVX-512 tables (both translation units are compiled with AVX2 flags): 8x8 blocks through
// ymm registers, the ragged edges element by element. Pure data movement, so every Isa gives
// the same result.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::kernels::x86 {

// dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows, c < cols. `static`: each including
// translation unit keeps its own copy, compiled with its own flags (see kernels/ops_common.h on
// why a shared inline copy could carry AVX-512 encodings into the AVX2 table).
// Stores the transpose of the 8x8 block held in r0..r7 (row i in ri) at dst, rows ld apart.
static inline void store_transposed_8x8(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4,
                                        __m256 r5, __m256 r6, __m256 r7, float* d, int64_t ld) {
  // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves.
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(d + 0 * ld, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(d + 1 * ld, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(d + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(d + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(d + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(d + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(d + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(d + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
}

static inline void transpose_f32_ymm(const float* src, int64_t ld_src, float* dst, int64_t ld_dst,
                                     int64_t rows, int64_t cols) {
  int64_t r = 0;
  for (; r + 8 <= rows; r += 8) {
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      const float* s = src + r * ld_src + c;
      store_transposed_8x8(_mm256_loadu_ps(s + 0 * ld_src), _mm256_loadu_ps(s + 1 * ld_src),
                           _mm256_loadu_ps(s + 2 * ld_src), _mm256_loadu_ps(s + 3 * ld_src),
                           _mm256_loadu_ps(s + 4 * ld_src), _mm256_loadu_ps(s + 5 * ld_src),
                           _mm256_loadu_ps(s + 6 * ld_src), _mm256_loadu_ps(s + 7 * ld_src),
                           dst + c * ld_dst + r, ld_dst);
    }
    for (; c < cols; ++c) {
      for (int64_t i = r; i < r + 8; ++i) dst[c * ld_dst + i] = src[i * ld_src + c];
    }
  }
  for (; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * ld_src + c];
  }
}

// dst[c * ld_dst + r] = float(rows[r][c]) for half-precision rows, r < n_rows, c < cols: the
// conversion (exact) and the transpose in one pass, 8 rows x 8 values per step.
static inline void f16_rows_to_f32_t_ymm(const uint16_t* const* rows, int64_t n_rows, int64_t cols,
                                         float* dst, int64_t ld_dst) {
  auto cvt8 = [](const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  };
  int64_t r = 0;
  for (; r + 8 <= n_rows; r += 8) {
    const uint16_t* const* rr = rows + r;
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      store_transposed_8x8(cvt8(rr[0] + c), cvt8(rr[1] + c), cvt8(rr[2] + c), cvt8(rr[3] + c),
                           cvt8(rr[4] + c), cvt8(rr[5] + c), cvt8(rr[6] + c), cvt8(rr[7] + c),
                           dst + c * ld_dst + r, ld_dst);
    }
    for (; c < cols; ++c) {
      for (int64_t i = 0; i < 8; ++i) dst[c * ld_dst + r + i] = _cvtsh_ss(rr[i][c]);
    }
  }
  for (; r < n_rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = _cvtsh_ss(rows[r][c]);
  }
}

}  // namespace ember::kernels::x86
