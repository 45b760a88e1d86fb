// The gated delta-net layer of qwen35 / qwen35moe (model/arch/qwen35.cc): linear attention with a
// recurrent state per sequence, evaluated with the plain sequential recurrence for prompts and
// decoding alike, so a sequence evaluated in one batch, in ubatches or token by token gives the
// same bits (the reference's chunked prompt form agrees within the golden tolerance).
//
// Shapes (n = tokens in the ubatch, d = n_embd, G = q/k heads of dk = ssm_d_state values,
// H = v heads of dv = d_inner / H values, C = conv channels = 2 G dk + H dv, K = conv taps):
//   h_        [n][d]       attn_norm(x)
//   qkv_      [n][C]       attn_qkv h: q (G dk) | k (G dk) | v (H dv)
//   dn_conv_  [n][C]       SiLU(causal conv of qkv_ over the sequence's previous K - 1 inputs);
//                          then q, k L2-normalised per head and q scaled by 1 / sqrt(dk)
//   dn_z_     [n][H dv]    attn_gate h
//   dn_ab_    [n][2 H]     ssm_alpha h | ssm_beta h, then decay g | beta per v head
//   attn_     [n][H dv]    delta-rule read-out, then RMSnorm(ssm_norm) * silu(z) per head
//   o_        [n][d]       ssm_out attn_ (Context::recurrent_block adds the residual)
// Every row goes through the recurrence (the state must see every token), also in the last layer.
// The state of a sequence (runtime/recurrent_state.h; sizes from ModelHParams::recurrent_conv /
// recurrent_ssm): [K - 1][C] conv inputs (oldest first) and [H][dv][dk] matrices per delta-net
// layer.
#include <algorithm>
#include <cmath>
#include <span>

#include "kernels/delta_net.h"
#include "runtime/context.h"
#include "runtime/ubatch.h"

namespace ember::runtime {

void Context::delta_net_block(const Ubatch& ub, int64_t il) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, G = hp.ssm_n_group, H = hp.ssm_dt_rank;
  const int64_t dk = hp.ssm_d_state, dv = hp.ssm_head_v_dim(), di = hp.ssm_d_inner;
  const int64_t C = hp.ssm_conv_channels(), K = hp.ssm_d_conv;
  const float eps = hp.norm_eps;
  const int64_t n = ub.n;

  // attn_norm, then the four projections of h (grouped by weight type: at most kActSlots
  // converted copies of h at once).
  pool_.run(n, [&](int64_t t, int) {
    O.rmsnorm(x_.data() + t * d, L.attn_norm, h_.data() + t * d, d, eps);
  });
  {
    const Linear* ws[4] = {&L.wqkv, &L.ssm_z, &L.ssm_alpha, &L.ssm_beta};
    float* ys[4] = {qkv_.data(), dn_z_.data(), dn_ab_.data(), dn_ab_.data() + H};
    const int64_t ldy[4] = {C, di, 2 * H, 2 * H};
    bool done[4] = {};
    for (int round = 0; round < 4; ++round) {
      TensorType types[kActSlots] = {};
      int n_types = 0, slot_of[4] = {-1, -1, -1, -1};
      for (int i = 0; i < 4; ++i) {
        if (done[i]) continue;
        int s = 0;
        while (s < n_types && types[s] != ws[i]->w.type) ++s;
        if (s == n_types) {
          if (n_types == kActSlots) continue;
          types[n_types++] = ws[i]->w.type;
        }
        slot_of[i] = s;
      }
      if (n_types == 0) break;
      const void* conv[kActSlots] = {};
      for (int s = 0; s < n_types; ++s) conv[s] = convert(s, types[s], h_.data(), n, d);
      Product p[4];
      int np = 0;
      for (int i = 0; i < 4; ++i) {
        if (slot_of[i] < 0) continue;
        p[np++] = {ws[i], conv[slot_of[i]], ys[i], ldy[i]};
        done[i] = true;
      }
      run_products(p, np, n, Stage::kMatmulQkv);
    }
  }

  // Each sequence's rows in position order (Ubatch::seq_groups); decode has zeroed the state of
  // sequences that start here and checked that the others continue where their state is.
  const auto n_groups = static_cast<int64_t>(ub.seq_groups.size());
  auto group_rows = [&](int64_t g) {
    const Ubatch::SeqGroup& sg = ub.seq_groups[static_cast<size_t>(g)];
    return std::span<const int32_t>(ub.seq_rows.data() + sg.begin,
                                    static_cast<size_t>(sg.end - sg.begin));
  };
  auto group_seq = [&](int64_t g) { return ub.seq_groups[static_cast<size_t>(g)].seq; };

  // Causal convolution, token by token within each sequence; tasks split the channels.
  constexpr int64_t kConvChunk = 256;
  const int64_t n_chunks = (C + kConvChunk - 1) / kConvChunk;
  pool_.run(n_groups * n_chunks, [&](int64_t task, int) {
    const int64_t g = task / n_chunks, c0 = task % n_chunks * kConvChunk;
    const int64_t c1 = std::min(C, c0 + kConvChunk);
    float* state = rs_->conv(il, group_seq(g));
    for (const int32_t t : group_rows(g)) {
      kernels::ssm_conv_token(state, qkv_.data() + t * C, L.ssm_conv1d, dn_conv_.data() + t * C, c0,
                              c1, C, K);
    }
  });

  // Per token: SiLU, L2-normalised q and k heads, q scaled; decay and beta per v head.
  const float q_scale = 1.0f / std::sqrt(static_cast<float>(dk));
  pool_.run(n, [&](int64_t t, int) {
    float* c = dn_conv_.data() + t * C;
    kernels::silu_inplace(c, C);
    for (int64_t h = 0; h < 2 * G; ++h) kernels::l2_normalize(c + h * dk, dk, eps);
    O.scale(c, q_scale, G * dk);
    float* ab = dn_ab_.data() + t * 2 * H;
    for (int64_t h = 0; h < H; ++h) {
      ab[h] = kernels::softplus(ab[h] + L.ssm_dt_bias[h]) * L.ssm_a[h];
      ab[H + h] = 1.0f / (1.0f + std::exp(-ab[H + h]));
    }
  });

  // The recurrence, token by token within each sequence; tasks are (sequence, v head). V head h
  // reads q/k head h mod G (the reference tiles the q/k heads over the v heads).
  pool_.run(n_groups * H, [&](int64_t task, int) {
    const int64_t g = task / H, h = task % H;
    float* state = rs_->ssm(il, group_seq(g)) + h * dv * dk;
    for (const int32_t t : group_rows(g)) {
      const float* c = dn_conv_.data() + t * C;
      const float* q = c + (h % G) * dk;
      const float* k = c + G * dk + (h % G) * dk;
      const float* v = c + 2 * G * dk + h * dv;
      const float* ab = dn_ab_.data() + t * 2 * H;
      kernels::gated_delta_step(state, q, k, v, ab[h], ab[H + h], attn_.data() + t * di + h * dv,
                                dk, dv);
    }
  });

  // Output: RMS norm per head with ssm_norm, times silu(z); then ssm_out into o_.
  pool_.run(n, [&](int64_t t, int) {
    float* a = attn_.data() + t * di;
    const float* z = dn_z_.data() + t * di;
    for (int64_t h = 0; h < H; ++h) O.rmsnorm(a + h * dv, L.ssm_norm, a + h * dv, dv, eps);
    for (int64_t i = 0; i < di; ++i) a[i] *= z[i] / (1.0f + std::exp(-z[i]));
  });
  const Product p = {&L.ssm_out, convert(0, L.ssm_out.w.type, attn_.data(), n, di), o_.data(), d};
  run_products(&p, 1, n, Stage::kMatmulOut);
}

}  // namespace ember::runtime
