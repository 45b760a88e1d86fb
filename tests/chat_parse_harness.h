// Test helpers for the chat output parsers: parse a reply whole, byte by byte and in random
// chunks, check the runs agree and that the deltas of each run rebuild its message.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_format.h"
#include "chat/output_parser.h"

namespace ember::chat::testing {

struct Run {
  std::vector<ChatDelta> deltas;
  ParsedMessage message;
};

// Feeds `text` in pieces whose sizes come from `sizes` (cycled; 0 = everything at once).
inline Run run_parser(const OutputParserOptions& opt, std::string_view text,
                      const std::vector<size_t>& sizes) {
  Run r;
  Result<OutputParser> p = OutputParser::create(opt);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  if (!p.ok()) return r;
  size_t pos = 0;
  size_t k = 0;
  while (pos < text.size()) {
    size_t n =
        sizes.empty() || sizes[k % sizes.size()] == 0 ? text.size() - pos : sizes[k % sizes.size()];
    n = std::min(n, text.size() - pos);
    for (auto& d : p->feed(text.substr(pos, n))) r.deltas.push_back(std::move(d));
    pos += n;
    ++k;
  }
  OutputParser::Final f = p->finish();
  for (auto& d : f.deltas) r.deltas.push_back(std::move(d));
  r.message = std::move(f.message);
  return r;
}

// Rebuilds a message from deltas and checks the delta invariants.
inline ParsedMessage rebuild(const std::vector<ChatDelta>& deltas) {
  ParsedMessage m;
  for (const auto& d : deltas) {
    const int set =
        (d.content.empty() ? 0 : 1) + (d.reasoning_content.empty() ? 0 : 1) + (d.tool_call ? 1 : 0);
    EXPECT_EQ(set, 1) << "a delta must carry exactly one kind of text";
    m.content += d.content;
    m.reasoning_content += d.reasoning_content;
    if (d.tool_call) {
      const ToolCallDelta& t = *d.tool_call;
      if (t.index == m.tool_calls.size()) {
        EXPECT_FALSE(t.name.empty()) << "the first delta of a call names it";
        EXPECT_FALSE(t.id.empty()) << "the first delta of a call carries its id";
        m.tool_calls.push_back(ToolCall{t.id, t.name, ""});
      } else {
        EXPECT_EQ(t.index + 1, m.tool_calls.size()) << "deltas only extend the last call";
        EXPECT_TRUE(t.id.empty() && t.name.empty());
      }
      if (t.index < m.tool_calls.size()) m.tool_calls[t.index].arguments += t.arguments;
    }
  }
  return m;
}

inline void expect_same_text(const ParsedMessage& a, const ParsedMessage& b, const char* what) {
  EXPECT_EQ(a.content, b.content) << what;
  EXPECT_EQ(a.reasoning_content, b.reasoning_content) << what;
  EXPECT_EQ(a.tool_calls, b.tool_calls) << what;
}

// Parses whole, byte by byte and in a few random chunkings; all must agree (warnings too) and
// every run's deltas must rebuild its message. Returns the message.
inline ParsedMessage parse_all_ways(const OutputParserOptions& opt, std::string_view text) {
  Run whole = run_parser(opt, text, {0});
  expect_same_text(rebuild(whole.deltas), whole.message, "deltas of the whole-text run");
  Run bytes = run_parser(opt, text, {1});
  expect_same_text(rebuild(bytes.deltas), bytes.message, "deltas of the byte-by-byte run");
  EXPECT_EQ(bytes.message, whole.message) << "byte-by-byte differs from whole for: " << text;
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<size_t> sizes;
    for (int i = 0; i < 16; ++i) sizes.push_back(1 + rng() % 7);
    Run chunked = run_parser(opt, text, sizes);
    expect_same_text(rebuild(chunked.deltas), chunked.message, "deltas of a chunked run");
    EXPECT_EQ(chunked.message, whole.message) << "chunked differs from whole for: " << text;
  }
  for (const auto& c : whole.message.tool_calls) {
    EXPECT_TRUE(nlohmann::json::accept(c.arguments)) << "arguments not JSON: " << c.arguments;
  }
  return whole.message;
}

inline OutputParserOptions options_for(ChatFormat f, bool with_reasoning = true) {
  OutputParserOptions o;
  o.syntax = chat_syntax_for(f);
  if (!with_reasoning) o.syntax.reasoning.reset();
  return o;
}

inline OutputParserOptions with_think(OutputParserOptions o) {
  o.syntax.reasoning = ReasoningSyntax{"<think>", "</think>"};
  return o;
}

// Arguments compared as JSON values (spacing-insensitive).
inline nlohmann::json args_of(const ToolCall& c) {
  return nlohmann::json::parse(c.arguments, nullptr, false);
}

}  // namespace ember::chat::testing
