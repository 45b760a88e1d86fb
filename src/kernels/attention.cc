#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace ember::kernels {

size_t attention_scratch_floats(int64_t n_rep) {
  return static_cast<size_t>(n_rep * kAttentionBlock + kAttentionBlock + 2 * n_rep);
}

void attend(const OpsTable& ops, const AttentionKv& kv, const float* q, int64_t n_rep,
            int32_t query_pos, uint64_t query_seq_mask, float* out, AttentionScratch& scratch) {
  const int64_t dk = kv.head_dim_k, dv = kv.head_dim_v;
  const int t = static_cast<int>(kv.type);
  const auto dot = ops.kv_dot[t];
  const auto axpy = ops.kv_axpy[t];
  float* m = scratch.state;
  float* l = scratch.state + n_rep;
  for (int64_t r = 0; r < n_rep; ++r) {
    m[r] = -std::numeric_limits<float>::infinity();
    l[r] = 0.0f;
  }
  std::memset(out, 0, static_cast<size_t>(n_rep * dv) * sizeof(float));
  // Oldest visible position (sliding window), as a bound on cell positions.
  const int64_t min_pos = kv.window > 0 ? static_cast<int64_t>(query_pos) - kv.window + 1
                                        : std::numeric_limits<int64_t>::min();

  for (int64_t c0 = 0; c0 < kv.n_cells; c0 += kAttentionBlock) {
    const int64_t c1 = std::min(kv.n_cells, c0 + kAttentionBlock);
    int64_t nv = 0;
    for (int64_t c = c0; c < c1; ++c) {
      const int32_t p = kv.cell_pos[c];
      if ((kv.cell_seqs[c] & query_seq_mask) != 0 && p <= query_pos && p >= min_pos) {
        scratch.cells[nv++] = static_cast<int32_t>(c);
      }
    }
    if (nv == 0) continue;
    for (int64_t r = 0; r < n_rep; ++r) {
      float* s = scratch.scores + r * kAttentionBlock;
      const float* qr = q + r * dk;
      for (int64_t j = 0; j < nv; ++j) {
        s[j] = dot(qr, kv.k + static_cast<size_t>(scratch.cells[j]) * kv.k_stride, dk);
      }
      if (kv.softcap > 0.0f) ops.softcap(s, kv.softcap, nv);
      const float block_max = ops.max(s, nv);
      const float m_new = std::max(m[r], block_max);
      float* o = out + r * dv;
      if (m_new > m[r] && l[r] > 0.0f) {
        // Rescale what was accumulated under the old maximum.
        const float f = std::exp(m[r] - m_new);
        ops.scale(o, f, dv);
        l[r] *= f;
      }
      m[r] = m_new;
      l[r] += ops.exp_sum(s, m_new, nv);
      for (int64_t j = 0; j < nv; ++j) {
        axpy(s[j], kv.v + static_cast<size_t>(scratch.cells[j]) * kv.v_stride, o, dv);
      }
    }
  }
  for (int64_t r = 0; r < n_rep; ++r) {
    if (l[r] > 0.0f) ops.scale(out + r * dv, 1.0f / l[r], dv);
  }
}

}  // namespace ember::kernels
