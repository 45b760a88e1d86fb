// The on-the-fly split-BF16 form's products for F16 weights and 1..15 tokens on AVX-512 FMA
// (kernels/matmul.h WeightForm::kSplitBf16Fly; layouts in matmul_internal.h): the same bits as
// the AMX-BF16 tile kernel (matmul_split_avx512amxbf16.cc), at FMA speed for decoding.
//
// What a tile product computes (measured on Sapphire Rapids on 5 million random outputs; checked
// again by tests/kernels_split_bf16_test.cc; tdpbf16ps_scalar in split_bf16.cc is the definition):
// for each output, tdpbf16ps does NOT run one FMA chain over its 32 products; it keeps two F32
// chains from +0, e over the even elements of the pairs and o over the odd ones, each e = fma(a, b,
// e) rounded to nearest even, then c = c + (e + o), with BF16 / F32 subnormal inputs read as zero
// and subnormal results flushed to zero (DAZ, FTZ). This kernel runs exactly those operations
// with 16 output rows per vector, under MXCSR.DAZ | FTZ (set for the call and restored), in the
// split form's order: per 32-column step the hi . hi, lo . hi and hi . lo products (A . B, A the
// activation part, B the weight part), steps ascending, c from +0.
//
// Weights: per group of 16 rows and step a 1 KB tile of F16 (line k: columns 32 s + 2 k and + 1 of
// rows 0..15, in halves). A line becomes the even / odd columns of the 16 rows as F32 (vcvtph2ps),
// each split into hi = BF16 rounded to nearest even (vcvtne2ps2bf16, as split_bf16, widened back
// to F32 by zero-masked vpermw) and lo = w - hi (exact). Activations: the split layout's hi / lo
// BF16 parts, expanded once per call to F32 (even / odd halves per step) so the FMAs broadcast them
// from memory.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/x86/kernels_x86.h"

namespace ember::kernels::x86 {
namespace {

constexpr int64_t kTok = 16;
constexpr size_t kTileBytes = 1024;
// Expanded activations per token and step: hi even, hi odd, lo even, lo odd (16 floats each).
constexpr int64_t kActFloats = 64;
// How far ahead of the line in use the weights are prefetched.
constexpr size_t kPrefetchBytes = 8192;

// MXCSR.DAZ (bit 6) and FTZ (bit 15): the tile unit's subnormal handling, for this thread while
// the kernel runs.
class ScopedDazFtz {
 public:
  ScopedDazFtz() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }
  ~ScopedDazFtz() { _mm_setcsr(saved_); }
  ScopedDazFtz(const ScopedDazFtz&) = delete;
  ScopedDazFtz& operator=(const ScopedDazFtz&) = delete;

 private:
  unsigned saved_;
};

// The zero-masked intrinsics with all lanes set: the plain ones trip GCC 12's
// -Wmaybe-uninitialized on their undefined pass-through.
constexpr __mmask16 kAll = 0xffff;

// The weight parts of one line (16 rows): hi / lo of the even and odd columns.
struct Line {
  __m512 he, ho, le, lo;
};

// Word indices that put word r (even columns) / 16 + r (odd columns) of the rounded line into the
// high half of 32-bit lane r (the low halves are zeroed by the mask): BF16 as F32.
struct WidenIdx {
  __m512i even, odd;
};
WidenIdx widen_idx() {
  alignas(64) int16_t e[32] = {}, o[32] = {};
  for (int r = 0; r < 16; ++r) {
    e[2 * r + 1] = static_cast<int16_t>(r);
    o[2 * r + 1] = static_cast<int16_t>(16 + r);
  }
  return {_mm512_load_si512(e), _mm512_load_si512(o)};
}
constexpr __mmask32 kHighWords = 0xaaaaaaaau;

static inline __attribute__((always_inline)) Line load_line(const uint8_t* p, const WidenIdx& wi) {
  // F16 lines are stored in halves (matmul_internal.h): the even column of rows 0..15, then the
  // odd one.
  const __m512 fe =
      _mm512_maskz_cvtph_ps(kAll, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  const __m512 fo =
      _mm512_maskz_cvtph_ps(kAll, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)));
  // hi = round to nearest even BF16 (as split_bf16 for these finite values), both halves at once.
  const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(fo, fe);
  Line l;
  l.he = _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(kHighWords, wi.even, h));
  l.ho = _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(kHighWords, wi.odd, h));
  l.le = _mm512_sub_ps(fe, l.he);
  l.lo = _mm512_sub_ps(fo, l.ho);
  return l;
}

// T tokens x G row groups: accumulators c[t][g]; per step three products (hh, lh, hl), each with
// an even and an odd chain. x: expanded activations of the T tokens (token t at x + t * x_stride),
// w: group 0's tiles (group j at w + j * group_bytes).
template <int T, int G>
void run_block(const float* x, size_t x_stride, const uint8_t* w, size_t group_bytes, int64_t steps,
               __m512 (&c)[T][G]) {
  const WidenIdx wi = widen_idx();
  for (int t = 0; t < T; ++t)
    for (int g = 0; g < G; ++g) c[t][g] = _mm512_setzero_ps();
  for (int64_t s = 0; s < steps; ++s) {
    __m512 e[T][G][3], o[T][G][3];
    for (int t = 0; t < T; ++t)
      for (int g = 0; g < G; ++g)
        for (int p = 0; p < 3; ++p) e[t][g][p] = o[t][g][p] = _mm512_setzero_ps();
    for (int k = 0; k < 16; ++k) {
      Line l[G];
      for (int g = 0; g < G; ++g) {
        // The weights stream from memory once per call: prefetched ahead, since the hardware
        // prefetcher alone left one token at about 0.7x this speed (prefetches never fault, so
        // running past a group's end is harmless).
        _mm_prefetch(reinterpret_cast<const char*>(w + static_cast<size_t>(g) * group_bytes +
                                                   static_cast<size_t>(s) * kTileBytes +
                                                   static_cast<size_t>(k) * 64 + kPrefetchBytes),
                     _MM_HINT_T0);
        l[g] = load_line(w + static_cast<size_t>(g) * group_bytes +
                             static_cast<size_t>(s) * kTileBytes + static_cast<size_t>(k) * 64,
                         wi);
      }
      for (int t = 0; t < T; ++t) {
        const float* xa = x + static_cast<size_t>(t) * x_stride + s * kActFloats;
        const __m512 ahe = _mm512_set1_ps(xa[k]), aho = _mm512_set1_ps(xa[16 + k]);
        const __m512 ale = _mm512_set1_ps(xa[32 + k]), alo = _mm512_set1_ps(xa[48 + k]);
        for (int g = 0; g < G; ++g) {
          e[t][g][0] = _mm512_fmadd_ps(ahe, l[g].he, e[t][g][0]);
          o[t][g][0] = _mm512_fmadd_ps(aho, l[g].ho, o[t][g][0]);
          e[t][g][1] = _mm512_fmadd_ps(ale, l[g].he, e[t][g][1]);
          o[t][g][1] = _mm512_fmadd_ps(alo, l[g].ho, o[t][g][1]);
          e[t][g][2] = _mm512_fmadd_ps(ahe, l[g].le, e[t][g][2]);
          o[t][g][2] = _mm512_fmadd_ps(aho, l[g].lo, o[t][g][2]);
        }
      }
    }
    for (int t = 0; t < T; ++t)
      for (int g = 0; g < G; ++g)
        for (int p = 0; p < 3; ++p)
          c[t][g] = _mm512_add_ps(c[t][g], _mm512_add_ps(e[t][g][p], o[t][g][p]));
  }
}

// Expands token m's split activations (the first tile's line m) to F32: per step hi even, hi odd,
// lo even, lo odd.
void expand_token(const uint8_t* act, int64_t m, int64_t steps, float* out) {
  const __m512i hi_mask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  for (int64_t s = 0; s < steps; ++s) {
    for (int part = 0; part < 2; ++part) {
      const __m512i v =
          _mm512_loadu_si512(act + static_cast<size_t>(s) * 2 * kTileBytes +
                             static_cast<size_t>(part) * kTileBytes + static_cast<size_t>(m) * 64);
      float* o = out + s * kActFloats + part * 32;
      _mm512_storeu_ps(o, _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAll, v, 16)));
      _mm512_storeu_ps(o + 16, _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask)));
    }
  }
}

// Rows [row_begin, row_end) of group g's 16 outputs for token t.
static inline __attribute__((always_inline)) void store_rows(float* y, int64_t ldy, int64_t t,
                                                             int64_t g, int64_t row_begin,
                                                             int64_t row_end, __m512 v) {
  const int64_t r0 = g * kTok;
  const int64_t lo = std::max<int64_t>(row_begin - r0, 0),
                hi = std::min<int64_t>(row_end - r0, kTok);
  const auto mask = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  _mm512_mask_storeu_ps(y + t * ldy + r0, mask, v);
}

struct Args {
  const PackedView* pv;
  const float* x;  // expanded activations, token m at x + m * x_stride
  size_t x_stride;
  int64_t steps, n_tokens;
  float* y;
  int64_t ldy, row_begin, row_end;
};

template <int T>
void token_block(const Args& a, int64_t t0, int64_t g) {
  __m512 c[T][1];
  run_block<T, 1>(a.x + static_cast<size_t>(t0) * a.x_stride, a.x_stride,
                  a.pv->data + static_cast<size_t>(g) * a.pv->group_bytes, a.pv->group_bytes,
                  a.steps, c);
  for (int t = 0; t < T; ++t) store_rows(a.y, a.ldy, t0 + t, g, a.row_begin, a.row_end, c[t][0]);
}

// The products, called with DAZ / FTZ set (a call, so no arithmetic moves across the MXCSR
// writes). One token: two row groups at a time (12 independent chains); more tokens: per row
// group, blocks of up to 3 tokens share each converted weight line (the group's tiles stay in
// L2 for the next block).
__attribute__((noinline)) void run_all(const Args& a) {
  const int64_t g_first = a.row_begin / kTok, g_last = (a.row_end + kTok - 1) / kTok;
  if (a.n_tokens == 1) {
    int64_t g = g_first;
    for (; g + 2 <= g_last; g += 2) {
      __m512 c[1][2];
      run_block<1, 2>(a.x, a.x_stride, a.pv->data + static_cast<size_t>(g) * a.pv->group_bytes,
                      a.pv->group_bytes, a.steps, c);
      store_rows(a.y, a.ldy, 0, g, a.row_begin, a.row_end, c[0][0]);
      store_rows(a.y, a.ldy, 0, g + 1, a.row_begin, a.row_end, c[0][1]);
    }
    if (g < g_last) token_block<1>(a, 0, g);
    return;
  }
  for (int64_t g = g_first; g < g_last; ++g) {
    int64_t t = 0;
    for (; t + 3 <= a.n_tokens; t += 3) token_block<3>(a, t, g);
    if (a.n_tokens - t == 2) token_block<2>(a, t, g);
    if (a.n_tokens - t == 1) token_block<1>(a, t, g);
  }
}

}  // namespace

void avx512amxbf16_fly_fma_matmul(const PackedView& pv, const uint8_t* act, int64_t n_tokens,
                                  float* y, int64_t ldy, int64_t row_begin, int64_t row_end) {
  if (n_tokens <= 0 || row_begin >= row_end) return;
  Args a{};
  a.pv = &pv;
  a.steps = split_bf16_cols(pv.cols) / 32;
  a.x_stride = static_cast<size_t>(a.steps * kActFloats);
  a.n_tokens = n_tokens;
  a.y = y;
  a.ldy = ldy;
  a.row_begin = row_begin;
  a.row_end = row_end;
  // n_tokens (<= 15) x cols x 8 bytes: 64 KB per token for 8192 columns.
  std::vector<float> x(static_cast<size_t>(n_tokens) * a.x_stride);
  for (int64_t m = 0; m < n_tokens; ++m) {
    expand_token(act, m, a.steps, x.data() + static_cast<size_t>(m) * a.x_stride);
  }
  a.x = x.data();
  const ScopedDazFtz daz_ftz;
  run_all(a);
}

}  // namespace ember::kernels::x86
