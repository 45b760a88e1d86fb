// Engine: model + tokenizer + context + sampler chain behind generate / begin-next-end / stream.
#include "ember/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "api/engine_impl.h"
#include "api/model_impl.h"
#include "base/parallel.h"

namespace ember {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Status check_options(const EngineOptions& o) {
  if (o.n_ctx < 0) return invalid_argument("n_ctx must be >= 0 (0 = the model's own)");
  if (o.n_threads < 0) return invalid_argument("n_threads must be >= 0 (0 = all cores)");
  if (o.n_batch < 1) return invalid_argument("n_batch must be >= 1");
  return Status::Ok();
}

// Makes sequence 0 of the engine's context hold `tokens` (at least one, fewer than n_ctx + 1),
// with the logits of the last one as output 0. Reuses the longest prefix the cache already holds
// (at least the last token is evaluated again, because its logits are needed; with recurrent
// layers only a prefix that extends all the cache holds), then evaluates the rest in batches of
// n_batch. Returns the number of tokens reused. A cancel() request stops it between batches with
// *cancelled set (the cache then holds the tokens evaluated so far).
Result<size_t> evaluate_sequence(runtime::Context& ctx, std::vector<int32_t>& cached,
                                 int32_t n_batch, const std::atomic<bool>& cancel_requested,
                                 std::span<const int32_t> tokens, bool* cancelled) {
  size_t common = 0;
  while (common < cached.size() && common < tokens.size() && cached[common] == tokens[common]) {
    ++common;
  }
  common = std::min(common, tokens.size() - 1);
  if (!ctx.can_resume(0, static_cast<int32_t>(common))) common = 0;
  EMBER_RETURN_IF_ERROR(ctx.seq_rm(0, static_cast<int32_t>(common), -1));
  cached.resize(common);

  runtime::Batch batch;
  const size_t step = static_cast<size_t>(n_batch);
  for (size_t i = common; i < tokens.size(); i += step) {
    if (cancel_requested.load(std::memory_order_relaxed)) {
      *cancelled = true;
      break;
    }
    batch.clear();
    const size_t end = std::min(tokens.size(), i + step);
    for (size_t j = i; j < end; ++j) {
      batch.add(tokens[j], static_cast<int32_t>(j), 0, j + 1 == tokens.size());
    }
    Status st = ctx.decode(batch);
    if (!st.ok()) {
      // The cache may hold part of this batch: forget it so the next prompt re-evaluates.
      (void)ctx.seq_rm(0, static_cast<int32_t>(i), -1);
      return st.with_context("evaluating the prompt");
    }
    cached.insert(cached.end(), tokens.begin() + static_cast<std::ptrdiff_t>(i),
                  tokens.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return common;
}

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "";
}

// ---- Engine ---------------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::load(const std::string& path,
                                             const EngineOptions& options) {
  EMBER_RETURN_IF_ERROR(check_options(options));
  ModelOptions model_options;
  model_options.use_mmap = options.use_mmap;
  model_options.numerics = options.numerics;
  EMBER_ASSIGN_OR_RETURN(std::shared_ptr<const Model> model, Model::load(path, model_options));
  return create(std::move(model), options);
}

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<const Model> model,
                                               const EngineOptions& options) {
  if (model == nullptr) return invalid_argument("the model is null");
  EMBER_RETURN_IF_ERROR(check_options(options));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->model = detail::ModelAccess::impl(*model).model.get();
  impl->tokenizer = &model->tokenizer();
  impl->shared_model = std::move(model);
  int64_t n_ctx = options.n_ctx;
  if (n_ctx == 0) n_ctx = std::min<int64_t>(impl->model->hparams().n_ctx_train, 8192);
  runtime::ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_ubatch = options.n_batch;
  cp.n_seq_max = 1;
  cp.kv_type = detail::kernel_kv_type(options.kv_cache_type);
  cp.n_threads = options.n_threads;
  // One attention algorithm for batches and single tokens, so that a prompt evaluated in one
  // batch and a prompt partly reused from the cache give bit-identical logits: the same request
  // then samples the same tokens whatever the cache held before (the runtime's default picks
  // by batch size, as llama.cpp does, and differs in the last bits, which 8-bit activation
  // rounding can amplify into different samples).
  cp.attention = runtime::AttentionMode::kTiled;
  if (is_encoder(impl->model->hparams().arch)) {
    // Encoders only embed and rerank (api/embed.cc); their inputs are limited by the position
    // table / training context.
    n_ctx = std::min<int64_t>(n_ctx, impl->model->hparams().n_ctx_train);
  } else {
    EMBER_ASSIGN_OR_RETURN(impl->context, runtime::Context::create(*impl->model, cp));
  }
  impl->n_ctx = static_cast<int32_t>(n_ctx);
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const Tokenizer& Engine::tokenizer() const {
  return *impl_->tokenizer;
}
int32_t Engine::n_ctx() const {
  return impl_->n_ctx;
}
int32_t Engine::n_threads() const {
  if (impl_->context == nullptr) {
    return impl_->options.n_threads > 0 ? impl_->options.n_threads : hardware_threads();
  }
  return impl_->context->n_threads();
}
std::string Engine::model_description() const {
  return impl_->model->description();
}
const std::shared_ptr<const Model>& Engine::model() const {
  return impl_->shared_model;
}

Result<std::vector<int32_t>> Engine::tokenize(std::string_view text, bool add_special,
                                              bool parse_special) const {
  return impl_->tokenizer->tokenize(text, add_special, parse_special);
}

Result<std::string> Engine::detokenize(std::span<const int32_t> tokens, bool remove_special,
                                       bool unparse_special) const {
  return impl_->tokenizer->detokenize(tokens, remove_special, unparse_special);
}

Result<size_t> Engine::token_count(std::string_view text, bool add_special,
                                   bool parse_special) const {
  return impl_->tokenizer->token_count(text, add_special, parse_special);
}

void Engine::cancel() {
  impl_->cancel_requested.store(true, std::memory_order_relaxed);
}

Result<Generation> Engine::begin(std::string_view prompt, const GenerationParams& params) {
  Impl& e = *impl_;
  if (e.generation_active) {
    return invalid_argument("a generation is already running on this engine; end() it first");
  }
  EMBER_ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                         e.tokenizer->tokenize(prompt, params.add_special, params.parse_special));
  return begin_tokens(std::move(tokens), params, /*render_special=*/false);
}

Result<Generation> Engine::begin_tokens(std::vector<int32_t> tokens, const GenerationParams& params,
                                        bool render_special) {
  Impl& e = *impl_;
  if (e.context == nullptr) {
    return invalid_argument(e.model->description() +
                            " is an encoder (embedding) model: use embed() or rerank(), it cannot "
                            "generate text");
  }
  if (e.generation_active) {
    return invalid_argument("a generation is already running on this engine; end() it first");
  }
  const Tokenizer& tok = *e.tokenizer;
  EMBER_RETURN_IF_ERROR(detail::SequenceGenerator::validate(params, tok.n_vocab()));
  if (tokens.empty()) {
    return invalid_argument("the prompt is empty (and the model adds no BOS token)");
  }
  if (static_cast<int64_t>(tokens.size()) >= e.n_ctx) {
    return out_of_range("the prompt has " + std::to_string(tokens.size()) +
                        " tokens but the context holds " + std::to_string(e.n_ctx) +
                        " (prompt + at least one generated token)");
  }

  auto state = std::make_unique<detail::GenerationState>();
  state->engine = &e;
  if (detail::SequenceGenerator::needs_trie(params) && !e.token_trie) {
    e.token_trie = sampling::GrammarConstraint::build_trie(tok);
  }
  EMBER_ASSIGN_OR_RETURN(
      state->gen, detail::SequenceGenerator::create(tok, e.token_trie, params, tokens, e.n_ctx,
                                                    render_special));
  const int32_t n_prompt = static_cast<int32_t>(tokens.size());

  e.cancel_requested.store(false, std::memory_order_relaxed);
  e.generation_active = true;
  GenerationUsage& usage = state->gen->result().usage;

  const auto t0 = Clock::now();
  bool cancelled = false;
  Result<size_t> reused = evaluate_sequence(*e.context, e.cached, e.options.n_batch,
                                            e.cancel_requested, tokens, &cancelled);
  if (!reused.ok()) {
    e.generation_active = false;
    return reused.status();
  }
  usage.cached_prompt_tokens = static_cast<int32_t>(*reused);
  if (cancelled) state->finish(FinishReason::kCancelled);
  usage.prompt_ms = ms_since(t0);
  const int32_t evaluated = n_prompt - usage.cached_prompt_tokens;
  if (usage.prompt_ms > 0) usage.prompt_tokens_per_second = evaluated * 1000.0 / usage.prompt_ms;
  return Generation(std::move(state));
}

Result<std::vector<float>> Engine::logits(std::span<const int32_t> tokens) {
  Impl& e = *impl_;
  if (e.context == nullptr) {
    return invalid_argument(e.model->description() +
                            " is an encoder (embedding) model: it has no next-token logits");
  }
  if (e.generation_active) {
    return invalid_argument("a generation is running on this engine; end() it first");
  }
  if (tokens.empty()) return invalid_argument("logits: no tokens");
  if (static_cast<int64_t>(tokens.size()) > e.n_ctx) {
    return out_of_range("logits: " + std::to_string(tokens.size()) +
                        " tokens but the context holds " + std::to_string(e.n_ctx));
  }
  const int64_t n_vocab = e.model->hparams().n_vocab;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab) {
      return invalid_argument("logits: token " + std::to_string(i) + " is " +
                              std::to_string(tokens[i]) + ", outside the vocabulary [0, " +
                              std::to_string(n_vocab) + ")");
    }
  }
  e.cancel_requested.store(false, std::memory_order_relaxed);
  bool cancelled = false;
  EMBER_ASSIGN_OR_RETURN(size_t reused, evaluate_sequence(*e.context, e.cached, e.options.n_batch,
                                                          e.cancel_requested, tokens, &cancelled));
  (void)reused;
  if (cancelled) return ember::cancelled("logits: cancelled");
  const float* row = e.context->logits(0);
  return std::vector<float>(row, row + n_vocab);
}

Result<GenerationResult> Engine::generate(std::string_view prompt, const GenerationParams& params,
                                          const ChunkCallback& on_chunk) {
  EMBER_ASSIGN_OR_RETURN(Generation g, begin(prompt, params));
  while (auto chunk = g.next()) {
    if (on_chunk && !on_chunk(*chunk)) {
      g.state_->finish(FinishReason::kCancelled);
      break;
    }
  }
  GenerationResult result = g.end();
  if (on_chunk && !result.tail.empty()) {
    GenerationChunk last;
    last.text = result.tail;
    on_chunk(last);
  }
  return result;
}

GenerationStream Engine::stream(std::string_view prompt, const GenerationParams& params) {
  return GenerationStream(begin(prompt, params));
}

// ---- Generation ---------------------------------------------------------------------------

Generation::Generation(std::unique_ptr<detail::GenerationState> state) : state_(std::move(state)) {}
Generation::Generation(Generation&&) noexcept = default;
Generation& Generation::operator=(Generation&& other) noexcept {
  if (this != &other) {
    if (state_) state_->end();
    state_ = std::move(other.state_);
  }
  return *this;
}
Generation::~Generation() {
  if (state_) state_->end();
}

std::optional<GenerationChunk> Generation::next() {
  if (!state_) return std::nullopt;
  return state_->step();
}

GenerationResult Generation::end() {
  if (!state_) {
    GenerationResult r;
    r.finish_reason = FinishReason::kError;
    r.error = invalid_argument("end() on a moved-from Generation");
    return r;
  }
  return state_->end();
}

bool Generation::finished() const {
  return !state_ || state_->finished();
}

namespace detail {

GenerationState::~GenerationState() {
  end();
}

std::optional<GenerationChunk> GenerationState::step() {
  if (gen->finished()) return std::nullopt;
  Engine::Impl& e = *engine;
  if (e.cancel_requested.load(std::memory_order_relaxed)) {
    finish(FinishReason::kCancelled);
    return std::nullopt;
  }
  // Evaluate the previously sampled token to get the logits for this step.
  if (pending) {
    runtime::Batch batch;
    const auto pos = static_cast<int32_t>(e.cached.size());
    batch.add(*pending, pos, 0, true);
    Status st = e.context->decode(batch);
    if (!st.ok()) {
      finish(FinishReason::kError, st.with_context("evaluating a generated token"));
      return std::nullopt;
    }
    e.cached.push_back(*pending);
    pending.reset();
  }
  const float* row = e.context->logits(e.context->n_outputs() - 1);
  std::optional<GenerationChunk> chunk =
      gen->sample(std::span<const float>(row, static_cast<size_t>(e.context->n_vocab())),
                  static_cast<int64_t>(e.cached.size()));
  if (chunk && !gen->finished()) pending = gen->last_token();
  return chunk;
}

GenerationResult GenerationState::end() {
  if (ended || !gen) return ended_result;
  ended = true;
  ended_result = gen->end();
  engine->generation_active = false;
  return ended_result;
}

}  // namespace detail

// ---- GenerationStream -----------------------------------------------------------------------

GenerationStream::GenerationStream(Result<Generation> generation) {
  if (generation.ok()) {
    generation_.emplace(std::move(*generation));
  } else {
    result_.finish_reason = FinishReason::kError;
    result_.error = generation.status();
  }
}

GenerationStream::iterator GenerationStream::begin() {
  return advance() ? iterator(this) : iterator();
}

bool GenerationStream::advance() {
  if (!generation_) return false;
  if (auto chunk = generation_->next()) {
    current_ = std::move(*chunk);
    return true;
  }
  if (!tail_sent_) {
    tail_sent_ = true;
    result_ = generation_->end();
    if (!result_.tail.empty()) {
      current_ = GenerationChunk{};
      current_.text = result_.tail;
      return true;
    }
  }
  generation_.reset();
  return false;
}

}  // namespace ember
