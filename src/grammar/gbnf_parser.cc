#include "grammar/gbnf_parser.h"

#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/utf8.h"

namespace ember::grammar {
namespace {

constexpr uint32_t kUnbounded = UINT32_MAX;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "'x'" for a printable character, "U+XXXX" otherwise, for messages.
std::string describe_char_at(std::string_view s, size_t pos) {
  if (pos >= s.size()) return "end of input";
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c == '\n') return "a newline";
  if (c >= 0x20 && c < 0x7F) return std::string("'") + static_cast<char>(c) + "'";
  size_t p = pos;
  uint32_t cp;
  if (utf8_decode(s, &p, &cp)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", cp);
    return buf;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

class Parser {
 public:
  Parser(std::string_view src, const GrammarLimits& limits) : src_(src), limits_(limits) {}

  Result<std::shared_ptr<const Grammar>> run() {
    if (src_.size() > limits_.max_input_bytes) {
      return resource_exhausted("grammar is " + std::to_string(src_.size()) +
                                " bytes, more than the limit of " +
                                std::to_string(limits_.max_input_bytes));
    }
    skip_space(true);
    while (pos_ < src_.size()) EMBER_RETURN_IF_ERROR(parse_rule());

    // Undefined rules: report the earliest reference.
    size_t first_undefined = SIZE_MAX;
    uint32_t undefined_rule = 0;
    for (uint32_t r = 0; r < rules_.size(); ++r) {
      if (!rules_[r].synthesized && !defined_[r] && ref_pos_[r] < first_undefined) {
        first_undefined = ref_pos_[r];
        undefined_rule = r;
      }
    }
    if (first_undefined != SIZE_MAX) {
      return error_at(first_undefined, "undefined rule '" + rules_[undefined_rule].name + "'");
    }
    auto root = ids_.find("root");
    if (root == ids_.end()) return invalid_argument("grammar has no 'root' rule");
    return Grammar::build(std::move(rules_), std::move(charsets_), root->second);
  }

 private:
  Status error_at(size_t pos, const std::string& message) const {
    return invalid_argument(position(pos) + ": " + message);
  }
  // "line L, column C" of byte offset `pos`.
  std::string position(size_t pos) const {
    int line = 1, column = 1;
    for (size_t i = 0; i < pos && i < src_.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(src_[i]);
      if (c == '\n') {
        ++line;
        column = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++column;  // count characters, not continuation bytes
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
  }
  // Line of `pos`; positions asked for only grow, so counting resumes where it stopped.
  int line_of(size_t pos) {
    for (; line_pos_ < pos && line_pos_ < src_.size(); ++line_pos_)
      line_ += src_[line_pos_] == '\n';
    return line_;
  }

  bool at_end() const { return pos_ >= src_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  // Spaces, tabs and comments; newlines too when `newline_ok`.
  void skip_space(bool newline_ok) {
    while (!at_end()) {
      const char c = src_[pos_];
      if (c == ' ' || c == '\t' || (newline_ok && (c == '\r' || c == '\n'))) {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && src_[pos_] != '\r' && src_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  uint32_t rule_id(std::string_view name, size_t ref_pos) {
    auto it = ids_.find(std::string(name));
    if (it != ids_.end()) {
      if (ref_pos < ref_pos_[it->second]) ref_pos_[it->second] = ref_pos;
      return it->second;
    }
    const uint32_t id = static_cast<uint32_t>(rules_.size());
    RuleDef def;
    def.name = std::string(name);
    def.owner = id;
    rules_.push_back(std::move(def));
    defined_.push_back(0);
    ref_pos_.push_back(ref_pos);
    ids_.emplace(std::string(name), id);
    return id;
  }

  Result<uint32_t> new_rule(uint32_t owner) {
    if (rules_.size() >= limits_.max_rules) {
      return Status(error_at(pos_, "more than " + std::to_string(limits_.max_rules) +
                                       " rules (counting groups and repetitions)"))
          .with_context("grammar too large");
    }
    const uint32_t id = static_cast<uint32_t>(rules_.size());
    RuleDef def;
    def.name = rules_[owner].name + "_" + std::to_string(id);
    def.owner = owner;
    def.synthesized = true;
    rules_.push_back(std::move(def));
    defined_.push_back(1);
    ref_pos_.push_back(SIZE_MAX);
    return id;
  }

  Status count_elements(size_t n) {
    if (n > limits_.max_elements || n_elements_ > limits_.max_elements - n) {
      return Status(StatusCode::kResourceExhausted,
                    error_at(pos_, "grammar expands to more than " +
                                       std::to_string(limits_.max_elements) + " symbols")
                        .message());
    }
    n_elements_ += n;
    return Status::Ok();
  }

  uint32_t charset_id(CharSet set) {
    auto key = std::vector<CodeRange>(set.ranges().begin(), set.ranges().end());
    auto it = charset_ids_.find(key);
    if (it != charset_ids_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(charsets_.size());
    charsets_.push_back(std::move(set));
    charset_ids_.emplace(std::move(key), id);
    return id;
  }

  Status parse_rule() {
    const size_t name_pos = pos_;
    while (!at_end() && is_name_char(src_[pos_])) ++pos_;
    if (pos_ == name_pos) {
      return error_at(pos_, "expected a rule name, found " + describe_char_at(src_, pos_));
    }
    const std::string_view name = src_.substr(name_pos, pos_ - name_pos);
    skip_space(false);
    if (!(peek() == ':' && peek(1) == ':' && peek(2) == '=')) {
      return error_at(pos_, "expected '::=' after rule name '" + std::string(name) + "', found " +
                                describe_char_at(src_, pos_));
    }
    pos_ += 3;
    skip_space(true);
    const uint32_t id = rule_id(name, SIZE_MAX);
    if (defined_[id]) {
      return error_at(name_pos, "rule '" + std::string(name) +
                                    "' is defined twice (first on line " +
                                    std::to_string(rules_[id].line) + ")");
    }
    defined_[id] = 1;
    rules_[id].line = line_of(name_pos);
    std::vector<std::vector<Element>> alts;
    EMBER_RETURN_IF_ERROR(parse_alternates(id, /*nested=*/false, 0, &alts));
    rules_[id].alternatives = std::move(alts);
    if (peek() == '\r') {
      pos_ += peek(1) == '\n' ? 2 : 1;
    } else if (peek() == '\n') {
      ++pos_;
    } else if (!at_end()) {
      return error_at(
          pos_, "expected a newline or the end of the rule, found " + describe_char_at(src_, pos_));
    }
    skip_space(true);
    return Status::Ok();
  }

  Status parse_alternates(uint32_t owner, bool nested, int depth,
                          std::vector<std::vector<Element>>* alts) {
    alts->emplace_back();
    EMBER_RETURN_IF_ERROR(count_elements(1));
    EMBER_RETURN_IF_ERROR(parse_sequence(owner, nested, depth, &alts->back()));
    while (peek() == '|') {
      ++pos_;
      skip_space(true);
      alts->emplace_back();
      EMBER_RETURN_IF_ERROR(count_elements(1));
      EMBER_RETURN_IF_ERROR(parse_sequence(owner, nested, depth, &alts->back()));
    }
    return Status::Ok();
  }

  // One character of a literal or class at pos_: an escape or a UTF-8 character.
  Result<uint32_t> parse_char() {
    const size_t start = pos_;
    if (peek() == '\\') {
      if (pos_ + 1 >= src_.size()) return error_at(start, "unexpected end of input after '\\'");
      const char e = src_[pos_ + 1];
      pos_ += 2;
      int hex_digits = 0;
      switch (e) {
        case 'x':
          hex_digits = 2;
          break;
        case 'u':
          hex_digits = 4;
          break;
        case 'U':
          hex_digits = 8;
          break;
        case 't':
          return uint32_t{'\t'};
        case 'r':
          return uint32_t{'\r'};
        case 'n':
          return uint32_t{'\n'};
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
          return static_cast<uint32_t>(e);
        default:
          pos_ = start;
          return error_at(start, "unknown escape '\\" + std::string(1, e) + "'");
      }
      uint32_t value = 0;
      for (int i = 0; i < hex_digits; ++i) {
        const char c = peek();
        int digit;
        if (c >= '0' && c <= '9') {
          digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
          digit = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
          digit = c - 'A' + 10;
        } else {
          return error_at(pos_, "expected " + std::to_string(hex_digits) + " hex digits after '\\" +
                                    std::string(1, e) + "'");
        }
        value = (value << 4) | static_cast<uint32_t>(digit);
        ++pos_;
      }
      return value;
    }
    uint32_t cp;
    if (!utf8_decode(src_, &pos_, &cp)) return error_at(start, "invalid UTF-8 in grammar");
    return cp;
  }

  Status parse_sequence(uint32_t owner, bool nested, int depth, std::vector<Element>* seq) {
    // Index in *seq where the last item (what a quantifier applies to) starts; SIZE_MAX: none.
    size_t last_start = SIZE_MAX;
    while (!at_end()) {
      const char c = src_[pos_];
      const size_t item_pos = pos_;
      if (c == '"') {
        ++pos_;
        last_start = seq->size();
        while (true) {
          if (at_end()) return error_at(item_pos, "unterminated string literal");
          if (src_[pos_] == '"') break;
          EMBER_ASSIGN_OR_RETURN(uint32_t cp, parse_char());
          EMBER_RETURN_IF_ERROR(count_elements(1));
          seq->push_back({Element::Kind::kChars, charset_id(CharSet::single(cp))});
        }
        ++pos_;
        skip_space(nested);
      } else if (c == '[') {
        ++pos_;
        bool negate = false;
        if (peek() == '^') {
          negate = true;
          ++pos_;
        }
        std::vector<CodeRange> ranges;
        while (true) {
          if (at_end()) return error_at(item_pos, "unterminated character class");
          if (src_[pos_] == ']') break;
          const size_t char_pos = pos_;
          EMBER_ASSIGN_OR_RETURN(uint32_t lo, parse_char());
          uint32_t hi = lo;
          if (peek() == '-' && pos_ + 1 < src_.size() && src_[pos_ + 1] != ']') {
            ++pos_;
            EMBER_ASSIGN_OR_RETURN(hi, parse_char());
            if (hi < lo) return error_at(char_pos, "invalid character range: end before start");
          }
          ranges.push_back({lo, hi});
        }
        ++pos_;
        if (ranges.empty()) {
          // llama.cpp turns [] and [^] into nothing at all (they match the empty string); a
          // reader would expect "no character" or "any character". Refuse rather than guess.
          return error_at(item_pos, "empty character class");
        }
        last_start = seq->size();
        EMBER_RETURN_IF_ERROR(count_elements(1));
        seq->push_back({Element::Kind::kChars, charset_id(CharSet(std::move(ranges), negate))});
        skip_space(nested);
      } else if (c == '<' || c == '!') {
        return Status(StatusCode::kUnimplemented,
                      error_at(item_pos,
                               "token references ('<[id]>', '<text>', '!<...>') are not supported: "
                               "ember grammars constrain text, not token ids")
                          .message());
      } else if (is_name_char(c)) {
        while (!at_end() && is_name_char(src_[pos_])) ++pos_;
        const uint32_t ref = rule_id(src_.substr(item_pos, pos_ - item_pos), item_pos);
        last_start = seq->size();
        EMBER_RETURN_IF_ERROR(count_elements(1));
        seq->push_back({Element::Kind::kRule, ref});
        skip_space(nested);
      } else if (c == '(') {
        if (depth + 1 > limits_.max_nesting_depth) {
          return Status(StatusCode::kResourceExhausted,
                        error_at(item_pos, "parentheses nested deeper than " +
                                               std::to_string(limits_.max_nesting_depth))
                            .message());
        }
        ++pos_;
        skip_space(true);
        EMBER_ASSIGN_OR_RETURN(const uint32_t sub, new_rule(owner));
        std::vector<std::vector<Element>> alts;
        EMBER_RETURN_IF_ERROR(parse_alternates(owner, /*nested=*/true, depth + 1, &alts));
        rules_[sub].alternatives = std::move(alts);
        if (peek() != ')') {
          return error_at(pos_, "expected ')' to close the group opened at " + position(item_pos) +
                                    ", found " + describe_char_at(src_, pos_));
        }
        ++pos_;
        last_start = seq->size();
        EMBER_RETURN_IF_ERROR(count_elements(1));
        seq->push_back({Element::Kind::kRule, sub});
        skip_space(nested);
      } else if (c == '.') {
        ++pos_;
        last_start = seq->size();
        EMBER_RETURN_IF_ERROR(count_elements(1));
        seq->push_back({Element::Kind::kChars, charset_id(CharSet::any())});
        skip_space(nested);
      } else if (c == '*' || c == '+' || c == '?') {
        ++pos_;
        skip_space(nested);
        const uint32_t min = c == '+' ? 1 : 0;
        const uint32_t max = c == '?' ? 1 : kUnbounded;
        EMBER_RETURN_IF_ERROR(repeat(owner, item_pos, last_start, min, max, seq));
      } else if (c == '{') {
        ++pos_;
        skip_space(nested);
        EMBER_ASSIGN_OR_RETURN(const uint32_t min, parse_count());
        skip_space(nested);
        uint32_t max = min;
        if (peek() == ',') {
          ++pos_;
          skip_space(nested);
          max = kUnbounded;
          if (is_digit(peek())) {
            EMBER_ASSIGN_OR_RETURN(max, parse_count());
            skip_space(nested);
          }
        } else if (peek() != '}') {
          return error_at(
              pos_, "expected ',' or '}' in repetition, found " + describe_char_at(src_, pos_));
        }
        if (peek() != '}') {
          return error_at(
              pos_, "expected '}' to close the repetition, found " + describe_char_at(src_, pos_));
        }
        ++pos_;
        skip_space(nested);
        if (max != kUnbounded && max < min) {
          return error_at(item_pos, "invalid repetition {" + std::to_string(min) + "," +
                                        std::to_string(max) + "}: minimum above maximum");
        }
        EMBER_RETURN_IF_ERROR(repeat(owner, item_pos, last_start, min, max, seq));
      } else {
        break;
      }
    }
    return Status::Ok();
  }

  Result<uint32_t> parse_count() {
    if (!is_digit(peek())) {
      return error_at(pos_,
                      "expected a number in repetition, found " + describe_char_at(src_, pos_));
    }
    const size_t start = pos_;
    uint64_t v = 0;
    while (is_digit(peek())) {
      v = v * 10 + static_cast<uint64_t>(peek() - '0');
      ++pos_;
      if (v > limits_.max_repetition) {
        while (is_digit(peek())) ++pos_;
        return Status(
            StatusCode::kResourceExhausted,
            error_at(start, "repetition count " + std::string(src_.substr(start, pos_ - start)) +
                                " exceeds the limit of " + std::to_string(limits_.max_repetition))
                .message());
      }
    }
    return static_cast<uint32_t>(v);
  }

  // Rewrites the last item X of *seq into X{min,max}:
  //   X repeated `min` times, then for an unbounded maximum  S ::= X S | (empty)
  //   or for a bounded one a chain  S1 ::= X | (empty),  Sk ::= X S(k-1) | (empty)  of length
  //   max - min, so the grammar grows linearly with the bounds.
  Status repeat(uint32_t owner, size_t quant_pos, size_t last_start, uint32_t min, uint32_t max,
                std::vector<Element>* seq) {
    if (last_start == SIZE_MAX || last_start >= seq->size()) {
      return error_at(quant_pos, "nothing to repeat before " + describe_char_at(src_, quant_pos));
    }
    std::vector<Element> item(seq->begin() + static_cast<std::ptrdiff_t>(last_start), seq->end());
    seq->resize(last_start);
    if (item.size() > 1) {
      // A multi-character literal (or an item already repeated) becomes one rule, so each copy
      // below is a single element.
      EMBER_ASSIGN_OR_RETURN(const uint32_t r, new_rule(owner));
      rules_[r].alternatives.push_back(std::move(item));
      EMBER_RETURN_IF_ERROR(count_elements(1));
      item = {{Element::Kind::kRule, r}};
    }
    const Element x = item[0];
    const uint64_t optional = max == kUnbounded ? 1 : uint64_t{max} - min;
    EMBER_RETURN_IF_ERROR(count_elements(min + 4 * optional));
    if (optional > limits_.max_rules || rules_.size() + optional > limits_.max_rules) {
      return Status(StatusCode::kResourceExhausted,
                    error_at(quant_pos, "repetition needs more than " +
                                            std::to_string(limits_.max_rules) + " rules")
                        .message());
    }
    for (uint32_t i = 0; i < min; ++i) seq->push_back(x);
    if (max == kUnbounded) {
      EMBER_ASSIGN_OR_RETURN(const uint32_t s, new_rule(owner));
      rules_[s].alternatives = {{x, {Element::Kind::kRule, s}}, {}};
      seq->push_back({Element::Kind::kRule, s});
    } else if (optional > 0) {
      uint32_t prev = UINT32_MAX;
      for (uint64_t k = 0; k < optional; ++k) {
        EMBER_ASSIGN_OR_RETURN(const uint32_t s, new_rule(owner));
        std::vector<Element> alt{x};
        if (prev != UINT32_MAX) alt.push_back({Element::Kind::kRule, prev});
        rules_[s].alternatives = {std::move(alt), {}};
        prev = s;
      }
      seq->push_back({Element::Kind::kRule, prev});
    }
    return Status::Ok();
  }

  std::string_view src_;
  const GrammarLimits& limits_;
  size_t pos_ = 0;
  size_t line_pos_ = 0;
  int line_ = 1;
  size_t n_elements_ = 0;
  std::vector<RuleDef> rules_;
  std::vector<uint8_t> defined_;
  std::vector<size_t> ref_pos_;  // first reference of each rule (SIZE_MAX: none yet)
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<CharSet> charsets_;
  std::map<std::vector<CodeRange>, uint32_t> charset_ids_;
};

}  // namespace

Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text,
                                                  const GrammarLimits& limits) {
  return Parser(text, limits).run();
}

}  // namespace ember::grammar
