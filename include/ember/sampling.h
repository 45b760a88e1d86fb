// ember — sampling parameters: how the next token is chosen from the model's logits.
//
// The fields and their defaults are the ones users know from llama.cpp (and llamaR/llamadart):
// each filter has an "off" value, and the filters run in a configurable order. A parameter set is
// checked with `validate()` before use; generation rejects invalid values with a clear message
// instead of clamping them silently.
//
//   ember::SamplingParams p;
//   p.temperature = 0.7f;
//   p.top_k = 0;          // off
//   p.seed = 42;          // reproducible
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string_view>
#include <vector>

#include "ember/status.h"

namespace ember {

// The samplers a chain can hold, by the names llama.cpp uses for `--samplers`.
enum class SamplerKind : uint8_t {
  kPenalties,    // "penalties": repeat / frequency / presence penalties over a window
  kTopK,         // "top_k"
  kTypicalP,     // "typ_p" (also accepted: "typical_p", "typical")
  kTopP,         // "top_p"
  kMinP,         // "min_p"
  kTemperature,  // "temperature" (also "temp")
};

// Name of a sampler kind as used in `SamplingParams::order` strings, e.g. "top_k".
std::string_view sampler_kind_name(SamplerKind kind);
// Parses a sampler name (case-insensitive; the aliases above); error for unknown names.
Result<SamplerKind> sampler_kind_from_name(std::string_view name);
// The default order, llama.cpp's: penalties, top_k, typ_p, top_p, min_p, temperature.
std::vector<SamplerKind> default_sampler_order();

// Seed value meaning "pick a random seed" (llama.cpp's LLAMA_DEFAULT_SEED).
inline constexpr uint32_t kRandomSeed = 0xFFFFFFFFu;

struct SamplingParams {
  // Softmax temperature. 0 = greedy: always the most likely remaining token. Must be >= 0.
  float temperature = 0.8f;
  // Keep only the k most likely tokens. 0 = off. Negative values are invalid.
  int32_t top_k = 40;
  // Nucleus sampling: keep the smallest set of most likely tokens whose probabilities add up to at
  // least top_p. 1 = off. Range [0, 1].
  float top_p = 0.95f;
  // Keep tokens whose probability is at least min_p times the most likely token's. 0 = off.
  // Range [0, 1].
  float min_p = 0.05f;
  // Locally typical sampling (Meister et al.). 1 = off. Range [0, 1].
  float typical_p = 1.0f;

  // Repetition penalty over the last `repeat_last_n` tokens: a positive logit is divided by it, a
  // negative one multiplied. 1 = off. Must be > 0.
  float repeat_penalty = 1.0f;
  // Window of previous tokens the penalties look at. 0 = penalties off, -1 = the whole context.
  int32_t repeat_last_n = 64;
  // Subtracted from a logit once per occurrence of the token in the window (OpenAI semantics).
  float frequency_penalty = 0.0f;
  // Subtracted from a logit once if the token occurs in the window.
  float presence_penalty = 0.0f;

  // Mirostat: 0 = off, 1 = Mirostat (v1), 2 = Mirostat 2.0. When on, it replaces top_k/top_p/
  // min_p/typical_p (as in llama.cpp); penalties and temperature still apply.
  int32_t mirostat = 0;
  float mirostat_tau = 5.0f;  // target surprise (cross-entropy), >= 0
  float mirostat_eta = 0.1f;  // learning rate, >= 0

  // Seed of the sampler's random number generator; kRandomSeed picks one at random.
  uint32_t seed = kRandomSeed;

  // Added to the logit of a token before any other sampler runs. -infinity bans the token.
  std::map<int32_t, float> logit_bias;

  // The order of the filter samplers; empty = default_sampler_order(). A kind may appear once.
  std::vector<SamplerKind> order;

  // Number of most likely tokens (with their probabilities) to report per generated token for
  // logprobs; 0 = none. At most 100.
  int32_t n_probs = 0;

  // Checks every field (NaN, out-of-range values, duplicate kinds in `order`); `n_vocab` bounds
  // the token ids in `logit_bias` (pass 0 to skip that check).
  Status validate(int32_t n_vocab) const;
};

}  // namespace ember
