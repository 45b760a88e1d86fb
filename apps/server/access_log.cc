// Access log lines (see access_log.h).
#include "access_log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "api_error.h"

namespace ember::http {
namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

// Request paths come from the client: keep the text line printable and on one line.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 256)) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::string format_access_log(const AccessLogEntry& e, LogFormat format) {
  char dur[32];
  std::snprintf(dur, sizeof dur, "%.1f", e.duration_ms);
  if (format == LogFormat::kJson) {
    Json j = {{"ts", utc_now()},           {"remote", e.remote},
              {"method", e.method},        {"path", e.path.substr(0, 256)},
              {"status", e.status},        {"duration_ms", std::stod(dur)},
              {"request_id", e.request_id}};
    if (e.prompt_tokens >= 0) j["prompt_tokens"] = e.prompt_tokens;
    if (e.completion_tokens >= 0) j["completion_tokens"] = e.completion_tokens;
    return dump_json(j) + "\n";
  }
  std::string line = "ember: " + e.remote + " \"" + printable(e.method) + " " + printable(e.path) +
                     "\" " + std::to_string(e.status) + " " + dur + "ms id=" + e.request_id;
  if (e.prompt_tokens >= 0) line += " prompt=" + std::to_string(e.prompt_tokens);
  if (e.completion_tokens >= 0) line += " completion=" + std::to_string(e.completion_tokens);
  return line + "\n";
}

void write_access_log(const AccessLogEntry& entry, LogFormat format) {
  const std::string line = format_access_log(entry, format);
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) return;  // stderr gone: logging never stops serving
    off += static_cast<size_t>(n);
  }
}

}  // namespace ember::http
