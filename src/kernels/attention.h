// Causal self-attention over the key/value cache with an online (running-maximum) softmax, so
// memory stays O(tile) whatever the context length and no score can overflow exp().
//
// Two algorithms, matching the two the reference implementation's CPU backend uses (it picks by
// the number of query rows, and so does the runtime by default; see runtime/context.h):
//   per-key: the query is rounded to F16 (for an F16 cache), each visible cell updates the
//            running maximum, sum and an F16 (F32 for other cache types) value accumulator in
//            turn. Used for short batches and single-token decoding.
//   tiled:   F32 queries; the cache is visited in tiles of 64 cells; per tile the scores come
//            from one small GEMM, the softmax of the tile is summed in double, and the values
//            are accumulated in F32 by a second GEMM. Tiles are grouped into spans of 8
//            consecutive tiles (512 cells; span s = tiles [8s, 8s + 8) of the visiting order):
//            each span yields a partial result (its running maximum m, sum s and unnormalised
//            value accumulator), independent of every other span, and the partials are folded
//            in span order (attend_fold_partial). So a single decoding row can spread its spans
//            over threads (attend_tiled_span, then attend_fold) and get exactly the bits that
//            attend_tiled, which folds each span as it goes, gives a row of a large batch.
//            F16, F32 and Q8_0 caches (Q8_0 rows dequantized to F32 per tile).
// Both visit the cache in tiles of 64 cells aligned to absolute cell indices: in ascending index
// order, or in the order of an explicit tile list (AttentionKv::tiles) — a paged cache whose
// sequences own 64-cell blocks in position order (position p at cell block(p / 64) * 64 + p % 64)
// lists the tiles of the query's sequence in position order, so the arithmetic is the same
// wherever the blocks lie. Within a tile cells go in ascending index order. Only visible cells
// contribute, so a row's result does not depend on which other rows share the call, on cells
// that exist but are not visible (later tokens of a batch, other sequences), or on the thread
// that runs it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/ops.h"

namespace ember::kernels {

inline constexpr int64_t kAttentionTile = 64;      // cells per tile
inline constexpr int64_t kAttentionRowTile = 64;   // query rows per tiled call (at most)
inline constexpr int64_t kAttentionSpanTiles = 8;  // tiles per span of the tiled algorithm

enum class AttentionPath : uint8_t { kPerKey, kTiled };

// One layer's cache as attention sees it, for one key/value head.
struct AttentionKv {
  const uint8_t* k = nullptr;  // row of cell c at k + c * k_stride (already offset to the head)
  const uint8_t* v = nullptr;
  size_t k_stride = 0;
  size_t v_stride = 0;
  const int32_t* cell_pos = nullptr;    // position per cell (-1: free)
  const uint64_t* cell_seqs = nullptr;  // sequence mask per cell
  int64_t n_cells = 0;                  // cells [0, n_cells) are scanned
  // Optional: the tiles to visit, in this order (tile t = cells [t * 64, t * 64 + 64) clipped to
  // n_cells). Null: every tile of [0, n_cells) in ascending order. Every row of one
  // attend_tiled call uses this list, so rows of different lists go to different calls.
  const int32_t* tiles = nullptr;
  int64_t n_tiles = 0;
  KvType type = KvType::kF16;
  // F16 keys stored as tiles (KvType::kF16 only): the 64 cells of tile t (cells
  // [64t, 64t + 64)) as [head_dim_k][64] halves at k + t * 64 * k_stride (k_stride = 2 *
  // head_dim_k), i.e. each tile transposed, so the score GEMM reads its key rows in place.
  // Storage runs to a whole tile; cells of the last tile at or past n_cells may hold anything.
  bool k_tiles = false;
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  int64_t window = 0;    // > 0: only cells with pos > query pos - window are visible
  float scale = 1.0f;    // scores = scale * q.k (before soft-capping)
  float softcap = 0.0f;  // > 0: scores = softcap * tanh(scores / softcap)
  // Optional attention sinks (gpt-oss): one logit per query head of this group (n_rep values)
  // that joins the softmax denominator only. Applied once per row and head when the cells are
  // all folded (never per span), so batch, token-by-token and span-parallel decoding agree.
  const float* sinks = nullptr;
};

// One query token: n_rep heads that share the key/value head.
struct AttentionQuery {
  const float* q = nullptr;  // n_rep * head_dim_k values
  float* out = nullptr;      // n_rep * head_dim_v values
  int32_t pos = 0;
  uint64_t seq_mask = 0;  // the token's sequence, as a bit
};

// Index (in halves, from the start of a head's tiled key plane) of dimension j of `cell`'s key
// (AttentionKv::k_tiles): tile cell / 64 holds [dims][64] halves.
inline size_t tiled_key_index(int64_t dims, int64_t cell, int64_t j) {
  return static_cast<size_t>((cell / kAttentionTile) * kAttentionTile * dims + j * kAttentionTile +
                             cell % kAttentionTile);
}

// Whether the tiled algorithm handles this cache (value size a multiple of 16).
bool attention_tiled_supported(KvType type, int64_t head_dim_v);

// Spans of 8 tiles the tiled algorithm visits for `kv` (its tile list or [0, n_cells)).
int64_t attention_span_count(const AttentionKv& kv);
// Floats of one partial result (one query row and head): m, s, then head_dim_v accumulators.
inline int64_t attention_partial_floats(int64_t head_dim_v) {
  return head_dim_v + 2;
}

// Per-thread scratch bytes for either algorithm with up to kAttentionRowTile rows.
size_t attention_scratch_bytes(int64_t n_rep, int64_t head_dim_k, int64_t head_dim_v);

// The per-key algorithm for one query row. A row that sees no cell gets zeros.
void attend_per_key(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery& query,
                    int64_t n_rep, void* scratch);

// The tiled algorithm for 1..kAttentionRowTile query rows: every span's partial, folded in
// order, normalised into rows[i].out.
void attend_tiled(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery* rows,
                  int64_t n_rows, int64_t n_rep, void* scratch);

// Span `span` (< attention_span_count(kv)) of the tiled algorithm for 1..kAttentionRowTile
// rows: the partial of row i, head h (of n_rep) goes to partial + i * row_stride +
// h * head_stride (attention_partial_floats(head_dim_v) floats; m = -inf: nothing visible).
void attend_tiled_span(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery* rows,
                       int64_t n_rows, int64_t n_rep, int64_t span, float* partial,
                       int64_t row_stride, int64_t head_stride, void* scratch);

// Folds n_spans partials of one row and head (span i at partials + i * span_stride) in order
// and writes the normalised result (head_dim_v values) to out: what attend_tiled computes.
// sink: that head's attention sink (AttentionKv::sinks[h]), or null; it joins the denominator
// once, after the last span, exactly as in attend_tiled.
void attend_fold(const OpsTable& ops, const float* partials, int64_t span_stride, int64_t n_spans,
                 int64_t head_dim_v, const float* sink, float* out);

}  // namespace ember::kernels
