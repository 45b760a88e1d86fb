// Engine::embed / Engine::rerank: tokenization as llama-server's /embeddings and /rerank build
// their inputs, batched evaluation (encoder forward pass, or a decoder context in embedding mode
// with one sequence per input), pooling, the classification head, normalization.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "api/embed_work.h"
#include "api/engine_impl.h"
#include "api/model_impl.h"
#include "base/parallel.h"
#include "tensor/quantize.h"

namespace ember {
namespace {

using runtime::PoolingType;

// Decoder contexts hold at most this many sequences (KvCache::kMaxSequences).
constexpr int32_t kMaxSequencesPerPass = 64;

Pooling resolve_pooling(const runtime::Model& m, Pooling asked) {
  if (asked != Pooling::kModel) return asked;
  return static_cast<Pooling>(static_cast<int>(m.embedding_info().pooling));
}

// row[i] = sum_c W[i][c] * x[c] (+ b[i]) for the small head matrices (F32 accumulation over
// dequantized rows: a handful of rows per input).
void head_product(const runtime::Linear& w, const float* bias, const float* x, float* y) {
  const kernels::Weights& W = w.w;
  std::vector<float> row(static_cast<size_t>(W.cols));
  for (int64_t r = 0; r < W.rows; ++r) {
    (void)dequantize_row(W.type, static_cast<const uint8_t*>(W.data) + r * W.row_bytes, row.data(),
                         W.cols);  // types checked at load
    double acc = 0.0;
    for (int64_t c = 0; c < W.cols; ++c) acc += static_cast<double>(row[c]) * x[c];
    y[r] = static_cast<float>(acc) + (bias != nullptr ? bias[r] : 0.0f);
  }
}

// The classification head on hidden state h [n_embd]: encoders (bge-reranker) give raw logits
// of cls.output(tanh(cls h + b)); decoders (Qwen3-Reranker) give softmax(cls.output h), i.e. the
// probabilities of the labels.
std::vector<float> rank_head(const runtime::Model& m, const float* h) {
  const int64_t d = m.hparams().n_embd;
  std::vector<float> t(h, h + d);
  if (m.cls().present()) {
    std::vector<float> u(static_cast<size_t>(d));
    head_product(m.cls(), m.cls_bias(), h, u.data());
    for (int64_t i = 0; i < d; ++i)
      t[static_cast<size_t>(i)] = std::tanh(u[static_cast<size_t>(i)]);
  }
  std::vector<float> out(static_cast<size_t>(m.cls_out().w.rows));
  head_product(m.cls_out(), m.cls_out_bias(), t.data(), out.data());
  if (!is_encoder(m.hparams().arch)) {
    const float mx = *std::max_element(out.begin(), out.end());
    double sum = 0.0;
    for (float& v : out) {
      v = std::exp(v - mx);
      sum += v;
    }
    for (float& v : out) v = static_cast<float>(v / sum);
  }
  return out;
}

void l2_normalize(float* v, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(v[i]) * v[i];
  if (sum <= 0.0) return;
  const auto inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (int64_t i = 0; i < n; ++i) v[i] *= inv;
}

// Checks lengths (cutting with truncate) and reports which inputs were cut.
Status fit_context(std::vector<std::vector<int32_t>>& seqs, int32_t n_ctx, bool truncate,
                   std::vector<uint8_t>& truncated, const char* what) {
  truncated.assign(seqs.size(), 0);
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i].empty()) {
      return invalid_argument(std::string(what) + " " + std::to_string(i) +
                              " has no tokens (the model adds no special tokens to it)");
    }
    if (static_cast<int64_t>(seqs[i].size()) > n_ctx) {
      if (!truncate) {
        return out_of_range(std::string(what) + " " + std::to_string(i) + " has " +
                            std::to_string(seqs[i].size()) + " tokens, more than the context of " +
                            std::to_string(n_ctx) + " tokens (truncate cuts it explicitly)");
      }
      seqs[i].resize(static_cast<size_t>(n_ctx));
      truncated[i] = 1;
    }
  }
  return Status::Ok();
}

}  // namespace

namespace detail {

Engine::Impl& EmbedRunner::impl(Engine& engine) {
  return *engine.impl_;
}

const Engine::Impl& EmbedRunner::impl(const Engine& engine) {
  return *engine.impl_;
}

// Creates the embedding engine on first use.
Status EmbedRunner::ensure(Engine::Impl& e) {
  if (is_encoder(e.model->hparams().arch)) {
    if (e.encoder) return Status::Ok();
    runtime::EncoderParams p;
    p.n_ubatch = std::max<int64_t>(e.options.n_batch, e.n_ctx);
    p.n_threads = e.options.n_threads;
    EMBER_ASSIGN_OR_RETURN(e.encoder, runtime::Encoder::create(*e.model, p));
    return Status::Ok();
  }
  if (e.embed_context) return Status::Ok();
  runtime::ContextParams cp;
  cp.n_ctx = e.n_ctx;
  cp.n_ubatch = e.options.n_batch;
  cp.n_seq_max = kMaxSequencesPerPass;
  cp.kv_type = detail::kernel_kv_type(e.options.kv_cache_type);
  cp.n_threads = e.options.n_threads;
  cp.attention = runtime::AttentionMode::kTiled;
  cp.embeddings = true;
  EMBER_ASSIGN_OR_RETURN(e.embed_context, runtime::Context::create(*e.model, cp));
  return Status::Ok();
}

int64_t EmbedRunner::pass_tokens(const Engine& engine) {
  const Engine::Impl& e = impl(engine);
  if (is_encoder(e.model->hparams().arch)) return std::max<int64_t>(e.options.n_batch, e.n_ctx);
  return e.n_ctx;
}

size_t EmbedRunner::pass_sequences(const Engine& engine) {
  const Engine::Impl& e = impl(engine);
  return is_encoder(e.model->hparams().arch) ? std::numeric_limits<size_t>::max()
                                             : size_t{kMaxSequencesPerPass};
}

Status EmbedRunner::pass(Engine& engine, std::span<const SeqRef> seqs) {
  Engine::Impl& e = impl(engine);
  EMBER_RETURN_IF_ERROR(ensure(e));
  if (seqs.empty()) return Status::Ok();
  const int64_t d = e.model->hparams().n_embd;
  if (e.encoder) {
    std::vector<int32_t> flat;
    std::vector<int32_t> lens;
    for (const SeqRef& r : seqs) {
      const std::vector<int32_t>& t = r.work->tokens(r.seq);
      flat.insert(flat.end(), t.begin(), t.end());
      lens.push_back(static_cast<int32_t>(t.size()));
    }
    std::vector<float> hidden(flat.size() * static_cast<size_t>(d));
    EMBER_RETURN_IF_ERROR(e.encoder->encode(flat, lens, hidden.data()));
    int64_t at = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      const int32_t len = lens[i];
      if (seqs[i].work->last_only()) {
        seqs[i].work->deliver(seqs[i].seq, hidden.data() + (at + len - 1) * d, 1);
      } else {
        seqs[i].work->deliver(seqs[i].seq, hidden.data() + at * d, len);
      }
      at += len;
    }
    return Status::Ok();
  }
  runtime::Context& ctx = *e.embed_context;
  ctx.clear();
  runtime::Batch batch;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const std::vector<int32_t>& t = seqs[i].work->tokens(seqs[i].seq);
    const auto len = static_cast<int32_t>(t.size());
    const bool last_only = seqs[i].work->last_only();
    for (int32_t p = 0; p < len; ++p) {
      batch.add(t[static_cast<size_t>(p)], p, static_cast<int32_t>(i), !last_only || p + 1 == len);
    }
  }
  Status st = ctx.decode(batch);
  if (!st.ok()) {
    ctx.clear();
    return st.with_context("evaluating the inputs");
  }
  int64_t out = 0;
  for (const SeqRef& r : seqs) {
    const auto len = static_cast<int32_t>(r.work->tokens(r.seq).size());
    const int32_t rows = r.work->last_only() ? 1 : len;
    r.work->deliver(r.seq, ctx.hidden(out), rows);
    out += rows;
  }
  ctx.clear();
  return Status::Ok();
}

Status EmbedRunner::run_all(Engine& engine, EmbedWork& work) {
  const int64_t budget = pass_tokens(engine);
  const size_t max_seqs = pass_sequences(engine);
  std::vector<SeqRef> pass_seqs;
  size_t next = 0;
  while (next < work.size()) {
    // Pack consecutive sequences while they fit one pass.
    pass_seqs.clear();
    int64_t tokens = 0;
    while (next < work.size()) {
      const auto len = static_cast<int64_t>(work.tokens(next).size());
      if (!pass_seqs.empty() && (tokens + len > budget || pass_seqs.size() >= max_seqs)) break;
      pass_seqs.push_back({&work, next++});
      tokens += len;
    }
    EMBER_RETURN_IF_ERROR(pass(engine, pass_seqs));
  }
  return Status::Ok();
}

Result<std::unique_ptr<EmbedWork>> EmbedWork::embed(Engine& engine,
                                                    std::vector<std::vector<int32_t>> inputs,
                                                    const EmbedParams& params) {
  auto& e = EmbedRunner::impl(engine);  // (Engine::Impl is EmbedRunner's to name)
  const runtime::Model& m = *e.model;
  if (inputs.empty()) return invalid_argument("no inputs to embed");
  if (e.generation_active) {
    return invalid_argument("a generation is running on this engine; end() it first");
  }
  const bool encoder = is_encoder(m.hparams().arch);
  if (params.pooling == Pooling::kModel && !encoder && !m.embedding_info().has_pooling_key) {
    return invalid_argument(m.description() +
                            " is a text-generation model without a pooling type; ask for one "
                            "(EmbedParams::pooling) to embed with it");
  }
  const Pooling pooling = resolve_pooling(m, params.pooling);
  if (static_cast<int>(pooling) < 0 || static_cast<int>(pooling) > 4) {
    return invalid_argument("unknown pooling type " + std::to_string(static_cast<int>(pooling)));
  }
  if (pooling == Pooling::kRank && !m.cls_out().present()) {
    return invalid_argument(
        "pooling 'rank' needs a classification head (cls.output.weight), which " + m.description() +
        " does not have");
  }
  const int64_t n_embd = m.hparams().n_embd;
  const int64_t width = pooling == Pooling::kRank ? m.cls_out().w.rows : n_embd;
  if (params.dimensions < 0 || params.dimensions > width) {
    return invalid_argument("dimensions " + std::to_string(params.dimensions) + " is outside [0, " +
                            std::to_string(width) + "] (0 = all)");
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (const int32_t t : inputs[i]) {
      if (t < 0 || t >= m.hparams().n_vocab) {
        return invalid_argument("input " + std::to_string(i) + ": token id " + std::to_string(t) +
                                " is outside the vocabulary (" +
                                std::to_string(m.hparams().n_vocab) + " tokens)");
      }
    }
  }
  std::unique_ptr<EmbedWork> w(new EmbedWork());
  w->seqs_ = std::move(inputs);
  EMBER_RETURN_IF_ERROR(fit_context(w->seqs_, e.n_ctx, params.truncate, w->truncated_, "input"));
  w->model_ = &m;
  w->params_ = params;
  w->pooling_ = pooling;
  w->dim_ = params.dimensions > 0 ? params.dimensions : width;
  w->encoder_ = encoder;
  // Decoders keep only the rows pooling needs; encoders compute every row anyway.
  w->last_only_ = !encoder && (pooling == Pooling::kLast || pooling == Pooling::kRank);
  w->result_.data.resize(w->seqs_.size());
  for (const auto& s : w->seqs_) w->result_.total_tokens += static_cast<int64_t>(s.size());
  return w;
}

void EmbedWork::deliver(size_t s, const float* rows, int32_t n_rows) {
  const runtime::Model& m = *model_;
  const int64_t n_embd = m.hparams().n_embd;
  const int64_t dim = dim_;
  Embedding& out = result_.data[s];
  out.n_tokens = static_cast<int32_t>(seqs_[s].size());
  out.truncated = truncated_[s] != 0;
  out.dim = static_cast<int32_t>(dim);
  auto finish = [&](const float* v, float* dst) {
    std::copy(v, v + dim, dst);
    if (params_.normalize && pooling_ != Pooling::kRank) l2_normalize(dst, dim);
  };
  switch (pooling_) {
    case Pooling::kNone: {
      out.values.resize(static_cast<size_t>(n_rows * dim));
      for (int32_t r = 0; r < n_rows; ++r) finish(rows + r * n_embd, out.values.data() + r * dim);
      break;
    }
    case Pooling::kMean: {
      std::vector<double> acc(static_cast<size_t>(n_embd), 0.0);
      for (int32_t r = 0; r < n_rows; ++r) {
        for (int64_t c = 0; c < n_embd; ++c) acc[static_cast<size_t>(c)] += rows[r * n_embd + c];
      }
      std::vector<float> mean(static_cast<size_t>(n_embd));
      for (int64_t c = 0; c < n_embd; ++c) {
        mean[static_cast<size_t>(c)] = static_cast<float>(acc[static_cast<size_t>(c)] / n_rows);
      }
      out.values.resize(static_cast<size_t>(dim));
      finish(mean.data(), out.values.data());
      break;
    }
    case Pooling::kCls:
      out.values.resize(static_cast<size_t>(dim));
      finish(rows, out.values.data());
      break;
    case Pooling::kLast:
      out.values.resize(static_cast<size_t>(dim));
      finish(rows + (n_rows - 1) * n_embd, out.values.data());
      break;
    case Pooling::kRank: {
      // Encoders classify the first ([CLS]) token, decoders the last one.
      const float* h = encoder_ ? rows : rows + (n_rows - 1) * n_embd;
      const std::vector<float> head = rank_head(m, h);
      out.values.resize(static_cast<size_t>(dim));
      finish(head.data(), out.values.data());
      break;
    }
    case Pooling::kModel:
      break;
  }
}

EmbedResult EmbedWork::take_embeddings() {
  return std::move(result_);
}

RerankResult EmbedWork::take_scores() {
  RerankResult out;
  out.total_tokens = result_.total_tokens;
  for (const Embedding& emb : result_.data) {
    out.scores.push_back(emb.values.empty() ? 0.0f : emb.values[0]);
    out.n_tokens.push_back(emb.n_tokens);
  }
  return out;
}

Result<std::unique_ptr<EmbedWork>> EmbedWork::rerank(Engine& engine, std::string_view query,
                                                     const std::vector<std::string>& documents,
                                                     const RerankParams& params) {
  auto& e = EmbedRunner::impl(engine);  // (Engine::Impl is EmbedRunner's to name)
  const runtime::Model& m = *e.model;
  if (m.embedding_info().pooling != PoolingType::kRank || !m.cls_out().present()) {
    return invalid_argument(m.description() +
                            " is not a reranker (its pooling type is not 'rank' or it has no "
                            "classification head)");
  }
  if (documents.empty()) return invalid_argument("no documents to rank");
  const Tokenizer& tok = *e.tokenizer;
  const std::string& tmpl = m.embedding_info().rerank_template;
  std::vector<std::vector<int32_t>> pairs;
  pairs.reserve(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    std::vector<int32_t> ids;
    if (!tmpl.empty()) {
      // The rerank template with {query} and {document} substituted (query first), tokenized
      // without added specials but with special-token text parsed (llama-server's rule).
      auto replace_all = [](std::string s, std::string_view from, std::string_view to) {
        for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
          s.replace(p, from.size(), to);
        }
        return s;
      };
      const std::string prompt =
          replace_all(replace_all(tmpl, "{query}", query), "{document}", documents[i]);
      EMBER_ASSIGN_OR_RETURN(ids, tok.tokenize(prompt, false, true));
    } else {
      // [BOS] query [EOS] [SEP] document [EOS]; EOS falls back to SEP; neither half parses
      // special-token text.
      EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> q, tok.tokenize(query, false, false));
      EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> d, tok.tokenize(documents[i], false, false));
      const int32_t eos = tok.eos() >= 0 ? tok.eos() : tok.sep();
      if (tok.add_bos() && tok.bos() >= 0) ids.push_back(tok.bos());
      ids.insert(ids.end(), q.begin(), q.end());
      if (tok.add_eos() && eos >= 0) ids.push_back(eos);
      if (tok.add_sep() && tok.sep() >= 0) ids.push_back(tok.sep());
      ids.insert(ids.end(), d.begin(), d.end());
      if (tok.add_eos() && eos >= 0) ids.push_back(eos);
    }
    pairs.push_back(std::move(ids));
  }
  EmbedParams ep;
  ep.pooling = Pooling::kRank;
  ep.normalize = false;
  ep.truncate = params.truncate;
  std::vector<uint8_t> truncated;
  EMBER_RETURN_IF_ERROR(fit_context(pairs, e.n_ctx, params.truncate, truncated, "document"));
  return embed(engine, std::move(pairs), ep);
}

}  // namespace detail

const char* pooling_name(Pooling p) {
  switch (p) {
    case Pooling::kModel:
      return "model";
    case Pooling::kNone:
      return "none";
    case Pooling::kMean:
      return "mean";
    case Pooling::kCls:
      return "cls";
    case Pooling::kLast:
      return "last";
    case Pooling::kRank:
      return "rank";
  }
  return "unknown";
}

Pooling Engine::pooling() const {
  return resolve_pooling(*impl_->model, Pooling::kModel);
}

int32_t Engine::n_embd() const {
  return static_cast<int32_t>(impl_->model->hparams().n_embd);
}

Result<EmbedResult> Engine::embed(const std::vector<std::string>& inputs,
                                  const EmbedParams& params) {
  if (inputs.empty()) return invalid_argument("no inputs to embed");
  std::vector<std::vector<int32_t>> seqs;
  seqs.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    Result<std::vector<int32_t>> ids =
        impl_->tokenizer->tokenize(inputs[i], params.add_special, params.parse_special);
    if (!ids.ok()) return ids.status().with_context("input " + std::to_string(i));
    seqs.push_back(std::move(ids).value());
  }
  return embed_tokens(seqs, params);
}

Result<EmbedResult> Engine::embed_tokens(const std::vector<std::vector<int32_t>>& inputs,
                                         const EmbedParams& params) {
  EMBER_ASSIGN_OR_RETURN(std::unique_ptr<detail::EmbedWork> w,
                         detail::EmbedWork::embed(*this, inputs, params));
  EMBER_RETURN_IF_ERROR(detail::EmbedRunner::run_all(*this, *w));
  return w->take_embeddings();
}

Result<RerankResult> Engine::rerank(std::string_view query,
                                    const std::vector<std::string>& documents,
                                    const RerankParams& params) {
  EMBER_ASSIGN_OR_RETURN(std::unique_ptr<detail::EmbedWork> w,
                         detail::EmbedWork::rerank(*this, query, documents, params));
  EMBER_RETURN_IF_ERROR(detail::EmbedRunner::run_all(*this, *w));
  return w->take_scores();
}

}  // namespace ember
