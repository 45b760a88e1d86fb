// The Ollama, Anthropic Messages and OpenAI Responses routes of the real `ember serve`, over raw
// HTTP/1.1 (tests/server_harness.h): the bytes each protocol's docs specify (content types,
// NDJSON lines, SSE event names equal to each event's "type", event order, sequence numbers),
// each dialect's error shape, the gate (405, 401, x-api-key, bad JSON), and hundreds of
// malformed bodies on the new routes answered with 4xx only. The npm clients' view of the same
// routes is in tests/js.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "server_harness.h"
#include "testdata.h"

namespace ember::testing {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kModelFile = "models/qwen2-q8_0.gguf";
constexpr const char* kModel = "qwen2-q8_0";

struct Reply {
  int status = 0;
  Json body;
  HttpResponse raw;
};

Reply post(int port, const std::string& path, const std::string& body, const Headers& h = {}) {
  Reply r;
  r.raw = http_request(port, "POST", path, body, h);
  r.status = r.raw.status;
  r.body = Json::parse(r.raw.body, nullptr, false);
  return r;
}
Reply post(int port, const std::string& path, const Json& body, const Headers& h = {}) {
  return post(port, path, body.dump(), h);
}

// A named SSE event: "event: NAME" and its JSON data.
struct NamedEvent {
  std::string name;
  Json data;
};

// Reads a whole SSE body (chunked) and splits it into named events.
std::vector<NamedEvent> named_events(const std::string& body) {
  std::vector<NamedEvent> out;
  std::istringstream in(body);
  std::string line, name, data;
  while (std::getline(in, line)) {
    if (line.rfind("event: ", 0) == 0) {
      name = line.substr(7);
    } else if (line.rfind("data: ", 0) == 0) {
      data = line.substr(6);
    } else if (line.empty() && !data.empty()) {
      out.push_back({name, Json::parse(data, nullptr, false)});
      name.clear();
      data.clear();
    }
  }
  return out;
}

// Each dialect's error body.
std::string ollama_error_shape(const Json& j) {
  if (j.is_discarded()) return "not JSON";
  if (!j.is_object() || !j.contains("error") || !j["error"].is_string() ||
      j["error"].get<std::string>().empty()) {
    return "not {\"error\": \"message\"}";
  }
  return "";
}
std::string anthropic_error_shape(const Json& j) {
  if (j.is_discarded()) return "not JSON";
  if (!j.is_object() || j.value("type", "") != "error" || !j.contains("error") ||
      !j["error"].is_object() || !j["error"]["type"].is_string() ||
      !j["error"]["message"].is_string()) {
    return "not {\"type\": \"error\", \"error\": {\"type\", \"message\"}}";
  }
  return "";
}
std::string openai_error_shape(const Json& j) {
  if (j.is_discarded()) return "not JSON";
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object() ||
      !j["error"]["message"].is_string()) {
    return "not {\"error\": {\"message\", ...}}";
  }
  return "";
}
std::string error_shape(const std::string& path, const Json& j) {
  if (path.rfind("/api/", 0) == 0) return ollama_error_shape(j);
  if (path.rfind("/v1/messages", 0) == 0) return anthropic_error_shape(j);
  return openai_error_shape(j);
}

// `base` with `patch` merged in (RFC 7396).
Json with(Json base, const Json& patch) {
  base.merge_patch(patch);
  return base;
}

Json ollama_chat(int num_predict = 6) {
  return {{"model", kModel},
          {"messages", Json::array({{{"role", "user"}, {"content", "Hello there"}}})},
          {"options", {{"num_predict", num_predict}, {"seed", 5}}}};
}
Json anthropic_msg(int max_tokens = 6) {
  return {{"model", kModel},
          {"max_tokens", max_tokens},
          {"temperature", 0},
          {"messages", Json::array({{{"role", "user"}, {"content", "Hello there"}}})}};
}
Json responses_req(int max_tokens = 6) {
  return {{"model", kModel},
          {"max_output_tokens", max_tokens},
          {"temperature", 0},
          {"input", "Hello there"}};
}

class ServerApisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = testdata_dir();
    if (dir.empty()) return;
    server_ = ServerProcess::start(
                  {"-m", (dir / kModelFile).string(), "--parallel", "2", "-c", "512", "-t", "1"})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
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

  static ServerProcess* server_;
};

ServerProcess* ServerApisTest::server_ = nullptr;

// ---- Ollama -------------------------------------------------------------------------------------

TEST_F(ServerApisTest, OllamaChatStreamsNdjsonLines) {
  // Ollama's documented curl examples post with `-d`, i.e. as form data: accepted.
  Reply r = post(port(), "/api/chat", ollama_chat().dump(),
                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.raw.header("content-type"), "application/x-ndjson");
  std::istringstream in(r.raw.body);
  std::string line, text;
  std::vector<Json> lines;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty()) << "one JSON object per line, no blank lines";
    lines.push_back(Json::parse(line, nullptr, false));
    ASSERT_FALSE(lines.back().is_discarded()) << line;
  }
  ASSERT_GE(lines.size(), 2u);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], kModel);
    EXPECT_EQ(lines[i]["message"]["role"], "assistant");
    text += lines[i]["message"]["content"].get<std::string>();
  }
  const Json& last = lines.back();
  EXPECT_EQ(last["done"], true);
  EXPECT_EQ(last["done_reason"], "length");  // num_predict 6 on a random model
  EXPECT_EQ(last["eval_count"], 6);
  for (const char* k : {"total_duration", "load_duration", "prompt_eval_count",
                        "prompt_eval_duration", "eval_count", "eval_duration"}) {
    EXPECT_TRUE(last[k].is_number_integer()) << k;
  }

  // stream:false: one application/json object with the same text.
  Json b = ollama_chat();
  b["stream"] = false;
  Reply whole = post(port(), "/api/chat", b);
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.raw.header("content-type"), "application/json");
  EXPECT_EQ(whole.body["message"]["content"], text);
  EXPECT_EQ(whole.body["done"], true);
}

TEST_F(ServerApisTest, OllamaGenerateRawAndInformationalRoutes) {
  Json g = {{"model", std::string(kModel) + ":latest"},
            {"prompt", "Once upon a time"},
            {"raw", true},
            {"stream", false},
            {"keep_alive", "5m"},
            {"options", {{"num_predict", 4}, {"seed", 1}, {"num_ctx", 512}, {"num_thread", 8}}}};
  Reply r = post(port(), "/api/generate", g);
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_TRUE(r.body["response"].is_string());
  EXPECT_EQ(r.body["eval_count"], 4);
  // The raw prompt is the text's own tokens (no template, no BOS for Qwen2).
  Reply tok = post(port(), "/tokenize", Json{{"content", "Once upon a time"}});
  EXPECT_EQ(r.body["prompt_eval_count"], tok.body["tokens"].size());

  // format on a raw prompt constrains it like a chat's: JSON matching the schema.
  const Json schema = {{"type", "object"},
                       {"properties", {{"a", {{"enum", {"x", "y"}}}}}},
                       {"required", {"a"}},
                       {"additionalProperties", false}};
  Json f = g;
  f["format"] = schema;
  f["options"]["num_predict"] = 60;
  Reply fr = post(port(), "/api/generate", f);
  ASSERT_EQ(fr.status, 200) << fr.raw.body;
  EXPECT_EQ(fr.body["done_reason"], "stop") << fr.raw.body;
  const Json parsed = Json::parse(fr.body["response"].get<std::string>(), nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << fr.body["response"];
  EXPECT_EQ(parsed.size(), 1u);
  EXPECT_TRUE(parsed["a"] == "x" || parsed["a"] == "y") << parsed.dump();

  Reply tags{};
  tags.raw = http_request(port(), "GET", "/api/tags");
  ASSERT_EQ(tags.raw.status, 200);
  Json t = Json::parse(tags.raw.body);
  EXPECT_EQ(t["models"][0]["name"], std::string(kModel) + ":latest");
  HttpResponse v = http_request(port(), "GET", "/api/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_TRUE(Json::parse(v.body)["version"].is_string());
  HttpResponse ps = http_request(port(), "GET", "/api/ps");
  EXPECT_EQ(Json::parse(ps.body)["models"][0]["context_length"], 512);
  Reply show = post(port(), "/api/show", Json{{"name", kModel}});
  ASSERT_EQ(show.status, 200);
  EXPECT_FALSE(show.body["template"].get<std::string>().empty());
  EXPECT_EQ(show.body["details"]["quantization_level"], "Q8_0");
}

TEST_F(ServerApisTest, OllamaErrors) {
  struct Case {
    std::string method, path;
    Json body;
    int status;
  };
  Json think_raw = {{"model", kModel}, {"prompt", "x"}, {"raw", true}, {"think", true}};
  const std::vector<Case> cases = {
      {"POST", "/api/chat", Json{{"messages", Json::array()}}, 400},  // model missing
      {"POST", "/api/chat", with(ollama_chat(), {{"model", "llama3"}}), 404},
      {"POST", "/api/chat", Json{{"model", kModel}, {"options", {{"num_ctx", 513}}}}, 400},
      {"POST", "/api/chat", Json{{"model", kModel}, {"options", {{"tfs_z", 0.5}}}}, 400},
      {"POST", "/api/chat", Json{{"model", kModel}, {"format", "yaml"}}, 400},
      {"POST", "/api/chat", Json{{"model", kModel}, {"think", "max"}}, 400},
      // The Qwen2 template has no reasoning block.
      {"POST", "/api/chat", with(ollama_chat(), {{"think", true}}), 400},
      {"POST", "/api/generate", Json{{"model", kModel}, {"prompt", "x"}, {"suffix", "y"}}, 400},
      {"POST", "/api/generate", Json{{"model", kModel}, {"prompt", "x"}, {"context", {1, 2}}}, 400},
      {"POST", "/api/generate", think_raw, 400},
      // A text-generation model without a pooling type cannot embed: the 400 /v1/embeddings gives.
      {"POST", "/api/embed", Json{{"model", kModel}, {"input", "x"}}, 400},
      {"POST", "/api/embeddings", Json{{"model", kModel}, {"prompt", "x"}}, 400},
      {"POST", "/api/embed", Json{{"model", "llama3"}, {"input", "x"}}, 404},
      {"POST", "/api/embed", Json{{"input", "x"}}, 400},
      {"POST", "/api/create", Json{{"model", "x"}}, 501},
      {"DELETE", "/api/delete", Json{{"model", "x"}}, 501},
      {"GET", "/api/chat", Json(), 405},
      {"POST", "/api/tags", Json(), 405},
  };
  for (const Case& c : cases) {
    HttpResponse r = http_request(port(), c.method, c.path, c.body.is_null() ? "" : c.body.dump());
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.dump() << " → "
                                  << r.body;
    EXPECT_EQ(ollama_error_shape(Json::parse(r.body, nullptr, false)), "") << r.body;
  }
  // Bad JSON gets the gate's 400, in Ollama's shape.
  Reply bad = post(port(), "/api/chat", std::string("{\"model\": "));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ollama_error_shape(bad.body), "") << bad.raw.body;
}

// ---- Anthropic ----------------------------------------------------------------------------------

TEST_F(ServerApisTest, AnthropicStreamEventOrder) {
  Json req = anthropic_msg(8);
  Reply whole = post(port(), "/v1/messages", req);
  ASSERT_EQ(whole.status, 200) << whole.raw.body;
  EXPECT_EQ(whole.body["type"], "message");
  EXPECT_EQ(whole.body["stop_reason"], "max_tokens");
  EXPECT_EQ(whole.body["usage"]["output_tokens"], 8);

  req["stream"] = true;
  Reply s = post(port(), "/v1/messages", req);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.raw.header("content-type"), "text/event-stream");
  const std::vector<NamedEvent> ev = named_events(s.raw.body);
  ASSERT_GE(ev.size(), 6u);
  for (const NamedEvent& e : ev) EXPECT_EQ(e.name, e.data["type"]) << "event name = data.type";
  EXPECT_EQ(ev[0].name, "message_start");
  EXPECT_EQ(ev[0].data["message"]["content"], Json::array());
  EXPECT_EQ(ev[1].name, "ping");
  EXPECT_EQ(ev[ev.size() - 2].name, "message_delta");
  EXPECT_EQ(ev.back().name, "message_stop");
  EXPECT_EQ(ev[ev.size() - 2].data["delta"]["stop_reason"], "max_tokens");
  // Blocks: start, deltas with the same index, stop; text equals the non-streamed text.
  std::string text;
  int open = -1;
  for (size_t i = 2; i + 2 < ev.size(); ++i) {
    const NamedEvent& e = ev[i];
    if (e.name == "content_block_start") {
      EXPECT_EQ(open, -1);
      open = e.data["index"];
    } else if (e.name == "content_block_delta") {
      EXPECT_EQ(e.data["index"], open);
      if (e.data["delta"]["type"] == "text_delta") text += e.data["delta"]["text"];
    } else if (e.name == "content_block_stop") {
      EXPECT_EQ(e.data["index"], open);
      open = -1;
    } else {
      ADD_FAILURE() << "unexpected event " << e.name;
    }
  }
  EXPECT_EQ(open, -1);
  EXPECT_EQ(text, whole.body["content"][0]["text"]);
}

TEST_F(ServerApisTest, AnthropicErrorsAndCountTokens) {
  Reply count = post(port(), "/v1/messages/count_tokens",
                     Json{{"model", kModel},
                          {"system", "Be brief."},
                          {"messages", Json::array({{{"role", "user"}, {"content", "Hi"}}})}});
  ASSERT_EQ(count.status, 200) << count.raw.body;
  Reply tmpl = post(port(), "/apply-template",
                    Json{{"messages", Json::array({{{"role", "system"}, {"content", "Be brief."}},
                                                   {{"role", "user"}, {"content", "Hi"}}})}});
  Reply tok =
      post(port(), "/tokenize", Json{{"content", tmpl.body["prompt"]}, {"add_special", true}});
  EXPECT_EQ(count.body["input_tokens"], tok.body["tokens"].size());

  const std::vector<std::pair<Json, int>> cases = {
      {Json{{"model", kModel}, {"messages", Json::array({{{"role", "user"}, {"content", "x"}}})}},
       400},  // max_tokens missing
      {with(anthropic_msg(), {{"model", "claude-3-5-sonnet"}}), 404},
      {with(anthropic_msg(), {{"max_tokens", 100000}}), 400},  // beyond the context
      {with(anthropic_msg(),
            {{"tools", Json::array({{{"type", "bash_20250124"}, {"name", "bash"}}})}}),
       400},
      {with(anthropic_msg(), {{"tool_choice", {{"type", "sometimes"}}}}), 400},
      {with(anthropic_msg(), {{"thinking", {{"type", "maybe"}}}}), 400},
      {with(anthropic_msg(), {{"messages", Json::array({{{"role", "system"}, {"content", "x"}}})}}),
       400},
  };
  for (const auto& [body, status] : cases) {
    Reply r = post(port(), "/v1/messages", body);
    EXPECT_EQ(r.status, status) << body.dump() << " → " << r.raw.body;
    EXPECT_EQ(anthropic_error_shape(r.body), "") << r.raw.body;
  }
  // Prefill (a final assistant message) is refused, not answered as a new turn.
  Reply prefill =
      post(port(), "/v1/messages",
           with(anthropic_msg(),
                {{"messages", Json::array({{{"role", "user"}, {"content", "x"}},
                                           {{"role", "assistant"}, {"content", "{"}}})}}));
  EXPECT_EQ(prefill.status, 400) << prefill.raw.body;
  EXPECT_NE(prefill.raw.body.find("prefill"), std::string::npos);
  Reply bad = post(port(), "/v1/messages", std::string("[1,"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(anthropic_error_shape(bad.body), "") << bad.raw.body;
  EXPECT_EQ(bad.body["error"]["type"], "invalid_request_error");
}

TEST(ServerApisKey, XApiKeyCountsLikeBearer) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto srv = ServerProcess::start({"-m", (dir / kModelFile).string(), "-c", "256", "-t", "1",
                                   "--api-key", "k-123", "--cors-origin", "*"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  // A browser SDK's preflight: its own headers are allowed, and x-api-key.
  HttpResponse pre = http_request(
      srv->port(), "OPTIONS", "/v1/messages", "",
      {{"Origin", "https://app.example"},
       {"Access-Control-Request-Method", "POST"},
       {"Access-Control-Request-Headers", "x-api-key,x-stainless-os,anthropic-version"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_NE(pre.header("access-control-allow-headers").find("x-stainless-os"), std::string::npos);
  EXPECT_NE(pre.header("access-control-allow-headers").find("X-Api-Key"), std::string::npos);
  const std::string body = anthropic_msg(2).dump();
  Reply none = post(srv->port(), "/v1/messages", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body["error"]["type"], "authentication_error") << none.raw.body;
  Reply wrong = post(srv->port(), "/v1/messages", body, {{"x-api-key", "k-124"}});
  EXPECT_EQ(wrong.status, 401);
  Reply right = post(srv->port(), "/v1/messages", body, {{"x-api-key", "k-123"}});
  EXPECT_EQ(right.status, 200) << right.raw.body;
  Reply bearer =
      post(srv->port(), "/api/chat", ollama_chat(2).dump(), {{"Authorization", "Bearer k-123"}});
  EXPECT_EQ(bearer.status, 200);
  Reply ollama_none = post(srv->port(), "/api/chat", ollama_chat(2).dump());
  EXPECT_EQ(ollama_none.status, 401);
  EXPECT_EQ(ollama_error_shape(ollama_none.body), "") << ollama_none.raw.body;
  // The OpenAI routes take x-api-key too.
  Reply openai = post(srv->port(), "/v1/responses", responses_req(2), {{"x-api-key", "k-123"}});
  EXPECT_EQ(openai.status, 200);
}

// ---- Responses ----------------------------------------------------------------------------------

TEST_F(ServerApisTest, ResponsesStreamEvents) {
  Json req = responses_req(8);
  Reply whole = post(port(), "/v1/responses", req);
  ASSERT_EQ(whole.status, 200) << whole.raw.body;
  EXPECT_EQ(whole.body["status"], "incomplete");
  EXPECT_EQ(whole.body["incomplete_details"]["reason"], "max_output_tokens");

  req["stream"] = true;
  Reply s = post(port(), "/v1/responses", req);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.raw.body.find("[DONE]"), std::string::npos) << "no [DONE] in the Responses API";
  const std::vector<NamedEvent> ev = named_events(s.raw.body);
  ASSERT_GE(ev.size(), 8u);
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].name, ev[i].data["type"]);
    EXPECT_EQ(ev[i].data["sequence_number"], i);
  }
  const std::vector<std::string> head = {"response.created", "response.in_progress",
                                         "response.output_item.added",
                                         "response.content_part.added"};
  for (size_t i = 0; i < head.size(); ++i) EXPECT_EQ(ev[i].name, head[i]);
  EXPECT_EQ(ev.back().name, "response.incomplete");
  std::string text;
  for (const NamedEvent& e : ev) {
    if (e.name == "response.output_text.delta") text += e.data["delta"];
  }
  EXPECT_EQ(text, whole.body["output"][0]["content"][0]["text"]);
  EXPECT_EQ(ev.back().data["response"]["output"][0]["content"][0]["text"], text);
}

TEST_F(ServerApisTest, ResponsesErrors) {
  const std::vector<std::pair<Json, int>> cases = {
      {with(responses_req(), {{"previous_response_id", "resp_1"}}), 400},
      {with(responses_req(), {{"conversation", "conv_1"}}), 400},
      {with(responses_req(), {{"background", true}}), 400},
      {with(responses_req(), {{"input", Json::array({{{"type", "item_reference"}, {"id", "x"}}})}}),
       400},
      {with(responses_req(), {{"input", 5}}), 400},
      {with(responses_req(), {{"text", {{"format", {{"type", "xml"}}}}}}), 400},
      {with(responses_req(), {{"model", "gpt-4.1"}}), 404},
  };
  for (const auto& [body, status] : cases) {
    Reply r = post(port(), "/v1/responses", body);
    EXPECT_EQ(r.status, status) << body.dump() << " → " << r.raw.body;
    EXPECT_EQ(openai_error_shape(r.body), "") << r.raw.body;
  }
}

// ---- malformed bodies ---------------------------------------------------------------------------

// Every field of each new route with values of every other JSON type, truncated and byte-damaged
// bodies: the answer is a 4xx in the route's error shape (or, for values that may be legal, any
// answer but a 5xx); the server stays up.
TEST_F(ServerApisTest, MalformedBodiesGetOnly4xx) {
  const std::vector<Json> wrong_values = {true,
                                          7,
                                          -3,
                                          1.5,
                                          1e300,
                                          "",
                                          "x",
                                          Json::array(),
                                          Json::array({1, "a"}),
                                          Json::object(),
                                          Json{{"a", 1}}};
  struct Route {
    std::string path;
    Json base;
    std::vector<std::string> fields;
  };
  Json ollama_gen = {{"model", kModel}, {"prompt", "hi"}, {"options", {{"num_predict", 1}}}};
  const std::vector<Route> routes = {
      {"/api/chat",
       ollama_chat(1),
       {"model", "messages", "stream", "format", "options", "tools", "think", "keep_alive"}},
      {"/api/generate",
       ollama_gen,
       {"model", "prompt", "system", "raw", "stream", "format", "options", "suffix", "template",
        "context", "images", "think"}},
      {"/api/show", Json{{"model", kModel}}, {"model"}},
      {"/v1/messages",
       anthropic_msg(1),
       {"model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p",
        "top_k", "stream", "tools", "tool_choice", "thinking", "metadata"}},
      {"/v1/messages/count_tokens", anthropic_msg(1), {"model", "messages", "system", "tools"}},
      {"/v1/responses",
       responses_req(1),
       {"model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "stream",
        "tools", "tool_choice", "text", "reasoning", "parallel_tool_calls", "metadata"}},
  };
  // Nested shapes: messages / items / options / blocks with wrong inner types.
  std::vector<std::pair<std::string, Json>> nested = {
      {"/api/chat", with(ollama_chat(1), {{"options", {{"num_predict", "many"}}}})},
      {"/api/chat", with(ollama_chat(1), {{"options", {{"seed", 1e20}}}})},
      {"/api/chat", with(ollama_chat(1), {{"options", {{"stop", {1, 2}}}}})},
      {"/api/chat", with(ollama_chat(1), {{"messages", Json::array({5})}})},
      {"/api/chat",
       with(ollama_chat(1), {{"messages", Json::array({{{"role", "wizard"}, {"content", "x"}}})}})},
      {"/api/chat",
       with(ollama_chat(1),
            {{"messages",
              Json::array({{{"role", "assistant"},
                            {"content", ""},
                            {"tool_calls", Json::array({{{"function", {{"name", 5}}}}})}}})}})},
      {"/api/chat", with(ollama_chat(1), {{"tools", Json::array({{{"type", "function"}}})}})},
      {"/v1/messages",
       with(
           anthropic_msg(1),
           {{"messages", Json::array({{{"role", "user"},
                                       {"content", Json::array({{{"type", "tool_result"}}})}}})}})},
      {"/v1/messages",
       with(anthropic_msg(1),
            {{"messages", Json::array({{{"role", "assistant"},
                                        {"content", Json::array({{{"type", "tool_use"},
                                                                  {"id", "a"},
                                                                  {"name", "f"},
                                                                  {"input", 5}}})}}})}})},
      {"/v1/messages",
       with(anthropic_msg(1),
            {{"messages", Json::array({{{"role", "user"},
                                        {"content", Json::array({{{"type", "video"}}})}}})}})},
      {"/v1/messages",
       with(anthropic_msg(1), {{"tools", Json::array({{{"name", "f"}, {"input_schema", 5}}})}})},
      {"/v1/messages", with(anthropic_msg(1), {{"system", Json::array({{{"type", "image"}}})}})},
      {"/v1/responses",
       with(responses_req(1), {{"input", Json::array({{{"type", "function_call"}}})}})},
      {"/v1/responses",
       with(responses_req(1),
            {{"input", Json::array({{{"type", "function_call_output"}, {"call_id", "c"}}})}})},
      {"/v1/responses",
       with(responses_req(1), {{"input", Json::array({{{"role", "tool"}, {"content", "x"}}})}})},
      {"/v1/responses", with(responses_req(1), {{"tools", Json::array({{{"type", "function"}}})}})},
      {"/v1/responses", with(responses_req(1), {{"reasoning", {{"effort", "extreme"}}}})},
  };
  struct Sent {
    std::string path, body;
    bool must_be_4xx;
  };
  std::vector<Sent> sent;
  for (const Route& r : routes) {
    for (const std::string& f : r.fields) {
      for (const Json& v : wrong_values) {
        Json b = r.base;
        b[f] = v;
        // Some values are legal for some fields (a string model, true for stream, ...): those
        // must just not be a 5xx.
        sent.push_back({r.path, b.dump(), false});
      }
    }
    const std::string text = r.base.dump();
    std::mt19937_64 rng(1234);
    for (int i = 0; i < 25; ++i) {
      const size_t cut = std::uniform_int_distribution<size_t>(0, text.size() - 2)(rng);
      sent.push_back({r.path, text.substr(0, cut), true});  // truncated JSON: always invalid
      std::string damaged = text;
      damaged[std::uniform_int_distribution<size_t>(0, text.size() - 1)(rng)] =
          static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
      sent.push_back({r.path, damaged, false});
    }
    sent.push_back({r.path, "[]", true});
    sent.push_back({r.path, "null", true});
    sent.push_back({r.path, "\xff\xfe{}", true});
  }
  for (const auto& [path, body] : nested) sent.push_back({path, body.dump(), true});

  int failures = 0;
  for (const Sent& s : sent) {
    HttpResponse r = http_request(port(), "POST", s.path, s.body, {}, std::chrono::seconds(30));
    std::string why;
    if (r.status == 0) {
      why = "no response: " + r.error;
    } else if (r.status >= 500) {
      why = "HTTP " + std::to_string(r.status);
    } else if (s.must_be_4xx && (r.status < 400 || r.status >= 500)) {
      why = "HTTP " + std::to_string(r.status) + " (want 4xx)";
    } else if (r.status >= 400) {
      why = error_shape(s.path, Json::parse(r.body, nullptr, false));
    }
    if (!why.empty() && ++failures <= 20) {
      ADD_FAILURE() << s.path << " " << s.body.substr(0, 300) << " → " << why << ": "
                    << r.body.substr(0, 300);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << sent.size() << " requests";
  EXPECT_EQ(http_request(port(), "GET", "/health").status, 200);
}

}  // namespace
}  // namespace ember::testing
