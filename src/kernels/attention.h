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
//            are accumulated in F32 by a second GEMM. Used for batches of 64 rows or more.
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

inline constexpr int64_t kAttentionTile = 64;     // cells per tile
inline constexpr int64_t kAttentionRowTile = 64;  // query rows per tiled call (at most)

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
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  int64_t window = 0;    // > 0: only cells with pos > query pos - window are visible
  float scale = 1.0f;    // scores = scale * q.k (before soft-capping)
  float softcap = 0.0f;  // > 0: scores = softcap * tanh(scores / softcap)
  // Optional attention sinks (gpt-oss): one logit per query head of this group (n_rep values)
  // that joins the softmax denominator only.
  const float* sinks = nullptr;
};

// One query token: n_rep heads that share the key/value head.
struct AttentionQuery {
  const float* q = nullptr;  // n_rep * head_dim_k values
  float* out = nullptr;      // n_rep * head_dim_v values
  int32_t pos = 0;
  uint64_t seq_mask = 0;  // the token's sequence, as a bit
};

// Whether the tiled algorithm handles this cache (F16/F32 cells, value size a multiple of 16).
bool attention_tiled_supported(KvType type, int64_t head_dim_v);

// Per-thread scratch bytes for either algorithm with up to kAttentionRowTile rows.
size_t attention_scratch_bytes(int64_t n_rep, int64_t head_dim_k, int64_t head_dim_v);

// The per-key algorithm for one query row. A row that sees no cell gets zeros.
void attend_per_key(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery& query,
                    int64_t n_rep, void* scratch);

// The tiled algorithm for 1..kAttentionRowTile query rows.
void attend_tiled(const OpsTable& ops, const AttentionKv& kv, const AttentionQuery* rows,
                  int64_t n_rows, int64_t n_rep, void* scratch);

}  // namespace ember::kernels
