// Jinja2 template lexer: splits template source into text and tag tokens the way Jinja2's
// regex lexer does, including its whitespace control:
//   - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`, `-#}` after it;
//   - trim_blocks removes the first newline after a block or comment tag (`+%}` keeps it);
//   - lstrip_blocks removes spaces and tabs from the start of a line up to a block or comment
//     tag (not `{{`), `{%+` keeps them;
//   - newlines are normalized to "\n" and a single trailing newline is dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ember/status.h"

namespace ember::jinja {

struct SourcePos {
  int line = 1;
  int column = 1;  // 1-based, in code points
};

enum class TokenType : uint8_t {
  kData,           // template text (value)
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,           // identifier (value)
  kString,         // string literal, escapes resolved (value)
  kInteger,        // int_value
  kFloat,          // float_value
  kOperator,       // value: one of + - / // * % ** ~ [ ] ( ) { } == != > >= < <= = . : | , ;
  kEof,
};

struct Token {
  TokenType type = TokenType::kEof;
  std::string value;
  int64_t int_value = 0;
  double float_value = 0;
  SourcePos pos;
};

struct LexerOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Tokenizes `source` (valid UTF-8). Errors carry "line L, column C: ...".
Result<std::vector<Token>> tokenize(std::string_view source, const LexerOptions& options);

// "line L, column C: message".
Status syntax_error(SourcePos pos, std::string_view message);

}  // namespace ember::jinja
