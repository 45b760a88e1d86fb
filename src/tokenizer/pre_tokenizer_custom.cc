// Hand-written pre-tokenizer splitters. They walk the UTF-8 bytes directly (no code point array)
// and look code point flags up in the table from unicode.h; the logic mirrors llama.cpp's
// hand-written splitters in src/unicode.cpp, including their treatment of piece ends (a code
// point outside [begin, end) has no flags at all).
#include "tokenizer/pre_tokenizer_custom.h"

#include "tokenizer/unicode.h"

namespace ember::tokenizer::detail {

namespace {

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// Code point reader over one piece. Positions are byte offsets into the text.
class Reader {
 public:
  Reader(std::string_view text, uint32_t end)
      : s_(text.data()), n_(text.size()), end_(end), flags_(codepoint_flags_table()) {}

  // The code point at `pos` and its length; kOutOfRange (length 0) at or past the piece end.
  uint32_t at(uint32_t pos, uint32_t* len) const {
    if (pos >= end_) {
      *len = 0;
      return kOutOfRange;
    }
    return decode_utf8_at(s_, n_, pos, len);
  }
  // Flags of a code point returned by at(); 0 for kOutOfRange.
  uint16_t flags(uint32_t cp) const { return cp == kOutOfRange ? 0 : flags_[cp]; }
  // Flags of the code point at `pos` (0 past the end).
  uint16_t flags_at(uint32_t pos) const {
    uint32_t len;
    return flags(at(pos, &len));
  }
  // Position after the run of code points starting at `pos` whose flags intersect `mask`.
  uint32_t skip(uint32_t pos, uint16_t mask) const {
    while (pos < end_) {
      uint32_t len;
      const uint32_t cp = decode_utf8_at(s_, n_, pos, &len);
      if (!(flags_[cp] & mask)) break;
      pos += len;
    }
    return pos;
  }
  // Position after the run of code points whose flags do NOT intersect `mask`.
  uint32_t skip_not(uint32_t pos, uint16_t mask) const {
    while (pos < end_) {
      uint32_t len;
      const uint32_t cp = decode_utf8_at(s_, n_, pos, &len);
      if (flags_[cp] & mask) break;
      pos += len;
    }
    return pos;
  }
  uint8_t byte(uint32_t pos) const { return static_cast<uint8_t>(s_[pos]); }

 private:
  const char* s_;
  size_t n_;
  uint32_t end_;
  const uint16_t* flags_;
};

inline uint32_t ascii_lower(uint32_t cp) {
  return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
}

inline void emit(Pieces& out, uint32_t a, uint32_t b) {
  if (b > a) out.emplace_back(a, b);
}

// Length in bytes of a contraction ('s 't 're 've 'm 'll 'd) starting at `pos` (which holds the
// apostrophe of length 1), or 0. Only ASCII letters lower-case to s/t/r/v/m/l/d/e, so the
// case-insensitive variants need no Unicode case mapping.
uint32_t contraction_length(const Reader& r, uint32_t pos, bool case_insensitive) {
  uint32_t l1, l2;
  uint32_t c1 = r.at(pos + 1, &l1);
  if (c1 == kOutOfRange) return 0;
  if (case_insensitive) c1 = ascii_lower(c1);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 1 + l1;
  uint32_t c2 = r.at(pos + 1 + l1, &l2);
  if (c2 == kOutOfRange) return 0;
  if (case_insensitive) c2 = ascii_lower(c2);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
    return 1 + l1 + l2;
  }
  return 0;
}

// The whitespace tail shared by the GPT-2 and Llama-3 splitters, at a whitespace code point:
//   Llama-3 only: \s*[\r\n]+  - up to and including the last \r or \n of the run
//   \s+(?!\S)               - the run minus its last code point when a non-space follows
//   \s+                     - the whole run
uint32_t whitespace_end(const Reader& r, uint32_t pos, uint32_t end, bool newline_rule) {
  uint32_t p = pos;
  uint32_t last_start = pos;
  uint32_t last_newline_end = 0;
  int count = 0;
  while (p < end) {
    uint32_t len;
    const uint32_t cp = r.at(p, &len);
    if (!(r.flags(cp) & kWhitespace)) break;
    if (cp == '\r' || cp == '\n') last_newline_end = p + len;
    last_start = p;
    p += len;
    ++count;
  }
  if (newline_rule && last_newline_end != 0) return last_newline_end;
  if (count > 1 && p < end) return last_start;
  return p;  // count == 0 cannot happen: the caller saw a whitespace code point
}

}  // namespace

void split_gpt2(std::string_view text, uint32_t begin, uint32_t end, Pieces& out) {
  const Reader r(text, end);
  constexpr uint16_t kWLN = kWhitespace | kLetter | kNumber;
  uint32_t pos = begin;
  while (pos < end) {
    const uint32_t start = pos;
    uint32_t len;
    const uint32_t cp = r.at(pos, &len);
    if (cp == '\'') {
      if (const uint32_t n = contraction_length(r, pos, false)) {
        emit(out, start, pos + n);
        pos += n;
        continue;
      }
    }
    // " ?X+" alternatives: a leading space belongs to the run of the class that follows it.
    const bool space = cp == ' ';
    const uint16_t f2 = space ? r.flags_at(pos + 1) : r.flags(cp);
    const uint32_t body = space ? pos + 1 : pos;
    if (f2 & kLetter) {
      pos = r.skip(body, kLetter);
    } else if (f2 & kNumber) {
      pos = r.skip(body, kNumber);
    } else if (!(f2 & kWLN) && f2 != 0) {
      pos = r.skip_not(body, kWLN);
    } else if (r.flags(cp) & kWhitespace) {
      pos = whitespace_end(r, pos, end, false);
    } else {
      pos += len;  // unreachable: every code point in range has a category
    }
    emit(out, start, pos);
  }
}

void split_llama3(std::string_view text, uint32_t begin, uint32_t end, const Llama3Options& opt,
                  Pieces& out) {
  const Reader r(text, end);
  const uint16_t word = opt.marks ? (kLetter | kMark) : kLetter;
  const uint16_t not_punct = kWhitespace | kNumber | word;
  uint32_t pos = begin;
  while (pos < end) {
    const uint32_t start = pos;
    uint32_t len;
    const uint32_t cp = r.at(pos, &len);
    const uint16_t f = r.flags(cp);
    if (opt.contractions && cp == '\'') {
      if (const uint32_t n = contraction_length(r, pos, true)) {
        pos += n;
        emit(out, start, pos);
        continue;
      }
    }
    // [^\r\n\p{L}\p{N}]?WORD+ : a word, or any other non-newline, non-number code point directly
    // followed by a word.
    if (!(cp == '\r' || cp == '\n' || (f & kNumber))) {
      if ((f & word) || (r.flags_at(pos + len) & word)) {
        pos = r.skip(pos + len, word);
        emit(out, start, pos);
        continue;
      }
    }
    // \p{N}{1,D}
    if (f & kNumber) {
      if (opt.max_digits <= 0) {
        pos = r.skip(pos, kNumber);
        emit(out, start, pos);
        continue;
      }
      uint32_t group = pos;
      int count = 0;
      while (pos < end) {
        uint32_t l;
        const uint32_t c = r.at(pos, &l);
        if (!(r.flags(c) & kNumber)) break;
        pos += l;
        if (++count == opt.max_digits) {
          emit(out, group, pos);
          group = pos;
          count = 0;
        }
      }
      emit(out, group, pos);
      continue;
    }
    // " ?[^\s WORD \p{N}]+[\r\n]*"
    const bool space = cp == ' ';
    const uint16_t f2 = space ? r.flags_at(pos + 1) : f;
    if (!(f2 & not_punct)) {
      pos = r.skip_not(space ? pos + 1 : pos, not_punct);
      while (pos < end && (r.byte(pos) == '\r' || r.byte(pos) == '\n')) ++pos;
      emit(out, start, pos);
      continue;
    }
    if (f & kWhitespace) {
      pos = whitespace_end(r, pos, end, true);
    } else {
      pos += len;  // unreachable: every code point in range has a category
    }
    emit(out, start, pos);
  }
}

void split_kimi_k2(std::string_view text, uint32_t begin, uint32_t end, Pieces& out) {
  const Reader r(text, end);
  // A letter that is not Han.
  auto is_word = [&](uint32_t cp) { return (r.flags(cp) & kLetter) && !is_han(cp); };
  uint32_t pos = begin;
  while (pos < end) {
    const uint32_t start = pos;
    uint32_t len;
    const uint32_t cp = r.at(pos, &len);
    const uint16_t f = r.flags(cp);

    // [\p{Han}]+
    if (is_han(cp)) {
      while (pos < end) {
        uint32_t l;
        if (!is_han(r.at(pos, &l))) break;
        pos += l;
      }
      emit(out, start, pos);
      continue;
    }

    // [^\r\n\p{L}\p{N}]? non-Han letters+ with an optional case-insensitive contraction.
    const bool prefix_ok = !(cp == '\r' || cp == '\n' || (f & (kLetter | kNumber)));
    uint32_t next_len;
    const uint32_t next = r.at(pos + len, &next_len);
    if (is_word(cp) || (prefix_ok && is_word(next))) {
      uint32_t p = prefix_ok ? pos + len : pos;
      while (p < end) {
        uint32_t l;
        if (!is_word(r.at(p, &l))) break;
        p += l;
      }
      uint32_t l;
      if (r.at(p, &l) == '\'') p += contraction_length(r, p, true);
      pos = p;
      emit(out, start, pos);
      continue;
    }

    // \p{N}{1,3}
    if (f & kNumber) {
      uint32_t group = pos;
      int count = 0;
      while (pos < end) {
        uint32_t l;
        const uint32_t c = r.at(pos, &l);
        if (!(r.flags(c) & kNumber)) break;
        pos += l;
        if (++count == 3) {
          emit(out, group, pos);
          group = pos;
          count = 0;
        }
      }
      emit(out, group, pos);
      continue;
    }

    //  ?[^\s\p{L}\p{N}]+[\r\n]*   (here llama.cpp requires the class code point to exist)
    constexpr uint16_t kWLN = kWhitespace | kLetter | kNumber;
    const bool space = cp == ' ';
    const uint16_t f2 = space ? r.flags_at(pos + 1) : f;
    if (!(f2 & kWLN) && f2 != 0) {
      pos = r.skip_not(space ? pos + 1 : pos, kWLN);
      while (pos < end && (r.byte(pos) == '\r' || r.byte(pos) == '\n')) ++pos;
      emit(out, start, pos);
      continue;
    }
    if (f & kWhitespace) {
      pos = whitespace_end(r, pos, end, true);
    } else {
      pos += len;
    }
    emit(out, start, pos);
  }
}

void split_afmoe_digits(std::string_view text, uint32_t begin, uint32_t end, Pieces& out) {
  const Reader r(text, end);
  uint32_t prev_end = begin;  // pieces always run from the previous cut to the next one
  uint32_t pos = begin;
  std::vector<uint32_t> cuts;
  while (pos < end) {
    uint32_t len;
    const uint32_t cp = r.at(pos, &len);
    if (!(r.flags(cp) & kNumber)) {
      pos += len;
      continue;
    }
    // Collect the digit run's code point boundaries, then cut it into groups of three counted
    // from the right; the first cut also closes the non-digit text before the run.
    cuts.clear();
    while (pos < end) {
      uint32_t l;
      const uint32_t c = r.at(pos, &l);
      if (!(r.flags(c) & kNumber)) break;
      pos += l;
      cuts.push_back(pos);
    }
    const size_t count = cuts.size();
    for (size_t i = 0; i < count; ++i) {
      const size_t digits_so_far = i + 1;
      if ((count - digits_so_far) % 3 == 0) {
        emit(out, prev_end, cuts[i]);
        prev_end = cuts[i];
      }
    }
  }
  emit(out, prev_end, end);
}

void split_numbers(std::string_view text, uint32_t begin, uint32_t end, int max_run, Pieces& out) {
  const Reader r(text, end);
  uint32_t pos = begin;
  while (pos < end) {
    const uint32_t start = pos;
    uint32_t len;
    const uint32_t cp = r.at(pos, &len);
    if (!(r.flags(cp) & kNumber)) {
      pos = r.skip_not(pos, kNumber);
      emit(out, start, pos);
      continue;
    }
    if (max_run <= 0) {
      pos = r.skip(pos, kNumber);
      emit(out, start, pos);
      continue;
    }
    uint32_t group = pos;
    int count = 0;
    while (pos < end) {
      uint32_t l;
      const uint32_t c = r.at(pos, &l);
      if (!(r.flags(c) & kNumber)) break;
      pos += l;
      if (++count == max_run) {
        emit(out, group, pos);
        group = pos;
        count = 0;
      }
    }
    emit(out, group, pos);
  }
}

void split_newline_runs(std::string_view text, uint32_t begin, uint32_t end, Pieces& out) {
  // '\n' is one byte and never part of a multi-byte sequence, so bytes suffice.
  uint32_t pos = begin;
  while (pos < end) {
    const uint32_t start = pos;
    const bool newline = text[pos] == '\n';
    while (pos < end && (text[pos] == '\n') == newline) ++pos;
    out.emplace_back(start, pos);
  }
}

}  // namespace ember::tokenizer::detail
