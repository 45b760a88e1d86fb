// The web chat page at GET / and its files under GET /webui/ (docs/server.md, "Web chat page"):
// answers from the assets embedded in the binary (webui_assets.h), with a strict
// Content-Security-Policy, ETag revalidation and no server-side state.
#pragma once

#include <string_view>

#include "http_message.h"
#include "http_options.h"

namespace ember::http {

// Whether PATH belongs to the page: "/" or anything under "/webui/".
bool is_webui_path(std::string_view path);

// The response to GET (or HEAD: the transport drops the body) PATH of the page: the file (200, or 304 when If-None-Match names its
// ETag), 404 JSON for an unknown file or when options.webui is off, 503 JSON naming the reason
// when the page was not built into this binary.
HttpResponse webui_response(const HttpRequest& request, const HttpOptions& options);

}  // namespace ember::http
