// A compiled GBNF grammar: the rules flattened into one array of elements that the matcher walks
// with a set of pushdown stacks.
//
// Layout: every alternative of every rule is a run of elements followed by a kEnd element. A
// parser position is the index of the next element to match in some alternative; a stack of such
// positions (top = back) is one way the input seen so far can continue. Elements are either a
// character set (a terminal) or a reference to a rule (a nonterminal).
//
// Grammars are immutable after construction and shared between matchers through
// std::shared_ptr<const Grammar>; they are safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ember/status.h"
#include "grammar/charset.h"

namespace ember::grammar {

// Bounds that keep a hostile grammar from exhausting time, stack or memory while it is parsed.
struct GrammarLimits {
  size_t max_input_bytes = size_t{4} << 20;  // grammar text
  int max_nesting_depth = 64;                // nested parentheses
  size_t max_rules = size_t{1} << 20;        // including rules made for groups and repetitions
  size_t max_elements = size_t{1} << 22;     // symbols after expanding repetitions
  uint32_t max_repetition = 100000;          // m and n in x{m,n}
};

struct Element {
  enum class Kind : uint8_t {
    kEnd,    // end of an alternative
    kChars,  // one code point from charset `value`
    kRule,   // the rule with index `value`
  };
  Kind kind = Kind::kEnd;
  uint32_t value = 0;
};

// One rule as produced by the GBNF parser (or any other front end), before flattening.
struct RuleDef {
  std::string name;    // as written, or "<owner>_<n>" for rules made for groups/repetitions
  uint32_t owner = 0;  // index of the user-written rule this rule belongs to (itself if user)
  bool synthesized = false;
  int line = 0;                                    // 1-based line of the definition, 0 when unknown
  std::vector<std::vector<Element>> alternatives;  // each without the trailing kEnd
};

class Grammar {
 public:
  // Flattens `rules`, computes which rules can match the empty string and rejects left recursion
  // (a rule that can reach itself without consuming a character while the parser stack grows,
  // which would make the pushdown expansion infinite). Every kRule element must name a rule in
  // `rules` and every kChars element a set in `charsets` (checked).
  static Result<std::shared_ptr<const Grammar>> build(std::vector<RuleDef> rules,
                                                      std::vector<CharSet> charsets, uint32_t root);

  uint32_t root() const { return root_; }
  size_t rule_count() const { return names_.size(); }
  const std::string& rule_name(uint32_t rule) const { return names_[rule]; }
  size_t element_count() const { return elements_.size(); }
  const Element& element(uint32_t pos) const { return elements_[pos]; }
  // Element index of the first element of each alternative of `rule`.
  std::span<const uint32_t> alternatives(uint32_t rule) const {
    return std::span(alt_starts_)
        .subspan(rule_alt_begin_[rule], rule_alt_begin_[rule + 1] - rule_alt_begin_[rule]);
  }
  const CharSet& charset(uint32_t id) const { return charsets_[id]; }
  size_t charset_count() const { return charsets_.size(); }
  // True when `rule` can match the empty string.
  bool nullable(uint32_t rule) const { return nullable_[rule] != 0; }

 private:
  Grammar() = default;

  std::vector<Element> elements_;
  std::vector<uint32_t> alt_starts_;
  std::vector<uint32_t> rule_alt_begin_;  // size rule_count() + 1
  std::vector<CharSet> charsets_;
  std::vector<std::string> names_;
  std::vector<uint8_t> nullable_;
  uint32_t root_ = 0;
};

}  // namespace ember::grammar
