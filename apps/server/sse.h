// Server-Sent Events as OpenAI streams them: one `data: <json>` event per chunk, a blank line
// after each, and `data: [DONE]` at the end.
#pragma once

#include <string>
#include <string_view>

#include "api_error.h"

namespace ember::http {

inline constexpr std::string_view kSseContentType = "text/event-stream";
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// "data: <compact JSON>\n\n" (compact JSON has no newline, so it is one event line).
inline std::string sse_event(const Json& j) {
  return "data: " + dump_json(j) + "\n\n";
}

}  // namespace ember::http
