// ember_chat_create (the C API's chat completion) on a tiny model: chunk and completion JSON,
// forced tool calls through request JSON, and errors reported through ember_last_error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ember/ember.h"
#include "testdata.h"

namespace {

struct Collected {
  std::vector<nlohmann::json> chunks;
};

extern "C" int collect_chunk(const char* json, size_t len, void* user) {
  auto* c = static_cast<Collected*>(user);
  c->chunks.push_back(nlohmann::json::parse(std::string(json, len)));
  return 1;
}

TEST(ChatCApi, CreateStreamsChunksAndReturnsTheCompletion) {
  EMBER_REQUIRE_TESTDATA(data);
  ember_engine_options opts;
  ember_engine_options_init(&opts);
  opts.n_ctx = 1024;
  opts.n_threads = 2;
  ember_engine* engine = nullptr;
  const std::string path = (data / "models" / "qwen2-q8_0.gguf").string();
  ASSERT_EQ(ember_engine_load(path.c_str(), &opts, &engine), EMBER_OK) << ember_last_error();

  const char* messages = R"([{"role": "user", "content": "Weather in Oslo?"}])";
  const char* request = R"({"seed": 4, "temperature": 1.0, "max_tokens": 120,
    "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 6}},
    "required": ["city"]}}}]})";
  Collected collected;
  ember_chat_completion* completion = nullptr;
  ASSERT_EQ(ember_chat_create(engine, messages, request, collect_chunk, &collected, &completion),
            EMBER_OK)
      << ember_last_error();
  const auto j = nlohmann::json::parse(ember_chat_completion_json(completion));
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
  const auto& call = j["choices"][0]["message"]["tool_calls"][0];
  EXPECT_EQ(call["function"]["name"], "get_weather");
  const auto args = nlohmann::json::parse(call["function"]["arguments"].get<std::string>());
  EXPECT_TRUE(args["city"].is_string());
  EXPECT_STREQ(ember_chat_completion_error(completion), "");
  ASSERT_FALSE(collected.chunks.empty());
  EXPECT_EQ(collected.chunks.front()["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(collected.chunks.back()["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(collected.chunks.back()["usage"], j["usage"]);
  ember_chat_completion_free(completion);

  completion = nullptr;
  EXPECT_EQ(
      ember_chat_create(engine, "[{\"role\": \"robot\"}]", nullptr, nullptr, nullptr, &completion),
      EMBER_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ember_last_error()).find("robot"), std::string::npos);
  EXPECT_EQ(completion, nullptr);
  EXPECT_EQ(ember_chat_create(engine, "[", nullptr, nullptr, nullptr, &completion),
            EMBER_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ember_last_error()).find("messages_json"), std::string::npos);
  ember_engine_free(engine);
}

}  // namespace
