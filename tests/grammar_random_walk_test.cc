// Constrained generation end to end without a model: random walks that pick uniformly among the
// tokens TokenFilter allows (a handmade vocabulary with multi-byte pieces and split UTF-8) must
// always end in text that parses as JSON and satisfies the schema, and never reach a state where
// nothing is allowed before the grammar is complete.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"
#include "grammar/json_schema.h"
#include "grammar/token_filter.h"

namespace ember::grammar {
namespace {

std::vector<std::string> vocabulary() {
  std::vector<std::string> v;
  for (int c = 0x20; c < 0x7F; ++c) v.push_back(std::string(1, static_cast<char>(c)));
  for (const char* s : {"\n",
                        "\t",
                        "{\"",
                        "\":",
                        "\": ",
                        ", \"",
                        "\",",
                        "true",
                        "false",
                        "null",
                        "[]",
                        "{}",
                        "\"}",
                        "\"]",
                        "12",
                        "-1",
                        ".5",
                        "e3",
                        "abc",
                        " the",
                        "name",
                        "age",
                        "tags",
                        "id",
                        "kind",
                        "red",
                        "green",
                        "2024",
                        "-01-",
                        "T12:",
                        "00Z",
                        "\xC3",
                        "\xA9",
                        "\xC3\xA9",
                        "\xE6\x97\xA5",
                        "\xE6",
                        "\x97",
                        "\xA5",
                        "\xF0\x9F\x98\x80",
                        "\\n",
                        "\\u00e9",
                        "\\\"",
                        "  ",
                        "\n  ",
                        "}}",
                        "]]",
                        "0",
                        "00",
                        "01",
                        "99",
                        "100",
                        "\"\"",
                        "x\"",
                        "\"x"}) {
    v.emplace_back(s);
  }
  v.emplace_back("");  // a control token without text: never allowed
  return v;
}

// One random walk: uniform among allowed tokens; once the grammar may end, stop with
// probability 1/3 per step (or when nothing else is allowed). Returns false on a dead end.
bool random_walk(const std::shared_ptr<const Grammar>& g,
                 const std::shared_ptr<const TokenTrie>& trie, uint32_t seed, size_t max_tokens,
                 std::string* out) {
  std::mt19937 rng(seed);
  auto m = GrammarMatcher::create(g);
  if (!m.ok()) return false;
  TokenFilter filter(g, trie);
  TokenMask mask;
  std::vector<int32_t> allowed;
  out->clear();
  for (size_t step = 0; step < max_tokens; ++step) {
    if (!filter.fill_mask(*m, &mask).ok()) return false;
    allowed.clear();
    for (int32_t id = 0; id < static_cast<int32_t>(trie->vocab_size()); ++id) {
      if (mask.test(id)) allowed.push_back(id);
    }
    if (m->is_complete() && (allowed.empty() || rng() % 3 == 0)) return true;
    if (allowed.empty()) return false;  // dead end: not complete and nothing allowed
    const int32_t id = allowed[rng() % allowed.size()];
    auto ok = filter.accept_token(*m, id);
    if (!ok.ok() || !*ok) return false;
    out->append(trie->token_bytes(id));
  }
  return m->is_complete();
}

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

TEST(GrammarRandomWalk, SchemaConstrainedWalksAlwaysValidate) {
  const std::string schema = R"({
    "type": "object",
    "properties": {
      "id": {"type": "integer", "minimum": -20, "maximum": 2024},
      "name": {"type": "string", "minLength": 1, "maxLength": 6},
      "kind": {"enum": ["red", "green", 3, null]},
      "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 3},
      "grid": {"type": "array", "maxItems": 2,
               "items": {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 2}},
      "ok": {"type": "boolean"}
    },
    "required": ["id", "name", "kind"]
  })";
  auto gbnf = json_schema_text_to_gbnf(schema);
  ASSERT_TRUE(gbnf.ok()) << gbnf.status().to_string();
  auto g = parse_gbnf(*gbnf);
  ASSERT_TRUE(g.ok());
  auto trie = std::make_shared<const TokenTrie>(vocabulary());
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::string text;
    ASSERT_TRUE(random_walk(*g, trie, seed, 2000, &text)) << "seed " << seed << ": " << text;
    SCOPED_TRACE(text);
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(text));
    ASSERT_TRUE(j.is_object());
    ASSERT_TRUE(j["id"].is_number_integer());
    EXPECT_GE(j["id"].get<int64_t>(), -20);
    EXPECT_LE(j["id"].get<int64_t>(), 2024);
    ASSERT_TRUE(j["name"].is_string());
    EXPECT_GE(code_points(j["name"].get<std::string>()), 1u);
    EXPECT_LE(code_points(j["name"].get<std::string>()), 6u);
    EXPECT_TRUE(j["kind"] == "red" || j["kind"] == "green" || j["kind"] == 3 ||
                j["kind"].is_null());
    for (const auto& [key, value] : j.items()) {
      EXPECT_TRUE(key == "id" || key == "name" || key == "kind" || key == "tags" || key == "grid" ||
                  key == "ok")
          << key;
    }
    if (j.contains("tags")) {
      ASSERT_TRUE(j["tags"].is_array());
      EXPECT_LE(j["tags"].size(), 3u);
      for (const auto& t : j["tags"]) EXPECT_LE(code_points(t.get<std::string>()), 3u);
    }
    if (j.contains("grid")) {
      ASSERT_TRUE(j["grid"].is_array());
      EXPECT_LE(j["grid"].size(), 2u);
      for (const auto& row : j["grid"]) {
        ASSERT_TRUE(row.is_array());
        EXPECT_GE(row.size(), 1u);
        EXPECT_LE(row.size(), 2u);
        for (const auto& b : row) EXPECT_TRUE(b.is_boolean());
      }
    }
    if (j.contains("ok")) {
      EXPECT_TRUE(j["ok"].is_boolean());
    }
  }
}

TEST(GrammarRandomWalk, FormatAndPatternWalksAlwaysValidate) {
  const std::string schema = R"({"type": "array", "minItems": 1, "maxItems": 3, "items": {
      "anyOf": [{"type": "string", "format": "date"},
                {"type": "string", "pattern": "^[a-c]{2}-\\d{1,2}$"},
                {"type": "number", "minimum": -1, "maximum": 1}]}})";
  auto gbnf = json_schema_text_to_gbnf(schema);
  ASSERT_TRUE(gbnf.ok()) << gbnf.status().to_string();
  auto g = parse_gbnf(*gbnf);
  ASSERT_TRUE(g.ok());
  auto trie = std::make_shared<const TokenTrie>(vocabulary());
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::string text;
    ASSERT_TRUE(random_walk(*g, trie, seed, 2000, &text)) << "seed " << seed << ": " << text;
    SCOPED_TRACE(text);
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(text));
    ASSERT_TRUE(j.is_array());
    EXPECT_GE(j.size(), 1u);
    EXPECT_LE(j.size(), 3u);
    for (const auto& item : j) {
      if (item.is_number()) {
        EXPECT_GE(item.get<double>(), -1.0);
        EXPECT_LE(item.get<double>(), 1.0);
        continue;
      }
      ASSERT_TRUE(item.is_string());
      const std::string s = item.get<std::string>();
      const bool date = s.size() == 10 && s[4] == '-' && s[7] == '-';
      const bool pattern =
          s.size() >= 4 && s.size() <= 5 && s[0] >= 'a' && s[0] <= 'c' && s[1] >= 'a' &&
          s[1] <= 'c' && s[2] == '-' &&
          std::all_of(s.begin() + 3, s.end(), [](char c) { return c >= '0' && c <= '9'; });
      EXPECT_TRUE(date || pattern) << s;
      if (date) {
        const int month = std::stoi(s.substr(5, 2)), day = std::stoi(s.substr(8, 2));
        EXPECT_GE(month, 1);
        EXPECT_LE(month, 12);
        EXPECT_GE(day, 1);
        EXPECT_LE(day, 31);
      }
    }
  }
}

TEST(GrammarRandomWalk, FreeJsonWalksParse) {
  // An unbounded JSON grammar: after 40 tokens the walk prefers closing tokens so it ends.
  auto g = parse_gbnf(R"(
root  ::= obj
value ::= obj | arr | str | num | "true" | "false" | "null"
obj   ::= "{" ws ( str ws ":" ws value ws ( "," ws str ws ":" ws value ws )* )? "}"
arr   ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
str   ::= "\"" ( [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
num   ::= "-"? ( "0" | [1-9] [0-9]{0,6} ) ( "." [0-9]{1,6} )?
ws    ::= [ \n]{0,2}
)");
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  const auto vocab = vocabulary();
  auto trie = std::make_shared<const TokenTrie>(vocab);
  size_t lengths = 0;
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    std::mt19937 rng(seed);
    auto m = GrammarMatcher::create(*g);
    ASSERT_TRUE(m.ok());
    TokenFilter filter(*g, trie);
    TokenMask mask;
    std::string text;
    bool done = false;
    for (int step = 0; step < 3000 && !done; ++step) {
      ASSERT_TRUE(filter.fill_mask(*m, &mask).ok());
      std::vector<int32_t> allowed, closing;
      for (int32_t id = 0; id < static_cast<int32_t>(vocab.size()); ++id) {
        if (!mask.test(id)) continue;
        allowed.push_back(id);
        const char c = vocab[id][0];
        if (c == '}' || c == ']' || c == '"' || c == '0' || c == ',') closing.push_back(id);
      }
      if (m->is_complete()) {
        done = true;
        break;
      }
      ASSERT_FALSE(allowed.empty()) << "dead end after: " << text;
      const auto& pool = step > 40 && !closing.empty() ? closing : allowed;
      const int32_t id = pool[rng() % pool.size()];
      ASSERT_TRUE(filter.accept_token(*m, id).value());
      text += vocab[id];
    }
    ASSERT_TRUE(done) << "seed " << seed << " did not finish: " << text;
    nlohmann::json parsed;
    EXPECT_NO_THROW(parsed = nlohmann::json::parse(text)) << text;
    lengths += text.size();
  }
  EXPECT_GT(lengths, 50u * 20u);  // the walks produce real documents, not just "{}"
}

}  // namespace
}  // namespace ember::grammar
