// A small blocking HTTP/1.1 client over POSIX sockets for the server load generator: one
// connection per request (Connection: close), Content-Length or chunked bodies, and the body
// handed to a callback as it arrives so that Server-Sent Events can be timed per chunk.
// Not a general-purpose client: no TLS, no redirects, no keep-alive.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "ember/status.h"

namespace ember::load {

struct HttpTarget {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;  // sent as "Authorization: Bearer KEY" when not empty
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // whole body (only when no body callback)
};

// Called with each decoded piece of the body; return false to close the connection right away
// (a client that disconnects mid-stream).
using BodySink = std::function<bool(std::string_view)>;

// Sends one request and reads the response. With `sink`, the body goes to it and is not kept.
// `io_timeout` bounds every single wait for the server (connect, each read, each write).
// Returns an io_error Status on connection failures and protocol violations; an HTTP error
// status is not a Status error (look at HttpResponse::status). A sink that stops early gives an
// ok result with the status and headers read so far and `stopped` = true.
struct RequestResult {
  HttpResponse response;
  bool stopped = false;  // the sink returned false
};
Result<RequestResult> http_request(
    const HttpTarget& target, std::string_view method, std::string_view path, std::string_view body,
    const BodySink& sink = nullptr,
    std::chrono::milliseconds io_timeout = std::chrono::seconds(300));

// Splits a Server-Sent Events byte stream into events and hands each event's `data:` payload
// (lines joined with '\n') to the callback. Feed it the body pieces as they arrive.
class SseSplitter {
 public:
  explicit SseSplitter(std::function<bool(std::string_view data)> on_event)
      : on_event_(std::move(on_event)) {}
  // Returns false when the callback asked to stop.
  bool feed(std::string_view bytes);

 private:
  std::function<bool(std::string_view)> on_event_;
  std::string pending_;
};

}  // namespace ember::load
