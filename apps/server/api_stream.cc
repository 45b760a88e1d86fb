// Shared request plumbing for the non-OpenAI endpoints (see api_stream.h).
#include "api_stream.h"

#include <ctime>
#include <random>

namespace ember::http {
namespace {

using Clock = std::chrono::steady_clock;

RequestEventCallback make_callback(const std::shared_ptr<GenerationSink>& sink, Metrics& metrics) {
  auto timer = std::make_shared<RequestTimer>(1);
  return [sink, timer, &metrics](RequestEvent ev) {
    timer->observe(ev, Clock::now(), metrics);
    std::shared_ptr<ResponseWriter> writer = sink->writer;
    writer->post([sink, ev = std::move(ev)]() {
      sink->on_event(ev);
      if (ev.last) sink->handle.reset();
    });
  };
}

template <typename Request>
Status submit(Server& server, Request request, const std::shared_ptr<GenerationSink>& sink,
              Metrics& metrics) {
  request.n = 1;
  Result<std::shared_ptr<ServerRequest>> handle =
      server.submit(std::move(request), make_callback(sink, metrics));
  if (!handle.ok()) return handle.status();
  // Events are posted to this connection's executor, where this runs: none is handled before
  // the handle is stored.
  sink->handle = *handle;
  std::weak_ptr<GenerationSink> weak = sink;
  sink->writer->on_disconnect([weak] {
    if (auto s = weak.lock()) s->cancel();
  });
  return Status::Ok();
}

}  // namespace

Status submit_chat(Server& server, ChatRequest request, const std::shared_ptr<GenerationSink>& sink,
                   Metrics& metrics) {
  return submit(server, std::move(request), sink, metrics);
}

Status submit_completion(Server& server, CompletionRequest request,
                         const std::shared_ptr<GenerationSink>& sink, Metrics& metrics) {
  return submit(server, std::move(request), sink, metrics);
}

bool is_error_event(const RequestEvent& ev) {
  if (!ev.last) return false;
  if (ev.finish_reason == FinishReason::kError) return true;
  return ev.chat && ev.chat->finish_reason == ChatFinishReason::kError;
}

ApiError error_of_event(const RequestEvent& ev) {
  if (ev.error.ok()) return ApiError::internal("generation failed");
  return api_error_from_status(ev.error);
}

void ChatTotals::add(const RequestEvent& ev) {
  message.role = ChatRole::kAssistant;
  if (ev.chat) {
    const ChatChunk& c = *ev.chat;
    message.content += c.content;
    message.reasoning_content += c.reasoning_content;
    for (const ChatToolCallDelta& d : c.tool_calls) {
      auto it = tool_index.find(d.index);
      if (it == tool_index.end()) {
        it = tool_index.emplace(d.index, message.tool_calls.size()).first;
        message.tool_calls.emplace_back();
      }
      ChatToolCall& call = message.tool_calls[it->second];
      if (!d.id.empty()) call.id = d.id;
      if (!d.name.empty()) call.name = d.name;
      call.arguments += d.arguments;
    }
    if (c.finish_reason != ChatFinishReason::kNone) finish = c.finish_reason;
  } else {
    message.content += ev.generation.text;
  }
  if (ev.last) {
    done = true;
    raw_finish = ev.finish_reason;
    stop_string = ev.stop_string;
    usage = ev.usage;
    if (ev.chat && ev.chat->usage) {
      usage.prompt_tokens = ev.chat->usage->prompt_tokens;
      usage.completion_tokens = ev.chat->usage->completion_tokens;
      usage.cached_prompt_tokens = ev.chat->usage->cached_prompt_tokens;
    }
    if (finish == ChatFinishReason::kNone) {
      switch (raw_finish) {
        case FinishReason::kLength:
          finish = ChatFinishReason::kLength;
          break;
        case FinishReason::kCancelled:
          finish = ChatFinishReason::kCancelled;
          break;
        case FinishReason::kError:
          finish = ChatFinishReason::kError;
          break;
        default:
          finish = ChatFinishReason::kStop;
          break;
      }
    }
  }
}

std::string random_hex(size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string s;
  s.reserve(n);
  for (size_t i = 0; i < n; ++i) s += kHex[rd() % 16];
  return s;
}

int64_t ms_to_ns(double ms) {
  if (!(ms > 0)) return 0;
  return static_cast<int64_t>(ms * 1e6);
}

int64_t steady_ns(Clock::time_point from, Clock::time_point to) {
  if (from == Clock::time_point{} || to < from) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

std::string rfc3339_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ns % 1000000000));
  return buf;
}

int64_t unix_now() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string named_sse_event(std::string_view name, const Json& data) {
  std::string s = "event: ";
  s += name;
  s += "\ndata: ";
  s += dump_json(data);
  s += "\n\n";
  return s;
}

}  // namespace ember::http
