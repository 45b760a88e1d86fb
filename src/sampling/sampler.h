// The sampler interface: each step of choosing a token is a Sampler object in a chain.
//
// Like llama.cpp's sampler API: `apply` narrows or reshapes the candidates (a filter) or picks one
// (a selector: sets Candidates::selected); `accept` tells the sampler which token was finally
// chosen (penalties and mirostat keep state from it); `reset` returns to the freshly constructed
// state; `clone` copies the sampler including its state (e.g. to fork a generation).
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/status.h"
#include "sampling/candidates.h"

namespace ember::sampling {

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::string_view name() const = 0;
  // Filters, reorders or selects among `c`. Errors for impossible states (e.g. nothing left).
  virtual Status apply(Candidates& c) = 0;
  virtual void accept(int32_t /*token*/) {}
  virtual void reset() {}
  virtual std::unique_ptr<Sampler> clone() const = 0;
};

// Filters (keep at least `min_keep` candidates where the algorithm allows it).
std::unique_ptr<Sampler> make_top_k(int32_t k, size_t min_keep = 1);
std::unique_ptr<Sampler> make_top_p(float p, size_t min_keep = 1);
std::unique_ptr<Sampler> make_min_p(float p, size_t min_keep = 1);
std::unique_ptr<Sampler> make_typical(float p, size_t min_keep = 1);
// temperature <= 0 keeps only the highest logit (greedy); otherwise divides logits by it.
std::unique_ptr<Sampler> make_temperature(float temperature);
// Adds per-token biases (token ids must be < the candidates' vocabulary; others are ignored).
std::unique_ptr<Sampler> make_logit_bias(std::vector<std::pair<int32_t, float>> biases);
// Repeat / frequency / presence penalties over the last `window` accepted tokens (window > 0).
std::unique_ptr<Sampler> make_penalties(int32_t window, float repeat, float frequency,
                                        float presence);

// Selectors.
std::unique_ptr<Sampler> make_greedy();
// Draws from softmax(logits) with a seeded generator (seed must not be kRandomSeed here).
std::unique_ptr<Sampler> make_distribution(uint32_t seed);
// Mirostat v1 (needs the vocabulary size; m = 100 as in the paper's reference) and v2. Both select.
std::unique_ptr<Sampler> make_mirostat(int32_t n_vocab, uint32_t seed, float tau, float eta,
                                       int32_t m = 100);
std::unique_ptr<Sampler> make_mirostat_v2(uint32_t seed, float tau, float eta);
// The running threshold mu of a mirostat sampler (v1 or v2); nullopt for other samplers.
std::optional<float> mirostat_mu(const Sampler& sampler);

}  // namespace ember::sampling
