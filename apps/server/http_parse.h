// Turning bytes into HttpRequests with Beast's parser, shared by the connection
// (http_server.cc) and the fuzz target (fuzz/server_request_fuzz.cc), so both apply the same
// limits and the same conversion. Include only from those two files: Beast is heavy to compile.
#pragma once

#include <boost/beast/http.hpp>
#include <string>
#include <utility>

#include "http_message.h"
#include "http_options.h"

namespace ember::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// The server's limits on one request: head size and body size.
inline void configure_parser(BeastParser& parser, const HttpOptions& options) {
  parser.header_limit(options.max_header);
  parser.body_limit(options.max_body);
}

inline HttpRequest to_http_request(BeastRequest&& msg) {
  HttpRequest r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  r.version = static_cast<int>(msg.version());
  for (const auto& field : msg) {
    r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  r.body = std::move(msg.body());
  return r;
}

}  // namespace ember::http
