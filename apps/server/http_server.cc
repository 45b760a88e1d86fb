// HTTP/1.1 transport on Boost.Asio + Boost.Beast (see http_server.h). The only file that
// includes Beast: it parses requests and runs sockets and timers; responses are formatted by
// http_message.cc.
#include "http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "access_log.h"
#include "api_error.h"
#include "http_parse.h"

namespace ember::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// Bytes of a pipelined next request buffered while one runs; beyond it the connection stops
// reading until the response is done (and then notices a disconnect only by a failed write).
constexpr size_t kMaxBufferedAhead = 64 * 1024;
// After an error response that leaves request bytes unread, the connection reads and drops up
// to this much for up to kLingerTime before closing, so the client sees the response instead of
// a reset.
constexpr size_t kLingerBytes = size_t{64} << 20;
constexpr auto kLingerTime = std::chrono::seconds(5);

struct Shared {
  HttpOptions options;
  RequestHandler handler;
  std::atomic<int64_t> active{0};
  std::atomic<uint64_t> next_id{1};
};

class Connection : public ResponseWriter, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    beast::error_code ec;
    const tcp::endpoint ep = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? "?" : ep.address().to_string();
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_request(); });
  }

  // ---- ResponseWriter ----
  void respond(HttpResponse r) override {
    if (closed_ || !in_request_ || response_started_) return;
    response_started_ = true;
    response_done_ = true;
    log_.status = r.status;
    std::string bytes = format_response_head(r.status, r.content_type, r.headers,
                                             static_cast<int64_t>(r.body.size()), false,
                                             keep_alive_, log_.request_id);
    if (!head_) bytes += r.body;  // HEAD: the head a GET would get, no body
    out_.push_back(std::move(bytes));
    do_write();
  }

  void begin_stream(int status, std::string_view content_type, Headers headers) override {
    if (closed_ || !in_request_ || response_started_) return;
    response_started_ = true;
    log_.status = status;
    if (!chunked_) keep_alive_ = false;  // HTTP/1.0: the end of the body is the end of the link
    out_.push_back(format_response_head(status, content_type, headers, -1, chunked_, keep_alive_,
                                        log_.request_id));
    do_write();
  }

  void stream_write(std::string data) override {
    if (closed_ || !response_started_ || response_done_ || data.empty()) return;
    out_.push_back(chunked_ ? format_chunk(data) : std::move(data));
    do_write();
  }

  void end_stream() override {
    if (closed_ || !response_started_ || response_done_) return;
    response_done_ = true;
    if (chunked_) out_.emplace_back(kLastChunk);
    do_write();
  }

  void post(std::function<void()> fn) override {
    net::post(stream_.get_executor(), [self = shared_from_this(), fn = std::move(fn)] { fn(); });
  }

  void on_disconnect(std::function<void()> fn) override {
    if (closed_ && in_request_) {
      if (fn) fn();
      return;
    }
    on_disconnect_ = std::move(fn);
  }

  bool closed() const override { return closed_; }

  void set_log_tokens(int64_t prompt_tokens, int64_t completion_tokens) override {
    log_.prompt_tokens = prompt_tokens;
    log_.completion_tokens = completion_tokens;
  }

 private:
  const HttpOptions& opts() const { return shared_->options; }

  // ---- reading a request ----
  void wait_request() {
    in_request_ = response_started_ = response_done_ = false;
    on_disconnect_ = nullptr;
    if (buffer_.size() > 0) return read_header();
    stream_.expires_after(opts().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    parser_.emplace();
    configure_parser(*parser_, opts());
    stream_.expires_after(opts().header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return transport_error(ec, /*header_done=*/false);
    const auto& req = parser_->get();
    if (parser_->content_length() && *parser_->content_length() > opts().max_body) {
      return reject(413, "the request body exceeds the limit of " +
                             std::to_string(opts().max_body) + " bytes");
    }
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      // curl and others wait for this before sending a large body.
      continue_ = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(opts().write_timeout);
      net::async_write(stream_, net::buffer(continue_),
                       [self = shared_from_this()](beast::error_code wec, size_t) {
                         if (wec) return self->close();
                         self->read_body();
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(opts().request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->transport_error(ec, /*header_done=*/true);
                        self->dispatch();
                      });
  }

  // A request that could not be read: answer when the client can still hear it, then close.
  void transport_error(beast::error_code ec, bool header_done) {
    if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return close();
    }
    if (ec == beast::error::timeout) {
      // The stream is already closed by the timeout.
      return close();
    }
    if (ec == bhttp::error::body_limit) {
      return reject(413, "the request body exceeds the limit of " +
                             std::to_string(opts().max_body) + " bytes");
    }
    if (ec == bhttp::error::header_limit) {
      return reject(431,
                    "the request head exceeds " + std::to_string(opts().max_header) + " bytes");
    }
    if (ec == bhttp::error::partial_message) return close();
    (void)header_done;
    reject(400, "malformed HTTP request: " + ec.message());
  }

  // An error response to a request that was not (fully) read; the connection closes after it.
  void reject(int status, const std::string& message) {
    begin_request();
    if (parser_ && parser_->is_header_done()) {
      log_.method = std::string(parser_->get().method_string());
      log_.path = std::string(parser_->get().target());
    }
    keep_alive_ = false;
    linger_ = true;
    ApiError e;
    e.status = status;
    e.message = message;
    if (status == 413) e.code = "request_too_large";
    HttpResponse r = e.to_response();
    if (!shared_->options.cors_origin.empty()) {
      r.headers.emplace_back("Access-Control-Allow-Origin", shared_->options.cors_origin);
    }
    respond(std::move(r));
  }

  void begin_request() {
    in_request_ = true;
    head_ = false;
    response_started_ = response_done_ = false;
    shared_->active.fetch_add(1);
    started_ = Clock::now();
    log_ = AccessLogEntry{};
    log_.remote = remote_;
    log_.request_id = "req-" + std::to_string(shared_->next_id.fetch_add(1));
  }

  void dispatch() {
    bhttp::request<bhttp::string_body> msg = parser_->release();
    parser_.reset();
    begin_request();
    keep_alive_ = msg.keep_alive();
    chunked_ = msg.version() >= 11;
    head_ = msg.method() == bhttp::verb::head;
    HttpRequest r = to_http_request(std::move(msg));
    r.remote = remote_;
    r.request_id = log_.request_id;
    r.received = started_;
    log_.method = r.method;
    log_.path = std::string(r.path());
    start_watch();
    shared_->handler(std::move(r), shared_from_this());
  }

  // ---- noticing a client that goes away while its request runs ----
  void start_watch() {
    if (watching_ || closed_ || buffer_.size() >= kMaxBufferedAhead) return;
    watching_ = true;
    stream_.async_read_some(
        buffer_.prepare(2048),
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_watch(ec, n); });
  }

  void on_watch(beast::error_code ec, size_t n) {
    watching_ = false;
    if (!ec) buffer_.commit(n);
    if (closed_) return;
    if (in_request_) {
      if (ec) return client_gone();  // EOF, reset, or the request timeout
      return start_watch();
    }
    // The response ended while the read was pending (finish_response cancelled it).
    if (ec && ec != net::error::operation_aborted) return close();
    wait_request();
  }

  void client_gone() {
    if (closed_) return;
    if (in_request_ && !response_done_) log_.status = 499;
    shutdown_socket();
    if (in_request_) end_request();
    auto fn = std::move(on_disconnect_);
    on_disconnect_ = nullptr;
    if (fn) fn();
  }

  // ---- writing ----
  void do_write() {
    if (writing_ || closed_) return;
    if (out_.empty()) {
      if (response_done_ && in_request_) finish_response();
      return;
    }
    wbuf_.clear();
    for (auto& s : out_) wbuf_ += s;
    out_.clear();
    writing_ = true;
    stream_.expires_after(opts().write_timeout);  // applies to the write only when a read waits
    net::async_write(stream_, net::buffer(wbuf_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->writing_ = false;
                       if (ec) return self->client_gone();
                       self->do_write();
                     });
  }

  void end_request() {
    in_request_ = false;
    shared_->active.fetch_sub(1);
    if (shared_->options.access_log) {
      log_.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
      write_access_log(log_, shared_->options.log_format);
    }
  }

  void finish_response() {
    end_request();
    on_disconnect_ = nullptr;  // releases the request's state
    if (!keep_alive_) {
      if (linger_) return linger_close();
      return close();
    }
    if (watching_) {
      beast::error_code ignored;
      stream_.socket().cancel(ignored);  // on_watch goes on to the next request
      return;
    }
    wait_request();
  }

  // Half-close, then drop what the client still sends (bounded in bytes and time), then close.
  // Only used after reject(), where no other read is pending.
  void linger_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    drain();
  }

  void drain() {
    discard_.consume(discard_.size());
    stream_.async_read_some(discard_.prepare(16384),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kLingerBytes) return self->close();
                              self->drain();
                            });
  }

  void shutdown_socket() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  void close() {
    if (in_request_) {
      client_gone();
      return;
    }
    shutdown_socket();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  beast::flat_buffer discard_;
  std::optional<BeastParser> parser_;
  std::shared_ptr<Shared> shared_;
  std::string remote_;
  std::string continue_;

  bool in_request_ = false;
  bool response_started_ = false;
  bool response_done_ = false;
  bool keep_alive_ = true;
  bool chunked_ = true;
  bool closed_ = false;
  bool watching_ = false;
  bool writing_ = false;
  bool linger_ = false;
  bool head_ = false;  // a HEAD request: respond() sends no body
  size_t lingered_ = 0;
  std::deque<std::string> out_;
  std::string wbuf_;
  std::function<void()> on_disconnect_;
  AccessLogEntry log_;
  Clock::time_point started_;
};

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<Shared> shared;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::steady_timer retry{ioc};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::atomic<bool> accepting{false};
  int port = 0;
  std::string url_host;

  explicit Impl(int threads_hint) : ioc(threads_hint) {}

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (!accepting) return;
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        // Out of file descriptors and the like: try again shortly instead of spinning.
        retry.expires_after(std::chrono::milliseconds(50));
        retry.async_wait([this](beast::error_code wec) {
          if (!wec) do_accept();
        });
        return;
      }
      beast::error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Connection>(std::move(s), shared)->start();
      do_accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  stop();
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(const HttpOptions& options,
                                                       RequestHandler handler) {
  if (options.port < 0 || options.port > 65535) {
    return invalid_argument("--port must be in [0, 65535]");
  }
  auto impl = std::make_unique<Impl>(std::max(1, options.io_threads));
  impl->shared = std::make_shared<Shared>();
  impl->shared->options = options;
  impl->shared->handler = std::move(handler);
  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  auto results = resolver.resolve(options.host, std::to_string(options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return invalid_argument("cannot resolve --host '" + options.host + "': " + ec.message());
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  auto& acc = impl->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return io_error("cannot listen on " + options.host + ":" + std::to_string(options.port) + ": " +
                    ec.message());
  }
  const tcp::endpoint bound = acc.local_endpoint(ec);
  impl->port = bound.port();
  impl->url_host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                           : bound.address().to_string();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const {
  return impl_->port;
}
std::string HttpServer::url_host() const {
  return impl_->url_host;
}

void HttpServer::start() {
  impl_->work.emplace(impl_->ioc.get_executor());
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    impl->accepting = true;
    impl->do_accept();
  });
  const int n = std::max(1, impl_->shared->options.io_threads);
  for (int i = 0; i < n; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  }
}

void HttpServer::stop_accepting() {
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    impl->accepting = false;
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->retry.cancel();
  });
}

int64_t HttpServer::active_requests() const {
  return impl_->shared->active.load();
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace ember::http
