// GBNF parsing: syntax, semantics of repetitions and classes, error positions, left recursion,
// undefined rules, missing root, and the limits that protect against hostile grammars.
#include <gtest/gtest.h>

#include <string>

#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"

namespace ember::grammar {
namespace {

std::shared_ptr<const Grammar> must_parse(const std::string& text) {
  auto g = parse_gbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().to_string() << "\n" << text;
  return g.ok() ? *g : nullptr;
}

// Whole-string match.
bool matches(const std::shared_ptr<const Grammar>& g, std::string_view input) {
  if (g == nullptr) return false;
  auto m = GrammarMatcher::create(g);
  EXPECT_TRUE(m.ok());
  return m->accept_bytes(input) && m->is_complete();
}

std::string error_of(const std::string& text, const GrammarLimits& limits = {}) {
  auto g = parse_gbnf(text, limits);
  EXPECT_FALSE(g.ok()) << "expected an error for:\n" << text;
  return g.ok() ? "" : g.status().message();
}

TEST(GbnfParser, LiteralsAlternativesAndGroups) {
  auto g = must_parse("root ::= \"ab\" (\"c\" | \"d\" \"e\") | \"x\"\n");
  EXPECT_TRUE(matches(g, "abc"));
  EXPECT_TRUE(matches(g, "abde"));
  EXPECT_TRUE(matches(g, "x"));
  EXPECT_FALSE(matches(g, "ab"));
  EXPECT_FALSE(matches(g, "abd"));
  EXPECT_FALSE(matches(g, "xabc"));
  EXPECT_FALSE(matches(g, ""));
}

TEST(GbnfParser, Repetitions) {
  auto g = must_parse(
      "root ::= [a]{2,4} \"-\" [b]{3} \"-\" [c]{2,} \"-\" \"xy\"{0,2} \"-\" [d]? [e]* [f]+");
  EXPECT_TRUE(matches(g, "aa-bbb-cc--f"));
  EXPECT_TRUE(matches(g, "aaaa-bbb-ccccc-xyxy-deeeff"));
  EXPECT_FALSE(matches(g, "a-bbb-cc--f"));         // too few a
  EXPECT_FALSE(matches(g, "aaaaa-bbb-cc--f"));     // too many a
  EXPECT_FALSE(matches(g, "aa-bb-cc--f"));         // {3} exactly
  EXPECT_FALSE(matches(g, "aa-bbb-c--f"));         // {2,}
  EXPECT_FALSE(matches(g, "aa-bbb-cc-xyxyxy-f"));  // a literal repeats as a whole, at most twice
  EXPECT_FALSE(matches(g, "aa-bbb-cc-x-f"));
  EXPECT_FALSE(matches(g, "aa-bbb-cc--dd"));  // ? at most once, + at least once
  // {0} removes the item; quantifiers apply to the whole previous item, even a repetition.
  auto h = must_parse("root ::= \"a\" \"b\"{0} (\"c\"{2}){2}");
  EXPECT_TRUE(matches(h, "acccc"));
  EXPECT_FALSE(matches(h, "abcccc"));
  EXPECT_FALSE(matches(h, "accc"));
  // Spaces are allowed inside the braces, as in llama.cpp.
  EXPECT_TRUE(matches(must_parse("root ::= \"a\"{ 1 , 2 }"), "aa"));
}

TEST(GbnfParser, CharacterClasses) {
  auto g = must_parse(R"(root ::= [a-cx] [^a-z] [\]\[\\\-] [-+] [é-ë] [^\n] .)");
  EXPECT_TRUE(matches(g, "aA]-êé\n"));
  EXPECT_TRUE(matches(g, "x9\\+ë\t😀"));
  EXPECT_TRUE(matches(g, "c_[-éaz"));
  EXPECT_FALSE(matches(g, "dA]-éaz"));   // d not in [a-cx]
  EXPECT_FALSE(matches(g, "aa]-éaz"));   // [^a-z]
  EXPECT_FALSE(matches(g, "aA]*éaz"));   // [-+]
  EXPECT_FALSE(matches(g, "aA]-ìaz"));   // [é-ë]
  EXPECT_FALSE(matches(g, "aA]-é\nz"));  // [^\n]
  // Empty classes are refused (llama.cpp silently drops them).
  EXPECT_EQ(error_of("root ::= \"x\" []"), "line 1, column 14: empty character class");
  EXPECT_EQ(error_of("root ::= [^]"), "line 1, column 10: empty character class");
}

TEST(GbnfParser, Escapes) {
  auto g = must_parse(R"(root ::= "\x41\u00e9\U0001F600\t\r\n\\\"\[\]\-")");
  EXPECT_TRUE(matches(g, "Aé😀\t\r\n\\\"[]-"));
  EXPECT_NE(error_of(R"(root ::= "\q")").find("unknown escape '\\q'"), std::string::npos);
  EXPECT_NE(error_of(R"(root ::= "\x4")").find("expected 2 hex digits"), std::string::npos);
  EXPECT_NE(error_of(R"(root ::= "\u12G4")").find("expected 4 hex digits"), std::string::npos);
}

TEST(GbnfParser, CommentsNewlinesAndRuleNames) {
  auto g = must_parse(
      "# leading comment\r\n"
      "root ::= item-list # trailing comment\r\n"
      "\n"
      "item-list ::= (\n"
      "    item_1   # inside a group newlines are fine\n"
      "    (\",\" item_1)*\n"
      "  )\n"
      "item_1 ::= \"x\" |\n"
      "  \"y\"   # a newline after | continues the rule\n");
  EXPECT_TRUE(matches(g, "x,y,x"));
  EXPECT_FALSE(matches(g, "x,"));
  // Outside parentheses a newline ends the rule: the next line must be a rule.
  const std::string e = error_of("root ::= \"a\"\n  \"b\"\n");
  EXPECT_NE(e.find("line 2, column 3"), std::string::npos) << e;
}

TEST(GbnfParser, ErrorPositions) {
  EXPECT_EQ(error_of("root ::= \"abc"), "line 1, column 10: unterminated string literal");
  EXPECT_EQ(error_of("root ::= [abc"), "line 1, column 10: unterminated character class");
  EXPECT_EQ(error_of("root = \"a\""),
            "line 1, column 6: expected '::=' after rule name 'root', found '='");
  EXPECT_EQ(error_of("root ::= \"a\"\nx ::= *"), "line 2, column 7: nothing to repeat before '*'");
  EXPECT_EQ(error_of("root ::= (\"a\" \"b\"\n"),
            "line 2, column 1: expected ')' to close the group opened at line 1, column 10, found "
            "end of input");
  // Columns count characters, not bytes.
  EXPECT_EQ(error_of("root ::= \"éé\" )"),
            "line 1, column 15: expected a newline or the end of the rule, found ')'");
  EXPECT_EQ(error_of("root ::= \"a\"{3,2}"),
            "line 1, column 13: invalid repetition {3,2}: minimum above maximum");
  EXPECT_EQ(error_of("root ::= \"a\"{x}"),
            "line 1, column 14: expected a number in repetition, found 'x'");
  EXPECT_EQ(error_of("root ::= [z-a]"),
            "line 1, column 11: invalid character range: end before start");
  EXPECT_EQ(error_of("root ::= \"a\"\nroot ::= \"b\""),
            "line 2, column 1: rule 'root' is defined twice (first on line 1)");
}

TEST(GbnfParser, UndefinedRuleAndMissingRoot) {
  EXPECT_EQ(error_of("root ::= a b\na ::= \"x\"\n"), "line 1, column 12: undefined rule 'b'");
  EXPECT_EQ(error_of("start ::= \"x\"\n"), "grammar has no 'root' rule");
  EXPECT_EQ(error_of(""), "grammar has no 'root' rule");
  EXPECT_EQ(error_of("# only a comment\n"), "grammar has no 'root' rule");
}

TEST(GbnfParser, LeftRecursion) {
  std::string e = error_of("root ::= root \"a\" | \"b\"\n");
  EXPECT_NE(e.find("left recursion"), std::string::npos) << e;
  EXPECT_NE(e.find("'root'"), std::string::npos) << e;
  e = error_of(
      "root ::= expr\nexpr ::= term \"+\" expr | term\nterm ::= expr \"*\" \"1\" | \"1\"\n");
  EXPECT_NE(e.find("left recursion"), std::string::npos) << e;
  EXPECT_NE(e.find("expr -> term -> expr"), std::string::npos) << e;
  // Through a rule that can match the empty string.
  e = error_of("root ::= opt root \"x\" | \"y\"\nopt ::= \"z\"?\n");
  EXPECT_NE(e.find("left recursion"), std::string::npos) << e;
  // Even when the stack would not grow, a user rule deriving itself is rejected.
  e = error_of("root ::= root | \"a\"\n");
  EXPECT_NE(e.find("left recursion"), std::string::npos) << e;
  // Right recursion is fine.
  auto g = must_parse("root ::= \"a\" root | \"b\"\n");
  EXPECT_TRUE(matches(g, "aaab"));
}

TEST(GbnfParser, RepetitionOfNullableItems) {
  // llama.cpp accepts these: a repetition whose item can match nothing.
  auto g = must_parse("root ::= (\"a\"?)* \"b\"\n");
  EXPECT_TRUE(matches(g, "b"));
  EXPECT_TRUE(matches(g, "aaab"));
  auto h = must_parse("root ::= item+\nitem ::= [a-z]* \" \"?\n");
  EXPECT_TRUE(matches(h, ""));
  EXPECT_TRUE(matches(h, "ab cd "));
  EXPECT_FALSE(matches(h, "ab  C"));
}

TEST(GbnfParser, TokenReferencesAreUnsupported) {
  auto g = parse_gbnf("root ::= <think> \"x\"\n");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(g.status().message().find("line 1, column 10: token references"), std::string::npos);
  EXPECT_FALSE(parse_gbnf("root ::= !<[12]>\n").ok());
}

TEST(GbnfParser, Limits) {
  GrammarLimits small;
  small.max_input_bytes = 16;
  auto g = parse_gbnf("root ::= \"0123456789\"\n", small);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kResourceExhausted);

  // Repetition bounds.
  g = parse_gbnf("root ::= \"a\"{100001}");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(g.status().message().find("repetition count 100001 exceeds the limit of 100000"),
            std::string::npos);
  g = parse_gbnf("root ::= \"a\"{1,99999999999999999999999999}");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kResourceExhausted);

  // Nested repetitions are expanded through rules, so their size adds instead of multiplying...
  auto big = parse_gbnf("root ::= ((\"ab\"{0,1000}){0,1000}){0,1000}");
  EXPECT_TRUE(big.ok()) << big.status().to_string();
  // ...and the total is capped.
  GrammarLimits few;
  few.max_elements = 5000;
  g = parse_gbnf("root ::= (\"ab\"{0,1000}){0,1000}", few);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kResourceExhausted);
  few = {};
  few.max_rules = 100;
  g = parse_gbnf("root ::= \"a\"{0,1000}", few);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kResourceExhausted);

  // Nesting depth.
  const std::string deep = "root ::= " + std::string(100, '(') + "\"x\"" + std::string(100, ')');
  g = parse_gbnf(deep);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("parentheses nested deeper than 64"), std::string::npos);
  const std::string ok_depth = "root ::= " + std::string(60, '(') + "\"x\"" + std::string(60, ')');
  EXPECT_TRUE(matches(must_parse(ok_depth), "x"));
}

TEST(GbnfParser, LongRuleChainsDoNotRecurse) {
  // A 100000-long chain of optional rules (x{0,100000}) and a long chain of rule references are
  // analysed without deep recursion.
  auto g = must_parse("root ::= \"x\"{0,100000}");
  EXPECT_TRUE(matches(g, std::string(1000, 'x')));
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 20000; ++i) {
    chain += std::string("r").append(std::to_string(i)).append(" ::= r");
    chain += std::to_string(i + 1) + " \"a\"\n";
  }
  chain += "r20000 ::= \"b\"\n";
  auto c = parse_gbnf(chain);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
}

}  // namespace
}  // namespace ember::grammar
