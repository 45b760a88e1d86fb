// TokenFilter: the cached masks must equal direct simulation (GrammarMatcher::can_accept /
// allowed) token by token, on a handmade vocabulary with split UTF-8 and on the shared 128k Llama 3
// and SentencePiece vocabularies, including when the state cache overflows.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"
#include "grammar/token_filter.h"
#include "grammar_vocab.h"
#include "testdata.h"

namespace ember::grammar {
namespace {

// A JSON grammar written for these tests (the shared json.gbnf is used with the real vocabularies).
constexpr const char* kJsonGrammar = R"(
root    ::= "{" gap members? "}" gap
members ::= pair ( "," gap pair )*
pair    ::= text ":" gap value
value   ::= "{" gap members? "}" gap | "[" gap items? "]" gap | text | num | ( "true" | "false" | "null" ) gap
items   ::= value ( "," gap value )*
text    ::= "\"" ( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" gap
num     ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? gap
gap     ::= [ \t\n]{0,8}
)";

std::shared_ptr<const Grammar> json_grammar() {
  auto g = parse_gbnf(kJsonGrammar);
  EXPECT_TRUE(g.ok()) << g.status().to_string();
  return *g;
}

// Direct simulation, one token at a time.
std::vector<bool> brute_force(const GrammarMatcher& m, const TokenTrie& trie) {
  std::vector<std::string_view> bytes(trie.vocab_size());
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = trie.token_bytes(static_cast<int32_t>(i));
  std::vector<bool> allowed = m.allowed(bytes);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i].empty()) allowed[i] = false;  // tokens without text never continue a grammar
  }
  return allowed;
}

void expect_same(const TokenMask& mask, const std::vector<bool>& expected, const TokenTrie& trie,
                 const std::string& where) {
  ASSERT_EQ(mask.size(), expected.size());
  size_t diffs = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (mask.test(static_cast<int32_t>(i)) != expected[i] && ++diffs <= 5) {
      ADD_FAILURE() << where << ": token " << i << " '" << trie.token_bytes(static_cast<int32_t>(i))
                    << "' mask=" << mask.test(static_cast<int32_t>(i))
                    << " expected=" << expected[i];
    }
  }
  EXPECT_EQ(diffs, 0u) << where;
}

// Feeds `text` to a matcher in the given pieces, checking the filter's mask against direct
// simulation before each piece, and advancing through the filter.
void check_along(const std::shared_ptr<const Grammar>& g,
                 const std::shared_ptr<const TokenTrie>& trie, const std::vector<int32_t>& tokens,
                 TokenFilterOptions options = {}) {
  auto m = GrammarMatcher::create(g);
  ASSERT_TRUE(m.ok());
  TokenFilter filter(g, trie, {}, options);
  TokenMask mask;
  for (size_t step = 0; step < tokens.size(); ++step) {
    ASSERT_TRUE(filter.fill_mask(*m, &mask).ok());
    expect_same(mask, brute_force(*m, *trie), *trie, "step " + std::to_string(step));
    ASSERT_TRUE(mask.test(tokens[step])) << "step " << step;
    GrammarMatcher direct = *m;
    ASSERT_TRUE(direct.accept_bytes(trie->token_bytes(tokens[step])));
    auto ok = filter.accept_token(*m, tokens[step]);
    ASSERT_TRUE(ok.ok() && *ok);
    EXPECT_EQ(m->state(), direct.state()) << "step " << step;
  }
}

std::vector<std::string> small_vocab() {
  return {"{",    "}",  "\"",   "a",        "ab",   "abc",  ":",    " ",    ",",      "1",
          "12",   "-",  ".",    "e",        "[",    "]",    "true", "null", "\"a\":", "\xC3",
          "\xA9", "é",  "é\"",  "\xE6\x97", "\xA5", "日本", "\\",   "\\n",  "\\u00",  "e9",
          "",     "\n", "\n\t", "\"}",      "}\n",  "\x80", "\xFF", "0",    "01",     "x\"y"};
}

// Token ids of a piecewise document over the small vocabulary.
std::vector<int32_t> ids_of(const std::vector<std::string>& vocab,
                            const std::vector<std::string>& pieces) {
  std::vector<int32_t> out;
  for (const std::string& p : pieces) {
    for (size_t i = 0; i < vocab.size(); ++i) {
      if (vocab[i] == p) {
        out.push_back(static_cast<int32_t>(i));
        break;
      }
    }
  }
  EXPECT_EQ(out.size(), pieces.size());
  return out;
}

TEST(TokenFilter, SmallVocabularyMatchesDirectSimulation) {
  const auto vocab = small_vocab();
  auto trie = std::make_shared<const TokenTrie>(vocab);
  const auto tokens =
      ids_of(vocab, {"{",    "\"a\":", " ",  "[",   "12",  ",",    "-",    "1",        ".",
                     "1",    "e",      "1",  ",",   "\"",  "\xC3", "\xA9", "\xE6\x97", "\xA5",
                     "日本", "\\u00",  "e9", "\\n", "é\"", "]",    "\n\t", "}"});
  check_along(json_grammar(), trie, tokens);
}

TEST(TokenFilter, TinyStateCacheFallsBack) {
  const auto vocab = small_vocab();
  auto trie = std::make_shared<const TokenTrie>(vocab);
  const auto tokens = ids_of(vocab, {"{", "\"", "ab", "\xC3", "\xA9", "\"", ":", "null", "}"});
  TokenFilterOptions tiny;
  tiny.max_states = 3;  // every walk overflows: clear, retry, then direct simulation
  check_along(json_grammar(), trie, tokens, tiny);
  TokenFilterOptions no_masks;
  no_masks.max_cached_masks = 0;
  check_along(json_grammar(), trie, tokens, no_masks);
}

TEST(TokenFilter, AllowsAndCachedMasks) {
  const auto vocab = small_vocab();
  auto g = json_grammar();
  auto trie = std::make_shared<const TokenTrie>(vocab);
  TokenFilter filter(g, trie);
  auto m = GrammarMatcher::create(g);
  TokenMask first, second;
  ASSERT_TRUE(filter.fill_mask(*m, &first).ok());
  ASSERT_TRUE(filter.fill_mask(*m, &second).ok());
  EXPECT_EQ(std::vector<uint64_t>(first.words().begin(), first.words().end()),
            std::vector<uint64_t>(second.words().begin(), second.words().end()));
  EXPECT_GE(filter.stats().mask_hits, 1u);
  for (int32_t id = 0; id < static_cast<int32_t>(vocab.size()); ++id) {
    EXPECT_EQ(filter.allows(*m, id).value(), first.test(id)) << id;
  }
  EXPECT_TRUE(first.test(0));    // "{"
  EXPECT_FALSE(first.test(1));   // "}"
  EXPECT_FALSE(first.test(30));  // "" never
  EXPECT_FALSE(filter.allows(*m, 12345).value());
  // A matcher of another grammar is refused.
  auto other = GrammarMatcher::create(*parse_gbnf("root ::= \"x\""));
  EXPECT_FALSE(filter.fill_mask(*other, &first).ok());
}

TEST(TokenFilter, TrieLayout) {
  const std::vector<std::string> vocab = {"ab", "a", "abc", "b", "", "ab", "ba"};
  TokenTrie trie(vocab);
  EXPECT_EQ(trie.vocab_size(), 7u);
  EXPECT_EQ(trie.node_count(), 5u);  // a, ab, abc, b, ba
  EXPECT_EQ(trie.max_depth(), 3u);
  const auto nodes = trie.nodes();
  EXPECT_EQ(nodes[0].byte, 'a');
  EXPECT_EQ(nodes[0].skip, 3u);
  EXPECT_EQ(nodes[1].depth, 2u);
  // Both "ab" tokens end at node 1.
  EXPECT_TRUE(nodes[1].has_tokens);
  std::vector<int32_t> at1(trie.tokens().begin() + trie.token_begin()[1],
                           trie.tokens().begin() + trie.token_begin()[2]);
  EXPECT_EQ(at1, (std::vector<int32_t>{0, 5}));
  EXPECT_EQ(trie.token_bytes(6), "ba");
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Greedy longest-match pieces of `doc` from the vocabulary (any tokenization works here).
std::vector<int32_t> greedy_tokens(const std::vector<std::string>& vocab, const std::string& doc) {
  std::unordered_map<std::string_view, int32_t> by_bytes;
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (!vocab[i].empty()) by_bytes.emplace(vocab[i], static_cast<int32_t>(i));
  }
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos < doc.size()) {
    size_t len = std::min<size_t>(24, doc.size() - pos);
    for (; len > 0; --len) {
      auto it = by_bytes.find(std::string_view(doc).substr(pos, len));
      if (it != by_bytes.end()) {
        out.push_back(it->second);
        break;
      }
    }
    if (len == 0) return {};
    pos += len;
  }
  return out;
}

void check_real_vocab(const std::string& vocab_file) {
  EMBER_REQUIRE_TESTDATA(dir);
  auto vocab = testing::grammar_vocab_bytes((dir / "vocab" / vocab_file).string());
  ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
  auto g = parse_gbnf(read_text(dir / "grammars" / "json.gbnf"));
  ASSERT_TRUE(g.ok());
  auto trie = std::make_shared<const TokenTrie>(*vocab);
  // Byte-level pieces for the non-ASCII part so characters are split across tokens.
  const std::string doc = "{\"k\": [1.5, -2e3, true], \"s\": \"caf\xC3\xA9 \\u00e9 \xE6\x97\xA5\"}";
  std::vector<int32_t> tokens = greedy_tokens(*vocab, doc);
  ASSERT_FALSE(tokens.empty());
  check_along(*g, trie, tokens);
}

TEST(TokenFilter, Llama3VocabularyMatchesDirectSimulation) {
  check_real_vocab("ggml-vocab-llama-bpe.gguf");
}
TEST(TokenFilter, SentencePieceVocabularyMatchesDirectSimulation) {
  check_real_vocab("ggml-vocab-llama-spm.gguf");
}

}  // namespace
}  // namespace ember::grammar
