// ember — the convenient entry point: load a model, generate text.
//
//   auto engine = ember::Engine::load("model.gguf", {.n_ctx = 4096});
//   if (!engine.ok()) { std::cerr << engine.status().to_string() << "\n"; return 1; }
//
//   // Push style: chunks of valid UTF-8 delivered to a callback as they are generated.
//   ember::GenerationParams params;
//   params.max_tokens = 128;
//   auto result = (*engine)->generate("Once upon a time", params,
//                                    [](const ember::GenerationChunk& c) {
//                                      std::cout << c.text << std::flush;
//                                      return true;  // false stops the generation
//                                    });
//
//   // Pull style: prompt evaluated in begin(), one chunk per next(), the tail from end().
//   auto g = (*engine)->begin("Once upon a time", params);
//   while (auto chunk = g->next()) std::cout << chunk->text;
//   std::cout << g->end().tail;
//
//   // Range style.
//   for (const ember::GenerationChunk& c : (*engine)->stream("Once upon a time", params)) ...
//
// The same prompt, parameters and seed give the same tokens in all three styles, with any thread
// count. An Engine runs one generation at a time (begin() while a Generation is active is an
// error); cancel() may be called from any thread and stops the running generation before its
// next token (or between prompt batches). Consecutive generations reuse the longest common
// prefix of the previous prompt + output that is still in the KV cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ember/embedding.h"
#include "ember/generation.h"
#include "ember/kv_cache_type.h"
#include "ember/model.h"
#include "ember/numerics.h"
#include "ember/status.h"
#include "ember/tokenizer.h"

namespace ember {

struct EngineOptions {
  // Context size in tokens (prompt + output). 0 = the model's training context, capped at 8192.
  int32_t n_ctx = 4096;
  // Worker threads for the forward pass; 0 = all hardware threads.
  int32_t n_threads = 0;
  // Tokens evaluated together during prompt processing.
  int32_t n_batch = 512;
  KvCacheType kv_cache_type = KvCacheType::kF16;
  // Map the file instead of reading it into memory (faster start, pages shared between processes).
  bool use_mmap = true;
  // The model's numerics (ember/numerics.h) when Engine::create loads it from a path; an Engine
  // on an already loaded Model uses that Model's (ModelOptions::numerics).
  Numerics numerics = Numerics::kFast;
};

class Engine;
namespace detail {
struct GenerationState;
struct ChatState;
struct EmbedRunner;
}  // namespace detail

// Chat types (declared in ember/chat.h; include it to use Engine::create / begin_chat).
struct ChatMessage;
struct ChatParams;
struct ChatChunk;
struct ChatCompletion;
struct ChatPrompt;
class ChatGeneration;
using ChatChunkCallback = std::function<bool(const ChatChunk&)>;

// A running generation in pull style (Engine::begin). Move-only; destroying it ends it.
class Generation {
 public:
  Generation(Generation&&) noexcept;
  Generation& operator=(Generation&&) noexcept;
  ~Generation();

  // The next chunk, or std::nullopt when the generation has finished (see end() for why).
  // A chunk's text may be empty when its token only started a character or a stop string.
  std::optional<GenerationChunk> next();
  // Finishes (stopping early if still running) and returns the result; `tail` holds the text
  // that next() never returned (held-back bytes). Calling end() twice returns the same result.
  GenerationResult end();
  bool finished() const;

 private:
  friend class Engine;
  explicit Generation(std::unique_ptr<detail::GenerationState> state);
  std::unique_ptr<detail::GenerationState> state_;
};

// Input range over the chunks of a generation (Engine::stream); the tail comes as a last chunk.
// Errors end the range; `result()` then reports them.
class GenerationStream {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = GenerationChunk;
    using difference_type = std::ptrdiff_t;
    using pointer = const GenerationChunk*;
    using reference = const GenerationChunk&;
    iterator() = default;
    reference operator*() const { return stream_->current_; }
    pointer operator->() const { return &stream_->current_; }
    iterator& operator++() {
      if (!stream_->advance()) stream_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.stream_ == b.stream_; }

   private:
    friend class GenerationStream;
    explicit iterator(GenerationStream* s) : stream_(s) {}
    GenerationStream* stream_ = nullptr;
  };

  iterator begin();
  iterator end() { return iterator(); }
  // The final result once the range is exhausted (or the error that prevented starting).
  const GenerationResult& result() const { return result_; }

 private:
  friend class Engine;
  GenerationStream(Result<Generation> generation);
  bool advance();

  std::optional<Generation> generation_;
  GenerationChunk current_;
  GenerationResult result_;
  bool tail_sent_ = false;
};

// Called with each chunk; return false to stop the generation (finish reason kCancelled).
using ChunkCallback = std::function<bool(const GenerationChunk&)>;

class Engine {
 public:
  // Loads the model, its tokenizer and a context. Errors: unreadable or invalid file, bad options.
  static Result<std::unique_ptr<Engine>> load(const std::string& path,
                                              const EngineOptions& options = {});
  // Creates an Engine (its own context and generation state) on a Model already loaded with
  // Model::load (ember/model.h), which the Engine keeps alive. Several Engines, and Contexts,
  // can share one Model: the weights are loaded once. options.use_mmap is not used here (the
  // Model was loaded already). Errors: a null model, bad options, not enough memory.
  static Result<std::unique_ptr<Engine>> create(std::shared_ptr<const Model> model,
                                                const EngineOptions& options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Generates from a raw prompt (no chat template). Returns the result also when the generation
  // was cancelled or hit a limit; an error Status only when it could not start (invalid
  // parameters, prompt longer than the context, ...). Errors during generation are reported in
  // the result (finish_reason kError).
  Result<GenerationResult> generate(std::string_view prompt, const GenerationParams& params,
                                    const ChunkCallback& on_chunk = {});

  // Pull style: evaluates the prompt, then one chunk per Generation::next().
  Result<Generation> begin(std::string_view prompt, const GenerationParams& params);
  // Range style over the chunks.
  GenerationStream stream(std::string_view prompt, const GenerationParams& params);

  // Chat completion (see ember/chat.h for the types and the full description): renders the
  // model's chat template with `messages`, tokenizes it so that message text can never become
  // control tokens, generates, and parses the reply into content, reasoning and tool calls.
  // `on_chunk` receives OpenAI-style chunks as they are produced (return false to stop). Errors
  // (a Status) only when the request is invalid or cannot start; problems during generation are
  // reported in the completion (finish_reason kError).
  Result<ChatCompletion> create(const std::vector<ChatMessage>& messages, const ChatParams& params,
                                const ChatChunkCallback& on_chunk = {});
  // Pull style: evaluates the prompt, then one chunk per ChatGeneration::next().
  Result<ChatGeneration> begin_chat(const std::vector<ChatMessage>& messages,
                                    const ChatParams& params);
  // The prompt create() would evaluate for this request: rendered text and token ids.
  Result<ChatPrompt> apply_chat_template(const std::vector<ChatMessage>& messages,
                                         const ChatParams& params) const;

  // Embeddings (see ember/embedding.h): one vector per input (per token with Pooling::kNone).
  // Many inputs are evaluated together in batched forward passes; each input is its own
  // sequence. Errors: an empty input list, a model without a usable pooling (a decoder whose file
  // names none and no pooling asked for), kRank without a classification head, an input longer
  // than the context (unless params.truncate), dimensions out of range, a generation running.
  Result<EmbedResult> embed(const std::vector<std::string>& inputs, const EmbedParams& params = {});
  // The same on token ids (used as given: no special tokens are added).
  Result<EmbedResult> embed_tokens(const std::vector<std::vector<int32_t>>& inputs,
                                   const EmbedParams& params = {});
  // Relevance of each document to the query, with a reranker (a model whose pooling is RANK):
  // the pair is built as llama-server's /rerank builds it (the rerank chat template when the
  // model has one, else [BOS] query [EOS] [SEP] document [EOS]). Errors: not a reranker, no
  // documents, a pair longer than the context (unless params.truncate).
  Result<RerankResult> rerank(std::string_view query, const std::vector<std::string>& documents,
                              const RerankParams& params = {});
  // The model's own pooling (`<arch>.pooling_type`; kNone when absent) and embedding width.
  Pooling pooling() const;
  int32_t n_embd() const;

  // Evaluates `tokens` as this engine's sequence and returns the logits of the last one
  // (n_vocab values, the model's raw output before any sampling). The longest prefix the cache
  // already holds is reused, as for a generation's prompt, and the tokens stay cached, so calls
  // on growing prefixes of one sequence evaluate only the new tokens; the logits are the same
  // either way (ember/context.h, "Numerics"). Errors: an encoder model, a running generation,
  // no tokens, more tokens than the context, a token id outside the vocabulary; cancel() stops
  // it between batches (kCancelled).
  Result<std::vector<float>> logits(std::span<const int32_t> tokens);

  // Stops the running generation before its next token; safe from any thread (e.g. a signal
  // handler thread or a UI thread). No effect when nothing runs.
  void cancel();

  // Tokenizer shortcuts (see ember/tokenizer.h): thread-safe.
  Result<std::vector<int32_t>> tokenize(std::string_view text, bool add_special = true,
                                        bool parse_special = false) const;
  Result<std::string> detokenize(std::span<const int32_t> tokens, bool remove_special = false,
                                 bool unparse_special = false) const;
  Result<size_t> token_count(std::string_view text, bool add_special = true,
                             bool parse_special = false) const;

  const Tokenizer& tokenizer() const;
  int32_t n_ctx() const;
  int32_t n_threads() const;
  // Architecture, size and type in words, e.g. "llama 1.24B q4_0" (as Model::description()).
  std::string model_description() const;
  // The model this Engine runs (shared; see Engine::create).
  const std::shared_ptr<const Model>& model() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  // begin() on already tokenized input; `render_special` shows control tokens in the output
  // text (chat: markers such as <tool_call> may be control tokens).
  Result<Generation> begin_tokens(std::vector<int32_t> tokens, const GenerationParams& params,
                                  bool render_special);
  std::unique_ptr<Impl> impl_;
  friend struct detail::GenerationState;
  friend struct detail::ChatState;
  friend struct detail::EmbedRunner;
};

}  // namespace ember
