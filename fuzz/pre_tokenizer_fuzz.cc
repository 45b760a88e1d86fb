// libFuzzer target for the Unicode helpers and every pre-tokenizer: any bytes must decode,
// sanitize and split without crashing, and the splits must cover the input exactly (in order, no
// empty word), raw and sanitized alike. Hand-written splitters are also checked against the
// llama.cpp regexes they replace (the differential mode the unit tests use).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/pre_tokenizer_programs.h"
#include "tokenizer/unicode.h"

namespace {

using Words = std::vector<std::pair<uint32_t, uint32_t>>;

void check_cover(const Words& words, size_t size) {
  uint32_t expect = 0;
  for (const auto& [b, e] : words) {
    if (b != expect || e <= b) std::abort();
    expect = e;
  }
  if (expect != size) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::tokenizer;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);

  // Decoding always advances by 1..4 bytes; sanitizing yields valid, stable UTF-8.
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t before = pos;
    const uint32_t cp = decode_utf8(raw, &pos);
    if (pos <= before || pos > before + 4 || cp > kMaxCodepoint) std::abort();
    (void)codepoint_flags(cp);
    (void)to_lower(cp);
    (void)nfd_first(cp);
  }
  const std::string clean = sanitize_utf8(raw);
  if (!is_valid_utf8(clean) || sanitize_utf8(clean) != clean) std::abort();
  if (is_valid_utf8(raw) && clean != raw) std::abort();
  (void)nfd(raw);

  for (int k = 0; k < kNumPreTokenizers; ++k) {
    const auto kind = static_cast<PreTokenizer>(k);
    for (std::string_view text : {raw, std::string_view(clean)}) {
      Words words;
      pre_tokenize(kind, text, words);
      check_cover(words, text.size());
    }
    // Hand-written splitters must agree with the regexes (inputs kept short: PCRE2 is slow).
    if (clean.size() <= 512) {
      const auto& program = ember::tokenizer::detail::compiled_program(kind);
      Words fast;
      Words reference;
      ember::tokenizer::detail::run_program(program, clean, false, fast);
      ember::tokenizer::detail::run_program(program, clean, true, reference);
      if (fast != reference) std::abort();
    }
  }
  return 0;
}
