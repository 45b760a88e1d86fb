// Shared pieces of the filter implementations (filters.cc, filters_seq.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interpreter.h"

namespace ember::jinja::filters {

// Jinja2's make_attrgetter: "a.b.0" looked up part by part with environment.getitem (digit parts
// as integers); `default` replaces an Undefined result; `lower` lower-cases string results
// (the case-insensitive sort/unique/groupby key).
class AttrGetter {
 public:
  AttrGetter(Interpreter& interp, const std::optional<Value>& attribute, bool lower = false,
             std::optional<Value> default_value = std::nullopt);
  Result<Value> operator()(const Value& item) const;

 private:
  Interpreter& interp_;
  std::vector<Value> parts_;
  bool lower_;
  std::optional<Value> default_;
};

// A required argument, or CPython's "missing 1 required positional argument" error.
Result<Value> required(const std::optional<Value>& v, std::string_view func, std::string_view name);

// str(v) as Jinja2's soft_str: strings (Markup included) unchanged, others via str().
inline Value soft_str(const Value& v) {
  return v.is_string() ? v : Value::string(py_str(v));
}

// One-shot iterator value (Jinja2's generator results).
Value generator(std::vector<Value> items, std::string type = "generator");

FilterFn find_sequence_filter(std::string_view name);

}  // namespace ember::jinja::filters
