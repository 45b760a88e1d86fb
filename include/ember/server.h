// ember — serving many requests at once on one model: continuous batching, shared prefix cache.
//
//   auto model = ember::Model::load("model.gguf");
//   auto server = ember::Server::create(*model, {.n_parallel = 8, .n_ctx = 4096});
//   ember::ChatRequest req;
//   req.messages = {ember::ChatMessage::user("Hello!")};
//   req.params.generation.max_tokens = 64;
//   // Pull style: events are queued on the handle.
//   auto handle = (*server)->submit(std::move(req));
//   if (!handle.ok()) { /* invalid request, context exceeded, queue full: see submit() */ }
//   while (std::optional<ember::RequestEvent> ev = (*handle)->next()) {
//     if (ev->chat) std::cout << ev->chat->content << std::flush;
//   }
//   // Push style: pass a callback to submit(); it runs on the scheduler thread and must return
//   // quickly (queue the event and wake your own thread; never block or call back into Server).
//
// What a Server does (docs/server.md has the details):
// - One Model, one KV cache of ServerOptions::kv_size cells, ServerOptions::n_parallel slots.
//   Each running choice of a request is one sequence of the cache.
// - A scheduler thread runs steps. One step is one forward pass holding the next token of every
//   decoding sequence plus chunks of waiting prompts, up to ServerOptions::batch_tokens tokens:
//   requests join and leave between steps, and a long prompt is evaluated in chunks so running
//   streams wait at most one chunk.
// - Prefix sharing: a new request reuses the longest prefix of its prompt already held by any
//   live or recently finished sequence (the same cells, not copies). Finished sequences stay
//   cached until their cells are needed, then the least recently used go first. The reused
//   token count is reported as usage.cached_prompt_tokens.
// - Batch invariance: a request with a fixed seed produces the same tokens whether it runs alone
//   or beside other requests, and with or without a cached prefix.
// - Thread safety: every member function may be called from any thread at any time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ember/chat.h"
#include "ember/embedding.h"
#include "ember/generation.h"
#include "ember/kv_cache_type.h"
#include "ember/model.h"
#include "ember/status.h"

namespace ember {

struct ServerOptions {
  // Requests (choices) generating at the same time; each holds one slot. 1..64.
  int32_t n_parallel = 4;
  // Context of one request in tokens: prompt + output. 0 = the model's training context, capped
  // at 8192.
  int32_t n_ctx = 4096;
  // Total KV cache size in tokens, shared by all slots and the prefix cache. 0 = n_parallel *
  // n_ctx. Must be at least n_ctx.
  int32_t kv_size = 0;
  // Most tokens in one forward pass (decoding tokens + prompt chunks). >= 1.
  int32_t batch_tokens = 512;
  // Threads of the forward pass; 0 = all hardware threads.
  int32_t n_threads = 0;
  KvCacheType kv_cache_type = KvCacheType::kF16;
  // Requests waiting for a slot beyond which submit() fails with kResourceExhausted. >= 0.
  int32_t max_queue = 64;
};

// A raw-prompt request (OpenAI's /v1/completions): no chat template.
struct CompletionRequest {
  // The prompt as text (tokenized with params.add_special / params.parse_special) or, when
  // `prompt_tokens` is not empty, as token ids (used as they are).
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  GenerationParams params;
  // Number of choices: independent generations from the same prompt (evaluated once). Choice i
  // uses seed params.sampling.seed + i, modulo 2^32 - 1 so that it never becomes kRandomSeed (a
  // random seed each when the seed is kRandomSeed).
  int32_t n = 1;
};

// A chat request (OpenAI's /v1/chat/completions): rendered with the model's chat template as
// Engine::create does, output parsed into content, reasoning and tool calls.
struct ChatRequest {
  std::vector<ChatMessage> messages;
  ChatParams params;
  int32_t n = 1;  // choices, as CompletionRequest::n
};

// Embeddings (OpenAI's /v1/embeddings): texts, or token ids when `input_tokens` is not empty
// (used as given). Run by the scheduler thread between generation steps, as Engine::embed.
struct EmbedRequest {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> input_tokens;
  EmbedParams params;
};

// Reranking (/v1/rerank): as Engine::rerank.
struct RerankRequest {
  std::string query;
  std::vector<std::string> documents;
  RerankParams params;
};

// Timing of a request, filled in as it goes (steady clock).
struct RequestTimes {
  std::chrono::steady_clock::time_point submitted;
  std::chrono::steady_clock::time_point started;      // left the queue (took a slot)
  std::chrono::steady_clock::time_point first_token;  // first token of this choice sampled
};

// One event of a request's stream. Every choice ends with exactly one event whose `last` is
// true; after the last event of every choice the request is done.
struct RequestEvent {
  int32_t index = 0;  // the choice, 0..n-1

  // Chat requests: the chunk, shaped like chat.completion.chunk (content, reasoning and
  // tool-call deltas; the first chunk of a choice has the role, the last one finish_reason and
  // usage). A step's text may give several chunks (one event each; its tokens ride on the
  // first) or none (text held back by the parser: an event with tokens and no chunk).
  // Completion requests: std::nullopt.
  std::optional<ChatChunk> chat;
  // Both kinds: the text generated since the previous event (completions: the text to stream;
  // chat: the raw model output, before the chat parser) and the tokens sampled since the
  // previous event with, when params.sampling.n_probs > 0, each token's n_probs most likely
  // candidates (generation.top_probabilities[i] for generation.tokens[i]).
  GenerationChunk generation;
  // Probability of each token in generation.tokens under the sampling distribution of its step
  // (filled when n_probs > 0).
  std::vector<float> sampled_probabilities;

  // The last event of this choice: why it ended, the totals.
  bool last = false;
  // Why the generation ended (chat: the raw generation's reason; chat->finish_reason has the
  // chat one, e.g. tool_calls).
  FinishReason finish_reason = FinishReason::kNone;
  std::string stop_string;  // the stop string that ended it, if any
  Status error;             // finish_reason kError
  GenerationUsage usage;    // on the last event: this choice's usage
  RequestTimes times;       // on every event
};

using RequestEventCallback = std::function<void(RequestEvent)>;

// A submitted request. Shared between the caller and the server; keep it to pull events or
// cancel.
class ServerRequest {
 public:
  virtual ~ServerRequest() = default;
  // Unique within the Server, increasing.
  virtual uint64_t id() const = 0;
  // Pull style (only when submit() was given no callback): blocks until the next event, or
  // returns std::nullopt once every choice has delivered its last event.
  virtual std::optional<RequestEvent> next() = 0;
  // Like next(), but gives up after `timeout` (returns std::nullopt; check done()).
  virtual std::optional<RequestEvent> next_for(std::chrono::milliseconds timeout) = 0;
  // Every choice has finished (its last event was produced).
  virtual bool done() const = 0;
  // Stops every choice before its next step and frees its slot; each choice then ends with
  // finish_reason kCancelled (also delivered). No effect once done.
  virtual void cancel() = 0;
  // Prompt tokens (after templating / tokenization).
  virtual int32_t prompt_tokens() const = 0;
};

// One slot, as GET /slots shows it.
struct SlotState {
  int32_t id = 0;
  bool busy = false;
  uint64_t request_id = 0;  // when busy
  int32_t choice = 0;
  int32_t n_prompt = 0;       // prompt tokens of the running choice
  int32_t n_cached = 0;       // of those, reused from the cache
  int32_t n_prompt_done = 0;  // evaluated so far (prompt processing in chunks)
  int32_t n_generated = 0;    // tokens generated so far
  int32_t n_ctx = 0;          // ServerOptions::n_ctx
};

// A snapshot of the server's state and counters (GET /metrics, /slots, /props).
struct ServerStats {
  int32_t requests_running = 0;  // requests with at least one choice in a slot
  int32_t requests_waiting = 0;  // requests in the queue
  int64_t kv_cells_total = 0;
  int64_t kv_cells_used = 0;          // by live sequences and the prefix cache
  int64_t kv_cells_live = 0;          // by running requests only
  double kv_cache_usage_ratio = 0.0;  // kv_cells_used / kv_cells_total
  uint64_t prompt_tokens_total = 0;
  uint64_t prompt_tokens_cached_total = 0;
  uint64_t generation_tokens_total = 0;
  uint64_t steps_total = 0;  // forward passes run
  // Embedding / rerank forward passes run, and the input sequences they evaluated (the
  // sequences of concurrent requests share passes).
  uint64_t embed_passes_total = 0;
  uint64_t embed_sequences_total = 0;
  // Finished choices by finish reason name ("stop", "length", "tool_calls", "cancelled",
  // "error").
  std::map<std::string, uint64_t> requests_finished;
  std::vector<SlotState> slots;
};

class Server {
 public:
  // Creates the cache and starts the scheduler thread. Errors: a null model, options out of
  // range (named), not enough memory for the cache.
  static Result<std::unique_ptr<Server>> create(std::shared_ptr<const Model> model,
                                                const ServerOptions& options = {});
  // Cancels whatever still runs (each choice gets its last event) and stops the thread.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Queues a request. With `on_event`, events go to the callback (on the scheduler thread, in
  // order; it must not block); without, they are queued for ServerRequest::next().
  // Errors (nothing is queued):
  //   kInvalidArgument — invalid parameters, messages, tools, grammar (message names the field);
  //   kOutOfRange      — prompt + max_tokens exceed n_ctx; the message names both numbers and
  //                      starts with "exceed_context_size_error:";
  //   kResourceExhausted — the queue holds max_queue requests already, or the server is
  //                      shutting down (the message says which).
  // max_tokens = -1 means "up to the context": n_ctx - prompt tokens.
  Result<std::shared_ptr<ServerRequest>> submit(CompletionRequest request,
                                                RequestEventCallback on_event = {});
  Result<std::shared_ptr<ServerRequest>> submit(ChatRequest request,
                                                RequestEventCallback on_event = {});

  // Embeds / reranks on the scheduler thread, with the results of Engine::embed / Engine::rerank:
  // each round (before the generation step) evaluates one batched forward pass holding input
  // sequences of every waiting embedding request, up to ServerOptions::batch_tokens (at least
  // the context); each request gets at least one sequence per pass while they fit, so a long
  // request does not hold back the others. A sequence's vectors do not depend on what shares its
  // pass. The call blocks until the request is done. Errors: those of Engine::embed / rerank
  // (invalid input, too long, not an embedding model / not a reranker), kResourceExhausted while
  // shutting down.
  Result<EmbedResult> embed(EmbedRequest request);
  Result<RerankResult> rerank(RerankRequest request);
  // The same without blocking: `done` gets the result on the scheduler thread (it must return
  // quickly). Returns an error, and never calls `done`, when the job cannot be queued (shutting
  // down; max_queue embedding jobs waiting; embed_async: a text that does not tokenize, since
  // texts are tokenized on the calling thread).
  Status embed_async(EmbedRequest request, std::function<void(Result<EmbedResult>)> done);
  Status rerank_async(RerankRequest request, std::function<void(Result<RerankResult>)> done);
  // True for encoder models (bert, nomic-bert): they only embed and rerank; submit() fails with
  // kInvalidArgument for them.
  bool embeddings_only() const;

  // Cancels a request by id (see ServerRequest::cancel); false when no such request runs.
  bool cancel(uint64_t request_id);

  // Stops accepting requests (submit fails with kResourceExhausted), waits up to `grace` for
  // running and queued requests to finish, then cancels the rest. Returns when nothing runs.
  void shutdown(std::chrono::milliseconds grace);

  // A consistent snapshot, published by the scheduler after each step (requests_waiting is the
  // queue as it is now): right after a request's last event, the step that ended it may not be
  // in the snapshot yet.
  ServerStats stats() const;
  const ServerOptions& options() const;  // with the defaults resolved (n_ctx, kv_size, ...)
  const std::shared_ptr<const Model>& model() const;

  // The prompt a chat request would evaluate (rendered text and tokens), as
  // Engine::apply_chat_template.
  Result<ChatPrompt> apply_chat_template(const std::vector<ChatMessage>& messages,
                                         const ChatParams& params) const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
