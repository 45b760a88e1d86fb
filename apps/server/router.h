// The route table: method + path → a Route, and the checks every request passes before its
// handler runs (authentication, CORS preflight, content type, JSON body). No Server needed, so
// the fuzz target drives exactly what the server runs on untrusted bytes.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "api_error.h"
#include "ember/chat.h"
#include "http_message.h"
#include "http_options.h"

namespace ember::http {

enum class Route {
  kHealth,           // GET  /health
  kModels,           // GET  /v1/models, /models
  kModel,            // GET  /v1/models/{id}
  kChatCompletions,  // POST /v1/chat/completions, /chat/completions
  kCompletions,      // POST /v1/completions, /completions
  kTokenize,         // POST /tokenize
  kDetokenize,       // POST /detokenize
  kApplyTemplate,    // POST /apply-template
  kProps,            // GET  /props
  kSlots,            // GET  /slots
  kMetrics,          // GET  /metrics
  kWebui,            // GET, HEAD / and /webui/... (the web chat page, webui.h)
  kEmbeddings,       // POST /v1/embeddings, /embeddings (api_embeddings.cc)
  kRerank,           // POST /v1/rerank, /rerank
  // Ollama's API (ollama_api.cc).
  kOllamaChat,         // POST /api/chat
  kOllamaGenerate,     // POST /api/generate
  kOllamaTags,         // GET  /api/tags
  kOllamaShow,         // POST /api/show
  kOllamaPs,           // GET  /api/ps
  kOllamaVersion,      // GET  /api/version
  kOllamaEmbed,        // POST /api/embed, /api/embeddings
  kOllamaUnsupported,  // /api/pull, push, create, copy, delete: 501
  // Anthropic's Messages API (anthropic_api.cc).
  kAnthropicMessages,     // POST /v1/messages
  kAnthropicCountTokens,  // POST /v1/messages/count_tokens
  // OpenAI's Responses API (responses_api.cc).
  kResponses,  // POST /v1/responses, /responses
};

struct RouteMatch {
  Route route = Route::kHealth;
  std::string param;  // kModel: the model id (percent-decoded)
};

// The route of METHOD PATH, or 404 (no such path) / 405 (the path exists for other methods; the
// error lists them in an Allow header).
std::variant<RouteMatch, ApiError> match_route(std::string_view method, std::string_view path);

// POST routes whose body is a JSON object.
bool route_takes_json(Route route);

// A request that passed the gate: its route and, for JSON routes, the parsed body.
struct AdmittedRequest {
  RouteMatch match;
  Json body;  // an object for JSON routes, null otherwise
};

// Runs the gate: CORS preflight (OPTIONS, when CORS is on) → 204; the API key (all routes but
// /health) → 401; the route → 404 / 405; JSON routes: Content-Type must be absent or
// application/json (415), the body a JSON object nested at most kMaxJsonDepth deep (400).
// Returns the admitted request or the response to send instead.
std::variant<AdmittedRequest, HttpResponse> admit_request(const HttpRequest& request,
                                                          const HttpOptions& options);

inline constexpr int kMaxJsonDepth = 128;

// Parses a request body as a JSON object (errors: 400 with the parser's message; nesting deeper
// than kMaxJsonDepth; not an object).
std::variant<Json, ApiError> parse_json_body(std::string_view body);

// Adds the CORS response headers when CORS is on.
void add_cors_headers(const HttpOptions& options, Headers& headers);

}  // namespace ember::http
