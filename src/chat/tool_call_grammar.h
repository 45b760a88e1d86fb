// GBNF grammars for chat requests: forced tool calls (tool_choice "required" or a named
// function), from the format-specific ForcedToolCallSpec of chat_format.h.
#pragma once

#include <string>
#include <string_view>

#include "chat/chat_format.h"
#include "ember/status.h"

namespace ember::chat {

// A grammar whose `root` matches exactly the outputs the spec describes:
//
//   root ::= reasoning? prefix call (separator call)* suffix      (the repetition when spec.repeat)
//
// kJson parts become the rules of json_schema_to_gbnf(schema), renamed with a prefix unique to
// the part; kText parts match any text that does not contain their `text_end`. Reasoning, when
// the spec allows it, is `start` + text without `end` + `end` + up to 4 whitespace characters
// (mandatory and without `start` when spec.reasoning_open). Errors: a schema the converter
// cannot express (named), a spec without calls.
Result<std::string> forced_tool_call_grammar(const ForcedToolCallSpec& spec);

// GBNF rules defining `name` as any text (possibly empty) that does not contain `end` (a KMP
// automaton over the code points of `end`, one right-recursive rule per state). `end` must be
// valid UTF-8 and non-empty.
std::string text_without_rules(std::string_view name, std::string_view end);

// `gbnf` with every rule name (definitions and references) prefixed by `prefix`, e.g. "root" ->
// "p1-root". Literals, character classes, repetition counts and comments are left alone.
std::string prefix_gbnf_rules(std::string_view gbnf, std::string_view prefix);

}  // namespace ember::chat
