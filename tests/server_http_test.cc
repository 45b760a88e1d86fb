// `ember serve` end to end: the real server process on a free loopback port, spoken to over
// HTTP/1.1 sockets (tests/server_harness.h). Expectations come from independent facts: the same
// request run another way (streamed vs not, alone vs concurrently, n choices vs single
// requests with the matching seeds), the request's own constraints (stop strings, schemas,
// tools), and the template + tokenizer endpoints for cached-prefix lengths.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server_harness.h"
#include "testdata.h"

namespace ember::testing {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kChatModel = "models/qwen2-q8_0.gguf";

struct JsonReply {
  int status = 0;
  Json body;
  HttpResponse raw;
};

JsonReply post_json(int port, const std::string& path, const Json& body,
                    const Headers& headers = {}) {
  JsonReply r;
  r.raw = http_request(port, "POST", path, body.dump(), headers);
  r.status = r.raw.status;
  r.body = Json::parse(r.raw.body, nullptr, false);
  return r;
}

JsonReply get_json(int port, const std::string& path, const Headers& headers = {}) {
  JsonReply r;
  r.raw = http_request(port, "GET", path, "", headers);
  r.status = r.raw.status;
  r.body = Json::parse(r.raw.body, nullptr, false);
  return r;
}

// Every `data:` event of a streamed request, parsed (the final "[DONE]" is checked and dropped).
struct StreamReply {
  int status = 0;
  std::vector<Json> events;
  bool done_marker = false;
  std::string error;
};

StreamReply post_stream(int port, const std::string& path, Json body) {
  body["stream"] = true;
  StreamReply r;
  SseStream sse(port, path, body.dump());
  r.status = sse.head().status;
  if (r.status != 200) {
    r.error = sse.head().error + sse.error_body();
    return r;
  }
  EXPECT_EQ(sse.head().header("content-type"), "text/event-stream");
  for (const std::string& data : sse.all_events()) {
    if (data == "[DONE]") {
      r.done_marker = true;
      continue;
    }
    EXPECT_FALSE(r.done_marker) << "an event after [DONE]";
    r.events.push_back(Json::parse(data, nullptr, false));
    EXPECT_FALSE(r.events.back().is_discarded()) << data;
  }
  EXPECT_TRUE(sse.finished()) << sse.error();
  return r;
}

Json user_chat(const std::string& text, int max_tokens, int seed) {
  return {{"messages", Json::array({{{"role", "user"}, {"content", text}}})},
          {"max_tokens", max_tokens},
          {"seed", seed}};
}

// Concatenated content of a chat stream, per choice.
std::vector<std::string> stream_contents(const StreamReply& s, size_t n) {
  std::vector<std::string> out(n);
  for (const Json& e : s.events) {
    for (const Json& c : e["choices"]) {
      const size_t i = c["index"].get<size_t>();
      if (i < n && c["delta"].contains("content") && c["delta"]["content"].is_string()) {
        out[i] += c["delta"]["content"].get<std::string>();
      }
    }
  }
  return out;
}

// Longest common prefix of two token lists.
size_t common_prefix(const std::vector<int>& a, const std::vector<int>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// A metric's value in Prometheus text ("name{labels} value" lines); -1 when absent.
double metric_value(const std::string& text, const std::string& name_with_labels) {
  size_t pos = 0;
  while ((pos = text.find(name_with_labels + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      return std::stod(text.substr(pos + name_with_labels.size() + 1));
    }
    pos += 1;
  }
  return -1;
}

int busy_slots(int port) {
  JsonReply s = get_json(port, "/slots");
  int busy = 0;
  for (const Json& slot : s.body) busy += slot["is_processing"].get<bool>() ? 1 : 0;
  return busy;
}

class ServerHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = testdata_dir();
    if (dir.empty()) return;
    model_path_ = new std::string((dir / kChatModel).string());
    server_ = ServerProcess::start({"-m", *model_path_, "--parallel", "4", "-c", "1024",
                                    "--kv-size", "16384", "-t", "2"})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete model_path_;
    model_path_ = nullptr;
  }
  void SetUp() override {
    if (testdata_dir().empty()) {
      if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
        FAIL() << "reference data missing in CI";
      }
      GTEST_SKIP() << "reference data not found (set EMBER_TESTDATA); skipping server tests";
    }
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(server_->ok()) << server_->error();
  }
  int port() const { return server_->port(); }
  // Prompt tokens of a chat request, computed from the template and tokenizer endpoints.
  std::vector<int> chat_prompt_tokens(const Json& messages) {
    JsonReply t = post_json(port(), "/apply-template", {{"messages", messages}});
    EXPECT_EQ(t.status, 200) << t.raw.body;
    JsonReply k =
        post_json(port(), "/tokenize",
                  {{"content", t.body["prompt"]}, {"add_special", true}, {"parse_special", true}});
    EXPECT_EQ(k.status, 200) << k.raw.body;
    return k.body["tokens"].get<std::vector<int>>();
  }

  static ServerProcess* server_;
  static std::string* model_path_;
};

ServerProcess* ServerHttpTest::server_ = nullptr;
std::string* ServerHttpTest::model_path_ = nullptr;

// A server with its own flags, for the tests that need them.
std::unique_ptr<ServerProcess> start_server(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"-m", (testdata_dir() / kChatModel).string(), "-t", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::start(args);
}

// ---- informational endpoints ------------------------------------------------------------------

TEST_F(ServerHttpTest, HealthModelsPropsSlots) {
  JsonReply h = get_json(port(), "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, Json({{"status", "ok"}}));

  JsonReply m = get_json(port(), "/v1/models");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.body["object"], "list");
  ASSERT_EQ(m.body["data"].size(), 1u);
  EXPECT_EQ(m.body["data"][0]["id"], "qwen2-q8_0");  // the file's stem
  EXPECT_EQ(m.body["data"][0]["object"], "model");

  JsonReply one = get_json(port(), "/v1/models/qwen2-q8_0");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body["id"], "qwen2-q8_0");
  JsonReply missing = get_json(port(), "/v1/models/gpt-4");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "model_not_found");

  JsonReply props = get_json(port(), "/props");
  ASSERT_EQ(props.status, 200);
  EXPECT_EQ(props.body["total_slots"], 4);
  EXPECT_EQ(props.body["default_generation_settings"]["n_ctx"], 1024);
  EXPECT_TRUE(props.body["chat_template"].is_string());

  JsonReply slots = get_json(port(), "/slots");
  ASSERT_EQ(slots.status, 200);
  ASSERT_EQ(slots.body.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(slots.body[i]["id"], static_cast<int>(i));
    EXPECT_EQ(slots.body[i]["n_ctx"], 1024);
    EXPECT_TRUE(slots.body[i]["is_processing"].is_boolean());
  }
}

TEST_F(ServerHttpTest, TokenizeDetokenizeRoundTrip) {
  JsonReply t = post_json(port(), "/tokenize", {{"content", "Hello world, hello!"}});
  ASSERT_EQ(t.status, 200) << t.raw.body;
  const auto ids = t.body["tokens"].get<std::vector<int>>();
  ASSERT_FALSE(ids.empty());
  JsonReply d = post_json(port(), "/detokenize", {{"tokens", ids}});
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.body["content"], "Hello world, hello!");

  JsonReply p = post_json(port(), "/tokenize", {{"content", "Hello world"}, {"with_pieces", true}});
  ASSERT_EQ(p.status, 200);
  std::string joined;
  for (const Json& tok : p.body["tokens"]) {
    ASSERT_TRUE(tok["id"].is_number_integer());
    joined += tok["piece"].get<std::string>();
  }
  // Byte-level BPE pieces spell spaces as "Ġ"; the joined pieces hold the same letters.
  EXPECT_NE(joined.find("Hello"), std::string::npos) << joined;

  JsonReply bad = post_json(port(), "/detokenize", {{"tokens", {1, 99999999}}});
  EXPECT_EQ(bad.status, 400) << bad.raw.body;
}

TEST_F(ServerHttpTest, ApplyTemplateRendersChatML) {
  Json messages = Json::array({{{"role", "system"}, {"content", "Be brief."}},
                               {{"role", "user"}, {"content", "Hi there"}}});
  JsonReply t = post_json(port(), "/apply-template", {{"messages", messages}});
  ASSERT_EQ(t.status, 200) << t.raw.body;
  const std::string prompt = t.body["prompt"];
  EXPECT_NE(prompt.find("<|im_start|>system\nBe brief.<|im_end|>"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("<|im_start|>user\nHi there<|im_end|>"), std::string::npos) << prompt;
  // The generation prompt comes last.
  const std::string tail = "<|im_start|>assistant\n";
  ASSERT_GE(prompt.size(), tail.size());
  EXPECT_EQ(prompt.substr(prompt.size() - tail.size()), tail);
}

TEST_F(ServerHttpTest, MetricsExposeTheIssuesNames) {
  // One request first, so the histograms have samples.
  JsonReply c = post_json(port(), "/v1/chat/completions", user_chat("metrics", 4, 5));
  ASSERT_EQ(c.status, 200) << c.raw.body;
  // Stats are a snapshot the scheduler publishes after each step: the counters may trail the
  // response by a moment.
  HttpResponse m;
  for (int i = 0; i < 100; ++i) {
    m = http_request(port(), "GET", "/metrics");
    if (metric_value(m.body, "ember_requests_total{finish_reason=\"length\"}") >= 1.0) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.header("content-type").rfind("text/plain", 0), 0u);
  for (const char* name :
       {"ember_requests_running", "ember_requests_waiting", "ember_kv_cache_usage_ratio",
        "ember_prompt_tokens_total", "ember_prompt_tokens_cached_total",
        "ember_generation_tokens_total", "ember_requests_total{finish_reason=\"length\"}",
        "ember_time_to_first_token_seconds_count", "ember_inter_token_latency_seconds_count",
        "ember_e2e_request_latency_seconds_count", "ember_request_queue_seconds_count"}) {
    EXPECT_GE(metric_value(m.body, name), 0.0) << name << " missing in:\n" << m.body;
  }
  EXPECT_GE(metric_value(m.body, "ember_generation_tokens_total"), 4.0);
  EXPECT_GE(metric_value(m.body, "ember_e2e_request_latency_seconds_count"), 1.0);
  EXPECT_GE(metric_value(m.body, "ember_requests_total{finish_reason=\"length\"}"), 1.0);
}

// ---- chat completions -------------------------------------------------------------------------

TEST_F(ServerHttpTest, ChatStreamedEqualsNonStreamed) {
  Json req = user_chat("Tell me a story about a cat.", 24, 1234);
  req["temperature"] = 0.9;
  JsonReply whole = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(whole.status, 200) << whole.raw.body;
  const Json& b = whole.body;
  EXPECT_EQ(b["object"], "chat.completion");
  EXPECT_EQ(b["model"], "qwen2-q8_0");
  EXPECT_EQ(b["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  ASSERT_EQ(b["choices"].size(), 1u);
  EXPECT_EQ(b["choices"][0]["message"]["role"], "assistant");
  const std::string content = b["choices"][0]["message"]["content"];
  const std::string finish = b["choices"][0]["finish_reason"];
  EXPECT_EQ(b["usage"]["completion_tokens"].get<int>() + b["usage"]["prompt_tokens"].get<int>(),
            b["usage"]["total_tokens"].get<int>());
  EXPECT_TRUE(b["usage"]["prompt_tokens_details"]["cached_tokens"].is_number_integer());

  req["stream_options"] = {{"include_usage", true}};
  StreamReply s = post_stream(port(), "/v1/chat/completions", req);
  ASSERT_EQ(s.status, 200) << s.error;
  ASSERT_TRUE(s.done_marker);
  ASSERT_GE(s.events.size(), 2u);
  EXPECT_EQ(stream_contents(s, 1)[0], content);
  // The first chunk carries the role; one chunk the finish reason; the last one only usage.
  EXPECT_EQ(s.events.front()["choices"][0]["delta"]["role"], "assistant");
  std::string stream_finish;
  const std::string id = s.events.front()["id"];
  for (const Json& e : s.events) {
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    EXPECT_EQ(e["id"], id);  // one id for the whole stream
    for (const Json& c : e["choices"]) {
      if (!c["finish_reason"].is_null()) stream_finish = c["finish_reason"];
    }
  }
  EXPECT_EQ(stream_finish, finish);
  const Json& last = s.events.back();
  EXPECT_TRUE(last["choices"].empty());
  EXPECT_EQ(last["usage"]["completion_tokens"], b["usage"]["completion_tokens"]);
  EXPECT_EQ(last["usage"]["prompt_tokens"], b["usage"]["prompt_tokens"]);

  // Without include_usage no chunk has usage.
  req.erase("stream_options");
  StreamReply plain = post_stream(port(), "/v1/chat/completions", req);
  ASSERT_EQ(plain.status, 200);
  for (const Json& e : plain.events) EXPECT_FALSE(e.contains("usage") && !e["usage"].is_null());
  EXPECT_EQ(stream_contents(plain, 1)[0], content);
}

TEST_F(ServerHttpTest, ChatContentPartsEqualPlainText) {
  Json parts = {
      {"messages",
       Json::array({{{"role", "user"},
                     {"content", Json::array({{{"type", "text"}, {"text", "Hello parts"}}})}}})},
      {"max_tokens", 8},
      {"seed", 77}};
  JsonReply a = post_json(port(), "/v1/chat/completions", parts);
  JsonReply b = post_json(port(), "/v1/chat/completions", user_chat("Hello parts", 8, 77));
  ASSERT_EQ(a.status, 200) << a.raw.body;
  ASSERT_EQ(b.status, 200) << b.raw.body;
  EXPECT_EQ(a.body["choices"][0]["message"]["content"], b.body["choices"][0]["message"]["content"]);
  Json image = parts;
  image["messages"][0]["content"] = Json::array({{{"type", "image_url"}, {"image_url", "x"}}});
  EXPECT_EQ(post_json(port(), "/v1/chat/completions", image).status, 400);
}

TEST_F(ServerHttpTest, ChatStopStringCutsTheOutput) {
  Json req = user_chat("Write some words.", 24, 99);
  req["temperature"] = 0;
  JsonReply free_run = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(free_run.status, 200) << free_run.raw.body;
  const std::string text = free_run.body["choices"][0]["message"]["content"];
  ASSERT_GE(text.size(), 8u) << text;
  // A stop string from the middle of the greedy output: the reply must end right before it.
  const std::string stop = text.substr(text.size() / 2, 3);
  const size_t first = text.find(stop);
  req["stop"] = Json::array({"@@never@@", stop});
  JsonReply cut = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(cut.status, 200) << cut.raw.body;
  EXPECT_EQ(cut.body["choices"][0]["message"]["content"], text.substr(0, first));
  EXPECT_EQ(cut.body["choices"][0]["finish_reason"], "stop");
  StreamReply s = post_stream(port(), "/v1/chat/completions", req);
  EXPECT_EQ(stream_contents(s, 1)[0], text.substr(0, first));
}

TEST_F(ServerHttpTest, ChatNThreeEqualsSingleRequestsWithTheirSeeds) {
  Json req = user_chat("Say something.", 10, 500);
  req["temperature"] = 1.0;
  req["n"] = 3;
  JsonReply multi = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(multi.status, 200) << multi.raw.body;
  ASSERT_EQ(multi.body["choices"].size(), 3u);
  int completion_sum = 0;
  for (int i = 0; i < 3; ++i) {
    const Json& c = multi.body["choices"][i];
    EXPECT_EQ(c["index"], i);
    // Choice i samples with seed + i (include/ember/server.h).
    JsonReply single = post_json(port(), "/v1/chat/completions",
                                 {{"messages", req["messages"]},
                                  {"max_tokens", 10},
                                  {"temperature", 1.0},
                                  {"seed", 500 + i}});
    ASSERT_EQ(single.status, 200);
    EXPECT_EQ(c["message"]["content"], single.body["choices"][0]["message"]["content"]) << i;
    completion_sum += single.body["usage"]["completion_tokens"].get<int>();
  }
  EXPECT_EQ(multi.body["usage"]["completion_tokens"], completion_sum);
  StreamReply s = post_stream(port(), "/v1/chat/completions", req);
  const auto streamed = stream_contents(s, 3);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(streamed[i], multi.body["choices"][i]["message"]["content"]);
}

TEST_F(ServerHttpTest, ChatLogprobs) {
  Json req = user_chat("Count.", 8, 3);
  req["temperature"] = 0;  // greedy: the sampled token is the most likely candidate
  req["logprobs"] = true;
  req["top_logprobs"] = 3;
  JsonReply r = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.raw.body;
  const Json& content = r.body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), r.body["usage"]["completion_tokens"].get<size_t>());
  for (const Json& t : content) {
    ASSERT_EQ(t["top_logprobs"].size(), 3u) << t;
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    double prev = 1.0;
    for (const Json& c : t["top_logprobs"]) {
      EXPECT_LE(c["logprob"].get<double>(), prev + 1e-9);  // most likely first
      prev = c["logprob"].get<double>();
    }
    EXPECT_EQ(t["token"], t["top_logprobs"][0]["token"]);
    EXPECT_NEAR(t["logprob"].get<double>(), t["top_logprobs"][0]["logprob"].get<double>(), 1e-5);
    // "bytes" spells the token.
    std::string bytes;
    for (const Json& b : t["bytes"]) bytes += static_cast<char>(b.get<int>());
    EXPECT_EQ(bytes, t["token"].get<std::string>());
  }
  // Streamed chunks carry the same entries.
  StreamReply s = post_stream(port(), "/v1/chat/completions", req);
  Json streamed = Json::array();
  for (const Json& e : s.events) {
    for (const Json& c : e["choices"]) {
      if (c.contains("logprobs") && c["logprobs"].is_object()) {
        for (const Json& t : c["logprobs"]["content"]) streamed.push_back(t);
      }
    }
  }
  EXPECT_EQ(streamed, content);
  // top_logprobs without logprobs is an error.
  Json bad = user_chat("x", 2, 1);
  bad["top_logprobs"] = 2;
  EXPECT_EQ(post_json(port(), "/v1/chat/completions", bad).status, 400);
}

Json weather_tools() {
  return Json::array({{{"type", "function"},
                       {"function",
                        {{"name", "get_weather"},
                         {"description", "Current weather of a city"},
                         {"parameters",
                          {{"type", "object"},
                           {"properties", {{"city", {{"type", "string"}, {"maxLength", 12}}}}},
                           {"required", {"city"}},
                           {"additionalProperties", false}}}}}}});
}

// Tool calls assembled from streamed deltas: [{id, name, arguments}].
Json assemble_tool_calls(const StreamReply& s) {
  Json calls = Json::array();
  for (const Json& e : s.events) {
    for (const Json& c : e["choices"]) {
      if (!c["delta"].contains("tool_calls")) continue;
      for (const Json& d : c["delta"]["tool_calls"]) {
        const size_t i = d["index"].get<size_t>();
        while (calls.size() <= i) calls.push_back({{"id", ""}, {"name", ""}, {"arguments", ""}});
        if (d.contains("id")) {
          EXPECT_EQ(calls[i]["id"], "") << "the id comes once, in the first delta";
          calls[i]["id"] = d["id"];
          EXPECT_EQ(d["type"], "function");
        }
        if (d["function"].contains("name")) calls[i]["name"] = d["function"]["name"];
        calls[i]["arguments"] = calls[i]["arguments"].get<std::string>() +
                                d["function"]["arguments"].get<std::string>();
      }
    }
  }
  return calls;
}

TEST_F(ServerHttpTest, ForcedToolCallStreamsAsDeltas) {
  Json req = user_chat("What is the weather in Paris?", 96, 11);
  req["tools"] = weather_tools();
  req["tool_choice"] = "required";
  JsonReply r = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.raw.body;
  const Json& choice = r.body["choices"][0];
  ASSERT_EQ(choice["finish_reason"], "tool_calls") << r.raw.body;
  const Json& calls = choice["message"]["tool_calls"];
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["type"], "function");
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  // The arguments validate against the tool's schema.
  const Json args =
      Json::parse(calls[0]["function"]["arguments"].get<std::string>(), nullptr, false);
  ASSERT_TRUE(args.is_object()) << calls[0]["function"]["arguments"];
  ASSERT_TRUE(args.contains("city"));
  EXPECT_TRUE(args["city"].is_string());
  EXPECT_LE(args["city"].get<std::string>().size(), 12u * 4);  // maxLength counts characters
  EXPECT_EQ(args.size(), 1u);

  StreamReply s = post_stream(port(), "/v1/chat/completions", req);
  ASSERT_EQ(s.status, 200) << s.error;
  const Json streamed = assemble_tool_calls(s);
  ASSERT_EQ(streamed.size(), 1u);
  EXPECT_EQ(streamed[0]["name"], "get_weather");
  EXPECT_EQ(streamed[0]["arguments"], calls[0]["function"]["arguments"]);
  EXPECT_FALSE(streamed[0]["id"].get<std::string>().empty());
  size_t argument_deltas = 0;
  for (const Json& e : s.events) {
    for (const Json& c : e["choices"]) argument_deltas += c["delta"].contains("tool_calls") ? 1 : 0;
  }
  EXPECT_GE(argument_deltas, 2u) << "the call should stream in pieces as the model writes it";

  // A named function is forced the same way.
  req["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_weather"}}}};
  JsonReply named = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(named.status, 200) << named.raw.body;
  EXPECT_EQ(named.body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "get_weather");
}

TEST_F(ServerHttpTest, AutoToolChoiceStreamsLikeNonStreamed) {
  // Whether the tiny model calls the tool on its own is up to it; whatever it does, the stream
  // must assemble to the same message.
  for (int seed : {1, 2, 3, 4}) {
    Json req = user_chat("Weather in Oslo? Use the tool.", 48, seed);
    req["tools"] = weather_tools();
    JsonReply r = post_json(port(), "/v1/chat/completions", req);
    ASSERT_EQ(r.status, 200) << r.raw.body;
    StreamReply s = post_stream(port(), "/v1/chat/completions", req);
    ASSERT_EQ(s.status, 200);
    const Json& msg = r.body["choices"][0]["message"];
    EXPECT_EQ(stream_contents(s, 1)[0],
              msg["content"].is_string() ? msg["content"].get<std::string>() : "");
    const Json streamed = assemble_tool_calls(s);
    const Json calls = msg.contains("tool_calls") ? msg["tool_calls"] : Json::array();
    ASSERT_EQ(streamed.size(), calls.size());
    for (size_t i = 0; i < calls.size(); ++i) {
      EXPECT_EQ(streamed[i]["name"], calls[i]["function"]["name"]);
      EXPECT_EQ(streamed[i]["arguments"], calls[i]["function"]["arguments"]);
    }
  }
}

TEST_F(ServerHttpTest, JsonSchemaResponseValidates) {
  const Json schema = {
      {"type", "object"},
      {"properties",
       {{"name", {{"type", "string"}, {"maxLength", 10}}}, {"ok", {{"type", "boolean"}}}}},
      {"required", {"name", "ok"}},
      {"additionalProperties", false}};
  for (int seed : {1, 2, 3}) {
    Json req = user_chat("Describe a person as JSON.", 120, seed);
    req["response_format"] = {{"type", "json_schema"},
                              {"json_schema", {{"name", "person"}, {"schema", schema}}}};
    JsonReply r = post_json(port(), "/v1/chat/completions", req);
    ASSERT_EQ(r.status, 200) << r.raw.body;
    ASSERT_EQ(r.body["choices"][0]["finish_reason"], "stop") << r.raw.body;
    const Json doc =
        Json::parse(r.body["choices"][0]["message"]["content"].get<std::string>(), nullptr, false);
    ASSERT_TRUE(doc.is_object()) << r.body["choices"][0]["message"]["content"];
    ASSERT_EQ(doc.size(), 2u) << doc;
    ASSERT_TRUE(doc["name"].is_string()) << doc;
    EXPECT_TRUE(doc["ok"].is_boolean()) << doc;
  }
  Json obj = user_chat("JSON please", 120, 4);
  obj["response_format"] = {{"type", "json_object"}};
  JsonReply r = post_json(port(), "/v1/chat/completions", obj);
  ASSERT_EQ(r.status, 200) << r.raw.body;
  if (r.body["choices"][0]["finish_reason"] == "stop") {
    EXPECT_TRUE(
        Json::parse(r.body["choices"][0]["message"]["content"].get<std::string>(), nullptr, false)
            .is_object());
  }
}

TEST_F(ServerHttpTest, ConcurrentRequestsMatchTheRequestAlone) {
  Json req = user_chat("The same request eight times.", 16, 4242);
  req["temperature"] = 0.8;
  JsonReply alone = post_json(port(), "/v1/chat/completions", req);
  ASSERT_EQ(alone.status, 200) << alone.raw.body;
  const std::string expected = alone.body["choices"][0]["message"]["content"];
  std::vector<std::string> got(8);
  std::vector<int> status(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      // Half streamed, half not: the text must be the same either way.
      if (i % 2 == 0) {
        JsonReply r = post_json(port(), "/v1/chat/completions", req);
        status[i] = r.status;
        if (r.status == 200) got[i] = r.body["choices"][0]["message"]["content"];
      } else {
        StreamReply s = post_stream(port(), "/v1/chat/completions", req);
        status[i] = s.status;
        got[i] = stream_contents(s, 1)[0];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(status[i], 200) << i;
    EXPECT_EQ(got[i], expected) << "request " << i;
  }
}

TEST_F(ServerHttpTest, CachedTokensEqualTheCommonPrefix) {
  // A system prompt no other test uses, so the only cached sequence sharing it is ours.
  const std::string system = "You are the cache test assistant number 7781, terse and exact.";
  Json first = {{"role", "user"}, {"content", "Apples are red."}};
  Json msgs1 = Json::array({{{"role", "system"}, {"content", system}}, first});
  JsonReply r1 = post_json(port(), "/v1/chat/completions",
                           {{"messages", msgs1},
                            {"max_tokens", 6},
                            {"seed", 1},
                            {"temperature", 0},
                            {"logprobs", true}});
  ASSERT_EQ(r1.status, 200) << r1.raw.body;
  const std::vector<int> p1 = chat_prompt_tokens(msgs1);
  EXPECT_EQ(r1.body["usage"]["prompt_tokens"].get<size_t>(), p1.size());

  // A shared system prompt: a different user message.
  Json msgs2 = Json::array({{{"role", "system"}, {"content", system}},
                            {{"role", "user"}, {"content", "Bananas are yellow."}}});
  JsonReply r2 = post_json(port(), "/v1/chat/completions",
                           {{"messages", msgs2}, {"max_tokens", 4}, {"seed", 1}});
  ASSERT_EQ(r2.status, 200) << r2.raw.body;
  const std::vector<int> p2 = chat_prompt_tokens(msgs2);
  EXPECT_EQ(r2.body["usage"]["prompt_tokens_details"]["cached_tokens"].get<size_t>(),
            common_prefix(p1, p2));

  // A second turn: the history is the first prompt plus the reply, then new text. The cache
  // holds the first prompt and the sampled reply tokens that were fed back (all but the last);
  // their ids come from the logprobs pieces (the reply text itself may be trimmed by the chat
  // parser, so re-tokenizing it is not the same).
  const std::string reply = r1.body["choices"][0]["message"]["content"];
  const Json& sampled = r1.body["choices"][0]["logprobs"]["content"];
  std::vector<int> held = p1;
  for (size_t i = 0; i + 1 < sampled.size(); ++i) {
    JsonReply one = post_json(port(), "/tokenize",
                              {{"content", sampled[i]["token"]}, {"parse_special", false}});
    ASSERT_EQ(one.body["tokens"].size(), 1u) << sampled[i]["token"];
    held.push_back(one.body["tokens"][0].get<int>());
  }
  Json msgs3 = msgs1;
  msgs3.push_back({{"role", "assistant"}, {"content", reply}});
  msgs3.push_back({{"role", "user"}, {"content", "And pears?"}});
  const std::vector<int> p3 = chat_prompt_tokens(msgs3);
  JsonReply r3 = post_json(port(), "/v1/chat/completions",
                           {{"messages", msgs3}, {"max_tokens", 4}, {"seed", 1}});
  ASSERT_EQ(r3.status, 200) << r3.raw.body;
  EXPECT_EQ(r3.body["usage"]["prompt_tokens_details"]["cached_tokens"].get<size_t>(),
            std::min(common_prefix(held, p3), p3.size() - 1));
  EXPECT_GE(r3.body["usage"]["prompt_tokens_details"]["cached_tokens"].get<size_t>(), p1.size());
}

// ---- completions ------------------------------------------------------------------------------

TEST_F(ServerHttpTest, CompletionsPromptForms) {
  Json req = {{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"seed", 9}, {"temperature", 0.7}};
  JsonReply text = post_json(port(), "/v1/completions", req);
  ASSERT_EQ(text.status, 200) << text.raw.body;
  EXPECT_EQ(text.body["object"], "text_completion");
  ASSERT_EQ(text.body["choices"].size(), 1u);
  const std::string out = text.body["choices"][0]["text"];
  EXPECT_EQ(text.body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(text.body["usage"]["completion_tokens"], 8);

  // The same prompt as token ids gives the same text.
  JsonReply ids =
      post_json(port(), "/tokenize", {{"content", "Once upon a time"}, {"add_special", true}});
  Json by_ids = req;
  by_ids["prompt"] = ids.body["tokens"];
  JsonReply tok = post_json(port(), "/v1/completions", by_ids);
  ASSERT_EQ(tok.status, 200) << tok.raw.body;
  EXPECT_EQ(tok.body["choices"][0]["text"], out);

  // Several prompts: one choice each, in order.
  Json many = req;
  many["prompt"] = Json::array({"Once upon a time", ids.body["tokens"], "Hello"});
  JsonReply m = post_json(port(), "/v1/completions", many);
  ASSERT_EQ(m.status, 200) << m.raw.body;
  ASSERT_EQ(m.body["choices"].size(), 3u);
  EXPECT_EQ(m.body["choices"][0]["text"], out);
  EXPECT_EQ(m.body["choices"][1]["text"], out);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(m.body["choices"][i]["index"], i);
  EXPECT_EQ(m.body["usage"]["completion_tokens"], 24);

  // Streamed = not streamed.
  StreamReply s = post_stream(port(), "/v1/completions", req);
  ASSERT_EQ(s.status, 200);
  ASSERT_TRUE(s.done_marker);
  std::string streamed;
  for (const Json& e : s.events) {
    EXPECT_EQ(e["object"], "text_completion");
    for (const Json& c : e["choices"]) streamed += c["text"].get<std::string>();
  }
  EXPECT_EQ(streamed, out);

  // echo puts the prompt first.
  Json echo = req;
  echo["echo"] = true;
  JsonReply e = post_json(port(), "/v1/completions", echo);
  ASSERT_EQ(e.status, 200);
  EXPECT_EQ(e.body["choices"][0]["text"], "Once upon a time" + out);

  // No fill-in-the-middle: suffix is refused.
  Json fim = req;
  fim["suffix"] = "The end.";
  JsonReply f = post_json(port(), "/v1/completions", fim);
  EXPECT_EQ(f.status, 400);
  EXPECT_NE(f.body["error"]["message"].get<std::string>().find("suffix"), std::string::npos);
}

TEST_F(ServerHttpTest, CompletionsLogprobs) {
  Json req = {
      {"prompt", "A B C"}, {"max_tokens", 6}, {"seed", 1}, {"temperature", 0}, {"logprobs", 2}};
  JsonReply r = post_json(port(), "/v1/completions", req);
  ASSERT_EQ(r.status, 200) << r.raw.body;
  const Json& lp = r.body["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 6u);
  ASSERT_EQ(lp["token_logprobs"].size(), 6u);
  ASSERT_EQ(lp["top_logprobs"].size(), 6u);
  std::string joined;
  for (size_t i = 0; i < 6; ++i) {
    joined += lp["tokens"][i].get<std::string>();
    EXPECT_LE(lp["token_logprobs"][i].get<double>(), 0.0);
    EXPECT_LE(lp["top_logprobs"][i].size(), 2u);
    // Greedy: the sampled token is among (and the best of) the candidates.
    ASSERT_TRUE(lp["top_logprobs"][i].contains(lp["tokens"][i].get<std::string>()));
    EXPECT_EQ(lp["text_offset"][i].get<size_t>(),
              i == 0 ? 0
                     : lp["text_offset"][i - 1].get<size_t>() +
                           lp["tokens"][i - 1].get<std::string>().size());
  }
  EXPECT_EQ(joined, r.body["choices"][0]["text"]);
}

// ---- errors -----------------------------------------------------------------------------------

void expect_error_shape(const JsonReply& r) {
  ASSERT_TRUE(r.body.is_object()) << r.raw.body;
  ASSERT_TRUE(r.body.contains("error")) << r.raw.body;
  const Json& e = r.body["error"];
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("code"));
  EXPECT_TRUE(e.contains("param"));
}

TEST_F(ServerHttpTest, ClientErrors) {
  // 400: malformed JSON, wrong types, values out of range, context exceeded.
  HttpResponse broken = http_request(port(), "POST", "/v1/chat/completions", "{\"messages\": [");
  EXPECT_EQ(broken.status, 400);
  for (const Json& body :
       {Json{{"messages", "hi"}}, Json{{"messages", Json::array()}},
        Json{{"messages", {{{"role", "wizard"}, {"content", "x"}}}}},
        Json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"temperature", "hot"}},
        Json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"max_tokens", 1e30}},
        Json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"n", 0}},
        Json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"logit_bias", {{"abc", 1}}}},
        Json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"temperature", -1}}}) {
    JsonReply r = post_json(port(), "/v1/chat/completions", body);
    EXPECT_EQ(r.status, 400) << body.dump() << " → " << r.raw.body;
    expect_error_shape(r);
  }
  JsonReply ctx = post_json(port(), "/v1/chat/completions", user_chat("hi", 100000, 1));
  EXPECT_EQ(ctx.status, 400) << ctx.raw.body;
  EXPECT_EQ(ctx.body["error"]["type"], "exceed_context_size_error");
  JsonReply not_object = post_json(port(), "/v1/completions", Json::array({1, 2}));
  EXPECT_EQ(not_object.status, 400);

  // 404: unknown route, unknown model.
  JsonReply route = get_json(port(), "/v2/nothing");
  EXPECT_EQ(route.status, 404);
  expect_error_shape(route);
  Json other_model = user_chat("hi", 2, 1);
  other_model["model"] = "not-this-one";
  JsonReply model = post_json(port(), "/v1/chat/completions", other_model);
  EXPECT_EQ(model.status, 404);
  EXPECT_EQ(model.body["error"]["code"], "model_not_found");
  other_model["model"] = "qwen2-q8_0";
  EXPECT_EQ(post_json(port(), "/v1/chat/completions", other_model).status, 200);

  // 405: a known path with another method (and an Allow header).
  HttpResponse method = http_request(port(), "GET", "/v1/chat/completions");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.header("allow"), "POST");
  EXPECT_EQ(http_request(port(), "DELETE", "/health").status, 405);

  // 415: a body that says it is not JSON.
  HttpResponse form = http_request(port(), "POST", "/v1/chat/completions", "messages=hi",
                                   {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 415);
  HttpResponse charset = http_request(port(), "POST", "/tokenize", "{\"content\":\"a\"}",
                                      {{"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(charset.status, 200);

  // Garbage on the socket: 400 and the connection closes; the server keeps serving.
  HttpConnection raw(port());
  ASSERT_TRUE(raw.send_raw("THIS IS NOT HTTP\r\n\r\n"));
  HttpResponse g = raw.read_response(10s);
  EXPECT_EQ(g.status, 400) << g.error;
  EXPECT_EQ(get_json(port(), "/health").status, 200);
}

TEST_F(ServerHttpTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpConnection c(port());
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = c.request("GET", "/health");
    ASSERT_EQ(r.status, 200) << i << " " << r.error;
    EXPECT_EQ(r.header("connection"), "keep-alive");
  }
  HttpResponse gen = c.request("POST", "/v1/completions", R"({"prompt":"x","max_tokens":2})");
  EXPECT_EQ(gen.status, 200) << gen.error;
  HttpResponse after = c.request("GET", "/health");
  EXPECT_EQ(after.status, 200);
  // Pipelined requests are answered in order.
  ASSERT_TRUE(c.send_raw(
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"));
  HttpResponse p1 = c.read_response(10s);
  HttpResponse p2 = c.read_response(10s);
  EXPECT_EQ(p1.status, 200);
  EXPECT_NE(p1.body.find("ok"), std::string::npos);
  EXPECT_EQ(p2.status, 200);
  EXPECT_NE(p2.body.find("\"list\""), std::string::npos);
}

TEST_F(ServerHttpTest, DisconnectMidStreamFreesTheSlot) {
  auto cancelled = [&] {
    HttpResponse m = http_request(port(), "GET", "/metrics");
    return metric_value(m.body, "ember_requests_total{finish_reason=\"cancelled\"}");
  };
  const double before = cancelled();
  ASSERT_GE(before, 0.0);
  Json req = user_chat("Go on forever.", -1, 1);
  req["ignore_eos"] = true;  // runs to the end of the context (~1000 tokens) unless cancelled
  req["stream"] = true;
  SseStream sse(port(), "/v1/chat/completions", req.dump());
  ASSERT_EQ(sse.head().status, 200);
  ASSERT_TRUE(sse.next_event().has_value());
  sse.close();
  const auto closed_at = std::chrono::steady_clock::now();
  // Generous limits (left at once when met): a loaded machine may take a while to notice.
  bool freed = false;
  while (std::chrono::steady_clock::now() - closed_at < 10s) {
    if (busy_slots(port()) == 0) {
      freed = true;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(freed) << "a slot is still busy 10 s after the client left";
  // The generation was cancelled, not run to its end.
  bool counted = false;
  for (int i = 0; i < 1000 && !counted; ++i) {
    counted = cancelled() >= before + 1;
    if (!counted) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(counted);

  // The same for a non-streaming request: the server notices the closed socket.
  const double before2 = cancelled();
  {
    HttpConnection c(port());
    Json r2 = req;
    r2.erase("stream");
    ASSERT_TRUE(c.send_request("POST", "/v1/chat/completions", r2.dump()));
    std::this_thread::sleep_for(20ms);
  }  // closed without reading
  bool counted2 = false;
  for (int i = 0; i < 1000 && !counted2; ++i) {
    counted2 = cancelled() >= before2 + 1;
    if (!counted2) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(counted2) << "slots: " << get_json(port(), "/slots").raw.body << "\nmetrics:\n"
                        << http_request(port(), "GET", "/metrics").body;
  EXPECT_EQ(busy_slots(port()), 0);
}

TEST_F(ServerHttpTest, HundredsOfIdleKeepAliveConnections) {
  std::vector<std::unique_ptr<HttpConnection>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<HttpConnection>(port()));
    ASSERT_TRUE(idle.back()->connected()) << i << ": " << idle.back()->error();
  }
  // Half of them have had a request answered and stay open (keep-alive); half never spoke.
  for (size_t i = 0; i < idle.size(); i += 2) {
    ASSERT_EQ(idle[i]->request("GET", "/health").status, 200) << i;
  }
  // A generation on a fresh connection is served as usual.
  JsonReply r = post_json(port(), "/v1/chat/completions", user_chat("still there?", 4, 1));
  EXPECT_EQ(r.status, 200) << r.raw.body;
  // And every idle connection still works.
  for (size_t i = 0; i < idle.size(); ++i) {
    HttpResponse h = idle[i]->request("GET", "/health");
    ASSERT_EQ(h.status, 200) << i << " " << h.error;
  }
}

TEST_F(ServerHttpTest, StalledReaderDoesNotBlockOthers) {
  // A streaming client that never reads: its output queues up in the server while the
  // generation runs; other clients are served meanwhile.
  Json req = user_chat("Long story.", -1, 1);
  req["ignore_eos"] = true;
  HttpConnection stalled(port());
  Json sreq = req;
  sreq["stream"] = true;
  ASSERT_TRUE(stalled.send_request("POST", "/v1/chat/completions", sreq.dump()));
  for (int i = 0; i < 3; ++i) {
    JsonReply r = post_json(port(), "/v1/completions", {{"prompt", "hi"}, {"max_tokens", 3}});
    EXPECT_EQ(r.status, 200) << r.raw.body;
  }
  // Reading late still gives the whole stream.
  HttpResponse all = stalled.read_response(60s);
  EXPECT_EQ(all.status, 200) << all.error;
  EXPECT_NE(all.body.find("data: [DONE]"), std::string::npos);
}

TEST_F(ServerHttpTest, Http10StreamAndExpectContinue) {
  // HTTP/1.0: no chunked encoding; the stream ends when the server closes.
  const std::string body = user_chat("hi", 3, 1).dump().insert(1, "\"stream\":true,");
  HttpConnection c(port());
  ASSERT_TRUE(
      c.send_raw("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: "
                 "application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body));
  HttpResponse r = c.read_response(30s);
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_FALSE(r.has_header("transfer-encoding"));
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_NE(r.body.find("data: [DONE]"), std::string::npos) << r.body;

  // Expect: 100-continue gets its interim response, then the real one.
  HttpConnection e(port());
  const std::string small = R"({"content":"abc"})";
  ASSERT_TRUE(
      e.send_raw("POST /tokenize HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                 "Content-Length: " +
                 std::to_string(small.size()) + "\r\n\r\n"));
  std::optional<std::string> interim = e.read_line(10s);
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(*interim, "HTTP/1.1 100 Continue");
  ASSERT_TRUE(e.read_line(10s).has_value());  // its blank line
  ASSERT_TRUE(e.send_raw(small));
  EXPECT_EQ(e.read_response(10s).status, 200);
}

TEST_F(ServerHttpTest, MoreChoicesThanSlotsIsAClearError) {
  Json req = user_chat("hi", 2, 1);
  req["n"] = 5;  // 4 slots
  JsonReply r = post_json(port(), "/v1/chat/completions", req);
  EXPECT_EQ(r.status, 400) << r.raw.body;
  expect_error_shape(r);
}

// ---- servers with their own flags -------------------------------------------------------------

TEST(ServerHttpFlags, ApiKeyBodyLimitAndCors) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto srv = start_server({"--api-key", "sekret-123", "--max-body", "4096", "--cors-origin",
                           "https://app.example", "--alias", "tiny"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();
  // /health needs no key.
  EXPECT_EQ(http_request(port, "GET", "/health").status, 200);
  // Everything else does.
  JsonReply none = get_json(port, "/v1/models");
  EXPECT_EQ(none.status, 401);
  expect_error_shape(none);
  EXPECT_EQ(get_json(port, "/v1/models", {{"Authorization", "Bearer wrong-key!"}}).status, 401);
  EXPECT_EQ(get_json(port, "/metrics", {{"Authorization", "Bearer sekret-12"}}).status, 401);
  EXPECT_EQ(get_json(port, "/slots", {{"Authorization", "Basic sekret-123"}}).status, 401);
  JsonReply ok = get_json(port, "/v1/models", {{"Authorization", "Bearer sekret-123"}});
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body["data"][0]["id"], "tiny");
  EXPECT_EQ(ok.raw.header("access-control-allow-origin"), "https://app.example");
  const Headers auth = {{"Authorization", "Bearer sekret-123"}};
  JsonReply chat = post_json(port, "/v1/chat/completions", user_chat("hi", 2, 1), auth);
  EXPECT_EQ(chat.status, 200) << chat.raw.body;
  EXPECT_EQ(chat.body["model"], "tiny");

  // CORS preflight without credentials.
  HttpResponse pre =
      http_request(port, "OPTIONS", "/v1/chat/completions", "",
                   {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(pre.header("access-control-allow-headers").find("Authorization"), std::string::npos);

  // 413: a declared body over the limit is refused before it is read...
  HttpConnection c(port);
  ASSERT_TRUE(
      c.send_raw("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                 "sekret-123\r\nContent-Type: application/json\r\nContent-Length: "
                 "100000\r\n\r\n"));
  HttpResponse big = c.read_response(10s);
  EXPECT_EQ(big.status, 413) << big.error;
  // ...and so is one that arrives whole.
  std::string body = "{\"prompt\":\"" + std::string(8000, 'a') + "\"}";
  HttpResponse whole = http_request(port, "POST", "/v1/completions", body, auth);
  EXPECT_EQ(whole.status, 413) << whole.error;
  EXPECT_EQ(http_request(port, "GET", "/health").status, 200);
}

TEST(ServerHttpFlags, FullQueueAnswers503WithRetryAfter) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto srv = start_server({"--parallel", "1", "--max-queue", "1", "-c", "2048"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();
  Json long_req = user_chat("Keep going.", -1, 1);
  long_req["ignore_eos"] = true;
  long_req["stream"] = true;
  // A: takes the only slot.
  SseStream a(port, "/v1/chat/completions", long_req.dump());
  ASSERT_EQ(a.head().status, 200);
  ASSERT_TRUE(a.next_event().has_value());
  // B: waits in the queue.
  HttpConnection b(port);
  ASSERT_TRUE(b.send_request("POST", "/v1/chat/completions", long_req.dump()));
  bool queued = false;
  for (int i = 0; i < 200 && !queued; ++i) {
    HttpResponse m = http_request(port, "GET", "/metrics");
    queued = metric_value(m.body, "ember_requests_waiting") == 1.0;
    if (!queued) std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(queued) << "request B never showed up as waiting";
  // C: the queue is full.
  JsonReply c = post_json(port, "/v1/chat/completions", user_chat("me too", 2, 1));
  EXPECT_EQ(c.status, 503) << c.raw.body;
  expect_error_shape(c);
  EXPECT_FALSE(c.raw.header("retry-after").empty());
  a.close();
  b.close();
}

// Many clients on a small cache (requests wait for blocks), most of them closing their socket
// at a random time without reading (non-streaming and streaming, n up to 2, shared prompts):
// every cancelled generation frees its slot, and the server keeps serving.
TEST(ServerHttpFlags, ClientsLeavingAtRandomTimesLeaveNoSlotBusy) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto srv = ServerProcess::start({"-m", (dir / kChatModel).string(), "-t", "2", "--parallel", "4",
                                   "-c", "256", "--kv-size", "256"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();
  std::atomic<int> bad{0};
  auto client = [&](int t) {
    std::mt19937 rng(77u + static_cast<uint32_t>(t));
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
    for (int k = 0; k < 10; ++k) {
      const int n = 1 + pick(2);
      // n = 2 stays within the 4-block cache only with short outputs.
      const int max_tokens = n == 2 ? 1 + pick(40) : (pick(2) == 0 ? -1 : 1 + pick(60));
      Json req = user_chat("Tell me story number " + std::to_string(pick(3)), max_tokens, 5 + k);
      req["n"] = n;
      req["ignore_eos"] = pick(2) == 0;
      if (pick(4) == 0) req["stream"] = true;
      HttpConnection c(port);
      if (!c.send_request("POST", "/v1/chat/completions", req.dump())) {
        bad.fetch_add(1);
        continue;
      }
      if (pick(3) == 0) {
        HttpResponse r = c.read_response(60s);
        if (r.status != 200) {
          ADD_FAILURE() << "status " << r.status << " " << r.error << " " << r.body;
          bad.fetch_add(1);
        }
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(pick(30000)));
        c.close();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) threads.emplace_back(client, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  bool idle = false;
  for (int i = 0; i < 3000 && !idle; ++i) {
    idle = busy_slots(port) == 0 &&
           metric_value(http_request(port, "GET", "/metrics").body, "ember_requests_waiting") == 0;
    if (!idle) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(idle) << "slots: " << get_json(port, "/slots").raw.body;
  JsonReply r = post_json(port, "/v1/chat/completions", user_chat("still there?", 4, 1));
  EXPECT_EQ(r.status, 200) << r.raw.body;
}

TEST(ServerHttpFlags, GracefulShutdownOnSigterm) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto srv = start_server({"--log-format", "json", "--shutdown-timeout", "5"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  JsonReply r = post_json(srv->port(), "/v1/completions",
                          {{"prompt", "hello"}, {"max_tokens", 3}, {"seed", 1}});
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(srv->wait_for_log("\"path\":\"/v1/completions\"", 5s)) << srv->stderr_text();
  // The access log line is JSON with the request's facts.
  const std::string log = srv->stderr_text();
  const size_t at = log.rfind("{\"ts\"");
  ASSERT_NE(at, std::string::npos) << log;
  const Json line = Json::parse(log.substr(at, log.find('\n', at) - at), nullptr, false);
  ASSERT_TRUE(line.is_object()) << log;
  EXPECT_EQ(line["method"], "POST");
  EXPECT_EQ(line["status"], 200);
  EXPECT_EQ(line["completion_tokens"], 3);
  EXPECT_TRUE(line["request_id"].is_string());
  const int status = srv->stop(SIGTERM, 10s);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << srv->stderr_text();
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ServerHttpFlags, ShutdownEndsRunningStreamsCleanly) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto srv = start_server({"-c", "2048", "--shutdown-timeout", "0"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  Json req = user_chat("Keep going.", -1, 1);
  req["ignore_eos"] = true;
  req["stream"] = true;
  SseStream sse(srv->port(), "/v1/chat/completions", req.dump());
  ASSERT_EQ(sse.head().status, 200);
  ASSERT_TRUE(sse.next_event().has_value());
  ::kill(srv->pid(), SIGTERM);
  // The stream ends properly: a finish reason (cancelled, or length if it got there first),
  // then [DONE], then the end of the chunked body.
  std::string finish;
  bool done = false;
  while (std::optional<std::string> e = sse.next_event(30s)) {
    if (*e == "[DONE]") {
      done = true;
      continue;
    }
    const Json j = Json::parse(*e, nullptr, false);
    ASSERT_TRUE(j.is_object()) << *e;
    for (const Json& c : j["choices"]) {
      if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
    }
  }
  EXPECT_TRUE(sse.finished()) << sse.error();
  EXPECT_TRUE(done);
  EXPECT_TRUE(finish == "cancelled" || finish == "length") << finish;
  const int status = srv->stop(SIGTERM, 10s);
  ASSERT_TRUE(WIFEXITED(status)) << srv->stderr_text();
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ServerHttpFlags, BadFlagsFailWithAMessage) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--port", "70000"},
                                             {"--log-format", "xml"},
                                             {"--kv-type", "q3"},
                                             {"--api-key-file", "/nonexistent/key"},
                                             {"--parallel", "0"}}) {
    auto srv = start_server(args);
    EXPECT_FALSE(srv->ok()) << args[0];
    EXPECT_NE(srv->error().find("ember:"), std::string::npos) << srv->error();
    const int status = srv->stop(SIGKILL, 1s);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << args[0];
  }
  auto missing = ServerProcess::start({"-m", "/nonexistent/model.gguf"});
  EXPECT_FALSE(missing->ok());
}

}  // namespace
}  // namespace ember::testing
