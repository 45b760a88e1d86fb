// A sampler chain: the samplers built from SamplingParams, applied in order to a logits row.
//
//   auto chain = SamplerChain::from_params(params, n_vocab, n_ctx);   // Result<SamplerChain>
//   int32_t token = *chain->sample(logits_row);                        // filters, then selection
//   chain->accept(token);                                              // penalties/mirostat state
//
// Layout (llama.cpp's): logit bias, then the filters in `params.order` (default: penalties,
// top_k, typ_p, top_p, min_p, temperature), then the selector: greedy when temperature is 0,
// otherwise a seeded draw. Mirostat 1/2 replaces the filters with penalties, temperature and the
// mirostat selector. Extra samplers (e.g. a grammar) can be inserted before the filters.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ember/sampling.h"
#include "sampling/candidates.h"
#include "sampling/sampler.h"

namespace ember::sampling {

class SamplerChain {
 public:
  SamplerChain() = default;
  SamplerChain(SamplerChain&&) = default;
  SamplerChain& operator=(SamplerChain&&) = default;

  // Validates `params` and builds the chain. `n_ctx` resolves repeat_last_n = -1. The seed
  // kRandomSeed is replaced by a random one (see seed()).
  static Result<SamplerChain> from_params(const SamplingParams& params, int32_t n_vocab,
                                          int32_t n_ctx);

  // Appends a sampler at the end / inserts one at `index` (0 = first).
  void add(std::unique_ptr<Sampler> sampler);
  void insert(size_t index, std::unique_ptr<Sampler> sampler);

  // Runs every sampler on `logits` [n_vocab] and returns the selected token id. The chain must end
  // with a selector. Errors: wrong row size, nothing selectable.
  Result<int32_t> sample(std::span<const float> logits);
  // Tells every sampler the token that was finally used.
  void accept(int32_t token);
  // Back to the freshly built state (history cleared, generator reseeded).
  void reset();
  SamplerChain clone() const;

  // The candidates after the last sample() (post-filter probabilities for logprobs).
  const Candidates& candidates() const { return candidates_; }
  const std::vector<std::unique_ptr<Sampler>>& samplers() const { return samplers_; }
  uint32_t seed() const { return seed_; }
  int32_t n_vocab() const { return n_vocab_; }

 private:
  std::vector<std::unique_ptr<Sampler>> samplers_;
  Candidates candidates_;
  uint32_t seed_ = 0;
  int32_t n_vocab_ = 0;
};

// The `n` most likely tokens of softmax(logits) with their probabilities, most likely first
// (ties: lower id first). For logprobs / n_probs.
std::vector<std::pair<int32_t, float>> top_probabilities(std::span<const float> logits, size_t n);

}  // namespace ember::sampling
