// AMX-BF16 kernel of the split-BF16 form (kernels/matmul.h WeightForm::kSplitBf16; layouts in
// matmul_internal.h) and its activation conversion.
//
// Each output is  sum over 32-column steps s of three tile products (tdpbf16ps, F32 accumulate):
//   C += A_hi(s) . B_hi(s);  C += A_lo(s) . B_hi(s);  C += A_hi(s) . B_lo(s)
// (the last only when the weights have lo parts: not for BF16) in that order, s ascending, C
// starting at zero and kept in a tile register over all columns (no per-step store: the F16 / BF16
// / F32 weights have no block scales). A is a 16-token tile (16 lines of 32 BF16 activations), B a
// 16-row weight tile (16 lines of 16 rows x 2 columns), C [16 tokens][16 rows] F32.
//
// Blocking: 4 accumulators C[i][j] for token tiles i = 0, 1 and row groups j = 0, 1; per step and
// part two A and two B tile loads feed four products (tmm0..3: C00, C01, C10, C11; tmm4, tmm5: A
// of token tiles 0, 1; tmm6, tmm7: B of groups 0, 1), so each load serves two products and each
// accumulator sees a product every fourth one (the products' latency is hidden). The same part of
// a step is loaded twice (A_hi, B_hi): the second load hits L1. Tails (a last single token tile or
// row group) run the same sequence with fewer accumulators, so every output gets the same
// arithmetic whatever tile it falls in: results do not depend on the token count, the row range
// or the thread count. Tiles always have 16 token lines: the activation buffer holds a multiple of
// 16 token rows (matmul.h), and outputs of rows past n_tokens are not stored. A and B tiles are
// both 1 KB of consecutive bytes (tile-major activations, matmul_internal.h): in a standalone copy
// of this loop, 3-24 % faster from L2 than 16 lines at a token row's stride (performance.md).
//
// Loop order: row groups in chunks whose weights (<= ~1 MB) stay in L2; per chunk, token tile
// pairs outer, row group pairs inner, so a token pair's activations stay in L1/L2 while the
// chunk's weights stream from L2.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/x86/gelu_avx512.h"
#include "kernels/x86/kernels_x86.h"

namespace ember::kernels::x86 {
namespace {

constexpr int64_t kTok = 16;
constexpr size_t kTileBytes = 1024;
constexpr size_t kStepBytes = 2 * kTileBytes;  // hi and lo weight tiles of one step

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

struct Ctx {
  // Weights: group g's step s (s relative to s0) starts at w + (g - g_off) * group_bytes +
  // s * step_bytes; its hi tile there, its lo tile kTileBytes later (when weight_lo).
  const uint8_t* w = nullptr;
  int64_t g_off = 0;
  size_t group_bytes = 0;
  size_t step_bytes = kStepBytes;
  int64_t s0 = 0;     // first step (the activations' column block) of this pass
  int64_t steps = 0;  // steps in this pass
  // A pass of steps [s0, s0 + steps) starts the accumulators at zero when `zero` and stores them
  // when `store`; passes between keep them in the tile registers (the on-the-fly form splits its
  // weights a few steps at a time).
  bool zero = true, store = true;
  // Activations (tile-major): token tile t's step s (absolute) at act + t * tile_bytes +
  // s * kStepBytes, its hi tile there and its lo tile kTileBytes later.
  const uint8_t* act = nullptr;  // token tile 0
  size_t tile_bytes = 0;         // bytes per 16-token tile (all steps, both parts)
  int64_t n_tokens = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  int64_t rb = 0, re = 0;
  // False for BF16 weights, whose lo parts are zero: the hi . lo products are skipped (they
  // would add exact zeros).
  bool weight_lo = true;
  // Weights streamed from memory with a single token tile (decoding): prefetch them ahead (the
  // tile loads alone leave the stream latency-bound).
  bool prefetch = false;
  // The epilogue (kernels_x86.h SplitStore); `epilogue` is false when it does nothing.
  bool epilogue = false;
  SplitStore epi;
};

// How far ahead of the current step a single token tile's pass prefetches its weights.
constexpr size_t kPrefetchBytes = 8 * kTileBytes;

static inline __attribute__((always_inline)) void prefetch_step(const uint8_t* p, size_t bytes) {
  for (size_t o = 0; o < bytes; o += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
}

// Stores accumulator `tile`'s 16 x 16 outputs (token tile t, group g): straight into y when the
// whole tile is wanted and there is no epilogue, else through a buffer.
#define EMBER_STORE_C(tile, c, t, g)                                                            \
  do {                                                                                          \
    const int64_t t0_ = (t)*kTok, r0_ = (g)*kTok;                                               \
    if (!(c).epilogue && t0_ + kTok <= (c).n_tokens && r0_ >= (c).rb && r0_ + kTok <= (c).re) { \
      /* y may be null with an epilogue into activations: only offset it here */                \
      _tile_stored(tile, (c).y + t0_ * (c).ldy + r0_, static_cast<long>((c).ldy * 4));          \
    } else {                                                                                    \
      alignas(64) float buf_[kTok * kTok];                                                      \
      _tile_stored(tile, buf_, 64);                                                             \
      if ((c).epilogue) {                                                                       \
        store_epilogue(c, buf_, t0_, r0_);                                                      \
      } else {                                                                                  \
        store_part(c, buf_, t0_, r0_);                                                          \
      }                                                                                         \
    }                                                                                           \
  } while (0)

void store_part(const Ctx& c, const float* buf, int64_t t0, int64_t r0) {
  const int64_t nt = std::min(kTok, c.n_tokens - t0);
  const int64_t lo = std::max<int64_t>(c.rb - r0, 0), hi = std::min<int64_t>(c.re - r0, kTok);
  if (lo >= hi) return;
  for (int64_t t = 0; t < nt; ++t) {
    std::memcpy(c.y + (t0 + t) * c.ldy + r0 + lo, buf + t * kTok + lo,
                static_cast<size_t>(hi - lo) * sizeof(float));
  }
}

// x >> 16 per 32-bit lane, and the low 16 bits of each lane packed (the zero-masked forms: the
// plain intrinsics trip GCC 12's -Wmaybe-uninitialized on their undefined pass-through).
inline __attribute__((always_inline)) __m512i srl16(__m512i x) {
  return _mm512_maskz_srli_epi32(static_cast<__mmask16>(0xffff), x, 16);
}
inline __attribute__((always_inline)) __m256i narrow16(__m512i x) {
  return _mm512_maskz_cvtepi32_epi16(static_cast<__mmask16>(0xffff), x);
}

// The integer rounding of split_bf16 (split_bf16.cc), 16 values at a time: the parts' BF16 bits
// in the high 16 bits of each lane of h (low bits zero) and l (low bits anything).
inline __attribute__((always_inline)) void split16(__m512 v, __m512i& h, __m512i& l) {
  const __m512i round = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1);
  const __m512i exp_mask = _mm512_set1_epi32(0x7f800000);
  const __m512i hi_mask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  const __m512i u = _mm512_castps_si512(v);
  h = _mm512_and_si512(
      _mm512_add_epi32(_mm512_add_epi32(u, round), _mm512_and_si512(srl16(u), one)), hi_mask);
  const __m512i ru = _mm512_castps_si512(_mm512_sub_ps(v, _mm512_castsi512_ps(h)));
  l = _mm512_add_epi32(_mm512_add_epi32(ru, round), _mm512_and_si512(srl16(ru), one));
  // No second part where hi is inf / NaN.
  const __mmask16 finite = _mm512_cmpneq_epi32_mask(_mm512_and_si512(h, exp_mask), exp_mask);
  l = _mm512_maskz_mov_epi32(finite, l);
}

// Byte offset of the hi part of token t, column c in a split activation buffer of kp columns
// (matmul_internal.h split_bf16_act_offset; a local copy, since this file is compiled for AMX).
inline size_t act_offset(int64_t t, int64_t c, int64_t kp) {
  return static_cast<size_t>((t / 16) * 64 * kp + (c / 32) * 2048 + (t % 16) * 64 + (c % 32) * 2);
}

// The epilogue of one accumulator tile (buf [16 tokens][16 rows] F32; token tile t0 / 16, rows
// r0 .. r0 + 15): per token line, + bias, GELU, then the F32 values into y or their split parts
// into act_out (columns r0 .. r0 + 15 of that token's line), rows outside [rb, re) and tokens
// past n_tokens untouched. The same float operations as the passes it replaces (ops.h add,
// rows.h bias_gelu, split_bf16), so the same bits.
void store_epilogue(const Ctx& c, const float* buf, int64_t t0, int64_t r0) {
  const int64_t nt = std::min(kTok, c.n_tokens - t0);
  const int64_t lo = std::max<int64_t>(c.rb - r0, 0), hi = std::min<int64_t>(c.re - r0, kTok);
  if (lo >= hi) return;
  const auto m = static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  const SplitStore& st = c.epi;
  const __m512 bias =
      st.bias != nullptr ? _mm512_maskz_loadu_ps(m, st.bias + r0) : _mm512_setzero_ps();
  for (int64_t t = 0; t < nt; ++t) {
    __m512 v = _mm512_load_ps(buf + t * kTok);
    if (st.bias != nullptr) v = _mm512_add_ps(v, bias);
    if (st.gelu_table != nullptr) v = gelu_half16(v, m, st.gelu_table);
    if (st.act_out != nullptr) {
      __m512i h, l;
      split16(v, h, l);
      uint8_t* at = st.act_out + act_offset(t0 + t, r0, st.act_kp);
      _mm256_mask_storeu_epi16(at, m, narrow16(srl16(h)));
      _mm256_mask_storeu_epi16(at + 1024, m, narrow16(srl16(l)));
    } else {
      _mm512_mask_storeu_ps(c.y + (t0 + t) * c.ldy + r0, m, v);
    }
  }
}

// Token tiles t, t + 1 x groups g, g + 1.
void block22(const Ctx& c, int64_t t, int64_t g) {
  const uint8_t* a0 =
      c.act + static_cast<size_t>(t) * c.tile_bytes + static_cast<size_t>(c.s0) * kStepBytes;
  const uint8_t* a1 = a0 + c.tile_bytes;
  const uint8_t* b0 = c.w + static_cast<size_t>(g - c.g_off) * c.group_bytes;
  const uint8_t* b1 = b0 + c.group_bytes;
  constexpr long as = 64;
  if (c.zero) _tile_zero(0);
  if (c.zero) _tile_zero(1);
  if (c.zero) _tile_zero(2);
  if (c.zero) _tile_zero(3);
  // Each tile load comes right after the last product that reads the register it overwrites,
  // so it overlaps the products that follow (per accumulator the order stays hi.hi, lo.hi,
  // hi.lo, steps ascending).
  _tile_loadd(4, a0, as);
  _tile_loadd(6, b0, 64);
  _tile_loadd(5, a1, as);
  _tile_loadd(7, b1, 64);
  for (int64_t s = 0; s < c.steps; ++s) {
    // Step s of this pass: A at ao (hi; lo kTileBytes later), B at bo.
    const size_t ao = static_cast<size_t>(s) * kStepBytes,
                 bo = static_cast<size_t>(s) * c.step_bytes;
    // hi . hi (tmm4..7 hold A0 hi, A1 hi, B0 hi, B1 hi)
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(4, a0 + kTileBytes + ao, as);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(5, a1 + kTileBytes + ao, as);
    // lo . hi
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    // (Without weight lo parts there is no lo tile to load: BF16 weights read in place have
    // none, and the next step's tiles come next.)
    if (c.weight_lo) _tile_loadd(6, b0 + bo + kTileBytes, 64);
    _tile_dpbf16ps(1, 4, 7);
    if (c.weight_lo) _tile_loadd(4, a0 + ao, as);
    _tile_dpbf16ps(3, 5, 7);
    if (c.weight_lo) {
      _tile_loadd(7, b1 + bo + kTileBytes, 64);
      _tile_loadd(5, a1 + ao, as);
    }
    // hi . lo
    if (c.weight_lo) {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(2, 5, 6);
    }
    if (s + 1 < c.steps) _tile_loadd(6, b0 + bo + c.step_bytes, 64);
    if (c.weight_lo) _tile_dpbf16ps(1, 4, 7);
    if (s + 1 < c.steps) _tile_loadd(4, a0 + ao + kStepBytes, as);
    if (c.weight_lo) _tile_dpbf16ps(3, 5, 7);
    if (s + 1 < c.steps) {
      _tile_loadd(7, b1 + bo + c.step_bytes, 64);
      _tile_loadd(5, a1 + ao + kStepBytes, as);
    }
  }
  if (c.store) EMBER_STORE_C(0, c, t, g);
  if (c.store) EMBER_STORE_C(1, c, t, g + 1);
  if (c.store) EMBER_STORE_C(2, c, t + 1, g);
  if (c.store) EMBER_STORE_C(3, c, t + 1, g + 1);
}

// Token tiles t, t + 1 x group g.
void block21(const Ctx& c, int64_t t, int64_t g) {
  const uint8_t* a0 =
      c.act + static_cast<size_t>(t) * c.tile_bytes + static_cast<size_t>(c.s0) * kStepBytes;
  const uint8_t* a1 = a0 + c.tile_bytes;
  const uint8_t* b0 = c.w + static_cast<size_t>(g - c.g_off) * c.group_bytes;
  constexpr long as = 64;
  if (c.zero) _tile_zero(0);
  if (c.zero) _tile_zero(2);
  for (int64_t s = 0; s < c.steps; ++s) {
    // Step s of this pass: A at ao (hi; lo kTileBytes later), B at bo.
    const size_t ao = static_cast<size_t>(s) * kStepBytes,
                 bo = static_cast<size_t>(s) * c.step_bytes;
    _tile_loadd(4, a0 + ao, as);
    _tile_loadd(6, b0 + bo, 64);
    _tile_loadd(5, a1 + ao, as);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    _tile_loadd(4, a0 + kTileBytes + ao, as);
    _tile_loadd(5, a1 + kTileBytes + ao, as);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    if (!c.weight_lo) continue;
    _tile_loadd(4, a0 + ao, as);
    _tile_loadd(6, b0 + bo + kTileBytes, 64);
    _tile_loadd(5, a1 + ao, as);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
  }
  if (c.store) EMBER_STORE_C(0, c, t, g);
  if (c.store) EMBER_STORE_C(2, c, t + 1, g);
}

// Token tile t x groups g, g + 1.
void block12(const Ctx& c, int64_t t, int64_t g) {
  const uint8_t* a0 =
      c.act + static_cast<size_t>(t) * c.tile_bytes + static_cast<size_t>(c.s0) * kStepBytes;
  const uint8_t* b0 = c.w + static_cast<size_t>(g - c.g_off) * c.group_bytes;
  const uint8_t* b1 = b0 + c.group_bytes;
  constexpr long as = 64;
  if (c.zero) _tile_zero(0);
  if (c.zero) _tile_zero(1);
  for (int64_t s = 0; s < c.steps; ++s) {
    // Step s of this pass: A at ao (hi; lo kTileBytes later), B at bo.
    const size_t ao = static_cast<size_t>(s) * kStepBytes,
                 bo = static_cast<size_t>(s) * c.step_bytes;
    if (c.prefetch) {
      prefetch_step(b0 + bo + kPrefetchBytes, c.step_bytes);
      prefetch_step(b1 + bo + kPrefetchBytes, c.step_bytes);
    }
    _tile_loadd(4, a0 + ao, as);
    _tile_loadd(6, b0 + bo, 64);
    _tile_loadd(7, b1 + bo, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(4, a0 + kTileBytes + ao, as);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    if (!c.weight_lo) continue;
    _tile_loadd(4, a0 + ao, as);
    _tile_loadd(6, b0 + bo + kTileBytes, 64);
    _tile_loadd(7, b1 + bo + kTileBytes, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
  }
  if (c.store) EMBER_STORE_C(0, c, t, g);
  if (c.store) EMBER_STORE_C(1, c, t, g + 1);
}

// Token tile t x group g.
void block11(const Ctx& c, int64_t t, int64_t g) {
  const uint8_t* a0 =
      c.act + static_cast<size_t>(t) * c.tile_bytes + static_cast<size_t>(c.s0) * kStepBytes;
  const uint8_t* b0 = c.w + static_cast<size_t>(g - c.g_off) * c.group_bytes;
  constexpr long as = 64;
  if (c.zero) _tile_zero(0);
  for (int64_t s = 0; s < c.steps; ++s) {
    // Step s of this pass: A at ao (hi; lo kTileBytes later), B at bo.
    const size_t ao = static_cast<size_t>(s) * kStepBytes,
                 bo = static_cast<size_t>(s) * c.step_bytes;
    _tile_loadd(4, a0 + ao, as);
    _tile_loadd(6, b0 + bo, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_loadd(4, a0 + kTileBytes + ao, as);
    _tile_dpbf16ps(0, 4, 6);
    if (!c.weight_lo) continue;
    _tile_loadd(4, a0 + ao, as);
    _tile_loadd(6, b0 + bo + kTileBytes, 64);
    _tile_dpbf16ps(0, 4, 6);
  }
  if (c.store) EMBER_STORE_C(0, c, t, g);
}

#undef EMBER_STORE_C

// Row groups per chunk: about 1 MB of weights (kept in L2 while all token tiles pass), even.
int64_t chunk_groups(size_t group_bytes) {
  const auto n = static_cast<int64_t>((size_t{1} << 20) / group_bytes);
  return std::max<int64_t>(2, n & ~int64_t{1});
}

// Token tiles [0, n_tiles) x row groups [g_begin, g_end): token tile pairs outer, group pairs
// inner, tails with fewer accumulators.
void run_groups(const Ctx& c, int64_t n_tiles, int64_t g_begin, int64_t g_end) {
  int64_t t = 0;
  for (; t + 2 <= n_tiles; t += 2) {
    int64_t g = g_begin;
    for (; g + 2 <= g_end; g += 2) block22(c, t, g);
    if (g < g_end) block21(c, t, g);
  }
  if (t < n_tiles) {
    int64_t g = g_begin;
    for (; g + 2 <= g_end; g += 2) block12(c, t, g);
    if (g < g_end) block11(c, t, g);
  }
}

Ctx make_ctx(const PackedView& pv, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
             int64_t row_begin, int64_t row_end) {
  Ctx c;
  c.steps = split_bf16_cols(pv.cols) / 32;
  c.act = act;
  c.tile_bytes = static_cast<size_t>(c.steps) * kStepBytes;
  c.n_tokens = n_tokens;
  c.y = y;
  c.ldy = ldy;
  c.rb = row_begin;
  c.re = row_end;
  return c;
}

// Tiles: C (tmm0..3) and A (tmm4, 5) of `m` token rows, B (tmm6, 7) of 16 lines. With a single
// token tile only its n_tokens rows are computed (each C row depends only on its own A row, so
// those rows get the same bits as in a full tile).
void load_tile_config(int64_t m) {
  TileConfig cfg;
  for (int i = 0; i < 8; ++i) {
    cfg.rows[i] = static_cast<uint8_t>(i < 6 ? m : kTok);
    cfg.colsb[i] = 64;
  }
  // ldtilecfg's asm operand names only the first 8 bytes of cfg: make all 64 visibly read.
  __asm__ volatile("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

// Steps split per pass by the on-the-fly form for few tokens: 2 groups x 4 steps x 2 KB = 16 KB
// of split tiles (in L1).
constexpr int64_t kFlySteps = 4;

// Splits `n` steps of F16 weight tiles (the tile form's layout: 1 KB per step, the pair layout)
// into the split form's layout at dst (2 KB per step: hi tile, lo tile): the same parts as
// split_bf16 (hi rounded to nearest even by vcvtne2ps2bf16, which equals split_bf16's integer
// rounding for finite values; lo = w - hi exact: an F16 value has 11 significant bits, so lo has
// at most 3 and is exact in BF16; no F16 value is an F32 subnormal, which the instruction would
// flush).
static inline __attribute__((always_inline)) __m512i bits(__m512bh x) {
  return (__m512i)x;  // same 64 bytes
}

void split_f16_steps(const uint8_t* src, int64_t n, uint8_t* dst) {
  // The zero-masked intrinsics with all lanes set: the plain ones trip GCC 12's
  // -Wmaybe-uninitialized on their undefined pass-through.
  constexpr __mmask16 kAll16 = 0xffff;
  constexpr __mmask8 kAll8 = 0xff;
  // Words [even 0..15, odd 0..15] -> pairs (even r, odd r).
  alignas(64) int16_t pair_idx[32];
  for (int r = 0; r < 16; ++r) {
    pair_idx[2 * r] = static_cast<int16_t>(r);
    pair_idx[2 * r + 1] = static_cast<int16_t>(16 + r);
  }
  const __m512i to_pairs = _mm512_load_si512(pair_idx);
  for (int64_t s = 0; s < n; ++s) {
    const uint8_t* in = src + static_cast<size_t>(s) * kTileBytes;
    uint8_t* hi_out = dst + static_cast<size_t>(s) * kStepBytes;
    uint8_t* lo_out = hi_out + kTileBytes;
    for (size_t line = 0; line < kTileBytes; line += 64) {
      // The line's halves: a = the even column of rows 0..15, b = the odd one.
      const __m512 a = _mm512_maskz_cvtph_ps(
          kAll16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + line)));
      const __m512 b = _mm512_maskz_cvtph_ps(
          kAll16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + line + 32)));
      const __m512i hi = bits(_mm512_cvtne2ps_pbh(b, a));
      const __m512 ha = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(
          kAll16,
          _mm512_maskz_cvtepu16_epi32(kAll16, _mm512_maskz_extracti64x4_epi64(kAll8, hi, 0)), 16));
      const __m512 hb = _mm512_castsi512_ps(_mm512_maskz_slli_epi32(
          kAll16,
          _mm512_maskz_cvtepu16_epi32(kAll16, _mm512_maskz_extracti64x4_epi64(kAll8, hi, 1)), 16));
      const __m512i lo = bits(_mm512_cvtne2ps_pbh(_mm512_sub_ps(b, hb), _mm512_sub_ps(a, ha)));
      _mm512_storeu_si512(reinterpret_cast<__m512i*>(hi_out + line),
                          _mm512_permutexvar_epi16(to_pairs, hi));
      _mm512_storeu_si512(reinterpret_cast<__m512i*>(lo_out + line),
                          _mm512_permutexvar_epi16(to_pairs, lo));
    }
  }
}

}  // namespace

void avx512amxbf16_split_matmul(const PackedView& pv, const uint8_t* act, int64_t n_tokens,
                                float* y, int64_t ldy, int64_t row_begin, int64_t row_end,
                                const SplitStore* store) {
  Ctx c = make_ctx(pv, act, n_tokens, y, ldy, row_begin, row_end);
  if (store != nullptr) {
    c.epi = *store;
    c.epilogue =
        store->bias != nullptr || store->gelu_table != nullptr || store->act_out != nullptr;
  }
  c.w = pv.data;
  c.group_bytes = pv.group_bytes;
  c.weight_lo = pv.type != TensorType::kBF16;
  const int64_t n_tiles = (n_tokens + kTok - 1) / kTok;
  load_tile_config(n_tiles == 1 ? n_tokens : kTok);
  const int64_t g_first = row_begin / kTok, g_last = (row_end + kTok - 1) / kTok;
  const int64_t chunk = chunk_groups(pv.group_bytes);
  for (int64_t gc = g_first; gc < g_last; gc += chunk) {
    run_groups(c, n_tiles, gc, std::min(g_last, gc + chunk));
  }
  _tile_release();
}

void avx512amxbf16_fly_matmul(const PackedView& pv, const uint8_t* act, int64_t n_tokens, float* y,
                              int64_t ldy, int64_t row_begin, int64_t row_end) {
  Ctx c = make_ctx(pv, act, n_tokens, y, ldy, row_begin, row_end);
  const int64_t steps = c.steps;
  const int64_t n_tiles = (n_tokens + kTok - 1) / kTok;
  const int64_t g_first = row_begin / kTok, g_last = (row_end + kTok - 1) / kTok;
  if (pv.type == TensorType::kF16 && n_tokens < kTok) {
    // Decoding: the tile products' arithmetic on FMA (matmul_fly_fma_avx512amxbf16.cc), which
    // reads the 2-byte weights at the FMA kernels' speed; the same bits.
    avx512amxbf16_fly_fma_matmul(pv, act, n_tokens, y, ldy, row_begin, row_end);
    return;
  }
  load_tile_config(n_tiles == 1 ? n_tokens : kTok);
  if (pv.type == TensorType::kBF16) {
    // BF16 weights are their own hi parts (lo = 0): the tiles are read in place, one 1 KB tile
    // per step.
    c.w = pv.data;
    c.group_bytes = pv.group_bytes;
    c.step_bytes = kTileBytes;
    c.weight_lo = false;
    c.prefetch = n_tiles == 1;
    const int64_t chunk = chunk_groups(pv.group_bytes);
    for (int64_t gc = g_first; gc < g_last; gc += chunk) {
      run_groups(c, n_tiles, gc, std::min(g_last, gc + chunk));
    }
    _tile_release();
    return;
  }
  if (n_tiles <= 2) {
    // 16..32 tokens: per pair of row groups, kFlySteps steps are split into an L1 buffer
    // and multiplied at once; the accumulators stay in the tile registers across the passes.
    alignas(64) uint8_t buf[2 * kFlySteps * kStepBytes];
    c.w = buf;
    c.group_bytes = kFlySteps * kStepBytes;
    for (int64_t g = g_first; g < g_last; g += 2) {
      const int64_t ng = std::min<int64_t>(2, g_last - g);
      c.g_off = g;
      for (int64_t sb = 0; sb < steps; sb += kFlySteps) {
        const int64_t n = std::min(kFlySteps, steps - sb);
        for (int64_t k = 0; k < ng; ++k) {
          split_f16_steps(pv.data + static_cast<size_t>(g + k) * pv.group_bytes +
                              static_cast<size_t>(sb) * kTileBytes,
                          n, buf + static_cast<size_t>(k) * c.group_bytes);
        }
        c.s0 = sb;
        c.steps = n;
        c.zero = sb == 0;
        c.store = sb + n == steps;
        run_groups(c, n_tiles, g, g + ng);
      }
    }
    _tile_release();
    return;
  }
  // Batches: a chunk of row groups is split whole into a scratch buffer (the split form's group
  // layout, about 1 MB: it stays in L2) and every token tile passes over it.
  const size_t sgb = static_cast<size_t>(steps) * kStepBytes;
  const int64_t chunk = std::min(chunk_groups(sgb), g_last - g_first + 1);
  std::vector<uint8_t> scratch(static_cast<size_t>(chunk) * sgb);
  c.w = scratch.data();
  c.group_bytes = sgb;
  for (int64_t gc = g_first; gc < g_last; gc += chunk) {
    const int64_t gc_end = std::min(g_last, gc + chunk);
    for (int64_t g = gc; g < gc_end; ++g) {
      split_f16_steps(pv.data + static_cast<size_t>(g) * pv.group_bytes, steps,
                      scratch.data() + static_cast<size_t>(g - gc) * sgb);
    }
    c.g_off = gc;
    run_groups(c, n_tiles, gc, gc_end);
  }
  _tile_release();
}

void avx512amxbf16_split_convert(const float* x, int64_t n_tokens, int64_t cols, uint8_t* out,
                                 int64_t first_token) {
  const int64_t kp = split_bf16_cols(cols);
  // Odd 16-bit words of two vectors (the high halves of 32 F32 lanes, a's first).
  alignas(64) int16_t odd[32];
  for (int j = 0; j < 32; ++j) odd[j] = static_cast<int16_t>(2 * j + 1);
  const __m512i odd_words = _mm512_load_si512(odd);
  // Whole steps, per 16-token tile step by step and token by token within a step: the stores then
  // fill each 1 KB tile in order (token after token, hi and lo), instead of one line per tile of
  // every step for each token (lines 2 KB apart, which share few L1 sets).
  const int64_t whole = cols / 32 * 32;
  for (int64_t i0 = 0; i0 < n_tokens;) {
    const int64_t i1 = std::min(n_tokens, i0 + 16 - (first_token + i0) % 16);
    for (int64_t c = 0; c < whole; c += 32) {
      for (int64_t i = i0; i < i1; ++i) {
        __m512i h0, l0, h1, l1;
        split16(_mm512_loadu_ps(x + i * cols + c), h0, l0);
        split16(_mm512_loadu_ps(x + i * cols + c + 16), h1, l1);
        uint8_t* at = out + act_offset(first_token + i, c, kp);
        _mm512_storeu_si512(at, _mm512_permutex2var_epi16(h0, odd_words, h1));
        _mm512_storeu_si512(at + 1024, _mm512_permutex2var_epi16(l0, odd_words, l1));
      }
    }
    i0 = i1;
  }
  for (int64_t i = 0; i < n_tokens; ++i) {
    const float* xt = x + i * cols;
    // The rest of token t's line in the last step's tiles (matmul_internal.h).
    uint8_t* line = out + act_offset(first_token + i, 0, kp);
    int64_t c = whole;
    for (; c + 16 <= cols; c += 16) {
      __m512i h, l;
      split16(_mm512_loadu_ps(xt + c), h, l);
      uint8_t* at = line + (c / 32) * 2048 + (c % 32) * 2;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(at), narrow16(srl16(h)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(at + 1024), narrow16(srl16(l)));
    }
    for (; c < kp; ++c) {
      uint16_t hi = 0, lo = 0;
      if (c < cols) split_bf16(xt[c], &hi, &lo);
      uint8_t* at = line + (c / 32) * 2048 + (c % 32) * 2;
      std::memcpy(at, &hi, 2);
      std::memcpy(at + 1024, &lo, 2);
    }
  }
}

void avx512amxbf16_tile_product(float* c, const uint16_t* a, const uint16_t* b) {
  TileConfig cfg;
  for (int i = 0; i < 3; ++i) {
    cfg.rows[i] = kTok;
    cfg.colsb[i] = 64;
  }
  __asm__ volatile("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
  _tile_loadd(0, c, 64);
  _tile_loadd(1, a, 64);
  _tile_loadd(2, b, 64);
  _tile_dpbf16ps(0, 1, 2);
  _tile_stored(0, c, 64);
  _tile_release();
}

}  // namespace ember::kernels::x86
