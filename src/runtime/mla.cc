// Multi-head latent attention (DeepSeek V2/V3), in the "absorbed" form llama.cpp computes: the
// per-head key and value up-projections are folded into the query and the output, so attention
// itself runs over the cached latent as one key/value head shared by all query heads
// (model/arch/deepseek2.cc; the attention step is attention_block's, runtime/forward.cc).
//
// Shapes (n tokens, H heads, q = n_lora_q, kv = n_lora_kv, r = n_rot, dq = head_dim_k_mla =
// nope + r, dvm = head_dim_v_mla, dk = r + kv):
//   h_          [n][n_embd]   attn_norm(x)
//   mla_qa_     [n][q]        attn_q_a h, RMS-normed by attn_q_a_norm
//   mla_q_      [n][H * dq]   attn_q_b qa (or attn_q h); head h = [nope | rope]
//   mla_kv_     [n][kv + r]   attn_kv_a_mqa h = [latent | rope key]
//   qkv_        [n][n_qkv]    query of head h at h * dk: [RoPE(rope_h) | attn_k_b_h nope_h];
//                             the key at H * dk: [RoPE(rope key) | RMS-normed latent]
//   cache K     [cell][dk]    that key; the values are its last kv entries (no V storage)
//   attn_       [n][H * kv]   attention output: a latent per head
//   mla_v_      [n][H * dvm]  head h: attn_v_b_h (its latent), the input of attn_output
// The RoPE part comes first in queries and keys, as in the reference, so the score dot products
// add in its order.
#include <algorithm>
#include <cstring>

#include "runtime/context.h"

namespace ember::runtime {

void Context::run_head_products(const std::vector<Linear>& w, const float* x, int64_t n,
                                int64_t cols, float* y, int64_t ldy, int64_t y_head, Stage stage) {
  const auto H = static_cast<int64_t>(w.size());
  const size_t slot = mla_act_slot_;
  uint8_t* act = mla_act_.data();
  {
    StageTimer timer(*this, Stage::kConvert);
    pool_.run(H, [&](int64_t h, int) {
      convert_acts(w[static_cast<size_t>(h)].w.type, x + h * n * cols, n, cols,
                   act + static_cast<size_t>(h) * slot);
    });
  }
  mla_products_.resize(static_cast<size_t>(H));
  for (int64_t h = 0; h < H; ++h) {
    mla_products_[static_cast<size_t>(h)] = {
        &w[static_cast<size_t>(h)], act + static_cast<size_t>(h) * slot, y + h * y_head, ldy};
  }
  run_products(mla_products_.data(), static_cast<int>(H), n, stage);
}

void Context::mla_project(int64_t il, int64_t n, const int64_t* cells) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, H = hp.n_head, r = hp.n_rot, kvr = hp.n_lora_kv;
  const int64_t dq = hp.head_dim_k_mla, nope = hp.head_dim_nope_mla(), nql = hp.n_lora_q;
  const int64_t dk = r + kvr;               // cached key row, and each head's query
  const int64_t n_qkv = H * dk + dk + kvr;  // qkv_'s row stride as attention_block reads it
  const Linear& wq = nql > 0 ? L.wq_a : L.wq;
  float* q_first = nql > 0 ? mla_qa_.data() : mla_q_.data();
  const int64_t q_first_cols = nql > 0 ? nql : H * dq;

  // attn_norm, converted for the query and latent projections in the same pass.
  const RowConversion rc = begin_rows({wq.w.type, L.wkv_a_mqa.w.type}, n, d);
  pool_.run(n, [&](int64_t t, int) {
    float* h = h_.data() + t * d;
    O.rmsnorm(x_.data() + t * d, L.attn_norm, h, d, hp.norm_eps);
    convert_row(rc, h, t);
  });
  finish_rows(rc, h_.data(), n);
  const Product first[2] = {{&wq, rc.data(wq.w.type), q_first, q_first_cols},
                            {&L.wkv_a_mqa, rc.data(L.wkv_a_mqa.w.type), mla_kv_.data(), dk}};
  run_products(first, 2, n, Stage::kMatmulQkv);
  if (nql > 0) {
    // The query bottleneck: RMS norm, then the up-projection to every head.
    const RowConversion qc = begin_rows({L.wq_b.w.type}, n, nql);
    pool_.run(n, [&](int64_t t, int) {
      float* qa = mla_qa_.data() + t * nql;
      O.rmsnorm(qa, L.q_a_norm, qa, nql, hp.norm_eps);
      convert_row(qc, qa, t);
    });
    finish_rows(qc, mla_qa_.data(), n);
    const Product up = {&L.wq_b, qc.data(L.wq_b.w.type), mla_q_.data(), H * dq};
    run_products(&up, 1, n, Stage::kMatmulQkv);
  }

  // Per token: the key [RoPE key | normed latent] into the cache; each head's RoPE query part
  // into its attention query; the nope parts gathered per head for attn_k_b.
  const float* cos_sin = cos_sin_[0].data();
  const int64_t table_rot = rope_n_rot_[0];
  const auto store = O.kv_store[static_cast<int>(kv_->type())];
  float* gather = mla_gather_.data();
  pool_.run(n, [&](int64_t t, int) {
    const float* cs = cos_sin + t * table_rot;
    float* qo = qkv_.data() + t * n_qkv;
    const float* kvrow = mla_kv_.data() + t * dk;
    float* key = qo + H * dk;
    O.rmsnorm(kvrow, L.kv_a_norm, key + r, kvr, hp.norm_eps);
    std::memcpy(key, kvrow + kvr, static_cast<size_t>(r) * sizeof(float));
    kernels::rope_apply(cfg.rope.style, key, r, cs);
    store(key, kv_->k_cell(il, 0, cells[t]), dk);
    const float* q = mla_q_.data() + t * H * dq;
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = q + h * dq;
      std::memcpy(qo + h * dk, qh + nope, static_cast<size_t>(r) * sizeof(float));
      kernels::rope_apply(cfg.rope.style, qo + h * dk, r, cs);
      std::memcpy(gather + (h * n + t) * nope, qh, static_cast<size_t>(nope) * sizeof(float));
    }
  });
  // The nope queries into latent space: query head h [r, dk) = attn_k_b_h nope_h.
  run_head_products(L.wk_b, gather, n, nope, qkv_.data() + r, n_qkv, dk, Stage::kMatmulQkv);
}

const float* Context::mla_values(int64_t il, int64_t n_rows) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const int64_t H = hp.n_head, kvr = hp.n_lora_kv, dvm = hp.head_dim_v_mla;
  float* gather = mla_gather_.data();
  pool_.run(n_rows, [&](int64_t t, int) {
    for (int64_t h = 0; h < H; ++h) {
      std::memcpy(gather + (h * n_rows + t) * kvr, attn_.data() + (t * H + h) * kvr,
                  static_cast<size_t>(kvr) * sizeof(float));
    }
  });
  run_head_products(L.wv_b, gather, n_rows, kvr, mla_v_.data(), H * dvm, dvm, Stage::kMatmulOut);
  return mla_v_.data();
}

}  // namespace ember::runtime
