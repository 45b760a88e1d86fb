// The incremental matcher: UTF-8 split across calls, rejection leaves the state unchanged, copies
// are independent, completeness, candidate checks, and the limits on ambiguity and depth.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"

namespace ember::grammar {
namespace {

std::shared_ptr<const Grammar> must_parse(const std::string& text) {
  auto g = parse_gbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  return *g;
}

GrammarMatcher matcher_for(const std::string& text, MatcherLimits limits = {}) {
  auto m = GrammarMatcher::create(must_parse(text), limits);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return *m;
}

TEST(GrammarMatcher, CharacterSplitAcrossCalls) {
  GrammarMatcher m = matcher_for("root ::= \"é\" \"x\" \"😀\"");
  EXPECT_TRUE(m.accept_bytes("\xC3"));
  EXPECT_TRUE(m.has_partial_character());
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept_bytes("\xA9x\xF0\x9F"));
  EXPECT_TRUE(m.has_partial_character());
  EXPECT_TRUE(m.accept_bytes("\x98"));
  EXPECT_FALSE(m.is_complete());  // a character is still pending
  EXPECT_TRUE(m.accept_bytes("\x80"));
  EXPECT_FALSE(m.has_partial_character());
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
  EXPECT_FALSE(m.accept_bytes("x"));
}

TEST(GrammarMatcher, PartialCharacterMustBeCompletable) {
  // Only ASCII letters: a lead byte of a two-byte character can never lead anywhere.
  GrammarMatcher m = matcher_for("root ::= [a-z]+");
  EXPECT_FALSE(m.accept_bytes("\xC3"));
  // [é-ë] = U+00E9..U+00EB: C3 is fine, C4 is not; after C3 only A9..AB complete it.
  GrammarMatcher n = matcher_for("root ::= [é-ë]");
  EXPECT_FALSE(n.accept_bytes("\xC4"));
  EXPECT_TRUE(n.accept_bytes("\xC3"));
  EXPECT_FALSE(n.accept_bytes("\xA8"));
  EXPECT_TRUE(n.accept_bytes("\xAB"));
  EXPECT_TRUE(n.is_complete());
  // U+0800..U+0FFF: E0 needs a second byte A0..BF.
  GrammarMatcher w = matcher_for("root ::= [\\u0800-\\u0FFF]");
  EXPECT_TRUE(w.can_accept("\xE0").value());
  EXPECT_FALSE(w.can_accept("\xE0\x9F").value());
  EXPECT_TRUE(w.can_accept("\xE0\xA0").value());
}

TEST(GrammarMatcher, MalformedUtf8IsRejected) {
  GrammarMatcher m = matcher_for("root ::= .*");
  for (const char* bad : {"\xFF", "\x80", "\xC0\x80", "\xC1\xBF", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xF5", "\xC3x", "\xE2\x82x"}) {
    EXPECT_FALSE(m.can_accept(bad).value()) << bad;
  }
  EXPECT_TRUE(m.accept_bytes("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_TRUE(m.is_complete());
}

TEST(GrammarMatcher, RejectionLeavesStateUnchanged) {
  GrammarMatcher m = matcher_for("root ::= \"abc\" | \"abd\"");
  ASSERT_TRUE(m.accept_bytes("a"));
  const ParserState before = m.state();
  EXPECT_FALSE(m.accept_bytes("bx"));  // 'b' fits, 'x' does not: nothing is consumed
  EXPECT_TRUE(m.last_error().ok());    // a plain rejection, not a limit
  EXPECT_EQ(m.state(), before);
  EXPECT_TRUE(m.accept_bytes("bd"));
  EXPECT_TRUE(m.is_complete());
}

TEST(GrammarMatcher, CopiesAreIndependent) {
  GrammarMatcher m = matcher_for("root ::= [a-z]+ \"!\"");
  ASSERT_TRUE(m.accept_bytes("ab"));
  GrammarMatcher trial = m;
  EXPECT_TRUE(trial.accept_bytes("c!"));
  EXPECT_TRUE(trial.is_complete());
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept_bytes("!"));
  EXPECT_TRUE(m.is_complete());
  m.reset();
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept_bytes("zz!"));
}

TEST(GrammarMatcher, CompletionAndContinuation) {
  GrammarMatcher m = matcher_for("root ::= \"a\" \"b\"?");
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.can_continue());
  ASSERT_TRUE(m.accept_bytes("a"));
  EXPECT_TRUE(m.is_complete());   // may end here...
  EXPECT_TRUE(m.can_continue());  // ...or go on
  ASSERT_TRUE(m.accept_bytes("b"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
  // A grammar matching only the empty string is complete at once.
  GrammarMatcher e = matcher_for("root ::= \"\"");
  EXPECT_TRUE(e.is_complete());
  EXPECT_FALSE(e.can_continue());
}

TEST(GrammarMatcher, AllowedCandidatesMatchOneByOne) {
  GrammarMatcher m = matcher_for(R"(root ::= "{" [a-z]* ("é" | "!")? "}")");
  ASSERT_TRUE(m.accept_bytes("{a"));
  const std::vector<std::string_view> candidates = {
      "b",         "bc",       "bc}", "}",  "}}", "",      "\xC3", "\xC3\xA9",
      "\xC3\xA9}", "\xC3\xA8", "!",   "!!", "A",  "b\xC3", "{",    "bcdefghijklmnop"};
  const std::vector<bool> allowed = m.allowed(candidates);
  ASSERT_EQ(allowed.size(), candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    EXPECT_EQ(allowed[i], m.can_accept(candidates[i]).value()) << i;
  }
  EXPECT_TRUE(allowed[0]);
  EXPECT_FALSE(allowed[4]);
  EXPECT_TRUE(allowed[6]);   // a partial é
  EXPECT_FALSE(allowed[9]);  // è is not allowed
}

TEST(GrammarMatcher, AmbiguityIsBounded) {
  // After n x's the stacks remember every sequence of n choices between "y" and "z".
  const std::string exploding = "root ::= a\na ::= \"x\" a \"y\" | \"x\" a \"z\" | \"\"\n";
  MatcherLimits limits;
  limits.max_stacks = 64;
  GrammarMatcher m = matcher_for(exploding, limits);
  Result<bool> r = true;
  int accepted = 0;
  while (accepted < 20) {
    r = m.try_accept("x");
    if (!r.ok() || !*r) break;
    ++accepted;
  }
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("too ambiguous"), std::string::npos) << r.status().message();
  EXPECT_GE(accepted, 4);
  EXPECT_FALSE(m.accept_bytes("x"));
  EXPECT_FALSE(m.last_error().ok());
}

TEST(GrammarMatcher, NestingDepthIsBounded) {
  MatcherLimits limits;
  limits.max_stack_depth = 100;
  GrammarMatcher m = matcher_for("root ::= \"[\" root \"]\" | \"x\"", limits);
  EXPECT_TRUE(m.accept_bytes(std::string(50, '[')));
  Result<bool> r = m.try_accept(std::string(100, '['));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  // The state is unchanged: finishing the 50 levels still works.
  EXPECT_TRUE(m.accept_bytes("x" + std::string(50, ']')));
  EXPECT_TRUE(m.is_complete());
}

TEST(GrammarMatcher, InitialExpansionLimits) {
  // A left-call chain deeper than the stack limit is reported when the matcher is created.
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 300; ++i) {
    chain += std::string("r").append(std::to_string(i)).append(" ::= r");
    chain += std::to_string(i + 1) + " \"a\"\n";
  }
  chain += "r300 ::= \"b\"\n";
  MatcherLimits limits;
  limits.max_stack_depth = 100;
  auto m = GrammarMatcher::create(must_parse(chain), limits);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kResourceExhausted);
  auto ok = GrammarMatcher::create(must_parse(chain));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->accept_bytes("b" + std::string(300, 'a')));
  EXPECT_TRUE(ok->is_complete());
  EXPECT_FALSE(GrammarMatcher::create(nullptr).ok());
}

}  // namespace
}  // namespace ember::grammar
