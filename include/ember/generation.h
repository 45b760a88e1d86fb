// ember — what a generation is asked to do and what it reports back.
//
// GenerationParams bundles the sampling setup (SamplingParams) with the limits and constraints of
// one generation: token budget, stop strings, an optional grammar or JSON schema. A finished
// generation is described by GenerationResult: the text, the token ids, why it ended, and timings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ember/sampling.h"
#include "ember/status.h"

namespace ember {

struct GenerationParams {
  SamplingParams sampling;

  // Most tokens to generate; -1 = until an end-of-generation token or a full context.
  int32_t max_tokens = -1;
  // Generation ends when the text contains one of these; the stop string is not part of the
  // output. Text that may be the start of a stop string is held back until it is known not to be.
  std::vector<std::string> stop;
  // Keep generating through end-of-generation tokens (EOS, EOT, ...): they are banned instead.
  bool ignore_eos = false;

  // How the prompt is tokenized: add BOS/EOS as the model's metadata says, and turn special-token
  // text (e.g. "<|im_start|>") into control tokens. A raw prompt is the application's own text,
  // so both default to on, as in llama.cpp's completion API. Turn parse_special off when the
  // prompt contains text from untrusted users.
  bool add_special = true;
  bool parse_special = true;

  // Constrain the output: a GBNF grammar (llama.cpp syntax) or a JSON schema (text). At most one.
  std::string grammar;
  std::string json_schema;
};

// Why a generation ended.
enum class FinishReason : uint8_t {
  kNone = 0,   // still running
  kStop,       // an end-of-generation token or a stop string
  kLength,     // max_tokens reached or the context is full
  kCancelled,  // cancel() was called (or the callback asked to stop)
  kError,      // see GenerationResult::error
};

// "stop", "length", "cancelled", "error" (and "" for kNone) — the OpenAI finish_reason strings.
std::string_view finish_reason_name(FinishReason reason);

// A token and its probability, for logprobs (SamplingParams::n_probs).
struct TokenProbability {
  int32_t token = -1;
  std::string piece;  // the token's bytes (may be partial UTF-8)
  float probability = 0.0f;
};

// One piece of streamed output. `text` is always valid UTF-8 (possibly empty when the new tokens
// only started a character or a possible stop string); `tokens` are the ids sampled since the
// previous chunk.
struct GenerationChunk {
  std::string text;
  std::vector<int32_t> tokens;
  // For each token in `tokens`, the n_probs most likely candidates (empty when n_probs = 0).
  std::vector<std::vector<TokenProbability>> top_probabilities;
};

struct GenerationUsage {
  int32_t prompt_tokens = 0;         // tokens of the prompt
  int32_t cached_prompt_tokens = 0;  // of those, reused from the KV cache (not evaluated again)
  int32_t completion_tokens = 0;     // tokens generated
  double prompt_ms = 0.0;            // time evaluating the prompt (the non-reused part)
  double generation_ms = 0.0;        // time generating, first sampled token to last
  // Of generation_ms, the time spent choosing tokens from the logits (sampler chain, grammar,
  // logit edits), as opposed to evaluating the model.
  double sampling_ms = 0.0;
  double prompt_tokens_per_second = 0.0;
  double generation_tokens_per_second = 0.0;
};

struct GenerationResult {
  std::string text;             // everything shown (all chunks + the tail), stop string excluded
  std::vector<int32_t> tokens;  // generated token ids (including the one that ended it, if any)
  FinishReason finish_reason = FinishReason::kNone;
  Status error;             // set when finish_reason == kError
  std::string stop_string;  // the stop string that ended generation, if one did
  // Text held back until the end (e.g. an unfinished UTF-8 character, shown as U+FFFD, or the
  // start of a stop string that never completed); already included in `text`. The pull API's
  // end() returns it; the callback API delivers it as the last chunk.
  std::string tail;
  GenerationUsage usage;
};

}  // namespace ember
