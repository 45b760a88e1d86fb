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
      rows_(&kernels::row_ops(isa_)),
      pool_(n_threads) {
  const ModelHParams& hp = model.hparams();
  if (hp.arch == Architecture::kNomicBert) {
    rope_ = kernels::RopeTable(model.config().rope.params(hp.n_rot, hp.n_ctx_train, false));
  }
}

namespace {

// Rows per task of the row-wise regions.
constexpr int64_t kRows = 8;

}  // namespace

const Linear& Encoder::qkv_input(int64_t il) const {
  const LayerWeights& L = model_.layer(il);
  return L.wqkv.present() ? L.wqkv : L.wq;
}

const Linear& Encoder::ffn_input(int64_t il) const {
  const LayerWeights& L = model_.layer(il);
  return L.ffn_gate.present() ? L.ffn_gate : L.ffn_up;
}

bool Encoder::split(const Linear& w) const {
  return w.prepared.form() == kernels::WeightForm::kSplitBf16 && w.prepared.isa() == isa_;
}

bool Encoder::same_input(const Linear& a, const Linear& b) const {
  return a.w.type == b.w.type && a.w.cols == b.w.cols && split(a) == split(b);
}

void Encoder::size_act(const Linear& lw, int64_t n) {
  // Split-BF16 weights (AMX-BF16, chosen at load: model.cc) take their own activation layout,
  // for every product whatever n (each row gets the same arithmetic whatever shares its batch).
  if (split(lw)) {
    act_.resize(kernels::activation_bytes(lw.prepared, n));
    return;
  }
  const kernels::Weights& w = lw.w;
  act_row_ = kernels::activation_bytes(w.type, 1, w.cols);
  act_.resize(kernels::activation_bytes(w.type, n, w.cols));
}

void Encoder::convert_rows(const Linear& lw, const float* x, int64_t ldx, int64_t t0, int64_t t1) {
  const kernels::Weights& w = lw.w;
  if (split(lw)) {
    // Tile-major buffer: the conversion places each token (matmul.h).
    if (ldx == w.cols) {
      kernels::convert_activations(lw.prepared, x + t0 * ldx, t1 - t0, act_.data(), t0);
      return;
    }
    for (int64_t t = t0; t < t1; ++t) {
      kernels::convert_activations(lw.prepared, x + t * ldx, 1, act_.data(), t);
    }
    return;
  }
  if (ldx == w.cols) {
    // Contiguous rows: one call (converted rows are contiguous too).
    kernels::convert_activations(isa_, w.type, x + t0 * ldx, t1 - t0, w.cols,
                                 act_.data() + static_cast<size_t>(t0) * act_row_);
    return;
  }
  for (int64_t t = t0; t < t1; ++t) {
    kernels::convert_activations(isa_, w.type, x + t * ldx, 1, w.cols,
                                 act_.data() + static_cast<size_t>(t) * act_row_);
  }
}

void Encoder::products(std::span<const Out> outs, int64_t n) {
  const int64_t block = kernels::matmul_row_block(isa_);
  const int64_t threads = pool_.n_threads();
  // Per output: a few row blocks per task, enough tasks to balance the threads and large enough
  // to amortize. Tasks are numbered output after output.
  struct TaskRange {
    int64_t per_task, first_task, n_row_tasks;
  };
  std::vector<TaskRange> ranges(outs.size());
  int64_t n_tasks = 0, row_tasks = 0;
  bool all_split = true;
  for (size_t i = 0; i < outs.size(); ++i) {
    const int64_t n_blocks = (outs[i].w->w.rows + block - 1) / block;
    const int64_t per_task = std::max<int64_t>(1, n_blocks / (4 * threads));
    const int64_t n_row = (n_blocks + per_task - 1) / per_task;
    ranges[i] = {per_task, 0, n_row};
    row_tasks += n_row;
    all_split = all_split && split(*outs[i].w);
  }
  // Split-BF16 products of 384 rows have only 6 row blocks of 64: with so few tasks a region's
  // last task leaves the other threads idle for a large share of it. Their tokens are cut too
  // (chunks of whole 32-token tile pairs, so every tile product stays the kernel's 2 x 2 block;
  // results do not depend on the cut: each output row depends only on its own activation row),
  // for about 8 tasks per thread. Other forms keep whole-token tasks.
  int64_t chunk = n;
  if (all_split && row_tasks < 8 * threads) {
    const int64_t want = (8 * threads + row_tasks - 1) / row_tasks;
    chunk = std::max<int64_t>(32, ((n + want - 1) / want + 31) / 32 * 32);
  }
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  for (TaskRange& r : ranges) {
    r.first_task = n_tasks;
    n_tasks += r.n_row_tasks * n_chunks;
  }
  pool_.run(n_tasks, [&](int64_t task, int) {
    size_t i = 0;
    while (i + 1 < outs.size() && task >= ranges[i + 1].first_task) ++i;
    const Linear& w = *outs[i].w;
    const int64_t local = task - ranges[i].first_task;
    const int64_t rt = local / n_chunks, t0 = (local % n_chunks) * chunk;
    const int64_t r0 = rt * ranges[i].per_task * block;
    const int64_t r1 = std::min(w.w.rows, r0 + ranges[i].per_task * block);
    const int64_t nt = std::min(n, t0 + chunk) - t0;
    float* y = outs[i].y + t0 * outs[i].ldy;
    if (split(w)) {
      // t0 is a multiple of 32: a tile boundary of the tile-major buffers (matmul.h).
      const uint8_t* act =
          act_.data() + static_cast<size_t>(t0) * kernels::activation_stride(w.prepared);
      kernels::SplitEpilogue ep = outs[i].epilogue;
      if (ep.act_out != nullptr) ep.act_out += static_cast<size_t>(t0) * outs[i].act_stride;
      kernels::matmul(w.prepared, act, nt, y, outs[i].ldy, r0, r1, ep);
    } else if (w.prepared.packed() && w.prepared.isa() == isa_) {
      kernels::matmul(w.prepared, act_.data(), n, y, outs[i].ldy, r0, r1);
    } else if (model_.numerics() == Numerics::kReference &&
               kernels::reference_order_supported(w.w.type, w.w.rows)) {
      // The reference numerics mode: the same bits on every Isa, prepared or not.
      kernels::matmul_reference_order(isa_, w.w, act_.data(), n, y, outs[i].ldy, r0, r1);
    } else {
      kernels::matmul(isa_, w.w, act_.data(), n, y, outs[i].ldy, r0, r1);
    }
  });
}

void Encoder::product(const Linear& w, const float* x, int64_t ldx, int64_t n, float* y,
                      int64_t ldy) {
  size_act(w, n);
  pool_.run((n + kRows - 1) / kRows, [&](int64_t task, int) {
    convert_rows(w, x, ldx, task * kRows, std::min(n, (task + 1) * kRows));
  });
  const Out out[] = {{&w, y, ldy}};
  products(out, n);
}

void Encoder::add_norm(float* x, const float* add, const float* bias, const float* w,
                       const float* b, int64_t n, const Linear* next) {
  const int64_t d = model_.hparams().n_embd;
  const float eps = model_.hparams().norm_eps;
  if (next != nullptr) size_act(*next, n);
  pool_.run((n + kRows - 1) / kRows, [&](int64_t task, int) {
    const int64_t t0 = task * kRows, t1 = std::min(n, (task + 1) * kRows);
    for (int64_t t = t0; t < t1; ++t) {
      rows_->layer_norm(x + t * d, add != nullptr ? add + t * d : nullptr, bias, w, b, d, eps);
    }
    if (next != nullptr) convert_rows(*next, x, d, t0, t1);
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
  x_ = out;
  const kernels::Weights& emb = model_.token_embd();
  const bool bert = hp.arch == Architecture::kBert;
  const bool rope = !bert;
  if (rope) cos_sin_.resize(static_cast<size_t>(n * hp.n_rot));
  // Input: token embedding + type-0 row (+ absolute position), LayerNorm, and the rows converted
  // for layer 0's Q/K/V; the RoPE angles of each position (nomic-bert). One region.
  const Linear* next = hp.n_layer > 0 ? &qkv_input(0) : nullptr;
  if (next != nullptr) size_act(*next, n);
  scratch_.resize(static_cast<size_t>(d * pool_.n_threads()));
  pool_.run((n + kRows - 1) / kRows, [&](int64_t task, int thread) {
    const int64_t t0 = task * kRows, t1 = std::min(n, (task + 1) * kRows);
    for (int64_t t = t0; t < t1; ++t) {
      float* x = x_ + t * d;
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
      rows_->layer_norm(x, nullptr, nullptr, E.embd_norm_w, E.embd_norm_b, d, hp.norm_eps);
      if (rope) rope_.compute(pos_[static_cast<size_t>(t)], cos_sin_.data() + t * hp.n_rot);
    }
    if (next != nullptr) convert_rows(*next, x_, d, t0, t1);
  });
  for (int64_t il = 0; il < hp.n_layer; ++il) layer(il, n, seq_lens);
  x_ = nullptr;
  return Status::Ok();
}

void Encoder::qkv_products(int64_t il, int64_t n) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const int64_t nq = hp.n_embd_q(), nk = hp.n_embd_k_gqa(), nv = hp.n_embd_v_gqa();
  const int64_t n_qkv = nq + nk + nv;
  qkv_.resize(static_cast<size_t>(n * n_qkv));
  qkv_biased_ = false;
  float* q = qkv_.data();
  if (L.wqkv.present()) {
    const Out out[] = {{&L.wqkv, q, n_qkv}};
    products(out, n);
    return;
  }
  const bool k_as_q = same_input(L.wk, L.wq), v_as_k = same_input(L.wv, L.wk);
  if (k_as_q && v_as_k) {
    Out out[] = {{&L.wq, q, n_qkv}, {&L.wk, q + nq, n_qkv}, {&L.wv, q + nq + nk, n_qkv}};
    if (split(L.wq)) {
      // The biases (bert) added as each output tile is stored.
      const EncoderLayer& E = model_.encoder().layers[static_cast<size_t>(il)];
      out[0].epilogue.bias = E.bq;
      out[1].epilogue.bias = E.bk;
      out[2].epilogue.bias = E.bv;
      qkv_biased_ = true;
    }
    products(out, n);
    return;
  }
  // Mixed types: K or V take activations converted for their own type.
  const Out oq[] = {{&L.wq, q, n_qkv}};
  products(oq, n);
  if (k_as_q) {
    const Out ok[] = {{&L.wk, q + nq, n_qkv}};
    products(ok, n);
  } else {
    product(L.wk, x_, hp.n_embd, n, q + nq, n_qkv);
  }
  if (v_as_k) {
    const Out ov[] = {{&L.wv, q + nq + nk, n_qkv}};
    products(ov, n);
  } else {
    product(L.wv, x_, hp.n_embd, n, q + nq + nk, n_qkv);
  }
}

void Encoder::attention(int64_t il, int64_t n, std::span<const int32_t> seq_lens) {
  const ModelHParams& hp = model_.hparams();
  const EncoderLayer& E = model_.encoder().layers[static_cast<size_t>(il)];
  const kernels::OpsTable& O = *ops_;
  const int64_t dk = hp.head_dim_k, dv = hp.head_dim_v;
  const int64_t nq = hp.n_embd_q(), nk = hp.n_embd_k_gqa(), nv = hp.n_embd_v_gqa();
  const int64_t n_qkv = nq + nk + nv;
  const bool rope = hp.arch == Architecture::kNomicBert;
  const kernels::RopeStyle style = model_.config().rope.style;
  const int64_t n_rep = hp.n_head / hp.n_head_kv;
  // The Q/K/V biases and RoPE are applied by the attention task of each (sequence, head) to its
  // own slices, while they are in cache. Keys and values shared by several query heads (n_rep >
  // 1) get theirs in a region of their own first.
  const bool kv_in_task = n_rep == 1;
  // Null when the Q/K/V products added them already.
  const float* bq = qkv_biased_ ? nullptr : E.bq;
  const float* bk = qkv_biased_ ? nullptr : E.bk;
  const float* bv = qkv_biased_ ? nullptr : E.bv;
  if (!kv_in_task && (bk != nullptr || bv != nullptr || rope)) {
    pool_.run(n, [&](int64_t t, int) {
      float* k = qkv_.data() + t * n_qkv + nq;
      if (bk != nullptr) O.add(k, bk, nk);
      if (bv != nullptr) O.add(k + nk, bv, nv);
      if (rope) {
        const float* cs = cos_sin_.data() + t * hp.n_rot;
        for (int64_t h = 0; h < hp.n_head_kv; ++h) {
          kernels::rope_apply(style, k + h * dk, hp.n_rot, cs);
        }
      }
    });
  }

  // One task per (sequence, head); each query row of the sequence sees every key of the
  // sequence (no mask) and nothing else. As matrix products on the runtime's GEMM:
  //   S [len][len] = Q_h [len][dk] . K_h^T [dk][len] (K transposed into scratch);
  //   P = softmax(scale * S) over each row; O_h [len][dv] = P . V_h (written straight into att_),
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
  const auto n_seq = static_cast<int64_t>(seq_lens.size());
  pool_.run(n_seq * hp.n_head, [&](int64_t task, int thread) {
    const int64_t s = task / hp.n_head, h = task % hp.n_head, g = h / n_rep;
    const int64_t b = seq_start[static_cast<size_t>(s)], len = seq_lens[static_cast<size_t>(s)];
    float* kt = scratch_.data() + static_cast<size_t>(thread) * per_thread;  // [dk][len]
    float* sc = kt + longest * dk;                                           // [kRowBlock][len]
    float* q = qkv_.data() + b * n_qkv + h * dk;
    float* k = qkv_.data() + b * n_qkv + nq + g * dk;
    float* v = qkv_.data() + b * n_qkv + nq + nk + g * dv;
    for (int64_t t = 0; t < len && (bq != nullptr || bk != nullptr || bv != nullptr || rope); ++t) {
      float* qt = q + t * n_qkv;
      if (bq != nullptr) O.add(qt, bq + h * dk, dk);
      if (rope) kernels::rope_apply(style, qt, hp.n_rot, cos_sin_.data() + (b + t) * hp.n_rot);
      if (kv_in_task) {
        float* kt_row = k + t * n_qkv;
        if (bk != nullptr) O.add(kt_row, bk + g * dk, dk);
        if (bv != nullptr) O.add(v + t * n_qkv, bv + g * dv, dv);
        if (rope) {
          kernels::rope_apply(style, kt_row, hp.n_rot, cos_sin_.data() + (b + t) * hp.n_rot);
        }
      }
    }
    O.transpose(k, n_qkv, kt, len, len, dk);
    float* out = att_.data() + b * n_attn + h * dv;
    for (int64_t i0 = 0; i0 < len; i0 += kRowBlock) {
      const int64_t rows = std::min(kRowBlock, len - i0);
      O.gemm(sc, len, q + i0 * n_qkv, n_qkv, kt, len, rows, dk, len);
      rows_->softmax_scaled_rows(sc, len, rows, scale, len);
      O.gemm(out + i0 * n_attn, n_attn, sc, len, v, n_qkv, rows, len, dv);
    }
  });
}

void Encoder::layer(int64_t il, int64_t n, std::span<const int32_t> seq_lens) {
  const ModelHParams& hp = model_.hparams();
  const LayerWeights& L = model_.layer(il);
  const EncoderLayer& E = model_.encoder().layers[static_cast<size_t>(il)];
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd;
  const int64_t n_attn = hp.n_head * hp.head_dim_v;

  // act_ holds x_ converted for the Q/K/V products (by the LayerNorm region before).
  qkv_products(il, n);
  attention(il, n, seq_lens);

  // Output projection; bias + residual + LayerNorm, converted for the FFN's first product.
  o_.resize(static_cast<size_t>(n * d));
  product(L.wo, att_.data(), n_attn, n, o_.data(), d);
  add_norm(x_, o_.data(), E.bo, E.attn_norm_w, E.attn_norm_b, n, &ffn_input(il));

  // FFN: bert GELU(up x + b), nomic SiLU(gate x) * (up x); down; residual; LayerNorm. GELU and
  // SiLU are the runtime's (GELU from the reference's F16 table).
  const int64_t nf = hp.n_ff;
  const bool gated = L.ffn_gate.present();
  const Linear& down = L.ffn_down;
  if (!gated && split(L.ffn_up) && split(down) && down.w.cols == nf && nf % 32 == 0) {
    // Split-BF16 (bert): bias + GELU and the conversion for the down product in the up
    // product's epilogue, so the activated rows never go through memory as F32 (same bits).
    act_next_.resize(kernels::activation_bytes(down.prepared, n));
    Out up[] = {{&L.ffn_up, nullptr, 0}};
    up[0].epilogue = {.bias = E.b_up, .gelu = true, .act_out = act_next_.data()};
    up[0].act_stride = kernels::activation_stride(down.prepared);
    products(up, n);
    act_.swap(act_next_);
  } else {
    // Rows of ff_ hold bert [up] (stride nf), nomic [gate | up] (stride 2 nf); the activation
    // is written to the first part.
    const int64_t ld_ff = gated ? 2 * nf : nf;
    ff_.resize(static_cast<size_t>(n * ld_ff));
    if (gated) {
      if (same_input(L.ffn_up, L.ffn_gate)) {
        const Out out[] = {{&L.ffn_gate, ff_.data(), ld_ff}, {&L.ffn_up, ff_.data() + nf, ld_ff}};
        products(out, n);
      } else {
        const Out out[] = {{&L.ffn_gate, ff_.data(), ld_ff}};
        products(out, n);
        product(L.ffn_up, x_, d, n, ff_.data() + nf, ld_ff);
      }
    } else {
      const Out out[] = {{&L.ffn_up, ff_.data(), ld_ff}};
      products(out, n);
    }
    // Bias + activation, and the activated rows converted for the down product.
    size_act(down, n);
    pool_.run((n + kRows - 1) / kRows, [&](int64_t task, int) {
      const int64_t t0 = task * kRows, t1 = std::min(n, (task + 1) * kRows);
      for (int64_t t = t0; t < t1; ++t) {
        float* first = ff_.data() + t * ld_ff;
        if (gated) {
          if (E.b_up != nullptr) O.add(first + nf, E.b_up, nf);
          O.silu_mul(first, first + nf, nf);
        } else {
          rows_->bias_gelu(first, E.b_up, nf);
        }
      }
      convert_rows(down, ff_.data(), ld_ff, t0, t1);
    });
  }
  const Out out[] = {{&L.ffn_down, o_.data(), d}};
  products(out, n);
  add_norm(x_, o_.data(), E.b_down, E.out_norm_w, E.out_norm_b, n,
           il + 1 < hp.n_layer ? &qkv_input(il + 1) : nullptr);
}

}  // namespace ember::runtime
