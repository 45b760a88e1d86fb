// JSON in and out of the interpreter: template context from nlohmann::json (object key order
// preserved with ordered_json), and Python's json.dumps() as transformers' `tojson` filter calls
// it (ensure_ascii, indent, separators, sort_keys).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chat/jinja/value.h"

namespace ember::jinja {

Value from_json(const nlohmann::ordered_json& j);
Value from_json(const nlohmann::json& j);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  // Python's indent: nullopt = single line; otherwise the per-level indent string.
  std::optional<std::string> indent;
  // Python's separators; defaults depend on indent like json.dumps.
  std::optional<std::string> item_separator;
  std::optional<std::string> key_separator;
  bool sort_keys = false;
};

// json.dumps(v, ...): errors for values JSON cannot represent ("Object of type Undefined is not
// JSON serializable").
Result<std::string> to_json(const Value& v, const JsonDumpOptions& options);

}  // namespace ember::jinja
