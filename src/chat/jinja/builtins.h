// Registries of Jinja2's filters, tests, globals and the Python methods of str, list and dict
// that templates may call. Implemented in filters.cc, tests.cc, globals.cc and methods.cc.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/value.h"

namespace ember::jinja {

class Interpreter;

using FilterFn = Result<Value> (*)(Interpreter&, const Value& subject, CallArgs& args);
using TestFn = Result<bool> (*)(Interpreter&, const Value& subject, CallArgs& args);

// nullptr when no filter/test has that name.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Whether `self` (a str, list, tuple, dict, int, float, bool or None) has a Python method `name`.
bool has_method(const Value& self, std::string_view name);
// list.append, dict.update, ...: the methods Jinja2's immutable sandbox refuses.
bool is_mutating_method(const Value& self, std::string_view name);
// `self.name` as a callable bound method.
Value bound_method(const Value& self, std::string_view name);

// range, dict, namespace, cycler, joiner, raise_exception, strftime_now.
std::vector<std::pair<std::string, Value>> builtin_globals();

// Binds call arguments to a Python-style signature `func(names...)`: positional arguments fill
// the names in order, keyword arguments by name. Errors name `func` like CPython does.
Result<std::vector<std::optional<Value>>> bind_args(std::string_view func, CallArgs& args,
                                                    std::initializer_list<std::string_view> names);

}  // namespace ember::jinja
