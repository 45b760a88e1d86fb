// Anthropic Messages API request bodies (POST /v1/messages, /v1/messages/count_tokens) → a
// ChatRequest. Pure parsing (no model or Server needed).
//
// Mapping:
//   system (string or [{type: "text", text}])       → a system message first;
//   user content: text blocks → a user message; tool_result blocks {tool_use_id, content,
//     is_error} → tool messages (in block order; an error result's text is prefixed "Error: ");
//   assistant content: text → content, thinking → reasoning_content, tool_use {id, name,
//     input} → tool_calls (redacted_thinking is opaque and skipped);
//   tools [{name, description, input_schema}] → function tools; tool_choice auto / any / tool
//     {name} / none → auto / required / that function / none (disable_parallel_tool_use);
//   max_tokens (required), stop_sequences, temperature, top_p, top_k, stream, metadata;
//   thinking {type: enabled, budget_tokens} / {type: disabled} → enable_thinking (the budget
//     is not enforced separately: reasoning counts toward max_tokens).
// Refused with a clear error: image / document / search-result blocks, server tools (a `type`
// other than "custom"), mcp_servers.
#pragma once

#include <string>
#include <vector>

#include "ember/chat.h"
#include "ember/server.h"
#include "ember/status.h"

namespace ember::http {

struct AnthropicCall {
  ChatRequest chat;
  std::string model;
  bool stream = false;
  std::vector<std::string> stop_sequences;  // the request's own (not the template's)
};

// `count_tokens`: /v1/messages/count_tokens, where max_tokens is not required.
Result<AnthropicCall> parse_anthropic_messages(const Json& body, bool count_tokens);

}  // namespace ember::http
