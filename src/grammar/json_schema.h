// JSON schema -> GBNF, for constraining generation to JSON documents that validate.
//
//   auto gbnf =
//   json_schema_text_to_gbnf(R"({"type":"object","properties":{"n":{"type":"integer"}}})"); auto
//   grammar = parse_gbnf(*gbnf);
//
// The grammar accepts a subset of the valid instances, written the way a generator should write
// them: compact JSON with bounded optional whitespace (`space ::= | " " | "\n"{1,2} [ \t]{0,20}`,
// as in llama.cpp's converter), object properties in the order the schema lists them, integers of
// at most 16 digits (more when a bound needs them), no exponent on bounded numbers, and strings in
// their shortest escaping. Every instance the grammar accepts validates against the schema,
// except for the documented gaps (`oneOf` is treated as `anyOf`; an additional property may
// repeat a declared name when written with escapes).
//
// Supported: type (string or array, plus OpenAPI `nullable`), properties, required,
// additionalProperties (false / true / schema; absent = false, like llama.cpp, unless the object
// has no `properties`), enum, const, items, prefixItems, additionalItems, minItems, maxItems,
// minLength, maxLength, pattern (see docs/grammars.md for the regex subset), format (date, time,
// date-time, uuid), minimum / maximum / exclusiveMinimum / exclusiveMaximum (integers; integral
// bounds for numbers), anyOf, oneOf, allOf (merged), $ref to "#..." JSON pointers (including
// $defs and definitions, recursion allowed), and annotations (title, description, default,
// examples, ...), which are ignored. Any other keyword, or a combination the converter cannot
// express exactly, is an error naming the keyword and where it is: never a silently wrong grammar.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "ember/status.h"

namespace ember::grammar {

struct JsonSchemaOptions {
  // When an object schema lists `properties` but says nothing about `additionalProperties`:
  // false (the default, like llama.cpp) allows only the listed properties, which keeps models from
  // inventing keys; true follows JSON Schema and allows any others too.
  bool allow_additional_properties_by_default = false;
  int max_depth = 64;                          // nesting of subschemas (and allOf/$ref expansion)
  size_t max_grammar_bytes = size_t{4} << 20;  // size of the generated GBNF
};

// Converts `schema` (property order preserved, so use ordered_json) to GBNF text whose `root`
// rule matches the instances. The result is verified to parse.
Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema,
                                        const JsonSchemaOptions& options = {});
// Same for nlohmann::json, whose objects are sorted by key: properties come out in key order.
Result<std::string> json_schema_to_gbnf(const nlohmann::json& schema,
                                        const JsonSchemaOptions& options = {});
// Parses `schema_text` (keeping the property order) and converts it.
Result<std::string> json_schema_text_to_gbnf(std::string_view schema_text,
                                             const JsonSchemaOptions& options = {});

}  // namespace ember::grammar
