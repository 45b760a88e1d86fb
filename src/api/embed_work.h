// Embedding and rerank requests split into their sequences, so that the sequences of several
// requests can share one forward pass (the server packs concurrent requests this way; Engine::
// embed_tokens packs the inputs of one call the same way).
//
// An EmbedWork is one request, validated and tokenized: its sequences can be evaluated in any
// grouping and order (alone, with their siblings, beside other requests' sequences), and every
// sequence's hidden rows are pooled into the request's result as soon as its pass ends. The
// encoder computes each sequence with the same arithmetic whatever shares its pass (attention
// never crosses sequences, the matrix kernels are batch-invariant), so the vectors are
// bit-identical for any packing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ember/embedding.h"
#include "ember/engine.h"
#include "ember/status.h"

namespace ember::runtime {
class Model;
}

namespace ember::detail {

class EmbedWork {
 public:
  // As Engine::embed_tokens (the same checks and errors) on `inputs`.
  static Result<std::unique_ptr<EmbedWork>> embed(Engine& engine,
                                                  std::vector<std::vector<int32_t>> inputs,
                                                  const EmbedParams& params);
  // As Engine::rerank: the (query, document) pairs built as llama-server builds them.
  static Result<std::unique_ptr<EmbedWork>> rerank(Engine& engine, std::string_view query,
                                                   const std::vector<std::string>& documents,
                                                   const RerankParams& params);

  size_t size() const { return seqs_.size(); }
  const std::vector<int32_t>& tokens(size_t s) const { return seqs_[s]; }
  // Decoders keep only the last row of each sequence (pooling LAST / RANK).
  bool last_only() const { return last_only_; }
  // Pools hidden rows [n_rows][n_embd] of sequence s into the result.
  void deliver(size_t s, const float* rows, int32_t n_rows);
  // The result once every sequence was delivered (moves it out).
  EmbedResult take_embeddings();
  RerankResult take_scores();

 private:
  EmbedWork() = default;
  const runtime::Model* model_ = nullptr;
  std::vector<std::vector<int32_t>> seqs_;
  std::vector<uint8_t> truncated_;
  EmbedParams params_;
  Pooling pooling_ = Pooling::kNone;
  int64_t dim_ = 0;
  bool encoder_ = false;
  bool last_only_ = false;
  EmbedResult result_;
};

// One sequence of a request, as a pass lists it.
struct SeqRef {
  EmbedWork* work = nullptr;
  size_t seq = 0;
};

struct EmbedRunner {
  // Creates the engine's embedding pass on first use (the encoder, or a decoder context in
  // embedding mode). Errors: those of creating it.
  static Status ensure(Engine::Impl& e);
  // Most tokens one pass takes (a longer single sequence still gets a pass of its own) and most
  // sequences (decoder contexts hold at most 64).
  static int64_t pass_tokens(const Engine& engine);
  static size_t pass_sequences(const Engine& engine);
  // Evaluates the listed sequences in one forward pass (each attends to itself only) and hands
  // each one's hidden rows to its work's deliver(), in list order. The list fits pass_tokens and
  // pass_sequences, or is one sequence. Errors: evaluation failures (nothing is delivered).
  static Status pass(Engine& engine, std::span<const SeqRef> seqs);
  // Greedy packing of consecutive sequences of one request into passes (Engine::embed_tokens).
  static Status run_all(Engine& engine, EmbedWork& work);
  static Engine::Impl& impl(Engine& engine);
  static const Engine::Impl& impl(const Engine& engine);
};

}  // namespace ember::detail
