// Output parsers: every reply is parsed whole, byte by byte and in random chunks (all must
// agree, and the deltas must rebuild the message) — see chat_parse_harness.h.
#include <gtest/gtest.h>

#include <string>

#include "chat/output_parser.h"
#include "chat_parse_harness.h"

namespace ember::chat {
namespace {

using json = nlohmann::json;
using testing::args_of;
using testing::options_for;
using testing::parse_all_ways;
using testing::with_think;

// ---- content, reasoning, whitespace ------------------------------------------------------------

TEST(ChatOutputParser, PlainContentIsTrimmed) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kContentOnly), "\n  Hello, world!\n\n");
  EXPECT_EQ(m.content, "Hello, world!");
  EXPECT_TRUE(m.reasoning_content.empty());
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ChatOutputParser, InnerWhitespaceIsKept) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kChatML), "a\n\n  b \t c  ");
  EXPECT_EQ(m.content, "a\n\n  b \t c");
}

TEST(ChatOutputParser, EmptyOutput) {
  ParsedMessage m = parse_all_ways(with_think(options_for(ChatFormat::kHermes2Pro)), "");
  EXPECT_EQ(m, ParsedMessage{});
}

TEST(ChatOutputParser, ThinkBlockIsReasoning) {
  auto o = with_think(options_for(ChatFormat::kChatML));
  ParsedMessage m =
      parse_all_ways(o, "<think>\nFirst, 2+2.\nIt is 4.\n</think>\n\nThe answer is 4.");
  EXPECT_EQ(m.reasoning_content, "First, 2+2.\nIt is 4.");
  EXPECT_EQ(m.content, "The answer is 4.");
}

TEST(ChatOutputParser, ThinkingForcedOpen) {
  auto o = with_think(options_for(ChatFormat::kHermes2Pro));
  o.thinking_forced_open = true;
  ParsedMessage m = parse_all_ways(o, "Let me think.</think>Answer.");
  EXPECT_EQ(m.reasoning_content, "Let me think.");
  EXPECT_EQ(m.content, "Answer.");
  // Cut off while thinking: all of it is reasoning.
  m = parse_all_ways(o, "Still thinking about <thi");
  EXPECT_EQ(m.reasoning_content, "Still thinking about <thi");
  EXPECT_EQ(m.content, "");
}

TEST(ChatOutputParser, ReasoningNotExtracted) {
  auto o = with_think(options_for(ChatFormat::kHermes2Pro));
  o.extract_reasoning = false;
  ParsedMessage m = parse_all_ways(o, "<think>hmm</think>Hi");
  EXPECT_EQ(m.content, "<think>hmm</think>Hi");
  EXPECT_EQ(m.reasoning_content, "");
}

TEST(ChatOutputParser, ThinkMarkerOnlyAtStart) {
  ParsedMessage m = parse_all_ways(with_think(options_for(ChatFormat::kChatML)),
                                   "Use <think> tags like <think>this</think>.");
  EXPECT_EQ(m.content, "Use <think> tags like <think>this</think>.");
  EXPECT_EQ(m.reasoning_content, "");
}

TEST(ChatOutputParser, PartialThinkAtStartIsContent) {
  ParsedMessage m = parse_all_ways(with_think(options_for(ChatFormat::kChatML)), "<thin");
  EXPECT_EQ(m.content, "<thin");
  m = parse_all_ways(with_think(options_for(ChatFormat::kChatML)), "<thinking is fun");
  EXPECT_EQ(m.content, "<thinking is fun");
}

TEST(ChatOutputParser, StreamingHoldsBackOnlyMarkerPrefixes) {
  Result<OutputParser> p = OutputParser::create(options_for(ChatFormat::kHermes2Pro));
  ASSERT_TRUE(p.ok());
  std::vector<ChatDelta> d = p->feed("Hello <tool");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].content, "Hello");  // " <tool" may start a call (or be trailing space)
  d = p->feed("s are great");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].content, " <tools are great");
  OutputParser::Final f = p->finish();
  EXPECT_TRUE(f.deltas.empty());
  EXPECT_EQ(f.message.content, "Hello <tools are great");
  EXPECT_TRUE(f.message.warnings.empty());
}

TEST(ChatOutputParser, FeedAfterFinishIsIgnored) {
  Result<OutputParser> p = OutputParser::create(options_for(ChatFormat::kChatML));
  ASSERT_TRUE(p.ok());
  p->feed("a");
  OutputParser::Final f = p->finish();
  EXPECT_EQ(f.message.content, "a");
  EXPECT_TRUE(p->feed("b").empty());
  EXPECT_EQ(p->finish().message.content, "");
}

TEST(ChatOutputParser, RejectsNonArrayTools) {
  OutputParserOptions o = options_for(ChatFormat::kHermes2Pro);
  o.tools = json::object();
  EXPECT_FALSE(OutputParser::create(o).ok());
}

// ---- Hermes 2 Pro / Qwen ------------------------------------------------------------------------

TEST(ChatOutputParser, HermesSingleCall) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                                   "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                   "{\"city\": \"Oslo\"}}\n</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(m.content, "");
  EXPECT_TRUE(m.warnings.empty());
  EXPECT_EQ(m.tool_calls[0].id.substr(0, 5), "call_");
  EXPECT_EQ(m.tool_calls[0].id.size(), 29u);
}

TEST(ChatOutputParser, HermesContentAndSeveralCalls) {
  const std::string text =
      "I'll check both cities.\n"
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Oslo\"}}\n</tool_call>\n"
      "<tool_call>\n{\"arguments\": {\"city\": \"Paris\", \"days\": 3}, \"name\": \"get_weather\"}"
      "\n</tool_call>";
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kHermes2Pro), text);
  EXPECT_EQ(m.content, "I'll check both cities.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(args_of(m.tool_calls[0]), json({{"city", "Oslo"}}));
  EXPECT_EQ(m.tool_calls[1].name, "get_weather");
  EXPECT_EQ(args_of(m.tool_calls[1]), json({{"city", "Paris"}, {"days", 3}}));
  EXPECT_NE(m.tool_calls[0].id, m.tool_calls[1].id);
}

TEST(ChatOutputParser, HermesNestedUnicodeEscapes) {
  const std::string args =
      R"({"query": {"text": "say \"hi\" \\ ok", "tags": ["a", {"b": [1, 2.5e3, -0.1, true, null]}]},)"
      R"( "emoji": "😀 naïve 日本", "esc": "\u00e9\n\t"})";
  const std::string text =
      "<tool_call>{\"name\": \"search\", \"arguments\": " + args + "}</tool_call>";
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kHermes2Pro), text);
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, args);
  EXPECT_EQ(args_of(m.tool_calls[0])["emoji"], "😀 naïve 日本");
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ChatOutputParser, HermesReasoningContentAndCall) {
  auto o = with_think(options_for(ChatFormat::kHermes2Pro));
  ParsedMessage m =
      parse_all_ways(o,
                     "<think>\nThe user wants the time.\n</think>\n\nChecking now.\n<tool_call>\n"
                     "{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>");
  EXPECT_EQ(m.reasoning_content, "The user wants the time.");
  EXPECT_EQ(m.content, "Checking now.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{}");
}

TEST(ChatOutputParser, HermesCallInsideUnclosedReasoning) {
  auto o = with_think(options_for(ChatFormat::kHermes2Pro));
  o.thinking_forced_open = true;
  ParsedMessage m = parse_all_ways(
      o, "I need the weather <tool_call>{\"name\": \"w\", \"arguments\": {\"c\": 1}}</tool_call>");
  EXPECT_EQ(m.reasoning_content, "I need the weather");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "w");
}

TEST(ChatOutputParser, HermesMalformedCallIsContent) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                                   "Sure. <tool_call>get the weather</tool_call> done");
  EXPECT_EQ(m.content, "Sure. <tool_call>get the weather</tool_call> done");
  EXPECT_TRUE(m.tool_calls.empty());
  ASSERT_EQ(m.warnings.size(), 1u);
  m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                     "<tool_call>{\"arguments\": {\"a\": 1}}</tool_call>");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.content, "<tool_call>{\"arguments\": {\"a\": 1}}</tool_call>");
  EXPECT_EQ(m.warnings.size(), 1u);
}

TEST(ChatOutputParser, HermesBrokenArgumentsAreClosed) {
  // The call started streaming, then the JSON breaks: the call is closed (valid JSON), the rest
  // is content, and a warning says so.
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                     "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": [1, 2} oops</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\": [1, 2]}");
  EXPECT_FALSE(m.warnings.empty());
  EXPECT_EQ(m.content, "} oops</tool_call>");
}

TEST(ChatOutputParser, HermesTruncatedCall) {
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                     "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"abc\\\"d");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"s\": \"abc\\\"d\"}");
  EXPECT_EQ(m.warnings.size(), 1u);
  // Cut inside a number, after a comma, inside a key, inside an escape.
  struct Case {
    const char* args;
    const char* healed;
  } cases[] = {{"{\"n\": 12", "{\"n\": null}"},
               {"{\"n\": 12,", "{\"n\": 12}"},
               {"{\"n\": 1, \"k", "{\"n\": 1, \"k\": null}"},
               {"{\"s\": \"x\\u00", "{\"s\": \"x\"}"},
               {"{\"a\": [tr", "{\"a\": []}"},
               {"{\"a\": {\"b\":", "{\"a\": {\"b\":null}}"},
               {"{\"s\": \"a\\ud83d", "{\"s\": \"a\"}"},  // half a surrogate pair
               {"{\"s\": \"a\\ud83d\\ude00", "{\"s\": \"a\\ud83d\\ude00\"}"},
               {"{\"s\": \"a\\ud83dx\"}", "{\"s\": \"a\"}"}};  // unpaired: broken
  for (const auto& c : cases) {
    m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                       std::string("<tool_call>{\"name\": \"f\", \"arguments\": ") + c.args);
    ASSERT_EQ(m.tool_calls.size(), 1u) << c.args;
    EXPECT_EQ(m.tool_calls[0].arguments, c.healed) << c.args;
  }
}

TEST(ChatOutputParser, HermesMissingCloserAtEndIsFine) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                                   "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_TRUE(m.warnings.empty());
  EXPECT_EQ(m.content, "");
}

TEST(ChatOutputParser, HermesStringifiedArguments) {
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                     "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\": 1}");
}

TEST(ChatOutputParser, HermesRawNewlineInStringIsEscaped) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kHermes2Pro),
      "<tool_call>{\"name\": \"write\", \"arguments\": {\"code\": \"a\nb\"}}</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(args_of(m.tool_calls[0])["code"], "a\nb");
}

TEST(ChatOutputParser, HermesFunctionTagAndBareJson) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                                   "<function=get_time>{\"tz\": \"UTC\"}</function>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_time");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"tz\": \"UTC\"}");
  // A bare call object at the very start (models that forget the tags).
  m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                     "{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  // ... but a JSON answer is content.
  m = parse_all_ways(options_for(ChatFormat::kHermes2Pro), "{\"name\": \"Bob\", \"age\": 3}");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.content, "{\"name\": \"Bob\", \"age\": 3}");
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ChatOutputParser, HermesLooseTagsStayText) {
  // "<function=x>" not followed by a body is prose, not a call.
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kHermes2Pro), "Write <function=name> then the JSON.");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.content, "Write <function=name> then the JSON.");
  // Arguments must be an object.
  m = parse_all_ways(options_for(ChatFormat::kHermes2Pro),
                     "<tool_call>{\"name\": \"f\", \"arguments\": [1, 2]}</tool_call>");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.warnings.size(), 1u);
}

TEST(ChatOutputParser, HermesSeveralObjectsInOneBlock) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kHermes2Pro),
      "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n{\"name\": \"b\", \"arguments\": "
      "{\"x\": 1}}\n</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[1].name, "b");
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ChatOutputParser, BrokenSecondCallOfABlockIsText) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kMiniMaxM2),
      "<minimax:tool_call>\n<invoke name=\"a\">\n<parameter name=\"x\">1</parameter>\n</invoke>\n"
      "<invoke name=\"b\"> oops</minimax:tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.content, "<invoke name=\"b\"> oops</minimax:tool_call>");
  EXPECT_EQ(m.warnings.size(), 1u);
  m = parse_all_ways(options_for(ChatFormat::kLfm2),
                     "<|tool_call_start|>[a(x=1), b(y=z)]<|tool_call_end|>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.content, "b(y=z)]<|tool_call_end|>");
  EXPECT_EQ(m.warnings.size(), 1u);
}

TEST(ChatOutputParser, ToolsDisabledKeepsMarkersAsText) {
  auto o = with_think(options_for(ChatFormat::kHermes2Pro));
  o.parse_tool_calls = false;
  const std::string call = "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>";
  ParsedMessage m = parse_all_ways(o, "<think>x</think>" + call);
  EXPECT_EQ(m.reasoning_content, "x");
  EXPECT_EQ(m.content, call);
  EXPECT_TRUE(m.tool_calls.empty());
}

TEST(ChatOutputParser, DeterministicIds) {
  auto o = options_for(ChatFormat::kHermes2Pro);
  o.id_seed = 42;
  const std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>";
  ParsedMessage a = parse_all_ways(o, text);
  ParsedMessage b = parse_all_ways(o, text);
  EXPECT_EQ(a.tool_calls[0].id, b.tool_calls[0].id);
  o.id_seed = 43;
  ParsedMessage c = parse_all_ways(o, text);
  EXPECT_NE(a.tool_calls[0].id, c.tool_calls[0].id);
}

// ---- Qwen3-Coder and other XML-style formats ------------------------------------------------

json weather_tools() {
  return json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {
      "city": {"type": "string"}, "days": {"type": "integer"}, "zip": {"type": "string"},
      "opts": {"type": "object"}}, "required": ["city"]}}}])");
}

TEST(ChatOutputParser, Qwen3CoderXmlCall) {
  auto o = options_for(ChatFormat::kQwen3CoderXml);
  o.tools = weather_tools();
  const std::string text =
      "Let me look.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nNew \"York\"\n"
      "</parameter>\n<parameter=days>\n3\n</parameter>\n<parameter=zip>\n10001\n</parameter>\n"
      "<parameter=opts>\n{\"unit\": \"C\"}\n</parameter>\n</function>\n</tool_call>";
  ParsedMessage m = parse_all_ways(o, text);
  EXPECT_EQ(m.content, "Let me look.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(
      m.tool_calls[0].arguments,
      "{\"city\": \"New \\\"York\\\"\", \"days\": 3, \"zip\": \"10001\", \"opts\": {\"unit\": "
      "\"C\"}}");
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ChatOutputParser, Qwen3CoderXmlWithoutSchemasAndMultiline) {
  auto o = options_for(ChatFormat::kQwen3CoderXml);
  const std::string text =
      "<tool_call>\n<function=write_file>\n<parameter=path>\n/tmp/a.py\n</parameter>\n"
      "<parameter=content>\ndef f():\n    return 1\n\n</parameter>\n<parameter=mode>\n420\n"
      "</parameter>\n</function>\n</tool_call>\n<tool_call>\n<function=run>\n</function>\n"
      "</tool_call>";
  ParsedMessage m = parse_all_ways(o, text);
  ASSERT_EQ(m.tool_calls.size(), 2u);
  json a = args_of(m.tool_calls[0]);
  EXPECT_EQ(a["path"], "/tmp/a.py");
  EXPECT_EQ(a["content"], "def f():\n    return 1\n");
  EXPECT_EQ(a["mode"], 420);  // no schema: read as JSON when it is JSON
  EXPECT_EQ(m.tool_calls[1].name, "run");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
}

TEST(ChatOutputParser, Qwen3CoderXmlMissingParameterCloser) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kQwen3CoderXml),
      "<tool_call>\n<function=f>\n<parameter=a>\nx\n<parameter=b>\ny\n</function>\n</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(args_of(m.tool_calls[0]), json({{"a", "x"}, {"b", "y"}}));
}

TEST(ChatOutputParser, Qwen3CoderXmlTruncated) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kQwen3CoderXml),
                                   "<tool_call>\n<function=f>\n<parameter=a>\nhello wor");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\": \"hello wor\"}");
  EXPECT_EQ(m.warnings.size(), 1u);
}

TEST(ChatOutputParser, HermesWithQwenCoderBody) {
  ParsedMessage m = parse_all_ways(
      with_think(options_for(ChatFormat::kHermes2Pro)),
      "<think>ok</think><tool_call>\n<function=f>\n<parameter=q>\nhi\n</parameter>\n</function>\n"
      "</tool_call>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"q\": \"hi\"}");
}

TEST(ChatOutputParser, SeedOss) {
  auto o = options_for(ChatFormat::kSeedOss);
  ParsedMessage m = parse_all_ways(
      o,
      "<seed:think>plan</seed:think>Calling.<seed:tool_call>\n<function=get_weather>\n"
      "<parameter=city>Oslo</parameter>\n<parameter=days>2</parameter>\n</function>\n"
      "</seed:tool_call>");
  EXPECT_EQ(m.reasoning_content, "plan");
  EXPECT_EQ(m.content, "Calling.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(args_of(m.tool_calls[0]), json({{"city", "Oslo"}, {"days", 2}}));
}

TEST(ChatOutputParser, MiniMaxM2) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kMiniMaxM2),
      "<think>hm</think>\n<minimax:tool_call>\n<invoke name=\"a\">\n<parameter name=\"x\">1"
      "</parameter>\n</invoke>\n<invoke name=\"b\">\n<parameter name=\"y\">text here</parameter>\n"
      "</invoke>\n</minimax:tool_call>");
  EXPECT_EQ(m.reasoning_content, "hm");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"x\": 1}");
  EXPECT_EQ(m.tool_calls[1].arguments, "{\"y\": \"text here\"}");
}

TEST(ChatOutputParser, Glm45) {
  auto o = options_for(ChatFormat::kGlm45);
  o.tools = weather_tools();
  ParsedMessage m = parse_all_ways(
      o,
      "<think>need weather</think>\nLooking it "
      "up.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
      "<arg_value>Beijing</arg_value>\n<arg_key>days</arg_key>\n<arg_value>5</arg_value>\n"
      "</tool_call><tool_call>get_time\n</tool_call>");
  EXPECT_EQ(m.reasoning_content, "need weather");
  EXPECT_EQ(m.content, "Looking it up.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Beijing\", \"days\": 5}");
  EXPECT_EQ(m.tool_calls[1].name, "get_time");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
}

// ---- Llama 3.x and Functionary ------------------------------------------------------------------

TEST(ChatOutputParser, Llama3JsonCall) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kLlama3x),
      "{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(m.content, "");
  // Two calls separated by ';', then text.
  m = parse_all_ways(options_for(ChatFormat::kLlama3x),
                     "{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": "
                     "{\"x\": [1]}} and then");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[1].arguments, "{\"x\": [1]}");
  EXPECT_EQ(m.content, "and then");
}

TEST(ChatOutputParser, Llama3JsonContentIsNotACall) {
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kLlama3x), "{\"name\": \"Ada\", \"born\": 1815}");
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.content, "{\"name\": \"Ada\", \"born\": 1815}");
  EXPECT_TRUE(m.warnings.empty());
  m = parse_all_ways(options_for(ChatFormat::kLlama3x),
                     "Sure: {\"name\": \"a\", \"parameters\": {}}");
  EXPECT_TRUE(m.tool_calls.empty());  // only at the start
}

TEST(ChatOutputParser, Llama3PythonTag) {
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kLlama3x),
                     "<|python_tag|>brave_search.call(query=\"weather in \\\"Oslo\\\"\", n=3)");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "brave_search");
  EXPECT_EQ(args_of(m.tool_calls[0]), json({{"query", "weather in \"Oslo\""}, {"n", 3}}));
  m = parse_all_ways(options_for(ChatFormat::kLlama3x),
                     "<|python_tag|>import math\nprint(math.pi)\n");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "python");
  EXPECT_EQ(args_of(m.tool_calls[0]), json({{"code", "import math\nprint(math.pi)\n"}}));
  m = parse_all_ways(options_for(ChatFormat::kLlama3x),
                     "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": 1}}");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "f");
}

TEST(ChatOutputParser, FunctionaryV31) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kFunctionaryV31),
      "Okay<function=get_weather>{\"city\": \"Oslo\"}</function><function=get_time>{}</function>");
  EXPECT_EQ(m.content, "Okay");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
  m = parse_all_ways(options_for(ChatFormat::kFunctionaryV31), "<|python_tag|>print(1)");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(args_of(m.tool_calls[0]), json({{"code", "print(1)"}}));
}

TEST(ChatOutputParser, FunctionaryV32) {
  auto o = options_for(ChatFormat::kFunctionaryV32);
  ParsedMessage m = parse_all_ways(o,
                                   "all\nLet me check.>>>get_weather\n{\"city\": \"Oslo\"}"
                                   ">>>get_time\n{}");
  EXPECT_EQ(m.content, "Let me check.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[1].arguments, "{}");
  m = parse_all_ways(o, "get_weather\n{\"city\": \"Oslo\"}");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  m = parse_all_ways(o, "python\nprint('hi')>>>all\ndone");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(args_of(m.tool_calls[0]), json({{"code", "print('hi')"}}));
  EXPECT_EQ(m.content, "done");
  m = parse_all_ways(o, "all\nJust text, no calls. a>>>b is not a call");
  EXPECT_EQ(m.content, "Just text, no calls. a>>>b is not a call");
}

TEST(ChatOutputParser, FirefunctionV2) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kFirefunctionV2),
      " functools[{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": "
      "{}}]");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"x\": 1}");
  EXPECT_EQ(m.content, "");
}

// ---- Mistral ------------------------------------------------------------------------------------

TEST(ChatOutputParser, MistralNemoKeepsModelIds) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kMistralNemo),
      "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}, \"id\": "
      "\"abc123XYZ\"}, {\"name\": \"get_time\", \"arguments\": {}}]");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].id, "abc123XYZ");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(m.tool_calls[1].id.size(), 9u);  // generated, Mistral style
}

TEST(ChatOutputParser, MistralSmallSyntax) {
  auto o = options_for(ChatFormat::kMistralSmall);
  ParsedMessage m =
      parse_all_ways(o,
                     "Sure.[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{\"city\": \"Oslo\"}"
                     "[TOOL_CALLS]get_time[ARGS]{}");
  EXPECT_EQ(m.content, "Sure.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].id, "a1b2c3d4e");
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[1].name, "get_time");
  o.syntax.reasoning = ReasoningSyntax{"[THINK]", "[/THINK]"};
  m = parse_all_ways(o, "[THINK]hmm[/THINK]Answer");
  EXPECT_EQ(m.reasoning_content, "hmm");
  EXPECT_EQ(m.content, "Answer");
}

// ---- DeepSeek -----------------------------------------------------------------------------------

TEST(ChatOutputParser, DeepSeekR1) {
  auto o = options_for(ChatFormat::kDeepSeekR1);
  o.thinking_forced_open = true;
  const std::string text =
      "I should call the tool.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function"
      "<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Oslo\"}\n```<｜tool▁call▁end｜>\n"
      "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜>"
      "<｜tool▁calls▁end｜>";
  ParsedMessage m = parse_all_ways(o, text);
  EXPECT_EQ(m.reasoning_content, "I should call the tool.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
  EXPECT_EQ(m.tool_calls[1].name, "get_time");
  EXPECT_TRUE(m.warnings.empty());
  // The distill models' odd begin marker.
  m = parse_all_ways(options_for(ChatFormat::kDeepSeekR1),
                     "<｜tool▁calls｜>function<｜tool▁sep｜>f\n```json\n{\"a\": 1}\n```"
                     "<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
}

TEST(ChatOutputParser, DeepSeekV31) {
  auto o = options_for(ChatFormat::kDeepSeekV31);
  o.thinking_forced_open = true;
  ParsedMessage m = parse_all_ways(
      o,
      "reasoning</think>text<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>"
      "{\"city\": \"Oslo\"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>");
  EXPECT_EQ(m.reasoning_content, "reasoning");
  EXPECT_EQ(m.content, "text");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
}

// ---- GPT-OSS ------------------------------------------------------------------------------------

TEST(ChatOutputParser, GptOssAnalysisAndFinal) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kGptOss),
      "<|channel|>analysis<|message|>User greets.<|end|><|start|>assistant<|channel|>final"
      "<|message|>Hello there!<|return|>");
  EXPECT_EQ(m.reasoning_content, "User greets.");
  EXPECT_EQ(m.content, "Hello there!");
  EXPECT_TRUE(m.tool_calls.empty());
}

TEST(ChatOutputParser, GptOssToolCall) {
  auto o = options_for(ChatFormat::kGptOss);
  ParsedMessage m = parse_all_ways(
      o,
      "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary"
      " to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"Oslo\"}<|call|>");
  EXPECT_EQ(m.reasoning_content, "Need weather.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\":\"Oslo\"}");
  // Recipient before the channel, no <|call|> (stopped on it).
  m = parse_all_ways(o, " to=functions.get_time<|channel|>commentary json<|message|>{}");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].name, "get_time");
  // A commentary preamble is content.
  m = parse_all_ways(o, "<|channel|>commentary<|message|>Checking...<|end|>");
  EXPECT_EQ(m.content, "Checking...");
}

TEST(ChatOutputParser, GptOssPlainText) {
  ParsedMessage m = parse_all_ways(options_for(ChatFormat::kGptOss), "Just a plain answer.");
  EXPECT_EQ(m.content, "Just a plain answer.");
}

// ---- Command R7B, Granite, Kimi, Nemotron, Apertus, LFM2, Apriel, GigaChat, Gemma 4 ------------

TEST(ChatOutputParser, CommandR7B) {
  auto o = options_for(ChatFormat::kCommandR7B);
  ParsedMessage m = parse_all_ways(
      o,
      "<|START_THINKING|>I will look it up.<|END_THINKING|><|START_ACTION|>[\n"
      "    {\"tool_call_id\": \"0\", \"tool_name\": \"search\", \"parameters\": {\"q\": \"x\"}}\n"
      "]<|END_ACTION|>");
  EXPECT_EQ(m.reasoning_content, "I will look it up.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].id, "0");
  EXPECT_EQ(m.tool_calls[0].name, "search");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"q\": \"x\"}");
  m = parse_all_ways(o, "<|START_RESPONSE|>Hello!<|END_RESPONSE|>");
  EXPECT_EQ(m.content, "Hello!");
}

TEST(ChatOutputParser, Granite) {
  auto o = options_for(ChatFormat::kGranite);
  ParsedMessage m = parse_all_ways(o, "<think>hmm</think><response>Hi there</response>");
  EXPECT_EQ(m.reasoning_content, "hmm");
  EXPECT_EQ(m.content, "Hi there");
  m = parse_all_ways(o, "<|tool_call|>[{\"name\": \"f\", \"arguments\": {\"a\": 1}}]");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\": 1}");
}

TEST(ChatOutputParser, KimiK2) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kKimiK2),
      "Let me check.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
      "<|tool_call_argument_begin|>{\"city\": \"Oslo\"}<|tool_call_end|><|tool_call_begin|>"
      "functions.get_time:1<|tool_call_argument_begin|>{}<|tool_call_end|>"
      "<|tool_calls_section_end|>");
  EXPECT_EQ(m.content, "Let me check.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].id, "functions.get_weather:0");
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[1].name, "get_time");
}

TEST(ChatOutputParser, NemotronV2) {
  auto o = options_for(ChatFormat::kNemotronV2);
  o.thinking_forced_open = true;
  ParsedMessage m = parse_all_ways(
      o, "think</think>\n<TOOLCALL>[{\"name\": \"f\", \"arguments\": {\"a\": 1}}]</TOOLCALL>");
  EXPECT_EQ(m.reasoning_content, "think");
  ASSERT_EQ(m.tool_calls.size(), 1u);
}

TEST(ChatOutputParser, ApertusShortForm) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kApertus),
      "<|inner_prefix|>plan<|inner_suffix|>Done.<|tools_prefix|>[{\"get_weather\": {\"city\": "
      "\"Oslo\"}}, {\"get_time\": {}}]<|tools_suffix|>");
  EXPECT_EQ(m.reasoning_content, "plan");
  EXPECT_EQ(m.content, "Done.");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].name, "get_weather");
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
}

TEST(ChatOutputParser, Lfm2PythonAndJson) {
  auto o = options_for(ChatFormat::kLfm2);
  ParsedMessage m = parse_all_ways(
      o,
      "<|tool_call_start|>[get_weather(city=\"Oslo\", days=3, units='C', x=None, y=[1.5, True],"
      " z={'k': (1, 2)})]<|tool_call_end|>Checking.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(args_of(m.tool_calls[0]),
            json::parse(R"({"city": "Oslo", "days": 3, "units": "C", "x": null,
                            "y": [1.5, true], "z": {"k": [1, 2]}})"));
  EXPECT_EQ(m.content, "Checking.");
  m = parse_all_ways(o, "<|tool_call_start|>[a(), b(q='it\\'s')]<|tool_call_end|>");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{}");
  EXPECT_EQ(args_of(m.tool_calls[1]), json({{"q", "it's"}}));
  m = parse_all_ways(o,
                     "<|tool_call_start|>[{\"name\": \"f\", \"arguments\": {\"a\": 1}}]"
                     "<|tool_call_end|>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  m = parse_all_ways(o, "<|tool_call_start|>[f(a=b)]<|tool_call_end|>");  // not a literal
  EXPECT_TRUE(m.tool_calls.empty());
  EXPECT_EQ(m.content, "<|tool_call_start|>[f(a=b)]<|tool_call_end|>");
}

TEST(ChatOutputParser, Apriel) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kApriel),
      "The user asks X. I'll call f.\n[BEGIN FINAL RESPONSE]\nCalling f.\n<tool_calls>[{\"name\": "
      "\"f\", \"arguments\": {\"a\": 1}}]</tool_calls>\n[END FINAL RESPONSE]");
  EXPECT_EQ(m.reasoning_content, "The user asks X. I'll call f.");
  EXPECT_EQ(m.content, "Calling f.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
}

TEST(ChatOutputParser, GigaChatV3) {
  ParsedMessage m = parse_all_ways(
      options_for(ChatFormat::kGigaChatV3),
      "Checking the weather.<|message_sep|>\n\nfunction call<|role_sep|>\n{\"name\": "
      "\"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}");
  EXPECT_EQ(m.content, "Checking the weather.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"city\": \"Oslo\"}");
}

TEST(ChatOutputParser, Gemma4) {
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kGemma4),
                     "<|channel>thought\nNeed "
                     "weather.<channel|>Sure.<|tool_call>call:get_weather{city:<|\"|>Oslo, "
                     "\"NO\"<|\"|>,days:3,opts:{deep:[1,true]}}<tool_call|>");
  EXPECT_EQ(m.reasoning_content, "Need weather.");
  EXPECT_EQ(m.content, "Sure.");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(args_of(m.tool_calls[0]),
            json::parse(R"({"city": "Oslo, \"NO\"", "days": 3, "opts": {"deep": [1, true]}})"));
  EXPECT_TRUE(m.warnings.empty());
}

TEST(ChatOutputParser, Gemma4Malformed) {
  // Found by fuzzing: the conversion stops exactly where the JSON breaks in every chunking.
  ParsedMessage m =
      parse_all_ways(options_for(ChatFormat::kGemma4),
                     "<|tool_call>call:f{a:\x1c|\"|>x<|\"|>,b:[1,{c:true}]}<tool_call|>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\":null}");
  EXPECT_FALSE(m.warnings.empty());
  m = parse_all_ways(options_for(ChatFormat::kGemma4),
                     "c<|tool_call>call:f{a:\"|>x<|\"|>,b:[0,{c:true]<}t}</invoke>>");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\":null}");
}

// ---- Generic JSON reply -------------------------------------------------------------------------

TEST(ChatOutputParser, GenericResponseStreamsDecoded) {
  auto o = options_for(ChatFormat::kGeneric);
  ParsedMessage m =
      parse_all_ways(o, "{\"response\": \"Hi \\\"you\\\" \\u00e9\\ud83d\\ude00\\n\"}");
  EXPECT_EQ(m.content, "Hi \"you\" é😀");
  EXPECT_TRUE(m.tool_calls.empty());
}

TEST(ChatOutputParser, GenericToolCalls) {
  auto o = options_for(ChatFormat::kGeneric);
  ParsedMessage m = parse_all_ways(
      o, "{\"tool_call\": {\"name\": \"f\", \"arguments\": {\"a\": [1, {\"b\": null}]}}}");
  ASSERT_EQ(m.tool_calls.size(), 1u);
  EXPECT_EQ(m.tool_calls[0].arguments, "{\"a\": [1, {\"b\": null}]}");
  // An id written before the arguments is kept; one after them comes too late (the call has
  // started streaming with a generated id).
  m = parse_all_ways(o,
                     "{\"tool_calls\": [{\"id\": \"c1\", \"name\": \"f\", \"arguments\": {}}, "
                     "{\"name\": \"g\", \"arguments\": {\"x\": 2}, \"id\": \"c2\"}]}");
  ASSERT_EQ(m.tool_calls.size(), 2u);
  EXPECT_EQ(m.tool_calls[0].id, "c1");
  EXPECT_EQ(m.tool_calls[1].id.substr(0, 5), "call_");
  m = parse_all_ways(o, "I will not use JSON.");
  EXPECT_EQ(m.content, "I will not use JSON.");
}

// ---- misc ---------------------------------------------------------------------------------------

TEST(ChatOutputParser, MessageToJson) {
  ParsedMessage m;
  m.reasoning_content = "r";
  m.tool_calls.push_back({"call_1", "f", "{\"a\":1}"});
  json j = message_to_json(m);
  EXPECT_EQ(j["role"], "assistant");
  EXPECT_TRUE(j["content"].is_null());
  EXPECT_EQ(j["reasoning_content"], "r");
  EXPECT_EQ(j["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
  EXPECT_EQ(j["tool_calls"][0]["type"], "function");
}

TEST(ChatOutputParser, LongOutputsAreHandled) {
  // Many near-markers and a long streamed argument: exercised byte by byte.
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "<tool <think <|x ";
  text += "<tool_call>{\"name\": \"w\", \"arguments\": {\"s\": \"";
  text += std::string(100000, 'y');
  text += "\"}}</tool_call>";
  auto o = options_for(ChatFormat::kHermes2Pro);
  testing::Run r = testing::run_parser(o, text, {1});
  ASSERT_EQ(r.message.tool_calls.size(), 1u);
  EXPECT_EQ(r.message.tool_calls[0].arguments.size(), 100009u);
  EXPECT_EQ(r.message.content.size(), 2000u * 17 - 1);
}

}  // namespace
}  // namespace ember::chat
