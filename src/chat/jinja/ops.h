// Python operators on Values: arithmetic with int/float promotion, string and list
// concatenation and repetition, `%` formatting, `in`, iteration, len() and slicing, with
// CPython's error messages (TypeError texts are what Jinja2 would report).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace ember::jinja {

// Largest string or list an operator may build (`'a' * 10**9`, list repetition).
inline constexpr size_t kMaxBuiltSize = size_t{64} << 20;

Result<Value> binary_op(BinOp op, const Value& a, const Value& b);
Result<Value> negate(const Value& v);
Result<Value> unary_plus(const Value& v);
// `item in container`.
Result<bool> contains(const Value& container, const Value& item);
// The items a for loop over `v` visits (dict: keys, str: characters, Undefined: none).
Result<std::vector<Value>> iterate(const Value& v);
// len(v) (Undefined: 0).
Result<int64_t> length(const Value& v);
// v[start:stop:step] for str, list and tuple (None bounds allowed); Python's TypeError for
// anything else.
Result<Value> slice(const Value& v, const Value& start, const Value& stop, const Value& step);
// The i-th code point of a string as a string (negative i counts from the end); nullopt when out
// of range.
std::optional<std::string> string_index(const std::string& s, int64_t i);
// markupsafe.escape(): & < > ' " as HTML entities.
std::string html_escape(std::string_view s);
// Value as a Python int for arguments that must be integers (bool allowed).
Result<int64_t> to_index(const Value& v, std::string_view what);

}  // namespace ember::jinja
