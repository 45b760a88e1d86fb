// Routes and the request gate (see router.h).
#include "router.h"

#include <cctype>

#include "security.h"
#include "webui.h"

namespace ember::http {
namespace {

struct RouteEntry {
  std::string_view path;
  std::string_view method;
  Route route;
};

constexpr RouteEntry kRoutes[] = {
    {"/health", "GET", Route::kHealth},
    {"/v1/health", "GET", Route::kHealth},
    {"/v1/models", "GET", Route::kModels},
    {"/models", "GET", Route::kModels},
    {"/v1/chat/completions", "POST", Route::kChatCompletions},
    {"/chat/completions", "POST", Route::kChatCompletions},
    {"/v1/completions", "POST", Route::kCompletions},
    {"/completions", "POST", Route::kCompletions},
    {"/tokenize", "POST", Route::kTokenize},
    {"/detokenize", "POST", Route::kDetokenize},
    {"/apply-template", "POST", Route::kApplyTemplate},
    {"/props", "GET", Route::kProps},
    {"/slots", "GET", Route::kSlots},
    {"/metrics", "GET", Route::kMetrics},
    {"/v1/embeddings", "POST", Route::kEmbeddings},
    {"/embeddings", "POST", Route::kEmbeddings},
    {"/v1/rerank", "POST", Route::kRerank},
    {"/rerank", "POST", Route::kRerank},
    {"/api/chat", "POST", Route::kOllamaChat},
    {"/api/generate", "POST", Route::kOllamaGenerate},
    {"/api/tags", "GET", Route::kOllamaTags},
    {"/api/show", "POST", Route::kOllamaShow},
    {"/api/ps", "GET", Route::kOllamaPs},
    {"/api/version", "GET", Route::kOllamaVersion},
    {"/api/embed", "POST", Route::kOllamaEmbed},
    {"/api/embeddings", "POST", Route::kOllamaEmbed},
    {"/api/pull", "POST", Route::kOllamaUnsupported},
    {"/api/push", "POST", Route::kOllamaUnsupported},
    {"/api/create", "POST", Route::kOllamaUnsupported},
    {"/api/copy", "POST", Route::kOllamaUnsupported},
    {"/api/delete", "DELETE", Route::kOllamaUnsupported},
    {"/v1/messages", "POST", Route::kAnthropicMessages},
    {"/v1/messages/count_tokens", "POST", Route::kAnthropicCountTokens},
    {"/v1/responses", "POST", Route::kResponses},
    {"/responses", "POST", Route::kResponses},
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a path part; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

ApiError method_not_allowed(std::string_view method, std::string_view path,
                            std::string_view allow) {
  ApiError e;
  e.status = 405;
  e.message = std::string(method) + " is not allowed on " + std::string(path) + " (use " +
              std::string(allow) + ")";
  e.code = "method_not_allowed";
  return e;
}

// The deepest nesting of arrays / objects in JSON text (strings skipped), stopping early once
// it exceeds `limit`.
int json_depth(std::string_view text, int limit) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) max_depth = depth;
      if (max_depth > limit) return max_depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

bool is_json_content_type(std::string_view ct) {
  // "application/json", optionally with parameters ("; charset=utf-8"); case-insensitive.
  const size_t semi = ct.find(';');
  std::string_view type = semi == std::string_view::npos ? ct : ct.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  if (type.size() != kJson.size()) return false;
  for (size_t i = 0; i < kJson.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(type[i])) != kJson[i]) return false;
  }
  return true;
}

}  // namespace

std::variant<RouteMatch, ApiError> match_route(std::string_view method, std::string_view path) {
  // /v1/models/{id}: the id may itself contain '/' (e.g. "org/model"), percent-encoded or not.
  for (std::string_view prefix : {std::string_view("/v1/models/"), std::string_view("/models/")}) {
    if (path.size() > prefix.size() && path.substr(0, prefix.size()) == prefix) {
      if (method != "GET") return method_not_allowed(method, path, "GET");
      RouteMatch m;
      m.route = Route::kModel;
      if (!percent_decode(path.substr(prefix.size()), m.param)) {
        return ApiError::invalid_request("malformed percent-encoding in the model id");
      }
      return m;
    }
  }
  if (is_webui_path(path)) {
    // HEAD too: Ollama's command-line client checks that a server is up with HEAD /.
    if (method != "GET" && method != "HEAD") return method_not_allowed(method, path, "GET, HEAD");
    return RouteMatch{Route::kWebui, {}};
  }
  bool path_known = false;
  std::string allow;
  for (const RouteEntry& e : kRoutes) {
    if (e.path != path) continue;
    path_known = true;
    if (e.method == method) return RouteMatch{e.route, {}};
    if (!allow.empty()) allow += ", ";
    allow += e.method;
  }
  if (path_known) return method_not_allowed(method, path, allow);
  ApiError e = ApiError::not_found("no route for " + std::string(method) + " " +
                                   std::string(path.substr(0, 200)));
  e.type = "invalid_request_error";
  return e;
}

bool route_takes_json(Route route) {
  switch (route) {
    case Route::kChatCompletions:
    case Route::kCompletions:
    case Route::kTokenize:
    case Route::kDetokenize:
    case Route::kApplyTemplate:
    case Route::kEmbeddings:
    case Route::kRerank:
    case Route::kOllamaChat:
    case Route::kOllamaGenerate:
    case Route::kOllamaShow:
    case Route::kOllamaEmbed:
    case Route::kAnthropicMessages:
    case Route::kAnthropicCountTokens:
    case Route::kResponses:
      return true;
    default:
      return false;
  }
}

void add_cors_headers(const HttpOptions& options, Headers& headers) {
  if (options.cors_origin.empty()) return;
  headers.emplace_back("Access-Control-Allow-Origin", options.cors_origin);
  if (options.cors_origin != "*") headers.emplace_back("Vary", "Origin");
}

std::variant<Json, ApiError> parse_json_body(std::string_view body) {
  if (body.empty()) return ApiError::invalid_request("the request body is empty (expected JSON)");
  if (json_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    return ApiError::invalid_request("the request JSON is nested more than " +
                                     std::to_string(kMaxJsonDepth) + " levels deep");
  }
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ApiError::invalid_request("the request body is not valid JSON");
  if (!j.is_object()) return ApiError::invalid_request("the request body must be a JSON object");
  return j;
}

std::variant<AdmittedRequest, HttpResponse> admit_request(const HttpRequest& request,
                                                          const HttpOptions& options) {
  const std::string_view path = request.path();
  auto with_cors = [&](HttpResponse r) {
    add_cors_headers(options, r.headers);
    return r;
  };
  if (request.method == "OPTIONS" && !options.cors_origin.empty()) {
    // Preflight: browsers send it without credentials, so it is answered before the key check.
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    // Browser SDKs send headers of their own (x-stainless-*, anthropic-dangerous-direct-
    // browser-access): the ones a preflight asks for are allowed when they are plain names.
    std::string allow_headers =
        "Authorization, Content-Type, X-Request-Id, X-Api-Key, Anthropic-Version, Anthropic-Beta";
    const std::string_view asked = request.header("access-control-request-headers");
    if (!asked.empty() && asked.size() <= 2048 &&
        asked.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_, ") ==
            std::string_view::npos) {
      allow_headers += ", " + std::string(asked);
    }
    r.headers.emplace_back("Access-Control-Allow-Headers", std::move(allow_headers));
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    return with_cors(std::move(r));
  }
  // The page's files are public (the page asks for the key and sends it with its requests).
  const bool is_public = path == "/health" || path == "/v1/health" || is_webui_path(path);
  // Anthropic's clients send the key as x-api-key; it counts like a bearer token.
  if (!options.api_key.empty() && !is_public &&
      !bearer_token_matches(request.header("authorization"), options.api_key) &&
      !(request.has_header("x-api-key") &&
        constant_time_equal(request.header("x-api-key"), options.api_key))) {
    ApiError e;
    e.status = 401;
    e.type = "authentication_error";
    e.code = "invalid_api_key";
    e.message = request.has_header("authorization") || request.has_header("x-api-key")
                    ? "invalid API key"
                    : "missing API key (send 'Authorization: Bearer <key>' or 'x-api-key: <key>')";
    return with_cors(e.to_response());
  }
  auto m = match_route(request.method, path);
  if (auto* e = std::get_if<ApiError>(&m)) {
    HttpResponse r = e->to_response();
    if (e->status == 405) {
      const size_t use = e->message.rfind("(use ");
      if (use != std::string::npos) {
        r.headers.emplace_back("Allow", e->message.substr(use + 5, e->message.size() - use - 6));
      }
    }
    return with_cors(std::move(r));
  }
  AdmittedRequest admitted;
  admitted.match = std::get<RouteMatch>(std::move(m));
  if (!route_takes_json(admitted.match.route)) return admitted;
  // Ollama's documented curl examples send `-d` bodies as form data: /api/* takes JSON whatever
  // the Content-Type says.
  const bool ollama = path.substr(0, 5) == "/api/";
  if (!ollama && request.has_header("content-type") &&
      !is_json_content_type(request.header("content-type"))) {
    ApiError e;
    e.status = 415;
    e.message = "Content-Type must be application/json, not '" +
                std::string(request.header("content-type").substr(0, 100)) + "'";
    e.code = "unsupported_media_type";
    return with_cors(e.to_response());
  }
  auto body = parse_json_body(request.body);
  if (auto* e = std::get_if<ApiError>(&body)) return with_cors(e->to_response());
  admitted.body = std::get<Json>(std::move(body));
  return admitted;
}

}  // namespace ember::http
