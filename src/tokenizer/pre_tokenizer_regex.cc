// llama.cpp-compatible regex splitting with PCRE2; see pre_tokenizer_regex.h.
#include "tokenizer/pre_tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>

#include "tokenizer/unicode.h"

namespace ember::tokenizer::detail {

namespace {

// The unicode classes llama.cpp rewrites, and what they become. \p{Lu}..\p{Lo} all mean
// "letter": llama.cpp's table has no sub-categories.
struct UnicodeClass {
  std::string_view name;
  std::string_view replacement;  // PCRE2 class contents: the collapsed byte + ASCII members
};

constexpr std::array<UnicodeClass, 10> kUnicodeClasses = {{
    {"\\p{N}",
     "\\xD1"
     "0-9"},
    {"\\p{L}",
     "\\xD2"
     "A-Za-z"},
    {"\\p{P}",
     "\\xD3"
     "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"},
    {"\\p{M}", "\\xD4"},
    // ASCII symbols: $ + < = > ^ ` | ~ (current llama.cpp lists '~' too).
    {"\\p{S}",
     "\\xD5"
     "\\$\\+<->\\^`\\|~"},
    {"\\p{Lu}",
     "\\xD2"
     "A-Za-z"},
    {"\\p{Ll}",
     "\\xD2"
     "A-Za-z"},
    {"\\p{Lt}",
     "\\xD2"
     "A-Za-z"},
    {"\\p{Lm}",
     "\\xD2"
     "A-Za-z"},
    {"\\p{Lo}",
     "\\xD2"
     "A-Za-z"},
}};

// The byte llama.cpp substitutes for a non-ASCII code point in the collapsed text.
char collapsed_byte(uint32_t cp, uint16_t flags) {
  if (cp < 0x80) return static_cast<char>(cp);
  if (flags & kWhitespace) return 0x0B;
  if (flags & kNumber) return static_cast<char>(0xD1);
  if (flags & kLetter) return static_cast<char>(0xD2);
  if (flags & kPunctuation) return static_cast<char>(0xD3);
  if (flags & kMark) return static_cast<char>(0xD4);
  if (flags & kSymbol) return static_cast<char>(0xD5);
  return static_cast<char>(0xD0);
}

}  // namespace

bool uses_collapsed_classes(std::string_view pattern) {
  for (const UnicodeClass& c : kUnicodeClasses) {
    if (pattern.find(c.name) != std::string_view::npos) return true;
  }
  return false;
}

std::string collapse_regex(std::string_view p) {
  // Same scan as llama.cpp: track whether we are inside [...] (an unescaped '[' opens, an
  // unescaped ']' closes), and replace each known \p{..} by its class, bracketed when outside.
  std::string out;
  bool inside = false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '[' && (i == 0 || p[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && p[i] == ']' && p[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (p[i] == '\\' && i + 3 < p.size() && p[i + 1] == 'p' && p[i + 2] == '{') {
      const size_t close = p.find('}', i + 3);
      if (close != std::string_view::npos && close <= i + 10) {
        const std::string_view name = p.substr(i, close - i + 1);
        const auto it = std::find_if(kUnicodeClasses.begin(), kUnicodeClasses.end(),
                                     [&](const UnicodeClass& c) { return c.name == name; });
        if (it != kUnicodeClasses.end()) {
          if (!inside) out += '[';
          out += it->replacement;
          if (!inside) out += ']';
          i = close;
          continue;
        }
      }
    }
    out += p[i];
  }
  return out;
}

// ---- RegexSubject -----------------------------------------------------------------------------

void RegexSubject::ensure_codepoints() {
  if (have_cps_) return;
  have_cps_ = true;
  cps_.reserve(text_.size());
  cp_byte_.reserve(text_.size() + 1);
  size_t pos = 0;
  while (pos < text_.size()) {
    cp_byte_.push_back(static_cast<uint32_t>(pos));
    cps_.push_back(decode_utf8(text_, &pos));
  }
  cp_byte_.push_back(static_cast<uint32_t>(text_.size()));
}

uint32_t RegexSubject::cp_index(uint32_t byte_offset) {
  return cp_index_table()[byte_offset];
}

const uint32_t* RegexSubject::cp_index_table() {
  if (byte_cp_.empty()) {
    ensure_codepoints();
    byte_cp_.assign(text_.size() + 1, 0);
    for (uint32_t i = 0; i < cp_byte_.size(); ++i) byte_cp_[cp_byte_[i]] = i;
  }
  return byte_cp_.data();
}

uint32_t RegexSubject::byte_offset(uint32_t cp_index) {
  ensure_codepoints();
  return cp_byte_[cp_index];
}

const std::string& RegexSubject::collapsed() {
  if (have_collapsed_) return collapsed_;
  have_collapsed_ = true;
  ensure_codepoints();
  const uint16_t* flags = codepoint_flags_table();
  collapsed_.resize(cps_.size());
  for (size_t i = 0; i < cps_.size(); ++i) collapsed_[i] = collapsed_byte(cps_[i], flags[cps_[i]]);
  return collapsed_;
}

const std::string& RegexSubject::wide() {
  if (have_wide_) return wide_;
  have_wide_ = true;
  ensure_codepoints();
  const uint16_t* flags = codepoint_flags_table();
  wide_.reserve(text_.size());
  cp_wide_.reserve(cps_.size() + 1);
  for (uint32_t cp : cps_) {
    cp_wide_.push_back(static_cast<uint32_t>(wide_.size()));
    if (cp > 0x7F && (flags[cp] & kWhitespace)) cp = 0x0B;
    // PCRE2 in UTF mode rejects encoded surrogates; no llama.cpp pattern can tell a surrogate
    // from U+FFFD (neither is in any of their literal ranges).
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = kReplacementChar;
    append_utf8(cp, wide_);
  }
  cp_wide_.push_back(static_cast<uint32_t>(wide_.size()));
  wide_cp_.assign(wide_.size() + 1, 0);
  for (uint32_t i = 0; i < cp_wide_.size(); ++i) wide_cp_[cp_wide_[i]] = i;
  return wide_;
}

uint32_t RegexSubject::wide_offset(uint32_t cp_index) {
  wide();
  return cp_wide_[cp_index];
}

// ---- LlamaRegex -------------------------------------------------------------------------------

struct LlamaRegex::Code {
  pcre2_code* code = nullptr;
  ~Code() {
    if (code != nullptr) pcre2_code_free(code);
  }
};

LlamaRegex::~LlamaRegex() = default;

Result<std::shared_ptr<const LlamaRegex>> LlamaRegex::compile(std::string_view pattern) {
  std::shared_ptr<LlamaRegex> re(new LlamaRegex());
  re->collapsed_ = uses_collapsed_classes(pattern);
  uint32_t options = PCRE2_DOLLAR_ENDONLY;  // ECMAScript '$' matches only at the very end
  if (re->collapsed_) {
    for (unsigned char c : pattern) {
      if (c >= 0x80) {
        return invalid_argument("pre-tokenizer regex mixes unicode classes with non-ASCII text");
      }
    }
    re->translated_ = collapse_regex(pattern);
  } else {
    re->translated_ = std::string(pattern);
    options |= PCRE2_UTF;
  }
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  re->code_ = std::make_unique<Code>();
  re->code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re->translated_.data()),
                                  re->translated_.size(), options, &error, &error_offset, nullptr);
  if (re->code_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return invalid_argument("cannot compile pre-tokenizer regex '" + std::string(pattern) +
                            "' at offset " + std::to_string(error_offset) + ": " +
                            reinterpret_cast<const char*>(message));
  }
  // JIT is an optional speed-up: when it is unavailable the interpreter is used.
  (void)pcre2_jit_compile(re->code_->code, PCRE2_JIT_COMPLETE);
  return std::shared_ptr<const LlamaRegex>(std::move(re));
}

void LlamaRegex::split(RegexSubject& subject, const Pieces& pieces, Pieces& out) const {
  if (pieces.empty()) return;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_->code, nullptr);
  if (md == nullptr) {  // out of memory: keep the pieces whole rather than fail
    out.insert(out.end(), pieces.begin(), pieces.end());
    return;
  }
  const uint32_t* cp_of_byte = subject.cp_index_table();
  const char* base = collapsed_ ? subject.collapsed().data() : subject.wide().data();
  for (const auto& piece : pieces) {
    if (piece.first >= piece.second) continue;
    const uint32_t c0 = cp_of_byte[piece.first];
    const uint32_t c1 = cp_of_byte[piece.second];
    // The piece as a subject: one byte per code point (collapsed) or its wide UTF-8.
    const uint32_t s0 = collapsed_ ? c0 : subject.wide_offset(c0);
    const size_t length = (collapsed_ ? c1 : subject.wide_offset(c1)) - s0;
    const auto* subj = reinterpret_cast<PCRE2_SPTR>(base + s0);
    // Subject offset -> byte offset in the original text.
    auto to_byte = [&](size_t off) -> uint32_t {
      const uint32_t cp = collapsed_ ? c0 + static_cast<uint32_t>(off)
                                     : subject.cp_index_of_wide(s0 + static_cast<uint32_t>(off));
      return subject.byte_offset(cp);
    };
    auto emit = [&](size_t a, size_t b) {
      if (b > a) out.emplace_back(to_byte(a), to_byte(b));
    };
    size_t last_end = 0;  // end of the previous match: the next gap starts here
    size_t start = 0;
    uint32_t options = 0;
    while (start <= length) {
      int rc =
          pcre2_match(code_->code, subj, length, start, options | PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        rc = pcre2_match(code_->code, subj, length, start,
                         options | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
      }
      if (rc == PCRE2_ERROR_NOMATCH) {
        if (options == 0) break;
        // After an empty match, a non-empty match at the same place failed: move on by one
        // character and search again (what std::regex_iterator does).
        options = 0;
        ++start;
        if (!collapsed_) {
          while (start < length && (subj[start] & 0xC0) == 0x80) ++start;
        }
        continue;
      }
      if (rc < 0) break;  // resource limit: the rest of the piece stays one gap
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t ms = ov[0];
      const size_t me = ov[1];
      emit(last_end, ms);
      emit(ms, me);
      last_end = me;
      start = me;
      options = (me == ms) ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
      if (me == ms && me == length) break;
    }
    emit(last_end, length);
  }
  pcre2_match_data_free(md);
}

}  // namespace ember::tokenizer::detail
