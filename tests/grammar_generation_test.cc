// Grammar-constrained generation end to end on a shared tiny model: every output must parse and
// validate. The model's weights are random, so an unconstrained string would rarely end; the
// tests bias the closing characters upward so generations finish within the token budget (the
// grammar alone decides what is allowed; the bias only changes which allowed token is likely).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ember/engine.h"
#include "testdata.h"

namespace ember {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr uint32_t kSeeds = 5;  // the sanitizer build is ~10x slower; the release build runs 50
#else
constexpr uint32_t kSeeds = 50;
#endif

class GrammarGeneration : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto dir = testing::testdata_dir();
    if (dir.empty()) {
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true") {
        FAIL() << "reference data missing in CI";
      }
      GTEST_SKIP() << "reference data not found; skipping";
    }
    EngineOptions o;
    o.n_ctx = 1024;
    auto e = Engine::load((dir / "models" / "qwen2-q8_0.gguf").string(), o);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    engine_ = std::move(*e);
  }

  GenerationParams params(uint32_t seed) {
    GenerationParams p;
    p.sampling.temperature = 1.0f;
    p.sampling.seed = seed;
    p.max_tokens = 600;
    for (const char* closing : {"\"", "}", "]", "\"}", "\"]", "}]", "]}"}) {
      auto ids = engine_->tokenize(closing, false, false);
      if (ids.ok() && ids->size() == 1) p.sampling.logit_bias[(*ids)[0]] = 6.0f;
    }
    return p;
  }

  std::unique_ptr<Engine> engine_;
};

TEST_F(GrammarGeneration, JsonGbnfAlwaysParses) {
  const auto text = testing::read_file_bytes(testing::testdata_dir() / "grammars" / "json.gbnf");
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    GenerationParams p = params(seed);
    p.grammar.assign(text.begin(), text.end());
    auto r = engine_->generate("Output JSON:", p);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->finish_reason, FinishReason::kStop)
        << "seed " << seed << ": " << finish_reason_name(r->finish_reason) << " " << r->text;
    auto parsed = nlohmann::json::parse(r->text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "seed " << seed << ": " << r->text;
    EXPECT_TRUE(parsed.is_object()) << r->text;  // json.gbnf's root is an object
  }
}

TEST_F(GrammarGeneration, JsonSchemaOutputValidates) {
  const std::string schema = R"({
    "type": "object",
    "properties": {
      "name": {"type": "string", "minLength": 1, "maxLength": 12},
      "color": {"enum": ["red", "green", "blue"]},
      "count": {"type": "integer", "minimum": 0, "maximum": 99},
      "tags": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 3},
      "grid": {"type": "array", "minItems": 1, "maxItems": 2,
               "items": {"type": "array", "maxItems": 3, "items": {"type": "boolean"}}}
    },
    "required": ["name", "color", "grid"],
    "additionalProperties": false
  })";
  for (uint32_t seed = 1; seed <= kSeeds; ++seed) {
    GenerationParams p = params(seed);
    p.json_schema = schema;
    auto r = engine_->generate("Output JSON:", p);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->finish_reason, FinishReason::kStop) << "seed " << seed << ": " << r->text;
    auto j = nlohmann::json::parse(r->text, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "seed " << seed << ": " << r->text;
    ASSERT_TRUE(j.is_object());
    for (auto it = j.begin(); it != j.end(); ++it) {
      EXPECT_TRUE(it.key() == "name" || it.key() == "color" || it.key() == "count" ||
                  it.key() == "tags" || it.key() == "grid")
          << "unexpected key " << it.key();
    }
    ASSERT_TRUE(j.contains("name") && j["name"].is_string());
    const size_t name_chars = [&] {
      size_t n = 0;
      for (unsigned char c : j["name"].get<std::string>()) n += (c & 0xC0) != 0x80;
      return n;
    }();
    EXPECT_GE(name_chars, 1u);
    EXPECT_LE(name_chars, 12u);
    ASSERT_TRUE(j.contains("color"));
    const std::string color = j["color"].get<std::string>();
    EXPECT_TRUE(color == "red" || color == "green" || color == "blue") << color;
    if (j.contains("count")) {
      ASSERT_TRUE(j["count"].is_number_integer());
      EXPECT_GE(j["count"].get<int>(), 0);
      EXPECT_LE(j["count"].get<int>(), 99);
    }
    if (j.contains("tags")) {
      ASSERT_TRUE(j["tags"].is_array());
      EXPECT_LE(j["tags"].size(), 3u);
      for (const auto& t : j["tags"]) EXPECT_TRUE(t.is_string());
    }
    ASSERT_TRUE(j["grid"].is_array());
    EXPECT_GE(j["grid"].size(), 1u);
    EXPECT_LE(j["grid"].size(), 2u);
    for (const auto& row : j["grid"]) {
      ASSERT_TRUE(row.is_array());
      EXPECT_LE(row.size(), 3u);
      for (const auto& b : row) EXPECT_TRUE(b.is_boolean());
    }
  }
}

// With ignore_eos, a grammar that has completed and allows nothing but end-of-generation ends
// the reply (finish "stop", the complete text), instead of failing with "no token allowed".
TEST_F(GrammarGeneration, IgnoreEosEndsWhenTheGrammarIsComplete) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    GenerationParams p = params(seed);
    p.grammar = R"(root ::= "yes" | "no")";
    p.ignore_eos = true;
    p.max_tokens = 40;
    auto r = engine_->generate("Answer:", p);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->finish_reason, FinishReason::kStop)
        << "seed " << seed << ": " << r->error.to_string() << " " << r->text;
    EXPECT_TRUE(r->text == "yes" || r->text == "no") << r->text;
  }
}

TEST_F(GrammarGeneration, BadGrammarOrSchemaIsAnError) {
  GenerationParams p = params(1);
  p.grammar = "root ::= undefined-rule";
  auto r = engine_->generate("x", p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("grammar"), std::string::npos) << r.status().message();
  p.grammar.clear();
  p.json_schema = R"({"type": "object", "patternProperties": {"a": {}}})";
  EXPECT_FALSE(engine_->generate("x", p).ok());
  p.json_schema = "{not json";
  EXPECT_FALSE(engine_->generate("x", p).ok());
  p.grammar = "root ::= \"a\"";
  EXPECT_FALSE(engine_->generate("x", p).ok()) << "grammar and schema together";
}

TEST_F(GrammarGeneration, FixedGrammarIsFollowedExactly) {
  GenerationParams p = params(3);
  p.grammar = R"(root ::= "yes" | "no")";
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    p.sampling.seed = seed;
    auto r = engine_->generate("Answer:", p);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(r->text == "yes" || r->text == "no") << r->text;
    EXPECT_EQ(r->finish_reason, FinishReason::kStop);
  }
  // Mirostat masks before sampling: same guarantee.
  p.sampling.mirostat = 2;
  auto r = engine_->generate("Answer:", p);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->text == "yes" || r->text == "no") << r->text;
}

}  // namespace
}  // namespace ember
