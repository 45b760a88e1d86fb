// The HTTP request and response as the API layer sees them, independent of the transport (the
// Beast connection in http_server.cc fills and sends them), plus the byte-level formatting of a
// response head and of chunked transfer encoding.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ember::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ... as sent
  std::string target;  // "/v1/models?x=1": path and query
  int version = 11;    // 10 = HTTP/1.0, 11 = HTTP/1.1
  Headers headers;     // names as sent
  std::string body;
  std::string remote;      // peer address, for the access log
  std::string request_id;  // "req-<n>", unique within the process
  std::chrono::steady_clock::time_point received;

  // The value of the first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // The target without the query string.
  std::string_view path() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;  // extra headers (CORS, Retry-After, Allow, WWW-Authenticate, ...)
  std::string body;
};

// "OK", "Not Found", ... ("Unknown" for codes without a phrase here).
std::string_view reason_phrase(int status);

// "HTTP/1.1 <status> <reason>\r\n" + headers + "\r\n". `content_length` < 0: no Content-Length
// (with `chunked`: Transfer-Encoding: chunked).
std::string format_response_head(int status, std::string_view content_type, const Headers& headers,
                                 int64_t content_length, bool chunked, bool keep_alive,
                                 std::string_view request_id);
// One chunk of a chunked body: "<hex size>\r\n<data>\r\n" (empty data is not a valid chunk:
// callers skip it).
std::string format_chunk(std::string_view data);
// The last chunk: "0\r\n\r\n".
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// The API layer's handle on one request's response, implemented by the connection.
//
// Threading: every member except post() must be called on the connection's executor (the thread
// that called the handler, or a function given to post()). post() may be called from any thread
// (e.g. a Server event callback on the scheduler thread): it only queues `fn` and returns.
//
// A response is either respond() once, or begin_stream(), any number of stream_write(), then
// end_stream(). Calls after the response ended, or after the client went away, are ignored.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  virtual void respond(HttpResponse response) = 0;
  // A chunked response (HTTP/1.0 clients: delimited by closing the connection).
  virtual void begin_stream(int status, std::string_view content_type, Headers headers) = 0;
  virtual void stream_write(std::string data) = 0;
  virtual void end_stream() = 0;

  virtual void post(std::function<void()> fn) = 0;
  // Called once, on the executor, when the client disconnects (or the connection times out)
  // before the response has ended. Replaces an earlier function.
  virtual void on_disconnect(std::function<void()> fn) = 0;
  // Whether the client is gone (nothing more will be sent).
  virtual bool closed() const = 0;
  // Token counts for the access log line.
  virtual void set_log_tokens(int64_t prompt_tokens, int64_t completion_tokens) = 0;
};

using RequestHandler = std::function<void(HttpRequest, std::shared_ptr<ResponseWriter>)>;

}  // namespace ember::http
