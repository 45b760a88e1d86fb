// Tokenizer conformance against llama.cpp's outputs in the shared reference data:
//  - every case of every vocabulary in vocab/ (.inp -> .out, no BOS/EOS, no special parsing),
//  - the prompt_tokens of every golden/*.json with its model's own settings,
//  - the round trip detokenize(tokenize(x)) == x on the SentencePiece and byte-level BPE
//    vocabularies (with the documented leading-space and clean-up rules).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "ember/tokenizer.h"
#include "testdata.h"
#include "tokenizer/pieces.h"

namespace ember {
namespace {

constexpr std::string_view kCaseSeparator = "\n__ggml_vocab_test__\n";

std::string read_text(const std::filesystem::path& p) {
  const std::vector<char> bytes = testing::read_file_bytes(p);
  return std::string(bytes.begin(), bytes.end());
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  std::vector<std::string> parts;
  size_t pos = 0;
  for (;;) {
    const size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) {
      parts.emplace_back(s.substr(pos));
      return parts;
    }
    parts.emplace_back(s.substr(pos, next - pos));
    pos = next + sep.size();
  }
}

// Printable form of a test string for failure messages.
std::string show(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    s += ' ';
    s += std::to_string(id);
  }
  return s;
}

struct VocabCase {
  std::string input;
  std::string expected;  // " id id id" as in the .out file
};

// The cases of one vocabulary: .inp holds the strings separated by kCaseSeparator, .out one line
// of expected ids per string (both files end with a separator / newline, which yields one final
// empty case in each).
std::vector<VocabCase> read_cases(const std::filesystem::path& gguf) {
  const std::vector<std::string> inputs = split(read_text(gguf.string() + ".inp"), kCaseSeparator);
  const std::vector<std::string> outputs = split(read_text(gguf.string() + ".out"), "\n");
  EXPECT_EQ(inputs.size(), outputs.size()) << gguf;
  std::vector<VocabCase> cases;
  for (size_t i = 0; i < inputs.size() && i < outputs.size(); ++i) {
    cases.push_back({inputs[i], outputs[i]});
  }
  return cases;
}

std::vector<std::filesystem::path> vocab_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir / "vocab")) {
    if (e.path().extension() == ".gguf") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(TokenizerVocab, EveryCaseOfEveryVocabularyMatchesTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::vector<std::filesystem::path> files = vocab_files(dir);
  EXPECT_EQ(files.size(), 11u) << "the reference data lists 11 vocabularies";
  size_t total_cases = 0;
  size_t total_mismatches = 0;
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    Result<Tokenizer> tok = Tokenizer::load(file.string());
    ASSERT_TRUE(tok.ok()) << name << ": " << tok.status().to_string();
    EXPECT_TRUE(tok->warnings().empty()) << name << ": " << tok->warnings().front();
    size_t mismatches = 0;
    const std::vector<VocabCase> cases = read_cases(file);
    for (size_t i = 0; i < cases.size(); ++i) {
      Result<std::vector<int32_t>> ids = tok->tokenize(cases[i].input, false, false);
      ASSERT_TRUE(ids.ok()) << name << " case " << i << ": " << ids.status().to_string();
      const std::string got = ids_to_string(*ids);
      if (got != cases[i].expected) {
        ++mismatches;
        ADD_FAILURE() << name << " case " << i << " input " << show(cases[i].input)
                      << "\n  expected:" << cases[i].expected << "\n  got:     " << got;
      }
    }
    std::printf("[ vocab    ] %-34s %3zu cases, %zu mismatches\n", name.c_str(), cases.size(),
                mismatches);
    total_cases += cases.size();
    total_mismatches += mismatches;
  }
  EXPECT_EQ(total_mismatches, 0u) << "of " << total_cases << " cases";
}

// The Unigram (t5) vocabulary of the XLM-RoBERTa family, in embed/vocab/: every case exactly.
TEST(TokenizerVocab, UnigramVocabularyMatchesTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::filesystem::path file = dir / "embed" / "vocab" / "ggml-vocab-nomic-bert-moe.gguf";
  if (!std::filesystem::exists(file)) GTEST_SKIP() << "no " << file;
  Result<Tokenizer> tok = Tokenizer::load(file.string());
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ(tok->kind(), VocabKind::kUnigram);
  const std::vector<VocabCase> cases = read_cases(file);
  EXPECT_GE(cases.size(), 30u);
  size_t mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    Result<std::vector<int32_t>> ids = tok->tokenize(cases[i].input, false, false);
    ASSERT_TRUE(ids.ok()) << "case " << i << ": " << ids.status().to_string();
    const std::string got = ids_to_string(*ids);
    if (got != cases[i].expected) {
      ++mismatches;
      ADD_FAILURE() << "case " << i << " input " << show(cases[i].input)
                    << "\n  expected:" << cases[i].expected << "\n  got:     " << got;
    }
  }
  EXPECT_EQ(mismatches, 0u);
  // With specials: <s> text </s> (add_bos and add_eos are set in the file).
  Result<std::vector<int32_t>> ids = tok->tokenize("Hello world", true, false);
  ASSERT_TRUE(ids.ok());
  ASSERT_GE(ids->size(), 3u);
  EXPECT_EQ(ids->front(), tok->bos());
  EXPECT_EQ(ids->back(), tok->eos());
}

// The tokenizers of the 2026 families (families/vocab): every case exact, and the pieces give the
// input back.
TEST(TokenizerVocab, FamilyVocabulariesMatchTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  for (const std::string name : {"gemma-4", "qwen35"}) {
    const auto file = dir / "families" / "vocab" / ("ggml-vocab-" + name + ".gguf");
    Result<Tokenizer> tok = Tokenizer::load(file.string());
    ASSERT_TRUE(tok.ok()) << name << ": " << tok.status().to_string();
    EXPECT_TRUE(tok->warnings().empty()) << name << ": " << tok->warnings().front();
    const std::vector<VocabCase> cases = read_cases(file);
    EXPECT_GE(cases.size(), 10u) << name;
    size_t mismatches = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
      Result<std::vector<int32_t>> ids = tok->tokenize(cases[i].input, false, false);
      ASSERT_TRUE(ids.ok()) << name << " case " << i << ": " << ids.status().to_string();
      const std::string got = ids_to_string(*ids);
      if (got != cases[i].expected) {
        ++mismatches;
        ADD_FAILURE() << name << " case " << i << " input " << show(cases[i].input)
                      << "\n  expected:" << cases[i].expected << "\n  got:     " << got;
      }
      std::string pieces;
      for (int32_t id : *ids) pieces += tok->token_to_piece(id).value();
      EXPECT_EQ(pieces, cases[i].input) << name << " case " << i;
    }
    std::printf("[ vocab    ] %-34s %3zu cases, %zu mismatches\n", name.c_str(), cases.size(),
                mismatches);
  }
}

// The prompts of the families' goldens, tokenized by each model's own vocabulary (BOS rule
// included) for the families ember supports.
TEST(TokenizerVocab, FamilyGoldenPromptTokensMatchTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  int checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "families" / "golden")) {
    const std::string file = e.path().filename().string();
    if (e.path().extension() != ".json") continue;
    // Every family's tokenizer (including those whose architecture ember does not run yet).
    SCOPED_TRACE(file);
    const std::string model = file.substr(0, file.find('.'));
    Result<Tokenizer> tok =
        Tokenizer::load((dir / "families" / "models" / (model + ".gguf")).string());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    const auto j = nlohmann::json::parse(read_text(e.path()));
    const auto expected = j.at("prompt_tokens").get<std::vector<int32_t>>();
    Result<std::vector<int32_t>> ids =
        tok->tokenize(j.at("prompt").get<std::string>(), j.at("add_special").get<bool>(),
                      j.at("parse_special").get<bool>());
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    EXPECT_EQ(*ids, expected) << "\n  expected:" << ids_to_string(expected)
                              << "\n  got:     " << ids_to_string(*ids);
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(TokenizerVocab, GoldenPromptTokensMatchTheReference) {
  EMBER_REQUIRE_TESTDATA(dir);
  std::map<std::string, Tokenizer> tokenizers;
  int checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "golden")) {
    if (e.path().extension() != ".json") continue;
    const std::string file = e.path().filename().string();
    const std::string model = file.substr(0, file.find('.'));
    SCOPED_TRACE(file);
    auto it = tokenizers.find(model);
    if (it == tokenizers.end()) {
      Result<Tokenizer> tok = Tokenizer::load((dir / "models" / (model + ".gguf")).string());
      ASSERT_TRUE(tok.ok()) << tok.status().to_string();
      it = tokenizers.emplace(model, std::move(tok).value()).first;
    }
    const auto j = nlohmann::json::parse(read_text(e.path()));
    const std::string prompt = j.at("prompt").get<std::string>();
    const bool add_special = j.at("add_special").get<bool>();
    const bool parse_special = j.at("parse_special").get<bool>();
    const auto expected = j.at("prompt_tokens").get<std::vector<int32_t>>();
    Result<std::vector<int32_t>> ids = it->second.tokenize(prompt, add_special, parse_special);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    EXPECT_EQ(*ids, expected) << "prompt " << show(prompt)
                              << "\n  expected:" << ids_to_string(expected)
                              << "\n  got:     " << ids_to_string(*ids);
    // The model's BOS setting is what decides the first token.
    if (add_special && it->second.add_bos()) {
      EXPECT_EQ(ids->front(), it->second.bos());
    }
    ++checked;
  }
  EXPECT_GE(checked, 60);
}

TEST(TokenizerVocab, RoundTripOnSentencePieceAndByteLevelVocabularies) {
  EMBER_REQUIRE_TESTDATA(dir);
  int vocabularies = 0;
  for (const auto& file : vocab_files(dir)) {
    Result<Tokenizer> tok = Tokenizer::load(file.string());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    if (tok->kind() == VocabKind::kWordPiece) continue;  // lossy by design (lower-casing)
    ++vocabularies;
    const std::string name = file.filename().string();
    const bool spm = tok->kind() == VocabKind::kSentencePiece;
    for (const VocabCase& c : read_cases(file)) {
      SCOPED_TRACE(name + " input " + show(c.input));
      Result<std::vector<int32_t>> ids = tok->tokenize(c.input, false, false);
      ASSERT_TRUE(ids.ok());
      // The pieces hold every byte: the input, plus the space SentencePiece puts in front of it.
      std::string pieces;
      for (int32_t id : *ids) pieces += tok->token_to_piece(id).value();
      const std::string prefix = spm && tok->add_space_prefix() && !c.input.empty() ? " " : "";
      EXPECT_EQ(pieces, prefix + c.input);
      // detokenize gives the input back: the SentencePiece prefix space is dropped again, and
      // vocabularies with clean_up_tokenization_spaces get that (documented) clean-up.
      // (The reference sets that flag for every byte-level pre-tokenizer here but DeepSeek's.)
      std::string expected = c.input;
      if (!spm && name.find("deepseek") == std::string::npos) {
        tokenizer::clean_up_spaces(expected);
      }
      Result<std::string> text = tok->detokenize(*ids);
      ASSERT_TRUE(text.ok());
      EXPECT_EQ(*text, expected) << "got " << show(*text);
    }
  }
  EXPECT_EQ(vocabularies, 10);
}

// The vocabularies whose clean-up flag the reference sets (GPT-2 family) do clean " ," etc.; the
// others (e.g. DeepSeek) keep the text as is.
TEST(TokenizerVocab, CleanUpSpacesFollowsThePreTokenizerFlag) {
  EMBER_REQUIRE_TESTDATA(dir);
  const std::string text = "Hello , world ! It 's a ' quoted ' word .";
  const std::map<std::string, std::string> expected = {
      {"gpt-2", "Hello, world! It's a'quoted'word."},
      {"llama-bpe", "Hello, world! It's a'quoted'word."},
      {"deepseek-llm", text},
      {"deepseek-coder", text},
  };
  for (const auto& [name, want] : expected) {
    Result<Tokenizer> tok =
        Tokenizer::load((dir / "vocab" / ("ggml-vocab-" + name + ".gguf")).string());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    Result<std::vector<int32_t>> ids = tok->tokenize(text, false, false);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(tok->detokenize(*ids).value(), want) << name;
  }
}

}  // namespace
}  // namespace ember
