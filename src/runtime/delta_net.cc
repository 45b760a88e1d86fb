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
//   o_        [n][d]       ssm_out attn_ (the residual add follows: recurrent_residual)
// Every row goes through the recurrence (the state must see every token), also in the last layer.
// The state of a sequence: [K - 1][C] conv inputs (oldest first) and [H][dv][dk] matrices per
// delta-net layer.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/delta_net.h"
#include "runtime/context.h"

namespace ember::runtime {

Status Context::init_delta_net() {
  const ModelHParams& hp = model_.hparams();
  dn_layer_index_.assign(static_cast<size_t>(hp.n_layer), -1);
  int64_t n_delta = 0;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (model_.layer(il).delta_net) dn_layer_index_[static_cast<size_t>(il)] = n_delta++;
  }
  if (n_delta == 0) return Status::Ok();
  const size_t ub = static_cast<size_t>(params_.n_ubatch);
  dn_conv_.resize(ub * static_cast<size_t>(hp.ssm_conv_channels()));
  dn_z_.resize(ub * static_cast<size_t>(hp.ssm_d_inner));
  dn_ab_.resize(ub * 2 * static_cast<size_t>(hp.ssm_dt_rank));
  dn_state_stride_ = hp.ssm_conv_state_size() + hp.ssm_state_size();
  const auto total = static_cast<size_t>(n_delta) * static_cast<size_t>(params_.n_seq_max) *
                     static_cast<size_t>(dn_state_stride_);
  if (total > (size_t{1} << 34)) return resource_exhausted("delta-net state too large");
  dn_state_.assign(total, 0.0f);
  return Status::Ok();
}

float* Context::delta_conv_state(int64_t il, int32_t seq) {
  const int64_t layer = dn_layer_index_[static_cast<size_t>(il)];
  return dn_state_.data() + (layer * params_.n_seq_max + seq) * dn_state_stride_;
}

float* Context::delta_ssm_state(int64_t il, int32_t seq) {
  return delta_conv_state(il, seq) + model_.hparams().ssm_conv_state_size();
}

void Context::delta_net_block(int64_t il, int64_t n, const int32_t* pos, const int32_t* seq) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, G = hp.ssm_n_group, H = hp.ssm_dt_rank;
  const int64_t dk = hp.ssm_d_state, dv = hp.ssm_head_v_dim(), di = hp.ssm_d_inner;
  const int64_t C = hp.ssm_conv_channels(), K = hp.ssm_d_conv;
  const float eps = hp.norm_eps;

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

  // The ubatch's tokens per sequence, in batch order (positions ascend within a sequence).
  // A sequence whose first token here is its lowest cached position starts here: its state
  // starts from zero.
  std::vector<std::vector<int32_t>> groups;
  std::vector<int32_t> group_seq;
  for (int64_t t = 0; t < n; ++t) {
    size_t g = 0;
    while (g < group_seq.size() && group_seq[g] != seq[t]) ++g;
    if (g == group_seq.size()) {
      group_seq.push_back(seq[t]);
      groups.emplace_back();
      if (kv_->seq_pos_min(seq[t]) == pos[t]) {
        std::memset(delta_conv_state(il, seq[t]), 0,
                    static_cast<size_t>(dn_state_stride_) * sizeof(float));
      }
    }
    groups[g].push_back(static_cast<int32_t>(t));
  }
  const auto n_groups = static_cast<int64_t>(groups.size());

  // Causal convolution, token by token within each sequence; tasks split the channels.
  constexpr int64_t kConvChunk = 256;
  const int64_t n_chunks = (C + kConvChunk - 1) / kConvChunk;
  pool_.run(n_groups * n_chunks, [&](int64_t task, int) {
    const int64_t g = task / n_chunks, c0 = task % n_chunks * kConvChunk;
    const int64_t c1 = std::min(C, c0 + kConvChunk);
    float* state = delta_conv_state(il, group_seq[static_cast<size_t>(g)]);
    for (int32_t t : groups[static_cast<size_t>(g)]) {
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
    float* state = delta_ssm_state(il, group_seq[static_cast<size_t>(g)]) + h * dv * dk;
    for (int32_t t : groups[static_cast<size_t>(g)]) {
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

void Context::recurrent_residual(int64_t il, int64_t n, const std::vector<int32_t>& out_rows) {
  const int64_t d = model_.hparams().n_embd;
  const kernels::OpsTable& O = *ops_;
  if (il != model_.hparams().n_layer - 1) {
    pool_.run(n, [&](int64_t t, int) { O.add(x_.data() + t * d, o_.data() + t * d, d); });
    return;
  }
  // Last layer: only the output rows go on, compacted to the front (ascending, so a row is read
  // before anything is written over it).
  for (size_t i = 0; i < out_rows.size(); ++i) {
    const int64_t t = out_rows[i];
    float* x = x_.data() + static_cast<int64_t>(i) * d;
    if (t != static_cast<int64_t>(i)) {
      std::memcpy(x, x_.data() + t * d, static_cast<size_t>(d) * sizeof(float));
    }
    O.add(x, o_.data() + t * d, d);
  }
}

}  // namespace ember::runtime
