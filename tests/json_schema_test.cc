// JSON schema -> GBNF: for many schemas, hand-written valid instances must be accepted and invalid
// ones rejected by the generated grammar; unsupported keywords and impossible schemas are errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"
#include "grammar/json_schema.h"

namespace ember::grammar {
namespace {

std::shared_ptr<const Grammar> grammar_for(const std::string& schema,
                                           const JsonSchemaOptions& options = {}) {
  auto gbnf = json_schema_text_to_gbnf(schema, options);
  EXPECT_TRUE(gbnf.ok()) << schema << "\n" << gbnf.status().to_string();
  if (!gbnf.ok()) return nullptr;
  auto g = parse_gbnf(*gbnf);
  EXPECT_TRUE(g.ok()) << g.status().to_string() << "\n" << *gbnf;
  return g.ok() ? *g : nullptr;
}

bool matches(const std::shared_ptr<const Grammar>& g, std::string_view text) {
  if (g == nullptr) return false;
  auto m = GrammarMatcher::create(g);
  return m.ok() && m->accept_bytes(text) && m->is_complete();
}

struct Case {
  std::string schema;
  std::vector<std::string> valid;
  std::vector<std::string> invalid;
};

void check(const Case& c) {
  SCOPED_TRACE(c.schema);
  auto g = grammar_for(c.schema);
  ASSERT_NE(g, nullptr);
  for (const std::string& v : c.valid) EXPECT_TRUE(matches(g, v)) << "should accept: " << v;
  for (const std::string& v : c.invalid) EXPECT_FALSE(matches(g, v)) << "should reject: " << v;
}

Status error_for(const std::string& schema) {
  auto gbnf = json_schema_text_to_gbnf(schema);
  EXPECT_FALSE(gbnf.ok()) << schema << " converted to:\n" << (gbnf.ok() ? *gbnf : "");
  return gbnf.ok() ? Status::Ok() : gbnf.status();
}

TEST(JsonSchema, Primitives) {
  check({R"({"type":"string"})",
         {R"("")", R"("abc")", R"("a\"b\\c\n\u00e9")", "\"caf\xC3\xA9\""},
         {R"(abc)", R"("a)", "\"a\nb\"", R"(1)", R"(null)"}});
  check({R"({"type":"integer"})",
         {"0", "-7", "1234567890", "42 "},
         {"01", "1.5", "1e3", "\"1\"", "-"}});
  check({R"({"type":"number"})",
         {"0", "-0.5", "3.25", "1e10", "2.5E-3"},
         {".5", "1.", "01", "+1", "\"1\""}});
  check({R"({"type":"boolean"})", {"true", "false"}, {"True", "1", "null"}});
  check({R"({"type":"null"})", {"null"}, {"nil", "0", "\"null\""}});
  check({R"({})", {"1", "\"x\"", "[1, {\"a\": null}]", "null", "{}"}, {"", "[1,", "nul"}});
  check({R"(true)", {"1", "{\"a\": [true]}"}, {"{"}});
}

TEST(JsonSchema, ObjectsWithRequiredAndOptionalProperties) {
  check({R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
             "email":{"type":"string"}},"required":["name"]})",
         {R"({"name":"a"})", R"({"name": "a", "age": 3})", R"({"name":"a","email":"x@y"})",
          R"({"name":"a","age":-5,"email":""})", R"({ "name" : "a" })",
          "{\n  \"name\": \"a\",\n  \"age\": 1\n}"},
         {R"({})", R"({"age":3})", R"({"name":1})", R"({"name":"a",})", R"({"name":"a" "age":3})",
          R"({"name":"a","age":"3"})", R"({"name":"a","name":"b"})"}});
  // All required, nested object.
  check({R"({"type":"object","properties":{"p":{"type":"object","properties":{"x":{"type":"number"},
             "y":{"type":"number"}},"required":["x","y"]}},"required":["p"]})",
         {R"({"p":{"x":1,"y":2.5}})"},
         {R"({"p":{"x":1}})", R"({"p":{}})", R"({"p":null})"}});
  // Empty properties with additionalProperties false: only {}.
  check({R"({"type":"object","additionalProperties":false})", {"{}", "{ }"}, {R"({"a":1})"}});
  // No properties at all: any object.
  check({R"({"type":"object"})", {"{}", R"({"a":[1,{"b":null}]})"}, {"[]", "\"x\""}});
}

TEST(JsonSchema, AdditionalProperties) {
  check({R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":true})",
         {R"({"a":1,"b":[1,2]})", R"({"b":"x"})", "{}", R"({"a":1})", R"({"ab":1,"":2,"b":3})"},
         {R"({"a":"x"})", R"({"b":})"}});
  check({R"({"type":"object","additionalProperties":{"type":"number"}})",
         {R"({"x":1,"y":2.5})", "{}"},
         {R"({"x":"s"})"}});
  check({R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],
             "additionalProperties":{"type":"string"}})",
         {R"({"id":1})", R"({"id":1,"x":"a","idx":"b","i":"c"})"},
         {R"({"id":1,"x":2})", R"({"id":1,"id":"a"})", R"({"x":"a"})"}});
  // Without additionalProperties, listed properties only (llama.cpp's convention), unless asked.
  auto strict = grammar_for(R"({"type":"object","properties":{"a":{"type":"integer"}}})");
  EXPECT_FALSE(matches(strict, R"({"a":1,"b":2})"));
  JsonSchemaOptions open;
  open.allow_additional_properties_by_default = true;
  auto relaxed = grammar_for(R"({"type":"object","properties":{"a":{"type":"integer"}}})", open);
  EXPECT_TRUE(matches(relaxed, R"({"a":1,"b":2})"));
  EXPECT_FALSE(matches(relaxed, R"({"a":1,"a":2})"));
  // A required property without a schema of its own takes any value.
  check({R"({"type":"object","required":["k"]})", {R"({"k":[1]})", R"({"k":1,"z":2})"}, {"{}"}});
  check({R"({"properties":{"x":false,"y":true}})", {R"({"y":[1]})", "{}"}, {R"({"x":1})"}});
}

TEST(JsonSchema, EnumAndConst) {
  check({R"({"enum":["red","green",3,null,{"a":1},[1,2]]})",
         {R"("red")", "3", "null", R"({"a":1})", "[1,2]"},
         {R"("blue")", R"("3")", "4", "[1, 2, 3]"}});
  check({R"({"const":"x"})", {R"("x")"}, {R"("y")", "x"}});
  check({R"({"type":"string","enum":["a",1]})", {R"("a")"}, {"1"}});
  check({R"({"type":"integer","enum":[1,1.0,2.5,"3"]})", {"1", "1.0"}, {"2.5", "\"3\""}});
  check({R"({"enum":["a","b"],"const":"b"})", {R"("b")"}, {R"("a")"}});
  check({R"({"enum":["tab\there","quote\"", "é"]})",
         {R"("tab\there")", R"("quote\"")", "\"\xC3\xA9\""},
         {"\"tab\there\""}});
}

TEST(JsonSchema, TypeArraysAndNullable) {
  check({R"({"type":["string","null"]})", {R"("a")", "null"}, {"1", "true"}});
  check({R"({"type":"integer","nullable":true})", {"1", "null"}, {"1.5", "\"1\""}});
  check({R"({"type":["integer","number"]})", {"1", "1.5"}, {"\"1\""}});
  check({R"({"type":["array","boolean"],"items":{"type":"integer"},"maxItems":1})",
         {"[]", "[1]", "true"},
         {"[1,2]", "[true]"}});
}

TEST(JsonSchema, Arrays) {
  check({R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})",
         {"[1]", "[1,2,3]", "[ 1 , 2 ]"},
         {"[]", "[1,2,3,4]", "[\"a\"]", "[1,]"}});
  check({R"({"type":"array","items":{"type":"string"}})", {"[]", R"(["a","b"])"}, {"[1]", "["}});
  check({R"({"type":"array"})", {"[]", R"([1,"a",null,[{}]])"}, {"{}"}});
  check({R"({"type":"array","minItems":2})", {"[1,2]", "[1,\"a\",3]"}, {"[]", "[1]"}});
  check({R"({"type":"array","maxItems":0})", {"[]"}, {"[1]"}});
  // Tuples.
  check({R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false})",
         {"[]", R"(["a"])", R"(["a",1])"},
         {R"(["a",1,2])", "[1]", R"(["a","b"])"}});
  check({R"({"prefixItems":[{"type":"string"},{"type":"integer"}],"minItems":2,"maxItems":2})",
         {R"(["a",1])"},
         {R"(["a"])", R"(["a",1,2])"}});
  check({R"({"prefixItems":[{"type":"string"}],"items":{"type":"boolean"}})",
         {R"(["a"])", R"(["a",true,false])", "[]"},
         {R"(["a",1])", "[true]"}});
  check({R"({"prefixItems":[{"type":"string"}]})", {R"(["a",1,{}])", "[]"}, {"[1]"}});
  check({R"({"items":[{"type":"integer"}],"additionalItems":false})", {"[1]", "[]"}, {"[1,2]"}});
  check({R"({"items":[{"type":"integer"},{"type":"integer"},{"type":"integer"}],"minItems":3,
             "additionalItems":{"type":"string"},"maxItems":4})",
         {"[1,2,3]", R"([1,2,3,"x"])"},
         {"[1,2]", R"([1,2,3,"x","y"])", "[1,2,3,4]"}});
  // Nested arrays.
  check(
      {R"({"type":"array","items":{"type":"array","items":{"enum":[0,1]},"minItems":2,"maxItems":2}})",
       {"[[0,1],[1,1]]", "[]"},
       {"[[0]]", "[[0,2]]"}});
}

TEST(JsonSchema, StringLengths) {
  check({R"({"type":"string","minLength":2,"maxLength":3})",
         {R"("ab")", R"("abc")", R"("\u00e9b")", "\"\xC3\xA9\xE6\x97\xA5\"", R"("a\n")"},
         {R"("a")", R"("abcd")", R"("")"}});
  check({R"({"type":"string","maxLength":0})", {R"("")"}, {R"("a")"}});
  check({R"({"type":"string","minLength":1})", {R"("a")", R"("abcdefghijklmnop")"}, {R"("")"}});
}

bool accepts_int(const std::shared_ptr<const Grammar>& g, int64_t v) {
  return matches(g, std::to_string(v));
}

TEST(JsonSchema, IntegerRangesAreExact) {
  struct Range {
    std::string bounds;
    std::optional<int64_t> lo, hi;
  };
  const std::vector<Range> ranges = {
      {R"("minimum":0,"maximum":9)", 0, 9},
      {R"("minimum":1,"maximum":100)", 1, 100},
      {R"("minimum":-5,"maximum":5)", -5, 5},
      {R"("minimum":-123,"maximum":-7)", -123, -7},
      {R"("minimum":17,"maximum":2023)", 17, 2023},
      {R"("minimum":0,"maximum":150)", 0, 150},
      {R"("minimum":-1000,"maximum":999)", -1000, 999},
      {R"("minimum":7)", 7, std::nullopt},
      {R"("minimum":-25)", -25, std::nullopt},
      {R"("maximum":-7)", std::nullopt, -7},
      {R"("maximum":42)", std::nullopt, 42},
      {R"("exclusiveMinimum":0,"exclusiveMaximum":10)", 1, 9},
      {R"("minimum":1.5,"maximum":4.5)", 2, 4},
      {R"("minimum":3,"exclusiveMinimum":true,"maximum":8,"exclusiveMaximum":true)", 4, 7},
      {R"("minimum":5,"exclusiveMinimum":6)", 7, std::nullopt},
  };
  for (const Range& r : ranges) {
    const std::string schema = R"({"type":"integer",)" + r.bounds + "}";
    SCOPED_TRACE(schema);
    auto g = grammar_for(schema);
    ASSERT_NE(g, nullptr);
    const int64_t from = (r.lo ? *r.lo : (r.hi ? *r.hi : 0) - 1200) - 40;
    const int64_t to = (r.hi ? *r.hi : (r.lo ? *r.lo : 0) + 1200) + 40;
    int wrong = 0;
    for (int64_t v = from; v <= to; ++v) {
      const bool inside = (!r.lo || v >= *r.lo) && (!r.hi || v <= *r.hi);
      if (accepts_int(g, v) != inside && ++wrong <= 5) ADD_FAILURE() << "value " << v;
    }
    EXPECT_EQ(wrong, 0);
    // Far values on the open sides; no leading zeros, no "-0".
    if (!r.hi) {
      EXPECT_TRUE(accepts_int(g, 1234567890123456));
    }
    if (!r.lo) {
      EXPECT_TRUE(accepts_int(g, -1234567890123456));
    }
    EXPECT_FALSE(matches(g, "007"));
    EXPECT_FALSE(matches(g, "-0"));
  }
  auto big = grammar_for(R"({"type":"integer","minimum":9223372036854775800})");
  EXPECT_TRUE(matches(big, "9223372036854775807"));
  EXPECT_TRUE(matches(big, "9223372036854775800"));
  EXPECT_FALSE(matches(big, "9223372036854775799"));
  auto low = grammar_for(R"({"type":"integer","maximum":-9223372036854775807})");
  EXPECT_TRUE(matches(low, "-9223372036854775807"));
  EXPECT_FALSE(matches(low, "-9223372036854775806"));
}

TEST(JsonSchema, NumberRanges) {
  check({R"({"type":"number","minimum":0,"maximum":1})",
         {"0", "1", "0.5", "1.0", "1.000", "0.999", "0.0"},
         {"1.5", "-0.1", "1.0001", "2", "-1"}});
  check({R"({"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1})",
         {"0.5", "0.001"},
         {"0", "0.0", "1", "1.0", "-0.5"}});
  check({R"({"type":"number","minimum":-2,"maximum":-1})",
         {"-1", "-2", "-1.5", "-2.0", "-1.000"},
         {"-2.5", "-0.5", "0", "1", "-2.01"}});
  check(
      {R"({"type":"number","minimum":10})", {"10", "10.5", "99999", "10.0"}, {"9.99", "-10", "9"}});
  check({R"({"type":"number","exclusiveMaximum":-3})",
         {"-3.5", "-4", "-1000.25"},
         {"-3", "-3.0", "-2.9", "0", "5"}});
  check({R"({"type":"number","minimum":-1,"exclusiveMaximum":2})",
         {"-1", "-0.5", "0", "1.999", "1"},
         {"2", "2.0", "-1.5", "-2"}});
}

TEST(JsonSchema, Patterns) {
  check({R"({"type":"string","pattern":"^[a-z]+-\\d{2,3}$"})",
         {R"("ab-12")", R"("x-999")"},
         {R"("ab-1")", R"("AB-12")", R"("ab-1234")", R"("ab12")", R"("ab-12 ")"}});
  // Unanchored patterns match anywhere.
  check({R"({"pattern":"ab"})", {R"("xxabyy")", R"("ab")", R"("ab\n")"}, {R"("a b")", R"("")"}});
  check({R"({"pattern":"^ab"})", {R"("abc")"}, {R"("cab")"}});
  check({R"({"pattern":"ab$"})", {R"("cab")"}, {R"("abc")"}});
  check({R"({"pattern":"^(foo|ba[rz])?$"})",
         {R"("")", R"("foo")", R"("baz")"},
         {R"("fo")", R"("bar!")"}});
  check({R"({"pattern":"^a|b$"})", {R"("ax")", R"("xb")"}, {R"("xa")", R"("bx")"}});
  // Quotes, backslashes and control characters are written as JSON escapes.
  check({R"({"pattern":"^a\"b\\\\c$"})", {R"("a\"b\\c")"}, {R"("a\"bc")", R"("a"b\c")"}});
  check({R"({"pattern":"^[^a]+$"})", {R"("bcd")", R"("\n")", R"("\"")", R"("\\")"}, {R"("bad")"}});
  check({R"({"pattern":"^\\w+\\s\\w+$"})",
         {R"("ab cd")", R"("a\tb")", R"("a_1\nZ")"},
         {R"("ab-cd")"}});
  check({R"({"pattern":"^.$"})", {R"("x")", "\"\xC3\xA9\"", R"("\t")"}, {R"("\n")", R"("xy")"}});
  check({R"({"pattern":"^\\d{3}(-\\d{4})*?$"})",
         {R"("123")", R"("123-4567-8901")"},
         {R"("123-45")"}});
  check({R"({"pattern":"^[\\u00e0-\\u00ff\\x41]{2}\\.\\*$"})", {"\"A\xC3\xA9.*\""}, {R"("AA.x")"}});
  check({R"({"pattern":"^(?:a|(?<n>b))+\\{x}$"})", {R"("abba{x}")"}, {R"("{x}")"}});
}

TEST(JsonSchema, Formats) {
  check({R"({"type":"string","format":"date"})",
         {R"("2024-02-29")", R"("2000-02-29")", R"("2023-12-31")", R"("2023-04-30")",
          R"("0400-02-29")"},
         {R"("2023-02-29")", R"("1900-02-29")", R"("2023-04-31")", R"("2023-13-01")",
          R"("2023-1-01")", R"("20230101")", R"("2023-00-10")", R"("2023-01-00")"}});
  check({R"({"type":"string","format":"time"})",
         {R"("23:59:59Z")", R"("12:00:00.123+05:30")", R"("00:00:00-00:00")"},
         {R"("24:00:00Z")", R"("12:00:00")", R"("12:60:00Z")", R"("1:00:00Z")"}});
  check({R"({"format":"date-time"})",
         {R"("2024-01-01T00:00:00Z")", R"("1999-12-31T23:59:59.5-08:00")"},
         {R"("2024-01-01 00:00:00Z")", R"("2024-01-01")"}});
  check({R"({"type":"string","format":"uuid"})",
         {R"("123e4567-e89b-12d3-a456-426614174000")"},
         {R"("123e4567e89b12d3a456426614174000")", R"("123e4567-e89b-12d3-a456-42661417400")"}});
}

TEST(JsonSchema, Combinators) {
  check({R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]})",
         {"1", R"("a")"},
         {R"("ab")", "true"}});
  check({R"({"oneOf":[{"type":"boolean"},{"type":"null"}]})", {"true", "null"}, {"0"}});
  check({R"({"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},
                      {"properties":{"b":{"type":"string"}},"required":["b"]}]})",
         {R"({"a":1,"b":"x"})"},
         {R"({"a":1})", R"({"b":"x"})"}});
  check(
      {R"({"allOf":[{"type":"integer","minimum":0},{"maximum":10}]})", {"0", "10"}, {"-1", "11"}});
  check({R"({"allOf":[{"type":["integer","string"]},{"type":["number","null"]}]})",
         {"3"},
         {"3.5", "null", "\"a\""}});
  check({R"({"allOf":[{"enum":[1,2,3]},{"enum":[2,3,4]}]})", {"2", "3"}, {"1", "4"}});
  // anyOf next to other keywords is distributed over them.
  check({R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},
             "anyOf":[{"required":["a"]},{"required":["b"]}]})",
         {R"({"a":1})", R"({"b":2})", R"({"a":1,"b":2})"},
         {"{}"}});
  // Same property in several allOf members: both constraints apply.
  check({R"({"allOf":[{"properties":{"n":{"type":"integer","minimum":1}},"required":["n"]},
                      {"properties":{"n":{"maximum":3}}}]})",
         {R"({"n":1})", R"({"n":3})"},
         {R"({"n":0})", R"({"n":4})"}});
}

TEST(JsonSchema, References) {
  check(
      {R"({"$defs":{"pos":{"type":"integer","minimum":1}},"type":"array","items":{"$ref":"#/$defs/pos"}})",
       {"[1,2]", "[]"},
       {"[0]"}});
  check({R"({"definitions":{"s":{"type":"string"}},"properties":{"x":{"$ref":"#/definitions/s"}}})",
         {R"({"x":"a"})", "{}"},
         {R"({"x":1})"}});
  // Recursion through $defs and through the root.
  check({R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
             "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},
             "$ref":"#/$defs/node"})",
         {R"({"v":1,"children":[{"v":2},{"v":3,"children":[]}]})", R"({"v":0})"},
         {R"({"v":1,"children":[{}]})", "{}"}});
  check({R"({"type":"object","properties":{"next":{"$ref":"#"}}})",
         {R"({"next":{"next":{}}})", "{}"},
         {R"({"next":1})"}});
  // $ref next to other keywords: both apply.
  check({R"({"$defs":{"o":{"type":"object","properties":{"a":{"type":"integer"}}}},
             "$ref":"#/$defs/o","required":["a"]})",
         {R"({"a":1})"},
         {"{}"}});
  // JSON-pointer escapes and array indexes.
  check({R"({"$defs":{"a/b":{"type":"null"},"list":[{"type":"boolean"}]},
             "anyOf":[{"$ref":"#/$defs/a~1b"},{"$ref":"#/$defs/list/0"}]})",
         {"null", "true"},
         {"1"}});
}

TEST(JsonSchema, ImpossibleAlternativesAreDropped) {
  // Found by fuzzing: an anyOf alternative (through a $ref) that matches nothing must vanish
  // without leaving half-built rules behind.
  check(
      {R"({"$defs":{"node":{"type":"object","properties":{"w":{"type":"integer"}},"required":["v"]}},
             "anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]})",
       {"null"},
       {"{}", R"({"w":1})"}});
  check({R"({"type":["integer","string"],"minimum":3,"maximum":2,"maxLength":1})",
         {R"("a")"},
         {"3"}});
  check({R"({"type":"object","additionalProperties":{"type":"integer","minimum":1,"maximum":0}})",
         {"{}"},
         {R"({"a":1})"}});
  // An optional property or array item that no value satisfies cannot appear.
  check({R"({"properties":{"a":{"enum":[]},"b":{"type":"null"}}})",
         {"{}", R"({"b":null})"},
         {R"({"a":1})"}});
  check({R"({"type":"array","items":{"type":"string","minLength":3,"maxLength":2}})",
         {"[]"},
         {R"(["abc"])"}});
  check({R"({"prefixItems":[{"type":"integer"},{"allOf":[{"type":"string"},{"type":"null"}]}]})",
         {"[]", "[1]"},
         {"[1,null]", R"([1,"a"])"}});
}

TEST(JsonSchema, PropertyOrderFollowsTheSchema) {
  // ordered_json (and the text entry point) keep the schema's order...
  auto g = grammar_for(
      R"({"properties":{"b":{"type":"integer"},"a":{"type":"integer"}},"required":["a","b"]})");
  EXPECT_TRUE(matches(g, R"({"b":1,"a":2})"));
  EXPECT_FALSE(matches(g, R"({"a":2,"b":1})"));
  // ...nlohmann::json sorts keys, so properties follow key order.
  const nlohmann::json sorted = nlohmann::json::parse(
      R"({"properties":{"b":{"type":"integer"},"a":{"type":"integer"}},"required":["a","b"]})");
  auto gbnf = json_schema_to_gbnf(sorted);
  ASSERT_TRUE(gbnf.ok());
  auto h = parse_gbnf(*gbnf);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(matches(*h, R"({"a":2,"b":1})"));
}

TEST(JsonSchema, UnsupportedKeywordsAreErrors) {
  struct Bad {
    std::string schema;
    std::string message_part;
  };
  const std::vector<Bad> bad = {
      {R"({"type":"array","uniqueItems":true})",
       "unsupported JSON schema keyword 'uniqueItems' at #"},
      {R"({"not":{"type":"string"}})", "'not'"},
      {R"({"if":{},"then":{}})", "'if'"},
      {R"({"type":"object","patternProperties":{"a":{}}})", "'patternProperties'"},
      {R"({"type":"number","multipleOf":2})", "'multipleOf'"},
      {R"({"properties":{"a":{"type":"object","minProperties":1}}})",
       "'minProperties' at #/properties/a"},
      {R"({"type":"array","contains":{}})", "'contains'"},
      {R"({"type":"string","format":"email"})", "format 'email' at # is not supported"},
      {R"({"$ref":"https://example.com/s.json"})", "only references within the schema"},
      {R"({"type":"number","minimum":0.5})", "fractional bound"},
      {R"({"pattern":"(?=a)b"})", "lookaround"},
      {R"({"pattern":"(a)\\1"})", "backreferences"},
      {R"({"pattern":"\\bword"})", "word boundaries"},
      {R"({"pattern":"\\p{L}"})", "Unicode property escapes"},
      {R"({"pattern":"a^b"})", "'^' is only supported at the start"},
      {R"({"type":"string","pattern":"a","maxLength":3})",
       "'pattern' combined with minLength/maxLength"},
      {R"({"enum":["a","bb"],"minLength":2})", "'enum' combined with 'minLength'"},
      {R"({"allOf":[{"pattern":"a"},{"pattern":"b"}]})", "different 'pattern' values"},
      {R"({"type":"string","maxLength":1000000})", "string length bounds above 100000"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.schema);
    const Status s = error_for(b.schema);
    EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << s.to_string();
    EXPECT_NE(s.message().find(b.message_part), std::string::npos) << s.message();
  }
}

TEST(JsonSchema, InvalidAndImpossibleSchemasAreErrors) {
  struct Bad {
    std::string schema;
    std::string message_part;
  };
  const std::vector<Bad> bad = {
      {R"({"type":"strin"})", "invalid 'type' \"strin\""},
      {R"({"type":"string","minLength":-1})", "'minLength' at # must be a non-negative integer"},
      {R"({"type":"integer","minimum":5,"maximum":4})", "matches nothing"},
      {R"({"enum":[]})", "matches nothing"},
      {R"({"type":"string","enum":[1,2]})", "matches nothing"},
      {R"({"allOf":[{"type":"string"},{"type":"integer"}]})", "no type in common"},
      {R"({"type":"array","minItems":3,"maxItems":2})", "matches nothing"},
      {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["b"],"additionalProperties":false})",
       "required property 'b' is not allowed"},
      {R"({"properties":{"a":false},"required":["a"]})", "matches nothing"},
      {R"({"$ref":"#/$defs/missing"})", "points to nothing"},
      {R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})", "refers to itself"},
      {R"({"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}},"$ref":"#/$defs/a"})",
       "refers to itself"},
      {R"({"$defs":{"a":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"})", "deeper than"},
      {R"(false)", "matches nothing"},
      {R"([1,2])", "must be an object or a boolean"},
      {R"({"anyOf":[]})", "non-empty array"},
      {"{\"type\":", "not valid JSON"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.schema);
    const Status s = error_for(b.schema);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(b.message_part), std::string::npos) << s.message();
  }
}

TEST(JsonSchema, GeneratedGrammarIsReadable) {
  auto gbnf = json_schema_text_to_gbnf(
      R"({"type":"object","properties":{"name":{"type":"string"}},"required":["name"]})");
  ASSERT_TRUE(gbnf.ok());
  EXPECT_NE(gbnf->find("root ::= \"{\" space root-name-kv \"}\" space\n"), std::string::npos)
      << *gbnf;
  EXPECT_NE(gbnf->find("space ::= | \" \" | \"\\n\"{1,2} [ \\t]{0,20}\n"), std::string::npos)
      << *gbnf;
}

}  // namespace
}  // namespace ember::grammar
