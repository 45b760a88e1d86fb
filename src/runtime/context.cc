#include "runtime/context.h"

#include <algorithm>
#include <map>
#include <new>

#include "base/parallel.h"

namespace ember::runtime {

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::kMatmulQkv:
      return "matmul q/k/v";
    case Stage::kMatmulOut:
      return "matmul attn out";
    case Stage::kMatmulUpGate:
      return "matmul ffn gate+up";
    case Stage::kMatmulDown:
      return "matmul ffn down";
    case Stage::kMatmulLogits:
      return "matmul logits";
    case Stage::kMatmulRouter:
      return "matmul moe router";
    case Stage::kConvert:
      return "activation conversion";
    case Stage::kAttention:
      return "attention";
    case Stage::kOther:
      return "other";
    case Stage::kCount:
      break;
  }
  return "?";
}

Context::StageTimer::StageTimer(Context& c, Stage s) : c_(c), s_(s), on_(c.params_.profile) {
  if (on_) t0_ = std::chrono::steady_clock::now();
}

Context::StageTimer::~StageTimer() {
  if (on_) {
    c_.profile_[static_cast<size_t>(s_)] +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
}

Context::Context(const Model& model, const ContextParams& params, int n_threads)
    : model_(model), params_(params), pool_(n_threads) {}

Context::~Context() = default;

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& params) {
  if (params.n_ctx <= 0) return invalid_argument("context size must be positive");
  if (params.n_ubatch <= 0) return invalid_argument("ubatch size must be positive");
  if (params.n_seq_max <= 0 || params.n_seq_max > KvCache::kMaxSequences) {
    return invalid_argument("number of sequences must be in [1, " +
                            std::to_string(KvCache::kMaxSequences) + "], got " +
                            std::to_string(params.n_seq_max));
  }
  if (params.n_threads < 0 || params.n_threads > 1024) {
    return invalid_argument("thread count must be in [0, 1024]");
  }
  if (params.isa) {
    const auto isas = kernels::supported_isas();
    if (std::find(isas.begin(), isas.end(), *params.isa) == isas.end()) {
      return unimplemented(std::string("instruction set ") + kernels::isa_name(*params.isa) +
                           " is not supported by this CPU");
    }
  }
  if (is_encoder(model.hparams().arch)) {
    return invalid_argument(std::string(architecture_traits(model.hparams().arch).name) +
                            " is an encoder (embedding) model: it embeds and reranks, it "
                            "cannot generate text");
  }
  if (model.config().attn_chunk > 0 && params.n_ctx > model.config().attn_chunk) {
    return unimplemented("this model uses chunked attention (chunks of " +
                         std::to_string(model.config().attn_chunk) +
                         " positions), which ember does not implement: use a context of at most " +
                         std::to_string(model.config().attn_chunk));
  }
  const int n_threads = params.n_threads > 0 ? params.n_threads : hardware_threads();
  std::unique_ptr<Context> ctx(new Context(model, params, n_threads));
  ctx->params_.n_ubatch = std::min(params.n_ubatch, params.n_ctx);
  EMBER_RETURN_IF_ERROR(ctx->init());
  return ctx;
}

Status Context::init() {
  const ModelHParams& hp = model_.hparams();
  const ArchConfig& cfg = model_.config();
  isa_ = params_.isa ? *params_.isa : kernels::best_isa();
  bf16_split_ = model_.bf16_split() && model_.isa() == isa_;
  f16_split_ = model_.f16_split() && model_.isa() == isa_;
  ops_ = &kernels::ops(isa_);
  n_vocab_ = hp.n_vocab;
  // Per-layer cache rows (layers reading another layer's cache own none); the sliding and
  // global RoPE tables with their layers' rotation sizes.
  std::vector<int64_t> k_values, v_values, kv_heads;
  int64_t max_dk = 0, max_dv = 0, max_rep = 1, max_head_kv = 1;
  std::vector<RecurrentState::LayerSize> recurrent_sizes;
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const ModelHParams::LayerShape ls = hp.layer_shape(il);
    if (hp.is_recurrent(il)) {
      // No keys or values: the layer's per-sequence state lives in rs_.
      const auto i = static_cast<size_t>(il);
      recurrent_sizes.push_back({i < hp.recurrent_conv.size() ? hp.recurrent_conv[i] : 0,
                                 i < hp.recurrent_ssm.size() ? hp.recurrent_ssm[i] : 0});
      k_values.push_back(0);
      v_values.push_back(0);
      kv_heads.push_back(1);
      continue;
    }
    recurrent_sizes.push_back({});
    const bool own = ls.kv_layer == il;
    k_values.push_back(own ? ls.n_head_kv * ls.head_dim_k : 0);
    // MLA layers read their values from the key rows (the latent is their first part).
    const bool v_in_k = model_.layer(il).mla();
    v_values.push_back(own && !v_in_k ? ls.n_head_kv * ls.head_dim_v : 0);
    kv_heads.push_back(own ? ls.n_head_kv : 1);
    max_dk = std::max(max_dk, ls.head_dim_k);
    max_dv = std::max(max_dv, ls.head_dim_v);
    max_rep = std::max(max_rep, hp.n_head / ls.n_head_kv);
    max_head_kv = std::max(max_head_kv, ls.n_head_kv);
    const int table = cfg.layer_sliding[static_cast<size_t>(il)] != 0 ? 1 : 0;
    rope_n_rot_[table] = std::max(rope_n_rot_[table], ls.n_rot);
  }
  for (auto& r : rope_n_rot_) {
    if (r == 0) r = hp.n_rot;
  }
  if (hp.is_mla() && params_.kv_type == kernels::KvType::kQ8_0 &&
      (hp.n_rot % 32 != 0 || hp.n_lora_kv % 32 != 0)) {
    // The values are a part of each key row: both parts must be whole Q8_0 blocks.
    return invalid_argument(
        "a q8_0 key/value cache for multi-head latent attention needs RoPE and latent sizes that "
        "are multiples of 32 (this model: " +
        std::to_string(hp.n_rot) + " + " + std::to_string(hp.n_lora_kv) + "); use f16 or f32");
  }
  EMBER_ASSIGN_OR_RETURN(
      kv_, KvCache::create(k_values, v_values, params_.n_ctx, params_.kv_type, kv_heads,
                           params_.attention == AttentionMode::kTiled));
  if (hp.has_recurrent()) {
    EMBER_ASSIGN_OR_RETURN(rs_, RecurrentState::create(recurrent_sizes, params_.n_seq_max));
  }
  rope_global_ = kernels::RopeTable(cfg.rope.params(rope_n_rot_[0], params_.n_ctx, false));
  rope_local_ = kernels::RopeTable(cfg.rope.params(rope_n_rot_[1], params_.n_ctx, true));

  const size_t ub = static_cast<size_t>(params_.n_ubatch);
  const size_t d = static_cast<size_t>(hp.n_embd);
  const size_t n_qkv = static_cast<size_t>(std::max(hp.max_n_qkv(), hp.ssm_conv_channels()));
  const size_t n_attn = static_cast<size_t>(std::max(hp.n_head * max_dv, hp.ssm_d_inner));
  const size_t k = static_cast<size_t>(std::max<int64_t>(1, hp.n_expert_used));
  const size_t ff_dense = ub * static_cast<size_t>(std::max(hp.max_n_ff(), hp.n_ff_shexp));
  const size_t ff_moe = hp.is_moe() ? ub * k * static_cast<size_t>(hp.n_ff_exp) : 0;
  x_.resize(ub * d);
  h_.resize(ub * d);
  qkv_.resize(ub * n_qkv);
  if (kv_->type() == kernels::KvType::kF16) key_rows_.resize(ub * static_cast<size_t>(max_dk) * 2);
  attn_.resize(ub * n_attn);
  o_.resize(ub * d);
  ff_.resize(2 * std::max(ff_dense, ff_moe));
  for (int i = 0; i < 2; ++i) cos_sin_[i].resize(ub * static_cast<size_t>(rope_n_rot_[i]));
  ones_.assign(std::max<size_t>(d, static_cast<size_t>(std::max(max_dk, max_dv))), 1.0f);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& L = model_.layer(il);
    if (L.ffn_gate_inp.present() && L.ffn_gate.present()) o2_.resize(ub * d);
    if (L.shortconv_in.present()) {
      conv_.resize(
          std::max(conv_.size(), ub * static_cast<size_t>(L.shortconv_in.w.rows + hp.n_embd)));
    }
  }
  if (hp.n_embd_per_layer > 0) {
    pl_.resize(ub * static_cast<size_t>(hp.n_layer * hp.n_embd_per_layer));
    pl_tok_.resize(pl_.size());
    pl_gate_.resize(ub * static_cast<size_t>(hp.n_embd_per_layer));
  }
  if (model_.config().attn_output_gate) {
    qgate_.resize(ub * 2 * static_cast<size_t>(hp.n_head * max_dk));
  }
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (!model_.layer(il).delta_net) continue;
    dn_conv_.resize(ub * static_cast<size_t>(hp.ssm_conv_channels()));
    dn_z_.resize(ub * static_cast<size_t>(hp.ssm_d_inner));
    dn_ab_.resize(ub * 2 * static_cast<size_t>(hp.ssm_dt_rank));
    break;
  }
  if (hp.is_moe()) {
    router_.resize(ub * static_cast<size_t>(hp.n_expert));
    route_score_.resize(ub * static_cast<size_t>(hp.n_expert));
    route_expert_.resize(ub * k);
    route_weight_.resize(ub * k);
    moe_in_.resize(ub * k * d);
    moe_out_.resize(ub * k * d);
  }

  // Activation buffers: the largest conversion any product of this model needs.
  size_t act_bytes = 0;
  auto need = [&](const Linear& l, int64_t rows_in) {
    if (!l.present()) return;
    act_bytes = std::max(act_bytes, act_bytes_for(l.w.type, rows_in, l.w.cols));
  };
  const int64_t ub_rows = static_cast<int64_t>(ub);
  need(model_.output(), ub_rows);
  need(model_.per_layer_model_proj(), ub_rows);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    const LayerWeights& L = model_.layer(il);
    for (const Linear* w :
         {&L.wq,       &L.wk,        &L.wv,           &L.wqkv,          &L.wo,      &L.ffn_gate,
          &L.ffn_up,   &L.ffn_down,  &L.ffn_gate_inp, &L.pl_inp_gate,   &L.pl_proj, &L.wq_a,
          &L.wq_b,     &L.wkv_a_mqa, &L.shortconv_in, &L.shortconv_out, &L.ssm_z,   &L.ssm_alpha,
          &L.ssm_beta, &L.ssm_out}) {
      need(*w, ub_rows);
    }
    for (const auto* v : {&L.gate_exps, &L.up_exps, &L.down_exps}) {
      for (const Linear& w : *v) need(w, ub_rows * static_cast<int64_t>(k));
    }
  }
  for (auto& a : act_) a.resize(act_bytes);
  if (hp.is_mla()) {
    // Multi-head latent attention scratch (runtime/mla.cc), and one converted input per head
    // for the per-head attn_k_b / attn_v_b products.
    const size_t H = static_cast<size_t>(hp.n_head);
    const int64_t nope = hp.head_dim_nope_mla(), kvr = hp.n_lora_kv;
    mla_qa_.resize(ub * static_cast<size_t>(hp.n_lora_q));
    mla_q_.resize(ub * H * static_cast<size_t>(hp.head_dim_k_mla));
    mla_kv_.resize(ub * static_cast<size_t>(kvr + hp.n_rot));
    mla_gather_.resize(H * ub * static_cast<size_t>(std::max(nope, kvr)));
    mla_v_.resize(ub * H * static_cast<size_t>(hp.head_dim_v_mla));
    mla_act_slot_ = 0;
    for (int64_t il = 0; il < hp.n_layer; ++il) {
      const LayerWeights& L = model_.layer(il);
      for (const Linear& w : L.wk_b)
        mla_act_slot_ = std::max(mla_act_slot_, act_bytes_for(w.w.type, ub_rows, nope));
      for (const Linear& w : L.wv_b)
        mla_act_slot_ = std::max(mla_act_slot_, act_bytes_for(w.w.type, ub_rows, kvr));
    }
    mla_act_slot_ = (mla_act_slot_ + 63) / 64 * 64;
    mla_act_.resize(H * mla_act_slot_);
  }

  thread_scratch_stride_ =
      (kernels::attention_scratch_bytes(max_rep, max_dk, max_dv) + 63) / 64 * 64;
  thread_scratch_.resize(thread_scratch_stride_ * static_cast<size_t>(pool_.n_threads()) + 64);

  // A sequence's tiles are at most the cache's; its spans one per kAttentionSpanTiles of them.
  const int64_t max_tiles = (kv_->size() + kernels::kAttentionTile - 1) / kernels::kAttentionTile;
  span_partials_spans_ =
      (max_tiles + kernels::kAttentionSpanTiles - 1) / kernels::kAttentionSpanTiles;
  if (params_.attention != AttentionMode::kPerKey) {
    // Sized for the largest layer (per-layer value head sizes and KV head counts).
    span_partials_floats_ = static_cast<size_t>(kSplitRows * hp.n_head * span_partials_spans_ *
                                                kernels::attention_partial_floats(max_dv));
    span_partials_.reset(new (std::nothrow) float[span_partials_floats_]);
    if (span_partials_ == nullptr) return resource_exhausted("attention scratch: out of memory");
    // Row groups of a decoding ubatch: at most one per row.
    span_pending_.reset(new std::atomic<int32_t>[static_cast<size_t>(kSplitRows * max_head_kv)]);
  }
  return Status::Ok();
}

size_t Context::scratch_bytes() const {
  size_t n = 0;
  for (const auto* v :
       {&x_,           &h_,          &qkv_,     &attn_,         &o_,          &ff_,
        &cos_sin_[0],  &cos_sin_[1], &router_,  &route_weight_, &moe_in_,     &moe_out_,
        &logits_,      &ones_,       &o2_,      &pl_,           &pl_tok_,     &pl_gate_,
        &route_score_, &mla_qa_,     &mla_q_,   &mla_kv_,       &mla_gather_, &mla_v_,
        &conv_,        &qgate_,      &dn_conv_, &dn_z_,         &dn_ab_}) {
    n += v->capacity() * sizeof(float);
  }
  n += mla_act_.capacity();
  n += thread_scratch_.capacity();
  if (span_partials_ != nullptr) n += span_partials_floats_ * sizeof(float);
  for (const auto& a : act_) n += a.capacity();
  n += route_expert_.capacity() * sizeof(int32_t);
  return n;
}

Status Context::decode(const Batch& batch) {
  const int64_t n = batch.size();
  if (n == 0) return invalid_argument("empty batch");
  if (static_cast<int64_t>(batch.pos.size()) != n || static_cast<int64_t>(batch.seq.size()) != n ||
      static_cast<int64_t>(batch.logits.size()) != n) {
    return invalid_argument("batch arrays have different lengths");
  }
  // Validate everything before touching the cache, so a bad batch leaves the context unchanged.
  std::map<int32_t, int32_t> last_pos;
  int64_t n_out = 0;
  for (int64_t i = 0; i < n; ++i) {
    const size_t u = static_cast<size_t>(i);
    const int32_t tok = batch.tokens[u], pos = batch.pos[u], seq = batch.seq[u];
    if (tok < 0 || tok >= n_vocab_) {
      return invalid_argument("token id " + std::to_string(tok) + " at batch index " +
                              std::to_string(i) + " is outside the vocabulary (" +
                              std::to_string(n_vocab_) + " tokens)");
    }
    if (seq < 0 || seq >= params_.n_seq_max) {
      return invalid_argument("sequence id " + std::to_string(seq) + " is out of range [0, " +
                              std::to_string(params_.n_seq_max) + ")");
    }
    if (pos < 0) return invalid_argument("negative position " + std::to_string(pos));
    auto it = last_pos.find(seq);
    const int32_t prev = it != last_pos.end() ? it->second : kv_->seq_pos_max(seq);
    if (pos <= prev) {
      return invalid_argument("position " + std::to_string(pos) + " of sequence " +
                              std::to_string(seq) + " does not follow its previous position " +
                              std::to_string(prev) + " (remove the cached range first)");
    }
    last_pos[seq] = pos;
    n_out += batch.logits[u] != 0;
  }
  if (rs_ != nullptr) {
    // Recurrent layers fold each sequence's tokens into its state one position after the other:
    // a sequence must continue exactly where its state is, with consecutive positions.
    std::map<int32_t, int32_t> next;
    for (int64_t i = 0; i < n; ++i) {
      const size_t u = static_cast<size_t>(i);
      const int32_t pos = batch.pos[u], seq = batch.seq[u];
      auto it = next.find(seq);
      int32_t want = 0;
      if (it == next.end()) {
        const int32_t at = rs_->pos(seq);
        if (at == RecurrentState::kInvalid) {
          return invalid_argument(
              "the recurrent state of sequence " + std::to_string(seq) +
              " is unknown (a tail or part of it was removed or copied): remove the whole "
              "sequence (seq_rm from position 0) and evaluate it again");
        }
        want = at + 1;
      } else {
        want = it->second + 1;
      }
      if (pos != want) {
        return invalid_argument("sequence " + std::to_string(seq) + " must continue at position " +
                                std::to_string(want) + ", got " + std::to_string(pos) +
                                " (this model's recurrent layers take every position in order)");
      }
      next[seq] = pos;
    }
  }
  std::vector<int64_t> cells;
  const bool paged = !batch.cells.empty();
  if (paged) {
    if (static_cast<int64_t>(batch.cells.size()) != n) {
      return invalid_argument("batch has " + std::to_string(batch.cells.size()) +
                              " explicit cells for " + std::to_string(n) + " tokens");
    }
    std::vector<uint8_t> taken(static_cast<size_t>(kv_->size()), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = batch.cells[static_cast<size_t>(i)];
      if (c < 0 || c >= kv_->size()) {
        return invalid_argument("cell " + std::to_string(c) + " at batch index " +
                                std::to_string(i) + " is outside the cache (" +
                                std::to_string(kv_->size()) + " cells)");
      }
      if (kv_->cell_seqs()[c] != 0) {
        return invalid_argument("cell " + std::to_string(c) + " at batch index " +
                                std::to_string(i) + " is in use");
      }
      if (taken[static_cast<size_t>(c)] != 0) {
        return invalid_argument("cell " + std::to_string(c) +
                                " is given to two tokens of the batch");
      }
      taken[static_cast<size_t>(c)] = 1;
    }
    cells = batch.cells;
  } else {
    EMBER_RETURN_IF_ERROR(kv_->find_free(n, cells));
  }

  const auto t_start = std::chrono::steady_clock::now();
  double staged_before = 0.0;
  for (double v : profile_) staged_before += v;
  n_outputs_ = n_out;
  const int64_t out_width = params_.embeddings ? model_.hparams().n_embd : n_vocab_;
  logits_.resize(static_cast<size_t>(n_out) * static_cast<size_t>(out_width));
  int64_t out_offset = 0;
  if (rs_ != nullptr) {
    // Sequences starting from nothing start from a zero state.
    for (int64_t i = 0; i < n; ++i) {
      const int32_t seq = batch.seq[static_cast<size_t>(i)];
      if (rs_->pos(seq) == -1) rs_->zero(seq);
    }
  }
  for (int64_t begin = 0; begin < n; begin += params_.n_ubatch) {
    const int64_t end = std::min(n, begin + params_.n_ubatch);
    std::vector<int64_t> ub_cells(cells.begin() + begin, cells.begin() + end);
    for (int64_t i = begin; i < end; ++i) {
      const size_t u = static_cast<size_t>(i);
      kv_->assign(ub_cells[static_cast<size_t>(i - begin)], batch.pos[u], batch.seq[u]);
    }
    forward(batch, begin, end, ub_cells, out_offset, paged);
    if (rs_ != nullptr) {
      for (int64_t i = begin; i < end; ++i) {
        const size_t u = static_cast<size_t>(i);
        rs_->set_pos(batch.seq[u], batch.pos[u]);
      }
    }
    for (int64_t i = begin; i < end; ++i) out_offset += batch.logits[static_cast<size_t>(i)] != 0;
  }
  if (params_.profile) {
    // Whatever the stages did not measure.
    double staged_after = 0.0;
    for (double v : profile_) staged_after += v;
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    profile_[static_cast<size_t>(Stage::kOther)] += total - (staged_after - staged_before);
  }
  return Status::Ok();
}

Status Context::seq_rm(int32_t seq, int32_t p0, int32_t p1) {
  if (seq >= params_.n_seq_max) return invalid_argument("sequence id out of range");
  if (rs_ != nullptr) {
    // Checked first: a refused removal leaves the cache unchanged too.
    EMBER_RETURN_IF_ERROR(rs_->check_rm(seq, std::max(p0, 0), p1));
    rs_->seq_rm(seq, std::max(p0, 0), p1);
  }
  kv_->seq_rm(seq, std::max(p0, 0), p1);
  return Status::Ok();
}

Status Context::seq_cp(int32_t src, int32_t dst, int32_t p0, int32_t p1) {
  if (src < 0 || dst < 0 || src >= params_.n_seq_max || dst >= params_.n_seq_max) {
    return invalid_argument("sequence id out of range");
  }
  kv_->seq_cp(src, dst, std::max(p0, 0), p1);
  if (rs_ != nullptr) rs_->seq_cp(src, dst, std::max(p0, 0), p1);
  return Status::Ok();
}

Status Context::seq_keep(int32_t seq) {
  if (seq < 0 || seq >= params_.n_seq_max) return invalid_argument("sequence id out of range");
  kv_->seq_keep(seq);
  if (rs_ != nullptr) rs_->seq_keep(seq);
  return Status::Ok();
}

Status Context::copy_cells(const std::vector<int64_t>& src, const std::vector<int64_t>& dst,
                           int32_t seq) {
  if (seq < 0 || seq >= params_.n_seq_max) return invalid_argument("sequence id out of range");
  if (src.size() != dst.size())
    return invalid_argument("copy_cells: source and destination sizes differ");
  std::vector<uint8_t> taken(static_cast<size_t>(kv_->size()), 0);
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] < 0 || src[i] >= kv_->size() || dst[i] < 0 || dst[i] >= kv_->size()) {
      return invalid_argument("copy_cells: cell outside the cache");
    }
    if (kv_->cell_seqs()[src[i]] == 0) {
      return invalid_argument("copy_cells: source cell " + std::to_string(src[i]) + " is free");
    }
    if (kv_->cell_seqs()[dst[i]] != 0 || taken[static_cast<size_t>(dst[i])] != 0) {
      return invalid_argument("copy_cells: destination cell " + std::to_string(dst[i]) +
                              " is in use or repeated");
    }
    taken[static_cast<size_t>(dst[i])] = 1;
  }
  for (size_t i = 0; i < src.size(); ++i) {
    if (taken[static_cast<size_t>(src[i])] != 0) {
      return invalid_argument("copy_cells: a cell is both source and destination");
    }
  }
  kv_->copy_cells(src.data(), dst.data(), static_cast<int64_t>(src.size()), seq);
  return Status::Ok();
}

int32_t Context::seq_pos_max(int32_t seq) const {
  if (seq < 0 || seq >= params_.n_seq_max) return -1;
  return kv_->seq_pos_max(seq);
}

void Context::clear() {
  kv_->clear();
  if (rs_ != nullptr) rs_->clear();
  n_outputs_ = 0;
}

bool Context::can_resume(int32_t seq, int32_t pos) const {
  if (seq < 0 || seq >= params_.n_seq_max || pos < 0) return false;
  if (rs_ == nullptr || pos == 0) return true;
  return rs_->pos(seq) == pos - 1;
}

Status Context::copy_state(int32_t src, int32_t dst) {
  if (src < 0 || dst < 0 || src >= params_.n_seq_max || dst >= params_.n_seq_max) {
    return invalid_argument("sequence id out of range");
  }
  if (rs_ != nullptr) rs_->copy(src, dst);
  return Status::Ok();
}

size_t Context::act_bytes_for(TensorType type, int64_t n, int64_t cols) const {
  if (split_acts(type)) return kernels::split_activation_bytes(n, cols);
  return kernels::activation_bytes(type, n, cols);
}

void Context::convert_acts(TensorType type, const float* x, int64_t n, int64_t cols, void* out,
                           int64_t first_token) const {
  if (split_acts(type)) {
    kernels::convert_split_activations(x, n, cols, out, first_token);
    return;
  }
  const size_t stride = kernels::activation_bytes(type, 1, cols);
  kernels::convert_activations(
      isa_, type, x, n, cols,
      static_cast<uint8_t*>(out) + static_cast<size_t>(first_token) * stride);
}

const void* Context::convert(int slot, TensorType type, const float* x, int64_t n, int64_t cols) {
  StageTimer timer(*this, Stage::kConvert);
  auto& buf = act_[static_cast<size_t>(slot)];
  const size_t bytes = act_bytes_for(type, n, cols);
  if (buf.size() < bytes) buf.resize(bytes);
  // Token rows convert independently (into consecutive strides of the buffer, kernels/act_layout.h,
  // or into their lines of the split layout's 16-token tiles), so large batches convert in
  // parallel, a block of tokens per task.
  const size_t stride = act_bytes_for(type, 1, cols);
  constexpr int64_t kTokensPerTask = 8;
  if (n < 2 * kTokensPerTask || pool_.n_threads() == 1 ||
      (!split_acts(type) && stride * static_cast<size_t>(n) != bytes)) {
    convert_acts(type, x, n, cols, buf.data());
    return buf.data();
  }
  uint8_t* out = buf.data();
  pool_.run((n + kTokensPerTask - 1) / kTokensPerTask, [&](int64_t task, int) {
    const int64_t t0 = task * kTokensPerTask;
    const int64_t t1 = std::min(n, t0 + kTokensPerTask);
    convert_acts(type, x + t0 * cols, t1 - t0, cols, out, t0);
  });
  return buf.data();
}

const void* Context::RowConversion::data(TensorType type) const {
  for (int i = 0; i < n_types; ++i) {
    if (types[i] == type) return out[i];
  }
  return nullptr;
}

Context::RowConversion Context::begin_rows(std::initializer_list<TensorType> types, int64_t n,
                                           int64_t cols) {
  RowConversion rc;
  rc.cols = cols;
  for (TensorType t : types) {
    bool seen = false;
    for (int i = 0; i < rc.n_types; ++i) seen |= rc.types[i] == t;
    if (seen) continue;
    const int slot = rc.n_types++;
    rc.types[slot] = t;
    auto& buf = act_[static_cast<size_t>(slot)];
    const size_t bytes = act_bytes_for(t, n, cols);
    // (The split layout converts token by token into its tiles: never deferred.)
    rc.deferred |= !split_acts(t) && bytes != act_bytes_for(t, 1, cols) * static_cast<size_t>(n);
    if (buf.size() < bytes) buf.resize(bytes);
    rc.out[slot] = buf.data();
  }
  return rc;
}

void Context::convert_row(const RowConversion& rc, const float* x, int64_t t) const {
  if (rc.deferred) return;
  for (int i = 0; i < rc.n_types; ++i) {
    convert_acts(rc.types[i], x, 1, rc.cols, rc.out[i], t);
  }
}

void Context::finish_rows(const RowConversion& rc, const float* x, int64_t n) const {
  if (!rc.deferred) return;
  for (int i = 0; i < rc.n_types; ++i) {
    convert_acts(rc.types[i], x, n, rc.cols, rc.out[i]);
  }
}

void Context::run_products(const Product* products, int n_products, int64_t n_tokens, Stage stage) {
  StageTimer timer(*this, stage);
  // Split each product's rows into chunks: a few per thread so a thread slowed down by the rest
  // of the machine does not hold everyone up. Chunk boundaries at multiples of the kernels' row
  // tile keep every tile full.
  constexpr int64_t kChunksPerThread = 4;
  const int64_t kAlign = std::max<int64_t>(1, kernels::matmul_row_block(isa_));
  const int64_t nt = pool_.n_threads();
  std::vector<Chunk>& chunks = chunks_;  // reused: no allocation per product
  chunks.clear();
  for (int p = 0; p < n_products; ++p) {
    const int64_t rows = products[p].w->w.rows;
    int64_t step = rows;
    if (nt > 1 && rows > kAlign) {
      step = (rows + nt * kChunksPerThread - 1) / (nt * kChunksPerThread);
      step = std::max<int64_t>(kAlign, (step + kAlign - 1) / kAlign * kAlign);
    }
    for (int64_t r = 0; r < rows; r += step) chunks.push_back({p, r, std::min(rows, r + step)});
  }
  const kernels::Isa isa = isa_;
  // Packed weights when they were prepared for this context's Isa.
  const bool use_prepared = model_.isa() == isa_;
  // The reference numerics mode holds for unprepared weights too (another Isa, or a model loaded
  // without preparing): its products have the same bits on every Isa.
  const bool reference = model_.numerics() == Numerics::kReference;
  pool_.run(static_cast<int64_t>(chunks.size()), [&](int64_t task, int) {
    const Chunk& c = chunks[static_cast<size_t>(task)];
    const Product& p = products[c.product];
    if (use_prepared && (p.w->prepared.packed() || p.w->prepared.weights().data != nullptr)) {
      kernels::matmul(p.w->prepared, p.x, n_tokens, p.y, p.ldy, c.r0, c.r1);
    } else if (reference && kernels::reference_order_supported(p.w->w.type, p.w->w.rows)) {
      kernels::matmul_reference_order(isa, p.w->w, p.x, n_tokens, p.y, p.ldy, c.r0, c.r1);
    } else {
      kernels::matmul(isa, p.w->w, p.x, n_tokens, p.y, p.ldy, c.r0, c.r1);
    }
  });
}

}  // namespace ember::runtime
