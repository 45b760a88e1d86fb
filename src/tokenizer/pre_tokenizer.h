// BPE pre-tokenizers: the regex-like splitting of text into words before byte-level BPE, exactly
// as llama.cpp does it for each `tokenizer.ggml.pre` value.
//
// llama.cpp describes each pre-tokenizer as a list of regular expressions applied in sequence:
// the first splits the whole text, each later one splits every piece the previous one produced,
// and both the matched parts and the unmatched gaps between them become pieces. It evaluates
// \p{L}, \p{N}, \p{P}, \p{S}, \p{M} (and \p{Lu}.. which it treats as \p{L}) through its own
// category table, with \s = Unicode White_Space, and it has hand-written splitters for the GPT-2
// and Llama-3 patterns whose behaviour is the reference. ember reproduces all of this: the
// frequent patterns with hand-written splitters, the rare ones with PCRE2 run over the same
// category-collapsed text llama.cpp builds (see pre_tokenizer_regex.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "ember/status.h"

namespace ember::tokenizer {

// One kind per llama.cpp LLAMA_VOCAB_PRE_TYPE_* that its loader can produce. Kinds that share a
// pattern list in llama.cpp (e.g. kMpt and kGpt2) split identically.
enum class PreTokenizer : uint8_t {
  kDefault,          // "default" (and what llama.cpp uses when tokenizer.ggml.pre is missing)
  kLlama3,           // "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", ...
  kDeepseekLlm,      // "deepseek-llm"
  kDeepseekCoder,    // "deepseek-coder"
  kFalcon,           // "falcon"
  kMpt,              // "mpt"
  kStarcoder,        // "starcoder"
  kGpt2,             // "gpt-2", "phi-2", "jina-es", "roberta-bpe", "exaone4", ...
  kRefact,           // "refact"
  kCommandR,         // "command-r"
  kStablelm2,        // "stablelm2"
  kQwen2,            // "qwen2", "deepseek-r1-qwen", "megrez", ...
  kOlmo,             // "olmo"
  kDbrx,             // "dbrx"
  kSmaug,            // "smaug-bpe"
  kPoro,             // "poro-chat"
  kChatglm4,         // "glm4", "chatglm-bpe"
  kViking,           // "viking"
  kJais,             // "jais"
  kTekken,           // "tekken"
  kSmollm,           // "smollm"
  kCodeshell,        // "codeshell"
  kBloom,            // "bloom"
  kGpt3Finnish,      // "gpt3-finnish"
  kExaone,           // "exaone"
  kChameleon,        // "chameleon"
  kMinerva,          // "minerva-7b"
  kDeepseekV3,       // "deepseek-v3"
  kGpt4o,            // "gpt-4o", "llama4", "kanana2", "talkie"
  kSuperbpe,         // "superbpe"
  kTrillion,         // "trillion"
  kBailingmoe,       // "bailingmoe", "bailingmoe2", "llada-moe"
  kSeedCoder,        // "seed-coder"
  kHunyuan,          // "hunyuan"
  kKimiK2,           // "kimi-k2"
  kHunyuanDense,     // "hunyuan-dense"
  kGrok2,            // "grok-2"
  kGraniteDocling,   // "granite-docling"
  kMinimaxM2,        // "minimax-m2"
  kAfmoe,            // "afmoe"
  kSolarOpen,        // "solar-open"
  kYoutu,            // "youtu"
  kExaoneMoe,        // "exaone-moe"
  kQwen35,           // "qwen35"
  kTinyAya,          // "tiny_aya", "cohere2moe"
  kJoyaiLlm,         // "joyai-llm"
  kJais2,            // "jais-2"
  kSpark25,          // "spark2_5"
  kHyV4,             // "hy_v4"
  kUfakzeka,         // "ufakzeka"
  kLaguna,           // "laguna"
  kMinicpm5,         // "minicpm5"
  kGraniteEmbMulti,  // "granite-embed-multi-97m"
  kMellum2,          // "mellum2"
  kGemma4,           // "gemma4", "granite-embed-multi-311m" (raw UTF-8 BPE, no byte encoding)
  kSarvamMoe,        // "sarvam-moe" (raw UTF-8 BPE, no byte encoding)
  kWhitespace,       // "whitespace" (raw UTF-8 BPE on whitespace-separated segments)
};
// kGemma4, kSarvamMoe and kWhitespace only split; what llama.cpp does around them is the
// tokenizer's job: no GPT-2 byte encoding (PreTokenizerDefaults::byte_encode), spaces escaped as
// U+2581 for the first two, and for kWhitespace the whitespace pieces are dropped (the text is
// cut at every White_Space code point and each segment is tokenized on its own).

inline constexpr int kNumPreTokenizers = static_cast<int>(PreTokenizer::kWhitespace) + 1;

// Maps a `tokenizer.ggml.pre` value (every string llama.cpp accepts, aliases included) to a
// kind; an unknown or empty name gives std::nullopt. (llama.cpp itself uses kDefault when the
// key is missing and refuses to load a model whose name it does not know.)
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);

// The canonical `tokenizer.ggml.pre` value of a kind, e.g. "llama3" for kLlama3.
std::string_view pre_tokenizer_name(PreTokenizer kind);

// Every name pre_tokenizer_from_name accepts, canonical names and aliases.
const std::vector<std::string_view>& pre_tokenizer_names();

// Tokenizer settings llama.cpp derives from the `tokenizer.ggml.pre` name itself (before GGUF
// keys such as tokenizer.ggml.add_bos_token override them). Different names of one kind can
// differ here (e.g. "megrez" keeps clean_spaces while "qwen2" clears it).
struct PreTokenizerDefaults {
  PreTokenizer kind = PreTokenizer::kDefault;
  bool clean_spaces = true;         // clean_up_tokenization_spaces when detokenizing
  bool ignore_merges = false;       // a word that is a whole vocab token skips the merges
  bool add_bos = false;             // default for add_bos (the GGUF key overrides it)
  bool add_sep = false;             // default for add_sep (the GGUF key overrides it)
  bool bos_disabled = false;        // the default BOS id is cleared ("glm4", "chatglm-bpe")
  bool byte_encode = true;          // words go through GPT-2's byte-to-code-point map
  bool escape_whitespaces = false;  // spaces become U+2581 before BPE (gemma4, sarvam-moe)
};
std::optional<PreTokenizerDefaults> pre_tokenizer_defaults(std::string_view name);

// Ok when the kind's patterns compiled (they are fixed, so an error means a broken PCRE2 build);
// a tokenizer can call this once at load time to report such a problem clearly.
Status pre_tokenizer_status(PreTokenizer kind);

// Splits `text` into words, appending [begin, end) byte offsets to `words`: they cover `text`
// exactly, in order, with no empty piece. `text` should be valid UTF-8 (see sanitize_utf8); any
// invalid byte is treated as one U+FFFD code point, so arbitrary bytes never fail. Offsets are
// 32-bit: `text` must be shorter than 4 GiB (longer input is cut at that length). Thread-safe.
void pre_tokenize(PreTokenizer kind, std::string_view text,
                  std::vector<std::pair<uint32_t, uint32_t>>& words);

// Convenience for tests and tools: the words as string views into `text`.
std::vector<std::string_view> pre_tokenize_views(PreTokenizer kind, std::string_view text);

}  // namespace ember::tokenizer
