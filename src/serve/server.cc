// Server: creation, submission (tokenize and validate on the caller's thread), cancellation,
// shutdown and stats. The scheduler loop is in scheduler.cc.
#include <algorithm>

#include "api/model_impl.h"
#include "chat/chat_prompt.h"
#include "serve/server_impl.h"

namespace ember {
namespace serve {

// ---- RequestState -----------------------------------------------------------------------------

void RequestState::deliver(RequestEvent ev) {
  const bool last = ev.last;
  if (callback_) {
    if (last) {
      // Counted first: once the callback has seen the last event, done() is true.
      std::lock_guard<std::mutex> lk(mu_);
      ++finished_;
    }
    callback_(std::move(ev));
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    events_.push_back(std::move(ev));
    if (last) ++finished_;
  }
  cv_.notify_all();
}

std::optional<RequestEvent> RequestState::next() {
  std::unique_lock<std::mutex> lk(mu_);
  if (callback_) return std::nullopt;
  cv_.wait(lk, [&] { return !events_.empty() || finished_ >= n; });
  if (events_.empty()) return std::nullopt;
  RequestEvent ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

std::optional<RequestEvent> RequestState::next_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (callback_) return std::nullopt;
  cv_.wait_for(lk, timeout, [&] { return !events_.empty() || finished_ >= n; });
  if (events_.empty()) return std::nullopt;
  RequestEvent ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

bool RequestState::done() const {
  std::lock_guard<std::mutex> lk(mu_);
  return finished_ >= n;
}

void RequestState::cancel() {
  if (done()) return;
  cancel_flag_.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lk(shared_->mu);
  shared_->notify();
}

}  // namespace serve

namespace {

// Choice i's seed: seed + i, modulo 2^32 - 1 so that it never becomes kRandomSeed (which would
// mean "random"); a random seed stays random for every choice.
uint32_t choice_seed(uint32_t seed, int32_t i) {
  if (seed == kRandomSeed) return seed;
  const uint64_t v = uint64_t{seed} + static_cast<uint64_t>(i);
  return static_cast<uint32_t>(v % uint64_t{kRandomSeed});
}

std::string model_chat_template(const runtime::Model& model) {
  Result<std::string> t = model.file().get_string("tokenizer.chat_template");
  return t.ok() ? *t : std::string();
}

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  shutdown(std::chrono::milliseconds(0));
  {
    std::lock_guard<std::mutex> lk(impl_->shared->mu);
    impl_->shared->stop = true;
    impl_->shared->notify();
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

Result<std::unique_ptr<Server>> Server::create(std::shared_ptr<const Model> model,
                                               const ServerOptions& options) {
  if (model == nullptr) return invalid_argument("the model is null");
  ServerOptions o = options;
  if (o.n_parallel < 1 || o.n_parallel > KvCache::kMaxSequences) {
    return invalid_argument("n_parallel must be in [1, " + std::to_string(KvCache::kMaxSequences) +
                            "], got " + std::to_string(o.n_parallel));
  }
  if (o.n_ctx < 0) return invalid_argument("n_ctx must be >= 1 (0 = the model's own)");
  if (o.kv_size < 0) return invalid_argument("kv_size must be >= 0 (0 = n_parallel * n_ctx)");
  if (o.batch_tokens < 1) return invalid_argument("batch_tokens must be >= 1");
  if (o.n_threads < 0) return invalid_argument("n_threads must be >= 0 (0 = all cores)");
  if (o.max_queue < 0) return invalid_argument("max_queue must be >= 0");
  auto impl = std::make_unique<Impl>();
  impl->rmodel = detail::ModelAccess::impl(*model).model.get();
  impl->tokenizer = &model->tokenizer();
  impl->chat_template = model_chat_template(*impl->rmodel);
  impl->model = std::move(model);
  if (o.n_ctx == 0) {
    o.n_ctx = static_cast<int32_t>(std::min<int64_t>(impl->rmodel->hparams().n_ctx_train, 8192));
  }
  if (o.kv_size == 0)
    o.kv_size =
        static_cast<int32_t>(std::min<int64_t>(int64_t{o.n_parallel} * o.n_ctx, int64_t{1} << 24));
  if (o.kv_size < o.n_ctx) {
    return invalid_argument("kv_size (" + std::to_string(o.kv_size) + ") must be at least n_ctx (" +
                            std::to_string(o.n_ctx) + ")");
  }
  const int64_t cells = (int64_t{o.kv_size} + serve::kBlock - 1) / serve::kBlock * serve::kBlock;
  runtime::ContextParams cp;
  cp.n_ctx = cells;
  cp.n_ubatch = o.batch_tokens;
  cp.n_seq_max = KvCache::kMaxSequences;
  cp.kv_type = detail::kernel_kv_type(o.kv_cache_type);
  cp.n_threads = o.n_threads;
  // One attention algorithm for every batch shape (as Engine::create explains): a sequence's
  // logits then do not depend on how its prompt was chunked, on what else ran in the step, nor
  // on a reused prefix.
  cp.attention = runtime::AttentionMode::kTiled;
  if (!is_encoder(impl->rmodel->hparams().arch)) {
    EMBER_ASSIGN_OR_RETURN(impl->context, runtime::Context::create(*impl->rmodel, cp));
    impl->blocks = std::make_unique<serve::KvBlocks>(*impl->context, KvCache::kMaxSequences);
  }
  impl->options = o;
  impl->shared = std::make_shared<serve::Shared>();
  impl->slots.assign(static_cast<size_t>(o.n_parallel), nullptr);
  impl->publish_stats();
  std::unique_ptr<Server> server(new Server(std::move(impl)));
  Impl* raw = server->impl_.get();
  server->impl_->thread = std::thread([raw] { raw->run(); });
  return server;
}

namespace {

// Checks what every request shares: choices, context size, cache size; resolves max_tokens.
Status check_request(const ServerOptions& o, int64_t n_blocks, int32_t n, int32_t n_prompt,
                     int32_t& max_tokens) {
  if (n < 1 || n > o.n_parallel) {
    return invalid_argument("n must be in [1, " + std::to_string(o.n_parallel) +
                            "] (the server's parallel slots), got " + std::to_string(n));
  }
  if (n_prompt == 0)
    return invalid_argument("the prompt is empty (and the model adds no BOS token)");
  if (max_tokens < -1) return invalid_argument("max_tokens must be >= -1 (-1 = up to the context)");
  const int64_t want = max_tokens < 0 ? 1 : max_tokens;
  if (n_prompt + want > o.n_ctx || n_prompt >= o.n_ctx) {
    return out_of_range("exceed_context_size_error: the request needs " +
                        std::to_string(n_prompt + want) + " tokens (prompt " +
                        std::to_string(n_prompt) + " + max_tokens " +
                        (max_tokens < 0 ? std::string("at least 1") : std::to_string(want)) +
                        ") but the context size is " + std::to_string(o.n_ctx));
  }
  if (max_tokens < 0) max_tokens = o.n_ctx - n_prompt;
  // The worst case with an empty cache must fit, or the request could never start.
  const int64_t total = serve::KvBlocks::blocks_for(n_prompt + std::max(max_tokens, 1));
  const int64_t per_sibling = total - (n_prompt - 1) / serve::kBlock;
  const int64_t need = total + (n - 1) * per_sibling;
  if (need > n_blocks) {
    return invalid_argument("n = " + std::to_string(n) + " choices of " + std::to_string(n_prompt) +
                            " + " + std::to_string(max_tokens) +
                            " tokens need more than the KV cache holds (kv_size " +
                            std::to_string(o.kv_size) + ")");
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<ServerRequest>> Server::submit(CompletionRequest request,
                                                      RequestEventCallback on_event) {
  Impl& s = *impl_;
  if (s.blocks == nullptr) {
    return invalid_argument(s.rmodel->description() +
                            " is an embedding model: it serves embeddings and reranking, not "
                            "text generation");
  }
  const Tokenizer& tok = *s.tokenizer;
  std::vector<int32_t> prompt;
  if (!request.prompt_tokens.empty()) {
    for (size_t i = 0; i < request.prompt_tokens.size(); ++i) {
      const int32_t t = request.prompt_tokens[i];
      if (t < 0 || t >= tok.n_vocab()) {
        return invalid_argument("prompt token " + std::to_string(i) + " (" + std::to_string(t) +
                                ") is outside the vocabulary of " + std::to_string(tok.n_vocab()) +
                                " tokens");
      }
    }
    prompt = std::move(request.prompt_tokens);
  } else {
    EMBER_ASSIGN_OR_RETURN(prompt, tok.tokenize(request.prompt, request.params.add_special,
                                                request.params.parse_special));
  }
  GenerationParams params = request.params;
  EMBER_RETURN_IF_ERROR(detail::SequenceGenerator::validate(params, tok.n_vocab()));
  EMBER_RETURN_IF_ERROR(check_request(s.options, s.blocks->n_blocks(), request.n,
                                      static_cast<int32_t>(prompt.size()), params.max_tokens));
  const std::shared_ptr<const grammar::TokenTrie> trie = s.trie_for(params);
  auto req = std::make_shared<serve::RequestState>(0, s.shared, std::move(on_event));
  req->n = request.n;
  req->max_tokens = params.max_tokens;
  for (int32_t i = 0; i < request.n; ++i) {
    GenerationParams p = params;
    p.sampling.seed = choice_seed(params.sampling.seed, i);
    EMBER_ASSIGN_OR_RETURN(std::unique_ptr<detail::SequenceGenerator> g,
                           detail::SequenceGenerator::create(tok, trie, p, prompt, s.options.n_ctx,
                                                             /*render_special=*/false));
    req->gens.push_back(std::move(g));
  }
  req->prompt = std::move(prompt);
  return s.enqueue(std::move(req));
}

Result<std::shared_ptr<ServerRequest>> Server::submit(ChatRequest request,
                                                      RequestEventCallback on_event) {
  Impl& s = *impl_;
  if (s.blocks == nullptr) {
    return invalid_argument(s.rmodel->description() +
                            " is an embedding model: it serves embeddings and reranking, not "
                            "text generation");
  }
  const Tokenizer& tok = *s.tokenizer;
  EMBER_ASSIGN_OR_RETURN(chat::ChatPlan plan,
                         chat::plan_chat(tok, s.chat_template, request.messages, request.params));
  GenerationParams params = plan.generation;
  EMBER_RETURN_IF_ERROR(detail::SequenceGenerator::validate(params, tok.n_vocab()));
  EMBER_RETURN_IF_ERROR(check_request(s.options, s.blocks->n_blocks(), request.n,
                                      static_cast<int32_t>(plan.tokens.size()), params.max_tokens));
  const std::shared_ptr<const grammar::TokenTrie> trie = s.trie_for(params);
  auto req = std::make_shared<serve::RequestState>(0, s.shared, std::move(on_event));
  req->chat = true;
  req->n = request.n;
  req->max_tokens = params.max_tokens;
  const auto now = std::chrono::system_clock::now();
  const int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const uint64_t nanos = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
  const uint64_t count = s.chat_count.fetch_add(1) + 1;
  std::string id;
  for (int32_t i = 0; i < request.n; ++i) {
    GenerationParams p = params;
    p.sampling.seed = choice_seed(params.sampling.seed, i);
    // As Engine::begin_chat: a fixed seed gives reproducible ids (and tool-call ids).
    const uint64_t id_seed =
        p.sampling.seed != kRandomSeed
            ? detail::mix_bits(p.sampling.seed)
            : detail::mix_bits(nanos ^ detail::mix_bits(count) ^ detail::mix_bits(i + 1));
    if (i == 0) id = detail::chat_completion_id(id_seed);
    chat::OutputParserOptions po = plan.parser;
    po.id_seed = id_seed;
    EMBER_ASSIGN_OR_RETURN(
        std::unique_ptr<detail::ChatOutput> out,
        detail::ChatOutput::create(std::move(po), id, created, request.params.model));
    EMBER_ASSIGN_OR_RETURN(
        std::unique_ptr<detail::SequenceGenerator> g,
        detail::SequenceGenerator::create(tok, trie, p, plan.tokens, s.options.n_ctx,
                                          /*render_special=*/true));
    req->gens.push_back(std::move(g));
    req->chats.push_back(std::move(out));
  }
  req->prompt = std::move(plan.tokens);
  return s.enqueue(std::move(req));
}

Result<std::shared_ptr<ServerRequest>> Server::Impl::enqueue(
    std::shared_ptr<serve::RequestState> req) {
  serve::Shared& sh = *shared;
  std::lock_guard<std::mutex> lk(sh.mu);
  if (!sh.accepting) return resource_exhausted("the server is shutting down");
  // A request waits when the slots are taken (by running or earlier queued requests); the queue
  // holds at most max_queue waiting requests.
  const int32_t free_slots = options.n_parallel - sh.busy_slots - sh.queued_choices;
  if (req->n > free_slots && static_cast<int32_t>(sh.queue.size()) >= options.max_queue) {
    return resource_exhausted("the request queue is full (" + std::to_string(options.max_queue) +
                              " requests waiting); retry later");
  }
  req->set_id(sh.next_id++);
  req->times.submitted = serve::Clock::now();
  sh.queue.push_back(req);
  sh.queued_choices += req->n;
  sh.active[req->id()] = req;
  sh.notify();
  return std::shared_ptr<ServerRequest>(std::move(req));
}

bool Server::cancel(uint64_t request_id) {
  std::shared_ptr<serve::RequestState> req;
  {
    std::lock_guard<std::mutex> lk(impl_->shared->mu);
    auto it = impl_->shared->active.find(request_id);
    if (it == impl_->shared->active.end()) return false;
    req = it->second.lock();
  }
  if (!req || req->done()) return false;
  req->cancel();
  return true;
}

void Server::shutdown(std::chrono::milliseconds grace) {
  serve::Shared& sh = *impl_->shared;
  std::unique_lock<std::mutex> lk(sh.mu);
  sh.accepting = false;
  auto idle = [&] { return sh.queue.empty() && sh.busy_slots == 0 && sh.embed_jobs == 0; };
  sh.idle_cv.wait_for(lk, grace, idle);
  if (!idle()) {
    sh.cancel_all = true;
    sh.notify();
    sh.idle_cv.wait(lk, idle);
  }
}

ServerStats Server::stats() const {
  std::lock_guard<std::mutex> lk(impl_->shared->mu);
  ServerStats s = impl_->shared->stats;
  // The queue as it is now (the rest is the scheduler's snapshot after its last step).
  s.requests_waiting = static_cast<int32_t>(impl_->shared->queue.size());
  return s;
}

const ServerOptions& Server::options() const {
  return impl_->options;
}

const std::shared_ptr<const Model>& Server::model() const {
  return impl_->model;
}

Result<ChatPrompt> Server::apply_chat_template(const std::vector<ChatMessage>& messages,
                                               const ChatParams& params) const {
  EMBER_ASSIGN_OR_RETURN(
      chat::ChatPlan plan,
      chat::plan_chat(*impl_->tokenizer, impl_->chat_template, messages, params));
  ChatPrompt p;
  p.text = std::move(plan.rendered);
  p.tokens = std::move(plan.tokens);
  p.format = std::string(chat::chat_format_name(plan.syntax.format));
  return p;
}

}  // namespace ember
