// Errors in OpenAI's shape: {"error": {"message", "type", "code", "param"}} with an HTTP status.
#pragma once

#include <string>

#include "ember/chat.h"
#include "ember/status.h"
#include "http_message.h"

namespace ember::http {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string code;       // "" = null
  std::string param;      // "" = null
  int retry_after_s = 0;  // > 0: a Retry-After header

  Json to_json() const;
  HttpResponse to_response() const;

  static ApiError invalid_request(std::string message, std::string param = "");
  static ApiError not_found(std::string message, std::string code = "not_found");
  static ApiError unavailable(std::string message, int retry_after_s = 1);
  static ApiError internal(std::string message);
};

// The HTTP error for a Status from Server::submit or a request parser:
//   kInvalidArgument → 400 invalid_request_error;
//   kOutOfRange → 400 exceed_context_size_error;
//   kResourceExhausted → 503 (queue full or shutting down) with Retry-After;
//   kNotFound → 404; kUnimplemented → 400 not_supported_error; others → 500.
ApiError api_error_from_status(const Status& status);

// JSON text for a response body: invalid UTF-8 (token pieces) becomes U+FFFD instead of throwing.
std::string dump_json(const Json& j);

}  // namespace ember::http
