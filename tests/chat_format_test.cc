// Chat format detection against the 43 reference templates, reasoning-open detection against
// their reference renders, and forced tool-call specs checked by parsing what they describe.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "chat/chat_format.h"
#include "chat_parse_harness.h"
#include "testdata.h"

namespace ember::chat {
namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Expected {
  ChatFormat format;
  bool thinks;  // the syntax has a reasoning block
};

// What each reference template is, read off the template by hand (see docs/chat-formats.md).
const std::map<std::string, Expected>& expected_formats() {
  static const std::map<std::string, Expected> m = {
      {"Apertus-8B-Instruct", {ChatFormat::kApertus, true}},
      {"Apriel-1.6-15b-Thinker-fixed", {ChatFormat::kApriel, true}},
      {"Bielik-11B-v3.0-Instruct", {ChatFormat::kHermes2Pro, true}},
      {"ByteDance-Seed-OSS", {ChatFormat::kSeedOss, true}},
      {"CohereForAI-c4ai-command-r-plus-tool_use", {ChatFormat::kContentOnly, false}},
      {"CohereForAI-c4ai-command-r7b-12-2024-tool_use", {ChatFormat::kCommandR7B, true}},
      {"GLM-4.6", {ChatFormat::kGlm45, true}},
      {"GigaChat3-10B-A1.8B", {ChatFormat::kGigaChatV3, false}},
      {"HuggingFaceTB-SmolLM3-3B", {ChatFormat::kChatML, true}},
      {"Kimi-K2-Instruct", {ChatFormat::kKimiK2, false}},
      {"LFM2-8B-A1B", {ChatFormat::kLfm2, false}},
      {"LFM2.5-Instruct", {ChatFormat::kLfm2, true}},
      {"MiMo-VL", {ChatFormat::kHermes2Pro, false}},
      {"Mistral-Small-3.2-24B-Instruct-2506", {ChatFormat::kMistralSmall, false}},
      {"NVIDIA-Nemotron-Nano-v2", {ChatFormat::kNemotronV2, true}},
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use", {ChatFormat::kHermes2Pro, false}},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use", {ChatFormat::kHermes2Pro, false}},
      {"Qwen-QwQ-32B", {ChatFormat::kHermes2Pro, true}},
      {"Qwen-Qwen2.5-7B-Instruct", {ChatFormat::kHermes2Pro, false}},
      {"Qwen-Qwen3-0.6B", {ChatFormat::kHermes2Pro, true}},
      {"Qwen3-Coder", {ChatFormat::kQwen3CoderXml, false}},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B", {ChatFormat::kDeepSeekR1, true}},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", {ChatFormat::kDeepSeekR1, true}},
      {"deepseek-ai-DeepSeek-V3.1", {ChatFormat::kDeepSeekV31, true}},
      {"fireworks-ai-llama-3-firefunction-v2", {ChatFormat::kFirefunctionV2, false}},
      {"google-gemma-2-2b-it", {ChatFormat::kGemma, false}},
      {"google-gemma-4-31B-it", {ChatFormat::kGemma4, true}},
      {"ibm-granite-granite-3.3-2B-Instruct", {ChatFormat::kGranite, true}},
      {"ibm-granite-granite-4.0", {ChatFormat::kHermes2Pro, false}},
      {"llama-cpp-deepseek-r1", {ChatFormat::kDeepSeekR1, true}},
      {"llama-cpp-rwkv-world", {ChatFormat::kContentOnly, true}},
      {"llama2", {ChatFormat::kContentOnly, false}},
      {"meetkai-functionary-medium-v3.1", {ChatFormat::kFunctionaryV31, false}},
      {"meetkai-functionary-medium-v3.2", {ChatFormat::kFunctionaryV32, false}},
      {"meta-llama-Llama-3.1-8B-Instruct", {ChatFormat::kLlama3x, false}},
      {"meta-llama-Llama-3.2-3B-Instruct", {ChatFormat::kLlama3x, false}},
      {"meta-llama-Llama-3.3-70B-Instruct", {ChatFormat::kLlama3x, false}},
      {"microsoft-Phi-3.5-mini-instruct", {ChatFormat::kPhi3, false}},
      {"mistralai-Mistral-Nemo-Instruct-2407", {ChatFormat::kMistralNemo, false}},
      {"moonshotai-Kimi-K2", {ChatFormat::kKimiK2, false}},
      {"openai-gpt-oss-120b", {ChatFormat::kGptOss, true}},
      {"stepfun-ai-Step-3.5-Flash", {ChatFormat::kQwen3CoderXml, true}},
      {"unsloth-Apriel-1.5", {ChatFormat::kApriel, true}},
  };
  return m;
}

TEST(ChatFormat, DetectsEveryReferenceTemplate) {
  EMBER_REQUIRE_TESTDATA(dir);
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "templates")) {
    if (entry.path().extension() != ".jinja") continue;
    const std::string name = entry.path().stem().string();
    seen.insert(name);
    auto it = expected_formats().find(name);
    ASSERT_NE(it, expected_formats().end()) << "no expected format for template " << name;
    const std::string src = read_text(entry.path());
    EXPECT_EQ(chat_format_name(detect_chat_format(src)), chat_format_name(it->second.format))
        << name;
    ChatSyntax s = detect_chat_syntax(src);
    EXPECT_EQ(s.format, it->second.format) << name;
    EXPECT_EQ(s.reasoning.has_value(), it->second.thinks) << name;
  }
  EXPECT_EQ(seen.size(), expected_formats().size()) << "templates missing from the folder";
}

// Templates whose generation prompt leaves the reasoning block open (the reply starts inside
// it), read off the reference renders by hand: "<think>\n" at the end (Nemotron, DeepSeek R1
// Distill Llama / llama.cpp's R1 template, Step 3.5), and Apriel, which always reasons first.
// Cases listed in `except` end elsewhere (no generation prompt after tool outputs).
TEST(ChatFormat, PromptOpensReasoningOnReferenceRenders) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::map<std::string, std::set<std::string>> open = {
      {"NVIDIA-Nemotron-Nano-v2", {}},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B",
       {"tool_roundtrip", "tool_roundtrip_string_args"}},
      {"llama-cpp-deepseek-r1", {}},
      {"stepfun-ai-Step-3.5-Flash", {}},
      {"Apriel-1.6-15b-Thinker-fixed", {}},
      {"unsloth-Apriel-1.5", {}},
  };
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "chat-renders")) {
    const std::string name = entry.path().stem().string();
    nlohmann::json doc = nlohmann::json::parse(read_text(entry.path()));
    const ChatSyntax syntax =
        detect_chat_syntax(read_text(dir / "templates" / doc["template"].get<std::string>()));
    for (const auto& [case_name, c] : doc["cases"].items()) {
      if (!c.contains("expected") || !c["input"].value("add_generation_prompt", false)) continue;
      auto it = open.find(name);
      const bool want = it != open.end() && !it->second.count(case_name);
      EXPECT_EQ(prompt_opens_reasoning(syntax, c["expected"].get<std::string>()), want)
          << name << " / " << case_name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 200u);
}

TEST(ChatFormat, EmptyTemplateIsChatML) {
  EXPECT_EQ(detect_chat_format(""), ChatFormat::kChatML);
  EXPECT_EQ(detect_chat_format("{{ messages }}"), ChatFormat::kContentOnly);
}

TEST(ChatFormat, SyntaxForRequestSwitchesToGeneric) {
  ChatSyntax gemma = chat_syntax_for(ChatFormat::kGemma);
  EXPECT_FALSE(gemma.native_tool_calls);
  EXPECT_EQ(syntax_for_request(gemma, false).format, ChatFormat::kGemma);
  ChatSyntax g = syntax_for_request(gemma, true);
  EXPECT_EQ(g.format, ChatFormat::kGeneric);
  EXPECT_EQ(g.stop_strings, gemma.stop_strings);
  ChatSyntax hermes = chat_syntax_for(ChatFormat::kHermes2Pro);
  EXPECT_EQ(syntax_for_request(hermes, true).format, ChatFormat::kHermes2Pro);
}

TEST(ChatFormat, StopStringsAndMarkers) {
  EXPECT_EQ(chat_syntax_for(ChatFormat::kLlama3x).stop_strings,
            (std::vector<std::string>{"<|eot_id|>", "<|eom_id|>"}));
  EXPECT_EQ(chat_syntax_for(ChatFormat::kGptOss).stop_strings,
            (std::vector<std::string>{"<|return|>", "<|call|>"}));
  ChatSyntax q = detect_chat_syntax("<|im_start|>{{ '<tool_call>' }}<think>");
  EXPECT_EQ(q.format, ChatFormat::kHermes2Pro);
  EXPECT_EQ(q.markers.front(), "<think>");
}

TEST(ChatFormat, PromptOpensReasoning) {
  ChatSyntax s = detect_chat_syntax("<|im_start|><tool_call></think>");
  EXPECT_TRUE(prompt_opens_reasoning(s, "<|im_start|>assistant\n<think>\n"));
  EXPECT_FALSE(prompt_opens_reasoning(s, "<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning(s, "<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning(chat_syntax_for(ChatFormat::kLlama3x), "<think>"));
  EXPECT_TRUE(prompt_opens_reasoning(chat_syntax_for(ChatFormat::kApriel), "anything"));
}

TEST(ChatFormat, GenericReplySchema) {
  nlohmann::ordered_json tools = nlohmann::ordered_json::parse(
      R"([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])");
  Result<Json> s = generic_reply_schema(tools, false, false);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)["anyOf"][0]["properties"]["tool_call"]["properties"]["name"]["const"], "f");
  EXPECT_EQ((*s)["anyOf"][1]["properties"]["response"]["type"], "string");
  s = generic_reply_schema(tools, true, true);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)["properties"]["tool_calls"]["minItems"], 1);
  EXPECT_FALSE(generic_reply_schema(Json::object(), false, false).ok());
}

// ---- forced tool calls -------------------------------------------------------------------------

Json test_tools() {
  return Json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"},
        "unit": {"type": "string", "enum": ["C", "F"]},
        "opts": {"type": "object", "properties": {
          "note": {"type": "string"}, "levels": {"type": "array", "items": {"type": "number"}}},
          "required": ["note", "levels"]}},
        "required": ["city", "days", "opts"]}}},
    {"type": "function", "function": {"name": "get_time",
      "parameters": {"type": "object", "properties": {"tz": {"type": "string"}},
        "required": ["tz"]}}}])");
}

// Quotes, a backslash, non-ASCII and an emoji: they must survive every format's escaping.
constexpr const char* kExampleText = "Oslo \"Ø\" \\ 😀";

// An example value for a schema (required properties only; first alternative).
Json example_for(const Json& s) {
  if (s.contains("const")) return s["const"];
  if (s.contains("anyOf")) return example_for(s["anyOf"][0]);
  if (s.contains("enum")) return s["enum"][0];
  const std::string type = s.value("type", "");
  if (type == "object") {
    Json o = Json::object();
    if (s.contains("properties") && s.contains("required")) {
      for (const auto& [k, v] : s["properties"].items()) {
        for (const auto& r : s["required"]) {
          if (r == k) o[k] = example_for(v);
        }
      }
    }
    return o;
  }
  if (type == "array") return Json::array({example_for(s["items"])});
  if (type == "string") {
    const std::string pattern = s.value("pattern", "");
    if (pattern == "^[a-zA-Z0-9]{9}$") return "abcDEF123";
    if (pattern == "^[0-9]{1,10}$") return "0";
    return kExampleText;
  }
  if (type == "integer") return 3;
  if (type == "number") return 2.5;
  if (type == "boolean") return true;
  return nullptr;
}

std::string render_call(const ToolCallShape& shape) {
  std::string out;
  for (const auto& p : shape.parts) {
    switch (p.kind) {
      case ToolCallPart::Kind::kLiteral:
        out += p.literal;
        break;
      case ToolCallPart::Kind::kJson:
        out += example_for(p.schema).dump();
        break;
      case ToolCallPart::Kind::kText:
        out += kExampleText;
        break;
    }
  }
  return out;
}

class ForcedCallTest : public ::testing::TestWithParam<ChatFormat> {};

TEST_P(ForcedCallTest, DescribedOutputParsesToTheCalls) {
  const ChatFormat f = GetParam();
  ChatSyntax syntax = chat_syntax_for(f);
  for (bool parallel : {false, true}) {
    ForcedToolCallOptions o;
    o.parallel = parallel;
    Result<ForcedToolCallSpec> spec = forced_tool_call_spec(syntax, test_tools(), o);
    ASSERT_TRUE(spec.ok()) << spec.status().to_string();
    ASSERT_FALSE(spec->calls.empty());
    std::string text;
    if (spec->reasoning_open) text += "Reasoning first." + spec->reasoning->end;
    text += spec->prefix + render_call(spec->calls[0]);
    const bool two = spec->repeat && spec->calls.size() > 1;
    if (two) text += spec->separator + render_call(spec->calls[1]);
    text += spec->suffix;

    OutputParserOptions opt;
    opt.syntax = syntax;
    opt.tools = test_tools();
    ParsedMessage m = testing::parse_all_ways(opt, text);
    SCOPED_TRACE(std::string(chat_format_name(f)) + ": " + text);
    EXPECT_TRUE(m.warnings.empty());
    EXPECT_EQ(m.content, "");
    ASSERT_EQ(m.tool_calls.size(), two ? 2u : 1u);
    const Json tools = test_tools();
    for (size_t i = 0; i < m.tool_calls.size(); ++i) {
      const Json& fn = tools[i]["function"];
      EXPECT_EQ(m.tool_calls[i].name, fn["name"]);
      EXPECT_EQ(Json::parse(m.tool_calls[i].arguments), example_for(fn["parameters"]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllToolFormats, ForcedCallTest,
    ::testing::Values(ChatFormat::kGeneric, ChatFormat::kHermes2Pro, ChatFormat::kQwen3CoderXml,
                      ChatFormat::kSeedOss, ChatFormat::kMiniMaxM2, ChatFormat::kGlm45,
                      ChatFormat::kLlama3x, ChatFormat::kFunctionaryV31,
                      ChatFormat::kFunctionaryV32, ChatFormat::kFirefunctionV2,
                      ChatFormat::kMistralNemo, ChatFormat::kMistralSmall, ChatFormat::kDeepSeekR1,
                      ChatFormat::kDeepSeekV31, ChatFormat::kGptOss, ChatFormat::kCommandR7B,
                      ChatFormat::kGranite, ChatFormat::kKimiK2, ChatFormat::kNemotronV2,
                      ChatFormat::kApertus, ChatFormat::kLfm2, ChatFormat::kApriel,
                      ChatFormat::kGigaChatV3),
    [](const ::testing::TestParamInfo<ChatFormat>& param) {
      std::string n(chat_format_name(param.param));
      std::string out;
      for (char c : n) {
        if (std::isalnum(static_cast<unsigned char>(c))) out += c;
      }
      return out;
    });

TEST(ChatFormat, ForcedCallOptions) {
  ChatSyntax hermes = chat_syntax_for(ChatFormat::kHermes2Pro);
  ForcedToolCallOptions o;
  o.only_tool = "get_time";
  Result<ForcedToolCallSpec> spec = forced_tool_call_spec(hermes, test_tools(), o);
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(spec->calls.size(), 1u);
  EXPECT_EQ(spec->calls[0].tool_name, "get_time");
  ASSERT_EQ(spec->calls[0].parts.size(), 3u);
  EXPECT_EQ(spec->calls[0].parts[0].literal, "<tool_call>\n");
  EXPECT_EQ(spec->calls[0].parts[1].schema["properties"]["name"]["const"], "get_time");
  EXPECT_EQ(spec->calls[0].parts[2].literal, "\n</tool_call>");
  o.only_tool = "nope";
  EXPECT_FALSE(forced_tool_call_spec(hermes, test_tools(), o).ok());
  EXPECT_FALSE(forced_tool_call_spec(hermes, Json::array(), {}).ok());
  EXPECT_FALSE(forced_tool_call_spec(hermes, Json::parse(R"([{"type": "function"}])"), {}).ok());
  EXPECT_EQ(
      forced_tool_call_spec(chat_syntax_for(ChatFormat::kGemma4), test_tools(), {}).status().code(),
      StatusCode::kUnimplemented);
  // Reasoning forced open: the spec says the output starts inside the reasoning block.
  ForcedToolCallOptions open;
  open.thinking_forced_open = true;
  spec = forced_tool_call_spec(chat_syntax_for(ChatFormat::kDeepSeekR1), test_tools(), open);
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(spec->reasoning_open);
  EXPECT_EQ(spec->reasoning->end, "</think>");
}

}  // namespace
}  // namespace ember::chat
