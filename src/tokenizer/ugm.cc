#include "tokenizer/ugm.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace ember::tokenizer {
namespace {

constexpr std::string_view kEscapedSpace = "\xe2\x96\x81";  // U+2581
constexpr std::string_view kReplacement = "\xef\xbf\xbd";   // U+FFFD
constexpr double kUnknownPenalty = 10.0;

// One unit of the XOR-compressed compact double array (Kanda 2018): BASE in bits 10..30 (shifted
// left by 8 more when bit 9 is set), LCHECK (the label leading here) in bits 0..7 plus bit 31,
// the LEAF flag in bit 8, and, for value nodes, the value in bits 0..30.
struct Xcda {
  const std::vector<uint32_t>& units;
  bool get(size_t i, uint32_t* u) const {
    if (i >= units.size()) return false;
    *u = units[i];
    return true;
  }
  static uint32_t base(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
  static uint32_t lcheck(uint32_t u) { return u & ((1u << 31) | 0xffu); }
  static bool leaf(uint32_t u) { return ((u >> 8) & 1u) != 0; }
  static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
};

// Byte length of the valid UTF-8 character at `pos` (no overlong/surrogate checks, as the
// reference), or 0 when the bytes there are not one.
size_t valid_utf8_length(std::string_view s, size_t pos) {
  const auto c = static_cast<uint8_t>(s[pos]);
  size_t n = 0;
  if ((c & 0x80u) == 0) return 1;
  if ((c & 0xe0u) == 0xc0u) {
    n = 2;
  } else if ((c & 0xf0u) == 0xe0u) {
    n = 3;
  } else if ((c & 0xf8u) == 0xf0u) {
    n = 4;
  } else {
    return 0;
  }
  if (pos + n > s.size()) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((static_cast<uint8_t>(s[pos + i]) & 0xc0u) != 0x80u) return 0;
  }
  return n;
}

// The normalization of the input prefix at `pos`: the replacement text and the bytes consumed.
struct PrefixNorm {
  std::string_view text;
  size_t consumed;
};

PrefixNorm normalize_prefix(const Vocab& v, std::string_view in, size_t pos) {
  const UgmTables& u = v.ugm;
  // User-defined tokens pass through unchanged (longest first).
  for (size_t len = std::min(u.max_user_defined_len, in.size() - pos); len > 0; --len) {
    if (u.user_defined.find(in.substr(pos, len)) >= 0) return {in.substr(pos, len), len};
  }
  size_t best_len = 0;
  size_t best_offset = 0;
  if (!u.xcda.empty()) {
    const Xcda x{u.xcda};
    uint32_t unit = 0;
    if (x.get(0, &unit)) {
      uint32_t node = Xcda::base(unit);
      for (size_t p = pos; p < in.size(); ++p) {
        const auto c = static_cast<uint8_t>(in[p]);
        if (c == 0) break;
        node ^= c;
        if (!x.get(node, &unit) || Xcda::lcheck(unit) != c) break;
        const bool is_leaf = Xcda::leaf(unit);
        node ^= Xcda::base(unit);
        if (is_leaf) {
          uint32_t value_unit = 0;
          if (!x.get(node, &value_unit)) break;
          best_len = p - pos + 1;
          best_offset = Xcda::value(value_unit);
        }
      }
    }
  }
  if (best_len > 0 && best_offset < u.replacements.size()) {
    const char* r = u.replacements.data() + best_offset;
    const size_t n = strnlen(r, u.replacements.size() - best_offset);
    return {std::string_view(r, n), best_len};
  }
  const size_t n = valid_utf8_length(in, pos);
  if (n == 0) return {kReplacement, 1};
  return {in.substr(pos, n), n};
}

std::string normalize(const Vocab& v, std::string_view in) {
  const UgmTables& u = v.ugm;
  const std::string_view space = u.escape_whitespaces ? kEscapedSpace : std::string_view(" ");
  const bool prepend = !u.treat_whitespace_as_suffix && v.add_space_prefix;
  const bool append = u.treat_whitespace_as_suffix && v.add_space_prefix;
  const bool merge = v.remove_extra_whitespaces;
  std::string out;
  out.reserve(in.size() * 3);
  bool space_prepended = false;
  bool in_word = false;
  for (size_t pos = 0; pos < in.size();) {
    const PrefixNorm r = normalize_prefix(v, in, pos);
    for (const char c : r.text) {
      if (c != ' ') {
        if (!in_word) {
          in_word = true;
          // With merging, each word starts with exactly one space marker (the first one also
          // stands for the space prefix); without, only the first word gets the prefix.
          if ((prepend && !space_prepended) || merge) {
            out.append(space);
            space_prepended = true;
          }
        }
        out.push_back(c);
      } else {
        in_word = false;
        if (!merge) out.append(space);
      }
    }
    pos += r.consumed;
  }
  if (append) out.append(space);
  return out;
}

}  // namespace

Status build_ugm_tables(const GgufFile& file, Vocab& v) {
  UgmTables& u = v.ugm;
  if (const GgufValue* cm = file.find("tokenizer.ggml.precompiled_charsmap"); cm != nullptr) {
    Result<std::span<const int64_t>> bytes = cm->as_int_array();
    if (!bytes.ok()) return bytes.status().with_context("tokenizer.ggml.precompiled_charsmap");
    std::string blob(bytes->size(), '\0');
    for (size_t i = 0; i < bytes->size(); ++i) blob[i] = static_cast<char>((*bytes)[i] & 0xff);
    if (!blob.empty()) {
      if (blob.size() < 4) return data_loss("precompiled charsmap shorter than its header");
      uint32_t xcda_bytes = 0;
      std::memcpy(&xcda_bytes, blob.data(), 4);
      if (static_cast<uint64_t>(xcda_bytes) + 4 >= blob.size() || xcda_bytes % 4 != 0) {
        return data_loss("precompiled charsmap: double array of " + std::to_string(xcda_bytes) +
                         " bytes does not fit the " + std::to_string(blob.size()) + "-byte blob");
      }
      u.xcda.resize(xcda_bytes / 4);
      std::memcpy(u.xcda.data(), blob.data() + 4, xcda_bytes);
      u.replacements = blob.substr(4 + xcda_bytes);
    }
  }
  double min_score = std::numeric_limits<float>::max();
  // Later tokens win when two share a text (the reference's trie keeps the last insert).
  for (int32_t id = v.n_vocab() - 1; id >= 0; --id) {
    const TokenData& t = v.tokens[static_cast<size_t>(id)];
    if (t.attr & kAttrNormal) min_score = std::min<double>(min_score, t.score);
    if (t.text.empty()) continue;
    if (t.attr & (kAttrNormal | kAttrUserDefined | kAttrUnused)) {
      u.candidates.insert(t.text, id);
      u.max_match_len = std::max(u.max_match_len, t.text.size());
    }
    if (t.attr & kAttrUserDefined) {
      u.user_defined.insert(t.text, id);
      u.max_user_defined_len = std::max(u.max_user_defined_len, t.text.size());
    }
  }
  u.unknown_score =
      static_cast<double>(static_cast<float>(min_score) - static_cast<float>(kUnknownPenalty));
  return Status::Ok();
}

void ugm_tokenize(const Vocab& v, std::string_view run, std::vector<int32_t>& out) {
  const UgmTables& u = v.ugm;
  const std::string text = normalize(v, run);
  const size_t n = text.size();
  if (n == 0) return;
  struct Best {
    int32_t token;
    size_t from;
    double score;
  };
  std::vector<Best> best(n + 1, Best{v.unk, 0, -std::numeric_limits<double>::max()});
  best[0] = Best{v.unk, 0, 0.0};
  const std::string_view view(text);
  for (size_t pos = 0; pos < n;) {
    const size_t char_len =
        std::min(utf8_sequence_length(static_cast<uint8_t>(text[pos])), n - pos);
    const double base = best[pos].score;
    bool single_char_token = false;
    const size_t max_len = std::min(u.max_match_len, n - pos);
    for (size_t len = 1; len <= max_len; ++len) {
      const int32_t id = u.candidates.find(view.substr(pos, len));
      if (id < 0) continue;
      if (len == char_len) single_char_token = true;
      const TokenData& t = v.tokens[static_cast<size_t>(id)];
      // User-defined tokens score 0 (normal scores are negative log probabilities).
      const double score =
          base + ((t.attr & kAttrUserDefined) ? 0.0 : static_cast<double>(t.score));
      Best& b = best[pos + len];
      if (score > b.score) b = Best{id, pos, score};
    }
    if (!single_char_token) {
      const double score = base + u.unknown_score;
      Best& b = best[pos + char_len];
      if (score > b.score) b = Best{v.unk, pos, score};
    }
    pos += char_len;
  }
  const size_t start = out.size();
  bool prev_unknown = false;
  for (size_t at = n;;) {
    const Best& b = best[at];
    const bool unknown = b.token == v.unk;
    if (!(prev_unknown && unknown)) out.push_back(b.token);
    if (b.from == 0) break;
    prev_unknown = unknown;
    at = b.from;
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
}

}  // namespace ember::tokenizer
