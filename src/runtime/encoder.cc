#include "runtime/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/parallel.h"
#include "tensor/quantize.h"

namespace ember::runtime {

Result<std::unique_ptr<Encoder>> Encoder::create(const Model& model, const EncoderParams& params) {
  if (!is_encoder(model.hparams().arch)) {
    return invalid_argument("the model is not an encoder (bert, nomic-bert)");
  }
  if (params.n_ubatch < 1 || params.n_ubatch > (int64_t{1} << 20)) {
    return invalid_argument("n_ubatch " + std::to_string(params.n_ubatch) + " out of range");
  }
  if (params.n_threads < 0 || params.n_threads > 1024) {
    return invalid_argument("n_threads " + std::to_string(params.n_threads) + " out of range");
  }
  const int threads = params.n_threads > 0 ? params.n_threads : hardware_threads();
  return std::unique_ptr<Encoder>(new Encoder(model, params, threads));
}

Encoder::Encoder(const Model& model, const EncoderParams& params, int n_threads)
    : model_(model),
      params_(params),
      isa_(params.isa ? *params.isa : model.isa()),
      ops_(&kernels::ops(isa_)),
      pool_(n_threads) {
  const ModelHParams& hp = model.hparams();
  if (hp.arch == Architecture::kNomicBert) {
    rope_ = kernels::RopeTable(model.config().rope.params(hp.n_rot, hp.n_ctx_train, false));
  }
}

bool Encoder::split(const Linear& w) const {
  return w.prepared.form() == kernels::WeightForm::kSplitBf16 && w.prepared.isa() == isa_;
}

bool Encoder::same_input(const Linear& a, const Linear& b) const {
  return a.w.type == b.w.type && split(a) == split(b);
}

void Encoder::product(const Linear& w, const float* x, int64_t ldx, int64_t n, float* y,
                      int64_t ldy, bool reuse_input) {
  const kernels::Weights& W = w.w;
  constexpr int64_t kRows = 8;
  // Split-BF16 weights (AMX-BF16, chosen at load: model.cc) take their own activation layout,
  // for every product whatever n (each row gets the same arithmetic whatever shares its batch).
  const bool split_form = split(w);
  if (!reuse_input) {
    const size_t row_act = split_form ? kernels::activation_stride(w.prepared)
                                      : kernels::activation_bytes(W.type, 1, W.cols);
    act_.resize(split_form ? kernels::activation_bytes(w.prepared, n)
                           : kernels::activation_bytes(W.type, n, W.cols));
    // Conversion row by row (rows are independent in the converted layout), a few rows per
    // task.
    pool_.run((n + kRows - 1) / kRows, [&](int64_t task, int) {
      for (int64_t t = task * kRows; t < std::min(n, (task + 1) * kRows); ++t) {
        uint8_t* out = act_.data() + static_cast<size_t>(t) * row_act;
        if (split_form) {
          kernels::convert_activations(w.prepared, x + t * ldx, 1, out);
        } else {
          kernels::convert_activations(isa_, W.type, x + t * ldx, 1, W.cols, out);
        }
      }
    });
  }
  const int64_t block = kernels::matmul_row_block(isa_);
  const int64_t n_blocks = (W.rows + block - 1) / block;
  // A few blocks per task: enough tasks to balance the threads, large enough to amortize.
  const int64_t per_task = std::max<int64_t>(1, n_blocks / (4 * pool_.n_threads()));
  const int64_t n_tasks = (n_blocks + per_task - 1) / per_task;
  pool_.run(n_tasks, [&](int64_t task, int) {
    const int64_t r0 = task * per_task * block;
    const int64_t r1 = std::min(W.rows, r0 + per_task * block);
    if (split_form || (w.prepared.packed() && w.prepared.isa() == isa_)) {
      kernels::matmul(w.prepared, act_.data(), n, y, ldy, r0, r1);
    } else {
      kernels::matmul(isa_, W, act_.data(), n, y, ldy, r0, r1);
    }
  });
}

void Encoder::add_norm(float* x, float* add, const float* bias, const float* w, const float* b,
                       int64_t n) {
  const int64_t d = model_.hparams().n_embd;
  const float eps = model_.hparams().norm_eps;
  const kernels::OpsTable& O = *ops_;
  constexpr int64_t kRows = 8;
  pool_.run((n + kRows - 1) / kRows, [&](int64_t task, int) {
    for (int64_t t = task * kRows; t < std::min(n, (task + 1) * kRows); ++t) {
      float* r = x + t * d;
      if (add != nullptr) {
        if (bias != nullptr) O.add(add + t * d, bias, d);
        O.add(r, add + t * d, d);
      }
      // Mean over 8 interleaved double partial sums (a fixed order: the same for every row,
      // thread count and batch), then the centered row through the SIMD RMS normalization
      // ((r * scale) * w), then the bias.
      double part[8] = {};
      int64_t i = 0;
      for (; i + 8 <= d; i += 8) {
        for (int j = 0; j < 8; ++j) part[j] += r[i + j];
      }
      for (; i < d; ++i) part[0] += r[i];
      const double sum =
          ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      const auto mean = static_cast<float>(sum / static_cast<double>(d));
      for (int64_t c = 0; c < d; ++c) r[c] -= mean;
      O.rmsnorm(r, w, r, d, eps);
      O.add(r, b, d);
    }
  });
}

Status Encoder::encode(std::span<const int32_t> tokens, std::span<const int32_t> seq_lens,
                       float* out) {
  const ModelHParams& hp = model_.hparams();
  const EncoderWeights& E = model_.encoder();
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) return invalid_argument("no tokens to encode");
  if (n > params_.n_ubatch) {
    return invalid_argument(std::to_string(n) + " tokens exceed the encoder batch of " +
                            std::to_string(params_.n_ubatch));
  }
  int64_t total = 0;
  for (const int32_t len : seq_lens) {
    if (len < 1) return invalid_argument("empty sequence");
    if (len > max_sequence()) {
      return out_of_range("sequence of " + std::to_string(len) + " tokens exceeds the model's " +
                          std::to_string(max_sequence()) + " positions");
    }
    total += len;
  }
  if (total != n) return invalid_argument("sequence lengths do not add up to the token count");
  for (int64_t t = 0; t < n; ++t) {
    if (tokens[static_cast<size_t>(t)] < 0 || tokens[static_cast<size_t>(t)] >= hp.n_vocab) {
      return invalid_argument("token id " + std::to_string(tokens[static_cast<size_t>(t)]) +
                              " is outside the vocabulary (" + std::to_string(hp.n_vocab) +
                              " tokens)");
    }
  }
  const int64_t d = hp.n_embd;
  pos_.resize(static_cast<size_t>(n));
  {
    int64_t t = 0;
    for (const int32_t len : seq_lens) {
      for (int32_t p = 0; p < len; ++p) pos_[static_cast<size_t>(t++)] = p;
    }
  }
  x_.resize(static_cast<size_t>(n * d));
  const kernels::Weights& emb = model_.token_embd();
  const bool bert = hp.arch == Architecture::kBert;
  // Input: token embedding + type-0 row (+ absolute position), then LayerNorm.
  scratch_.resize(static_cast<size_t>(d * pool_.n_threads()));
  pool_.run(n, [&](int64_t t, int thread) {
    float* x = x_.data() + t * d;
    const auto* row = static_cast<const uint8_t*>(emb.data) +
                      static_cast<size_t>(tokens[static_cast<size_t>(t)]) * emb.row_bytes;
    (void)dequantize_row(emb.type, row, x, d);  // type checked at load
    if (E.token_types != nullptr) ops_->add(x, E.token_types, d);
    if (bert) {
      float* p = scratch_.data() + static_cast<size_t>(thread) * static_cast<size_t>(d);
      const auto* prow = static_cast<const uint8_t*>(E.position.data) +
                         static_cast<size_t>(pos_[static_cast<size_t>(t)]) * E.position.row_bytes;
      (void)dequantize_row(E.position.type, prow, p, d);
      ops_->add(x, p, d);
    }
  });
  add_norm(x_.data(), nullptr, nullptr, E.embd_norm_w, E.embd_norm_b, n);
  if (!bert) {
    cos_sin_.resize(static_cast<size_t>(n * hp.n_rot));
    pool_.run(n, [&](int64_t t, int) {
      rope_.compute(pos_[static_cast<size_t>(t)], cos_sin_.data() + t * hp.n_rot);
    });
  }
  for (int64_t il = 0; il < hp.n_layer; ++il) layer(il, n, seq_lens);
  std::memcpy(out, x_.data(), static_cast<size_t>(n * d) * sizeof(float));
  return Status::Ok();
}

void Encoder::layer(int64_t il, int64_t n, std::span<const int32_t> seq_lens) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const EncoderLayer& E = model_.encoder().layers[static_cast<size_t>(il)];
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd, dk = hp.head_dim_k, dv = hp.head_dim_v;
  const int64_t nq = hp.n_embd_q(), nk = hp.n_embd_k_gqa(), nv = hp.n_embd_v_gqa();
  const int64_t n_qkv = nq + nk + nv;
  qkv_.resize(static_cast<size_t>(n * n_qkv));
  if (L.wqkv.present()) {
    product(L.wqkv, x_.data(), d, n, qkv_.data(), n_qkv);
  } else {
    product(L.wq, x_.data(), d, n, qkv_.data(), n_qkv);
    product(L.wk, x_.data(), d, n, qkv_.data() + nq, n_qkv, same_input(L.wk, L.wq));
    product(L.wv, x_.data(), d, n, qkv_.data() + nq + nk, n_qkv, same_input(L.wv, L.wk));
  }
  const bool rope = hp.arch == Architecture::kNomicBert;
  const kernels::RopeStyle style = model_.config().rope.style;
  pool_.run(n, [&](int64_t t, int) {
    float* q = qkv_.data() + t * n_qkv;
    float* k = q + nq;
    float* v = k + nk;
    if (E.bq != nullptr) O.add(q, E.bq, nq);
    if (E.bk != nullptr) O.add(k, E.bk, nk);
    if (E.bv != nullptr) O.add(v, E.bv, nv);
    if (rope) {
      const float* cs = cos_sin_.data() + t * hp.n_rot;
      for (int64_t h = 0; h < hp.n_head; ++h) kernels::rope_apply(style, q + h * dk, hp.n_rot, cs);
      for (int64_t h = 0; h < hp.n_head_kv; ++h)
        kernels::rope_apply(style, k + h * dk, hp.n_rot, cs);
    }
  });

  // Attention: one task per (sequence, head); each query row of the sequence sees every key of
  // the sequence (no mask) and nothing else. As matrix products on the runtime's GEMM:
  //   S [len][len] = Q_h [len][dk] . K_h^T [dk][len] (K transposed into scratch), scaled;
  //   P = softmax over each row of S; O_h [len][dv] = P . V_h (written straight into att_),
  // in blocks of kRowBlock query rows.
  std::vector<int64_t> seq_start(seq_lens.size() + 1, 0);
  int64_t longest = 0;
  for (size_t s = 0; s < seq_lens.size(); ++s) {
    seq_start[s + 1] = seq_start[s] + seq_lens[s];
    longest = std::max<int64_t>(longest, seq_lens[s]);
  }
  const int64_t n_attn = hp.n_head * dv;
  att_.resize(static_cast<size_t>(n * n_attn));
  // Per thread: K^T [dk][len] and a block of score rows [kRowBlock][len] (memory linear in the
  // sequence length).
  constexpr int64_t kRowBlock = 64;
  const size_t per_thread = static_cast<size_t>(longest * dk + kRowBlock * longest);
  scratch_.resize(per_thread * static_cast<size_t>(pool_.n_threads()));
  const float scale = model_.config().attn_scale;
  const int64_t n_rep = hp.n_head / hp.n_head_kv;
  const auto n_seq = static_cast<int64_t>(seq_lens.size());
  pool_.run(n_seq * hp.n_head, [&](int64_t task, int thread) {
    const int64_t s = task / hp.n_head, h = task % hp.n_head, g = h / n_rep;
    const int64_t b = seq_start[static_cast<size_t>(s)], len = seq_lens[static_cast<size_t>(s)];
    float* kt = scratch_.data() + static_cast<size_t>(thread) * per_thread;  // [dk][len]
    float* sc = kt + longest * dk;                                           // [kRowBlock][len]
    const float* q = qkv_.data() + b * n_qkv + h * dk;
    const float* k = qkv_.data() + b * n_qkv + nq + g * dk;
    const float* v = qkv_.data() + b * n_qkv + nq + nk + g * dv;
    O.transpose(k, n_qkv, kt, len, len, dk);
    float* out = att_.data() + b * n_attn + h * dv;
    for (int64_t i0 = 0; i0 < len; i0 += kRowBlock) {
      const int64_t rows = std::min(kRowBlock, len - i0);
      std::fill(sc, sc + rows * len, 0.0f);
      O.gemm_acc(sc, len, q + i0 * n_qkv, n_qkv, kt, len, rows, dk, len);
      for (int64_t i = 0; i < rows; ++i) {
        float* row = sc + i * len;
        O.scale(row, scale, len);
        const double sum = O.softmax(row, O.max(row, len), len);
        O.scale(row, static_cast<float>(1.0 / sum), len);
        std::fill(out + (i0 + i) * n_attn, out + (i0 + i) * n_attn + dv, 0.0f);
      }
      O.gemm_acc(out + i0 * n_attn, n_attn, sc, len, v, n_qkv, rows, len, dv);
    }
  });

  // Output projection, residual, LayerNorm.
  o_.resize(static_cast<size_t>(n * d));
  product(L.wo, att_.data(), n_attn, n, o_.data(), d);
  add_norm(x_.data(), o_.data(), E.bo, E.attn_norm_w, E.attn_norm_b, n);

  // FFN: bert GELU(up x + b), nomic SiLU(gate x) * (up x); down; residual; LayerNorm. Rows of
  // ff_ hold [first | second] = bert [up | -], nomic [gate | up]; the activation is written to
  // the first half. GELU and SiLU are the runtime's (GELU from the reference's F16 table).
  const int64_t nf = hp.n_ff;
  ff_.resize(static_cast<size_t>(n * 2 * nf));
  const bool gated = L.ffn_gate.present();
  if (gated) {
    product(L.ffn_gate, x_.data(), d, n, ff_.data(), 2 * nf);
    product(L.ffn_up, x_.data(), d, n, ff_.data() + nf, 2 * nf, same_input(L.ffn_up, L.ffn_gate));
  } else {
    product(L.ffn_up, x_.data(), d, n, ff_.data(), 2 * nf);
    if (ones_.size() != static_cast<size_t>(nf)) ones_.assign(static_cast<size_t>(nf), 1.0f);
  }
  pool_.run(n, [&](int64_t t, int) {
    float* first = ff_.data() + t * 2 * nf;
    if (gated) {
      if (E.b_up != nullptr) O.add(first + nf, E.b_up, nf);
      O.silu_mul(first, first + nf, nf);
    } else {
      if (E.b_up != nullptr) O.add(first, E.b_up, nf);
      O.gelu_mul(first, ones_.data(), nf);
    }
  });
  // The activated rows keep their stride of 2 nf (the down product reads them in place).
  product(L.ffn_down, ff_.data(), 2 * nf, n, o_.data(), d);
  add_norm(x_.data(), o_.data(), E.b_down, E.out_norm_w, E.out_norm_b, n);
}

}  // namespace ember::runtime
