// libFuzzer target for the tokenizers: any bytes (invalid UTF-8, NUL, special-token markup) must
// tokenize without crashing, give the same ids every time, give ids inside the vocabulary, and
// detokenize cleanly.
//
// Vocabularies: three small ones synthesized in memory (SentencePiece with byte fallback,
// byte-level BPE with the Llama 3 splitter, WordPiece), so the target works anywhere, plus every
// ../shared/testdata/vocab/*.gguf found (or $EMBER_TESTDATA/vocab). Input byte 0 picks the
// vocabulary and the add_special / parse_special flags; the rest is the text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ember/tokenizer.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer_gguf.h"
#include "tokenizer/unicode.h"

namespace {

using ember::GgufType;
using ember::GgufValue;
using ember::Tokenizer;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", what);
    std::abort();
  }
}

std::unique_ptr<Tokenizer> from_writer(const ember::GgufWriter& w) {
  auto bytes = w.write_to_memory();
  check(bytes.ok(), "writing a synthesized vocabulary");
  auto file = ember::GgufFile::from_bytes(*bytes);
  check(file.ok(), "parsing a synthesized vocabulary");
  auto tok = ember::tokenizer_from_gguf(*file);
  check(tok.ok(), "loading a synthesized vocabulary");
  return std::make_unique<Tokenizer>(std::move(tok).value());
}

const char* const kWords[] = {"the", "he",  "in",  "er",  "an", "on", "at",   "en",    "or",   "is",
                              "it",  "ing", "ion", "and", "to", "of", "that", "hello", "world"};

std::unique_ptr<Tokenizer> spm_vocab() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "<|im_start|>", "<tool>"};
  std::vector<int64_t> types = {2, 3, 3, 3, 4};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.emplace_back(buf);
    types.push_back(6);
  }
  const std::string space = "\xe2\x96\x81";
  tokens.push_back(space);
  types.push_back(1);
  for (const char* w : kWords) {
    for (const std::string& t : {std::string(w), space + w}) {
      tokens.push_back(t);
      types.push_back(1);
    }
  }
  std::vector<double> scores;
  for (size_t i = 0; i < tokens.size(); ++i) scores.push_back(-static_cast<double>(i % 17));
  ember::GgufWriter w;
  w.set("general.name", GgufValue::string("phi3-like"));  // exercises the rstrip rule
  w.set("tokenizer.ggml.model", GgufValue::string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::float_array(GgufType::kF32, scores));
  w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufType::kI32, types));
  w.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(true));
  return from_writer(w);
}

std::unique_ptr<Tokenizer> bpe_vocab() {
  // The 256 byte characters, then merges building the words (with and without a leading space).
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    ember::tokenizer::append_utf8(ember::tokenizer::byte_to_codepoint(static_cast<uint8_t>(b)), s);
    tokens.push_back(s);
  }
  std::vector<std::string> merges;
  const std::string space = "\xc4\xa0";  // 'Ġ', the byte character of ' '
  for (const char* w : kWords) {
    for (const std::string& prefix : {std::string(), space}) {
      std::string built = prefix.empty() ? std::string(1, w[0]) : prefix;
      for (size_t i = prefix.empty() ? 1 : 0; w[i] != '\0'; ++i) {
        const std::string next = built + w[i];
        bool known = false;
        for (const std::string& t : tokens) known = known || t == next;
        if (!known) {
          merges.push_back(built + " " + std::string(1, w[i]));
          tokens.push_back(next);
        }
        built = next;
      }
    }
  }
  std::vector<int64_t> types(tokens.size(), 1);
  for (const char* s : {"<|begin_of_text|>", "<|eot_id|>", "<|user|>"}) {
    tokens.emplace_back(s);
    types.push_back(3);
  }
  ember::GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  w.set("tokenizer.ggml.pre", GgufValue::string("llama-bpe"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufType::kI32, types));
  w.set("tokenizer.ggml.merges", GgufValue::string_array(merges));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(tokens.size() - 3)));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(tokens.size() - 2)));
  return from_writer(w);
}

std::unique_ptr<Tokenizer> wpm_vocab() {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  std::vector<int64_t> types = {3, 2, 3, 3, 3};
  const std::string space = "\xe2\x96\x81";
  for (char c = 'a'; c <= 'z'; ++c) {
    for (const std::string& t : {std::string(1, c), space + c}) {
      tokens.push_back(t);
      types.push_back(1);
    }
  }
  for (const char* wd : kWords) {
    tokens.push_back(space + wd);
    types.push_back(1);
  }
  for (const char* p : {".", ",", "!", "?", "\xe4\xb8\xad"}) {
    tokens.push_back(space + p);
    types.push_back(1);
  }
  ember::GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::string("bert"));
  w.set("tokenizer.ggml.tokens", GgufValue::string_array(tokens));
  w.set("tokenizer.ggml.token_type", GgufValue::int_array(GgufType::kI32, types));
  w.set("tokenizer.ggml.padding_token_id", GgufValue::u32(0));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(1));
  w.set("tokenizer.ggml.cls_token_id", GgufValue::u32(2));
  w.set("tokenizer.ggml.seperator_token_id", GgufValue::u32(3));
  w.set("tokenizer.ggml.mask_token_id", GgufValue::u32(4));
  return from_writer(w);
}

std::vector<std::unique_ptr<Tokenizer>>& tokenizers() {
  static std::vector<std::unique_ptr<Tokenizer>> all = [] {
    std::vector<std::unique_ptr<Tokenizer>> v;
    v.push_back(spm_vocab());
    v.push_back(bpe_vocab());
    v.push_back(wpm_vocab());
    std::filesystem::path dir;
    if (const char* env = std::getenv("EMBER_TESTDATA"); env != nullptr && *env != '\0') {
      dir = env;
    } else {
      dir = std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" /
            "testdata";
    }
    std::error_code ec;
    if (std::filesystem::is_directory(dir / "vocab", ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(dir / "vocab", ec)) {
        if (e.path().extension() == ".gguf") files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        auto tok = Tokenizer::load(f.string());
        check(tok.ok(), "loading a reference vocabulary");
        v.push_back(std::make_unique<Tokenizer>(std::move(tok).value()));
      }
    }
    std::fprintf(stderr, "tokenizer_fuzz: %zu vocabularies\n", v.size());
    return v;
  }();
  return all;
}

}  // namespace

// Loading the vocabularies takes seconds under ASan: do it before the first timed input.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& all = tokenizers();
  const uint8_t selector = data[0];
  const Tokenizer& tok = *all[(selector >> 2) % all.size()];
  const bool add_special = (selector & 1) != 0;
  const bool parse_special = (selector & 2) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto first = tok.tokenize(text, add_special, parse_special);
  check(first.ok(), "tokenize failed on a small input");
  auto second = tok.tokenize(text, add_special, parse_special);
  check(second.ok() && *second == *first, "tokenize is not deterministic");
  // The documented bound: at most four tokens per input byte, plus five.
  check(first->size() <= 4 * text.size() + 5, "more tokens than the documented bound");
  for (int32_t id : *first) check(id >= 0 && id < tok.n_vocab(), "id outside the vocabulary");
  auto count = tok.token_count(text, add_special, parse_special);
  check(count.ok() && *count == first->size(), "token_count disagrees with tokenize");
  if (!parse_special) {
    // Security: without parse_special no control token comes from text (BOS/EOS added by
    // add_special are the only ones; <unk> stands for text a vocabulary cannot spell).
    for (size_t i = 0; i < first->size(); ++i) {
      const int32_t id = (*first)[i];
      const bool added = add_special && (i == 0 || i + 1 == first->size());
      check(added || id == tok.unk() || !tok.is_control(id),
            "control token produced without parse_special");
    }
  }
  for (bool remove : {false, true}) {
    for (bool unparse : {false, true}) {
      auto text_back = tok.detokenize(*first, remove, unparse);
      check(text_back.ok(), "detokenize failed on tokenize's output");
    }
  }
  // Arbitrary ids (two bytes each) must be rejected or rendered, never crash.
  std::vector<int32_t> raw_ids;
  for (size_t i = 1; i + 1 < size; i += 2) {
    raw_ids.push_back(static_cast<int32_t>(data[i] | (data[i + 1] << 8)) - 64);
  }
  auto rendered = tok.detokenize(raw_ids, (selector & 1) != 0, (selector & 2) != 0);
  bool all_valid = true;
  for (int32_t id : raw_ids) all_valid = all_valid && id >= 0 && id < tok.n_vocab();
  check(rendered.ok() == all_valid, "detokenize range check");
  return 0;
}
