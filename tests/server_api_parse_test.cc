// The HTTP front end's request handling without a server: routes, the gate (auth, CORS, content
// type, JSON), OpenAI body parsing and response framing, checked against the HTTP and OpenAI
// specifications' rules.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <variant>

#include "http_message.h"
#include "openai_request.h"
#include "router.h"
#include "security.h"

namespace ember::http {
namespace {

HttpRequest make(const std::string& method, const std::string& target, std::string body = "",
                 Headers headers = {}) {
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

int gate_status(const HttpRequest& r, const HttpOptions& o) {
  auto v = admit_request(r, o);
  if (auto* resp = std::get_if<HttpResponse>(&v)) return resp->status;
  return 0;  // admitted
}

TEST(ServerApiParse, ConstantTimeCompareAndBearer) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(bearer_token_matches("Bearer key1", "key1"));
  EXPECT_TRUE(bearer_token_matches("bearer key1", "key1"));  // the scheme is case-insensitive
  EXPECT_FALSE(bearer_token_matches("Bearer key", "key1"));
  EXPECT_FALSE(bearer_token_matches("Basic key1", "key1"));
  EXPECT_FALSE(bearer_token_matches("key1", "key1"));
  EXPECT_FALSE(bearer_token_matches("", "key1"));
}

TEST(ServerApiParse, RoutesAnd404And405) {
  auto m = match_route("POST", "/v1/chat/completions");
  ASSERT_TRUE(std::holds_alternative<RouteMatch>(m));
  EXPECT_EQ(std::get<RouteMatch>(m).route, Route::kChatCompletions);
  auto model = match_route("GET", "/v1/models/org%2Fmodel");
  ASSERT_TRUE(std::holds_alternative<RouteMatch>(model));
  EXPECT_EQ(std::get<RouteMatch>(model).param, "org/model");
  auto bad_escape = match_route("GET", "/v1/models/a%zz");
  ASSERT_TRUE(std::holds_alternative<ApiError>(bad_escape));
  EXPECT_EQ(std::get<ApiError>(bad_escape).status, 400);
  auto wrong = match_route("GET", "/v1/completions");
  ASSERT_TRUE(std::holds_alternative<ApiError>(wrong));
  EXPECT_EQ(std::get<ApiError>(wrong).status, 405);
  auto none = match_route("GET", "/v1/audio/speech");
  EXPECT_EQ(std::get<ApiError>(match_route("GET", "/v1/embeddings")).status, 405);  // POST only
  ASSERT_TRUE(std::holds_alternative<ApiError>(none));
  EXPECT_EQ(std::get<ApiError>(none).status, 404);
}

TEST(ServerApiParse, GateOrderAuthCorsContentTypeJson) {
  HttpOptions o;
  EXPECT_EQ(gate_status(make("GET", "/health"), o), 0);
  EXPECT_EQ(gate_status(make("GET", "/health?x=1"), o), 0);  // the query is not the path
  EXPECT_EQ(gate_status(make("POST", "/tokenize", "{\"content\":\"a\"}"), o), 0);
  EXPECT_EQ(
      gate_status(
          make("POST", "/tokenize", "{\"content\":\"a\"}", {{"Content-Type", "text/plain"}}), o),
      415);
  EXPECT_EQ(gate_status(make("POST", "/tokenize", "{\"content\":\"a\"}",
                             {{"content-type", "Application/JSON; charset=utf-8"}}),
                        o),
            0);
  EXPECT_EQ(gate_status(make("POST", "/tokenize", ""), o), 400);
  EXPECT_EQ(gate_status(make("POST", "/tokenize", "[1]"), o), 400);
  EXPECT_EQ(gate_status(make("POST", "/tokenize", "{\"a\":"), o), 400);
  std::string deep(200, '[');
  EXPECT_EQ(gate_status(make("POST", "/tokenize", "{\"a\":" + deep), o), 400);
  // Brackets inside strings do not count as nesting.
  EXPECT_EQ(gate_status(make("POST", "/tokenize", "{\"content\":\"" + deep + "\"}"), o), 0);
  EXPECT_EQ(gate_status(make("OPTIONS", "/v1/models"), o), 405);  // CORS off

  o.api_key = "s3cret";
  o.cors_origin = "*";
  EXPECT_EQ(gate_status(make("GET", "/health"), o), 0);
  EXPECT_EQ(gate_status(make("GET", "/v1/models"), o), 401);
  EXPECT_EQ(gate_status(make("GET", "/nothing"), o), 401);  // no route discovery without a key
  EXPECT_EQ(gate_status(make("GET", "/v1/models", "", {{"Authorization", "Bearer s3cret"}}), o), 0);
  auto pre = admit_request(make("OPTIONS", "/v1/chat/completions"), o);
  ASSERT_TRUE(std::holds_alternative<HttpResponse>(pre));
  EXPECT_EQ(std::get<HttpResponse>(pre).status, 204);
  auto denied = admit_request(make("GET", "/v1/models"), o);
  const HttpResponse& d = std::get<HttpResponse>(denied);
  bool cors = false, www = false;
  for (const auto& [k, v] : d.headers) {
    cors |= k == "Access-Control-Allow-Origin" && v == "*";
    www |= k == "WWW-Authenticate";
  }
  EXPECT_TRUE(cors);
  EXPECT_TRUE(www);
}

TEST(ServerApiParse, ChatRequestFields) {
  Json body = Json::parse(R"({
    "messages": [{"role": "user", "content": "hi"}],
    "typical_p": 0.5, "logit_bias": {"12": -100, "13": false}, "ignore_eos": true, "n": 3,
    "stream": true, "stream_options": {"include_usage": true}, "logprobs": true,
    "top_logprobs": 4, "max_completion_tokens": 7, "seed": 5})");
  Result<ChatCompletionCall> c = parse_chat_completion(body);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  const GenerationParams& g = c->request.params.generation;
  EXPECT_FLOAT_EQ(g.sampling.typical_p, 0.5f);
  EXPECT_FLOAT_EQ(g.sampling.logit_bias.at(12), -100.0f);
  EXPECT_TRUE(std::isinf(g.sampling.logit_bias.at(13)) && g.sampling.logit_bias.at(13) < 0);
  EXPECT_TRUE(g.ignore_eos);
  EXPECT_EQ(c->request.n, 3);
  EXPECT_TRUE(c->stream);
  EXPECT_TRUE(c->include_usage);
  EXPECT_EQ(c->top_logprobs, 4);
  EXPECT_EQ(g.sampling.n_probs, 4);
  EXPECT_EQ(g.max_tokens, 7);
  EXPECT_EQ(g.sampling.seed, 5u);

  Json pairs = Json::parse(R"({"messages": [{"role": "user", "content": "hi"}],
                               "logit_bias": [[7, 2.5]], "logprobs": true})");
  Result<ChatCompletionCall> p = parse_chat_completion(pairs);
  ASSERT_TRUE(p.ok());
  EXPECT_FLOAT_EQ(p->request.params.generation.sampling.logit_bias.at(7), 2.5f);
  EXPECT_EQ(p->request.params.generation.sampling.n_probs, 1);  // the sampled token's logprob

  for (
      const char* bad : {
          R"({"messages": []})",
          R"({"messages": [{"role": "user", "content": "x"}], "n": 0})",
          R"({"messages": [{"role": "user", "content": "x"}], "n": 65})",
          R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})",
          R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 21})",
          R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"x": 1}})",
          R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"-1": 1}})",
          R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"1": true}})",
          R"({"messages": [{"role": "user", "content": "x"}], "typical_p": "a"})",
          R"({"messages": [{"role": "user", "content": "x"}], "stream": 1})",
          R"({"messages": [{"role": "user", "content": "x"}], "stream_options": []})",
          R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": -2})",
          R"({"messages": [{"role": "user", "content": "x"}], "model": 5})",
          R"({"messages": [{"role": "user", "content": "x"}], "n": 18446744073709551615})",
      }) {
    Result<ChatCompletionCall> r = parse_chat_completion(Json::parse(bad));
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(ServerApiParse, CompletionPromptForms) {
  auto parse = [](const char* text) { return parse_completion(Json::parse(text)); };
  Result<CompletionCall> s = parse(R"({"prompt": "hello"})");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->prompts.size(), 1u);
  EXPECT_FALSE(s->prompts[0].is_tokens);
  EXPECT_EQ(s->params.max_tokens, kDefaultCompletionMaxTokens);
  Result<CompletionCall> ids = parse(R"({"prompt": [1, 2, 3], "max_tokens": -1})");
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->prompts.size(), 1u);
  EXPECT_EQ(ids->prompts[0].tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(ids->params.max_tokens, -1);
  Result<CompletionCall> many = parse(R"({"prompt": ["a", [4, 5], "b"], "n": 2, "logprobs": 3})");
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(many->prompts.size(), 3u);
  EXPECT_TRUE(many->prompts[1].is_tokens);
  EXPECT_EQ(many->logprobs, 3);
  EXPECT_EQ(many->params.sampling.n_probs, 3);

  Result<CompletionCall> suffix = parse(R"({"prompt": "a", "suffix": "b"})");
  ASSERT_FALSE(suffix.ok());
  EXPECT_EQ(suffix.status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(parse(R"({"prompt": "a", "suffix": ""})").ok());
  EXPECT_EQ(parse(R"({"prompt": "a", "echo": true, "logprobs": 1})").status().code(),
            StatusCode::kUnimplemented);
  for (const char* bad :
       {R"({})", R"({"prompt": []})", R"({"prompt": [[]]})", R"({"prompt": [1, -2]})",
        R"({"prompt": [1, 2147483648]})", R"({"prompt": 5})", R"({"prompt": [{"a": 1}]})",
        R"({"prompt": "a", "messages": []})",
        R"({"prompt": "a", "n": 64, "logprobs": 1, "stream": true, "echo": 1})"}) {
    EXPECT_FALSE(parse(bad).ok()) << bad;
  }
  // prompts x n is bounded.
  Json big = {{"prompt", Json::array()}, {"n", 2}};
  for (int i = 0; i < 40; ++i) big["prompt"].push_back("x");
  EXPECT_FALSE(parse_completion(big).ok());
}

TEST(ServerApiParse, TokenizeDetokenizeBodies) {
  Result<TokenizeCall> t = parse_tokenize(Json::parse(R"({"content": "x"})"));
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->add_special);  // llama-server's defaults
  EXPECT_TRUE(t->parse_special);
  EXPECT_FALSE(parse_tokenize(Json::parse(R"({"content": 1})")).ok());
  EXPECT_FALSE(parse_detokenize(Json::parse(R"({"tokens": [1, "a"]})")).ok());
  EXPECT_FALSE(parse_detokenize(Json::parse(R"({"tokens": [1.5]})")).ok());
  EXPECT_TRUE(parse_detokenize(Json::parse(R"({"tokens": []})")).ok());
}

TEST(ServerApiParse, ResponseFraming) {
  EXPECT_EQ(format_chunk("hello"), "5\r\nhello\r\n");
  EXPECT_EQ(format_chunk(std::string(26, 'x')).substr(0, 4), "1a\r\n");
  const std::string head =
      format_response_head(404, "application/json", {{"X-A", "1"}}, 12, false, false, "req-9");
  EXPECT_EQ(head.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(head.find("Content-Length: 12\r\n"), std::string::npos);
  EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(head.find("X-Request-Id: req-9\r\n"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
  const std::string chunked =
      format_response_head(200, "text/event-stream", {}, -1, true, true, "");
  EXPECT_NE(chunked.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(chunked.find("Content-Length"), std::string::npos);
}

}  // namespace
}  // namespace ember::http
