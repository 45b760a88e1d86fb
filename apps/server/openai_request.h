// OpenAI (and llama-server) request bodies → the serving API's requests. Pure parsing: no model
// or Server is needed (the fuzz target runs it on arbitrary JSON); checks that need the model
// (token ids in the vocabulary, context length, grammar) happen in Server::submit.
//
// Fields read beyond ChatParams::from_json (include/ember/chat.h), for both endpoints:
//   typical_p, repeat_last_n, mirostat, mirostat_tau, mirostat_eta, logit_bias ({"id": bias} or
//   [[id, bias]]; bias false bans the token), ignore_eos, n, stream, stream_options.include_usage,
//   grammar (GBNF text), json_schema (object or text).
// Chat: messages, logprobs (bool) + top_logprobs (0..20).
// Completions: prompt (string | token ids | list of strings / token-id lists), echo, logprobs
//   (0..20 = top candidates per token), suffix (rejected: no fill-in-the-middle support).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ember/chat.h"
#include "ember/server.h"
#include "ember/status.h"

namespace ember::http {

// Limits on one HTTP request.
inline constexpr int kMaxChoices = 64;      // n
inline constexpr int kMaxPrompts = 64;      // prompts of one /v1/completions request
inline constexpr int kMaxTopLogprobs = 20;  // top_logprobs / logprobs

struct ChatCompletionCall {
  ChatRequest request;
  std::string model;  // as requested ("" when absent)
  bool stream = false;
  bool include_usage = false;
  bool logprobs = false;
  int top_logprobs = 0;
};

struct CompletionPrompt {
  std::string text;
  std::vector<int32_t> tokens;
  bool is_tokens = false;
};

struct CompletionCall {
  std::vector<CompletionPrompt> prompts;  // each one is its own Server request
  GenerationParams params;
  int n = 1;
  std::string model;
  bool stream = false;
  bool include_usage = false;
  bool echo = false;
  int logprobs = -1;  // -1: none; k >= 0: the sampled token's logprob plus k candidates
};

// /v1/completions' default max_tokens (OpenAI's).
inline constexpr int32_t kDefaultCompletionMaxTokens = 16;

Result<ChatCompletionCall> parse_chat_completion(const Json& body);
Result<CompletionCall> parse_completion(const Json& body);

// llama-server's /tokenize: {"content", "add_special" (false), "parse_special" (true),
// "with_pieces" (false)}.
struct TokenizeCall {
  std::string content;
  bool add_special = false;
  bool parse_special = true;
  bool with_pieces = false;
};
Result<TokenizeCall> parse_tokenize(const Json& body);

// /detokenize: {"tokens": [ids]}.
Result<std::vector<int32_t>> parse_detokenize(const Json& body);

// /apply-template: {"messages", tools, ...} (the chat request's fields).
struct ApplyTemplateCall {
  std::vector<ChatMessage> messages;
  ChatParams params;
};
Result<ApplyTemplateCall> parse_apply_template(const Json& body);

}  // namespace ember::http
