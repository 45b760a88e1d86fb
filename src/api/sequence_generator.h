// The per-sequence half of a generation: from the logits of a sequence's last token to the next
// token and the text to show. Shared by Engine (one sequence, src/api/engine.cc) and the serving
// scheduler (many sequences in one batch, src/serve/), so both sample exactly the same tokens
// for the same parameters and seed.
//
//   auto gen = SequenceGenerator::create(tokenizer, trie, params, prompt_tokens, n_ctx, false);
//   while (!gen->finished()) {
//     ... evaluate the model, get `logits` [n_vocab] of the last token of the sequence ...
//     std::optional<GenerationChunk> chunk = gen->sample(logits, n_cached);
//     ... show chunk->text; decode gen->last_token() next unless gen->finished() ...
//   }
//   GenerationResult r = gen->end();   // tail (held-back text), timings
//
// What sample() does, in order: ban end-of-generation tokens (ignore_eos), run the sampler chain
// (logit bias, penalties, filters, seeded draw) with the grammar / JSON schema constraint,
// report the n_probs most likely candidates, end on an end-of-generation token, assemble UTF-8,
// match stop strings (holding back possible starts), end on max_tokens or a full context.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ember/generation.h"
#include "ember/tokenizer.h"
#include "sampling/chain.h"
#include "sampling/grammar_constraint.h"
#include "text/stop_strings.h"
#include "text/utf8_stream.h"

namespace ember::detail {

class SequenceGenerator {
 public:
  // Checks the parameters that do not depend on the prompt (sampling, max_tokens, grammar vs
  // schema) — the errors begin() reports before anything else.
  static Status validate(const GenerationParams& params, int32_t n_vocab);
  // Whether `params` need the vocabulary trie (a grammar or a JSON schema).
  static bool needs_trie(const GenerationParams& params) {
    return !params.grammar.empty() || !params.json_schema.empty();
  }

  // Builds the sampler chain, stop matcher and grammar. `trie` must be set when needs_trie().
  // The prompt's tokens feed the repetition penalties (as llama.cpp does). `render_special`
  // shows control tokens as text (chat output, whose markers may be control tokens).
  // Errors: invalid parameters, a grammar or schema error.
  static Result<std::unique_ptr<SequenceGenerator>> create(
      const Tokenizer& tokenizer, const std::shared_ptr<const grammar::TokenTrie>& trie,
      const GenerationParams& params, std::span<const int32_t> prompt, int32_t n_ctx,
      bool render_special);

  // Samples the next token from `logits` [n_vocab] of the sequence's last evaluated token;
  // `n_cached` = tokens of the sequence in the cache (prompt + generated tokens evaluated so
  // far). Returns the chunk of that token, or std::nullopt when it could not sample (finished
  // with kError). After the call, finished() tells whether the token ended the generation;
  // otherwise last_token() is to be evaluated next. The first call starts the generation clock.
  std::optional<GenerationChunk> sample(std::span<const float> logits, int64_t n_cached);

  // Ends the generation (no effect when it has ended already).
  void finish(FinishReason reason, Status error = Status::Ok());
  // Finishes (as kCancelled if still running), releases held-back text as `tail`, fills the
  // timings. Calling it again returns the same result.
  GenerationResult end();

  bool finished() const { return finished_; }
  int32_t last_token() const { return result_.tokens.empty() ? -1 : result_.tokens.back(); }
  // Probability of the last sampled token under softmax(logits) (same distribution as the
  // n_probs candidates); 0 when n_probs = 0.
  float last_probability() const { return last_probability_; }
  // The result so far (tokens, text, usage counters).
  GenerationResult& result() { return result_; }
  const GenerationResult& result() const { return result_; }
  const GenerationParams& params() const { return params_; }
  // The seed the chain actually uses (a random one when params asked for kRandomSeed).
  uint32_t seed() const { return chain_.seed(); }

 private:
  SequenceGenerator() = default;

  const Tokenizer* tokenizer_ = nullptr;
  GenerationParams params_;
  int32_t n_ctx_ = 0;
  sampling::SamplerChain chain_;
  text::Utf8Stream utf8_;
  text::StopStringMatcher stops_;
  std::vector<int32_t> banned_;  // end-of-generation tokens when ignore_eos
  std::optional<sampling::GrammarConstraint> grammar_;
  bool render_special_ = false;
  bool finished_ = false;
  bool ended_ = false;
  float last_probability_ = 0.0f;
  std::vector<float> edited_;  // logits with bans / grammar masks applied (reused)
  GenerationResult result_;
  std::chrono::steady_clock::time_point gen_start_;
  bool gen_started_ = false;
};

}  // namespace ember::detail
