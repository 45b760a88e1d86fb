// Python string formatting: printf-style `fmt % args` (used by `%` and the `format` filter) and
// str.format() with the format-spec mini-language.
#pragma once

#include "chat/jinja/value.h"

namespace ember::jinja {

class Interpreter;

// `fmt % args`: args is a tuple (positional), a dict (for %(name)s) or a single value.
Result<Value> percent_format(const Value& fmt, const Value& args);

// format(value, spec) as str.format() applies it to one replacement field.
Result<std::string> format_with_spec(const Value& v, std::string_view spec);

// fmt.format(*args, **kwargs). Attribute and item lookups in field names go through `interp`.
Result<Value> str_format(Interpreter& interp, const Value& fmt, const CallArgs& args);

}  // namespace ember::jinja
