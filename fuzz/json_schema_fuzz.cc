// libFuzzer target for the JSON-schema converter: any input must convert or fail cleanly, and a
// grammar the converter returns must always parse (checked by the converter too; a failure here
// means the converter produced invalid GBNF).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ember::grammar::JsonSchemaOptions options;
  options.max_grammar_bytes = 1 << 20;
  auto gbnf = ember::grammar::json_schema_text_to_gbnf(input, options);
  if (!gbnf.ok()) {
    // A converter bug surfaces as an internal error: make it a crash the fuzzer reports.
    if (gbnf.status().code() == ember::StatusCode::kInternal) std::abort();
    return 0;
  }
  auto g = ember::grammar::parse_gbnf(*gbnf);
  if (!g.ok()) std::abort();
  return 0;
}
