// Feed-forward blocks: the dense gated FFN (SwiGLU / GeGLU) and the mixture of experts (with
// Gemma 4's dense branch beside the experts).
//
// ff_ holds two planes of [rows][n_ff]: gate (which becomes the activated product and the input
// of the down projection) and up.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/context.h"

namespace ember::runtime {
namespace {

void activate(const kernels::OpsTable& O, FfnActivation act, float* gate, const float* up,
              int64_t n) {
  if (act == FfnActivation::kGeluTanh) {
    O.gelu_mul(gate, up, n);
  } else if (act == FfnActivation::kSwigluOai) {
    // gpt-oss: gate clamped above, up clamped both ways, sigmoid with alpha 1.702.
    constexpr float kAlpha = 1.702f, kLimit = 7.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float x = std::min(gate[i], kLimit);
      const float y = std::clamp(up[i], -kLimit, kLimit);
      gate[i] = (x / (1.0f + std::exp(kAlpha * (-x)))) * (y + 1.0f);
    }
  } else {
    O.silu_mul(gate, up, n);
  }
}

// sel[0..k) = the k largest scores, largest first (ties: lower index).
void select_top_k(const float* score, int64_t ne, int64_t k, int32_t* sel) {
  for (int64_t r = 0; r < k; ++r) {
    int64_t best = -1;
    for (int64_t e = 0; e < ne; ++e) {
      bool taken = false;
      for (int64_t j = 0; j < r; ++j) taken |= sel[j] == e;
      if (!taken && (best < 0 || score[e] > score[best])) best = e;
    }
    sel[r] = static_cast<int32_t>(best);
  }
}

// Expert groups (DeepSeek V3): the experts form n_group equal groups; each group scores the sum
// of its two largest selection scores (its one score if it has one expert), and the experts of
// all but the n_used best groups (ties: lower index) get -inf, so they are never selected.
void mask_expert_groups(float* score, int64_t ne, int64_t n_group, int64_t n_used) {
  const int64_t per = ne / n_group;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  std::array<float, kMaxExpertGroups> group_score{};
  for (int64_t g = 0; g < n_group; ++g) {
    float a = kNegInf, b = kNegInf;
    for (int64_t i = g * per; i < (g + 1) * per; ++i) {
      if (score[i] > a) {
        b = a;
        a = score[i];
      } else if (score[i] > b) {
        b = score[i];
      }
    }
    group_score[static_cast<size_t>(g)] = per >= 2 ? a + b : a;
  }
  uint64_t keep = 0;
  for (int64_t u = 0; u < n_used; ++u) {
    int64_t best = -1;
    for (int64_t g = 0; g < n_group; ++g) {
      if ((keep >> g & 1) == 0 && (best < 0 || group_score[static_cast<size_t>(g)] >
                                                   group_score[static_cast<size_t>(best)])) {
        best = g;
      }
    }
    keep |= uint64_t{1} << best;
  }
  for (int64_t g = 0; g < n_group; ++g) {
    if ((keep >> g & 1) == 0) std::fill(score + g * per, score + (g + 1) * per, kNegInf);
  }
}

}  // namespace

void Context::dense_ffn(int64_t il, int64_t n_rows, const float* norm_w, float* out) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, nf = L.ffn_gate.w.rows;
  float* gate = ff_.data();
  float* up = ff_.data() + ff_.size() / 2;

  // The norm with the conversion for gate/up fused in; the activation with the conversion for
  // down fused in.
  const RowConversion in = begin_rows({L.ffn_gate.w.type, L.ffn_up.w.type}, n_rows, d);
  pool_.run(n_rows, [&](int64_t t, int) {
    float* h = h_.data() + t * d;
    O.rmsnorm(x_.data() + t * d, norm_w, h, d, hp.norm_eps);
    convert_row(in, h, t);
  });
  finish_rows(in, h_.data(), n_rows);
  const Product gu[2] = {{&L.ffn_gate, in.data(L.ffn_gate.w.type), gate, nf},
                         {&L.ffn_up, in.data(L.ffn_up.w.type), up, nf}};
  run_products(gu, 2, n_rows, Stage::kMatmulUpGate);
  const RowConversion mid = begin_rows({L.ffn_down.w.type}, n_rows, nf);
  pool_.run(n_rows, [&](int64_t t, int) {
    activate(O, cfg.ffn_act, gate + t * nf, up + t * nf, nf);
    convert_row(mid, gate + t * nf, t);
  });
  finish_rows(mid, gate, n_rows);
  const Product down = {&L.ffn_down, mid.data(L.ffn_down.w.type), out, d};
  run_products(&down, 1, n_rows, Stage::kMatmulDown);
}

void Context::ffn_block(const Ubatch&, int64_t il, int64_t n_rows) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd;
  dense_ffn(il, n_rows, L.ffn_norm, o_.data());
  pool_.run(n_rows, [&](int64_t t, int) {
    float* o = o_.data() + t * d;
    if (L.post_ffn_norm != nullptr) O.rmsnorm(o, L.post_ffn_norm, o, d, hp.norm_eps);
    if (cfg.residual_scale != 1.0f) O.scale(o, cfg.residual_scale, d);
    O.add(x_.data() + t * d, o, d);
  });
}

void Context::moe_block(const Ubatch&, int64_t il, int64_t n_rows) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, nf = hp.n_ff_exp;
  const int64_t ne = hp.n_expert, k = hp.n_expert_used;

  if (L.gate_inp_scale != nullptr) {
    // Gemma 4: the router reads rmsnorm(x) / sqrt(n_embd) * ffn_gate_inp.scale; the experts read
    // rmsnorm(x) * pre_ffw_norm_2.
    const float inv = 1.0f / std::sqrt(static_cast<float>(d));
    pool_.run(n_rows, [&](int64_t t, int) {
      float* h = h_.data() + t * d;
      O.rmsnorm(x_.data() + t * d, ones_.data(), h, d, hp.norm_eps);
      O.scale(h, inv, d);
      for (int64_t i = 0; i < d; ++i) h[i] *= L.gate_inp_scale[i];
    });
  } else {
    pool_.run(n_rows, [&](int64_t t, int) {
      O.rmsnorm(x_.data() + t * d, L.ffn_norm, h_.data() + t * d, d, hp.norm_eps);
    });
  }
  // Router logits [n_rows][n_expert].
  const Product router = {&L.ffn_gate_inp, convert(0, L.ffn_gate_inp.w.type, h_.data(), n_rows, d),
                          router_.data(), ne};
  run_products(&router, 1, n_rows, Stage::kMatmulRouter);
  if (L.gate_inp_b != nullptr) {
    pool_.run(n_rows, [&](int64_t t, int) { O.add(router_.data() + t * ne, L.gate_inp_b, ne); });
  }
  if (L.pre_ffn_norm_2 != nullptr) {
    pool_.run(n_rows, [&](int64_t t, int) {
      O.rmsnorm(x_.data() + t * d, L.pre_ffn_norm_2, h_.data() + t * d, d, hp.norm_eps);
    });
  }

  // Routing: softmax over all experts, the k most probable (ties: lower index), their
  // probabilities optionally renormalised to sum to 1.
  pool_.run(n_rows, [&](int64_t t, int) {
    float* p = router_.data() + t * ne;
    if (cfg.moe_gating == MoeGating::kSigmoidLogits) {
      // The k largest logits (ties: lower index); weights = their sigmoids.
      int32_t* sel = route_expert_.data() + t * k;
      float* w = route_weight_.data() + t * k;
      for (int64_t r = 0; r < k; ++r) {
        int64_t best = -1;
        for (int64_t e = 0; e < ne; ++e) {
          bool taken = false;
          for (int64_t j = 0; j < r; ++j) taken |= sel[j] == e;
          if (!taken && (best < 0 || p[e] > p[best])) best = e;
        }
        sel[r] = static_cast<int32_t>(best);
        w[r] = 1.0f / (1.0f + std::exp(-p[best]));
        if (cfg.moe_weights_scale != 1.0f) w[r] *= cfg.moe_weights_scale;
      }
      return;
    }
    if (cfg.moe_gating == MoeGating::kSigmoid) {
      // Sigmoid per expert; the k best of sigmoid + selection bias (ties: lower index); weights
      // are the chosen sigmoids, normalised and scaled.
      for (int64_t e = 0; e < ne; ++e) p[e] = 1.0f / (1.0f + std::exp(-p[e]));
      int32_t* sel = route_expert_.data() + t * k;
      float* w = route_weight_.data() + t * k;
      float* score = route_score_.data() + t * ne;
      for (int64_t e = 0; e < ne; ++e) score[e] = L.exp_probs_b ? p[e] + L.exp_probs_b[e] : p[e];
      if (cfg.moe_n_group > 1) mask_expert_groups(score, ne, cfg.moe_n_group, cfg.moe_n_group_used);
      select_top_k(score, ne, k, sel);
      for (int64_t r = 0; r < k; ++r) w[r] = p[sel[r]];
      if (cfg.moe_norm_topk) {
        double ws = 0.0;
        for (int64_t r = 0; r < k; ++r) ws += w[r];
        const float s = std::max(static_cast<float>(ws), 6.103515625e-5f);
        for (int64_t r = 0; r < k; ++r) w[r] /= s;
      }
      if (cfg.moe_weights_scale != 1.0f) {
        for (int64_t r = 0; r < k; ++r) w[r] *= cfg.moe_weights_scale;
      }
      return;
    }
    if (cfg.moe_gating == MoeGating::kSoftmaxWeight) {
      // The k largest logits (ties: lower index), then a softmax over those k.
      int32_t* sel = route_expert_.data() + t * k;
      float* w = route_weight_.data() + t * k;
      for (int64_t r = 0; r < k; ++r) {
        int64_t best = -1;
        for (int64_t e = 0; e < ne; ++e) {
          bool taken = false;
          for (int64_t j = 0; j < r; ++j) taken |= sel[j] == e;
          if (!taken && (best < 0 || p[e] > p[best])) best = e;
        }
        sel[r] = static_cast<int32_t>(best);
        w[r] = p[best];
      }
      float mx = w[0];
      for (int64_t r = 1; r < k; ++r) mx = std::max(mx, w[r]);
      double sum = 0.0;
      for (int64_t r = 0; r < k; ++r) {
        w[r] = std::exp(w[r] - mx);
        sum += w[r];
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t r = 0; r < k; ++r) w[r] *= inv;
      return;
    }
    float mx = p[0];
    for (int64_t e = 1; e < ne; ++e) mx = std::max(mx, p[e]);
    double sum = 0.0;
    for (int64_t e = 0; e < ne; ++e) {
      p[e] = std::exp(p[e] - mx);
      sum += p[e];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t e = 0; e < ne; ++e) p[e] *= inv;
    int32_t* sel = route_expert_.data() + t * k;
    float* w = route_weight_.data() + t * k;
    if (cfg.moe_n_group > 1 || L.exp_probs_b != nullptr) {
      // The choice by probability + selection bias within the best groups (DeepSeek V2).
      float* score = route_score_.data() + t * ne;
      for (int64_t e = 0; e < ne; ++e) score[e] = L.exp_probs_b ? p[e] + L.exp_probs_b[e] : p[e];
      if (cfg.moe_n_group > 1) mask_expert_groups(score, ne, cfg.moe_n_group, cfg.moe_n_group_used);
      select_top_k(score, ne, k, sel);
    } else {
      select_top_k(p, ne, k, sel);
    }
    for (int64_t r = 0; r < k; ++r) w[r] = p[sel[r]];
    if (cfg.moe_norm_topk) {
      float ws = 0.0f;
      for (int64_t r = 0; r < k; ++r) ws += w[r];
      ws = std::max(ws, 6.103515625e-5f);  // the smallest normal half, as the reference clamps
      for (int64_t r = 0; r < k; ++r) w[r] /= ws;
    }
  });

  // Group the (token, rank) pairs by expert: slot s holds pair slot_pair[s]; expert e owns slots
  // [first[e], first[e + 1]).
  std::vector<int64_t> first(static_cast<size_t>(ne + 1), 0);
  for (int64_t i = 0; i < n_rows * k; ++i)
    ++first[static_cast<size_t>(route_expert_[static_cast<size_t>(i)]) + 1];
  for (int64_t e = 0; e < ne; ++e)
    first[static_cast<size_t>(e + 1)] += first[static_cast<size_t>(e)];
  std::vector<int64_t> slot_of_pair(static_cast<size_t>(n_rows * k));
  std::vector<int64_t> pair_of_slot(static_cast<size_t>(n_rows * k));
  {
    std::vector<int64_t> fill(first.begin(), first.end() - 1);
    for (int64_t i = 0; i < n_rows * k; ++i) {
      const int64_t s = fill[static_cast<size_t>(route_expert_[static_cast<size_t>(i)])]++;
      slot_of_pair[static_cast<size_t>(i)] = s;
      pair_of_slot[static_cast<size_t>(s)] = i;
    }
  }
  const int64_t n_slots = n_rows * k;
  pool_.run(n_slots, [&](int64_t s, int) {
    const int64_t t = pair_of_slot[static_cast<size_t>(s)] / k;
    std::memcpy(moe_in_.data() + s * d, h_.data() + t * d, static_cast<size_t>(d) * sizeof(float));
    // Llama 4 weighs each expert's input instead of its output.
    if (cfg.moe_weight_before_ffn) {
      O.scale(moe_in_.data() + s * d, route_weight_[static_cast<size_t>(pair_of_slot[static_cast<size_t>(s)])], d);
    }
  });

  float* gate = ff_.data();
  float* up = ff_.data() + ff_.size() / 2;
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t s0 = first[static_cast<size_t>(e)], m = first[static_cast<size_t>(e + 1)] - s0;
    if (m == 0) continue;
    const Linear& wg = L.gate_exps[static_cast<size_t>(e)];
    const Linear& wu = L.up_exps[static_cast<size_t>(e)];
    const Linear& wd = L.down_exps[static_cast<size_t>(e)];
    const float* xin = moe_in_.data() + s0 * d;
    const void* xg = convert(0, wg.w.type, xin, m, d);
    const void* xu = wu.w.type == wg.w.type ? xg : convert(1, wu.w.type, xin, m, d);
    const Product gu[2] = {{&wg, xg, gate + s0 * nf, nf}, {&wu, xu, up + s0 * nf, nf}};
    run_products(gu, 2, m, Stage::kMatmulUpGate);
    pool_.run(m, [&](int64_t i, int) {
      if (L.gate_exps_b != nullptr) {
        O.add(gate + (s0 + i) * nf, L.gate_exps_b + e * nf, nf);
        O.add(up + (s0 + i) * nf, L.up_exps_b + e * nf, nf);
      }
      activate(O, cfg.ffn_act, gate + (s0 + i) * nf, up + (s0 + i) * nf, nf);
    });
    const Product down = {&wd, convert(0, wd.w.type, gate + s0 * nf, m, nf),
                          moe_out_.data() + s0 * d, d};
    run_products(&down, 1, m, Stage::kMatmulDown);
    if (L.down_exps_b != nullptr) {
      pool_.run(m, [&](int64_t i, int) {
        O.add(moe_out_.data() + (s0 + i) * d, L.down_exps_b + e * d, d);
      });
    }
  }

  // Weighted sum of each token's experts in rank order (Gemma 4: each expert's output first
  // scaled by ffn_down_exps.scale[e]).
  pool_.run(n_rows, [&](int64_t t, int) {
    float* o = o_.data() + t * d;
    for (int64_t r = 0; r < k; ++r) {
      const int64_t s = slot_of_pair[static_cast<size_t>(t * k + r)];
      float* y = moe_out_.data() + s * d;
      if (L.down_exps_scale != nullptr) {
        O.scale(y, L.down_exps_scale[route_expert_[static_cast<size_t>(t * k + r)]], d);
      }
      if (!cfg.moe_weight_before_ffn) O.scale(y, route_weight_[static_cast<size_t>(t * k + r)], d);
      if (r == 0) {
        std::memcpy(o, y, static_cast<size_t>(d) * sizeof(float));
      } else {
        O.add(o, y, d);
      }
    }
    if (L.post_ffn_norm_2 != nullptr) O.rmsnorm(o, L.post_ffn_norm_2, o, d, hp.norm_eps);
  });
  // Gemma 4: the dense MLP beside the experts, with its own post-norm, added to their output.
  // (GLM / DeepSeek: the shared expert, bound as the dense branch, without norms.)
  const bool dense = L.ffn_gate.present();
  if (dense) dense_ffn(il, n_rows, L.ffn_norm, o2_.data());
  pool_.run(n_rows, [&](int64_t t, int) {
    float* o = o_.data() + t * d;
    if (dense) {
      float* o2 = o2_.data() + t * d;
      if (L.post_ffn_norm_1 != nullptr) O.rmsnorm(o2, L.post_ffn_norm_1, o2, d, hp.norm_eps);
      if (L.shexp_gate != nullptr) {
        // qwen35moe: the shared expert times sigmoid(shexp_gate . h), h = its normed input
        // (left in h_ by dense_ffn).
        const float* h = h_.data() + t * d;
        float dot = 0.0f;
        for (int64_t i = 0; i < d; ++i) dot += L.shexp_gate[i] * h[i];
        O.scale(o2, 1.0f / (1.0f + std::exp(-dot)), d);
      }
      O.add(o, o2, d);
    }
    if (L.post_ffn_norm != nullptr) O.rmsnorm(o, L.post_ffn_norm, o, d, hp.norm_eps);
    if (cfg.residual_scale != 1.0f) O.scale(o, cfg.residual_scale, d);
    O.add(x_.data() + t * d, o, d);
  });
}

}  // namespace ember::runtime
