// Internal state shared by Engine, Generation and the C API.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/sequence_generator.h"
#include "ember/engine.h"
#include "model/model.h"
#include "runtime/context.h"
#include "runtime/encoder.h"
#include "sampling/chain.h"
#include "sampling/grammar_constraint.h"
#include "text/stop_strings.h"
#include "text/utf8_stream.h"

namespace ember {

struct Engine::Impl {
  // The shared model (kept alive here) and, for convenience, its runtime model and tokenizer.
  std::shared_ptr<const Model> shared_model;
  const runtime::Model* model = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::unique_ptr<runtime::Context> context;  // null for encoder models (they cannot generate)
  // Embedding and reranking (api/embed.cc), created on first use: the encoder forward pass, or a
  // decoder context in embedding mode with up to 64 sequences per batch.
  std::unique_ptr<runtime::Encoder> encoder;
  std::unique_ptr<runtime::Context> embed_context;
  EngineOptions options;
  int32_t n_ctx = 0;
  // Tokens whose keys/values sequence 0 of the context holds, in position order.
  std::vector<int32_t> cached;
  std::atomic<bool> cancel_requested{false};
  // The vocabulary's token bytes as a trie, built on the first constrained generation.
  std::shared_ptr<const grammar::TokenTrie> token_trie;
  bool generation_active = false;
  // Chat completions started on this engine (part of their ids).
  uint64_t chat_count = 0;
};

namespace detail {

// One generation, driven by Generation::next() (the push and range styles are built on it too,
// so all three produce the same tokens). The sampling is SequenceGenerator's (shared with the
// server's scheduler); this adds the engine's cache: one decode per generated token.
struct GenerationState {
  Engine::Impl* engine = nullptr;
  std::unique_ptr<SequenceGenerator> gen;
  // Sampled token whose keys/values are not yet in the cache (decoded at the next step).
  std::optional<int32_t> pending;
  bool ended = false;
  GenerationResult ended_result;

  ~GenerationState();
  bool finished() const { return gen->finished(); }
  std::optional<GenerationChunk> step();
  void finish(FinishReason reason, Status error = Status::Ok()) {
    gen->finish(reason, std::move(error));
  }
  GenerationResult end();
};

}  // namespace detail
}  // namespace ember
