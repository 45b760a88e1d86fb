// Server events → OpenAI response JSON: chat.completion(.chunk), text_completion, logprobs,
// usage. The streaming and non-streaming forms are built from the same events, so their
// content is the same by construction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ember/chat.h"
#include "ember/server.h"
#include "ember/tokenizer.h"

namespace ember::http {

// Token counts of a whole request (all choices): the prompt once, completions summed.
struct UsageTotals {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  bool seen = false;

  // Adds a choice's final usage (prompt and cached counts are shared by the choices of one
  // prompt: `new_prompt` says whether this choice's prompt is counted).
  void add(int64_t prompt, int64_t completion, int64_t cached, bool new_prompt);
  // {"prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details":
  // {"cached_tokens"}}.
  Json to_json() const;
};

// log(p) for JSON: finite (-9999 stands for 0, as OpenAI reports impossible tokens).
double safe_logprob(float probability);

// The UTF-8 bytes of a piece as a JSON list of integers (OpenAI's "bytes").
Json piece_bytes(const std::string& piece);

// Chat logprobs entries for the tokens of one event: [{"token", "logprob", "bytes",
// "top_logprobs": [{"token", "logprob", "bytes"}]}] with at most `top` candidates each.
Json chat_logprobs_entries(const RequestEvent& event, int top, const Tokenizer& tokenizer);

// /v1/completions logprobs, accumulated over a choice's events:
// {"tokens", "token_logprobs", "top_logprobs": [{piece: logprob}], "text_offset"}.
class CompletionLogprobs {
 public:
  CompletionLogprobs(int top, size_t text_offset) : top_(top), offset_(text_offset) {}
  void add(const RequestEvent& event, const Tokenizer& tokenizer);
  Json to_json() const;
  // Only the entries added since the last call (for streamed chunks), then forgets them.
  Json take_json();

 private:
  int top_;
  size_t offset_;
  Json tokens_ = Json::array();
  Json token_logprobs_ = Json::array();
  Json top_logprobs_ = Json::array();
  Json text_offset_ = Json::array();
};

// A chat.completion.chunk for one event, with the choice index set and, when asked, its
// logprobs; the per-choice usage is left out (see UsageTotals). std::nullopt when the event
// carries nothing a client would see.
std::optional<Json> chat_chunk_json(const RequestEvent& event, bool logprobs, int top_logprobs,
                                    const Tokenizer& tokenizer);

// The final chunk of a stream with include_usage: empty choices and the request's usage.
Json chat_usage_chunk_json(const std::string& id, int64_t created, const std::string& model,
                           const UsageTotals& usage);

// Collects the events of a chat request into the non-streaming chat.completion.
class ChatCompletionBuilder {
 public:
  ChatCompletionBuilder(int n, bool logprobs, int top_logprobs)
      : choices_(static_cast<size_t>(n)), logprobs_(logprobs), top_logprobs_(top_logprobs) {}
  void add(const RequestEvent& event, const Tokenizer& tokenizer);
  Json to_json() const;
  const UsageTotals& usage() const { return usage_; }

 private:
  struct Choice {
    ChatMessage message;
    std::map<int32_t, size_t> tool_index;  // delta index → message.tool_calls position
    std::string finish_reason;
    Json logprobs = Json::array();
  };
  std::vector<Choice> choices_;
  bool logprobs_;
  int top_logprobs_;
  std::string id_;
  int64_t created_ = 0;
  std::string model_;
  UsageTotals usage_;
};

// finish_reason of a completion choice.
std::string completion_finish_reason(const RequestEvent& event);

// A text_completion object (stream chunk or whole response) with the given choices.
Json completion_json(const std::string& id, int64_t created, const std::string& model,
                     Json choices);
Json completion_choice_json(int64_t index, const std::string& text, Json logprobs,
                            const std::string& finish_reason);

}  // namespace ember::http
