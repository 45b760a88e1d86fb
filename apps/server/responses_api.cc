// OpenAI's Responses API on ember's Server (stateless): POST /v1/responses answers a `response`
// object whose output items are reasoning, message and function_call, or streams its typed
// events (response.created, response.in_progress, response.output_item.added,
// response.content_part.added, response.output_text.delta / .done,
// response.reasoning_text.delta / .done, response.function_call_arguments.delta / .done,
// response.content_part.done, response.output_item.done, then response.completed or
// response.incomplete; an `error` event when generation fails), each with a sequence_number.
//
// The output items are built by one state machine from the chat events whether or not the
// response is streamed, so the streamed items equal the non-streamed ones for a seed.
#include "api.h"
#include "api_dialects.h"
#include "api_sinks.h"
#include "api_stream.h"
#include "responses_request.h"

namespace ember::http {
namespace {

class ResponsesSink : public GenerationSink {
 public:
  bool stream = false;
  std::string id;
  std::string model_name;
  int64_t created_at = 0;
  Json echo;
  const HttpOptions* options = nullptr;

  void on_event(const RequestEvent& ev) override {
    if (failed_) return;
    if (is_error_event(ev)) return fail(error_of_event(ev));
    totals_.add(ev);
    if (stream && !started_) begin();
    if (ev.chat) {
      const ChatChunk& c = *ev.chat;
      if (!c.reasoning_content.empty()) {
        if (kind_ != Kind::kReasoning) open(Kind::kReasoning);
        append(c.reasoning_content, "response.reasoning_text.delta");
      }
      if (!c.content.empty()) {
        if (kind_ != Kind::kMessage) open(Kind::kMessage);
        append(c.content, "response.output_text.delta");
      }
      for (const ChatToolCallDelta& d : c.tool_calls) {
        if (kind_ != Kind::kFunctionCall || d.index != tool_index_) {
          tool_index_ = d.index;
          pending_call_id_ = d.id;
          pending_name_ = d.name;
          open(Kind::kFunctionCall);
        }
        if (!d.arguments.empty()) append(d.arguments, "response.function_call_arguments.delta");
      }
    }
    if (!ev.last) return;
    if (output_.empty() && kind_ == Kind::kNone) open(Kind::kMessage);
    close();
    const bool incomplete = totals_.finish == ChatFinishReason::kLength;
    Json r = response_json(incomplete ? "incomplete" : "completed");
    if (incomplete) r["incomplete_details"] = {{"reason", "max_output_tokens"}};
    r["usage"] = {{"input_tokens", totals_.usage.prompt_tokens},
                  {"input_tokens_details", {{"cached_tokens", totals_.usage.cached_prompt_tokens}}},
                  {"output_tokens", totals_.usage.completion_tokens},
                  // Reasoning tokens are not counted apart from the rest of the output: 0 is
                  // only said when there was no reasoning.
                  {"output_tokens_details", totals_.message.reasoning_content.empty()
                                                ? Json{{"reasoning_tokens", 0}}
                                                : Json::object()},
                  {"total_tokens", totals_.usage.prompt_tokens + totals_.usage.completion_tokens}};
    writer->set_log_tokens(totals_.usage.prompt_tokens, totals_.usage.completion_tokens);
    if (stream) {
      emit(incomplete ? "response.incomplete" : "response.completed", {{"response", r}});
      writer->end_stream();
      return;
    }
    HttpResponse resp;
    resp.body = dump_json(r);
    add_cors_headers(*options, resp.headers);
    writer->respond(std::move(resp));
  }

 private:
  enum class Kind { kNone, kReasoning, kMessage, kFunctionCall };

  Json response_json(const char* status) const {
    Json r = {{"id", id},
              {"object", "response"},
              {"created_at", created_at},
              {"status", status},
              {"error", nullptr},
              {"incomplete_details", nullptr},
              {"model", model_name},
              {"output", status == std::string_view("in_progress") ? Json::array() : output_},
              {"previous_response_id", nullptr},
              {"store", false},
              {"truncation", "disabled"},
              {"usage", nullptr}};
    for (auto& [k, v] : echo.items()) r[k] = v;
    return r;
  }

  void emit(const std::string& type, Json fields) {
    if (!stream) return;
    Json e = {{"type", type}, {"sequence_number", sequence_++}};
    for (auto& [k, v] : fields.items()) e[k] = std::move(v);
    writer->stream_write(named_sse_event(type, e));
  }

  void begin() {
    Headers h = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    add_cors_headers(*options, h);
    writer->begin_stream(200, "text/event-stream", std::move(h));
    started_ = true;
    emit("response.created", {{"response", response_json("in_progress")}});
    emit("response.in_progress", {{"response", response_json("in_progress")}});
  }

  // The item being built, in its final shape but for status and the accumulated text.
  Json item_json(bool done) const {
    switch (kind_) {
      case Kind::kReasoning: {
        Json content = Json::array();
        if (done) content.push_back({{"type", "reasoning_text"}, {"text", text_}});
        return {{"id", item_id_},
                {"type", "reasoning"},
                {"summary", Json::array()},
                {"content", std::move(content)}};
      }
      case Kind::kMessage: {
        Json content = Json::array();
        if (done) content.push_back(text_part(text_));
        return {{"id", item_id_},
                {"type", "message"},
                {"status", done ? "completed" : "in_progress"},
                {"role", "assistant"},
                {"content", std::move(content)}};
      }
      case Kind::kFunctionCall:
        return {{"id", item_id_},
                {"type", "function_call"},
                {"status", done ? "completed" : "in_progress"},
                {"call_id", pending_call_id_},
                {"name", pending_name_},
                {"arguments", done ? text_ : std::string()}};
      default:
        return Json();
    }
  }

  static Json text_part(const std::string& text) {
    return {{"type", "output_text"},
            {"text", text},
            {"annotations", Json::array()},
            {"logprobs", Json::array()}};
  }

  void open(Kind kind) {
    close();
    kind_ = kind;
    text_.clear();
    const char* prefix = kind == Kind::kReasoning ? "rs_" : kind == Kind::kMessage ? "msg_" : "fc_";
    item_id_ = prefix + random_hex(24);
    const int64_t index = static_cast<int64_t>(output_.size());
    emit("response.output_item.added", {{"output_index", index}, {"item", item_json(false)}});
    if (kind == Kind::kMessage) {
      emit("response.content_part.added", {{"item_id", item_id_},
                                           {"output_index", index},
                                           {"content_index", 0},
                                           {"part", text_part("")}});
    } else if (kind == Kind::kReasoning) {
      emit("response.content_part.added", {{"item_id", item_id_},
                                           {"output_index", index},
                                           {"content_index", 0},
                                           {"part", {{"type", "reasoning_text"}, {"text", ""}}}});
    }
  }

  void append(const std::string& delta, const char* event) {
    text_ += delta;
    const int64_t index = static_cast<int64_t>(output_.size());
    Json f = {{"item_id", item_id_}, {"output_index", index}};
    if (kind_ != Kind::kFunctionCall) f["content_index"] = 0;
    f["delta"] = delta;
    if (kind_ == Kind::kMessage) f["logprobs"] = Json::array();
    emit(event, std::move(f));
  }

  void close() {
    if (kind_ == Kind::kNone) return;
    const int64_t index = static_cast<int64_t>(output_.size());
    Json item = item_json(true);
    if (kind_ == Kind::kMessage) {
      emit("response.output_text.done", {{"item_id", item_id_},
                                         {"output_index", index},
                                         {"content_index", 0},
                                         {"text", text_},
                                         {"logprobs", Json::array()}});
      emit("response.content_part.done", {{"item_id", item_id_},
                                          {"output_index", index},
                                          {"content_index", 0},
                                          {"part", text_part(text_)}});
    } else if (kind_ == Kind::kReasoning) {
      emit("response.reasoning_text.done",
           {{"item_id", item_id_}, {"output_index", index}, {"content_index", 0}, {"text", text_}});
      emit("response.content_part.done", {{"item_id", item_id_},
                                          {"output_index", index},
                                          {"content_index", 0},
                                          {"part", {{"type", "reasoning_text"}, {"text", text_}}}});
    } else {
      if (text_.empty()) {
        text_ = "{}";
        item["arguments"] = text_;
      }
      emit("response.function_call_arguments.done", {{"item_id", item_id_},
                                                     {"output_index", index},
                                                     {"name", pending_name_},
                                                     {"arguments", text_}});
    }
    emit("response.output_item.done", {{"output_index", index}, {"item", item}});
    output_.push_back(std::move(item));
    kind_ = Kind::kNone;
  }

  void fail(const ApiError& e) {
    failed_ = true;
    cancel();
    if (!started_) {
      HttpResponse r = e.to_response();
      add_cors_headers(*options, r.headers);
      writer->respond(std::move(r));
      return;
    }
    emit("error", {{"code", e.code.empty() ? Json(e.type) : Json(e.code)},
                   {"message", e.message},
                   {"param", nullptr}});
    writer->end_stream();
  }

  ChatTotals totals_;
  Json output_ = Json::array();
  Kind kind_ = Kind::kNone;
  std::string item_id_;
  std::string text_;
  int32_t tool_index_ = -1;
  std::string pending_call_id_;
  std::string pending_name_;
  int64_t sequence_ = 0;
  bool started_ = false;
  bool failed_ = false;
};

}  // namespace

std::shared_ptr<GenerationSink> make_responses_sink(bool stream, std::string id,
                                                    std::string model_name, int64_t created_at,
                                                    Json echo, const HttpOptions* options) {
  auto sink = std::make_shared<ResponsesSink>();
  sink->stream = stream;
  sink->id = std::move(id);
  sink->model_name = std::move(model_name);
  sink->created_at = created_at;
  sink->echo = std::move(echo);
  sink->options = options;
  return sink;
}

void Api::responses(const HttpRequest& /*request*/, Json body,
                    const std::shared_ptr<ResponseWriter>& writer,
                    const std::shared_ptr<Server>& server) {
  Result<ResponsesCall> call = parse_responses_request(body);
  if (!call.ok()) return respond_error(*writer, api_error_from_status(call.status()));
  if (std::optional<ApiError> e = unknown_model(call->model)) return respond_error(*writer, *e);
  call->chat.params.model = options_.model_id;
  std::shared_ptr<GenerationSink> sink = make_responses_sink(
      call->stream, "resp_" + random_hex(32), call->model.empty() ? options_.model_id : call->model,
      unix_now(), std::move(call->echo), &options_);
  sink->writer = writer;
  Status st = submit_chat(*server, std::move(call->chat), sink, metrics_);
  if (!st.ok()) return respond_error(*writer, api_error_from_status(st));
}

}  // namespace ember::http
