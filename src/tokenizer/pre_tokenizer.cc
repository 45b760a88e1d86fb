// Pre-tokenizer names (every `tokenizer.ggml.pre` value llama.cpp accepts, with the settings its
// loader derives from each) and the public entry points.
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <limits>
#include <string>

#include "tokenizer/pre_tokenizer_programs.h"

namespace ember::tokenizer {

namespace {

// Settings attached to a name (PreTokenizerDefaults without the kind). Defaults are llama.cpp's
// for a BPE vocabulary: clean_spaces on, everything else off, byte encoding on.
enum NameFlag : uint16_t {
  kNoCleanSpaces = 1 << 0,
  kIgnoreMerges = 1 << 1,
  kAddBos = 1 << 2,
  kAddSep = 1 << 3,
  kBosDisabled = 1 << 4,
  kRawUtf8 = 1 << 5,  // no GPT-2 byte encoding
  kEscapeWhitespaces = 1 << 6,
};

struct NameEntry {
  std::string_view name;
  PreTokenizer kind;
  uint16_t flags;
};

using P = PreTokenizer;

// The first entry of each kind is its canonical name.
constexpr NameEntry kNames[] = {
    {"default", P::kDefault, 0},
    {"llama3", P::kLlama3, kIgnoreMerges | kAddBos},
    {"llama-v3", P::kLlama3, kIgnoreMerges | kAddBos},
    {"llama-bpe", P::kLlama3, kIgnoreMerges | kAddBos},
    {"falcon3", P::kLlama3, kIgnoreMerges | kAddBos},
    {"falcon-h1", P::kLlama3, kIgnoreMerges | kAddBos},
    {"pixtral", P::kLlama3, kIgnoreMerges | kAddBos},
    {"midm-2.0", P::kLlama3, kIgnoreMerges | kAddBos},
    {"lfm2", P::kLlama3, kIgnoreMerges | kAddBos},
    {"jina-v5-nano", P::kLlama3, kIgnoreMerges | kAddBos},
    {"deepseek-llm", P::kDeepseekLlm, kNoCleanSpaces},
    {"deepseek-coder", P::kDeepseekCoder, kNoCleanSpaces},
    {"falcon", P::kFalcon, 0},
    {"mpt", P::kMpt, 0},
    {"starcoder", P::kStarcoder, 0},
    {"gpt-2", P::kGpt2, 0},
    {"phi-2", P::kGpt2, 0},
    {"jina-es", P::kGpt2, 0},
    {"jina-de", P::kGpt2, 0},
    {"gigachat", P::kGpt2, 0},
    {"jina-v2-es", P::kGpt2, 0},
    {"jina-v2-de", P::kGpt2, 0},
    {"a.x-4.0", P::kGpt2, 0},
    {"mellum", P::kGpt2, 0},
    {"modern-bert", P::kGpt2, 0},
    {"jina-v1-en", P::kGpt2, kAddSep},
    {"jina-v2-code", P::kGpt2, kAddSep},
    {"roberta-bpe", P::kGpt2, kAddSep},
    {"exaone4", P::kGpt2, 0},
    {"refact", P::kRefact, 0},
    {"command-r", P::kCommandR, kNoCleanSpaces},
    {"stablelm2", P::kStablelm2, 0},
    {"qwen2", P::kQwen2, kNoCleanSpaces},
    {"deepseek-r1-qwen", P::kQwen2, kNoCleanSpaces},
    {"kormo", P::kQwen2, kNoCleanSpaces},
    {"f2llmv2", P::kQwen2, kNoCleanSpaces},
    {"megrez", P::kQwen2, 0},
    {"olmo", P::kOlmo, 0},
    {"dbrx", P::kDbrx, 0},
    {"smaug-bpe", P::kSmaug, 0},
    {"poro-chat", P::kPoro, kNoCleanSpaces},
    {"glm4", P::kChatglm4, kBosDisabled},
    {"chatglm-bpe", P::kChatglm4, kBosDisabled},
    {"viking", P::kViking, kNoCleanSpaces},
    {"jais", P::kJais, 0},
    {"tekken", P::kTekken, kNoCleanSpaces | kIgnoreMerges | kAddBos},
    {"smollm", P::kSmollm, kNoCleanSpaces},
    {"codeshell", P::kCodeshell, 0},
    {"bloom", P::kBloom, 0},
    {"gpt3-finnish", P::kGpt3Finnish, 0},
    {"exaone", P::kExaone, 0},
    {"chameleon", P::kChameleon, kAddBos | kNoCleanSpaces},
    {"minerva-7b", P::kMinerva, 0},
    {"deepseek-v3", P::kDeepseekV3, kNoCleanSpaces},
    {"gpt-4o", P::kGpt4o, kNoCleanSpaces},
    {"llama4", P::kGpt4o, kNoCleanSpaces},
    {"kanana2", P::kGpt4o, kNoCleanSpaces},
    {"talkie", P::kGpt4o, kNoCleanSpaces},
    {"superbpe", P::kSuperbpe, kNoCleanSpaces},
    {"trillion", P::kTrillion, kNoCleanSpaces},
    {"bailingmoe", P::kBailingmoe, kNoCleanSpaces},
    {"bailingmoe2", P::kBailingmoe, kNoCleanSpaces},
    {"llada-moe", P::kBailingmoe, kNoCleanSpaces},
    {"seed-coder", P::kSeedCoder, kNoCleanSpaces},
    {"hunyuan", P::kHunyuan, kNoCleanSpaces},
    {"kimi-k2", P::kKimiK2, kNoCleanSpaces},
    {"hunyuan-dense", P::kHunyuanDense, kNoCleanSpaces},
    {"grok-2", P::kGrok2, kNoCleanSpaces},
    {"granite-docling", P::kGraniteDocling, kNoCleanSpaces},
    {"minimax-m2", P::kMinimaxM2, kNoCleanSpaces},
    {"afmoe", P::kAfmoe, kNoCleanSpaces},
    {"solar-open", P::kSolarOpen, kNoCleanSpaces},
    {"youtu", P::kYoutu, kNoCleanSpaces | kIgnoreMerges},
    {"exaone-moe", P::kExaoneMoe, 0},
    {"qwen35", P::kQwen35, kNoCleanSpaces},
    {"tiny_aya", P::kTinyAya, kNoCleanSpaces},
    {"cohere2moe", P::kTinyAya, kNoCleanSpaces},
    {"joyai-llm", P::kJoyaiLlm, kNoCleanSpaces},
    {"jais-2", P::kJais2, 0},
    {"spark2_5", P::kSpark25, kNoCleanSpaces},
    {"hy_v4", P::kHyV4, kNoCleanSpaces},
    {"ufakzeka", P::kUfakzeka, kNoCleanSpaces},
    {"laguna", P::kLaguna, kNoCleanSpaces},
    {"minicpm5", P::kMinicpm5, kIgnoreMerges},
    {"granite-embed-multi-97m", P::kGraniteEmbMulti, kNoCleanSpaces | kIgnoreMerges},
    {"mellum2", P::kMellum2, 0},
    {"gemma4", P::kGemma4, kRawUtf8 | kEscapeWhitespaces},
    {"granite-embed-multi-311m", P::kGemma4, kRawUtf8 | kEscapeWhitespaces},
    {"sarvam-moe", P::kSarvamMoe, kRawUtf8 | kEscapeWhitespaces | kNoCleanSpaces},
    {"whitespace", P::kWhitespace, kRawUtf8},
};

const NameEntry* find_name(std::string_view name) {
  for (const NameEntry& e : kNames) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace

std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
  if (const NameEntry* e = find_name(name)) return e->kind;
  return std::nullopt;
}

std::string_view pre_tokenizer_name(PreTokenizer kind) {
  for (const NameEntry& e : kNames) {
    if (e.kind == kind) return e.name;
  }
  return "unknown";
}

const std::vector<std::string_view>& pre_tokenizer_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const NameEntry& e : kNames) v.push_back(e.name);
    return v;
  }();
  return names;
}

std::optional<PreTokenizerDefaults> pre_tokenizer_defaults(std::string_view name) {
  const NameEntry* e = find_name(name);
  if (e == nullptr) return std::nullopt;
  PreTokenizerDefaults d;
  d.kind = e->kind;
  d.clean_spaces = !(e->flags & kNoCleanSpaces);
  d.ignore_merges = (e->flags & kIgnoreMerges) != 0;
  d.add_bos = (e->flags & kAddBos) != 0;
  d.add_sep = (e->flags & kAddSep) != 0;
  d.bos_disabled = (e->flags & kBosDisabled) != 0;
  d.byte_encode = !(e->flags & kRawUtf8);
  d.escape_whitespaces = (e->flags & kEscapeWhitespaces) != 0;
  return d;
}

Status pre_tokenizer_status(PreTokenizer kind) {
  return detail::compiled_program(kind).status.with_context(
      "pre-tokenizer '" + std::string(pre_tokenizer_name(kind)) + "'");
}

void pre_tokenize(PreTokenizer kind, std::string_view text,
                  std::vector<std::pair<uint32_t, uint32_t>>& words) {
  constexpr size_t kMaxText = std::numeric_limits<uint32_t>::max();
  if (text.size() > kMaxText) text = text.substr(0, kMaxText);
  detail::run_program(detail::compiled_program(kind), text, /*reference=*/false, words);
}

std::vector<std::string_view> pre_tokenize_views(PreTokenizer kind, std::string_view text) {
  std::vector<std::pair<uint32_t, uint32_t>> words;
  pre_tokenize(kind, text, words);
  std::vector<std::string_view> views;
  views.reserve(words.size());
  for (const auto& [b, e] : words) views.push_back(text.substr(b, e - b));
  return views;
}

}  // namespace ember::tokenizer
