// AMX-INT8 kernels for the 32-column block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, MXFP4) on
// the packed weights of pack.cc, for tiles of 16 tokens. The other n_tokens % 16 tokens (so every
// product of fewer than 16 tokens, GEMVs included) run the avx512vnni kernel: with 32-column
// blocks each tile product has K = 32 and a tile store per block, and below 16 tokens that fixed
// cost made AMX slower than VNNI here (measured: docs/performance.md).
//
// Per packed group of 16 weight rows and weight block b (32 columns), one tile product
//   C[t][r] = sum_k A[t][k] * B[k / 4][4r + k % 4]                  (tdpbssd, exact in int32)
// with
//   A [16 tokens][32 bytes]: the activation codes of block b, one token per tile row, loaded
//     straight from the activation buffer (row stride = the token stride of act_layout);
//   B [8][64 bytes]: the block's 16 x 32 weight codes minus the code offset (signed), row s
//     byte 4r + m = code(r, 4s + m): exactly the packed vector layout of pack.cc once decoded
//     with the avx512vnni decoders (tiles_legacy.h);
//   C [16 tokens][16 int32]: row t is the 16-lane vector (one lane per weight row) that the
//     avx512vnni kernel holds for token t after its 8 vpdpbusd steps. There the code offset is
//     undone by starting from the activation block's bias (-offset * sum of codes); here it is
//     taken out of the codes. Both give the same exact integer.
// The F32 update per block is then the avx512vnni kernel's, instruction for instruction and in the
// same block order:
//   acc_f = fma(float(isum), d_w * d_x, acc_f)           (+ fma(m_w, s_x, acc_f) for Q4_1/Q5_1)
// so every output is bit-identical to avx512vnni's, whatever the token count, row range or
// thread count (the server's batch invariance relies on it).
//
// Tile registers (palette 1, configured per call with ldtilecfg, released with tilerelease):
//   tmm0, tmm1: A (16 x 32 B), blocks b even / odd;
//   tmm2, tmm3: C (16 x 64 B), even / odd;
//   tmm4, tmm5: B (8 x 64 B), even / odd.
// Even / odd sets let the tile unit load block b + 1 while it multiplies block b; the products run
// a few blocks ahead of the F32 updates, which read them back from memory.
//
// Weights are decoded once per group and call into a scratch buffer (16 x cols bytes, the same
// as an 8-bit copy of the group) when more than one token tile reuses them, else in chunks of
// 32 blocks per token tile (a decoded B tile must not be loaded right after its stores).
#include <algorithm>
#include <memory>
#include <new>

#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx512.h"
#include "kernels/x86/tiles_legacy.h"

namespace ember::kernels::x86 {
namespace {

using S = Avx512<true>;

constexpr int kTileTokens = 16;      // rows of A and C
constexpr size_t kBTileBytes = 512;  // 8 rows x 64 bytes

// ldtilecfg's 64-byte operand (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

TileConfig make_config() {
  TileConfig c;
  auto set = [&c](int tile, int rows, int colsb) {
    c.rows[tile] = static_cast<uint8_t>(rows);
    c.colsb[tile] = static_cast<uint16_t>(colsb);
  };
  set(0, kTileTokens, 32);
  set(1, kTileTokens, 32);
  set(2, kTileTokens, 64);
  set(3, kTileTokens, 64);
  set(4, 8, 64);
  set(5, 8, 64);
  return c;
}

// Decodes block `blk` (F::kBytes packed bytes of 16 rows) into a B tile at `out` (64-byte
// aligned): codes minus `offset` for the biased formats, the plain codes (<= 31) otherwise.
template <class F>
EMBER_INLINE void decode_block(const uint8_t* blk, __m512i offset, uint8_t* out) {
  static_for<4>([&](auto P) __attribute__((always_inline)) {
    __m512i w0, w1;
    F::template decode<S, P>(blk, 0, w0, w1);
    if constexpr (F::kBiased) {
      w0 = _mm512_sub_epi8(w0, offset);
      w1 = _mm512_sub_epi8(w1, offset);
    }
    // Step s (activation offset 4s) is B row s, 64 bytes from the previous one.
    _mm512_store_si512(out + 16 * F::off0(P), w0);
    _mm512_store_si512(out + 16 * F::off1(P), w1);
  });
}

struct GroupCtx {
  const uint8_t* w = nullptr;        // the group's packed blocks
  const uint8_t* decoded = nullptr;  // all its B tiles, or nullptr: decode chunk by chunk
  int64_t nb = 0;
  __m512i offset;
  const uint8_t* act = nullptr;  // token t0's activations
  size_t act_stride = 0, d_off = 0, aux_off = 0;
  float* y = nullptr;  // y of token t0, row 0 of the group
  int64_t ldy = 0;
  int lo = 0, hi = 16;  // rows of the group to store
};

// Blocks decoded at a time when a group's weights are decoded per token tile (16 KB of stack).
constexpr int64_t kChunkBlocks = 32;
// Blocks whose tile products are in flight ahead of the F32 update: a tile store reaches the
// vector loads only through memory, so the update of block b must come well after its products.
constexpr int kLookahead = 4;

// Tile products of block b (B tile at bt) into cbuf (16 x 16 int32, row stride 64 bytes) with the
// tiles of set 0 (even blocks) or 1 (odd blocks).
template <int kSet>
EMBER_INLINE void issue(const GroupCtx& g, int64_t b, const uint8_t* bt, int32_t* cbuf) {
  const void* a = g.act + 32 * b;
  const auto as = static_cast<long>(g.act_stride);
  // The tile intrinsics take literal register numbers.
  if constexpr (kSet == 0) {
    _tile_loadd(0, a, as);
    _tile_loadd(4, bt, 64);
    _tile_zero(2);
    _tile_dpbssd(2, 0, 4);
    _tile_stored(2, cbuf, 64);
  } else {
    _tile_loadd(1, a, as);
    _tile_loadd(5, bt, 64);
    _tile_zero(3);
    _tile_dpbssd(3, 1, 5);
    _tile_stored(3, cbuf, 64);
  }
}

EMBER_INLINE void issue_any(const GroupCtx& g, int64_t b, const uint8_t* bt, int32_t* cbuf) {
  if (b & 1) {
    issue<1>(g, b, bt, cbuf);
  } else {
    issue<0>(g, b, bt, cbuf);
  }
}

// The avx512vnni kernel's F32 update of block b for T tokens from the integer sums in cbuf.
template <class F, int T = kTileTokens>
EMBER_INLINE void update(const GroupCtx& g, int64_t b, const int32_t* cbuf, __m512* facc) {
  const uint8_t* blk = g.w + static_cast<size_t>(b) * F::kBytes;
  const __m512 dw = block_scale<S, F>(blk, 0);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    const uint8_t* at = g.act + static_cast<size_t>(t) * g.act_stride;
    const __m512 dx = S::bcstf(at + g.d_off + 4 * b);
    const __m512i isum = _mm512_load_si512(cbuf + 16 * t);
    facc[t] = S::fmadd(S::cvt(isum), S::mul(dw, dx), facc[t]);
  }
  if constexpr (F::kMin) {
    const __m512 mw = S::f16(blk + F::kM);
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) {
      const uint8_t* at = g.act + static_cast<size_t>(t) * g.act_stride;
      facc[t] = S::fmadd(mw, S::bcstf(at + g.aux_off + 4 * b), facc[t]);
    }
  }
}

// Blocks [b0, b1) for T tokens, their B tiles at bt (block b0 first), software-pipelined: the
// tile products run kLookahead blocks ahead of the updates.
template <class F, int T>
EMBER_INLINE void run_blocks(const GroupCtx& g, const uint8_t* bt, int64_t b0, int64_t b1,
                             __m512* facc) {
  alignas(64) int32_t cbuf[kLookahead][kTileTokens * 16];
  const int64_t n = b1 - b0;
  for (int64_t j = 0; j < std::min<int64_t>(kLookahead, n); ++j) {
    issue_any(g, b0 + j, bt + j * kBTileBytes, cbuf[j]);
  }
  for (int64_t j = 0; j < n; ++j) {
    int32_t* c = cbuf[j % kLookahead];
    update<F, T>(g, b0 + j, c, facc);
    if (j + kLookahead < n) {
      issue_any(g, b0 + j + kLookahead, bt + (j + kLookahead) * kBTileBytes, c);
    }
  }
}

// All blocks of one group for 16 tokens.
template <class F>
void token_tile(const GroupCtx& g) {
  constexpr int T = kTileTokens;
  __m512 facc[T];
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) facc[t] = S::zerof();
  if (g.decoded != nullptr) {
    run_blocks<F, T>(g, g.decoded, 0, g.nb, facc);
  } else {
    // Decode a chunk, then multiply it: the tile loads then find the decoded bytes in L1
    // instead of waiting for the stores just issued.
    alignas(64) uint8_t buf[kChunkBlocks * kBTileBytes];
    for (int64_t b0 = 0; b0 < g.nb; b0 += kChunkBlocks) {
      const int64_t b1 = std::min(g.nb, b0 + kChunkBlocks);
      for (int64_t b = b0; b < b1; ++b) {
        decode_block<F>(g.w + static_cast<size_t>(b) * F::kBytes, g.offset,
                        buf + (b - b0) * kBTileBytes);
      }
      run_blocks<F, T>(g, buf, b0, b1, facc);
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) S::store(g.y + t * g.ldy, facc[t], g.lo, g.hi);
}

struct AlignedFree {
  void operator()(uint8_t* p) const { ::operator delete(p, std::align_val_t(64)); }
};

template <class F>
void run_amx(const PackedView& pv, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
             int64_t row_begin, int64_t row_end) {
  const ActLayout l = act_layout(pv.type, pv.cols);
  const int64_t full = n_tokens / kTileTokens * kTileTokens;  // tokens in full token tiles
  if (full < n_tokens) {
    // The last n_tokens % 16 tokens (all of them below 16): avx512vnni, measured faster there
    // (docs/performance.md) and bit-identical.
    avx512vnni_legacy_kernel(pv.type)(pv, act + static_cast<size_t>(full) * l.stride,
                                      n_tokens - full, y + full * ldy, ldy, row_begin, row_end);
  }
  if (full == 0) return;
  const int64_t nb = pv.cols / 32;

  // More than one token tile: decode each group once (falls back to decoding per token tile if
  // the few hundred KB are not available).
  std::unique_ptr<uint8_t, AlignedFree> decoded;
  if (full > kTileTokens) {
    decoded.reset(static_cast<uint8_t*>(
        ::operator new(static_cast<size_t>(nb) * kBTileBytes, std::align_val_t(64), std::nothrow)));
  }

  const TileConfig cfg = make_config();
  _tile_loadconfig(&cfg);
  GroupCtx g;
  g.nb = nb;
  g.offset = _mm512_set1_epi8(static_cast<char>(l.code_offset));
  g.act_stride = l.stride;
  g.d_off = l.d_offset;
  g.aux_off = l.aux_offset;
  g.ldy = ldy;
  g.decoded = decoded.get();
  const int64_t g_end = (row_end + kPackRows - 1) / kPackRows;
  for (int64_t grp = row_begin / kPackRows; grp < g_end; ++grp) {
    const int64_t row0 = grp * kPackRows;
    g.w = pv.data + static_cast<size_t>(grp) * pv.group_bytes;
    g.lo = static_cast<int>(std::max<int64_t>(row_begin - row0, 0));
    g.hi = static_cast<int>(std::min<int64_t>(row_end - row0, kPackRows));
    if (decoded) {
      for (int64_t b = 0; b < nb; ++b) {
        decode_block<F>(g.w + static_cast<size_t>(b) * F::kBytes, g.offset,
                        decoded.get() + static_cast<size_t>(b) * kBTileBytes);
      }
    }
    for (int64_t t0 = 0; t0 < full; t0 += kTileTokens) {
      g.act = act + static_cast<size_t>(t0) * l.stride;
      g.y = y + t0 * ldy + row0;
      token_tile<F>(g);
    }
  }
  _tile_release();
}

}  // namespace

PackedKernel avx512amx_legacy_kernel(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
      return &run_amx<FmtQ4_0>;
    case TensorType::kQ4_1:
      return &run_amx<FmtQ4_1>;
    case TensorType::kQ5_0:
      return &run_amx<FmtQ5_0>;
    case TensorType::kQ5_1:
      return &run_amx<FmtQ5_1>;
    case TensorType::kQ8_0:
      return &run_amx<FmtQ8_0>;
    case TensorType::kIQ4_NL:
      return &run_amx<FmtIQ4_NL>;
    case TensorType::kMXFP4:
      return &run_amx<FmtMXFP4>;
    default:
      return nullptr;
  }
}

}  // namespace ember::kernels::x86
