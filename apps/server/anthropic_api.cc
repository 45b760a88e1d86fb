// Anthropic's Messages API on ember's Server: POST /v1/messages (a `message` object, or its
// event stream: message_start, ping, content_block_start / _delta / _stop, message_delta,
// message_stop; error events) and POST /v1/messages/count_tokens. Errors are Anthropic's
// {"type": "error", "error": {"type", "message"}} (api_dialects.h).
#include <algorithm>

#include "anthropic_request.h"
#include "api.h"
#include "api_dialects.h"
#include "api_sinks.h"
#include "api_stream.h"
#include "json_fields.h"

namespace ember::http {
namespace {

struct StopInfo {
  std::string reason;
  Json sequence;  // the stop sequence that ended it, or null
};

StopInfo stop_info(const ChatTotals& t, const std::vector<std::string>& stop_sequences) {
  switch (t.finish) {
    case ChatFinishReason::kToolCalls:
      return {"tool_use", nullptr};
    case ChatFinishReason::kLength:
      return {"max_tokens", nullptr};
    default:
      break;
  }
  // The template's own end-of-turn strings also end a reply: only the request's are a
  // stop_sequence.
  if (!t.stop_string.empty() && std::find(stop_sequences.begin(), stop_sequences.end(),
                                          t.stop_string) != stop_sequences.end()) {
    return {"stop_sequence", t.stop_string};
  }
  return {"end_turn", nullptr};
}

// Anthropic counts cached prompt tokens apart: input_tokens + cache_read_input_tokens is the
// whole prompt.
Json usage_json(const GenerationUsage& u) {
  return {{"input_tokens", u.prompt_tokens - u.cached_prompt_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", u.cached_prompt_tokens},
          {"output_tokens", u.completion_tokens}};
}

class AnthropicSink : public GenerationSink {
 public:
  bool stream = false;
  std::string id;
  std::string model_name;
  std::vector<std::string> stop_sequences;
  const HttpOptions* options = nullptr;

  void on_event(const RequestEvent& ev) override {
    if (failed_) return;
    if (is_error_event(ev)) return fail(error_of_event(ev));
    totals_.add(ev);
    if (!stream) {
      if (ev.last) respond_whole();
      return;
    }
    begin();
    if (ev.chat) {
      const ChatChunk& c = *ev.chat;
      if (!c.reasoning_content.empty()) {
        open(Block::kThinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}});
        delta({{"type", "thinking_delta"}, {"thinking", c.reasoning_content}});
      }
      if (!c.content.empty()) {
        open(Block::kText, {{"type", "text"}, {"text", ""}});
        delta({{"type", "text_delta"}, {"text", c.content}});
      }
      for (const ChatToolCallDelta& d : c.tool_calls) {
        if (block_ != Block::kTool || d.index != tool_index_) {
          tool_index_ = d.index;
          const size_t at = totals_.tool_index.count(d.index) ? totals_.tool_index[d.index] : 0;
          const ChatToolCall& call = totals_.message.tool_calls.at(at);
          open(Block::kTool,
               {{"type", "tool_use"},
                {"id", call.id},
                {"name", call.name},
                {"input", Json::object()}},
               /*force=*/true);
        }
        if (!d.arguments.empty())
          delta({{"type", "input_json_delta"}, {"partial_json", d.arguments}});
      }
    }
    if (!ev.last) return;
    // A reply with no output still has one (empty) text block, as the non-streamed one does.
    if (index_ < 0) open(Block::kText, {{"type", "text"}, {"text", ""}});
    close();
    const StopInfo stop = stop_info(totals_, stop_sequences);
    write("message_delta",
          {{"type", "message_delta"},
           {"delta", {{"stop_reason", stop.reason}, {"stop_sequence", stop.sequence}}},
           {"usage", usage_json(totals_.usage)}});
    write("message_stop", {{"type", "message_stop"}});
    writer->set_log_tokens(totals_.usage.prompt_tokens, totals_.usage.completion_tokens);
    writer->end_stream();
  }

 private:
  enum class Block { kNone, kThinking, kText, kTool };

  Json message_head() const {
    return {{"id", id},
            {"type", "message"},
            {"role", "assistant"},
            {"model", model_name},
            {"content", Json::array()},
            {"stop_reason", nullptr},
            {"stop_sequence", nullptr}};
  }

  void respond_whole() {
    Json content = Json::array();
    const ChatMessage& m = totals_.message;
    if (!m.reasoning_content.empty()) {
      content.push_back(
          {{"type", "thinking"}, {"thinking", m.reasoning_content}, {"signature", ""}});
    }
    if (!m.content.empty()) content.push_back({{"type", "text"}, {"text", m.content}});
    for (const ChatToolCall& c : m.tool_calls) {
      Result<Json> input = fields::arguments_object(c.arguments, "tool call " + c.name);
      if (!input.ok()) return fail(ApiError::internal(input.status().message()));
      content.push_back(
          {{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", std::move(*input)}});
    }
    if (content.empty()) content.push_back({{"type", "text"}, {"text", ""}});
    Json msg = message_head();
    msg["content"] = std::move(content);
    const StopInfo stop = stop_info(totals_, stop_sequences);
    msg["stop_reason"] = stop.reason;
    msg["stop_sequence"] = stop.sequence;
    msg["usage"] = usage_json(totals_.usage);
    writer->set_log_tokens(totals_.usage.prompt_tokens, totals_.usage.completion_tokens);
    HttpResponse r;
    r.body = dump_json(msg);
    add_cors_headers(*options, r.headers);
    writer->respond(std::move(r));
  }

  void write(std::string_view name, const Json& data) {
    writer->stream_write(named_sse_event(name, data));
  }

  void begin() {
    if (started_) return;
    Headers h = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    add_cors_headers(*options, h);
    writer->begin_stream(200, "text/event-stream", std::move(h));
    started_ = true;
    Json msg = message_head();
    const int32_t prompt = handle ? handle->prompt_tokens() : 0;
    msg["usage"] = {{"input_tokens", prompt},
                    {"cache_creation_input_tokens", 0},
                    {"cache_read_input_tokens", 0},
                    {"output_tokens", 0}};
    write("message_start", {{"type", "message_start"}, {"message", std::move(msg)}});
    write("ping", {{"type", "ping"}});
  }

  // Makes `type` the open block (closing another one first); `force` opens a new block even
  // when one of the same type is open (each tool call is its own block).
  void open(Block type, Json content_block, bool force = false) {
    if (block_ == type && !force) return;
    close();
    ++index_;
    block_ = type;
    write("content_block_start", {{"type", "content_block_start"},
                                  {"index", index_},
                                  {"content_block", std::move(content_block)}});
  }

  void delta(Json d) {
    write("content_block_delta",
          {{"type", "content_block_delta"}, {"index", index_}, {"delta", std::move(d)}});
  }

  void close() {
    if (block_ == Block::kNone) return;
    write("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
    block_ = Block::kNone;
  }

  void fail(const ApiError& e) {
    failed_ = true;
    cancel();
    if (!started_) {
      HttpResponse r = error_response(Dialect::kAnthropic, e);
      add_cors_headers(*options, r.headers);
      writer->respond(std::move(r));
      return;
    }
    write("error", anthropic_error_json(e));
    writer->end_stream();
  }

  ChatTotals totals_;
  Block block_ = Block::kNone;
  int index_ = -1;
  int32_t tool_index_ = -1;
  bool started_ = false;
  bool failed_ = false;
};

}  // namespace

std::shared_ptr<GenerationSink> make_anthropic_sink(bool stream, std::string id,
                                                    std::string model_name,
                                                    std::vector<std::string> stop_sequences,
                                                    const HttpOptions* options) {
  auto sink = std::make_shared<AnthropicSink>();
  sink->stream = stream;
  sink->id = std::move(id);
  sink->model_name = std::move(model_name);
  sink->stop_sequences = std::move(stop_sequences);
  sink->options = options;
  return sink;
}

void Api::anthropic(Route route, const HttpRequest& /*request*/, Json body,
                    const std::shared_ptr<ResponseWriter>& writer,
                    const std::shared_ptr<Server>& server) {
  auto fail = [&](const ApiError& e) {
    HttpResponse r = error_response(Dialect::kAnthropic, e);
    add_cors_headers(options_, r.headers);
    writer->respond(std::move(r));
  };
  const bool count_tokens = route == Route::kAnthropicCountTokens;
  Result<AnthropicCall> call = parse_anthropic_messages(body, count_tokens);
  if (!call.ok()) return fail(api_error_from_status(call.status()));
  if (std::optional<ApiError> e = unknown_model(call->model)) return fail(*e);
  call->chat.params.model = options_.model_id;
  if (count_tokens) {
    Result<ChatPrompt> prompt = server->apply_chat_template(call->chat.messages, call->chat.params);
    if (!prompt.ok()) return fail(api_error_from_status(prompt.status()));
    return respond_json(*writer, 200, {{"input_tokens", prompt->tokens.size()}});
  }
  std::shared_ptr<GenerationSink> sink = make_anthropic_sink(
      call->stream, "msg_" + random_hex(24), call->model, call->stop_sequences, &options_);
  sink->writer = writer;
  Status st = submit_chat(*server, std::move(call->chat), sink, metrics_);
  if (!st.ok()) return fail(api_error_from_status(st));
}

}  // namespace ember::http
