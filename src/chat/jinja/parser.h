// Jinja2 parser: tokens -> syntax tree, following jinja2/parser.py's grammar and precedence
// (`or` < `and` < `not` < comparisons < `+ -` < `~` < `* / // %` < `**` < unary < filters,
// tests and postfix), including its quirks (left-associative `**`, `a if b` without else).
#pragma once

#include <string_view>

#include "chat/jinja/ast.h"
#include "chat/jinja/lexer.h"

namespace ember::jinja {

struct ParseOptions {
  LexerOptions lexer;
  // Maximum nesting of expressions and statements; deeper input is rejected so neither the
  // parser nor the interpreter can exhaust the stack.
  int max_nesting = 256;
};

Result<Body> parse_template(std::string_view source, const ParseOptions& options);

}  // namespace ember::jinja
