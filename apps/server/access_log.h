// One structured line per request on stderr, written with one write() so lines from different
// threads never interleave.
//   text: ember: 127.0.0.1 "POST /v1/chat/completions" 200 35.2ms id=req-7 prompt=21 completion=8
//   json: {"ts":"2026-01-01T12:00:00.000Z","remote":"127.0.0.1","method":"POST","path":...,
//          "status":200,"duration_ms":35.2,"request_id":"req-7","prompt_tokens":21,
//          "completion_tokens":8}
#pragma once

#include <cstdint>
#include <string>

#include "http_options.h"

namespace ember::http {

struct AccessLogEntry {
  std::string remote;
  std::string method;
  std::string path;
  int status = 0;  // 499: the client went away before the response ended
  double duration_ms = 0.0;
  std::string request_id;
  int64_t prompt_tokens = -1;  // -1: not a generation request
  int64_t completion_tokens = -1;
};

std::string format_access_log(const AccessLogEntry& entry, LogFormat format);
void write_access_log(const AccessLogEntry& entry, LogFormat format);

}  // namespace ember::http
