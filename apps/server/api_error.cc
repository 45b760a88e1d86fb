// OpenAI-shaped errors (see api_error.h).
#include "api_error.h"

namespace ember::http {

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json ApiError::to_json() const {
  Json e = {{"message", message}, {"type", type}};
  e["code"] = code.empty() ? Json(nullptr) : Json(code);
  e["param"] = param.empty() ? Json(nullptr) : Json(param);
  return {{"error", std::move(e)}};
}

HttpResponse ApiError::to_response() const {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(to_json());
  if (retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

ApiError ApiError::invalid_request(std::string message, std::string param) {
  ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

ApiError ApiError::not_found(std::string message, std::string code) {
  ApiError e;
  e.status = 404;
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

ApiError ApiError::unavailable(std::string message, int retry_after_s) {
  ApiError e;
  e.status = 503;
  e.type = "unavailable_error";
  e.message = std::move(message);
  e.retry_after_s = retry_after_s;
  return e;
}

ApiError ApiError::internal(std::string message) {
  ApiError e;
  e.status = 500;
  e.type = "server_error";
  e.message = std::move(message);
  return e;
}

ApiError api_error_from_status(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ApiError::invalid_request(status.message());
    case StatusCode::kOutOfRange: {
      ApiError e = ApiError::invalid_request(status.message());
      e.type = "exceed_context_size_error";
      e.code = "context_length_exceeded";
      return e;
    }
    case StatusCode::kResourceExhausted:
      return ApiError::unavailable(status.message(), 1);
    case StatusCode::kNotFound:
      return ApiError::not_found(status.message());
    case StatusCode::kUnimplemented: {
      ApiError e = ApiError::invalid_request(status.message());
      e.type = "not_supported_error";
      return e;
    }
    default:
      return ApiError::internal(status.to_string());
  }
}

}  // namespace ember::http
