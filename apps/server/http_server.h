// The HTTP/1.1 transport: an acceptor and connections on Boost.Asio with Boost.Beast's request
// parser (the only translation unit that includes Beast). Requests are handed to a
// RequestHandler with a ResponseWriter (http_message.h); everything is asynchronous, so
// hundreds of idle keep-alive connections cost a socket and a small buffer each, not a thread.
//
// Per connection:
//  - waiting for a request: idle timeout until the first byte, header timeout to the end of the
//    head (max_header bytes), then request timeout for the body (max_body bytes, else 413) and
//    the handling;
//  - while a request runs, a read stays pending so a client that disconnects is noticed at once
//    (the handler's on_disconnect runs, which cancels the generation);
//  - output is queued and written in batches; a write that makes no progress within the write
//    timeout (a stalled reader) closes the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ember/status.h"
#include "http_message.h"
#include "http_options.h"

namespace ember::http {

class HttpServer {
 public:
  // Binds and listens on options.host:options.port (port 0: a free port). Accepting starts
  // with start().
  static Result<std::unique_ptr<HttpServer>> create(const HttpOptions& options,
                                                    RequestHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port and the address as a URL host ("127.0.0.1", "[::1]").
  int port() const;
  std::string url_host() const;

  // Starts the I/O threads and accepting.
  void start();
  // Stops accepting new connections (open ones keep being served).
  void stop_accepting();
  // Requests whose response has not ended yet.
  int64_t active_requests() const;
  // Closes every connection and joins the I/O threads.
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember::http
