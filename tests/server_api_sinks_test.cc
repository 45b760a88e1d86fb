// The Ollama, Anthropic and Responses wire formats (apps/server/api_sinks.h) driven with events
// built here: reasoning, text and a tool call whose arguments arrive in pieces, a stop sequence,
// and a failure after output began — the parts the random-weight test models never produce
// through the real server (tests/server_apis_test.cc covers that path). Expectations are the
// protocols' documented shapes and the events' own content.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "api_sinks.h"

namespace ember::http {
namespace {

// Records what a sink sends.
class RecordingWriter : public ResponseWriter {
 public:
  void respond(HttpResponse response) override {
    status = response.status;
    content_type = response.content_type;
    body = response.body;
    ended = true;
  }
  void begin_stream(int s, std::string_view type, Headers) override {
    status = s;
    content_type = std::string(type);
    streaming = true;
  }
  void stream_write(std::string data) override { body += data; }
  void end_stream() override { ended = true; }
  void post(std::function<void()> fn) override { fn(); }
  void on_disconnect(std::function<void()>) override {}
  bool closed() const override { return ended; }
  void set_log_tokens(int64_t, int64_t) override {}

  int status = 0;
  std::string content_type;
  std::string body;
  bool streaming = false;
  bool ended = false;
};

RequestEvent chunk(std::function<void(ChatChunk&)> fill) {
  RequestEvent ev;
  ev.chat.emplace();
  fill(*ev.chat);
  return ev;
}

// Reasoning, text, one tool call in two pieces, then the end (finish tool_calls).
std::vector<RequestEvent> tool_reply() {
  std::vector<RequestEvent> evs;
  evs.push_back(chunk([](ChatChunk& c) {
    c.has_role = true;
    c.reasoning_content = "Let me think.";
  }));
  evs.push_back(chunk([](ChatChunk& c) { c.content = "Checking"; }));
  evs.push_back(chunk([](ChatChunk& c) {
    c.tool_calls.push_back({0, "call_1", "get_weather", "{\"city\":"});
  }));
  evs.push_back(chunk([](ChatChunk& c) { c.tool_calls.push_back({0, "", "", "\"Paris\"}"}); }));
  RequestEvent last = chunk([](ChatChunk& c) { c.finish_reason = ChatFinishReason::kToolCalls; });
  last.last = true;
  last.finish_reason = FinishReason::kStop;
  last.usage.prompt_tokens = 10;
  last.usage.cached_prompt_tokens = 4;
  last.usage.completion_tokens = 7;
  last.usage.prompt_ms = 1.5;
  last.usage.generation_ms = 3.25;
  evs.push_back(last);
  return evs;
}

// Text, then a failure.
std::vector<RequestEvent> failing_reply() {
  std::vector<RequestEvent> evs;
  evs.push_back(chunk([](ChatChunk& c) {
    c.has_role = true;
    c.content = "Hi";
  }));
  RequestEvent last = chunk([](ChatChunk& c) { c.finish_reason = ChatFinishReason::kError; });
  last.last = true;
  last.finish_reason = FinishReason::kError;
  last.error = internal_error("the grammar rejected every token");
  evs.push_back(last);
  return evs;
}

RecordingWriter run(const std::shared_ptr<GenerationSink>& sink,
                    const std::vector<RequestEvent>& evs) {
  auto writer = std::make_shared<RecordingWriter>();
  sink->writer = writer;
  for (const RequestEvent& ev : evs) sink->on_event(ev);
  return *writer;
}

std::vector<Json> lines(const std::string& body) {
  std::vector<Json> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) out.push_back(Json::parse(line));
  return out;
}

struct Event {
  std::string name;
  Json data;
};
std::vector<Event> sse(const std::string& body) {
  std::vector<Event> out;
  std::istringstream in(body);
  std::string line, name;
  while (std::getline(in, line)) {
    if (line.rfind("event: ", 0) == 0) name = line.substr(7);
    if (line.rfind("data: ", 0) == 0) out.push_back({name, Json::parse(line.substr(6))});
  }
  return out;
}

const HttpOptions kOptions;

// ---- Ollama -------------------------------------------------------------------------------------

TEST(ServerApiSinks, OllamaChatStreamsThinkingTextAndWholeToolCalls) {
  RecordingWriter w = run(make_ollama_sink(true, true, "m:latest", &kOptions), tool_reply());
  EXPECT_EQ(w.content_type, "application/x-ndjson");
  EXPECT_TRUE(w.ended);
  const std::vector<Json> l = lines(w.body);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0]["message"]["thinking"], "Let me think.");
  EXPECT_EQ(l[0]["message"]["content"], "");
  EXPECT_EQ(l[1]["message"]["content"], "Checking");
  // The call comes whole, arguments as an object.
  const Json& call = l[2]["message"]["tool_calls"][0];
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(call["function"]["arguments"], Json({{"city", "Paris"}}));
  EXPECT_EQ(call["id"], "call_1");
  EXPECT_EQ(l[3]["done"], true);
  EXPECT_EQ(l[3]["done_reason"], "stop");
  EXPECT_EQ(l[3]["prompt_eval_count"], 10);
  EXPECT_EQ(l[3]["eval_count"], 7);
  EXPECT_EQ(l[3]["prompt_eval_duration"], 1500000);
  EXPECT_EQ(l[3]["eval_duration"], 3250000);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(l[i]["done"], false);

  RecordingWriter whole = run(make_ollama_sink(true, false, "m:latest", &kOptions), tool_reply());
  Json j = Json::parse(whole.body);
  EXPECT_EQ(j["message"]["thinking"], "Let me think.");
  EXPECT_EQ(j["message"]["content"], "Checking");
  EXPECT_EQ(j["message"]["tool_calls"], l[2]["message"]["tool_calls"]);
  EXPECT_EQ(j["eval_count"], 7);
}

TEST(ServerApiSinks, OllamaGenerateUsesResponseAndThinkingFields) {
  RecordingWriter w = run(make_ollama_sink(false, false, "m", &kOptions), tool_reply());
  Json j = Json::parse(w.body);
  EXPECT_EQ(j["response"], "Checking");
  EXPECT_EQ(j["thinking"], "Let me think.");
  EXPECT_FALSE(j.contains("message"));
}

TEST(ServerApiSinks, OllamaErrorMidStreamIsAnErrorLine) {
  RecordingWriter w = run(make_ollama_sink(true, true, "m", &kOptions), failing_reply());
  const std::vector<Json> l = lines(w.body);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]["message"]["content"], "Hi");
  EXPECT_EQ(l[1], Json({{"error", l[1]["error"]}}));
  EXPECT_NE(l[1]["error"].get<std::string>().find("grammar rejected"), std::string::npos);
  EXPECT_TRUE(w.ended);
  // Before any output, the same failure is an HTTP error.
  RecordingWriter w2 = run(make_ollama_sink(true, true, "m", &kOptions), {failing_reply()[1]});
  EXPECT_EQ(w2.status, 500);
  EXPECT_FALSE(w2.streaming);
  EXPECT_TRUE(Json::parse(w2.body)["error"].is_string());
}

// ---- Anthropic ----------------------------------------------------------------------------------

TEST(ServerApiSinks, AnthropicBlocksInOrderWithTheirDeltas) {
  RecordingWriter w = run(make_anthropic_sink(true, "msg_1", "m", {}, &kOptions), tool_reply());
  const std::vector<Event> ev = sse(w.body);
  std::vector<std::string> names;
  for (const Event& e : ev) {
    EXPECT_EQ(e.name, e.data["type"]);
    names.push_back(e.name);
  }
  const std::vector<std::string> want = {"message_start",       "ping",
                                         "content_block_start", "content_block_delta",
                                         "content_block_stop",  "content_block_start",
                                         "content_block_delta", "content_block_stop",
                                         "content_block_start", "content_block_delta",
                                         "content_block_delta", "content_block_stop",
                                         "message_delta",       "message_stop"};
  ASSERT_EQ(names, want);
  EXPECT_EQ(ev[2].data["content_block"]["type"], "thinking");
  EXPECT_EQ(ev[3].data["delta"], Json({{"type", "thinking_delta"}, {"thinking", "Let me think."}}));
  EXPECT_EQ(ev[5].data["index"], 1);
  EXPECT_EQ(ev[6].data["delta"], Json({{"type", "text_delta"}, {"text", "Checking"}}));
  EXPECT_EQ(ev[8].data["content_block"], Json({{"type", "tool_use"},
                                               {"id", "call_1"},
                                               {"name", "get_weather"},
                                               {"input", Json::object()}}));
  EXPECT_EQ(ev[9].data["delta"]["type"], "input_json_delta");
  EXPECT_EQ(ev[9].data["delta"]["partial_json"].get<std::string>() +
                ev[10].data["delta"]["partial_json"].get<std::string>(),
            "{\"city\":\"Paris\"}");
  EXPECT_EQ(ev[12].data["delta"]["stop_reason"], "tool_use");
  EXPECT_EQ(ev[12].data["usage"]["input_tokens"], 6);  // 10 prompt tokens, 4 from the cache
  EXPECT_EQ(ev[12].data["usage"]["cache_read_input_tokens"], 4);
  EXPECT_EQ(ev[12].data["usage"]["output_tokens"], 7);

  RecordingWriter whole =
      run(make_anthropic_sink(false, "msg_1", "m", {}, &kOptions), tool_reply());
  Json m = Json::parse(whole.body);
  EXPECT_EQ(m["content"],
            Json::parse(R"([{"type":"thinking","thinking":"Let me think.","signature":""},
                            {"type":"text","text":"Checking"},
                            {"type":"tool_use","id":"call_1","name":"get_weather",
                             "input":{"city":"Paris"}}])"));
  EXPECT_EQ(m["stop_reason"], "tool_use");
  EXPECT_EQ(m["usage"], ev[12].data["usage"]);
}

TEST(ServerApiSinks, AnthropicStopSequenceAndErrors) {
  std::vector<RequestEvent> evs = failing_reply();
  evs[1].finish_reason = FinishReason::kStop;
  evs[1].chat->finish_reason = ChatFinishReason::kStop;
  evs[1].stop_string = "END";
  Json m = Json::parse(run(make_anthropic_sink(false, "msg_1", "m", {"END"}, &kOptions), evs).body);
  EXPECT_EQ(m["stop_reason"], "stop_sequence");
  EXPECT_EQ(m["stop_sequence"], "END");
  // A stop string the template added is not the request's: end_turn.
  m = Json::parse(run(make_anthropic_sink(false, "msg_1", "m", {"X"}, &kOptions), evs).body);
  EXPECT_EQ(m["stop_reason"], "end_turn");
  EXPECT_TRUE(m["stop_sequence"].is_null());

  const std::vector<Event> ev =
      sse(run(make_anthropic_sink(true, "msg_1", "m", {}, &kOptions), failing_reply()).body);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().name, "error");
  EXPECT_EQ(ev.back().data["type"], "error");
  EXPECT_EQ(ev.back().data["error"]["type"], "api_error");
}

// ---- Responses ----------------------------------------------------------------------------------

TEST(ServerApiSinks, ResponsesItemsStreamedEqualNonStreamed) {
  RecordingWriter w =
      run(make_responses_sink(true, "resp_1", "m", 7, Json::object(), &kOptions), tool_reply());
  const std::vector<Event> ev = sse(w.body);
  ASSERT_FALSE(ev.empty());
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].name, ev[i].data["type"]);
    EXPECT_EQ(ev[i].data["sequence_number"], i);
  }
  std::string reasoning, text, args;
  std::vector<std::string> added;
  for (const Event& e : ev) {
    if (e.name == "response.output_item.added") added.push_back(e.data["item"]["type"]);
    if (e.name == "response.reasoning_text.delta") reasoning += e.data["delta"];
    if (e.name == "response.output_text.delta") text += e.data["delta"];
    if (e.name == "response.function_call_arguments.delta") args += e.data["delta"];
  }
  EXPECT_EQ(added, (std::vector<std::string>{"reasoning", "message", "function_call"}));
  EXPECT_EQ(reasoning, "Let me think.");
  EXPECT_EQ(text, "Checking");
  EXPECT_EQ(args, "{\"city\":\"Paris\"}");
  const Json& final = ev.back().data["response"];
  EXPECT_EQ(ev.back().name, "response.completed");
  EXPECT_EQ(final["status"], "completed");
  ASSERT_EQ(final["output"].size(), 3u);
  EXPECT_EQ(final["output"][2]["call_id"], "call_1");
  EXPECT_EQ(final["output"][2]["name"], "get_weather");
  EXPECT_EQ(final["usage"]["input_tokens"], 10);
  EXPECT_EQ(final["usage"]["input_tokens_details"]["cached_tokens"], 4);
  // The reply reasoned, and reasoning tokens are not counted apart: no false 0.
  EXPECT_FALSE(final["usage"]["output_tokens_details"].contains("reasoning_tokens"));

  Json whole = Json::parse(
      run(make_responses_sink(false, "resp_1", "m", 7, Json::object(), &kOptions), tool_reply())
          .body);
  ASSERT_EQ(whole["output"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    Json a = whole["output"][i], b = final["output"][i];
    a.erase("id");  // random per response
    b.erase("id");
    EXPECT_EQ(a, b) << i;
  }
  EXPECT_EQ(whole["usage"], final["usage"]);
}

TEST(ServerApiSinks, ResponsesErrorMidStreamIsAnErrorEvent) {
  const std::vector<Event> ev = sse(
      run(make_responses_sink(true, "resp_1", "m", 7, Json::object(), &kOptions), failing_reply())
          .body);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().name, "error");
  EXPECT_NE(ev.back().data["message"].get<std::string>().find("grammar rejected"),
            std::string::npos);
  for (const Event& e : ev) EXPECT_NE(e.name, "response.completed");
}

}  // namespace
}  // namespace ember::http
