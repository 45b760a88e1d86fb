// The web chat page's routes (see webui.h).
#include "webui.h"

#include "api_error.h"
#include "router.h"
#include "webui_assets.h"

namespace ember::http {
namespace {

// The page runs only its own scripts and styles and talks only to this server; model output it
// renders can load nothing (images only from data: URLs, no frames, objects, forms or fonts
// from elsewhere), even if the sanitizer missed something.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Whether an If-None-Match value ("a", "b" or *) names `etag`.
bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  size_t pos = 0;
  while (pos < if_none_match.size()) {
    size_t comma = if_none_match.find(',', pos);
    if (comma == std::string_view::npos) comma = if_none_match.size();
    std::string_view item = if_none_match.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);  // weak comparison, as for GET
    if (item == etag) return true;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

bool is_webui_path(std::string_view path) {
  return path == "/" || path.substr(0, 7) == "/webui/";
}

HttpResponse webui_response(const HttpRequest& request, const HttpOptions& options) {
  const std::string_view path = request.path();
  HttpResponse r;
  if (!options.webui) {
    ApiError e = ApiError::not_found("no route for GET " + std::string(path.substr(0, 200)) +
                                     " (the web page is off: --no-webui)");
    e.type = "invalid_request_error";
    r = e.to_response();
  } else if (!web_assets_missing().empty()) {
    ApiError e;
    e.status = 501;
    e.type = "not_supported_error";
    e.code = "webui_not_built";
    e.message = "the web page is not part of this build: " + std::string(web_assets_missing());
    r = e.to_response();
  } else {
    const WebAsset* found = nullptr;
    for (const WebAsset& a : web_assets()) {
      if (a.path == path) found = &a;
    }
    if (found == nullptr) {
      ApiError e =
          ApiError::not_found("no file " + std::string(path.substr(0, 200)) + " in the web page");
      e.type = "invalid_request_error";
      r = e.to_response();
    } else {
      r.headers.emplace_back("ETag", std::string(found->etag));
      // Revalidate every time (a 304 is cheap): a new binary's page shows up at once.
      r.headers.emplace_back("Cache-Control", "no-cache");
      if (etag_matches(request.header("if-none-match"), found->etag)) {
        r.status = 304;
        r.content_type.clear();
      } else {
        r.content_type = std::string(found->content_type);
        r.body = std::string(found->body());
      }
    }
  }
  r.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  add_cors_headers(options, r.headers);
  return r;
}

}  // namespace ember::http
