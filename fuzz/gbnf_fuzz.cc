// libFuzzer target for the GBNF parser and the matcher: any input must parse or fail cleanly, in
// bounded time and memory. A grammar that parses is then run: the input itself (after the first
// blank line, or all of it) is fed to a matcher byte by byte, and a token mask is computed over a
// small fixed vocabulary, so expansion, partial UTF-8 handling and the token filter are exercised
// with the limits lowered.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"
#include "grammar/token_filter.h"

namespace {

const std::vector<std::string>& vocab() {
  static const std::vector<std::string> v = {
      "a",        "b",        "ab",   "{",    "}",    "\"",       " ",
      "\n",       "0",        "12",   "\xC3", "\xA9", "\xC3\xA9", "\xE6\x97\xA5",
      "\xF0\x9F", "\x98\x80", "x\"y", "",     "\xFF", "[",        "]",
      ",",        ":"};
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ember::grammar::GrammarLimits limits;
  limits.max_input_bytes = 1 << 16;
  limits.max_elements = 1 << 16;
  limits.max_rules = 1 << 14;
  limits.max_repetition = 1000;
  const size_t split = input.find("\n\n");
  const std::string_view grammar_text =
      split == std::string_view::npos ? input : input.substr(0, split);
  const std::string_view text = split == std::string_view::npos ? input : input.substr(split + 2);
  auto g = ember::grammar::parse_gbnf(grammar_text, limits);
  if (!g.ok()) return 0;
  ember::grammar::MatcherLimits mlimits;
  mlimits.max_stacks = 256;
  mlimits.max_stack_depth = 512;
  mlimits.max_expansion = 4096;
  auto m = ember::grammar::GrammarMatcher::create(*g, mlimits);
  if (!m.ok()) return 0;
  static const auto trie = std::make_shared<const ember::grammar::TokenTrie>(vocab());
  ember::grammar::TokenFilter filter(*g, trie, mlimits);
  ember::grammar::TokenMask mask;
  size_t steps = 0;
  for (size_t i = 0; i < text.size() && i < 256; ++i) {
    if (steps++ % 16 == 0) (void)filter.fill_mask(*m, &mask);
    if (!m->accept_bytes(text.substr(i, 1))) break;
  }
  volatile bool sink = m->is_complete();
  (void)sink;
  return 0;
}
