// Building blocks of the JSON-schema converter: writing GBNF text, integer and number ranges, and
// the regular-expression subset of `pattern`.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ember/status.h"
#include "grammar/charset.h"

namespace ember::grammar::schema_internal {

// A GBNF string literal "..." matching exactly `utf8` (escapes quotes, backslashes and control
// characters; non-ASCII as \u / \U escapes so the grammar text stays ASCII).
std::string gbnf_literal(std::string_view utf8);
// A GBNF character class [...] matching exactly the code points of `set` (never negated; "[]"
// for an empty set).
std::string gbnf_class(const CharSet& set);

// GBNF matching the JSON string *text* (between the quotes) of one character from `set`: the
// character itself when JSON allows it raw, its escape (\" \\ \n \u001f ...) otherwise. Empty when
// no character of the set can be written.
std::string json_string_char_expr(const CharSet& set);

// Decimal integers in [lo, hi] without leading zeros ("0" for zero). Without `hi`, numbers of up
// to `max_digits` digits. Requires lo <= hi.
std::string gbnf_uint_range(uint64_t lo, std::optional<uint64_t> hi, int max_digits);
// Integers in [lo, hi] with "-" for negatives (never "-0"); unbounded sides are limited to
// max(16, digits of the other bound) digits. Requires lo <= hi when both are given.
std::string gbnf_int_range(std::optional<int64_t> lo, std::optional<int64_t> hi);

struct NumberBound {
  int64_t value = 0;
  bool exclusive = false;
};
// JSON numbers (no exponent) whose value lies within the integral bounds. Empty when no number
// satisfies them.
std::string gbnf_number_range(std::optional<NumberBound> lo, std::optional<NumberBound> hi);

// The JSON string text (between the quotes) of strings matching the ECMAScript regular
// expression `pattern` (unanchored, as JSON Schema's `pattern` is: add ^ and $ to match whole
// strings). `any_char` is the GBNF rule for one arbitrary JSON string character, used for the
// unanchored ends. Unsupported syntax is an error naming it.
Result<std::string> regex_to_gbnf(std::string_view pattern, std::string_view any_char,
                                  uint32_t max_repetition);

}  // namespace ember::grammar::schema_internal
