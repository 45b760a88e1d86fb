// Causal self-attention of one query token over the key/value cache, flash-attention style: the
// cache is visited in fixed blocks of cells with an online (running-max) softmax, so memory stays
// O(block) whatever the context length and no score can overflow exp().
//
// One call handles the n_rep query heads that share one key/value head (grouped-query
// attention), so each key and value row is loaded once for all of them.
//
// Determinism: blocks are aligned to absolute cell indices and only visible cells are gathered
// and reduced, so a query gets bit-identical output whether later cells exist (batch
// evaluation) or not (token-by-token), and whichever thread runs it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/ops.h"

namespace ember::kernels {

// Cells per softmax block.
inline constexpr int64_t kAttentionBlock = 64;

// One layer's cache as attention sees it, for one key/value head.
struct AttentionKv {
  const uint8_t* k = nullptr;  // row of cell c at k + c * k_stride (already offset to the head)
  const uint8_t* v = nullptr;
  size_t k_stride = 0;
  size_t v_stride = 0;
  const int32_t* cell_pos = nullptr;   // position per cell (-1: free)
  const uint64_t* cell_seqs = nullptr;  // sequence mask per cell
  int64_t n_cells = 0;                  // cells [0, n_cells) are scanned
  KvType type = KvType::kF16;
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  int64_t window = 0;       // > 0: only cells with pos > query pos - window are visible
  float softcap = 0.0f;     // > 0: scores = softcap * tanh(scores / softcap)
};

// Per-thread working memory for attend(); sizes from attention_scratch_floats().
struct AttentionScratch {
  float* scores = nullptr;  // n_rep * kAttentionBlock
  int32_t* cells = nullptr;  // kAttentionBlock
  float* state = nullptr;   // 2 * n_rep (running max, running sum)
};
size_t attention_scratch_floats(int64_t n_rep);

// out[r][0..dv) = softmax_j(q[r] . k_j) v_j over the visible cells j, for r < n_rep.
// `q` holds n_rep heads of head_dim_k values back to back, already scaled; `out` n_rep heads of
// head_dim_v values. A query that sees no cell gets zeros.
void attend(const OpsTable& ops, const AttentionKv& kv, const float* q, int64_t n_rep,
            int32_t query_pos, uint64_t query_seq_mask, float* out, AttentionScratch& scratch);

}  // namespace ember::kernels
