// Settings of the HTTP front end (`ember serve` flags that are not the serving core's).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ember::http {

enum class LogFormat { kText, kJson };

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = a free port chosen by the system
  // The model's name in /v1/models and in responses; requests naming another model get 404.
  std::string model_id;
  std::string model_path;
  // Required bearer token ("" = no authentication).
  std::string api_key;
  // Access-Control-Allow-Origin value ("" = CORS off).
  std::string cors_origin;
  // Largest accepted request body.
  uint64_t max_body = uint64_t{8} << 20;
  // Largest accepted request head (request line + headers).
  uint32_t max_header = 16 * 1024;
  // Waiting for the first byte of a request on an open connection (keep-alive).
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // From the first byte of a request to the end of its headers.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(15)};
  // From the end of the headers to the end of the response (body upload + generation).
  std::chrono::milliseconds request_timeout{std::chrono::seconds(600)};
  // One write to the client making no progress (a stalled reader) closes the connection.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // Threads running the connections (parsing, JSON, writes); generation runs on the Server's own.
  int io_threads = 2;
  LogFormat log_format = LogFormat::kText;
  bool access_log = true;
  // Serve the web chat page at / (`--no-webui` turns it off: / is then 404).
  bool webui = true;
};

}  // namespace ember::http
