// ChatSession: multi-turn conversations reuse the KV cache, so a turn evaluates only its new
// tokens. The expected reuse is computed independently here from the token sequences: what the
// cache holds after a turn (that turn's prompt + the tokens it generated, except the last one,
// which is sampled but never evaluated) against the next turn's prompt.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "ember/chat.h"
#include "testdata.h"

namespace ember {
namespace {

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

std::string session_test_name(const ::testing::TestParamInfo<const char*>& param_info) {
  const std::string n = param_info.param;
  return n.substr(0, n.find('-'));
}

class ChatSessionModels : public ::testing::TestWithParam<const char*> {};

struct SessionCase {
  const char* model;
  std::optional<bool> enable_thinking;
  // The template renders the previous turn's prompt unchanged as the start of the next one.
  // Qwen3 with thinking off does not: its generation prompt holds an empty <think></think>
  // block that the template drops from assistant messages in the history.
  bool reproduces_previous_prompt;
};

std::string session_case_name(const ::testing::TestParamInfo<SessionCase>& param_info) {
  const std::string n = param_info.param.model;
  return n.substr(0, n.find('-')) + (param_info.param.enable_thinking == false ? "_nothink" : "");
}

class ChatSessionReuse : public ::testing::TestWithParam<SessionCase> {};

TEST_P(ChatSessionReuse, FourTurnsEvaluateOnlyTheNewTokens) {
  EMBER_REQUIRE_TESTDATA(data);
  EngineOptions o;
  o.n_ctx = 2048;
  o.n_threads = 2;
  auto engine = Engine::load((testing::testdata_dir() / "models" / GetParam().model).string(), o);
  ASSERT_TRUE(engine.ok()) << engine.status().to_string();
  ChatParams params;
  params.generation.sampling.seed = 11;
  params.generation.max_tokens = 12;
  params.enable_thinking = GetParam().enable_thinking;
  ChatSession session(**engine, params);
  session.set_system("You are a helpful assistant.");

  const char* turns[] = {"Hello!", "Tell me about the sea.", "And the mountains?", "Thanks, bye."};
  std::vector<int32_t> cache;  // what the KV cache holds after the previous turn
  size_t previous_prompt = 0;
  for (int turn = 0; turn < 4; ++turn) {
    std::vector<ChatMessage> next = session.history();
    next.push_back(ChatMessage::user(turns[turn]));
    auto prompt = (*engine)->apply_chat_template(next, session.params());
    ASSERT_TRUE(prompt.ok()) << prompt.status().to_string();

    auto r = session.send(turns[turn]);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_NE(r->finish_reason, ChatFinishReason::kError) << r->error.to_string();
    const ChatUsage& u = r->usage;
    EXPECT_EQ(u.prompt_tokens, static_cast<int32_t>(prompt->tokens.size()));
    const size_t expected =
        std::min(common_prefix(cache, prompt->tokens), prompt->tokens.size() - 1);
    EXPECT_EQ(static_cast<size_t>(u.cached_prompt_tokens), expected) << "turn " << turn;
    // The previous prompt is reproduced by the template, so at least it is reused; only the
    // rest (the re-rendered reply where it differs from the generated tokens, and the new user
    // message) is evaluated.
    if (turn > 0 && GetParam().reproduces_previous_prompt) {
      EXPECT_GE(static_cast<size_t>(u.cached_prompt_tokens), previous_prompt) << "turn " << turn;
    }
    EXPECT_EQ(u.timings.prompt_tokens - u.timings.cached_prompt_tokens,
              u.prompt_tokens - u.cached_prompt_tokens);

    // The history grew by the user message and the reply.
    ASSERT_EQ(session.history().size(), static_cast<size_t>(1 + 2 * (turn + 1)));
    EXPECT_EQ(session.history().back(), r->message);

    cache = prompt->tokens;
    cache.insert(cache.end(), r->tokens.begin(), r->tokens.end());
    if (!r->tokens.empty()) cache.pop_back();
    previous_prompt = prompt->tokens.size();
  }

  session.reset();
  EXPECT_TRUE(session.history().empty());
  auto r = session.send("Fresh start.");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(session.history().size(), 2u);
}

TEST_P(ChatSessionModels, ToolResultsContinueTheConversation) {
  EMBER_REQUIRE_TESTDATA(data);
  EngineOptions o;
  o.n_ctx = 2048;
  o.n_threads = 2;
  auto engine = Engine::load((testing::testdata_dir() / "models" / GetParam()).string(), o);
  ASSERT_TRUE(engine.ok());
  ChatParams params;
  params.generation.sampling.seed = 3;
  params.generation.sampling.temperature = 1.0f;
  params.generation.max_tokens = 120;
  params.tools = Json::parse(R"([{"type": "function", "function": {"name": "roll",
      "parameters": {"type": "object", "properties": {"sides": {"type": "integer",
      "minimum": 2, "maximum": 20}}, "required": ["sides"]}}}])");
  params.tool_choice = "required";
  params.enable_thinking = false;
  ChatSession session(**engine, params);
  auto r = session.send("Roll a die.");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->finish_reason, ChatFinishReason::kToolCalls);
  ASSERT_EQ(session.history().back().tool_calls.size(), 1u);
  session.add_tool_result(r->message.tool_calls[0].id, "roll", "rolled a four");
  session.params().tool_choice = "none";
  session.params().generation.max_tokens = 8;
  auto answer = session.resume();
  ASSERT_TRUE(answer.ok()) << answer.status().to_string();
  EXPECT_TRUE(answer->message.tool_calls.empty());
  EXPECT_EQ(session.history().size(), 4u);
  EXPECT_EQ(session.history()[2].role, ChatRole::kTool);
  // The call and its result are in the prompt, natively or (templates without tool support)
  // written into the messages' text.
  auto prompt = (*engine)->apply_chat_template(session.history(), session.params());
  ASSERT_TRUE(prompt.ok()) << prompt.status().to_string();
  EXPECT_NE(prompt->text.find("roll"), std::string::npos) << prompt->text;
  EXPECT_NE(prompt->text.find("\"sides\""), std::string::npos) << prompt->text;
  EXPECT_NE(prompt->text.find("rolled a four"), std::string::npos) << prompt->text;
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ChatSessionReuse,
                         ::testing::Values(SessionCase{"qwen2-q8_0.gguf", std::nullopt, true},
                                           SessionCase{"qwen3-q4_k_m.gguf", std::nullopt, true},
                                           SessionCase{"qwen3-q4_k_m.gguf", false, false},
                                           SessionCase{"llama3-bpe-q4_k_m.gguf", std::nullopt,
                                                       true},
                                           SessionCase{"phi3-q4_k_m.gguf", std::nullopt, true},
                                           SessionCase{"gemma2-q8_0.gguf", std::nullopt, true}),
                         session_case_name);

INSTANTIATE_TEST_SUITE_P(TinyModels, ChatSessionModels,
                         ::testing::Values("qwen2-q8_0.gguf", "qwen3-q4_k_m.gguf",
                                           "llama3-bpe-q4_k_m.gguf", "phi3-q4_k_m.gguf",
                                           "gemma2-q8_0.gguf"),
                         session_test_name);

}  // namespace
}  // namespace ember
