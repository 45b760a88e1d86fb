// Thousands of malformed requests against one real `ember serve` (issue 11, Acceptance:
// robustness). Every case is a byte string sent on its own connection, with what the server may
// answer:
//   - broken JSON, wrong types for every field, out-of-range and non-integral numbers, invalid
//     UTF-8, bad tool / response_format / message shapes: an HTTP 4xx with OpenAI's error JSON
//     (`{"error":{"message","type",...}}`), never a 5xx, never a dropped connection;
//   - values that may be legal (negative or huge numbers some servers accept, `null`s): any
//     answer but a 5xx;
//   - malformed HTTP (garbage bytes, bad request lines, oversized or invalid headers, truncated
//     bodies, conflicting lengths, bad chunked framing): a 4xx, or the connection closed;
//   - known routes with the wrong method: 405; unknown routes: 404; a body over --max-body: 413;
//     a body that is not JSON by Content-Type: 415.
// Cases come from a fixed seed. Meanwhile idle half-open connections are held open, and the
// end state is checked: the server is alive, /health is 200, /slots shows no busy slot, and a
// normal request still works.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server_harness.h"
#include "testdata.h"
#include "webui_assets.h"

namespace ember::testing {
namespace {

using Json = nlohmann::ordered_json;

enum class Expect {
  k4xxJson,     // a 4xx whose body is OpenAI's error object
  k4xxOrClose,  // malformed HTTP: a 4xx, or the connection closed without a response
  kNot5xx,      // maybe legal: any complete response below 500
  kNot5xxOrClose,
  kStatus,  // exactly `status`
  kStatusOrClose,
  kProtocolOrClose,  // unknown method or HTTP version: a 4xx, 501 or 505 (RFC 9110 9.1,
                     // 15.6.6: the standard answers, not server faults), or closed
  kNothing,          // the client closes right after sending: only the server's survival counts
};

struct Case {
  std::string category;
  std::string bytes;
  Expect expect = Expect::k4xxJson;
  int status = 0;           // for kStatus / kStatusOrClose
  bool half_close = false;  // shutdown(SHUT_WR) after sending: the server sees EOF
};

constexpr const char* kModelId = "qwen2-q8_0";
constexpr size_t kMaxBody = size_t{8} << 20;  // the server's default --max-body

std::string http(const std::string& method, const std::string& path, const std::string& body,
                 const std::string& content_type = "application/json",
                 const std::string& extra_headers = "") {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!content_type.empty()) r += "Content-Type: " + content_type + "\r\n";
  r += extra_headers;
  if (!body.empty() || method == "POST")
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += "\r\n" + body;
  return r;
}

Json base_chat() {
  return Json{{"model", kModelId},
              {"messages", Json::array({{{"role", "user"}, {"content", "hi"}}})},
              {"max_tokens", 1},
              {"temperature", 0}};
}
Json base_completion() {
  return Json{{"model", kModelId}, {"prompt", "hi"}, {"max_tokens", 1}, {"temperature", 0}};
}

// Every JSON value of a kind other than `allowed` (a set of "null", "bool", "int", "number",
// "string", "array", "object").
std::vector<Json> values_not_of(const std::vector<std::string>& allowed) {
  auto has = [&](const char* k) {
    return std::find(allowed.begin(), allowed.end(), k) != allowed.end();
  };
  std::vector<Json> out;
  if (!has("bool")) out.insert(out.end(), {true, false});
  if (!has("int") && !has("number")) out.insert(out.end(), {7, -3, 0});
  if (!has("number") && has("int")) out.insert(out.end(), {1.5, -0.25, 1e300});
  if (!has("string")) out.insert(out.end(), {"7", "", "NaN", "Infinity"});
  if (!has("array")) out.insert(out.end(), {Json::array(), Json::array({1, "a", nullptr})});
  if (!has("object")) out.insert(out.end(), {Json::object(), Json{{"a", 1}}});
  return out;
}

class CaseBuilder {
 public:
  explicit CaseBuilder(uint64_t seed) : rng_(seed) {}

  std::vector<Case> build() {
    wrong_types();
    maybe_legal_numbers();
    message_shapes();
    tools_and_formats();
    other_endpoints();
    broken_json();
    invalid_utf8();
    http_level();
    garbage();
    return std::move(cases_);
  }

 private:
  void add(std::string category, std::string bytes, Expect e, int status = 0,
           bool half_close = false) {
    cases_.push_back(Case{std::move(category), std::move(bytes), e, status, half_close});
  }
  void chat(const std::string& category, const Json& body, Expect e = Expect::k4xxJson) {
    add(category, http("POST", "/v1/chat/completions", body.dump()), e);
  }
  void completion(const std::string& category, const Json& body, Expect e = Expect::k4xxJson) {
    add(category, http("POST", "/v1/completions", body.dump()), e);
  }
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // Each field with each value of a type it does not take: must be a 400.
  void wrong_types() {
    const std::vector<std::pair<std::string, std::vector<std::string>>> chat_fields = {
        {"model", {"string", "null"}},
        {"messages", {"array"}},
        {"max_tokens", {"int", "null"}},
        {"max_completion_tokens", {"int", "null"}},
        {"temperature", {"number", "null"}},
        {"top_p", {"number", "null"}},
        {"top_k", {"int", "null"}},
        {"min_p", {"number", "null"}},
        {"typical_p", {"number", "null"}},
        {"repeat_penalty", {"number", "null"}},
        {"frequency_penalty", {"number", "null"}},
        {"presence_penalty", {"number", "null"}},
        {"seed", {"int", "null"}},
        {"stop", {"string", "array", "null"}},
        {"n", {"int", "null"}},
        {"stream", {"bool", "null"}},
        {"stream_options", {"object", "null"}},
        {"logprobs", {"bool", "null"}},
        {"top_logprobs", {"int", "null"}},
        {"logit_bias", {"object", "array", "null"}},
        {"tools", {"array", "null"}},
        {"tool_choice", {"string", "object", "null"}},
        {"parallel_tool_calls", {"bool", "null"}},
        {"response_format", {"object", "null"}},
        {"ignore_eos", {"bool", "null"}},
    };
    for (const auto& [field, allowed] : chat_fields) {
      for (const Json& v : values_not_of(allowed)) {
        Json b = base_chat();
        b[field] = v;
        chat("chat wrong type: " + field, b);
      }
      // null: "absent" for optional fields, an error for required ones; never a 5xx.
      Json b = base_chat();
      b[field] = nullptr;
      chat("chat null: " + field, b, field == "messages" ? Expect::k4xxJson : Expect::kNot5xx);
    }
    for (const Json& v : values_not_of({"bool"})) {
      Json b = base_chat();
      b["stream_options"] = Json{{"include_usage", v}};
      chat("chat wrong type: stream_options.include_usage", b);
    }
    for (const Json& v : values_not_of({"string", "array", "null"})) {
      Json b = base_chat();
      b["stop"] = Json::array({"ok", v});
      if (!v.is_string()) chat("chat wrong type: stop[1]", b);
    }
    for (const Json& v : values_not_of({"int", "number", "bool"})) {
      Json b = base_chat();
      b["logit_bias"] = Json{{"15", v}};
      chat("chat wrong type: logit_bias value", b);
    }

    const std::vector<std::pair<std::string, std::vector<std::string>>> completion_fields = {
        {"model", {"string", "null"}},
        {"prompt", {"string", "array"}},
        {"max_tokens", {"int", "null"}},
        {"temperature", {"number", "null"}},
        {"top_k", {"int", "null"}},
        {"seed", {"int", "null"}},
        {"stop", {"string", "array", "null"}},
        {"n", {"int", "null"}},
        {"stream", {"bool", "null"}},
        {"echo", {"bool", "null"}},
        {"logprobs", {"int", "bool", "null"}},
        {"suffix", {"string", "null"}},
        {"ignore_eos", {"bool", "null"}},
    };
    for (const auto& [field, allowed] : completion_fields) {
      for (const Json& v : values_not_of(allowed)) {
        Json b = base_completion();
        b[field] = v;
        completion("completion wrong type: " + field, b);
      }
    }
    // Prompts as token arrays with values that are not token ids.
    for (const Json& p :
         {Json::array({1.5}), Json::array({-1}), Json::array({99999999}),
          Json::array({Json::array({-5})}), Json::array({Json::object()}), Json::array({true}),
          Json::array({nullptr}), Json::array({Json::array({1, "x"})}), Json::array({4294967296LL}),
          Json::array({Json::array({Json::array({1})})})}) {
      Json b = base_completion();
      b["prompt"] = p;
      completion("completion bad token prompt", b);
    }
    // No prompt / no messages at all.
    Json b = base_completion();
    b.erase("prompt");
    completion("completion without prompt", b);
    b = base_chat();
    b.erase("messages");
    chat("chat without messages", b);
    // Bodies that are JSON but not objects.
    for (const char* s : {"[]", "null", "1", "\"text\"", "true", "[{}]"}) {
      add("chat body not an object", http("POST", "/v1/chat/completions", s), Expect::k4xxJson);
      add("completion body not an object", http("POST", "/v1/completions", s), Expect::k4xxJson);
    }
  }

  // Numbers beyond 64 bits, non-integral numbers for integer fields and clearly invalid ranges
  // are 400s; borderline values (negative, zero, large but representable) only must not be 5xx.
  // The numbers are written as raw JSON text: a JSON library would turn 1e400 into null.
  void maybe_legal_numbers() {
    struct Raw {
      const char* text;
      bool small_int;  // an integer within +-2^40
    };
    const std::vector<Raw> numbers = {{"1e400", false},
                                      {"-1e400", false},
                                      {"99999999999999999999999999", false},
                                      {"18446744073709551616", false},
                                      {"9223372036854775808", false},
                                      {"-9223372036854775809", false},
                                      {"4294967296", true},
                                      {"1e-400", false},
                                      {"2147483648", true},
                                      {"-2147483649", true},
                                      {"1E+2", false},
                                      {"-0", true},
                                      {"-1", true},
                                      {"0", true},
                                      {"-0.0", false},
                                      {"1e308", false},
                                      {"65536", true},
                                      {"2.0000001", false},
                                      {"-1e-9", false},
                                      {"0.5e1", false}};
    auto with_raw = [](Json b, const std::string& field, const char* raw) {
      b[field] = "__RAW__";
      std::string text = b.dump();
      text.replace(text.find("\"__RAW__\""), 9, raw);
      return text;
    };
    for (const char* f :
         {"max_tokens", "max_completion_tokens", "top_k", "seed", "n", "top_logprobs"}) {
      for (const Raw& v : numbers) {
        add(std::string("chat number: ") + f,
            http("POST", "/v1/chat/completions", with_raw(base_chat(), f, v.text)),
            v.small_int ? Expect::kNot5xx : Expect::k4xxJson);
      }
    }
    for (const Raw& v : numbers) {
      add("completion number: max_tokens",
          http("POST", "/v1/completions", with_raw(base_completion(), "max_tokens", v.text)),
          v.small_int ? Expect::kNot5xx : Expect::k4xxJson);
    }
    // n beyond any possible slot count, max_tokens beyond the context, n not positive: 400.
    for (long long v : {100000LL, 1LL << 31, (1LL << 40)}) {
      Json b = base_chat();
      b["max_tokens"] = v;
      chat("chat max_tokens beyond context", b);
      b = base_chat();
      b["n"] = v;
      chat("chat n beyond slots", b);
    }
    for (long long v : {0LL, -1LL, -100LL}) {
      Json b = base_chat();
      b["n"] = v;
      chat("chat n not positive", b);
    }
    // Float fields: finite values may be accepted (servers clamp), overflowing ones too; never a
    // 5xx.
    for (const char* f : {"temperature", "top_p", "min_p", "typical_p", "repeat_penalty",
                          "frequency_penalty", "presence_penalty"}) {
      for (const Raw& v : numbers) {
        add(std::string("chat float: ") + f,
            http("POST", "/v1/chat/completions", with_raw(base_chat(), f, v.text)),
            Expect::kNot5xx);
      }
    }
    for (const Raw& v : numbers) {
      Json b = base_chat();
      b["logit_bias"] = Json{{"15", "__RAW__"}};
      std::string text = b.dump();
      text.replace(text.find("\"__RAW__\""), 9, v.text);
      add("chat logit_bias number", http("POST", "/v1/chat/completions", text), Expect::kNot5xx);
    }
    for (const char* k : {"-1", "99999999", "abc", "", "1e3", "0x10", "18446744073709551617"}) {
      Json b = base_chat();
      b["logit_bias"] = Json{{k, 1}};
      chat("chat logit_bias bad token key", b, Expect::kNot5xx);
    }
  }

  void message_shapes() {
    const std::vector<Json> bad_messages = {
        Json::array(),
        Json::array({1}),
        Json::array({"hi"}),
        Json::array({nullptr}),
        Json::array({Json::array()}),
        Json::array({Json::object()}),
        Json::array({{{"content", "hi"}}}),
        Json::array({{{"role", "user"}}}),
        Json::array({{{"role", 5}, {"content", "hi"}}}),
        Json::array({{{"role", "wizard"}, {"content", "hi"}}}),
        Json::array({{{"role", ""}, {"content", "hi"}}}),
        Json::array({{{"role", "user"}, {"content", 5}}}),
        Json::array({{{"role", "user"}, {"content", true}}}),
        Json::array({{{"role", "user"}, {"content", Json{{"text", "hi"}}}}}),
        Json::array({{{"role", "user"}, {"content", Json::array({5})}}}),
        Json::array({{{"role", "user"}, {"content", Json::array({{{"type", "text"}}})}}}),
        Json::array(
            {{{"role", "user"}, {"content", Json::array({{{"type", "text"}, {"text", 5}}})}}}),
        Json::array({{{"role", "user"}, {"content", Json::array({{{"type", 7}, {"text", "x"}}})}}}),
        Json::array(
            {{{"role", "user"},
              {"content", Json::array({{{"type", "image_url"}, {"image_url", {{"url", 5}}}}})}}}),
        Json::array({{{"role", "user"}, {"content", "hi"}, {"name", 5}}}),
        Json::array({{{"role", "tool"}, {"content", "x"}}}),
        Json::array({{{"role", "tool"}, {"content", "x"}, {"tool_call_id", 5}}}),
        Json::array({{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", 5}}}),
        Json::array({{{"role", "assistant"}, {"tool_calls", Json::array({5})}}}),
        Json::array(
            {{{"role", "assistant"}, {"tool_calls", Json::array({{{"type", "function"}}})}}}),
        Json::array(
            {{{"role", "assistant"},
              {"tool_calls", Json::array({{{"type", "function"},
                                           {"function", {{"name", 5}, {"arguments", "{}"}}}}})}}}),
        Json::array(
            {{{"role", "assistant"},
              {"tool_calls", Json::array({{{"type", "function"},
                                           {"function", {{"name", "f"}, {"arguments", 5}}}}})}}}),
    };
    for (const Json& m : bad_messages) {
      Json b = base_chat();
      b["messages"] = m;
      chat("chat bad messages", b);
    }
    // Random structural damage to a longer conversation: drop a key or change a value's type.
    const Json conv = Json::array({{{"role", "system"}, {"content", "Be brief."}},
                                   {{"role", "user"}, {"content", "hi"}},
                                   {{"role", "assistant"}, {"content", "hello"}},
                                   {{"role", "user"}, {"content", "again"}}});
    const std::vector<Json> replacements = {5, true, Json::array(), Json::object(), -1.5};
    for (int i = 0; i < 60; ++i) {
      Json b = base_chat();
      b["messages"] = conv;
      Json& msg = b["messages"][pick(conv.size())];
      const char* key = pick(2) ? "role" : "content";
      Expect e = Expect::k4xxJson;
      if (pick(3) == 0 && std::string(key) == "role") {
        msg.erase(key);
      } else {
        msg[key] = replacements[pick(replacements.size())];
        // An empty content-part array is a well-formed (empty) content.
        if (std::string(key) == "content" && msg[key].is_array()) e = Expect::kNot5xx;
      }
      chat("chat damaged conversation", b, e);
    }
  }

  void tools_and_formats() {
    const Json fn = Json::parse(
        R"({"type": "function", "function": {"name": "get_weather", "parameters":
            {"type": "object", "properties": {"city": {"type": "string"}}}}})");
    const char* bad_tools[] = {
        R"([5])",
        R"(["get_weather"])",
        R"([{}])",
        R"([{"type": "function"}])",
        R"([{"type": "function", "function": 5}])",
        R"([{"type": "function", "function": {}}])",
        R"([{"type": "function", "function": {"name": 5}}])",
        R"([{"type": "function", "function": {"name": "f", "parameters": 5}}])",
        R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "nonsense"}}}])",
        R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": 5}}}])",
        R"([{"type": "function", "function": {"name": "f", "parameters": {"$ref": "#/nowhere"}}}])",
        R"([{"type": "function", "function": {"name": "f", "parameters": {"not": {}}}}])",
    };
    for (const char* t : bad_tools) {
      Json b = base_chat();
      b["tools"] = Json::parse(t);
      b["tool_choice"] = "required";
      chat("chat bad tools", b);
    }
    const char* bad_choice[] = {
        R"("sometimes")",
        R"("")",
        R"({"type": "function"})",
        R"({"type": "function", "function": {"name": "nope"}})",
        R"({"type": "function", "function": {"name": 5}})",
        R"({"function": "get_weather"})",
    };
    for (const char* c : bad_choice) {
      Json b = base_chat();
      b["tools"] = Json::array({fn});
      b["tool_choice"] = Json::parse(c);
      chat("chat bad tool_choice", b);
    }
    {
      Json b = base_chat();
      b["tool_choice"] = "required";  // required without tools
      chat("chat tool_choice required without tools", b);
    }
    const char* bad_formats[] = {
        R"({"type": "xml"})",
        R"({"type": 5})",
        R"({})",
        R"({"type": "json_schema"})",
        R"({"type": "json_schema", "json_schema": 5})",
        R"({"type": "json_schema", "json_schema": {"name": "x", "schema": 5}})",
        R"({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "widget"}}})",
        R"({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "(unclosed"}}})",
        R"({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "integer", "minimum": 5, "maximum": 1}}})",
        R"({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array", "minItems": 100000000}}})",
        R"({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "maxLength": 1e12}}})",
        R"({"type": "json_schema", "json_schema": {"name": "x", "schema": {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}}})",
    };
    for (const char* f : bad_formats) {
      Json b = base_chat();
      b["response_format"] = Json::parse(f);
      chat("chat bad response_format", b);
    }
    {
      Json b = base_completion();
      b["suffix"] = "tail";  // the test model has no infill tokens
      completion("completion suffix without infill", b);
    }
  }

  void other_endpoints() {
    const std::vector<std::pair<std::string, Json>> bad = {
        {"/tokenize", Json::object()},
        {"/tokenize", Json{{"content", 5}}},
        {"/tokenize", Json{{"content", Json::array({1})}}},
        {"/tokenize", Json{{"content", "hi"}, {"add_special", "yes"}}},
        {"/tokenize", Json{{"content", "hi"}, {"with_pieces", 3}}},
        {"/detokenize", Json::object()},
        {"/detokenize", Json{{"tokens", 5}}},
        {"/detokenize", Json{{"tokens", Json::array({"a"})}}},
        {"/detokenize", Json{{"tokens", Json::array({-1})}}},
        {"/detokenize", Json{{"tokens", Json::array({99999999})}}},
        {"/detokenize", Json{{"tokens", Json::array({1.5})}}},
        {"/apply-template", Json::object()},
        {"/apply-template", Json{{"messages", 5}}},
        {"/apply-template", Json{{"messages", Json::array({5})}}},
        {"/apply-template", Json{{"messages", Json::array({{{"role", "user"}, {"content", 5}}})}}},
    };
    for (const auto& [path, body] : bad)
      add("endpoint bad body: " + path, http("POST", path, body.dump()), Expect::k4xxJson);
    for (const char* raw :
         {R"({"tokens": [1e400]})", R"({"tokens": [18446744073709551616]})",
          R"({"tokens": [-9223372036854775809]})", R"({"tokens": [1, 2, 1e999]})"}) {
      add("endpoint bad body: /detokenize", http("POST", "/detokenize", raw), Expect::k4xxJson);
    }
  }

  // Damage to valid JSON text: truncation is always invalid; single-byte changes may not be.
  void broken_json() {
    const std::string chat_text = [] {
      Json b = base_chat();
      b["stop"] = Json::array({"\n\n", "END"});
      b["tools"] =
          Json::array({{{"type", "function"},
                        {"function", {{"name", "f"}, {"parameters", {{"type", "object"}}}}}}});
      b["response_format"] = Json{{"type", "text"}};
      return b.dump();
    }();
    for (int i = 0; i < 250; ++i) {
      const size_t cut = pick(chat_text.size() - 1);
      add("json truncated", http("POST", "/v1/chat/completions", chat_text.substr(0, cut)),
          Expect::k4xxJson);
    }
    static constexpr char kJunk[] = "{}[]\",:\\0123456789.eE+-truefalsnul \t\n\x01\x7f";
    for (int i = 0; i < 300; ++i) {
      std::string t = chat_text;
      const size_t at = pick(t.size());
      switch (pick(3)) {
        case 0:
          t[at] = kJunk[pick(sizeof kJunk - 1)];
          break;
        case 1:
          t.insert(at, 1, kJunk[pick(sizeof kJunk - 1)]);
          break;
        default:
          t.erase(at, 1);
          break;
      }
      // Mostly invalid; a change inside a string or a number can stay valid: no 5xx either way.
      add("json byte damage", http("POST", "/v1/chat/completions", t), Expect::kNot5xx);
      add("json byte damage (completions)",
          http("POST", "/v1/completions", t.size() > 10 ? t : std::string("{")), Expect::kNot5xx);
    }
    const char* fixed[] = {
        "",
        "{",
        "}",
        "{\"model\":",
        "{\"messages\": [}",
        "{'model': 'x'}",
        "{\"max_tokens\": 1,}",
        "{\"max_tokens\": NaN}",
        "{\"max_tokens\": Infinity}",
        "{\"max_tokens\": -Infinity}",
        "{\"max_tokens\": 01}",
        "{\"max_tokens\": 1.}",
        "{\"max_tokens\": .5}",
        "{\"max_tokens\": +1}",
        "{\"max_tokens\": 0x10}",
        "{\"a\": \"\\x41\"}",
        "{\"a\": \"\\u12\"}",
        "{\"a\": \"\\ud800\"}",
        "{\"a\": \"\\udc00\\ud800\"}",
        "{\"a\": \"tab\tinside\"}",
        "{\"a\": \"nl\ninside\"}",
        "/* comment */ {}",
        "{} {}",
        "{}x",
        "\xef\xbb\xbf{}",
        "{\"a\" 1}",
        "{1: 2}",
        "[1, 2",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]",
        "tru",
        "nul",
        "\"unterminated",
    };
    for (const char* f : fixed) {
      add("json fixed broken", http("POST", "/v1/chat/completions", f), Expect::k4xxJson);
    }
    // Deep nesting: a recursive parser or destructor would overflow its stack.
    for (size_t depth : {1000u, 100000u, 1000000u}) {
      add("json deep nesting", http("POST", "/v1/chat/completions", std::string(depth, '[')),
          Expect::k4xxJson);
      std::string nested = std::string(depth, '[') + std::string(depth, ']');
      Json b = base_chat();
      std::string body = b.dump();
      body.insert(body.size() - 1, ",\"x\":" + nested);
      add("json deep nesting (complete)", http("POST", "/v1/chat/completions", body),
          Expect::kNot5xx);
    }
    // Very long strings and many keys (within --max-body).
    {
      Json b = base_chat();
      std::string words;
      while (words.size() < (size_t{1} << 20)) words += "hello ";
      b["messages"][0]["content"] = words;  // 1 MiB prompt, far beyond -c
      add("chat prompt beyond context", http("POST", "/v1/chat/completions", b.dump()),
          Expect::k4xxJson);
      Json k = base_chat();
      for (int i = 0; i < 50000; ++i) k["k" + std::to_string(i)] = i;
      add("chat 50000 unknown keys", http("POST", "/v1/chat/completions", k.dump()),
          Expect::kNot5xx);
      Json s = base_chat();
      s["stop"] = Json::array();
      for (int i = 0; i < 10000; ++i) s["stop"].push_back("s" + std::to_string(i));
      add("chat 10000 stop strings", http("POST", "/v1/chat/completions", s.dump()),
          Expect::kNot5xx);
    }
  }

  void invalid_utf8() {
    const std::vector<std::string> bad = {"\xff",         "\xfe\xff",
                                          "\xc0\xaf",     "\xe0\x80\xaf",
                                          "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                          "\xe2\x82",     "\x80",
                                          "a\xc3",        "\xf8\x88\x80\x80\x80"};
    // The JSON text is assembled by hand: a JSON library would refuse to write these bytes.
    const std::vector<std::pair<std::string, std::string>> templates = {
        {"/v1/chat/completions",
         R"({"model":"qwen2-q8_0","messages":[{"role":"user","content":"@"}],"max_tokens":1})"},
        {"/v1/chat/completions",
         R"({"model":"@","messages":[{"role":"user","content":"hi"}],"max_tokens":1})"},
        {"/v1/chat/completions",
         R"({"model":"qwen2-q8_0","messages":[{"role":"user","content":"hi"}],"stop":["@"],"max_tokens":1})"},
        {"/v1/chat/completions",
         R"({"model":"qwen2-q8_0","messages":[{"role":"user","content":"hi"}],"max_tokens":1,"@":1})"},
        {"/v1/chat/completions",
         R"({"model":"qwen2-q8_0","messages":[{"role":"user","content":[{"type":"text","text":"@"}]}],"max_tokens":1})"},
        {"/v1/completions", R"({"model":"qwen2-q8_0","prompt":"@","max_tokens":1})"},
        {"/tokenize", R"({"content":"@"})"},
        {"/apply-template", R"({"messages":[{"role":"user","content":"@"}]})"},
    };
    for (const auto& [path, tmpl] : templates) {
      for (const std::string& b : bad) {
        std::string body = tmpl;
        body.replace(body.find('@'), 1, b);
        add("invalid UTF-8 in a JSON string", http("POST", path, body), Expect::k4xxJson);
      }
    }
    // Random bytes >= 0x80 inside the prompt: each is invalid UTF-8 unless it happens to form a
    // valid sequence, so only "no 5xx" is certain.
    for (int i = 0; i < 100; ++i) {
      std::string junk;
      for (size_t n = 1 + pick(8); n > 0; --n) junk.push_back(static_cast<char>(0x80 + pick(128)));
      std::string body = templates[0].second;
      body.replace(body.find('@'), 1, "x" + junk + "y");
      add("random high bytes in a prompt", http("POST", "/v1/chat/completions", body),
          Expect::kNot5xx);
    }
    // In headers and the request target: a 4xx, a normal answer, or a closed connection.
    for (const std::string& b : bad) {
      add("invalid UTF-8 in a header value",
          "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: " + b +
              "\r\nConnection: close\r\n\r\n",
          Expect::kNot5xxOrClose, 0, true);
      add("invalid UTF-8 in a header name",
          "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX" + b + ": 1\r\nConnection: close\r\n\r\n",
          Expect::k4xxOrClose, 0, true);
      add("invalid UTF-8 in the path",
          "GET /v1/models/" + b + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
          Expect::k4xxOrClose, 0, true);
      add("invalid UTF-8 in Authorization",
          "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + b +
              "\r\nConnection: close\r\n\r\n",
          Expect::kNot5xxOrClose, 0, true);
      add("invalid UTF-8 in Content-Type",
          http("POST", "/v1/chat/completions", base_chat().dump(),
               "application/json; charset=" + b),
          Expect::kNot5xxOrClose, 0, true);
    }
  }

  void http_level() {
    const std::string body = base_chat().dump();
    // Wrong methods on known routes: 405.
    const std::vector<std::pair<std::string, std::string>> wrong_methods = {
        {"GET", "/v1/chat/completions"},
        {"PUT", "/v1/chat/completions"},
        {"DELETE", "/v1/chat/completions"},
        {"PATCH", "/v1/completions"},
        {"GET", "/v1/completions"},
        {"POST", "/v1/models"},
        {"DELETE", "/v1/models"},
        {"POST", "/health"},
        {"PUT", "/health"},
        {"GET", "/tokenize"},
        {"GET", "/detokenize"},
        {"GET", "/apply-template"},
        {"POST", "/props"},
        {"POST", "/slots"},
        {"DELETE", "/metrics"},
        {"POST", "/metrics"},
        {"POST", "/v1/models/qwen2-q8_0"},
    };
    for (const auto& [m, p] : wrong_methods) {
      add("wrong method", http(m, p, m == "GET" || m == "DELETE" ? "" : body), Expect::kStatus,
          405);
    }
    // Unknown files of the web page: 404, or 501 (webui_not_built) in a build without the page.
    const int webui_status = http::web_assets_missing().empty() ? 404 : 501;
    for (const char* r : {"/webui/nope.js", "/webui/../../etc/passwd", "/webui/"}) {
      add("unknown page file", http("GET", r, ""), Expect::kStatusOrClose, webui_status, true);
    }
    // Unknown routes: 404.
    static constexpr const char* kRoutes[] = {"/v1",
                                              "/v1/",
                                              "/v2/chat/completions",
                                              "/v1/chat",
                                              "/v1/chat/completions/x",
                                              "/v1/models/nope",
                                              "/v1/models/qwen2-q8_0/x",
                                              "/healthz",
                                              "/HEALTH",
                                              "/../../etc/passwd",
                                              "/v1/%2e%2e/health",
                                              "/%00",
                                              "/v1/chat/completions%00",
                                              "/v1//chat/completions"};
    for (const char* r : kRoutes) {
      const bool post = std::string(r).find("chat") != std::string::npos;
      add("unknown route", http(post ? "POST" : "GET", r, post ? body : ""), Expect::kStatusOrClose,
          404, true);
    }
    for (int i = 0; i < 80; ++i) {
      std::string path = "/";
      for (size_t n = 1 + pick(40); n > 0; --n) path.push_back("abcxyz/._-~%0123456789"[pick(22)]);
      add("random route", http(pick(2) ? "GET" : "POST", path, pick(2) ? body : ""),
          Expect::k4xxOrClose, 0, true);
    }
    // Unknown method tokens.
    for (const char* m : {"FOO", "get", "CONNECT", "TRACE", "PROPFIND", "G\x01T", "BREW"}) {
      add("unknown method",
          std::string(m) + " /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
          Expect::kProtocolOrClose, 0, true);
    }
    // OPTIONS may be answered (CORS preflight) or refused.
    add("OPTIONS", "OPTIONS /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Expect::kNot5xxOrClose, 0, true);
    // Wrong Content-Type for a JSON body: 415.
    for (const char* ct : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                           "application/xml", "image/png"}) {
      add("wrong content type", http("POST", "/v1/chat/completions", body, ct), Expect::kStatus,
          415);
    }
    // Bodies over --max-body (8 MiB): 413, declared and not sent, or sent in full.
    add("body over the limit (declared)",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
            std::to_string(kMaxBody + 1) + "\r\n\r\n{",
        Expect::kStatusOrClose, 413, true);
    add("body over the limit (declared, 1 TB)",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000000\r\n\r\n",
        Expect::kStatusOrClose, 413, true);
    {
      std::string big = "{\"messages\":\"" + std::string(kMaxBody + 16, 'x') + "\"}";
      add("body over the limit (sent)", http("POST", "/v1/chat/completions", big),
          Expect::kStatusOrClose, 413, true);
    }
    // Truncated bodies: Content-Length larger than what is sent, then EOF (half-close) or a
    // full close right away.
    for (int i = 0; i < 120; ++i) {
      const size_t sent = pick(body.size());
      const size_t declared = body.size() + 1 + pick(5000);
      std::string req =
          "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(declared) + "\r\n\r\n" + body.substr(0, sent);
      if (i % 3 == 0) {
        add("truncated body, closed", req, Expect::kNothing);
      } else {
        add("truncated body, half-closed", req, Expect::k4xxOrClose, 0, true);
      }
    }
    // Truncated heads.
    const std::string full = http("POST", "/v1/chat/completions", body);
    const size_t head_len = full.find("\r\n\r\n");
    for (int i = 0; i < 60; ++i) {
      add("truncated head", full.substr(0, pick(head_len)),
          i % 2 ? Expect::k4xxOrClose : Expect::kNothing, 0, true);
    }
    // Bad framing headers.
    const std::vector<std::string> framing = {
        "Content-Length: -1\r\n",          "Content-Length: abc\r\n",
        "Content-Length: 1e3\r\n",         "Content-Length: 99999999999999999999999\r\n",
        "Content-Length: 0x10\r\n",        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 6\r\n",        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: gzip\r\n",     "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: xchunked\r\n",
    };
    for (const std::string& f : framing) {
      add("bad framing header",
          "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
              f + "\r\n" + body,
          Expect::k4xxOrClose, 0, true);
    }
    const std::vector<std::string> chunked_bodies = {
        "zz\r\nabc\r\n0\r\n\r\n",
        "ffffffffffffffffffff\r\n",
        "5\r\nabc\r\n0\r\n\r\n",
        "3\r\nabcde\r\n0\r\n\r\n",
        "-3\r\nabc\r\n0\r\n\r\n",
        "3\r\nabc",
        "\r\n\r\n",
        "1;" + std::string(20000, 'x') + "\r\na\r\n0\r\n\r\n",
        "800000\r\n" + std::string(100, 'a'),
    };
    for (const std::string& cb : chunked_bodies) {
      add("bad chunked body",
          "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n" +
              cb,
          Expect::k4xxOrClose, 0, true);
    }
    // A well-formed chunked JSON body is legal HTTP/1.1.
    {
      std::string cb;
      for (size_t at = 0; at < body.size(); at += 7) {
        const std::string part = body.substr(at, 7);
        char size[16];
        std::snprintf(size, sizeof size, "%zx", part.size());
        cb += std::string(size) + "\r\n" + part + "\r\n";
      }
      cb += "0\r\n\r\n";
      add("chunked JSON body",
          "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
              cb,
          Expect::kNot5xx);
    }
    // Oversized and odd headers.
    add("one 100 KB header",
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n",
        Expect::k4xxOrClose, 0, true);
    add("one 2 MB header",
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000000, 'a') + "\r\n\r\n",
        Expect::k4xxOrClose, 0, true);
    {
      std::string many = "GET /health HTTP/1.1\r\nHost: x\r\n";
      for (int i = 0; i < 20000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
      add("20000 headers", many + "\r\n", Expect::k4xxOrClose, 0, true);
    }
    add("100 KB request target",
        "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", Expect::k4xxOrClose, 0,
        true);
    add("100 KB query", "GET /health?" + std::string(100000, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n",
        Expect::kNot5xxOrClose, 0, true);
    for (const std::string& line :
         {std::string("X-No-Colon\r\n"), std::string(": empty-name\r\n"),
          std::string("X Space: 1\r\n"),
          std::string("X-Ctl: a\x01"
                      "b\r\n"),
          std::string(" folded-continuation\r\n"), std::string("X-Null: a\0b\r\n", 13),
          std::string("Host: a\r\nHost: b\r\n")}) {
      add("invalid header line",
          "GET /health HTTP/1.1\r\nHost: x\r\n" + line + "Connection: close\r\n\r\n",
          Expect::kNot5xxOrClose, 0, true);
    }
    // Versions this server does not speak: 400 or 505 (RFC 9110 15.6.6), or closed.
    for (const char* rl : {"GET /health HTTP/9.9\r\n", "GET /health HTTP/2.0\r\n",
                           "GET /health FTP/1.1\r\n", "GET /health HTTP/1.x\r\n"}) {
      add("unsupported version", std::string(rl) + "Host: x\r\nConnection: close\r\n\r\n",
          Expect::kProtocolOrClose, 0, true);
    }
    for (const char* rl :
         {"GET /health HTTP/1.1 extra\r\n", "GET  /health HTTP/1.1\r\n", "GET /health\r\n",
          "GET\r\n", "/health HTTP/1.1\r\n", "GET /health HTTP/1.1\n", "GET health HTTP/1.1\r\n",
          "GET http://x/health HTTP/1.1\r\n", "GET * HTTP/1.1\r\n", "GET /health HTTP/1.1\r\r\n",
          "\r\n\r\nGET /health HTTP/1.1\r\n"}) {
      add("odd request line", std::string(rl) + "Host: x\r\nConnection: close\r\n\r\n",
          Expect::kNot5xxOrClose, 0, true);
    }
    // Pipelined requests, the first malformed: whatever the server answers, no 5xx.
    add("pipelined after a bad request",
        http("POST", "/v1/chat/completions", "{bad") + http("GET", "/health", ""), Expect::k4xxJson,
        0, true);
    // Expect: 100-continue with a bad body.
    add("expect 100-continue",
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Expect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n{bad",
        Expect::k4xxJson, 0, true);
    // HTTP/1.0 without Host.
    add("HTTP/1.0 bad JSON",
        "POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
        "Content-Length: 4\r\n\r\n{bad",
        Expect::k4xxJson, 0, true);
    // Abrupt closes right after a valid streaming request is sent.
    for (int i = 0; i < 40; ++i) {
      Json b = base_chat();
      b["stream"] = true;
      b["max_tokens"] = 64;
      add("valid request, client gone at once", http("POST", "/v1/chat/completions", b.dump()),
          Expect::kNothing);
    }
  }

  void garbage() {
    for (int i = 0; i < 500; ++i) {
      std::string g;
      const size_t n = 1 + pick(i % 10 == 0 ? 65536 : 512);
      for (size_t k = 0; k < n; ++k) g.push_back(static_cast<char>(pick(256)));
      // Half of them look like the start of a request.
      if (i % 2)
        g = (pick(2) ? "POST /v1/chat/completions HTTP/1.1\r\n" : "GET / HTTP/1.1\r\n") + g;
      add("garbage bytes", g, i % 5 == 0 ? Expect::kNothing : Expect::k4xxOrClose, 0, true);
    }
    // Other protocols on the port.
    add("HTTP/2 preface",
        std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) +
            std::string("\0\0\0\x04\0\0\0\0\0", 9),
        Expect::k4xxOrClose, 0, true);
    add("TLS ClientHello",
        std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) + std::string(160, '\x42'),
        Expect::k4xxOrClose, 0, true);
    add("SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", Expect::k4xxOrClose, 0, true);
    add("only CRLFs", std::string(10000, '\n'), Expect::k4xxOrClose, 0, true);
    add("NUL bytes", std::string(1000, '\0'), Expect::k4xxOrClose, 0, true);
  }

  std::mt19937_64 rng_;
  std::vector<Case> cases_;
};

std::string printable(std::string_view s, size_t max = 160) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Empty when the body is OpenAI's error object; else why not.
std::string check_error_json(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return "body is not JSON";
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object())
    return "no \"error\" object";
  const auto& e = j["error"];
  if (!e.contains("message") || !e["message"].is_string() ||
      e["message"].get<std::string>().empty()) {
    return "error.message is not a non-empty string";
  }
  if (!e.contains("type") || !e["type"].is_string()) return "error.type is not a string";
  return "";
}

// Runs one case; empty when the server behaved, else a description of what went wrong.
std::string run_case(int port, const Case& c) {
  HttpConnection conn(port);
  if (!conn.connected()) return "cannot connect: " + conn.error();
  conn.send_raw(c.bytes);  // the server may close early (413, 400): a failed send is fine
  if (c.expect == Expect::kNothing) return "";
  if (c.half_close) ::shutdown(conn.fd(), SHUT_WR);
  HttpResponse r = conn.read_response(std::chrono::seconds(30));
  const bool closed = r.status == 0 && conn.closed_by_peer();
  if (r.status == 0 && !closed) return "no response and the connection is still open: " + r.error;
  const bool is4xx = r.status >= 400 && r.status < 500;
  switch (c.expect) {
    case Expect::k4xxJson: {
      if (closed) return "connection closed without a response (" + r.error + ")";
      if (!is4xx)
        return "HTTP " + std::to_string(r.status) + " (want 4xx): " + printable(r.body, 300);
      std::string why = check_error_json(r.body);
      if (!why.empty())
        return "HTTP " + std::to_string(r.status) + " " + why + ": " + printable(r.body, 300);
      return "";
    }
    case Expect::k4xxOrClose:
      if (closed || is4xx) return "";
      return "HTTP " + std::to_string(r.status) + " (want 4xx or close): " + printable(r.body, 300);
    case Expect::kNot5xx:
      if (closed) return "connection closed without a response (" + r.error + ")";
      if (r.status >= 500)
        return "HTTP " + std::to_string(r.status) + ": " + printable(r.body, 300);
      return "";
    case Expect::kNot5xxOrClose:
      if (!closed && r.status >= 500)
        return "HTTP " + std::to_string(r.status) + ": " + printable(r.body, 300);
      return "";
    case Expect::kStatus:
      if (closed) return "connection closed without a response (" + r.error + ")";
      if (r.status != c.status) {
        return "HTTP " + std::to_string(r.status) + " (want " + std::to_string(c.status) +
               "): " + printable(r.body, 300);
      }
      return "";
    case Expect::kStatusOrClose:
      if (!closed && r.status != c.status) {
        return "HTTP " + std::to_string(r.status) + " (want " + std::to_string(c.status) +
               " or close): " + printable(r.body, 300);
      }
      return "";
    case Expect::kProtocolOrClose:
      if (closed || is4xx || r.status == 501 || r.status == 505) return "";
      return "HTTP " + std::to_string(r.status) + " (want 4xx, 501, 505 or close)";
    case Expect::kNothing:
      return "";
  }
  return "";
}

// Busy slots in /slots (llama-server's shape: an array of objects with "is_processing").
int busy_slots(int port, std::string* raw) {
  HttpResponse r = http_request(port, "GET", "/slots");
  *raw = std::to_string(r.status) + " " + r.body.substr(0, 500);
  if (r.status != 200) return -1;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_array()) return -1;
  int busy = 0;
  for (const auto& s : j) {
    if (s.is_object() && s.value("is_processing", false)) ++busy;
  }
  return busy;
}

TEST(ServerMalformed, ThousandsOfMalformedRequestsGetOnly4xxAndNoCrash) {
  EMBER_REQUIRE_TESTDATA(data);
  const std::string model = (data / "models" / "qwen2-q8_0.gguf").string();
  auto srv = ServerProcess::start({"-m", model, "--parallel", "2", "-c", "512", "-t", "1"});
  ASSERT_TRUE(srv->ok()) << srv->error();
  const int port = srv->port();

  std::vector<Case> cases = CaseBuilder(0x5eed2026).build();
  ASSERT_GE(cases.size(), 2000u);

  // Idle and half-sent connections held open for the whole run: they must not block anyone.
  std::vector<std::unique_ptr<HttpConnection>> idle;
  for (int i = 0; i < 32; ++i) {
    auto c = std::make_unique<HttpConnection>(port);
    if (i % 2) c->send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le");
    idle.push_back(std::move(c));
  }

  std::mutex mu;
  std::vector<std::string> failures;
  std::map<std::string, int> per_category;
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < cases.size(); i = next++) {
        std::string why = run_case(port, cases[i]);
        std::lock_guard<std::mutex> lock(mu);
        per_category[cases[i].category]++;
        if (!why.empty()) {
          // The request line and the body (the common headers say little).
          const std::string& b = cases[i].bytes;
          const size_t eol = b.find("\r\n"), head_end = b.find("\r\n\r\n");
          std::string shown = printable(b.substr(0, std::min(eol, size_t{120})));
          if (head_end != std::string::npos && head_end + 4 < b.size()) {
            shown += " ... body: " + printable(std::string_view(b).substr(head_end + 4), 400);
          } else if (eol != std::string::npos) {
            shown = printable(b, 300);
          }
          failures.push_back("[" + cases[i].category + "] " + why + "\n    request: " + shown);
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  std::printf("%zu malformed requests in %zu categories, %zu answered wrongly\n", cases.size(),
              per_category.size(), failures.size());

  // The server process is still running (not reaped, not a zombie).
  int wstatus = 0;
  EXPECT_EQ(::waitpid(srv->pid(), &wstatus, WNOHANG), 0) << "ember serve died; its output:\n"
                                                         << srv->stderr_text().substr(0, 4000);
  EXPECT_EQ(::kill(srv->pid(), 0), 0);

  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << cases.size()
                                << " cases failed; the first ones:\n"
                                << [&] {
                                     std::string s;
                                     for (size_t i = 0; i < failures.size() && i < 40; ++i)
                                       s += failures[i] + "\n";
                                     return s;
                                   }();

  // Still serving: /health, a normal request, and no slot left busy by the aborted ones.
  HttpResponse h = http_request(port, "GET", "/health");
  EXPECT_EQ(h.status, 200) << h.error << h.body;
  HttpResponse ok = http_request(port, "POST", "/v1/chat/completions", base_chat().dump());
  EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
  std::string raw;
  int busy = -1;
  for (int i = 0; i < 50 && busy != 0; ++i) {
    busy = busy_slots(port, &raw);
    if (busy != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(busy, 0) << "/slots: " << raw;

  idle.clear();
  const int status = srv->stop(SIGTERM, std::chrono::seconds(10));
  EXPECT_TRUE(WIFEXITED(status) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
      << "ember serve ended badly (wait status " << status << ")";
}

}  // namespace
}  // namespace ember::testing
