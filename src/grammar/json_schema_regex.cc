// The regular-expression subset of JSON Schema's `pattern`, translated to GBNF over the JSON text
// of a string (each matched character written raw or as its JSON escape).
//
// Supported: literal characters, escapes (\d \D \w \W \s \S \t \n \r \f \v \0 \xHH \uHHHH \cX and
// escaped punctuation), `.`, classes [...] with ranges and ^ negation, groups (...), (?:...) and
// (?<name>...), alternation |, quantifiers ? * + {m} {m,} {m,n} (a lazy `?` suffix is accepted:
// it does not change which strings match), ^ at the start and $ at the end of the pattern or of a
// top-level alternative. Without ^ (or $) any text may come before (or after), as JSON Schema
// patterns are not anchored. Everything else (backreferences, lookaround, \b, \p{...}, ^ or $
// elsewhere) is an error.
#include <cctype>
#include <string>
#include <vector>

#include "grammar/json_schema_internal.h"
#include "grammar/utf8.h"

namespace ember::grammar::schema_internal {
namespace {

constexpr int kMaxGroupDepth = 32;

std::vector<CodeRange> digit_ranges() {
  return {{'0', '9'}};
}
std::vector<CodeRange> word_ranges() {
  return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
}
std::vector<CodeRange> space_ranges() {
  return {{0x09, 0x0D},     {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
          {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
}
std::vector<CodeRange> complement(std::vector<CodeRange> r) {
  CharSet s(std::move(r), true);
  return std::vector<CodeRange>(s.ranges().begin(), s.ranges().end());
}

class RegexConverter {
 public:
  RegexConverter(std::string_view p, std::string_view any_char, uint32_t max_repetition)
      : p_(p), any_char_(any_char), max_repetition_(max_repetition) {}

  Result<std::string> run() {
    EMBER_ASSIGN_OR_RETURN(std::string expr, alternation(/*top=*/true, 0));
    if (i_ < p_.size()) return error("unbalanced ')'");
    return expr;
  }

 private:
  Status error(const std::string& what) const {
    return unimplemented("pattern \"" + std::string(p_) + "\": " + what + " (at offset " +
                         std::to_string(i_) + ")");
  }
  bool at_end() const { return i_ >= p_.size(); }
  char peek(size_t ahead = 0) const { return i_ + ahead < p_.size() ? p_[i_ + ahead] : '\0'; }

  Result<std::string> alternation(bool top, int depth) {
    std::vector<std::string> alts;
    while (true) {
      bool anchored_start = false, anchored_end = false;
      if (top && peek() == '^') {
        anchored_start = true;
        ++i_;
      }
      EMBER_ASSIGN_OR_RETURN(std::string seq, sequence(top, depth, &anchored_end));
      if (top) {
        const std::string any = std::string(any_char_) + "*";
        if (!anchored_start) seq = seq.empty() ? any : any + " " + seq;
        if (!anchored_end && !(seq == any)) seq = seq.empty() ? any : seq + " " + any;
      }
      alts.push_back(seq.empty() ? "\"\"" : seq);
      if (peek() != '|') break;
      ++i_;
    }
    if (alts.size() == 1) return alts[0];
    std::string s;
    for (size_t k = 0; k < alts.size(); ++k) {
      if (k) s += " | ";
      s += alts[k];
    }
    return s;
  }

  // Items up to '|', ')' or the end.
  Result<std::string> sequence(bool top, int depth, bool* anchored_end) {
    std::vector<std::string> items;
    bool last_quantified = false;
    while (!at_end() && peek() != '|' && peek() != ')') {
      const char c = peek();
      if (c == '$') {
        ++i_;
        if (top && (at_end() || peek() == '|')) {
          *anchored_end = true;
          break;
        }
        return error("'$' is only supported at the end of the pattern");
      }
      if (c == '^') return error("'^' is only supported at the start of the pattern");
      if (c == '*' || c == '+' || c == '?' || (c == '{' && is_quantifier())) {
        if (items.empty() || last_quantified) return error("nothing to repeat");
        EMBER_ASSIGN_OR_RETURN(std::string q, quantifier());
        items.back() += q;
        last_quantified = true;
        continue;
      }
      EMBER_ASSIGN_OR_RETURN(std::string item, atom(depth));
      items.push_back(std::move(item));
      last_quantified = false;
    }
    std::string s;
    for (size_t k = 0; k < items.size(); ++k) {
      if (k) s += " ";
      s += items[k];
    }
    return s;
  }

  // `{` starts a quantifier only as {m}, {m,} or {m,n}; otherwise it is a literal brace.
  bool is_quantifier() const {
    size_t j = i_ + 1;
    auto digits = [&] {
      const size_t s = j;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') ++j;
      return j > s;
    };
    if (!digits()) return false;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      digits();
    }
    return j < p_.size() && p_[j] == '}';
  }

  Result<uint32_t> number() {
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      v = v * 10 + static_cast<uint64_t>(peek() - '0');
      ++i_;
      if (v > max_repetition_) {
        return error("repetition bound above the limit of " + std::to_string(max_repetition_));
      }
    }
    return static_cast<uint32_t>(v);
  }

  Result<std::string> quantifier() {
    const char c = peek();
    ++i_;
    std::string q;
    if (c == '*' || c == '+' || c == '?') {
      q = std::string(1, c);
    } else {
      EMBER_ASSIGN_OR_RETURN(const uint32_t m, number());
      if (peek() == ',') {
        ++i_;
        if (peek() == '}') {
          q = std::string("{").append(std::to_string(m)).append(",}");
        } else {
          EMBER_ASSIGN_OR_RETURN(const uint32_t n, number());
          if (n < m) return error("repetition {m,n} with m > n");
          q = std::string("{")
                  .append(std::to_string(m))
                  .append(",")
                  .append(std::to_string(n))
                  .append("}");
        }
      } else {
        q = std::string("{").append(std::to_string(m)).append("}");
      }
      ++i_;  // '}'
    }
    if (peek() == '?') ++i_;  // lazy: same set of matching strings
    return q;
  }

  Result<std::string> chars(std::vector<CodeRange> ranges, bool negate = false) {
    const std::string e = json_string_char_expr(CharSet(std::move(ranges), negate));
    if (e.empty()) return error("a character class that matches no character is not supported");
    return e;
  }

  Result<std::string> atom(int depth) {
    const char c = peek();
    if (c == '(') {
      if (depth + 1 > kMaxGroupDepth) return error("groups nested too deeply");
      ++i_;
      if (peek() == '?') {
        if (peek(1) == ':') {
          i_ += 2;
        } else if (peek(1) == '<' && peek(2) != '=' && peek(2) != '!') {
          i_ += 2;
          while (!at_end() && peek() != '>') ++i_;
          if (at_end()) return error("unterminated group name");
          ++i_;
        } else {
          return error("lookaround and other (?...) groups are not supported");
        }
      }
      EMBER_ASSIGN_OR_RETURN(std::string inner, alternation(/*top=*/false, depth + 1));
      if (peek() != ')') return error("missing ')'");
      ++i_;
      return std::string("(").append(inner.empty() ? std::string("\"\"") : inner).append(")");
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++i_;
      return chars({{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}}, /*negate=*/true);
    }
    if (c == '\\') {
      std::vector<CodeRange> set;
      EMBER_ASSIGN_OR_RETURN(const bool is_set, escape(/*in_class=*/false, &set));
      (void)is_set;
      return chars(std::move(set));
    }
    uint32_t cp;
    if (!utf8_decode(p_, &i_, &cp)) return error("invalid UTF-8");
    return chars({{cp, cp}});
  }

  // An escape at i_ ('\\'); fills *set. Returns true for a class escape (\d, \w, ...), false for a
  // single character.
  Result<bool> escape(bool in_class, std::vector<CodeRange>* set) {
    ++i_;
    if (at_end()) return error("pattern ends with '\\'");
    const char e = peek();
    ++i_;
    auto single = [&](uint32_t cp) {
      set->push_back({cp, cp});
      return false;
    };
    switch (e) {
      case 'd':
        *set = digit_ranges();
        return true;
      case 'D':
        *set = complement(digit_ranges());
        return true;
      case 'w':
        *set = word_ranges();
        return true;
      case 'W':
        *set = complement(word_ranges());
        return true;
      case 's':
        *set = space_ranges();
        return true;
      case 'S':
        *set = complement(space_ranges());
        return true;
      case 't':
        return single('\t');
      case 'n':
        return single('\n');
      case 'r':
        return single('\r');
      case 'f':
        return single('\f');
      case 'v':
        return single('\v');
      case 'b':
        if (in_class) return single('\b');
        return error("word boundaries (\\b) are not supported");
      case 'B':
        return error("word boundaries (\\B) are not supported");
      case '0':
        if (peek() >= '0' && peek() <= '9') return error("octal escapes are not supported");
        return single(0);
      case 'x':
      case 'u': {
        const int n = e == 'x' ? 2 : 4;
        if (e == 'u' && peek() == '{') return error("\\u{...} escapes are not supported");
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
          const char h = peek();
          int d;
          if (h >= '0' && h <= '9') {
            d = h - '0';
          } else if (h >= 'a' && h <= 'f') {
            d = h - 'a' + 10;
          } else if (h >= 'A' && h <= 'F') {
            d = h - 'A' + 10;
          } else {
            return error(std::string("expected hex digits after \\") + e);
          }
          v = v * 16 + static_cast<uint32_t>(d);
          ++i_;
        }
        return single(v);
      }
      case 'c': {
        const char l = peek();
        if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z'))) return error("invalid \\c escape");
        ++i_;
        return single(static_cast<uint32_t>(l) % 32);
      }
      case 'p':
      case 'P':
        return error("Unicode property escapes (\\p{...}) are not supported");
      case 'k':
        return error("named backreferences are not supported");
      default:
        break;
    }
    if (e >= '1' && e <= '9') return error("backreferences are not supported");
    const unsigned char u = static_cast<unsigned char>(e);
    if (u < 0x80 && !std::isalnum(u)) return single(u);  // escaped punctuation
    return error(std::string("unknown escape '\\") + e + "'");
  }

  Result<std::string> char_class() {
    const size_t start = i_;
    ++i_;
    bool negate = false;
    if (peek() == '^') {
      negate = true;
      ++i_;
    }
    std::vector<CodeRange> ranges;
    while (true) {
      if (at_end()) {
        i_ = start;
        return error("unterminated character class");
      }
      if (peek() == ']') break;
      std::vector<CodeRange> left;
      bool left_is_set = false;
      if (peek() == '\\') {
        EMBER_ASSIGN_OR_RETURN(left_is_set, escape(/*in_class=*/true, &left));
      } else {
        uint32_t cp;
        if (!utf8_decode(p_, &i_, &cp)) return error("invalid UTF-8");
        left.push_back({cp, cp});
      }
      if (!left_is_set && peek() == '-' && peek(1) != ']' && i_ + 1 < p_.size()) {
        ++i_;
        std::vector<CodeRange> right;
        bool right_is_set = false;
        if (peek() == '\\') {
          EMBER_ASSIGN_OR_RETURN(right_is_set, escape(/*in_class=*/true, &right));
        } else {
          uint32_t cp;
          if (!utf8_decode(p_, &i_, &cp)) return error("invalid UTF-8");
          right.push_back({cp, cp});
        }
        if (right_is_set) {
          // [a-\d]: the '-' is literal (ECMAScript Annex B).
          ranges.insert(ranges.end(), left.begin(), left.end());
          ranges.push_back({'-', '-'});
          ranges.insert(ranges.end(), right.begin(), right.end());
          continue;
        }
        if (right[0].lo < left[0].lo) return error("character class range out of order");
        ranges.push_back({left[0].lo, right[0].lo});
        continue;
      }
      ranges.insert(ranges.end(), left.begin(), left.end());
    }
    ++i_;
    return chars(std::move(ranges), negate);
  }

  std::string_view p_;
  std::string_view any_char_;
  uint32_t max_repetition_;
  size_t i_ = 0;
};

}  // namespace

Result<std::string> regex_to_gbnf(std::string_view pattern, std::string_view any_char,
                                  uint32_t max_repetition) {
  return RegexConverter(pattern, any_char, max_repetition).run();
}

}  // namespace ember::grammar::schema_internal
