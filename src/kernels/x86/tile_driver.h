// Generic loop structure of the packed-weight kernels, shared by every x86 Isa and type.
//
// Output rows are handled in "row vectors" of S::kLanes rows (one SIMD lane per row; a packed
// group of 16 rows is one AVX-512 vector or two AVX2 vectors). A kernel class K provides
//   template <int V, int T> static void tile(const TileCtx&, int64_t q0, int64_t t0)
// computing row vectors q0 .. q0 + V - 1 for tokens t0 .. t0 + T - 1 over all columns, plus the
// tile sizes kV x kT (batches), kGemvV (single token) and kFewV x kFewT (2 .. kFewMax tokens, 0:
// none; see run_packed). Every tile computes each output element
// with the same sequence of operations whatever V and T are (each lane only ever sees its own row
// and token), which is what makes results independent of batching, row ranges and threads.
//
// Loop order: for each tile of rows, all tokens, so the tile's weights (at most a few hundred KB)
// stay in L1/L2 while the activations stream from L2/L3.
//
// A few tokens (a server's decode step: one token per sequence) read every weight once from
// memory, like a single token, but then do several tokens' arithmetic on it, which on their own
// make the product compute-bound. Without help the two do not overlap: a tile waits for its
// weights, then computes. So products of 2 .. kFewMax tokens run tiles of kFewV row vectors x up
// to kFewT tokens (all of a decode step's tokens in one pass, each weight decoded once), and the
// first token tile of each row tile prefetches the next row tile's weights as the GEMV does.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/matmul_internal.h"
#include "kernels/x86/static_for.h"

namespace ember::kernels::x86 {
namespace {

struct TileCtx {
  const uint8_t* w = nullptr;  // packed group 0
  size_t group_bytes = 0;
  int64_t nb = 0;  // weight blocks per row (columns for plain float types)
  const uint8_t* act = nullptr;
  size_t act_stride = 0;
  size_t d_off = 0, aux_off = 0, aux2_off = 0;
  int64_t n_tokens = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  int64_t rb = 0, re = 0;  // rows to store
  // Prefetch the next row tile's weights while computing (single tokens always do).
  bool prefetch = false;
};

// Stores a tile's row vector v for T tokens, only rows inside [rb, re).
template <class S, int T>
EMBER_INLINE void store_rows(const TileCtx& c, int64_t q, int64_t t0, const typename S::VF* acc) {
  const int64_t row0 = q * S::kLanes;
  const int lo = static_cast<int>(c.rb > row0 ? c.rb - row0 : 0);
  const int64_t hi64 = c.re - row0;
  const int hi = static_cast<int>(hi64 < S::kLanes ? hi64 : S::kLanes);
  if (lo >= hi) return;
  for (int t = 0; t < T; ++t) S::store(c.y + (t0 + t) * c.ldy + row0, acc[t], lo, hi);
}

// Single-token products stream the packed weights from memory once, and the more arithmetic a
// type needs per byte, the less the hardware prefetcher alone keeps ahead. So each tile
// prefetches, while it works on a block, the same block of the next tile (the groups of
// consecutive tiles are consecutive in memory): one tile ahead, or 64 KB ahead within the group
// when a tile is too large to stay in L2.
EMBER_INLINE size_t gemv_prefetch_distance(size_t group_bytes, int v) {
  const size_t tile = group_bytes * static_cast<size_t>(v);
  return tile <= (size_t{256} << 10) ? tile : (size_t{64} << 10);
}

// One-token products of the 4- to 6-bit formats read their weights faster from memory with a
// short prefetch distance in the stream they are reading (the group's bytes, then the next
// group's) than one tile ahead: measured on the 128,256 x 2048 logits shape, one thread,
// distances 512 B .. 4 KB against one tile (docs/performance.md, "One-token products against
// the roofline"): Q4_0 +5-9 % at 2 KB, Q4_K +10-18 % at 1 KB, Q6_K +4-6 % at 1-2 KB; Q8_0 and
// the float types showed no gain and keep one tile.
inline constexpr size_t kGemvNearPrefetchLegacy = 2048, kGemvNearPrefetchKQuant = 1024;

// Prefetches the weight bytes [p, p + n) into L2.
EMBER_INLINE void prefetch_range(const uint8_t* p, size_t n) {
  for (size_t off = 0; off < n; off += 64) {
    __builtin_prefetch(p + off, 0, 2);
  }
}

template <class K, int V, int T>
void token_tail(const TileCtx& c, int64_t q0, int64_t t0, int64_t rest) {
  if (rest == T) {
    K::template tile<V, T>(c, q0, t0);
  } else if constexpr (T > 1) {
    token_tail<K, V, T - 1>(c, q0, t0, rest);
  }
}

// All tokens of a small product for row vectors q0 .. q0 + V - 1: tiles of up to kFewT tokens,
// the first of which prefetches the next row tile.
template <class K, int V>
void few_tokens(TileCtx& c, int64_t q0) {
  c.prefetch = true;
  int64_t t = 0;
  for (; t + K::kFewT <= c.n_tokens; t += K::kFewT) {
    K::template tile<V, K::kFewT>(c, q0, t);
    c.prefetch = false;
  }
  if (t < c.n_tokens) token_tail<K, V, K::kFewT>(c, q0, t, c.n_tokens - t);
  c.prefetch = false;
}

template <class K, int V>
void all_tokens(const TileCtx& c, int64_t q0) {
  int64_t t = 0;
  for (; t + K::kT <= c.n_tokens; t += K::kT) K::template tile<V, K::kT>(c, q0, t);
  if (t < c.n_tokens) token_tail<K, V, K::kT>(c, q0, t, c.n_tokens - t);
}

template <class K>
void run_packed(const PackedView& pv, const uint8_t* act, int64_t n_tokens, float* y, int64_t ldy,
                int64_t row_begin, int64_t row_end) {
  using S = typename K::S;
  const ActLayout l = act_layout(pv.type, pv.cols);
  TileCtx c;
  c.w = pv.data;
  c.group_bytes = pv.group_bytes;
  c.nb = K::blocks(pv.cols);
  c.act = act;
  c.act_stride = l.stride;
  c.d_off = l.d_offset;
  c.aux_off = l.aux_offset;
  c.aux2_off = l.aux2_offset;
  c.n_tokens = n_tokens;
  c.y = y;
  c.ldy = ldy;
  c.rb = row_begin;
  c.re = row_end;
  const int64_t q_end = (row_end + S::kLanes - 1) / S::kLanes;
  int64_t q = row_begin / S::kLanes;
  if (n_tokens == 1) {
    for (; q + K::kGemvV <= q_end; q += K::kGemvV) K::template tile<K::kGemvV, 1>(c, q, 0);
  } else if (K::kFewT > 0 && n_tokens <= K::kFewMax) {
    if constexpr (K::kFewT > 0) {
      for (; q + K::kFewV <= q_end; q += K::kFewV) few_tokens<K, K::kFewV>(c, q);
      for (; q < q_end; ++q) few_tokens<K, 1>(c, q);
    }
    return;
  } else {
    for (; q + K::kV <= q_end; q += K::kV) all_tokens<K, K::kV>(c, q);
  }
  for (; q < q_end; ++q) all_tokens<K, 1>(c, q);
}

}  // namespace
}  // namespace ember::kernels::x86
