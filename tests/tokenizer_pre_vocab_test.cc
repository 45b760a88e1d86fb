// End-to-end check of the pre-tokenizers against llama.cpp's reference token ids
// (../shared/testdata/vocab/ggml-vocab-*.gguf + .inp/.out).
//
// The reference ids come from llama.cpp's full BPE tokenizer, so this test carries a small, plain
// byte-level BPE of its own (GPT-2 byte alphabet, merges by rank, leftmost pair first; a word that
// is a whole token skips the merges when llama.cpp's ignore_merges applies; user-defined tokens are
// split out first, as llama.cpp does even without special-token parsing). It exists only to
// validate the word splitting; the real tokenizer lives elsewhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "gguf/gguf.h"
#include "testdata.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace ember::tokenizer {
namespace {

struct TestBpe {
  PreTokenizer kind = PreTokenizer::kGpt2;
  bool ignore_merges = false;
  std::unordered_map<std::string, int> token_ids;
  std::unordered_map<std::string, int> merge_ranks;  // "left right" -> rank
  std::vector<std::string> user_defined;             // longest first

  std::string byte_encode(std::string_view word) const {
    std::string out;
    for (unsigned char b : word) append_utf8(byte_to_codepoint(b), out);
    return out;
  }

  void encode_word(const std::string& word, std::vector<int>& ids) const {
    if (ignore_merges) {
      if (auto it = token_ids.find(word); it != token_ids.end()) {
        ids.push_back(it->second);
        return;
      }
    }
    std::vector<std::string> symbols;
    for (size_t pos = 0; pos < word.size();) {
      const size_t len =
          std::min(word.size() - pos, utf8_sequence_length(static_cast<uint8_t>(word[pos])));
      symbols.push_back(word.substr(pos, len));
      pos += len;
    }
    while (symbols.size() > 1) {
      int best_rank = INT_MAX;
      size_t best = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        auto it = merge_ranks.find(symbols[i] + " " + symbols[i + 1]);
        if (it != merge_ranks.end() && it->second < best_rank) {
          best_rank = it->second;
          best = i;
        }
      }
      if (best_rank == INT_MAX) break;
      symbols[best] += symbols[best + 1];
      symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    }
    for (const std::string& s : symbols) {
      if (auto it = token_ids.find(s); it != token_ids.end()) {
        ids.push_back(it->second);
        continue;
      }
      for (char c : s) {
        if (auto it = token_ids.find(std::string(1, c)); it != token_ids.end()) {
          ids.push_back(it->second);
        }
      }
    }
  }

  void encode_fragment(std::string_view text, std::vector<int>& ids) const {
    const std::string clean = sanitize_utf8(text);
    for (std::string_view w : pre_tokenize_views(kind, clean)) encode_word(byte_encode(w), ids);
  }

  std::vector<int> encode(std::string_view text) const {
    std::vector<int> ids;
    // Split out user-defined tokens (longest first at each position), BPE the rest.
    size_t start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      const std::string* hit = nullptr;
      for (const std::string& t : user_defined) {
        if (text.compare(pos, t.size(), t) == 0) {
          hit = &t;
          break;
        }
      }
      if (hit == nullptr) {
        ++pos;
        continue;
      }
      if (pos > start) encode_fragment(text.substr(start, pos - start), ids);
      ids.push_back(token_ids.at(*hit));
      pos += hit->size();
      start = pos;
    }
    if (start < text.size()) encode_fragment(text.substr(start), ids);
    return ids;
  }
};

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Checks the reference ids of one vocabulary; with `kind_override`, splits with another kind
// instead and returns how many cases then still match (a control that the splitting matters).
int check_vocab(const std::string& name, std::optional<PreTokenizer> kind_override = {}) {
  const std::filesystem::path dir = ::ember::testing::testdata_dir();
  if (dir.empty()) return -1;
  const std::filesystem::path base = dir / "vocab" / ("ggml-vocab-" + name + ".gguf");
  auto file = GgufFile::open(base.string());
  if (!file.ok()) {
    ADD_FAILURE() << file.status().to_string();
    return -1;
  }
  auto pre = file->get_string("tokenizer.ggml.pre");
  if (!pre.ok()) {
    ADD_FAILURE() << pre.status().to_string();
    return -1;
  }
  auto defaults = pre_tokenizer_defaults(*pre);
  if (!defaults) {
    ADD_FAILURE() << "unknown pre-tokenizer " << *pre;
    return -1;
  }

  TestBpe bpe;
  bpe.kind = kind_override.value_or(defaults->kind);
  bpe.ignore_merges = defaults->ignore_merges;
  const GgufValue* tokens = file->find("tokenizer.ggml.tokens");
  const GgufValue* merges = file->find("tokenizer.ggml.merges");
  if (tokens == nullptr || merges == nullptr) {
    ADD_FAILURE() << "no tokens or merges";
    return -1;
  }
  auto token_list = tokens->as_string_array();
  auto merge_list = merges->as_string_array();
  if (!token_list.ok() || !merge_list.ok()) {
    ADD_FAILURE() << "bad tokens or merges";
    return -1;
  }
  for (size_t i = 0; i < token_list->size(); ++i) {
    bpe.token_ids.emplace((*token_list)[i], static_cast<int>(i));
  }
  for (size_t i = 0; i < merge_list->size(); ++i) {
    bpe.merge_ranks.emplace((*merge_list)[i], static_cast<int>(i));
  }
  if (const GgufValue* types = file->find("tokenizer.ggml.token_type")) {
    auto type_list = types->as_int_array();
    if (!type_list.ok()) {
      ADD_FAILURE() << type_list.status().to_string();
      return -1;
    }
    for (size_t i = 0; i < type_list->size(); ++i) {
      if ((*type_list)[i] == 4) bpe.user_defined.push_back((*token_list)[i]);  // USER_DEFINED
    }
    std::stable_sort(
        bpe.user_defined.begin(), bpe.user_defined.end(),
        [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }

  const std::string inp = read_text(base.string() + ".inp");
  const std::string out = read_text(base.string() + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    inputs.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::vector<int>> expected;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream ids(line);
    std::vector<int> v;
    for (int id; ids >> id;) v.push_back(id);
    expected.push_back(v);
  }
  if (inputs.size() != expected.size() || inputs.size() < 10) {
    ADD_FAILURE() << "bad .inp/.out pair: " << inputs.size() << " inputs, " << expected.size()
                  << " outputs";
    return -1;
  }
  int matching = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int> ids = bpe.encode(inputs[i]);
    matching += ids == expected[i];
    if (!kind_override) {
      EXPECT_EQ(ids, expected[i]) << name << " case " << i << ": '" << inputs[i] << "'";
    }
  }
  return matching;
}

#define EMBER_VOCAB_TEST(test_name, vocab) \
  TEST(TokenizerPreVocab, test_name) {     \
    EMBER_REQUIRE_TESTDATA(dir);           \
    (void)dir;                             \
    EXPECT_GT(check_vocab(vocab), 0);      \
  }

EMBER_VOCAB_TEST(Gpt2, "gpt-2")
EMBER_VOCAB_TEST(LlamaBpe, "llama-bpe")
EMBER_VOCAB_TEST(DeepseekCoder, "deepseek-coder")
EMBER_VOCAB_TEST(DeepseekLlm, "deepseek-llm")
EMBER_VOCAB_TEST(Falcon, "falcon")
EMBER_VOCAB_TEST(Mpt, "mpt")
EMBER_VOCAB_TEST(Refact, "refact")
EMBER_VOCAB_TEST(Starcoder, "starcoder")

#undef EMBER_VOCAB_TEST

// Control: the wrong splitting must break some reference cases, or the checks above prove little.
TEST(TokenizerPreVocab, WrongPreTokenizerIsDetected) {
  EMBER_REQUIRE_TESTDATA(dir);
  (void)dir;
  EXPECT_LT(check_vocab("gpt-2", PreTokenizer::kLlama3), check_vocab("gpt-2"));
  EXPECT_LT(check_vocab("starcoder", PreTokenizer::kGpt2), check_vocab("starcoder"));
  EXPECT_LT(check_vocab("deepseek-coder", PreTokenizer::kGpt2), check_vocab("deepseek-coder"));
}

}  // namespace
}  // namespace ember::tokenizer
