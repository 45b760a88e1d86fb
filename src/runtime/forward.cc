// The transformer forward pass of one ubatch: embeddings, then per layer attention and FFN
// blocks, then the output projection for the tokens that asked for logits.
//
// Shapes (n = tokens in the ubatch, d = n_embd, dk/dv = head sizes, H/Hkv = head counts):
//   x_    [n][d]                 residual stream
//   h_    [n][d]                 RMS-normalised block input
//   qkv_  [n][H*dk | Hkv*dk | Hkv*dv]
//   attn_ [n][H*dv]              attention output before the output projection
//   o_    [n][d]                 block output before the residual add
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/context.h"
#include "runtime/ubatch.h"
#include "tensor/quantize.h"

namespace ember::runtime {

void Context::build_tile_lists(uint64_t seq_mask) {
  // One scan of the cell metadata: for each sequence of the ubatch, the tiles holding its cells
  // with the lowest position of its cells in each, then sorted by that position.
  const int64_t used = kv_->used_end();
  const int32_t* pos = kv_->cell_pos();
  const uint64_t* seqs = kv_->cell_seqs();
  auto& per_seq = tile_scratch_;
  for (auto& v : per_seq) v.clear();
  for (int64_t c = 0; c < used; ++c) {
    uint64_t bits = seqs[c] & seq_mask;
    const auto tile = static_cast<int32_t>(c / kernels::kAttentionTile);
    while (bits != 0) {
      const int s = __builtin_ctzll(bits);
      bits &= bits - 1;
      auto& v = per_seq[static_cast<size_t>(s)];
      if (v.empty() || v.back().second != tile) {
        v.emplace_back(pos[c], tile);
      } else {
        v.back().first = std::min(v.back().first, pos[c]);
      }
    }
  }
  tile_list_.clear();
  for (int s = 0; s < KvCache::kMaxSequences; ++s) {
    auto& v = per_seq[static_cast<size_t>(s)];
    std::sort(v.begin(), v.end());
    const auto b = static_cast<int64_t>(tile_list_.size());
    for (const auto& e : v) tile_list_.push_back(e.second);
    tile_range_[static_cast<size_t>(s)] = {b, static_cast<int64_t>(tile_list_.size())};
  }
}

void Context::forward(const Batch& batch, int64_t begin, int64_t end,
                      const std::vector<int64_t>& cells, int64_t out_offset, bool paged) {
  Ubatch ub;
  ub.paged = paged;
  ub.n = end - begin;
  ub.tokens = batch.tokens.data() + begin;
  ub.pos = batch.pos.data() + begin;
  ub.seq = batch.seq.data() + begin;
  ub.cells = cells.data();
  for (int64_t i = 0; i < ub.n; ++i) {
    if (batch.logits[static_cast<size_t>(begin + i)] != 0)
      ub.out_rows.push_back(static_cast<int32_t>(i));
  }
  ub.group_by_sequence();
  if (paged) {
    uint64_t mask = 0;
    for (int64_t i = 0; i < ub.n; ++i) mask |= uint64_t{1} << ub.seq[i];
    build_tile_lists(mask);
  }
  embed(ub);
  if (model_.hparams().n_embd_per_layer > 0) per_layer_inputs(ub.tokens, ub.n);
  const int64_t n_layer = model_.hparams().n_layer;
  for (int64_t il = 0; il < n_layer; ++il) {
    if (model_.hparams().is_recurrent(il)) {
      recurrent_block(ub, il);
    } else {
      attention_block(ub, il);
    }
    const bool last = il == n_layer - 1;
    const int64_t rows = last ? static_cast<int64_t>(ub.out_rows.size()) : ub.n;
    if (rows == 0) break;
    if (model_.layer(il).ffn_gate_inp.present()) {
      moe_block(ub, il, rows);
    } else {
      ffn_block(ub, il, rows);
    }
    // Architecture hooks after the FFN residual (Gemma 4): the per-layer embedding branch and
    // the scale of the whole hidden state.
    const LayerWeights& L = model_.layer(il);
    if (L.pl_inp_gate.present()) per_layer_block(il, rows, last ? ub.out_rows.data() : nullptr);
    if (L.out_scale != nullptr) {
      const float s = *L.out_scale;
      pool_.run(rows, [&](int64_t t, int) {
        ops_->scale(x_.data() + t * model_.hparams().n_embd, s, model_.hparams().n_embd);
      });
    }
  }
  if (!ub.out_rows.empty()) output_block(ub, out_offset);
}

void Context::embed(const Ubatch& ub) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const kernels::Weights& emb = model_.token_embd();
  const int64_t d = hp.n_embd;
  pool_.run(ub.n, [&](int64_t t, int) {
    const auto* row =
        static_cast<const uint8_t*>(emb.data) + static_cast<size_t>(ub.tokens[t]) * emb.row_bytes;
    float* x = x_.data() + t * d;
    // The type was checked at load and the id at decode(): this cannot fail.
    (void)dequantize_row(emb.type, row, x, d);
    if (cfg.embed_scale != 1.0f) ops_->scale(x, cfg.embed_scale, d);
    rope_global_.compute(ub.pos[t], cos_sin_[0].data() + t * rope_n_rot_[0]);
    rope_local_.compute(ub.pos[t], cos_sin_[1].data() + t * rope_n_rot_[1]);
  });
  model_.release_token_embd_pages();  // the rows are copied: keep the file pages out of RSS
}

void Context::project_qkv(const Ubatch& ub, int64_t il) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t n = ub.n, d = hp.n_embd;
  // This layer's shape (per-layer head sizes and KV heads; a layer without its own K/V reads
  // the cache of layer ls.kv_layer).
  const ModelHParams::LayerShape ls = hp.layer_shape(il);
  const int64_t dk = ls.head_dim_k, dv = ls.head_dim_v, n_head_kv = ls.n_head_kv;
  const int64_t nq = hp.n_head * dk, nk = n_head_kv * dk, nv = n_head_kv * dv;
  const int64_t n_qkv = nq + nk + nv;
  const bool own_kv = ls.kv_layer == il;
  const bool sliding = cfg.layer_sliding[static_cast<size_t>(il)] != 0;
  const TensorType tk = L.wk.present() ? L.wk.w.type : L.wq.w.type;
  const TensorType tv = L.wv.present() ? L.wv.w.type : L.wq.w.type;

  // attn_norm, and its output converted for the Q/K/V weights in the same pass.
  const RowConversion rc = L.wqkv.present() ? begin_rows({L.wqkv.w.type}, n, d)
                                            : begin_rows({L.wq.w.type, tk, tv}, n, d);
  pool_.run(n, [&](int64_t t, int) {
    float* h = h_.data() + t * d;
    O.rmsnorm(x_.data() + t * d, L.attn_norm, h, d, hp.norm_eps);
    convert_row(rc, h, t);
  });
  finish_rows(rc, h_.data(), n);

  // Q, K, V projections into one [n][n_qkv] buffer, one parallel region.
  if (L.wqkv.present()) {
    const Product p = {&L.wqkv, rc.data(L.wqkv.w.type), qkv_.data(), n_qkv};
    run_products(&p, 1, n, Stage::kMatmulQkv);
  } else {
    Product p[3];
    int np = 0;
    // qwen35: Q rows per head are [query, gate]; they land in qgate_ and are split below.
    if (cfg.attn_output_gate) {
      p[np++] = {&L.wq, rc.data(L.wq.w.type), qgate_.data(), 2 * nq};
    } else {
      p[np++] = {&L.wq, rc.data(L.wq.w.type), qkv_.data(), n_qkv};
    }
    if (L.wk.present()) p[np++] = {&L.wk, rc.data(tk), qkv_.data() + nq, n_qkv};
    if (L.wv.present()) p[np++] = {&L.wv, rc.data(tv), qkv_.data() + nq + nk, n_qkv};
    run_products(p, np, n, Stage::kMatmulQkv);
  }

  // Biases, per-head Q/K norms, RoPE, query scaling, and the new keys/values into the cache.
  const bool rope = cfg.layer_no_rope.empty() || cfg.layer_no_rope[static_cast<size_t>(il)] == 0;
  const int table = sliding ? 1 : 0;
  const float* cos_sin = cos_sin_[table].data();
  const int64_t n_rot = rope_n_rot_[table];
  const auto store = O.kv_store[static_cast<int>(kv_->type())];
  pool_.run(n, [&](int64_t t, int) {
    float* q = qkv_.data() + t * n_qkv;
    float* k = q + nq;
    float* v = k + nk;
    if (cfg.attn_output_gate) {
      const float* qg = qgate_.data() + t * 2 * nq;
      for (int64_t h = 0; h < hp.n_head; ++h) {
        std::memcpy(q + h * dk, qg + h * 2 * dk, static_cast<size_t>(dk) * sizeof(float));
      }
    }
    // Gemma 4 layers without attn_v use the K projection as V (before K's norm and RoPE).
    if (own_kv && !L.wv.present() && !L.wqkv.present()) std::memcpy(v, k, nk * sizeof(float));
    if (L.bq != nullptr) O.add(q, L.bq, nq);
    if (L.bk != nullptr) O.add(k, L.bk, nk);
    if (L.bv != nullptr) O.add(v, L.bv, nv);
    const float* cs = cos_sin + t * n_rot;
    for (int64_t h = 0; h < hp.n_head; ++h) {
      float* qh = q + h * dk;
      if (L.q_norm != nullptr) O.rmsnorm(qh, L.q_norm, qh, dk, hp.norm_eps);
      if (rope) kernels::rope_apply(cfg.rope.style, qh, n_rot, cs);
      if (cfg.prescale_q) O.scale(qh, cfg.attn_scale, dk);
    }
    if (cfg.kq_norm_after_rope && rope) {
      for (int64_t h = 0; h < hp.n_head; ++h) {
        O.rmsnorm(q + h * dk, ones_.data(), q + h * dk, dk, hp.norm_eps);
      }
    }
    if (cfg.attn_temp_scale != 0.0f && !(cfg.attn_temp_nope_only && rope)) {
      // Attention temperature, with the reference's types (float position, double log).
      const auto pos = static_cast<float>(ub.pos[t]);
      const double steps =
          std::floor((pos + cfg.attn_temp_offset) / static_cast<float>(cfg.attn_temp_floor_scale));
      O.scale(q, static_cast<float>(std::log(steps + 1.0) * cfg.attn_temp_scale + 1.0), nq);
    }
    if (!own_kv) return;
    for (int64_t h = 0; h < n_head_kv; ++h) {
      float* kh = k + h * dk;
      if (L.k_norm != nullptr) O.rmsnorm(kh, L.k_norm, kh, dk, hp.norm_eps);
      if (rope) kernels::rope_apply(cfg.rope.style, kh, n_rot, cs);
      if (cfg.kq_norm_after_rope && rope) O.rmsnorm(kh, ones_.data(), kh, dk, hp.norm_eps);
      if (cfg.v_norm) O.rmsnorm(v + h * dv, ones_.data(), v + h * dv, dv, hp.norm_eps);
    }
    const int64_t cell = ub.cells[t];
    for (int64_t h = 0; h < n_head_kv; ++h) {
      if (kv_->keys_tiled(il)) {
        // Converted here, then scattered into the head's transposed tile.
        uint8_t* row = key_rows_.data() + static_cast<size_t>(t) * kv_->k_head_row_bytes(il);
        store(k + h * dk, row, dk);
        kv_->write_key(il, h, cell, row);
      } else {
        store(k + h * dk, kv_->k_cell(il, h, cell), dk);
      }
      store(v + h * dv, kv_->v_cell(il, h, cell), dv);
    }
  });
}

void Context::attention_block(const Ubatch& ub, int64_t il) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const LayerWeights& L = model_.layer(il);
  const kernels::OpsTable& O = *ops_;
  const int64_t n = ub.n, d = hp.n_embd;
  const ModelHParams::LayerShape ls = hp.layer_shape(il);
  const int64_t dk = ls.head_dim_k, dv = ls.head_dim_v, n_head_kv = ls.n_head_kv;
  const int64_t n_qkv = hp.n_head * dk + n_head_kv * (dk + dv);
  const bool sliding = cfg.layer_sliding[static_cast<size_t>(il)] != 0;

  // Queries into qkv_ ([n][n_qkv], head h at h * dk), this ubatch's keys and values into the
  // cache.
  if (L.mla()) {
    mla_project(il, n, ub.cells);
  } else {
    project_qkv(ub, il);
  }

  // Attention. In the last layer only the rows that want logits go on (compacted to the front).
  const bool last = il == hp.n_layer - 1;
  const int64_t n_rows = last ? static_cast<int64_t>(ub.out_rows.size()) : n;
  if (n_rows == 0) return;
  const int64_t n_rep = hp.n_head / n_head_kv;
  const int64_t kv_layer = ls.kv_layer;
  kernels::AttentionKv kv;
  kv.k_stride = kv_->k_head_row_bytes(kv_layer);
  kv.k_tiles = kv_->keys_tiled(kv_layer);
  kv.v_stride = kv_->v_head_row_bytes(kv_layer);
  kv.cell_pos = kv_->cell_pos();
  kv.cell_seqs = kv_->cell_seqs();
  kv.n_cells = kv_->used_end();
  kv.type = kv_->type();
  kv.head_dim_k = dk;
  kv.head_dim_v = dv;
  kv.window = sliding ? cfg.sliding_window : 0;
  kv.scale = cfg.prescale_q ? 1.0f : cfg.attn_scale;
  kv.softcap = cfg.attn_softcap;
  if (L.mla()) {
    // The values are the latent after the RoPE key in each cached key row (no V storage; one
    // key/value head).
    kv.v_stride = kv.k_stride;
  }
  const int64_t n_attn = hp.n_head * dv;
  const kernels::AttentionPath path = attention_path(n, dv);
  auto query = [&](int64_t i, int64_t g) {
    const int64_t t = last ? ub.out_rows[static_cast<size_t>(i)] : i;
    kernels::AttentionQuery qr;
    qr.q = qkv_.data() + t * n_qkv + g * n_rep * dk;
    qr.out = attn_.data() + i * n_attn + g * n_rep * dv;
    qr.pos = ub.pos[t];
    qr.seq_mask = uint64_t{1} << ub.seq[t];
    return qr;
  };
  // The sequence of output row i (its tile list when paged).
  auto row_seq = [&](int64_t i) { return ub.seq[last ? ub.out_rows[static_cast<size_t>(i)] : i]; };
  auto head_kv = [&](int64_t g, int32_t seq) {
    kernels::AttentionKv kvh = kv;
    // Head g's plane of the layer's cache.
    kvh.k = kv_->k_head(kv_layer, g);
    kvh.v = L.mla() ? kvh.k + kernels::kv_row_bytes(kv.type, hp.n_rot) : kv_->v_head(kv_layer, g);
    if (L.sinks != nullptr) kvh.sinks = L.sinks + g * n_rep;
    if (ub.paged) {
      const auto [b, e] = tile_range_[static_cast<size_t>(seq)];
      kvh.tiles = tile_list_.data() + b;
      kvh.n_tiles = e - b;
    }
    return kvh;
  };
  {
    StageTimer attention_timer(*this, Stage::kAttention);
    if (path == kernels::AttentionPath::kTiled) {
      // Row tiles of at most kAttentionRowTile rows; paged: rows grouped by sequence (each
      // call shares one tile list), in their order within the sequence.
      row_order_.resize(static_cast<size_t>(n_rows));
      for (int64_t i = 0; i < n_rows; ++i)
        row_order_[static_cast<size_t>(i)] = static_cast<int32_t>(i);
      if (ub.paged) {
        std::stable_sort(row_order_.begin(), row_order_.end(),
                         [&](int32_t a, int32_t b) { return row_seq(a) < row_seq(b); });
      }
      row_groups_.clear();
      for (int64_t i = 0; i < n_rows;) {
        int64_t j = i + 1;
        while (j < n_rows && j - i < kernels::kAttentionRowTile &&
               (!ub.paged || row_seq(row_order_[static_cast<size_t>(j)]) ==
                                 row_seq(row_order_[static_cast<size_t>(i)]))) {
          ++j;
        }
        row_groups_.emplace_back(i, j);
        i = j;
      }
      const auto n_groups = static_cast<int64_t>(row_groups_.size());
      auto group_rows = [&](int64_t grp, int64_t g, kernels::AttentionQuery* rows) {
        const auto [i0, i1] = row_groups_[static_cast<size_t>(grp)];
        for (int64_t i = i0; i < i1; ++i)
          rows[i - i0] = query(row_order_[static_cast<size_t>(i)], g);
        return i1 - i0;
      };
      if (n_rows <= kSplitRows && span_partials_ != nullptr) {
        // Decoding: every (row group, key/value head, span of 512 cells) is a task, so even
        // one row at depth keeps every thread busy; then each (row, head) folds its spans in
        // order. The spans and the fold are attend_tiled's own, so the bits are the same as
        // in a large batch (kernels/attention.h).
        const int64_t pf = kernels::attention_partial_floats(dv);
        const int64_t n_spans = span_partials_spans_;
        const int64_t head_floats = n_spans * pf;
        const int64_t row_floats = hp.n_head * head_floats;
        float* partials = span_partials_.get();
        int64_t used_spans = 0;  // the most any group visits (every head sees the same tiles)
        for (const auto& grp : row_groups_) {
          const int64_t i = row_order_[static_cast<size_t>(grp.first)];
          used_spans = std::max(used_spans, kernels::attention_span_count(head_kv(0, row_seq(i))));
        }
        // Spans left per (group, head); the task that finishes the last one folds them, so
        // the fold needs no second parallel region (which thread folds changes nothing: the
        // fold always visits every span in order).
        for (int64_t grp = 0; grp < n_groups; ++grp) {
          const int64_t i =
              row_order_[static_cast<size_t>(row_groups_[static_cast<size_t>(grp)].first)];
          const auto spans =
              static_cast<int32_t>(kernels::attention_span_count(head_kv(0, row_seq(i))));
          for (int64_t g = 0; g < n_head_kv; ++g) {
            span_pending_[static_cast<size_t>(grp * n_head_kv + g)].store(
                spans, std::memory_order_relaxed);
            if (spans > 0) continue;
            // No tile at all (cannot happen: the row's own token is cached): zeros, as the
            // fold of nothing gives, since no task would fold this head.
            kernels::AttentionQuery rows[kernels::kAttentionRowTile];
            const int64_t nr = group_rows(grp, g, rows);
            for (int64_t k = 0; k < nr; ++k)
              std::memset(rows[k].out, 0, static_cast<size_t>(n_rep * dv) * sizeof(float));
          }
        }
        // Heads vary fastest: tasks running together read the same cache rows (one span of
        // cells, different heads' parts of each row), so lines the hardware brings in around one
        // head's part serve the others while they are still cached.
        pool_.run(n_groups * n_head_kv * used_spans, [&](int64_t task, int thread) {
          const int64_t g = task % n_head_kv;
          const int64_t sp = task / n_head_kv % used_spans;
          const int64_t grp = task / n_head_kv / used_spans;
          const auto [i0, i1] = row_groups_[static_cast<size_t>(grp)];
          const kernels::AttentionKv kvh = head_kv(g, row_seq(row_order_[static_cast<size_t>(i0)]));
          const int64_t spans = kernels::attention_span_count(kvh);
          if (sp >= spans) return;
          kernels::AttentionQuery rows[kernels::kAttentionRowTile];
          const int64_t nr = group_rows(grp, g, rows);
          kernels::attend_tiled_span(O, kvh, rows, nr, n_rep, sp,
                                     partials + i0 * row_floats + g * n_rep * head_floats + sp * pf,
                                     row_floats, head_floats, thread_scratch(thread));
          // acq_rel: the folding task sees every other span's partials.
          if (span_pending_[static_cast<size_t>(grp * n_head_kv + g)].fetch_sub(
                  1, std::memory_order_acq_rel) != 1) {
            return;
          }
          for (int64_t k = i0; k < i1; ++k) {
            for (int64_t h = 0; h < n_rep; ++h) {
              kernels::attend_fold(O, partials + k * row_floats + (g * n_rep + h) * head_floats, pf,
                                   spans, dv, kvh.sinks != nullptr ? kvh.sinks + h : nullptr,
                                   rows[k - i0].out + h * dv);
            }
          }
        });
      } else {
        pool_.run(n_groups * n_head_kv, [&](int64_t task, int thread) {
          const int64_t g = task % n_head_kv;
          const auto [i0, i1] = row_groups_[static_cast<size_t>(task / n_head_kv)];
          kernels::AttentionQuery rows[kernels::kAttentionRowTile];
          for (int64_t i = i0; i < i1; ++i)
            rows[i - i0] = query(row_order_[static_cast<size_t>(i)], g);
          kernels::attend_tiled(O, head_kv(g, row_seq(row_order_[static_cast<size_t>(i0)])), rows,
                                i1 - i0, n_rep, thread_scratch(thread));
        });
      }
    } else {
      pool_.run(n_rows * n_head_kv, [&](int64_t task, int thread) {
        const int64_t g = task % n_head_kv;
        const int64_t i = task / n_head_kv;
        kernels::attend_per_key(O, head_kv(g, row_seq(i)), query(i, g), n_rep,
                                thread_scratch(thread));
      });
    }
  }

  if (last && n_rows < n) {
    // Compact the residual stream to the output rows (ascending, so copies never overlap badly).
    for (int64_t i = 0; i < n_rows; ++i) {
      const int64_t t = ub.out_rows[static_cast<size_t>(i)];
      if (t != i)
        std::memcpy(x_.data() + i * d, x_.data() + t * d, static_cast<size_t>(d) * sizeof(float));
    }
  }

  if (cfg.attn_output_gate) {
    // Each head's output times sigmoid(its gate) (dk == dv for these models).
    pool_.run(n_rows, [&](int64_t i, int) {
      const int64_t t = last ? ub.out_rows[static_cast<size_t>(i)] : i;
      const float* qg = qgate_.data() + t * 2 * hp.n_head * dk;
      float* a = attn_.data() + i * n_attn;
      for (int64_t h = 0; h < hp.n_head; ++h) {
        const float* gate = qg + h * 2 * dk + dk;
        for (int64_t e = 0; e < dv; ++e) a[h * dv + e] *= 1.0f / (1.0f + std::exp(-gate[e]));
      }
    });
  }

  // Output projection (MLA: after each head's attn_v_b), optional post-norm, residual.
  const float* attn_out = attn_.data();
  int64_t attn_cols = n_attn;
  if (L.mla()) {
    attn_out = mla_values(il, n_rows);
    attn_cols = L.wo.w.cols;
  }
  const Product p = {&L.wo, convert(0, L.wo.w.type, attn_out, n_rows, attn_cols), o_.data(), d};
  run_products(&p, 1, n_rows, Stage::kMatmulOut);
  pool_.run(n_rows, [&](int64_t t, int) {
    float* o = o_.data() + t * d;
    if (L.bo != nullptr) O.add(o, L.bo, d);
    if (L.post_attn_norm != nullptr) O.rmsnorm(o, L.post_attn_norm, o, d, hp.norm_eps);
    if (cfg.residual_scale != 1.0f) O.scale(o, cfg.residual_scale, d);
    O.add(x_.data() + t * d, o, d);
  });
}

kernels::AttentionPath Context::attention_path(int64_t n_tokens, int64_t head_dim_v) const {
  const bool tiled_ok = kernels::attention_tiled_supported(kv_->type(), head_dim_v);
  switch (params_.attention) {
    case AttentionMode::kPerKey:
      return kernels::AttentionPath::kPerKey;
    case AttentionMode::kTiled:
      return tiled_ok ? kernels::AttentionPath::kTiled : kernels::AttentionPath::kPerKey;
    case AttentionMode::kAuto:
      break;
  }
  // The reference's choice for batches. (For single-token decoding over 512 cells or more it
  // splits the cells between its threads and merges per-key partial results; per-key over all
  // cells is the closest thread-count-independent equivalent, and faster than tiles for one row.)
  const bool tiled = n_tokens >= kernels::kAttentionRowTile;
  return tiled && tiled_ok ? kernels::AttentionPath::kTiled : kernels::AttentionPath::kPerKey;
}

void Context::output_block(const Ubatch& ub, int64_t out_offset) {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  const kernels::OpsTable& O = *ops_;
  const int64_t d = hp.n_embd;
  const int64_t n_out = static_cast<int64_t>(ub.out_rows.size());
  // After the last layer the residual rows are already compacted to the output rows.
  const RowConversion rc = begin_rows({model_.output().w.type}, n_out, d);
  pool_.run(n_out, [&](int64_t t, int) {
    float* h = h_.data() + t * d;
    O.rmsnorm(x_.data() + t * d, model_.output_norm(), h, d, hp.norm_eps);
    convert_row(rc, h, t);
  });
  finish_rows(rc, h_.data(), n_out);
  if (params_.embeddings) {
    // Embedding mode: the normalized hidden states are the output.
    std::memcpy(logits_.data() + static_cast<size_t>(out_offset) * static_cast<size_t>(d),
                h_.data(), static_cast<size_t>(n_out * d) * sizeof(float));
    return;
  }
  float* logits = logits_.data() + static_cast<size_t>(out_offset) * static_cast<size_t>(n_vocab_);
  const Product p = {&model_.output(), rc.data(model_.output().w.type), logits, n_vocab_};
  run_products(&p, 1, n_out, Stage::kMatmulLogits);
  if (cfg.logit_scale != 1.0f) {
    const float inv = 1.0f / cfg.logit_scale;
    pool_.run(n_out, [&](int64_t t, int) { O.scale(logits + t * n_vocab_, inv, n_vocab_); });
  }
  if (cfg.final_softcap > 0.0f) {
    pool_.run(n_out, [&](int64_t t, int) {
      O.softcap(logits + t * n_vocab_, cfg.final_softcap, n_vocab_);
    });
  }
}

}  // namespace ember::runtime
