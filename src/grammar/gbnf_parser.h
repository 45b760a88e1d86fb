// GBNF, the grammar format of llama.cpp, parsed into a compiled Grammar.
//
//   root  ::= "yes" | "no"          # rules: name ::= alternatives, `root` is the start symbol
//   item  ::= [a-z_] [a-z0-9_]*     # character classes with ranges, [^...] negation, `.` any char
//   list  ::= "[" ( item ( "," item ){0,9} )? "]"   # groups, ? * + {m} {m,} {m,n}
//
// Rule names are letters, digits, '-' and '_'. Literals and classes accept the escapes
// \n \r \t \\ \" \[ \] \- \xHH \uHHHH \UHHHHHHHH; everything else is UTF-8 text. `#` starts a
// comment. A rule ends at a newline, except after `|` and inside parentheses. Token references
// (`<[id]>`, `<text>`, `!<...>`) are llama.cpp extensions that need a vocabulary and are reported
// as unsupported. See docs/grammars.md for the full description and the limits.
#pragma once

#include <memory>
#include <string_view>

#include "ember/status.h"
#include "grammar/grammar.h"

namespace ember::grammar {

// Parses and compiles `text`. Errors carry the position as "line L, column C: ..." (columns count
// characters from 1). Undefined rules, a missing `root`, left recursion and inputs over `limits`
// are errors.
Result<std::shared_ptr<const Grammar>> parse_gbnf(std::string_view text,
                                                  const GrammarLimits& limits = {});

}  // namespace ember::grammar
