#include "chat/tool_call_grammar.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "grammar/json_schema.h"
#include "grammar/json_schema_internal.h"
#include "grammar/utf8.h"

namespace ember::chat {
namespace {

using grammar::schema_internal::gbnf_literal;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// Code point as a character-class member, always escaped (no class metacharacter issues).
std::string class_escape(uint32_t cp) {
  char buf[16];
  if (cp < 0x80) {
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(cp));
  } else if (cp < 0x10000) {
    std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
  }
  return buf;
}

std::string cp_utf8(uint32_t cp) {
  std::string s;
  grammar::utf8_append(s, cp);
  return s;
}

// Appends `literal` as a sequence element (nothing for "").
void add_literal(std::string& seq, std::string_view literal) {
  if (literal.empty()) return;
  if (!seq.empty()) seq += " ";
  seq += gbnf_literal(literal);
}

void add_ref(std::string& seq, std::string_view rule) {
  if (!seq.empty()) seq += " ";
  seq += rule;
}

}  // namespace

std::string prefix_gbnf_rules(std::string_view g, std::string_view prefix) {
  std::string out;
  out.reserve(g.size() + g.size() / 4);
  size_t i = 0;
  auto copy_until = [&](char close) {
    // Copies g[i] (the opener) and everything through the unescaped `close`.
    out += g[i++];
    while (i < g.size()) {
      const char c = g[i];
      out += c;
      ++i;
      if (c == '\\' && i < g.size()) {
        out += g[i++];
      } else if (c == close) {
        return;
      }
    }
  };
  while (i < g.size()) {
    const char c = g[i];
    if (c == '"') {
      copy_until('"');
    } else if (c == '[') {
      copy_until(']');
    } else if (c == '{') {
      copy_until('}');
    } else if (c == '#') {
      while (i < g.size() && g[i] != '\n') out += g[i++];
    } else if (is_name_char(c)) {
      out += prefix;
      while (i < g.size() && is_name_char(g[i])) out += g[i++];
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::string text_without_rules(std::string_view name, std::string_view end) {
  std::vector<uint32_t> cps;
  for (size_t pos = 0; pos < end.size();) {
    uint32_t cp = 0;
    if (!grammar::utf8_decode(end, &pos, &cp)) {
      ++pos;  // callers pass valid UTF-8; skip a stray byte rather than loop
      continue;
    }
    cps.push_back(cp);
  }
  std::string out;
  if (cps.empty()) {
    out += std::string(name) + " ::= .*\n";
    return out;
  }
  const size_t n = cps.size();
  // KMP failure function: fail[k] = length of the longest proper border of cps[0..k].
  std::vector<size_t> fail(n, 0);
  for (size_t k = 1, b = 0; k < n; ++k) {
    while (b > 0 && cps[k] != cps[b]) b = fail[b - 1];
    if (cps[k] == cps[b]) ++b;
    fail[k] = b;
  }
  auto delta = [&](size_t state, uint32_t c) {
    while (state > 0 && cps[state] != c) state = fail[state - 1];
    return cps[state] == c ? state + 1 : 0;
  };
  std::vector<uint32_t> distinct = cps;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::string other = "[^";
  for (uint32_t c : distinct) other += class_escape(c);
  other += "]";
  auto state_name = [&](size_t k) {
    return k == 0 ? std::string(name) : std::string(name) + "-s" + std::to_string(k);
  };
  for (size_t k = 0; k < n; ++k) {
    out += state_name(k) + " ::= \"\" | " + other + " " + state_name(0);
    for (uint32_t c : distinct) {
      const size_t t = delta(k, c);
      if (t >= n) continue;  // would complete `end`
      out += " | " + gbnf_literal(cp_utf8(c)) + " " + state_name(t);
    }
    out += "\n";
  }
  return out;
}

Result<std::string> forced_tool_call_grammar(const ForcedToolCallSpec& spec) {
  if (spec.calls.empty()) return invalid_argument("a forced tool call needs at least one tool");
  std::string rules;
  std::string call_alternatives;
  for (size_t ci = 0; ci < spec.calls.size(); ++ci) {
    const ToolCallShape& shape = spec.calls[ci];
    std::string seq;
    for (size_t pi = 0; pi < shape.parts.size(); ++pi) {
      const ToolCallPart& part = shape.parts[pi];
      const std::string rule = "call" + std::to_string(ci) + "-p" + std::to_string(pi);
      switch (part.kind) {
        case ToolCallPart::Kind::kLiteral:
          add_literal(seq, part.literal);
          break;
        case ToolCallPart::Kind::kJson: {
          Result<std::string> g = grammar::json_schema_to_gbnf(part.schema);
          if (!g.ok()) {
            const std::string what =
                shape.tool_name.empty() ? "the tool calls" : "tool '" + shape.tool_name + "'";
            return g.status().with_context("the JSON schema of " + what);
          }
          rules += prefix_gbnf_rules(*g, rule + "-");
          if (!rules.empty() && rules.back() != '\n') rules += "\n";
          add_ref(seq, rule + "-root");
          break;
        }
        case ToolCallPart::Kind::kText:
          rules += text_without_rules(rule, part.text_end);
          add_ref(seq, rule);
          break;
      }
    }
    if (seq.empty()) seq = "\"\"";
    const std::string call_rule = "call" + std::to_string(ci);
    rules += call_rule + " ::= " + seq + "\n";
    if (!call_alternatives.empty()) call_alternatives += " | ";
    call_alternatives += call_rule;
  }
  rules += "call ::= " + call_alternatives + "\n";

  std::string root;
  if (spec.reasoning) {
    const ReasoningSyntax& r = *spec.reasoning;
    rules += text_without_rules("reasoning-text", r.end);
    std::string block;
    if (!spec.reasoning_open) add_literal(block, r.start);
    add_ref(block, "reasoning-text");
    add_literal(block, r.end);
    add_ref(block, "[ \\t\\r\\n]{0,4}");
    rules += "reasoning ::= " + block + "\n";
    root = spec.reasoning_open ? "reasoning" : "reasoning?";
  }
  add_literal(root, spec.prefix);
  add_ref(root, "call");
  if (spec.repeat) {
    std::string more;
    add_literal(more, spec.separator);
    add_ref(more, "call");
    add_ref(root, "(" + more + ")*");
  }
  add_literal(root, spec.suffix);
  return "root ::= " + root + "\n" + rules;
}

}  // namespace ember::chat
