// What the Ollama, Anthropic and Responses endpoints share: submitting one request to the Server
// with its events delivered on the connection's executor (after the metrics see them), cancel on
// disconnect, and the running totals of a chat reply. Each endpoint's state derives from
// GenerationSink and turns events into its own JSON.
//
// Lifetime: as in api_generation.cc, the Server's callback holds the sink (and so the writer)
// until the request ends; the sink holds the request handle until its last event.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "api_error.h"
#include "ember/chat.h"
#include "ember/server.h"
#include "http_message.h"
#include "metrics.h"

namespace ember::http {

class GenerationSink {
 public:
  virtual ~GenerationSink() = default;
  // Every event of the request, in order, on the connection's executor.
  virtual void on_event(const RequestEvent& event) = 0;

  // Stops the generation (no more events but the last).
  void cancel() {
    if (handle) handle->cancel();
  }

  std::shared_ptr<ResponseWriter> writer;
  std::shared_ptr<ServerRequest> handle;  // set by submit_*, dropped after the last event
};

// Submits the request (n must be 1) and wires its events to `sink` and its connection's
// disconnect to a cancel. On an error nothing was queued and nothing was sent.
Status submit_chat(Server& server, ChatRequest request, const std::shared_ptr<GenerationSink>& sink,
                   Metrics& metrics);
Status submit_completion(Server& server, CompletionRequest request,
                         const std::shared_ptr<GenerationSink>& sink, Metrics& metrics);

// A failed choice: the last event ended with an error.
bool is_error_event(const RequestEvent& event);
// Its error (an ok Status becomes an internal error).
ApiError error_of_event(const RequestEvent& event);

// The reply so far, from chat events: text, reasoning, tool calls, and at the end the reasons
// and usage.
struct ChatTotals {
  ChatMessage message;                   // role assistant
  std::map<int32_t, size_t> tool_index;  // delta index → message.tool_calls position
  ChatFinishReason finish = ChatFinishReason::kNone;
  FinishReason raw_finish = FinishReason::kNone;
  std::string stop_string;
  GenerationUsage usage;
  bool done = false;

  void add(const RequestEvent& event);
};

// Random lowercase hex digits (ids that are unique and unguessable).
std::string random_hex(size_t n);

// Milliseconds (double) → integer nanoseconds.
int64_t ms_to_ns(double ms);
// Nanoseconds from `from` to `to` (0 when `from` is unset).
int64_t steady_ns(std::chrono::steady_clock::time_point from,
                  std::chrono::steady_clock::time_point to);
// Now as RFC 3339 UTC with nanoseconds: "2024-05-01T12:34:56.123456789Z" (Ollama's created_at).
std::string rfc3339_now();
// Now as Unix seconds.
int64_t unix_now();

// A Server-Sent Event with an event name: "event: NAME\ndata: <json>\n\n" (Anthropic and the
// Responses API name their events).
std::string named_sse_event(std::string_view name, const Json& data);

}  // namespace ember::http
