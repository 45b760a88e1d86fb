// Error bodies in each API's own shape. The gate (router.cc) and the shared code build OpenAI's
// {"error": {"message", "type", ...}}; Ollama's clients expect {"error": "message"} and
// Anthropic's {"type": "error", "error": {"type", "message"}}, with the same HTTP status.
#pragma once

#include <string_view>

#include "api_error.h"
#include "http_message.h"

namespace ember::http {

enum class Dialect { kOpenAI, kOllama, kAnthropic };

// /api/... → Ollama, /v1/messages... → Anthropic, everything else OpenAI.
Dialect dialect_of_path(std::string_view path);

// {"error": "message"}.
Json ollama_error_json(const ApiError& error);
// {"type": "error", "error": {"type": "invalid_request_error" | "authentication_error" |
// "not_found_error" | "request_too_large" | "overloaded_error" | "api_error" | ..., "message"}}.
Json anthropic_error_json(const ApiError& error);

// The error as a response in the dialect's shape (status and headers as ApiError's).
HttpResponse error_response(Dialect dialect, const ApiError& error);

// Rewrites an OpenAI-shaped error response (from the gate) into the dialect's shape; responses
// that are not JSON errors are left alone.
void reshape_error_response(Dialect dialect, HttpResponse& response);

}  // namespace ember::http
