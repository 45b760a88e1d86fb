// lfm2's gated short convolution (a recurrent layer; model/arch/lfm2.cc).
//
// Shapes (n = ubatch rows, d = n_embd, K = conv_kernel, the state [K - 1][d] per sequence):
//   h     [n][d]      rmsnorm(x) * attn_norm
//   bcx   [n][3d]     in_proj h = B | C | x
//   y     [n][d]      C * conv(B * x): y[t][c] = C[t][c] * sum_j w[c][j] * u[t - (K - 1) + j][c]
//                     with u = B * x, tap 0 on the oldest input; inputs before the sequence's
//                     first position are 0 (a fresh state is zero)
//   o_    [n][d]      out_proj y
// The sum runs over the taps in order from a zero start, as the reference's convolution does.
// Each (sequence, block of channels) is one task that walks the sequence's rows in position
// order, so the arithmetic of a row never depends on the batch it came in.
#include <algorithm>

#include "runtime/context.h"
#include "runtime/ubatch.h"

namespace ember::runtime {

void Context::shortconv_block(const Ubatch& ub, int64_t il) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t n = ub.n, d = hp.n_embd;
  const int64_t taps = hp.conv_kernel;  // in [2, 64] (read_hparams)
  const int64_t n_state = taps - 1;

  const RowConversion rc = begin_rows({L.shortconv_in.w.type}, n, d);
  pool_.run(n, [&](int64_t t, int) {
    float* h = h_.data() + t * d;
    O.rmsnorm(x_.data() + t * d, L.attn_norm, h, d, hp.norm_eps);
    convert_row(rc, h, t);
  });
  finish_rows(rc, h_.data(), n);
  float* bcx = conv_.data();
  float* y = conv_.data() + n * 3 * d;
  const Product in = {&L.shortconv_in, rc.data(L.shortconv_in.w.type), bcx, 3 * d};
  run_products(&in, 1, n, Stage::kMatmulQkv);

  {
    StageTimer timer(*this, Stage::kOther);
    constexpr int64_t kChannels = 64;
    const int64_t n_blocks = (d + kChannels - 1) / kChannels;
    const auto n_groups = static_cast<int64_t>(ub.seq_groups.size());
    const float* kernel = L.shortconv_kernel;  // [d][taps]
    pool_.run(n_groups * n_blocks, [&](int64_t task, int) {
      const Ubatch::SeqGroup& g = ub.seq_groups[static_cast<size_t>(task / n_blocks)];
      const int64_t c0 = task % n_blocks * kChannels;
      const int64_t c1 = std::min(d, c0 + kChannels);
      float* state = rs_->conv(il, g.seq);  // [n_state][d], row 0 the oldest
      for (int64_t c = c0; c < c1; ++c) {
        float window[64];
        for (int64_t j = 0; j < n_state; ++j) window[j] = state[j * d + c];
        const float* w = kernel + c * taps;
        for (int64_t r = g.begin; r < g.end; ++r) {
          const int64_t t = ub.seq_rows[static_cast<size_t>(r)];
          const float* row = bcx + t * 3 * d;
          const float u = row[c] * row[2 * d + c];
          float sum = 0.0f;
          for (int64_t j = 0; j < n_state; ++j) sum += window[j] * w[j];
          sum += u * w[n_state];
          y[t * d + c] = row[d + c] * sum;
          for (int64_t j = 0; j + 1 < n_state; ++j) window[j] = window[j + 1];
          window[n_state - 1] = u;
        }
        for (int64_t j = 0; j < n_state; ++j) state[j * d + c] = window[j];
      }
    });
  }

  const Product out = {&L.shortconv_out, convert(0, L.shortconv_out.w.type, y, n, d), o_.data(),
                       d};
  run_products(&out, 1, n, Stage::kMatmulOut);
}

}  // namespace ember::runtime
