// Tool calls written as Python calls: LFM2's `[get_weather(city="Oslo"), ...]` and Llama 3.1's
// builtin `brave_search.call(query="...")`. Keyword arguments become a JSON object; Python
// literals (str with either quote, int, float, True/False/None, list, tuple, dict) become the
// corresponding JSON values.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chat/parsers/element.h"
#include "chat/parsers/json_call.h"

namespace ember::chat::detail {

// `a="x", b=[1, 2], c=True` -> {"a": "x", "b": [1, 2], "c": true}; nullopt when malformed.
std::optional<std::string> python_kwargs_to_json(std::string_view args);

// Finds the ')' that closes an argument list, skipping strings and nested brackets.
class PyArgsEnd {
 public:
  // Consumes text up to and including the closing ')' (returns true) or all of it (false);
  // the argument text without the ')' accumulates in text().
  bool feed(std::string_view s, size_t* consumed);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  int depth_ = 0;
  char quote_ = 0;
  bool escape_ = false;
};

// After <|tool_call_start|>: a list of calls, Python style or JSON objects, then
// <|tool_call_end|>.
class Lfm2Calls final : public Element {
 public:
  explicit Lfm2Calls(const JsonCallKeys* json_keys) : json_keys_(json_keys) {}
  Step step(Input& in, Emitter& out) override;

 private:
  enum class State { kOpen, kDecide, kJson, kName, kArgs, kAfter, kCloser };
  Step fail(Input& in, Emitter& out, std::string why);

  const JsonCallKeys* json_keys_;
  State state_ = State::kOpen;
  std::unique_ptr<JsonCallArray> json_;
  std::string name_;
  PyArgsEnd args_;
  bool any_ = false;
  size_t call_start_ = 0;
};

// One `name(...)` / `name.call(...)` call whose name was read already: the arguments up to ')'.
class PythonCallArgs final : public Element {
 public:
  explicit PythonCallArgs(std::string name) : name_(std::move(name)) {}
  Step step(Input& in, Emitter& out) override;

 private:
  std::string name_;
  PyArgsEnd args_;
};

bool is_ident_char(char c);

}  // namespace ember::chat::detail
