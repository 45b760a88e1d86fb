// Testing `ember serve` end to end: start the real server as a child process on a free loopback
// port, and talk HTTP/1.1 to it over plain POSIX sockets (no HTTP library, so the tests check the
// bytes the server really sends).
//
//   auto srv = ember::testing::ServerProcess::start({"-m", model_path, "--parallel", "2"});
//   ASSERT_TRUE(srv->ok()) << srv->error();
//   ember::testing::HttpClient client(srv->port());
//   ember::testing::HttpResponse r = client.request("GET", "/health");
//   EXPECT_EQ(r.status, 200) << r.error;
//
//   // Streaming (Server-Sent Events): events one by one, close the socket whenever you like.
//   ember::testing::SseStream sse(srv->port(), "/v1/chat/completions", body_json);
//   while (std::optional<std::string> data = sse.next_event()) { ... *data is the `data:` text }
//   sse.close();  // a client that goes away mid-stream
//
// ServerProcess always kills and reaps its child in the destructor (SIGTERM, then SIGKILL after
// a grace period), also when a test fails or throws, and the child is killed by the kernel
// if the test process dies (PR_SET_PDEATHSIG). A thread drains the child's stderr all the time,
// so the server never blocks on a full pipe (its access log goes there); `stderr_text()` returns
// what it wrote (the last kMaxLogBytes).
//
// Everything here is blocking with timeouts and reports failures as values (`error` strings), so
// it can also drive load generators and flood tests outside GoogleTest assertions.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ember::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---- the server process ---------------------------------------------------------------------

class ServerProcess {
 public:
  static constexpr size_t kMaxLogBytes = size_t{8} << 20;

  // Runs `EMBER_CLI_PATH serve ARGS --port 0` (plus `--host 127.0.0.1` unless ARGS has --host)
  // and waits until it prints "ember: listening on http://HOST:PORT" (or exits, or `timeout`
  // passes). Check ok(); error() then holds the reason and the server's stderr.
  // `program` is the ember binary (the tests' EMBER_CLI_PATH by default).
  static std::unique_ptr<ServerProcess> start_program(
      const std::string& program, const std::vector<std::string>& args,
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::unique_ptr<ServerProcess> p(new ServerProcess());
    p->launch(program, args, timeout);
    return p;
  }
#ifdef EMBER_CLI_PATH
  static std::unique_ptr<ServerProcess> start(
      const std::vector<std::string>& args,
      std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return start_program(EMBER_CLI_PATH, args, timeout);
  }
#endif

  ~ServerProcess() {
    stop(SIGTERM, std::chrono::seconds(5));
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ok() const {
    return error_.empty();
  }
  const std::string& error() const {
    return error_;
  }
  int port() const {
    return port_;
  }
  const std::string& host() const {
    return host_;
  }
  pid_t pid() const {
    return pid_;
  }

  // Everything the server wrote to stderr (and stdout) so far.
  std::string stderr_text() const {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  // Waits until stderr contains `needle` (true) or `timeout` passes (false).
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return log_.find(needle) != std::string::npos || eof_;
    }) && log_.find(needle) != std::string::npos;
  }

  // Sends `sig`, waits up to `grace` for the child to exit, then SIGKILLs it; reaps it and
  // returns its wait status (as waitpid reports it), or -1 when it was already reaped.
  int stop(int sig = SIGTERM, std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    int status = -1;
    if (pid_ > 0) {
      ::kill(pid_, sig);
      const auto deadline = std::chrono::steady_clock::now() + grace;
      bool reaped = false;
      while (std::chrono::steady_clock::now() < deadline) {
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || r < 0) {
          reaped = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (!reaped) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    if (pipe_fd_ >= 0) {
      ::close(pipe_fd_);
      pipe_fd_ = -1;
    }
    return status;
  }

 private:
  ServerProcess() = default;

  void launch(const std::string& program, const std::vector<std::string>& args,
              std::chrono::milliseconds timeout) {
    std::vector<std::string> argv_s = {program, "serve"};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    const bool has_host = std::find(args.begin(), args.end(), "--host") != args.end();
    const bool has_port = std::find(args.begin(), args.end(), "--port") != args.end();
    if (!has_host) argv_s.insert(argv_s.end(), {"--host", "127.0.0.1"});
    if (!has_port) argv_s.insert(argv_s.end(), {"--port", "0"});
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      error_ = std::string("pipe: ") + std::strerror(errno);
      return;
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      error_ = std::string("fork: ") + std::strerror(errno);
      ::close(fds[0]);
      ::close(fds[1]);
      return;
    }
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(fds[1], STDERR_FILENO);
      ::dup2(fds[1], STDOUT_FILENO);
      const int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    ::close(fds[1]);
    pipe_fd_ = fds[0];
    reader_ = std::thread([this] { drain(); });

    std::unique_lock<std::mutex> lock(mu_);
    const std::string marker = "ember: listening on http://";
    const bool seen =
        cv_.wait_for(lock, timeout, [&] { return log_.find(marker) != std::string::npos || eof_; });
    const size_t at = log_.find(marker);
    if (!seen || at == std::string::npos) {
      error_ = std::string(seen ? "the server exited before listening"
                                : "timed out waiting for the listening line") +
               "; its output:\n" + log_;
      return;
    }
    const size_t eol = log_.find('\n', at);
    if (eol == std::string::npos) {
      // The line is flushed in one write; wait for its end.
      cv_.wait_for(lock, std::chrono::seconds(5),
                   [&] { return log_.find('\n', at) != std::string::npos || eof_; });
    }
    const std::string line =
        log_.substr(at + marker.size(), log_.find('\n', at) - at - marker.size());
    const size_t colon = line.rfind(':');
    if (colon == std::string::npos) {
      error_ = "cannot parse the listening line: " + line;
      return;
    }
    host_ = line.substr(0, colon);
    if (host_.size() >= 2 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
    port_ = std::atoi(line.c_str() + colon + 1);
    if (port_ <= 0) error_ = "cannot parse the port of: " + line;
  }

  void drain() {
    char buf[8192];
    for (;;) {
      const ssize_t n = ::read(pipe_fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard<std::mutex> lock(mu_);
      if (n <= 0) {
        eof_ = true;
        cv_.notify_all();
        return;
      }
      log_.append(buf, static_cast<size_t>(n));
      if (log_.size() > kMaxLogBytes) log_.erase(0, log_.size() - kMaxLogBytes / 2);
      cv_.notify_all();
    }
  }

  pid_t pid_ = -1;
  int pipe_fd_ = -1;
  int port_ = 0;
  std::string host_;
  std::string error_;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string log_;
  bool eof_ = false;
};

// ---- a blocking HTTP/1.1 client ---------------------------------------------------------------

struct HttpResponse {
  int status = 0;  // 0 when no response was read (see error)
  std::string reason;
  Headers headers;  // names lower-cased, in order
  std::string body;
  std::string error;  // transport problem (connect, timeout, malformed response)

  // The first header named `name` (case-insensitive), or "".
  std::string header(std::string_view name) const {
    const std::string n = ascii_lower(name);
    for (const auto& [k, v] : headers) {
      if (k == n) return v;
    }
    return "";
  }
  bool has_header(std::string_view name) const {
    const std::string n = ascii_lower(name);
    for (const auto& h : headers) {
      if (h.first == n) return true;
    }
    return false;
  }
};

// One TCP connection to 127.0.0.1:port (or `host`, an IPv4 or IPv6 literal), with a read
// buffer. Keep-alive is the default: call request() several times on one connection.
class HttpConnection {
 public:
  explicit HttpConnection(int port, const std::string& host = "127.0.0.1") : port_(port) {
    connect_to(host);
  }
  ~HttpConnection() { close(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Writes raw bytes (for malformed requests); false when the socket refuses them.
  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      if (fd_ < 0) return false;
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = std::string("send: ") + std::strerror(errno);
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Sends METHOD PATH with `body` (Content-Length, and Content-Type: application/json when the
  // body is not empty and `headers` has no Content-Type) and the extra headers.
  bool send_request(const std::string& method, const std::string& path,
                    const std::string& body = "", const Headers& headers = {}) {
    std::string req =
        method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n";
    bool has_type = false;
    for (const auto& [k, v] : headers) {
      if (ascii_lower(k) == "content-type") has_type = true;
      req += k + ": " + v + "\r\n";
    }
    if (!body.empty() && !has_type) req += "Content-Type: application/json\r\n";
    if (!body.empty() || method == "POST" || method == "PUT") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n";
    req += body;
    return send_raw(req);
  }

  // Reads a status line and headers (skipping 1xx responses).
  HttpResponse read_head(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    HttpResponse r;
    for (;;) {
      std::optional<std::string> line = read_line(timeout);
      if (!line) {
        r.error = "no status line: " + error_;
        return r;
      }
      // "HTTP/1.1 200 OK"
      if (line->rfind("HTTP/1.", 0) != 0 || line->size() < 12) {
        r.error = "malformed status line: " + *line;
        return r;
      }
      r.status = std::atoi(line->c_str() + 9);
      r.reason = line->size() > 13 ? line->substr(13) : "";
      r.headers.clear();
      for (;;) {
        std::optional<std::string> h = read_line(timeout);
        if (!h) {
          r.error = "truncated headers: " + error_;
          r.status = 0;
          return r;
        }
        if (h->empty()) break;
        const size_t colon = h->find(':');
        if (colon == std::string::npos) {
          r.error = "malformed header: " + *h;
          r.status = 0;
          return r;
        }
        std::string value = h->substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
          value.erase(0, 1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
        r.headers.emplace_back(ascii_lower(h->substr(0, colon)), value);
      }
      if (r.status >= 100 && r.status < 200) continue;  // 100 Continue
      return r;
    }
  }

  // Reads a whole response: head and body (Content-Length, chunked, or until the server closes).
  HttpResponse read_response(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    HttpResponse r = read_head(timeout);
    if (r.status == 0) return r;
    if (ascii_lower(r.header("transfer-encoding")).find("chunked") != std::string::npos) {
      for (;;) {
        std::optional<std::string> chunk = read_chunk(timeout);
        if (!chunk) {
          r.error = "truncated chunked body: " + error_;
          return r;
        }
        if (chunk->empty()) break;
        r.body += *chunk;
      }
    } else if (r.has_header("content-length")) {
      const long long n = std::atoll(r.header("content-length").c_str());
      std::optional<std::string> body = read_exact(static_cast<size_t>(std::max(0LL, n)), timeout);
      if (!body) {
        r.error = "truncated body: " + error_;
        return r;
      }
      r.body = std::move(*body);
    } else if (r.status != 204 && r.status != 304) {
      r.body = read_until_close(timeout);
    }
    return r;
  }

  // send_request + read_response.
  HttpResponse request(const std::string& method, const std::string& path,
                       const std::string& body = "", const Headers& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    if (!send_request(method, path, body, headers)) {
      HttpResponse r;
      r.error = "cannot send: " + error_;
      return r;
    }
    return read_response(timeout);
  }

  // One chunk of a chunked body ("" for the last, zero-size chunk, after which the trailers are
  // consumed); std::nullopt on a transport error or a malformed chunk.
  std::optional<std::string> read_chunk(std::chrono::milliseconds timeout) {
    std::optional<std::string> size_line = read_line(timeout);
    if (!size_line) return std::nullopt;
    char* end = nullptr;
    const unsigned long long size = std::strtoull(size_line->c_str(), &end, 16);
    if (end == size_line->c_str() || size > (1ull << 32)) {
      error_ = "malformed chunk size: " + *size_line;
      return std::nullopt;
    }
    if (size == 0) {
      for (;;) {  // trailers up to the empty line
        std::optional<std::string> t = read_line(timeout);
        if (!t) return std::nullopt;
        if (t->empty()) return std::string();
      }
    }
    std::optional<std::string> data = read_exact(static_cast<size_t>(size), timeout);
    if (!data) return std::nullopt;
    std::optional<std::string> crlf = read_line(timeout);
    if (!crlf || !crlf->empty()) {
      error_ = "chunk not followed by CRLF";
      return std::nullopt;
    }
    return data;
  }

  // A line without its CRLF (or LF); std::nullopt on timeout, EOF or error (see error()).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (buf_.size() > (size_t{1} << 20)) {
        error_ = "line longer than 1 MiB";
        return std::nullopt;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  std::optional<std::string> read_exact(size_t n, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.size() < n) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

  // Whatever is buffered, after waiting for at least one byte; std::nullopt on timeout / EOF.
  std::optional<std::string> read_some(std::chrono::milliseconds timeout) {
    if (buf_.empty() && !fill(std::chrono::steady_clock::now() + timeout)) return std::nullopt;
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
  }
  bool closed_by_peer() const { return eof_; }

  // Everything until the peer closes (or the timeout passes).
  std::string read_until_close(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    std::string out = std::move(buf_);
    buf_.clear();
    return out;
  }

  // True when the server closed the connection (EOF seen within `timeout`); data received
  // before is kept in the buffer.
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return eof_;
  }

 private:
  void connect_to(const std::string& host) {
    const bool v6 = host.find(':') != std::string::npos;
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      error_ = std::string("socket: ") + std::strerror(errno);
      return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(static_cast<uint16_t>(port_));
      ::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port_));
      ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    if (rc != 0) {
      error_ = "connect to " + host + ":" + std::to_string(port_) + ": " + std::strerror(errno);
      close();
    }
  }

  // Reads more bytes into buf_ before `deadline`; false on timeout, EOF or error.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) {
      error_ = "not connected";
      return false;
    }
    if (eof_) {
      error_ = "connection closed by the server";
      return false;
    }
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        error_ = "timed out";
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) {
        error_ = std::string("poll: ") + std::strerror(errno);
        return false;
      }
      if (rc == 0) continue;  // re-check the deadline
      char tmp[16384];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error_ = std::string("recv: ") + std::strerror(errno);
        eof_ = true;  // reset by peer: nothing more will come
        return false;
      }
      if (n == 0) {
        eof_ = true;
        error_ = "connection closed by the server";
        return false;
      }
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }

  int port_;
  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
  std::string error_;
};

// A fresh connection per call: the simplest way to send one request.
inline HttpResponse http_request(int port, const std::string& method, const std::string& path,
                                 const std::string& body = "", const Headers& headers = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
  HttpConnection c(port);
  if (!c.connected()) {
    HttpResponse r;
    r.error = c.error();
    return r;
  }
  return c.request(method, path, body, headers, timeout);
}

// ---- Server-Sent Events -----------------------------------------------------------------------

// POSTs `body` and reads the response as an event stream. `head` is the response's status and
// headers (when the status is not 200, `error_body` holds the JSON error and there are no events).
class SseStream {
 public:
  SseStream(int port, const std::string& path, const std::string& body, const Headers& headers = {},
            std::chrono::milliseconds timeout = std::chrono::seconds(120))
      : conn_(port) {
    if (!conn_.connected()) {
      head_.error = conn_.error();
      return;
    }
    if (!conn_.send_request("POST", path, body, headers)) {
      head_.error = conn_.error();
      return;
    }
    head_ = conn_.read_head(timeout);
    if (head_.status == 0) return;
    chunked_ = ascii_lower(head_.header("transfer-encoding")).find("chunked") != std::string::npos;
    if (head_.status != 200) {
      // A JSON error response: read it whole.
      if (chunked_) {
        while (std::optional<std::string> c = conn_.read_chunk(timeout)) {
          if (c->empty()) break;
          error_body_ += *c;
        }
      } else if (head_.has_header("content-length")) {
        error_body_ =
            conn_
                .read_exact(static_cast<size_t>(std::atoll(head_.header("content-length").c_str())),
                            timeout)
                .value_or("");
      }
      done_ = true;
    }
  }

  const HttpResponse& head() const { return head_; }
  const std::string& error_body() const { return error_body_; }
  // Set when the stream ended badly (transport error, malformed framing, timeout).
  const std::string& error() const { return error_; }
  // True after the body ended normally (the last chunk) — not after close().
  bool finished() const { return finished_; }

  // The data of the next event (multi-line data joined with "\n"; comments and other fields
  // skipped), or std::nullopt at the end of the body or on an error.
  std::optional<std::string> next_event(
      std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    for (;;) {
      // An event ends at a blank line.
      const size_t end = pending_.find("\n\n");
      if (end != std::string::npos) {
        std::string block = pending_.substr(0, end);
        pending_.erase(0, end + 2);
        std::string data;
        bool has_data = false;
        size_t pos = 0;
        while (pos <= block.size()) {
          size_t nl = block.find('\n', pos);
          if (nl == std::string::npos) nl = block.size();
          std::string_view line(block.data() + pos, nl - pos);
          if (line.rfind("data:", 0) == 0) {
            line.remove_prefix(5);
            if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
            if (has_data) data += '\n';
            data.append(line);
            has_data = true;
          }
          pos = nl + 1;
        }
        if (has_data) return data;
        continue;
      }
      if (done_) return std::nullopt;
      std::optional<std::string> more;
      if (chunked_) {
        more = conn_.read_chunk(timeout);
        if (more && more->empty()) {
          done_ = finished_ = true;
          continue;
        }
      } else {
        // HTTP/1.0-style body delimited by close.
        more = conn_.read_some(timeout);
        if (!more && conn_.closed_by_peer()) {
          done_ = finished_ = true;
          continue;
        }
      }
      if (!more) {
        error_ = conn_.error();
        done_ = true;
        return std::nullopt;
      }
      // Normalize CRLF line ends (allowed by the SSE format) to LF.
      for (char c : *more) {
        if (c == '\r') continue;
        pending_ += c;
      }
    }
  }

  // Every remaining event's data.
  std::vector<std::string> all_events(
      std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> out;
    while (std::optional<std::string> e = next_event(timeout)) out.push_back(std::move(*e));
    return out;
  }

  // Closes the socket now (a client that disconnects mid-stream).
  void close() {
    conn_.close();
    done_ = true;
  }

  HttpConnection& connection() { return conn_; }

 private:
  HttpConnection conn_;
  HttpResponse head_;
  std::string error_body_;
  std::string error_;
  std::string pending_;
  bool chunked_ = false;
  bool done_ = false;
  bool finished_ = false;
};

}  // namespace ember::testing
