#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <optional>

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pieces.h"
#include "tokenizer/unicode.h"

namespace ember::tokenizer {
namespace {

constexpr std::string_view kKeyModel = "tokenizer.ggml.model";
constexpr std::string_view kKeyPre = "tokenizer.ggml.pre";
constexpr std::string_view kKeyTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kKeyScores = "tokenizer.ggml.scores";
constexpr std::string_view kKeyTypes = "tokenizer.ggml.token_type";
constexpr std::string_view kKeyMerges = "tokenizer.ggml.merges";

TokenType type_from_int(int64_t v) {
  if (v >= 0 && v <= 6) return static_cast<TokenType>(v);
  return TokenType::kUndefined;
}

uint16_t attr_from_type(TokenType t) {
  switch (t) {
    case TokenType::kNormal:
      return kAttrNormal;
    case TokenType::kUnknown:
      return kAttrUnknown;
    case TokenType::kControl:
      return kAttrControl;
    case TokenType::kUserDefined:
      return kAttrUserDefined;
    case TokenType::kUnused:
      return kAttrUnused;
    case TokenType::kByte:
      return kAttrByte;
    case TokenType::kUndefined:
      return 0;
  }
  return 0;
}

// Reads an optional boolean key into `out`; a key of another type is reported and ignored.
void read_bool(const GgufFile& f, std::string_view key, bool& out, Vocab& v) {
  const GgufValue* value = f.find(key);
  if (value == nullptr) return;
  Result<bool> b = value->as_bool();
  if (b.ok()) {
    out = *b;
  } else {
    v.warnings.push_back(std::string(key) + ": " + b.status().message() + "; ignored");
  }
}

// Reads an optional token id key. An id outside the vocabulary is reported and the default kept.
void read_id(const GgufFile& f, std::string_view key, int32_t& id, Vocab& v) {
  const GgufValue* value = f.find(key);
  if (value == nullptr) return;
  Result<int64_t> i = value->as_int();
  if (!i.ok()) {
    v.warnings.push_back(std::string(key) + ": " + i.status().message() + "; ignored");
    return;
  }
  if (*i < 0 || *i >= v.n_vocab()) {
    v.warnings.push_back(std::string(key) + " = " + std::to_string(*i) +
                         " is outside the vocabulary; using " + std::to_string(id));
    return;
  }
  id = static_cast<int32_t>(*i);
}

// Token texts models use for end-of-turn, end-of-message and fill-in-the-middle roles, in the
// order they are preferred when a model does not name the token in its metadata.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",        "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>",   "<EOT>",      "_<EOT>",  "[EOT]",         "<｜end▁of▁sentence｜>",
    "<end_of_utterance>"};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreTexts[] = {"<|fim_prefix|>",  "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>",        "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufTexts[] = {"<|fim_suffix|>",  "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>",  "<SUF>",        "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidTexts[] = {"<|fim_middle|>",  "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>",   "<MID>",        "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
// Every token with one of these texts ends generation.
constexpr std::string_view kEogTexts[] = {"<|eot_id|>",
                                          "<|im_end|>",
                                          "<|end|>",
                                          "<|return|>",
                                          "<|call|>",
                                          "<|flush|>",
                                          "<|calls|>",
                                          "<end_of_turn>",
                                          "<|endoftext|>",
                                          "</s>",
                                          "<|eom_id|>",
                                          "<EOT>",
                                          "_<EOT>",
                                          "[EOT]",
                                          "[EOS]",
                                          "<|end_of_text|>",
                                          "<end_of_utterance>",
                                          "<eos>",
                                          "<turn|>",
                                          "<|tool_response>",
                                          "<｜end▁of▁sentence｜>",
                                          "[e~["};

template <size_t N>
void detect_by_text(Vocab& v, int32_t& id, const std::string_view (&texts)[N]) {
  if (id >= 0) return;
  for (std::string_view t : texts) {
    const int32_t found = v.find(t);
    if (found < 0) continue;
    id = found;
    // A role token that the file did not mark as control is treated as one (the conversion
    // script forgot to); otherwise it would be produced from plain text.
    v.tokens[static_cast<size_t>(found)].attr |= kAttrControl;
    return;
  }
}

void build_eog(Vocab& v) {
  std::vector<int32_t> eog;
  for (int32_t id : {v.fim_pad, v.fim_rep, v.fim_sep}) {
    if (id >= 0) eog.push_back(id);
  }
  for (std::string_view t : kEogTexts) {
    const int32_t id = v.find(t);
    if (id < 0) continue;
    eog.push_back(id);
    v.tokens[static_cast<size_t>(id)].attr |= kAttrControl;
  }
  // gpt-oss: these structural tokens are always rendered.
  for (std::string_view t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const int32_t id = v.find(t);
    if (id >= 0) v.tokens[static_cast<size_t>(id)].attr = kAttrUserDefined;
  }
  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  auto has_text = [&](std::string_view t) {
    return std::any_of(eog.begin(), eog.end(),
                       [&](int32_t id) { return v.tokens[static_cast<size_t>(id)].text == t; });
  };
  auto drop = [&](std::string_view t, uint16_t new_attr) {
    for (auto it = eog.begin(); it != eog.end(); ++it) {
      if (v.tokens[static_cast<size_t>(*it)].text == t) {
        v.tokens[static_cast<size_t>(*it)].attr = new_attr;
        eog.erase(it);
        return;
      }
    }
  };
  // Harmony-style vocabularies (gpt-oss, solar-open) use <|end|> between messages, not to stop.
  const bool has_call = has_text("<|call|>") || has_text("<|calls|>");
  if (has_text("<|end|>") && has_call && (has_text("<|return|>") || has_text("<|flush|>"))) {
    drop("<|end|>", kAttrUserDefined);
  }
  // Gemma 4 style: </s> is an ordinary token when <|tool_response> is present.
  if (has_text("<|tool_response>") && has_text("</s>")) drop("</s>", kAttrNormal);
  v.eog = std::move(eog);
}

void build_special_list(Vocab& v) {
  v.special_tokens.clear();
  for (int32_t id = 0; id < v.n_vocab(); ++id) {
    if (v.tokens[static_cast<size_t>(id)].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      v.special_tokens.push_back(id);
    }
  }
  // Longest text first; equal lengths by id so the order is deterministic.
  std::stable_sort(v.special_tokens.begin(), v.special_tokens.end(), [&](int32_t a, int32_t b) {
    return v.tokens[static_cast<size_t>(a)].text.size() >
           v.tokens[static_cast<size_t>(b)].text.size();
  });
  for (int32_t id : v.special_tokens)
    v.special_trie.insert(v.tokens[static_cast<size_t>(id)].text, id);
}

// Strip attributes that some model families give their special tokens (not stored in GGUF).
void apply_strip_attributes(const GgufFile& f, Vocab& v) {
  std::string name = f.get_string("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string arch = f.get_string("general.architecture").value_or("");
  auto contains = [](const std::string& s, std::initializer_list<std::string_view> subs) {
    return std::any_of(subs.begin(), subs.end(),
                       [&](std::string_view x) { return s.find(x) != std::string::npos; });
  };
  auto set = [&](std::string_view text, uint16_t bit, bool on) {
    const int32_t id = v.find(text);
    if (id < 0) return;
    uint16_t& a = v.tokens[static_cast<size_t>(id)].attr;
    a = on ? static_cast<uint16_t>(a | bit) : static_cast<uint16_t>(a & ~bit);
  };
  if (contains(v.pre_name, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set("<mask>", kAttrLstrip, true);
  } else if (contains(name, {"phi-3", "phi3"})) {
    // Phi-3's added tokens swallow the whitespace that follows them.
    for (int32_t id : v.special_tokens) v.tokens[static_cast<size_t>(id)].attr |= kAttrRstrip;
    set("</s>", kAttrRstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, kAttrRstrip, false);
  } else if (contains(name, {"modern-bert"})) {
    set("[MASK]", kAttrLstrip, true);
  }
}

void build_spm_tables(Vocab& v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    int32_t id = v.find(std::string_view(name, 6));
    if (id < 0) {
      const char c = static_cast<char>(b);
      id = v.find(std::string_view(&c, 1));
    }
    v.byte_token[static_cast<size_t>(b)] = id;
  }
  v.spm_separator.fill(true);
  for (const TokenData& t : v.tokens) {
    if (t.text.size() < 2) continue;
    for (char c : t.text) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 128) v.spm_separator[u] = false;
    }
  }
}

// Maps a byte-level token text back to the bytes it stands for; nullopt when a character is not
// one of the 256 byte characters.
std::optional<std::string> byte_level_decode(std::string_view text) {
  std::string raw;
  raw.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const int b = byte_from_codepoint(decode_utf8(text, &pos));
    if (b < 0) return std::nullopt;
    raw.push_back(static_cast<char>(b));
  }
  return raw;
}

Status build_bpe_tables(const GgufFile& f, Vocab& v) {
  BpeTables& t = v.bpe;
  // Token texts and merge sides as the bytes they stand for: GPT-2 byte characters decoded, or
  // (raw UTF-8 vocabularies) as they are.
  auto decode = [&](std::string_view text) -> std::optional<std::string> {
    if (t.raw_utf8) return std::string(text);
    return byte_level_decode(text);
  };
  for (int32_t id = 0; id < v.n_vocab(); ++id) {
    const std::string& text = v.tokens[static_cast<size_t>(id)].text;
    if (t.raw_utf8) {
      t.raw_to_piece.insert(text, v.find(text));  // repeated texts: the id text_to_id kept
    } else if (auto raw = byte_level_decode(text)) {
      t.raw_to_piece.insert(*raw, id);
    }
  }
  int32_t next = v.n_vocab();
  auto piece_of = [&](const std::string& raw) {
    const int32_t id = t.raw_to_piece.insert(raw, next);
    if (id == next) ++next;
    return id;
  };
  const GgufValue* merges_value = f.find(kKeyMerges);
  if (merges_value == nullptr) {
    return invalid_argument("byte-level BPE vocabulary without " + std::string(kKeyMerges));
  }
  Result<std::span<const std::string>> merges = merges_value->as_string_array();
  if (!merges.ok()) return merges.status().with_context(kKeyMerges);
  if (merges->size() > static_cast<size_t>(INT32_MAX / 4)) {
    return out_of_range(std::string(kKeyMerges) + ": too many merges");
  }
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    const std::string& m = (*merges)[rank];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) continue;  // malformed entry: can never apply
    auto left = decode(std::string_view(m).substr(0, space));
    auto right = decode(std::string_view(m).substr(space + 1));
    // A side with a character outside the byte alphabet can never match input text.
    if (!left || !right || left->empty() || right->empty()) continue;
    const int32_t a = piece_of(*left);
    const int32_t b = piece_of(*right);
    const int32_t merged = piece_of(*left + *right);
    t.merges.insert(a, b, {static_cast<int32_t>(rank), merged});
  }
  t.n_pieces = next;
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    t.byte_piece[static_cast<size_t>(b)] = t.raw_to_piece.find(std::string_view(&c, 1));
    if (t.raw_utf8) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
      t.byte_fallback[static_cast<size_t>(b)] = {v.find(std::string_view(name, 6)), -1};
      continue;
    }
    std::string encoded;
    append_utf8(byte_to_codepoint(static_cast<uint8_t>(b)), encoded);
    auto& fb = t.byte_fallback[static_cast<size_t>(b)];
    fb = {-1, -1};
    for (size_t i = 0; i < encoded.size() && i < fb.size(); ++i) {
      fb[i] = v.find(std::string_view(&encoded[i], 1));
    }
  }
  return Status::Ok();
}

Status read_tokens(const GgufFile& f, Vocab& v) {
  const GgufValue* tokens_value = f.find(kKeyTokens);
  if (tokens_value == nullptr) return not_found("no " + std::string(kKeyTokens) + " array");
  Result<std::span<const std::string>> texts = tokens_value->as_string_array();
  if (!texts.ok()) return texts.status().with_context(kKeyTokens);
  const size_t n = texts->size();
  if (n == 0) return invalid_argument(std::string(kKeyTokens) + " is empty");
  if (n > static_cast<size_t>(INT32_MAX / 2)) {
    return out_of_range(std::string(kKeyTokens) + ": " + std::to_string(n) + " tokens");
  }

  std::span<const double> scores;
  std::span<const int64_t> int_scores;
  if (const GgufValue* s = f.find(kKeyScores)) {
    if (auto fs = s->as_float_array(); fs.ok()) {
      scores = *fs;
    } else if (auto is = s->as_int_array(); is.ok()) {
      int_scores = *is;
    } else {
      return invalid_argument(std::string(kKeyScores) + ": expected an array of float32, got " +
                              s->summary());
    }
    if (scores.size() + int_scores.size() < n) {
      return data_loss(std::string(kKeyScores) + " has " +
                       std::to_string(scores.size() + int_scores.size()) + " entries for " +
                       std::to_string(n) + " tokens");
    }
  }
  std::span<const int64_t> types;
  if (const GgufValue* t = f.find(kKeyTypes)) {
    Result<std::span<const int64_t>> ts = t->as_int_array();
    if (!ts.ok()) return ts.status().with_context(kKeyTypes);
    types = *ts;
    if (types.size() < n) {
      return data_loss(std::string(kKeyTypes) + " has " + std::to_string(types.size()) +
                       " entries for " + std::to_string(n) + " tokens");
    }
  }

  v.tokens.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& td = v.tokens[i];
    td.text = (*texts)[i];
    if (td.text.empty()) td.text = "[EMPTY_" + std::to_string(i) + "]";
    const int32_t id = static_cast<int32_t>(i);
    const int32_t stored = v.text_to_id.insert(td.text, id);
    if (stored != id && v.bpe.raw_utf8) {
      // The reference's map keeps the later id of a repeated text (Gemma 4 repeats a few).
      v.text_to_id.assign(td.text, id);
    } else if (stored != id) {
      return data_loss("duplicate token in vocabulary: '" + td.text + "' has ids " +
                       std::to_string(stored) + " and " + std::to_string(i));
    }
    v.max_token_len = std::max(v.max_token_len, td.text.size());
    if (!scores.empty()) {
      td.score = static_cast<float>(scores[i]);
      // NaN would break the SentencePiece merge order; treat it as the lowest score.
      if (std::isnan(td.score)) td.score = -std::numeric_limits<float>::infinity();
    } else if (!int_scores.empty()) {
      td.score = static_cast<float>(int_scores[i]);
    }
    td.type = types.empty() ? TokenType::kNormal : type_from_int(types[i]);
    td.attr = attr_from_type(td.type);
  }
  return Status::Ok();
}

}  // namespace

Result<Vocab> load_vocab(const GgufFile& f) {
  Vocab v;
  bool bos_disabled = false;
  Result<std::string> model = f.get_string(kKeyModel);
  if (!model.ok()) return model.status();
  v.model_name = *model;
  if (const GgufValue* pre = f.find(kKeyPre)) {
    Result<std::string_view> s = pre->as_string();
    if (!s.ok()) return s.status().with_context(kKeyPre);
    v.pre_name = std::string(*s);
  }

  // Defaults per kind; metadata keys read below override them.
  if (v.model_name == "llama") {
    v.kind = VocabKind::kSentencePiece;
    v.bos = 1;
    v.eos = 2;
    v.unk = 0;
    v.add_space_prefix = true;
    v.add_bos = true;
  } else if (v.model_name == "bert") {
    v.kind = VocabKind::kWordPiece;
    v.bos = 101;
    v.unk = 100;
    v.sep = 102;
    v.pad = 0;
    v.mask = 103;
    v.add_bos = true;
    v.add_sep = true;
    v.clean_spaces = true;
  } else if (v.model_name == "gpt2") {
    v.kind = VocabKind::kBytePairBpe;
    // The pre-tokenizer name also selects flags (ignore_merges, clean-up, default BOS). A missing
    // or unknown name gets the reference's "default" splitter, with a warning.
    std::optional<PreTokenizerDefaults> d = pre_tokenizer_defaults(v.pre_name);
    if (v.pre_name.empty()) {
      v.warnings.push_back(
          "tokenizer.ggml.pre is missing; using the default pre-tokenizer "
          "(tokenization may not match the model's training)");
    } else if (!d) {
      v.warnings.push_back("unknown pre-tokenizer '" + v.pre_name +
                           "'; using the default pre-tokenizer (tokenization may not match the "
                           "model's training)");
    }
    if (!d) d = PreTokenizerDefaults{};
    if (!d->byte_encode || d->escape_whitespaces) {
      return unimplemented("BPE pre-tokenizer '" + v.pre_name +
                           "' works on raw UTF-8 pieces, which ember does not support yet");
    }
    v.pre = d->kind;
    EMBER_RETURN_IF_ERROR(pre_tokenizer_status(v.pre));
    v.ignore_merges = d->ignore_merges;
    v.clean_spaces = d->clean_spaces;
    v.add_bos = d->add_bos;
    v.add_sep = d->add_sep;
    bos_disabled = d->bos_disabled;
  } else if (v.model_name == "t5") {
    // SentencePiece Unigram; the reference's defaults for T5 (files override them).
    v.kind = VocabKind::kUnigram;
    v.eos = 1;
    v.unk = 2;
    v.pad = 0;
    v.add_space_prefix = true;
    v.add_eos = true;
  } else if (v.model_name == "gemma4") {
    // Gemma 4: BPE merges over raw UTF-8 with spaces escaped to U+2581 (BpeTables::raw_utf8).
    // No default special ids; the reference always adds BOS (see below).
    v.kind = VocabKind::kBytePairBpe;
    v.bpe.raw_utf8 = true;
    v.clean_spaces = true;
  } else if (v.model_name == "no_vocab" || v.model_name == "none") {
    return unimplemented("the model has no vocabulary (tokenizer.ggml.model = '" + v.model_name +
                         "')");
  } else {
    return unimplemented("tokenizer.ggml.model = '" + v.model_name +
                         "' is not supported (supported: llama, gpt2, gemma4, bert, t5)");
  }
  read_bool(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix, v);
  read_bool(f, "tokenizer.ggml.remove_extra_whitespaces", v.remove_extra_whitespaces, v);

  EMBER_RETURN_IF_ERROR(read_tokens(f, v));
  if (v.kind == VocabKind::kBytePairBpe) {
    EMBER_RETURN_IF_ERROR(build_bpe_tables(f, v));
  }
  if (v.kind == VocabKind::kSentencePiece) build_spm_tables(v);

  // Defaults that fall outside this vocabulary are disabled.
  for (int32_t* id : {&v.bos, &v.eos, &v.unk, &v.sep, &v.pad, &v.mask}) {
    if (!v.valid(*id)) *id = -1;
  }
  if (bos_disabled) v.bos = -1;
  read_id(f, "tokenizer.ggml.bos_token_id", v.bos, v);
  if (v.kind == VocabKind::kWordPiece && f.find("tokenizer.ggml.bos_token_id") == nullptr) {
    read_id(f, "tokenizer.ggml.cls_token_id", v.bos, v);
  }
  read_id(f, "tokenizer.ggml.eos_token_id", v.eos, v);
  read_id(f, "tokenizer.ggml.eot_token_id", v.eot, v);
  read_id(f, "tokenizer.ggml.eom_token_id", v.eom, v);
  read_id(f, "tokenizer.ggml.unknown_token_id", v.unk, v);
  read_id(f, "tokenizer.ggml.seperator_token_id", v.sep, v);
  read_id(f, "tokenizer.ggml.padding_token_id", v.pad, v);
  read_id(f, "tokenizer.ggml.mask_token_id", v.mask, v);
  read_id(f, "tokenizer.ggml.fim_pre_token_id", v.fim_pre, v);
  read_id(f, "tokenizer.ggml.fim_suf_token_id", v.fim_suf, v);
  read_id(f, "tokenizer.ggml.fim_mid_token_id", v.fim_mid, v);
  read_id(f, "tokenizer.ggml.fim_pad_token_id", v.fim_pad, v);
  read_id(f, "tokenizer.ggml.fim_rep_token_id", v.fim_rep, v);
  read_id(f, "tokenizer.ggml.fim_sep_token_id", v.fim_sep, v);
  read_id(f, "tokenizer.ggml.prefix_token_id", v.fim_pre, v);
  read_id(f, "tokenizer.ggml.suffix_token_id", v.fim_suf, v);
  read_id(f, "tokenizer.ggml.middle_token_id", v.fim_mid, v);

  read_bool(f, "tokenizer.ggml.add_bos_token", v.add_bos, v);
  read_bool(f, "tokenizer.ggml.add_eos_token", v.add_eos, v);
  read_bool(f, "tokenizer.ggml.add_sep_token", v.add_sep, v);
  // The reference forces BOS on for Gemma 4, whatever the file says.
  if (v.bpe.raw_utf8) v.add_bos = true;
  if (v.add_bos && v.bos < 0) {
    v.warnings.push_back("add_bos_token is set but the vocabulary has no BOS token; not adding it");
    v.add_bos = false;
  }
  if (v.add_eos && v.eos < 0) {
    v.warnings.push_back("add_eos_token is set but the vocabulary has no EOS token; not adding it");
    v.add_eos = false;
  }
  read_bool(f, "tokenizer.ggml.normalizer.lowercase", v.lowercase, v);
  v.strip_accents = v.lowercase;
  read_bool(f, "tokenizer.ggml.normalizer.strip_accents", v.strip_accents, v);

  detect_by_text(v, v.eot, kEotTexts);
  detect_by_text(v, v.eom, kEomTexts);
  detect_by_text(v, v.fim_pre, kFimPreTexts);
  detect_by_text(v, v.fim_suf, kFimSufTexts);
  detect_by_text(v, v.fim_mid, kFimMidTexts);
  detect_by_text(v, v.fim_pad, kFimPadTexts);
  detect_by_text(v, v.fim_rep, kFimRepTexts);
  detect_by_text(v, v.fim_sep, kFimSepTexts);
  // Control tokens named "unused" are reserved slots.
  for (TokenData& t : v.tokens) {
    if ((t.attr & kAttrControl) && t.text.find("unused") != std::string::npos) {
      t.attr |= kAttrUnused;
    }
  }
  // After the attributes are final: the Unigram candidates include unused tokens.
  if (v.kind == VocabKind::kUnigram) EMBER_RETURN_IF_ERROR(build_ugm_tables(f, v));
  build_eog(v);
  build_special_list(v);

  v.pieces.resize(v.tokens.size());
  for (int32_t id = 0; id < v.n_vocab(); ++id) {
    v.pieces[static_cast<size_t>(id)] = render_piece(v, id);
  }
  apply_strip_attributes(f, v);

  // The newline token.
  if (v.kind == VocabKind::kSentencePiece) {
    v.newline = v.byte_token['\n'] >= 0 ? v.byte_token['\n'] : v.pad;
  } else if (v.kind == VocabKind::kWordPiece) {
    v.newline = v.pad;
  } else if (v.kind == VocabKind::kUnigram) {
    std::vector<int32_t> ids;
    ugm_tokenize(v, "\n", ids);
    v.newline = ids.empty() ? v.pad : ids[0];
  } else {
    std::vector<int32_t> ids;
    bpe_tokenize(v, "\n", ids);
    v.newline = ids.empty() ? v.pad : ids[0];
  }
  return v;
}

}  // namespace ember::tokenizer
