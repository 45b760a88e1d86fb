// OpenAI Responses API request bodies (POST /v1/responses) → a ChatRequest. Stateless: the
// whole conversation comes in `input`; previous_response_id and conversation are refused
// (this server keeps no responses). Pure parsing (no model or Server needed).
//
// Mapping:
//   instructions → a system message first; input: a string → one user message, or items:
//     messages {role: user / system / developer / assistant, content: a string or input_text /
//     output_text / refusal parts}, function_call {call_id, name, arguments} (joins the
//     preceding assistant message), function_call_output {call_id, output} → a tool message,
//     reasoning {content / summary text} → the next assistant message's reasoning;
//   tools [{type: "function", name, description, parameters}], tool_choice (auto / none /
//     required / {type: "function", name}), parallel_tool_calls, max_output_tokens,
//     temperature, top_p, text.format (text / json_object / json_schema {schema}), reasoning
//     {effort} (effort "none" turns thinking off, any other on), stream, store (nothing is
//     stored either way), metadata, user, truncation, include.
// Refused: images, files and audio, built-in tools (web search, file search, ...), item
// references, background, prompt templates.
#pragma once

#include <string>

#include "ember/chat.h"
#include "ember/server.h"
#include "ember/status.h"

namespace ember::http {

struct ResponsesCall {
  ChatRequest chat;
  std::string model;
  bool stream = false;
  // Request fields the response object repeats, in the response's shape.
  Json echo = Json::object();
};

Result<ResponsesCall> parse_responses_request(const Json& body);

}  // namespace ember::http
