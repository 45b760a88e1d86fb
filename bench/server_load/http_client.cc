#include "http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace ember::load {
namespace {

// Owns a socket descriptor.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

Status wait_for(int fd, short events, std::chrono::milliseconds timeout, const char* what) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r > 0) return Status::Ok();
    if (r == 0) return io_error(std::string("timed out waiting to ") + what);
    if (errno != EINTR) return io_error(std::string("poll: ") + std::strerror(errno));
  }
}

Result<int> connect_to(const HttpTarget& t, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(t.port);
  if (int rc = ::getaddrinfo(t.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return io_error("resolve " + t.host + ": " + ::gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      Status w = wait_for(fd, POLLOUT, timeout, "connect");
      int err = 0;
      socklen_t len = sizeof err;
      if (w.ok() && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        rc = 0;
      } else {
        last = w.ok() ? std::strerror(err) : w.message();
      }
    } else if (rc != 0) {
      last = std::strerror(errno);
    }
    if (rc == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(res);
      return fd;
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return io_error("connect " + t.host + ":" + port + ": " + last);
}

Status send_all(int fd, std::string_view data, std::chrono::milliseconds timeout) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      EMBER_RETURN_IF_ERROR(wait_for(fd, POLLOUT, timeout, "send"));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return io_error(std::string("send: ") + std::strerror(errno));
    }
  }
  return Status::Ok();
}

// Reads what is available (waiting up to `timeout`); 0 bytes = the server closed.
Result<size_t> recv_some(int fd, char* buf, size_t cap, std::chrono::milliseconds timeout) {
  for (;;) {
    const ssize_t n = ::recv(fd, buf, cap, 0);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      EMBER_RETURN_IF_ERROR(wait_for(fd, POLLIN, timeout, "receive"));
      continue;
    }
    return io_error(std::string("recv: ") + std::strerror(errno));
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Parses "HTTP/1.1 200 OK\r\nName: value\r\n..." (without the blank line).
Status parse_head(std::string_view head, HttpResponse& out) {
  const size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.size() < 12) {
    return io_error("bad status line: " + std::string(status_line.substr(0, 80)));
  }
  const std::string_view code = status_line.substr(9, 3);
  auto [p, ec] = std::from_chars(code.data(), code.data() + code.size(), out.status);
  if (ec != std::errc() || p != code.data() + code.size()) {
    return io_error("bad status code: " + std::string(status_line.substr(0, 80)));
  }
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view line = head.substr(pos, end - pos);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      out.headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
    }
    pos = end + 2;
  }
  return Status::Ok();
}

// Incremental decoder of a chunked body: feed raw bytes, get data pieces.
class ChunkedDecoder {
 public:
  // Returns false when the sink stopped; sets done() at the last chunk.
  Result<bool> feed(std::string_view bytes, const std::function<bool(std::string_view)>& out) {
    buf_.append(bytes);
    size_t pos = 0;
    while (!done_) {
      if (remaining_ == 0) {
        if (need_crlf_) {
          if (buf_.size() - pos < 2) break;
          if (buf_.compare(pos, 2, "\r\n") != 0) return io_error("chunked body: missing CRLF");
          pos += 2;
          need_crlf_ = false;
        }
        const size_t eol = buf_.find("\r\n", pos);
        if (eol == std::string::npos) {
          if (buf_.size() - pos > 1024) return io_error("chunked body: chunk size line too long");
          break;
        }
        std::string_view line(buf_.data() + pos, eol - pos);
        if (size_t semi = line.find(';'); semi != std::string_view::npos)
          line = line.substr(0, semi);
        line = trim(line);
        size_t size = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
        if (ec != std::errc() || p != line.data() + line.size() || line.empty()) {
          return io_error("chunked body: bad chunk size '" + std::string(line.substr(0, 40)) + "'");
        }
        pos = eol + 2;
        if (size == 0) {
          done_ = true;  // trailers, if any, are ignored: the connection closes after this
          break;
        }
        remaining_ = size;
      }
      const size_t take = std::min(remaining_, buf_.size() - pos);
      if (take == 0) break;
      if (!out(std::string_view(buf_.data() + pos, take))) {
        buf_.erase(0, pos + take);
        return false;
      }
      pos += take;
      remaining_ -= take;
      if (remaining_ == 0) need_crlf_ = true;
    }
    buf_.erase(0, pos);
    return true;
  }
  bool done() const { return done_; }

 private:
  std::string buf_;
  size_t remaining_ = 0;
  bool need_crlf_ = false;
  bool done_ = false;
};

}  // namespace

Result<RequestResult> http_request(const HttpTarget& target, std::string_view method,
                                   std::string_view path, std::string_view body,
                                   const BodySink& sink, std::chrono::milliseconds io_timeout) {
  EMBER_ASSIGN_OR_RETURN(int fd, connect_to(target, io_timeout));
  Socket sock(fd);

  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  req.append("Host: ").append(target.host).append(":").append(std::to_string(target.port));
  req.append("\r\nConnection: close\r\nUser-Agent: ember-server-load\r\n");
  if (!target.api_key.empty())
    req.append("Authorization: Bearer ").append(target.api_key).append("\r\n");
  if (!body.empty() || method == "POST") {
    req.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  req.append("\r\n").append(body);
  EMBER_RETURN_IF_ERROR(send_all(fd, req, io_timeout));

  RequestResult result;
  HttpResponse& resp = result.response;
  std::string buf;
  char tmp[16384];
  size_t head_end = std::string::npos;
  while (head_end == std::string::npos) {
    EMBER_ASSIGN_OR_RETURN(size_t n, recv_some(fd, tmp, sizeof tmp, io_timeout));
    if (n == 0) {
      return io_error(buf.empty() ? "connection closed before any response"
                                  : "connection closed inside the response head");
    }
    buf.append(tmp, n);
    head_end = buf.find("\r\n\r\n");
    if (head_end == std::string::npos && buf.size() > (1u << 20)) {
      return io_error("response head larger than 1 MiB");
    }
  }
  EMBER_RETURN_IF_ERROR(parse_head(std::string_view(buf).substr(0, head_end), resp));
  std::string rest = buf.substr(head_end + 4);

  auto deliver = [&](std::string_view piece) -> bool {
    if (sink) return sink(piece);
    resp.body.append(piece);
    return true;
  };

  const auto te = resp.headers.find("transfer-encoding");
  const bool chunked =
      te != resp.headers.end() && lower(te->second).find("chunked") != std::string::npos;
  if (chunked) {
    ChunkedDecoder dec;
    std::string_view pending = rest;
    for (;;) {
      EMBER_ASSIGN_OR_RETURN(bool go_on, dec.feed(pending, deliver));
      if (!go_on) {
        result.stopped = true;
        return result;
      }
      if (dec.done()) return result;
      EMBER_ASSIGN_OR_RETURN(size_t n, recv_some(fd, tmp, sizeof tmp, io_timeout));
      if (n == 0) return io_error("connection closed inside a chunked body");
      pending = std::string_view(tmp, n);
    }
  }

  const auto cl = resp.headers.find("content-length");
  if (cl != resp.headers.end()) {
    size_t want = 0;
    auto [p, ec] = std::from_chars(cl->second.data(), cl->second.data() + cl->second.size(), want);
    if (ec != std::errc() || p != cl->second.data() + cl->second.size()) {
      return io_error("bad Content-Length: " + cl->second);
    }
    size_t got = std::min(rest.size(), want);
    if (got > 0 && !deliver(std::string_view(rest).substr(0, got))) {
      result.stopped = true;
      return result;
    }
    while (got < want) {
      EMBER_ASSIGN_OR_RETURN(size_t n,
                             recv_some(fd, tmp, std::min(sizeof tmp, want - got), io_timeout));
      if (n == 0) return io_error("connection closed inside the body");
      got += n;
      if (!deliver(std::string_view(tmp, n))) {
        result.stopped = true;
        return result;
      }
    }
    return result;
  }

  // Neither: the body runs until the server closes (HTTP/1.1 with Connection: close).
  if (!rest.empty() && !deliver(rest)) {
    result.stopped = true;
    return result;
  }
  for (;;) {
    EMBER_ASSIGN_OR_RETURN(size_t n, recv_some(fd, tmp, sizeof tmp, io_timeout));
    if (n == 0) return result;
    if (!deliver(std::string_view(tmp, n))) {
      result.stopped = true;
      return result;
    }
  }
}

bool SseSplitter::feed(std::string_view bytes) {
  pending_.append(bytes);
  size_t start = 0;
  for (;;) {
    // Events end with a blank line; accept both LF and CRLF line ends.
    size_t end = pending_.find("\n\n", start);
    size_t sep = 2;
    const size_t crlf = pending_.find("\r\n\r\n", start);
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      sep = 4;
    }
    if (end == std::string::npos) break;
    std::string_view event(pending_.data() + start, end - start);
    std::string data;
    bool has_data = false;
    while (!event.empty()) {
      size_t nl = event.find('\n');
      std::string_view line = event.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.substr(0, 5) == "data:") {
        std::string_view v = line.substr(5);
        if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        if (has_data) data.push_back('\n');
        data.append(v);
        has_data = true;
      }
      if (nl == std::string_view::npos) break;
      event.remove_prefix(nl + 1);
    }
    start = end + sep;
    if (has_data && !on_event_(data)) {
      pending_.erase(0, start);
      return false;
    }
  }
  pending_.erase(0, start);
  return true;
}

}  // namespace ember::load
