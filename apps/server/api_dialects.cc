// Per-API error shapes (see api_dialects.h).
#include "api_dialects.h"

namespace ember::http {

Dialect dialect_of_path(std::string_view path) {
  if (path.substr(0, 5) == "/api/") return Dialect::kOllama;
  if (path == "/v1/messages" || path.substr(0, 13) == "/v1/messages/") return Dialect::kAnthropic;
  return Dialect::kOpenAI;
}

Json ollama_error_json(const ApiError& error) {
  return {{"error", error.message}};
}

Json anthropic_error_json(const ApiError& error) {
  std::string type = "api_error";
  switch (error.status) {
    case 400:
    case 405:
    case 415:
    case 431:
      type = "invalid_request_error";
      break;
    case 401:
      type = "authentication_error";
      break;
    case 403:
      type = "permission_error";
      break;
    case 404:
      type = "not_found_error";
      break;
    case 413:
      type = "request_too_large";
      break;
    case 429:
      type = "rate_limit_error";
      break;
    case 503:
    case 529:
      type = "overloaded_error";
      break;
    default:
      type = error.status >= 400 && error.status < 500 ? "invalid_request_error" : "api_error";
      break;
  }
  return {{"type", "error"}, {"error", {{"type", type}, {"message", error.message}}}};
}

HttpResponse error_response(Dialect dialect, const ApiError& error) {
  HttpResponse r = error.to_response();
  if (dialect == Dialect::kOllama) r.body = dump_json(ollama_error_json(error));
  if (dialect == Dialect::kAnthropic) r.body = dump_json(anthropic_error_json(error));
  return r;
}

void reshape_error_response(Dialect dialect, HttpResponse& response) {
  if (dialect == Dialect::kOpenAI || response.status < 400) return;
  Json j = Json::parse(response.body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("error") || !j["error"].is_object()) {
    return;
  }
  ApiError e;
  e.status = response.status;
  if (j["error"].contains("message") && j["error"]["message"].is_string()) {
    e.message = j["error"]["message"].get<std::string>();
  }
  response.body =
      dump_json(dialect == Dialect::kOllama ? ollama_error_json(e) : anthropic_error_json(e));
}

}  // namespace ember::http
