// Forced tool-call grammars (src/chat/tool_call_grammar.h): the grammar built from a format's
// ForcedToolCallSpec accepts exactly the calls the format's syntax allows, and what it accepts
// parses back into a valid call with the output parser.
#include "chat/tool_call_grammar.h"

#include <gtest/gtest.h>

#include "chat/output_parser.h"
#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"

namespace ember::chat {
namespace {

// Whether `grammar` matches all of `text`.
bool matches(const std::string& gbnf, std::string_view text) {
  auto g = grammar::parse_gbnf(gbnf);
  EXPECT_TRUE(g.ok()) << g.status().to_string() << "\n" << gbnf;
  if (!g.ok()) return false;
  auto m = grammar::GrammarMatcher::create(*g);
  EXPECT_TRUE(m.ok());
  if (!m.ok()) return false;
  return m->accept_bytes(text) && m->is_complete();
}

TEST(ToolCallGrammar, TextWithoutRuleRejectsExactlyTheStringsContainingTheEnd) {
  // "aab" has a border: after "aa" another "a" must stay in state "aa" (KMP fallback).
  const std::string g = "root ::= t\n" + text_without_rules("t", "aab");
  for (const char* ok : {"", "a", "aa", "aaa", "aba", "abab", "baaa", "xyz", "abaa"}) {
    EXPECT_TRUE(matches(g, ok)) << ok;
  }
  for (const char* bad : {"aab", "aaab", "xaab", "abaab", "aaaab", "aabx"}) {
    EXPECT_FALSE(matches(g, bad)) << bad;
  }
  // Long texts do not grow the parser's stacks (the recursion is in tail position).
  std::string long_text;
  for (int i = 0; i < 5000; ++i) long_text += "aaxab a";
  EXPECT_TRUE(matches(g, long_text));
  EXPECT_FALSE(matches(g, long_text + "aab"));
  // Non-ASCII end markers work on code points.
  const std::string g2 = "root ::= t \"｜end\"\n" + text_without_rules("t", "｜end");
  EXPECT_TRUE(matches(g2, "hello ｜en world｜end"));
  EXPECT_FALSE(matches(g2, "a｜end b｜end"));
}

TEST(ToolCallGrammar, PrefixRenamesRulesOnly) {
  const std::string in =
      "root ::= \"root\" space [a-z_-]{1,3} item # root comment\nitem ::= \"\\\"x\" | space\n"
      "space ::= \" \"?\n";
  const std::string out = prefix_gbnf_rules(in, "p-");
  EXPECT_EQ(out,
            "p-root ::= \"root\" p-space [a-z_-]{1,3} p-item # root comment\n"
            "p-item ::= \"\\\"x\" | p-space\np-space ::= \" \"?\n");
}

const Json kTools = Json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"]}}},
  {"type": "function", "function": {"name": "noop", "parameters": {"type": "object",
    "properties": {}}}}])");

std::string grammar_for(ChatFormat format, bool parallel = false, std::string only = "") {
  ForcedToolCallOptions o;
  o.parallel = parallel;
  o.only_tool = std::move(only);
  auto spec = forced_tool_call_spec(chat_syntax_for(format), kTools, o);
  EXPECT_TRUE(spec.ok()) << spec.status().to_string();
  if (!spec.ok()) return "";
  auto g = forced_tool_call_grammar(*spec);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  return g.ok() ? *g : "";
}

// The output parses into exactly one call of `name` whose arguments equal `args`.
void expect_parses_to(ChatFormat format, const std::string& text, const std::string& name,
                      const Json& args) {
  OutputParserOptions o;
  o.syntax = chat_syntax_for(format);
  o.tools = kTools;
  auto m = parse_output(o, text);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->tool_calls.size(), 1u) << text;
  EXPECT_EQ(m->tool_calls[0].name, name);
  EXPECT_EQ(Json::parse(m->tool_calls[0].arguments), args);
}

TEST(ToolCallGrammar, HermesJsonCalls) {
  const std::string g = grammar_for(ChatFormat::kHermes2Pro);
  const std::string call =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": "
      "3}}\n</tool_call>";
  EXPECT_TRUE(matches(g, call));
  expect_parses_to(ChatFormat::kHermes2Pro, call, "get_weather",
                   Json{{"city", "Paris"}, {"days", 3}});
  EXPECT_TRUE(matches(g, "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>"));
  // Wrong types, missing required arguments, unknown tools, text around: rejected.
  EXPECT_FALSE(matches(g,
                       "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 1, "
                       "\"days\": 3}}\n</tool_call>"));
  EXPECT_FALSE(matches(
      g,
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P\"}}\n</tool_call>"));
  EXPECT_FALSE(matches(g, "<tool_call>\n{\"name\": \"rm\", \"arguments\": {}}\n</tool_call>"));
  EXPECT_FALSE(
      matches(g, "Sure! <tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>"));
  // One call unless parallel.
  const std::string two = call + "\n" + call;
  EXPECT_FALSE(matches(g, two));
  EXPECT_TRUE(matches(grammar_for(ChatFormat::kHermes2Pro, true), two));
  // A named function only.
  EXPECT_FALSE(matches(grammar_for(ChatFormat::kHermes2Pro, false, "noop"), call));
}

TEST(ToolCallGrammar, XmlCallsWithRawTextValues) {
  const std::string g = grammar_for(ChatFormat::kQwen3CoderXml);
  const std::string call =
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nSan Francisco, <CA>\n</parameter>\n"
      "<parameter=days>\n5\n</parameter>\n</function>\n</tool_call>";
  EXPECT_TRUE(matches(g, call));
  expect_parses_to(ChatFormat::kQwen3CoderXml, call, "get_weather",
                   Json{{"city", "San Francisco, <CA>"}, {"days", 5}});
  // A string value cannot contain its own end marker.
  EXPECT_FALSE(matches(g,
                       "<tool_call>\n<function=get_weather>\n<parameter=city>\nA\n</parameter>\n"
                       "B\n</parameter>\n<parameter=days>\n5\n</parameter>\n</function>\n"
                       "</tool_call>"));
  // days must be an integer.
  EXPECT_FALSE(matches(g,
                       "<tool_call>\n<function=get_weather>\n<parameter=city>\nA\n</parameter>\n"
                       "<parameter=days>\nfive\n</parameter>\n</function>\n</tool_call>"));
}

TEST(ToolCallGrammar, ReasoningBeforeTheCall) {
  ChatSyntax syntax = chat_syntax_for(ChatFormat::kDeepSeekR1);
  ForcedToolCallOptions o;
  o.only_tool = "noop";
  auto spec = forced_tool_call_spec(syntax, kTools, o);
  ASSERT_TRUE(spec.ok());
  auto g = forced_tool_call_grammar(*spec);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const std::string call =
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>noop\n```json\n{}\n```<"
      "｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  EXPECT_TRUE(matches(*g, call));
  EXPECT_TRUE(matches(*g, "<think>hmm, a call</think>\n\n" + call));
  EXPECT_FALSE(matches(*g, "<think>hmm</think> ok</think>" + call));
  // The prompt opened the block: the output starts inside it.
  o.thinking_forced_open = true;
  spec = forced_tool_call_spec(syntax, kTools, o);
  ASSERT_TRUE(spec.ok());
  g = forced_tool_call_grammar(*spec);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(matches(*g, "hmm</think>" + call));
  EXPECT_FALSE(matches(*g, call));
}

}  // namespace
}  // namespace ember::chat
