#include "tokenizer/pieces.h"

#include <cstdio>

#include "tokenizer/unicode.h"

namespace ember::tokenizer {
namespace {

constexpr std::string_view kSpaceMarker = "\xe2\x96\x81";  // U+2581 '▁'

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of a byte token "<0xNN>": the hex digits at offset 3 (0 when there are none).
char byte_token_value(std::string_view text) {
  int value = 0;
  for (size_t i = 3; i < text.size() && i < 5; ++i) {
    const int d = hex_value(text[i]);
    if (d < 0) break;
    value = value * 16 + d;
  }
  return static_cast<char>(value);
}

std::string unescape_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.compare(pos, kSpaceMarker.size(), kSpaceMarker) == 0) {
      out.push_back(' ');
      pos += kSpaceMarker.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

// Byte-level BPE text -> bytes. A character outside the 256-character byte alphabet cannot be
// decoded; the reference then writes a visible marker with its UTF-8 bytes (and the whole token
// text) instead of failing, and so do we.
std::string byte_level_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const uint32_t cp = decode_utf8(text, &pos);
    const int b = byte_from_codepoint(cp);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    std::string utf8;
    append_utf8(cp, utf8);
    out += "[UNK_BYTE_0x";
    for (char c : utf8) {
      char hex[3];
      std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(c));
      out += hex;
    }
    out += text;
    out += "]";
  }
  return out;
}

}  // namespace

std::string render_piece(const Vocab& v, int32_t id) {
  const TokenData& t = v.tokens[static_cast<size_t>(id)];
  if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t.text;
  if (t.attr & kAttrNormal) {
    if (v.kind == VocabKind::kBytePairBpe && !v.bpe.raw_utf8) return byte_level_to_bytes(t.text);
    return unescape_spaces(t.text);
  }
  if (t.attr & kAttrByte) return std::string(1, byte_token_value(t.text));
  return {};  // unused / undefined tokens render as nothing
}

void detokenize(const Vocab& v, std::span<const int32_t> ids, bool remove_special,
                bool unparse_special, std::string& out) {
  const size_t start = out.size();
  // SentencePiece prepends a space when tokenizing; the first rendered token gives it back.
  bool strip_space = v.add_space_prefix;
  if (remove_special && v.add_bos && !ids.empty() && ids.front() == v.bos) {
    strip_space = false;
    ids = ids.subspan(1);
  }
  if (remove_special && v.add_eos && !ids.empty() && ids.back() == v.eos) {
    ids = ids.first(ids.size() - 1);
  }
  for (int32_t id : ids) {
    std::string_view p = piece_of(v, id, unparse_special);
    if (strip_space && !p.empty() && p.front() == ' ') p.remove_prefix(1);
    strip_space = false;
    out.append(p);
  }
  if (v.clean_spaces) {
    std::string text = out.substr(start);
    clean_up_spaces(text);
    out.resize(start);
    out += text;
  }
}

void clean_up_spaces(std::string& text) {
  // Three passes, each reading its input left to right and deciding, at each character, whether
  // the space written just before it goes away.
  auto pass = [&](auto&& rule) {
    const std::string in = text;
    std::string out;
    out.reserve(in.size());
    if (!in.empty()) out.push_back(in[0]);
    for (size_t i = 1; i < in.size(); ++i) rule(in, i, out);
    text = std::move(out);
  };
  // " ?", " !", " .", " ,"
  pass([](const std::string& in, size_t& i, std::string& out) {
    const char x = in[i];
    if (in[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) out.pop_back();
    out.push_back(x);
  });
  // " ' " -> "'": both spaces go. The character after the removed space is then not preceded by
  // a space as far as this pass is concerned.
  {
    const std::string in = text;
    std::string out;
    out.reserve(in.size());
    if (!in.empty()) out.push_back(in[0]);
    bool prev_removed = false;
    for (size_t i = 1; i < in.size(); ++i) {
      const char x = in[i];
      const bool prev_space = !prev_removed && in[i - 1] == ' ';
      prev_removed = false;
      if (x == '\'' && i + 1 < in.size() && prev_space && in[i + 1] == ' ') {
        out.pop_back();
        ++i;
        prev_removed = true;
      }
      out.push_back(x);
    }
    text = std::move(out);
  }
  // " 's", " 'm", " 're", " 've" (but not " 't", " 'd", " 'll")
  pass([](const std::string& in, size_t& i, std::string& out) {
    const char x = in[i];
    if (in[i - 1] == ' ' && x == '\'' && i + 1 < in.size()) {
      const char x1 = in[i + 1];
      if (x1 == 's' || x1 == 'm') {
        out.pop_back();
      } else if (i + 2 < in.size()) {
        const char x2 = in[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) out.pop_back();
      }
    }
    out.push_back(x);
  });
}

}  // namespace ember::tokenizer
