// The files of the web chat page (apps/server/webui), embedded into the binary at build time by
// cmake/embed_webui.cmake (the definitions are in the generated webui_assets.cc of the build
// directory). Nothing is read from disk or fetched at run time.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace ember::http {

struct WebAsset {
  std::string_view path;          // URL path: "/" or "/webui/<name>"
  std::string_view content_type;  // "text/html; charset=utf-8", "text/javascript; ...", ...
  std::string_view etag;          // strong ETag (quoted): a prefix of the file's SHA-256
  const unsigned char* data;
  size_t size;

  std::string_view body() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Every embedded file (empty when the page was not built in).
std::span<const WebAsset> web_assets();

// "" when the page is built in; otherwise why not (e.g. its npm packages were not installed
// when the build was configured), to be shown instead of the page.
std::string_view web_assets_missing();

}  // namespace ember::http
