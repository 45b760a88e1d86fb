#include "grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema_internal.h"
#include "grammar/utf8.h"

namespace ember::grammar {
namespace {

using ojson = nlohmann::ordered_json;
using namespace schema_internal;

// Keywords that only describe (never constrain) an instance: ignored.
const std::set<std::string, std::less<>> kAnnotations = {
    "title",         "description",  "default",     "examples",         "example",
    "$schema",       "$id",          "$comment",    "deprecated",       "readOnly",
    "writeOnly",     "$anchor",      "$vocabulary", "contentMediaType", "contentEncoding",
    "discriminator", "externalDocs", "xml"};

// Keywords the converter honours.
const std::set<std::string, std::less<>> kSupported = {"type",
                                                       "nullable",
                                                       "properties",
                                                       "required",
                                                       "additionalProperties",
                                                       "enum",
                                                       "const",
                                                       "items",
                                                       "prefixItems",
                                                       "additionalItems",
                                                       "minItems",
                                                       "maxItems",
                                                       "minLength",
                                                       "maxLength",
                                                       "pattern",
                                                       "format",
                                                       "minimum",
                                                       "maximum",
                                                       "exclusiveMinimum",
                                                       "exclusiveMaximum",
                                                       "anyOf",
                                                       "oneOf",
                                                       "allOf",
                                                       "$ref",
                                                       "$defs",
                                                       "definitions"};

const std::set<std::string, std::less<>> kTypes = {"string", "number", "integer", "boolean",
                                                   "null",   "object", "array"};

// Largest repetition count written into the grammar (the GBNF parser's default limit).
constexpr uint64_t kMaxCount = 100000;
// At most this many combinations when anyOf lists inside allOf are multiplied out.
constexpr size_t kMaxAnyOfProduct = 64;

struct Primitive {
  const char* name;
  const char* body;
  std::vector<const char*> deps;
};

// The building blocks, as in llama.cpp's converter: bounded whitespace, JSON strings, numbers
// without leading zeros, and exact date/time formats.
const std::vector<Primitive>& primitives() {
  static const std::vector<Primitive> kPrimitives = {
      {"space", R"(| " " | "\n"{1,2} [ \t]{0,20})", {}},
      {"char", R"([^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))", {}},
      {"string", R"("\"" char* "\"" space)", {"char", "space"}},
      {"integral-part", R"([0] | [1-9] [0-9]{0,15})", {}},
      {"decimal-part", R"([0-9]{1,16})", {}},
      {"number",
       R"(("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space)",
       {"integral-part", "decimal-part", "space"}},
      {"integer", R"(("-"? integral-part) space)", {"integral-part", "space"}},
      {"boolean", R"(("true" | "false") space)", {"space"}},
      {"null", R"("null" space)", {"space"}},
      {"value",
       R"(object | array | string | number | boolean | null)",
       {"object", "array", "string", "number", "boolean", "null"}},
      {"object",
       R"("{" space ( string ":" space value ("," space string ":" space value)* )? "}" space)",
       {"string", "value", "space"}},
      {"array", R"("[" space ( value ("," space value)* )? "]" space)", {"value", "space"}},
      {"uuid",
       R"("\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\"" space)",
       {"space"}},
      // Leap years: divisible by 4 and not by 100, or by 400.
      {"leap-year",
       R"([0-9] [0-9] ("0" [48] | [2468] [048] | [13579] [26]) | ("0" [048] | [2468] [048] | [13579] [26]) "00")",
       {}},
      {"date",
       R"([0-9]{4} "-" ( ("0" [13578] | "1" [02]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]) | ("0" [469] | "11") "-" ("0" [1-9] | [12] [0-9] | "30") | "02-" ("0" [1-9] | "1" [0-9] | "2" [0-8]) ) | leap-year "-02-29")",
       {"leap-year"}},
      {"time",
       R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,9})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))",
       {}},
      {"date-string", R"("\"" date "\"" space)", {"date", "space"}},
      {"time-string", R"("\"" time "\"" space)", {"time", "space"}},
      {"date-time-string", R"("\"" date "T" time "\"" space)", {"date", "time", "space"}},
  };
  return kPrimitives;
}

std::string dump(const ojson& v) {
  return v.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// Rule names: letters, digits and '-'; everything else becomes '-'.
std::string sanitize(std::string_view hint) {
  std::string s;
  for (char c : hint) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (ok) {
      s += c;
    } else if (!s.empty() && s.back() != '-') {
      s += '-';
    }
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  if (s.size() > 48) s.resize(48);
  return s.empty() ? "x" : s;
}

std::string pointer_escape(std::string_view key) {
  std::string s;
  for (char c : key) {
    if (c == '~') {
      s += "~0";
    } else if (c == '/') {
      s += "~1";
    } else {
      s += c;
    }
  }
  return s;
}

std::string where(const std::string& path) {
  return "#" + path;
}

Status nothing_matches(const std::string& path, const std::string& why) {
  return invalid_argument("schema at " + where(path) + " matches nothing: " + why);
}
bool is_nothing_matches(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument &&
         s.message().find(" matches nothing: ") != std::string::npos;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) s += sep;
    s += parts[i];
  }
  return s;
}

// item{min,max} in GBNF (max empty: unbounded); "" when nothing may appear.
std::string repeat(const std::string& item, uint64_t min, std::optional<uint64_t> max) {
  if (max && *max == 0) return "";
  if (!max) {
    if (min == 0) return item + "*";
    if (min == 1) return item + "+";
    return item + "{" + std::to_string(min) + ",}";
  }
  if (min == 0 && *max == 1) return item + "?";
  if (min == *max) return min == 1 ? item : item + "{" + std::to_string(min) + "}";
  return item + "{" + std::to_string(min) + "," + std::to_string(*max) + "}";
}

bool value_has_type(const ojson& v, const std::string& type) {
  if (type == "any") return true;
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_boolean();
  if (type == "string") return v.is_string();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    if (v.is_number_integer()) return true;
    if (v.is_number_float()) {
      const double d = v.get<double>();
      return std::isfinite(d) && std::floor(d) == d;
    }
  }
  return false;
}

class Converter {
 public:
  Converter(const ojson& root, const JsonSchemaOptions& options) : root_(root), options_(options) {
    for (const Primitive& p : primitives()) reserved_.insert(p.name);
  }

  Result<std::string> run() {
    EMBER_ASSIGN_OR_RETURN(const std::string top, visit(root_, "root", "", 0));
    // The top-level rule is usually named "root" already; otherwise point root at it.
    std::string out = top == "root" ? "" : "root ::= " + top + "\n";
    for (const auto& [name, body] : rules_) {
      if (body.empty()) return internal_error("rule '" + name + "' of the schema grammar is empty");
      out += name + " ::= " + body + "\n";
      if (out.size() > options_.max_grammar_bytes) break;
    }
    if (out.size() > options_.max_grammar_bytes) {
      return resource_exhausted("the grammar for this schema exceeds " +
                                std::to_string(options_.max_grammar_bytes) + " bytes");
    }
    auto parsed = parse_gbnf(out);
    if (!parsed.ok()) {
      if (parsed.status().message().find("left recursion") != std::string::npos) {
        return invalid_argument(
            "the schema refers to itself ($ref) without an intervening "
            "object or array, so it describes no finite value (" +
            parsed.status().message() + ")");
      }
      return internal_error("generated grammar does not parse: " + parsed.status().message());
    }
    return out;
  }

 private:
  // ---- rules --------------------------------------------------------------------------------

  std::string primitive(const std::string& name) {
    if (added_primitives_.count(name)) return name;
    added_primitives_.insert(name);
    for (const Primitive& p : primitives()) {
      if (name != p.name) continue;
      rules_.emplace_back(name, p.body);
      for (const char* dep : p.deps) primitive(dep);
    }
    return name;
  }

  std::string unique_name(const std::string& hint) {
    std::string base = sanitize(hint);
    if (base == "root" && !used_.count("root")) {
      used_.insert("root");
      return base;
    }
    std::string name = base;
    for (int i = 1; reserved_.count(name) || used_.count(name); ++i) {
      name = base + "-" + std::to_string(i);
    }
    used_.insert(name);
    return name;
  }

  // Rules, names and references made while visiting a subschema that turns out to match nothing
  // (an impossible anyOf alternative, say) are rolled back so no half-built rule is left behind.
  struct Snapshot {
    size_t rules;
    std::set<std::string> used, primitives;
    std::map<std::string, std::string> refs;
  };
  Snapshot snapshot() const { return {rules_.size(), used_, added_primitives_, ref_names_}; }
  void restore(Snapshot s) {
    rules_.resize(s.rules);
    used_ = std::move(s.used);
    added_primitives_ = std::move(s.primitives);
    ref_names_ = std::move(s.refs);
  }

  std::string add_rule(const std::string& hint, std::string body) {
    const std::string name = unique_name(hint);
    rules_.emplace_back(name, std::move(body));
    return name;
  }

  // ---- schema walking -----------------------------------------------------------------------

  Status check_keywords(const ojson& s, const std::string& path) const {
    for (const auto& [key, value] : s.items()) {
      if (kAnnotations.count(key) || kSupported.count(key)) continue;
      if (key == "uniqueItems" && value == false) continue;
      return unimplemented("unsupported JSON schema keyword '" + key + "' at " + where(path));
    }
    return Status::Ok();
  }

  // Whether `s` has keywords that constrain instances other than those in `except`.
  static bool has_constraints_besides(const ojson& s, std::initializer_list<const char*> except) {
    for (const auto& [key, value] : s.items()) {
      if (kAnnotations.count(key) || key == "$defs" || key == "definitions") continue;
      bool excepted = false;
      for (const char* e : except) excepted = excepted || key == e;
      if (!excepted) return true;
    }
    return false;
  }

  Result<std::string> visit(const ojson& s, const std::string& name, const std::string& path,
                            int depth) {
    if (depth > options_.max_depth) {
      return resource_exhausted("schema nested deeper than " + std::to_string(options_.max_depth) +
                                " at " + where(path));
    }
    if (s.is_boolean()) {
      if (s.get<bool>()) return primitive("value");
      return nothing_matches(path, "the schema is 'false'");
    }
    if (!s.is_object()) {
      return invalid_argument("schema at " + where(path) + " must be an object or a boolean");
    }
    EMBER_RETURN_IF_ERROR(check_keywords(s, path));

    if (s.contains("$ref")) {
      if (!has_constraints_besides(s, {"$ref"})) return ref_rule(s["$ref"], path, depth);
      return visit_merged(s, name, path, depth);
    }
    if (s.contains("allOf")) return visit_merged(s, name, path, depth);
    if (s.contains("anyOf") || s.contains("oneOf")) {
      const char* key = s.contains("anyOf") ? "anyOf" : "oneOf";
      if (s.contains("anyOf") && s.contains("oneOf")) return visit_merged(s, name, path, depth);
      if (has_constraints_besides(s, {key})) return visit_merged(s, name, path, depth);
      const ojson& list = s[key];
      if (!list.is_array() || list.empty()) {
        return invalid_argument("'" + std::string(key) + "' at " + where(path) +
                                " must be a non-empty array");
      }
      std::vector<std::string> alts;
      Status last;
      for (size_t i = 0; i < list.size(); ++i) {
        Snapshot before = snapshot();
        auto r = visit(list[i], name + "-" + std::to_string(i),
                       path + "/" + key + "/" + std::to_string(i), depth + 1);
        if (!r.ok() && is_nothing_matches(r.status())) {
          last = r.status();
          restore(std::move(before));
          continue;  // an impossible alternative adds nothing
        }
        if (!r.ok()) return r.status();
        alts.push_back(*r);
      }
      if (alts.empty()) return last;
      if (alts.size() == 1) return alts[0];
      return add_rule(name, join(alts, " | "));
    }
    EMBER_ASSIGN_OR_RETURN(const std::vector<std::string> types, collect_types(s, path));
    if (s.contains("const") || s.contains("enum")) return visit_enum(s, types, name, path);
    std::vector<std::string> branches;
    Status last;
    for (const std::string& t : types) {
      Snapshot before = snapshot();
      auto r = visit_type(t, s, types.size() == 1 ? name : name + "-" + t, path, depth);
      if (!r.ok() && is_nothing_matches(r.status()) && types.size() > 1) {
        last = r.status();
        restore(std::move(before));
        continue;
      }
      if (!r.ok()) return r.status();
      branches.push_back(*r);
    }
    if (branches.empty()) return last;
    if (branches.size() == 1) return branches[0];
    return add_rule(name, join(branches, " | "));
  }

  Result<std::vector<std::string>> collect_types(const ojson& s, const std::string& path) {
    std::vector<std::string> types;
    auto add = [&](const std::string& t) {
      if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
    };
    if (s.contains("type")) {
      const ojson& t = s["type"];
      std::vector<ojson> list =
          t.is_array() ? std::vector<ojson>(t.begin(), t.end()) : std::vector<ojson>{t};
      if (list.empty()) return nothing_matches(path, "'type' is an empty array");
      for (const ojson& x : list) {
        if (!x.is_string() || !kTypes.count(x.get<std::string>())) {
          return invalid_argument("invalid 'type' " + dump(x) + " at " + where(path));
        }
        add(x.get<std::string>());
      }
      // Integers are numbers: "number" covers both.
      if (std::count(types.begin(), types.end(), "number") &&
          std::count(types.begin(), types.end(), "integer")) {
        types.erase(std::find(types.begin(), types.end(), "integer"));
      }
    } else {
      // No type: the kinds of keywords present say which kinds of values are meant (a subset of
      // what the schema allows, which is what generation wants).
      auto any_of = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys) {
          if (s.contains(k)) return true;
        }
        return false;
      };
      if (any_of({"properties", "required", "additionalProperties"})) add("object");
      if (any_of({"items", "prefixItems", "additionalItems", "minItems", "maxItems"})) add("array");
      if (any_of({"minLength", "maxLength", "pattern", "format"})) add("string");
      if (any_of({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})) add("number");
      if (types.empty()) add("any");
    }
    if (s.contains("nullable")) {
      if (!s["nullable"].is_boolean()) {
        return invalid_argument("'nullable' at " + where(path) + " must be a boolean");
      }
      if (s["nullable"].get<bool>() && !std::count(types.begin(), types.end(), "any")) add("null");
    }
    return types;
  }

  Result<std::string> visit_enum(const ojson& s, const std::vector<std::string>& types,
                                 const std::string& name, const std::string& path) {
    if (has_constraints_besides(s, {"type", "nullable", "enum", "const"})) {
      for (const auto& [key, value] : s.items()) {
        if (kAnnotations.count(key) || key == "type" || key == "nullable" || key == "enum" ||
            key == "const" || key == "$defs" || key == "definitions") {
          continue;
        }
        return unimplemented("'" + std::string(s.contains("enum") ? "enum" : "const") +
                             "' combined with '" + key + "' at " + where(path) +
                             " is not supported");
      }
    }
    std::vector<ojson> values;
    if (s.contains("enum")) {
      if (!s["enum"].is_array())
        return invalid_argument("'enum' at " + where(path) + " must be an array");
      values.assign(s["enum"].begin(), s["enum"].end());
    }
    if (s.contains("const")) {
      if (s.contains("enum")) {
        const bool listed = std::find(values.begin(), values.end(), s["const"]) != values.end();
        values.clear();
        if (listed) values.push_back(s["const"]);
      } else {
        values.push_back(s["const"]);
      }
    }
    std::vector<std::string> alts;
    std::set<std::string> seen;
    for (const ojson& v : values) {
      bool typed = false;
      for (const std::string& t : types) typed = typed || value_has_type(v, t);
      if (!typed) continue;
      std::string lit = gbnf_literal(dump(v));
      if (seen.insert(lit).second) alts.push_back(std::move(lit));
    }
    if (alts.empty())
      return nothing_matches(path, "no value of 'enum'/'const' has an allowed type");
    primitive("space");
    return add_rule(name, "(" + join(alts, " | ") + ") space");
  }

  Result<std::string> visit_type(const std::string& t, const ojson& s, const std::string& name,
                                 const std::string& path, int depth) {
    if (t == "any") return primitive("value");
    if (t == "null" || t == "boolean") return primitive(t);
    if (t == "integer" || t == "number") return visit_numeric(t == "integer", s, name, path);
    if (t == "string") return visit_string(s, name, path);
    if (t == "array") return visit_array(s, name, path, depth);
    return visit_object(s, name, path, depth);
  }

  // ---- numbers ------------------------------------------------------------------------------

  struct RawBound {
    double value = 0;
    std::optional<int64_t> exact;  // the value when written as an integer
    bool exclusive = false;
  };

  // The tighter of minimum / exclusiveMinimum (lower = true) or maximum / exclusiveMaximum,
  // including draft-4 boolean exclusive flags.
  Result<std::optional<RawBound>> read_bound(const ojson& s, bool lower, const std::string& path) {
    const char* inclusive_key = lower ? "minimum" : "maximum";
    const char* exclusive_key = lower ? "exclusiveMinimum" : "exclusiveMaximum";
    auto number = [&](const char* key) -> Result<RawBound> {
      const ojson& v = s[key];
      if (!v.is_number()) {
        return invalid_argument("'" + std::string(key) + "' at " + where(path) +
                                " must be a number");
      }
      RawBound b;
      if (v.is_number_unsigned()) {
        const uint64_t u = v.get<uint64_t>();
        if (u > uint64_t{INT64_MAX}) {
          return unimplemented("'" + std::string(key) + "' at " + where(path) +
                               " is outside the supported 64-bit range");
        }
        b.exact = static_cast<int64_t>(u);
        b.value = static_cast<double>(u);
      } else if (v.is_number_integer()) {
        b.exact = v.get<int64_t>();
        b.value = static_cast<double>(*b.exact);
      } else {
        b.value = v.get<double>();
        if (!std::isfinite(b.value) || std::fabs(b.value) >= 9.2e18) {
          return unimplemented("'" + std::string(key) + "' at " + where(path) +
                               " is outside the supported 64-bit range");
        }
        if (std::floor(b.value) == b.value) b.exact = static_cast<int64_t>(b.value);
      }
      return b;
    };
    std::optional<RawBound> result;
    if (s.contains(inclusive_key)) {
      EMBER_ASSIGN_OR_RETURN(RawBound b, number(inclusive_key));
      result = b;
    }
    if (s.contains(exclusive_key)) {
      const ojson& e = s[exclusive_key];
      if (e.is_boolean()) {
        // Draft 4: a flag on minimum / maximum.
        if (e.get<bool>() && result) result->exclusive = true;
      } else {
        EMBER_ASSIGN_OR_RETURN(RawBound b, number(exclusive_key));
        b.exclusive = true;
        const bool tighter =
            !result || (lower ? b.value >= result->value : b.value <= result->value);
        if (tighter) result = b;
      }
    }
    return result;
  }

  Result<std::string> visit_numeric(bool integer, const ojson& s, const std::string& name,
                                    const std::string& path) {
    EMBER_ASSIGN_OR_RETURN(const std::optional<RawBound> lo, read_bound(s, true, path));
    EMBER_ASSIGN_OR_RETURN(const std::optional<RawBound> hi, read_bound(s, false, path));
    if (!lo && !hi) return primitive(integer ? "integer" : "number");
    std::string range;
    if (integer) {
      std::optional<int64_t> a, b;
      if ((lo && lo->exclusive && lo->exact == INT64_MAX) ||
          (hi && hi->exclusive && hi->exact == INT64_MIN)) {
        return nothing_matches(path, "no integer lies within the bounds");
      }
      if (lo) {
        const double v = lo->exclusive ? std::floor(lo->value) + 1 : std::ceil(lo->value);
        a = lo->exact ? (lo->exclusive ? *lo->exact + 1 : *lo->exact) : static_cast<int64_t>(v);
      }
      if (hi) {
        const double v = hi->exclusive ? std::ceil(hi->value) - 1 : std::floor(hi->value);
        b = hi->exact ? (hi->exclusive ? *hi->exact - 1 : *hi->exact) : static_cast<int64_t>(v);
      }
      if (a && b && *a > *b) return nothing_matches(path, "no integer lies within the bounds");
      range = gbnf_int_range(a, b);
    } else {
      std::optional<NumberBound> a, b;
      for (const auto* bound : {&lo, &hi}) {
        if (*bound && !(*bound)->exact) {
          return unimplemented("fractional bound " + dump((*bound)->value) + " on a number at " +
                               where(path) + " is not supported (integral minimum/maximum only)");
        }
      }
      if (lo) a = NumberBound{*lo->exact, lo->exclusive};
      if (hi) b = NumberBound{*hi->exact, hi->exclusive};
      range = gbnf_number_range(a, b);
      if (range.empty()) return nothing_matches(path, "no number lies within the bounds");
    }
    primitive("space");
    return add_rule(name, "(" + range + ") space");
  }

  // ---- strings ------------------------------------------------------------------------------

  Result<std::optional<uint64_t>> read_count(const ojson& s, const char* key,
                                             const std::string& path) {
    if (!s.contains(key)) return std::optional<uint64_t>();
    const ojson& v = s[key];
    uint64_t n = 0;
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) {
      n = v.get<uint64_t>();
    } else if (v.is_number_float() && v.get<double>() >= 0 &&
               std::floor(v.get<double>()) == v.get<double>() && v.get<double>() < 1e18) {
      n = static_cast<uint64_t>(v.get<double>());
    } else {
      return invalid_argument("'" + std::string(key) + "' at " + where(path) +
                              " must be a non-negative integer");
    }
    return std::optional<uint64_t>(n);
  }

  Result<std::string> visit_string(const ojson& s, const std::string& name,
                                   const std::string& path) {
    EMBER_ASSIGN_OR_RETURN(const auto min_len, read_count(s, "minLength", path));
    EMBER_ASSIGN_OR_RETURN(const auto max_len, read_count(s, "maxLength", path));
    if (s.contains("format")) {
      if (!s["format"].is_string()) {
        return invalid_argument("'format' at " + where(path) + " must be a string");
      }
      const std::string f = s["format"];
      for (const char* other : {"pattern", "minLength", "maxLength"}) {
        if (s.contains(other)) {
          return unimplemented("'format' combined with '" + std::string(other) + "' at " +
                               where(path) + " is not supported");
        }
      }
      if (f == "uuid") return primitive("uuid");
      if (f == "date" || f == "time" || f == "date-time") return primitive(f + "-string");
      return unimplemented("format '" + f + "' at " + where(path) +
                           " is not supported (supported: date, time, date-time, uuid)");
    }
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) {
        return invalid_argument("'pattern' at " + where(path) + " must be a string");
      }
      if (min_len || max_len) {
        return unimplemented("'pattern' combined with minLength/maxLength at " + where(path) +
                             " is not supported");
      }
      const std::string any_char = primitive("char");
      auto regex = regex_to_gbnf(s["pattern"].get<std::string>(), any_char, kMaxCount);
      if (!regex.ok()) return regex.status().with_context(where(path));
      primitive("space");
      return add_rule(name, "\"\\\"\" (" + *regex + ") \"\\\"\" space");
    }
    if (!min_len && !max_len) return primitive("string");
    const uint64_t lo = min_len.value_or(0);
    if (max_len && *max_len < lo) return nothing_matches(path, "minLength is above maxLength");
    if (lo > kMaxCount || (max_len && *max_len > kMaxCount)) {
      return unimplemented("string length bounds above " + std::to_string(kMaxCount) + " at " +
                           where(path) + " are not supported");
    }
    const std::string c = primitive("char");
    primitive("space");
    return add_rule(name, "\"\\\"\" " + repeat(c, lo, max_len) + " \"\\\"\" space");
  }

  // ---- arrays -------------------------------------------------------------------------------

  Result<std::string> visit_array(const ojson& s, const std::string& name, const std::string& path,
                                  int depth) {
    std::vector<const ojson*> prefix;
    std::string prefix_key;
    const ojson* tail = nullptr;
    std::string tail_path;
    static const ojson kTrue = true;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) {
        return invalid_argument("'prefixItems' at " + where(path) + " must be an array");
      }
      for (const ojson& x : s["prefixItems"]) prefix.push_back(&x);
      prefix_key = "prefixItems";
      tail = s.contains("items") ? &s["items"] : &kTrue;
      tail_path = path + "/items";
    } else if (s.contains("items") && s["items"].is_array()) {
      for (const ojson& x : s["items"]) prefix.push_back(&x);
      prefix_key = "items";
      tail = s.contains("additionalItems") ? &s["additionalItems"] : &kTrue;
      tail_path = path + "/additionalItems";
    } else {
      tail = s.contains("items") ? &s["items"] : &kTrue;
      tail_path = path + "/items";
    }
    EMBER_ASSIGN_OR_RETURN(const auto min_items, read_count(s, "minItems", path));
    EMBER_ASSIGN_OR_RETURN(std::optional<uint64_t> max, read_count(s, "maxItems", path));
    const uint64_t min = min_items.value_or(0);
    if (min > kMaxCount || (max && *max > kMaxCount)) {
      return unimplemented("array length bounds above " + std::to_string(kMaxCount) + " at " +
                           where(path) + " are not supported");
    }
    // Element rules; a `false` item schema caps the length at its position.
    std::vector<std::string> elems;
    for (size_t i = 0; i < prefix.size() && (!max || i < *max); ++i) {
      if (prefix[i]->is_boolean() && !prefix[i]->get<bool>()) {
        max = i;
        break;
      }
      Snapshot before = snapshot();
      auto r = visit(*prefix[i], name + "-" + std::to_string(i),
                     path + "/" + prefix_key + "/" + std::to_string(i), depth + 1);
      if (!r.ok() && is_nothing_matches(r.status())) {
        restore(std::move(before));
        max = i;  // no item can stand at position i: the array ends before it
        break;
      }
      if (!r.ok()) return r.status();
      elems.push_back(std::move(*r));
    }
    const size_t k = elems.size();
    std::string tail_rule;
    if (tail->is_boolean() && !tail->get<bool>()) {
      if (!max || *max > k) max = k;
    } else if (!max || *max > k) {
      Snapshot before = snapshot();
      auto r = visit(*tail, name + "-item", tail_path, depth + 1);
      if (!r.ok() && is_nothing_matches(r.status())) {
        restore(std::move(before));
        max = k;  // no further item is possible
      } else if (!r.ok()) {
        return r.status();
      } else {
        tail_rule = std::move(*r);
      }
    }
    if (max && *max < min) {
      return nothing_matches(path, "minItems is above the number of items allowed");
    }
    primitive("space");
    // Positions >= k use the tail rule: between max(0, min - k) and max - k more of them.
    std::string tail_expr;
    if (!tail_rule.empty()) {
      const uint64_t t_min = min > k ? min - k : 0;
      std::optional<uint64_t> t_max;
      if (max) t_max = *max - k;
      const std::string more = "(\",\" space " + tail_rule + ")";
      if (k == 0) {
        if (!t_max || *t_max > 0) {
          std::optional<uint64_t> rest_max;
          if (t_max) rest_max = *t_max - 1;
          const std::string rest = repeat(more, t_min > 0 ? t_min - 1 : 0, rest_max);
          const std::string seq = tail_rule + (rest.empty() ? "" : " " + rest);
          tail_expr = t_min > 0 ? seq : "(" + seq + ")?";
        }
      } else {
        tail_expr = repeat(more, t_min, t_max);
      }
    }
    // Prefix positions, innermost first: G(i) = [","] elem_i G(i+1), optional from minItems on.
    std::string next = tail_expr;
    for (size_t i = k; i-- > 0;) {
      std::string body =
          (i > 0 ? "\",\" space " : "") + elems[i] + (next.empty() ? "" : " " + next);
      if (i >= min) body = "(" + body + ")?";
      next = i > 0 ? add_rule(name + "-from-" + std::to_string(i), body) : body;
    }
    return add_rule(name, "\"[\" space " + (next.empty() ? "" : next + " ") + "\"]\" space");
  }

  // ---- objects ------------------------------------------------------------------------------

  // JSON string text (between the quotes) that is none of `keys`, as a trie of rules.
  std::string not_keys_rule(const std::string& name, const std::vector<std::string>& keys) {
    struct Node {
      std::map<uint32_t, size_t> children;
      bool end = false;
    };
    std::vector<Node> trie(1);
    for (const std::string& key : keys) {
      size_t n = 0;
      size_t pos = 0;
      while (pos < key.size()) {
        uint32_t cp;
        if (!utf8_decode(key, &pos, &cp)) break;
        auto it = trie[n].children.find(cp);
        if (it == trie[n].children.end()) {
          trie.emplace_back();
          it = trie[n].children.emplace(cp, trie.size() - 1).first;
        }
        n = it->second;
      }
      trie[n].end = true;
    }
    const std::string c = primitive("char");
    const std::string escape = R"([\\] (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )" + c + "*";
    std::vector<std::string> node_rule(trie.size());
    for (size_t n = trie.size(); n-- > 0;) {
      std::vector<std::string> alts;
      std::vector<CodeRange> taken;
      for (const auto& [cp, child] : trie[n].children) {
        const std::string one = json_string_char_expr(CharSet::single(cp));
        if (one.empty() || one[0] != '[') continue;  // written escaped: covered by `escape`
        taken.push_back({cp, cp});
        alts.push_back(one + " " + node_rule[child]);
      }
      // Any other raw first character, or any escape, leaves the key set for good.
      std::vector<CodeRange> raw = {
          {0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x7E}, {0x80, 0xD7FF}, {0xE000, kMaxCodePoint}};
      CharSet taken_set(std::move(taken), /*negate=*/true);
      std::vector<CodeRange> others;
      for (const CodeRange& r : raw) {
        for (const CodeRange& t : taken_set.ranges()) {
          const uint32_t lo = std::max(r.lo, t.lo), hi = std::min(r.hi, t.hi);
          if (lo <= hi) others.push_back({lo, hi});
        }
      }
      if (!others.empty())
        alts.push_back(gbnf_class(CharSet(std::move(others), false)) + " " + c + "*");
      alts.push_back(escape);
      // Stopping here is fine unless the text so far is a key. (An empty alternative goes first:
      // in GBNF a '|' at the end of a line continues the rule on the next one.)
      const std::string body = (trie[n].end ? "" : "| ") + join(alts, " | ");
      node_rule[n] = add_rule(name, body);
    }
    return node_rule[0];
  }

  Result<std::string> visit_object(const ojson& s, const std::string& name, const std::string& path,
                                   int depth) {
    struct Prop {
      std::string key;
      std::string value_rule;
      bool required = false;
    };
    std::vector<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) {
        return invalid_argument("'required' at " + where(path) + " must be an array");
      }
      for (const ojson& r : s["required"]) {
        if (!r.is_string()) {
          return invalid_argument("'required' at " + where(path) + " must list strings");
        }
        if (std::find(required.begin(), required.end(), r.get<std::string>()) == required.end()) {
          required.push_back(r.get<std::string>());
        }
      }
    }
    auto is_required = [&](const std::string& k) {
      return std::find(required.begin(), required.end(), k) != required.end();
    };
    std::vector<Prop> props;
    std::vector<std::string> declared;
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) {
        return invalid_argument("'properties' at " + where(path) + " must be an object");
      }
      for (const auto& [key, schema] : s["properties"].items()) {
        declared.push_back(key);
        const std::string sub = path + "/properties/" + pointer_escape(key);
        if (schema.is_boolean() && !schema.get<bool>()) {
          if (is_required(key))
            return nothing_matches(sub, "a required property's schema is 'false'");
          continue;  // the property must not appear
        }
        Snapshot before = snapshot();
        auto rule = visit(schema, name + "-" + key, sub, depth + 1);
        if (!rule.ok() && is_nothing_matches(rule.status()) && !is_required(key)) {
          restore(std::move(before));
          continue;  // no value is possible: the optional property cannot appear
        }
        if (!rule.ok()) return rule.status();
        props.push_back({key, std::move(*rule), is_required(key)});
      }
    }
    // Additional properties: allowed when the schema says so, or when it lists no properties.
    std::string extra_rule;
    bool extra = false;
    if (s.contains("additionalProperties")) {
      const ojson& ap = s["additionalProperties"];
      if (ap.is_boolean()) {
        extra = ap.get<bool>();
        if (extra) extra_rule = primitive("value");
      } else {
        Snapshot before = snapshot();
        auto r = visit(ap, name + "-additional-value", path + "/additionalProperties", depth + 1);
        if (r.ok()) {
          extra = true;
          extra_rule = *r;
        } else if (!is_nothing_matches(r.status())) {
          return r.status();
        } else {
          restore(std::move(before));  // no additional value is possible: no additional keys
        }
      }
    } else if (!s.contains("properties") || options_.allow_additional_properties_by_default) {
      extra = true;
      extra_rule = primitive("value");
    }
    // Required names without a schema of their own take the additional-properties schema.
    for (const std::string& r : required) {
      if (std::find(declared.begin(), declared.end(), r) != declared.end()) continue;
      if (!extra) {
        return nothing_matches(
            path, "required property '" + r + "' is not allowed by additionalProperties");
      }
      props.push_back({r, extra_rule, true});
      declared.push_back(r);
    }
    primitive("space");
    std::vector<std::string> kv(props.size());
    for (size_t i = 0; i < props.size(); ++i) {
      kv[i] = add_rule(
          name + "-" + props[i].key + "-kv",
          gbnf_literal(dump(ojson(props[i].key))) + " space \":\" space " + props[i].value_rule);
    }
    std::string extra_kv;
    if (extra) {
      const std::string key_rule =
          declared.empty()
              ? primitive("string")
              : add_rule(name + "-additional-k",
                         "\"\\\"\" " + not_keys_rule(name + "-additional-k", declared) +
                             " \"\\\"\" space");
      extra_kv = add_rule(name + "-additional-kv", key_rule + " \":\" space " + extra_rule);
    }
    // Properties in schema order, each optional unless required, separated by commas:
    //   first(i): nothing emitted yet;  rest(i): something emitted, so each starts with ",".
    const size_t n = props.size();
    // first(i) is needed when every property before i is optional; rest(i) when first(i - 1) or
    // rest(i - 1) is. Only needed ones become rules.
    std::vector<uint8_t> need_first(n + 1, 0), need_rest(n + 1, 0);
    need_first[0] = 1;
    for (size_t i = 1; i <= n; ++i) {
      need_first[i] = need_first[i - 1] && !props[i - 1].required;
      need_rest[i] = need_first[i - 1] || need_rest[i - 1];
    }
    std::vector<std::string> rest(n + 1), first(n + 1);
    if (extra) {
      if (need_rest[n] || need_first[n]) {
        rest[n] = add_rule(name + "-rest", "(\",\" space " + extra_kv + ")*");
      }
      first[n] = "(" + extra_kv + " " + rest[n] + ")?";
    }
    for (size_t i = n; i-- > 0;) {
      const std::string tail = rest[i + 1].empty() ? "" : " " + rest[i + 1];
      if (need_rest[i]) {
        rest[i] = props[i].required ? "\",\" space " + kv[i] + tail
                                    : "(\",\" space " + kv[i] + ")?" + tail;
        rest[i] = add_rule(name + "-rest", rest[i]);
      }
      if (need_first[i]) {
        if (props[i].required) {
          first[i] = kv[i] + tail;
        } else {
          first[i] = first[i + 1].empty() ? "(" + kv[i] + tail + ")?"
                                          : "(" + kv[i] + tail + " | " + first[i + 1] + ")";
        }
        if (i > 0) first[i] = add_rule(name + "-first", first[i]);
      }
    }
    return add_rule(name,
                    "\"{\" space " + (first[0].empty() ? "" : first[0] + " ") + "\"}\" space");
  }

  // ---- $ref and allOf -----------------------------------------------------------------------

  Result<const ojson*> resolve(const ojson& ref, const std::string& path) const {
    if (!ref.is_string()) return invalid_argument("'$ref' at " + where(path) + " must be a string");
    const std::string r = ref.get<std::string>();
    if (r.empty() || r[0] != '#') {
      return unimplemented("$ref '" + r + "' at " + where(path) +
                           " is not supported: only references within the schema ('#...')");
    }
    // JSON pointer after '#', with %XX and ~0 ~1 escapes.
    std::string pointer;
    for (size_t i = 1; i < r.size(); ++i) {
      if (r[i] == '%' && i + 2 < r.size() && std::isxdigit(static_cast<unsigned char>(r[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(r[i + 2]))) {
        pointer += static_cast<char>(std::stoi(r.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        pointer += r[i];
      }
    }
    const ojson* node = &root_;
    if (pointer.empty()) return node;
    if (pointer[0] != '/') {
      return unimplemented("$ref '" + r + "' at " + where(path) +
                           " is not supported: only JSON pointers ('#/...')");
    }
    size_t pos = 1;
    while (true) {
      const size_t slash = pointer.find('/', pos);
      std::string token =
          pointer.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      std::string key;
      for (size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size() &&
            (token[i + 1] == '0' || token[i + 1] == '1')) {
          key += token[i + 1] == '0' ? '~' : '/';
          ++i;
        } else {
          key += token[i];
        }
      }
      if (node->is_object() && node->contains(key)) {
        node = &(*node)[key];
      } else if (node->is_array() && !key.empty() &&
                 key.find_first_not_of("0123456789") == std::string::npos && key.size() < 10 &&
                 std::stoul(key) < node->size()) {
        node = &(*node)[std::stoul(key)];
      } else {
        return invalid_argument("$ref '" + r + "' at " + where(path) + " points to nothing");
      }
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
    return node;
  }

  Result<std::string> ref_rule(const ojson& ref, const std::string& path, int depth) {
    EMBER_ASSIGN_OR_RETURN(const ojson* target, resolve(ref, path));
    const std::string key = ref.get<std::string>();
    auto it = ref_names_.find(key);
    if (it != ref_names_.end()) return it->second;
    const std::string name = unique_name("ref-" + key.substr(1));
    ref_names_.emplace(key, name);
    const size_t slot = rules_.size();
    rules_.emplace_back(name, "");
    EMBER_ASSIGN_OR_RETURN(std::string inner,
                           visit(*target, name + "-value", key.substr(1), depth + 1));
    rules_[slot].second = std::move(inner);
    return name;
  }

  // Visits the conjunction of `s`'s keywords, its allOf members and $ref target, merged into one
  // schema (with anyOf/oneOf multiplied out).
  Result<std::string> visit_merged(const ojson& s, const std::string& name, const std::string& path,
                                   int depth) {
    EMBER_ASSIGN_OR_RETURN(ojson merged, merge({&s}, path, depth));
    return visit(merged, name, path, depth + 1);
  }

  Result<ojson> merge(const std::vector<const ojson*>& parts, const std::string& path, int depth) {
    ojson acc = ojson::object();
    std::vector<const ojson*> any_of_lists;
    for (const ojson* p : parts)
      EMBER_RETURN_IF_ERROR(merge_into(acc, *p, &any_of_lists, path, depth));
    if (any_of_lists.empty()) return acc;
    size_t combos = 1;
    for (const ojson* list : any_of_lists) {
      combos *= list->size();
      if (combos > kMaxAnyOfProduct) {
        return unimplemented("allOf/anyOf combination at " + where(path) +
                             " expands to more than " + std::to_string(kMaxAnyOfProduct) +
                             " alternatives");
      }
    }
    ojson alternatives = ojson::array();
    Status last;
    for (size_t c = 0; c < combos; ++c) {
      std::vector<const ojson*> members{&acc};
      size_t rem = c;
      for (const ojson* list : any_of_lists) {
        members.push_back(&(*list)[rem % list->size()]);
        rem /= list->size();
      }
      auto m = merge(members, path, depth + 1);
      if (!m.ok() && is_nothing_matches(m.status())) {
        last = m.status();
        continue;
      }
      if (!m.ok()) return m.status();
      alternatives.push_back(std::move(*m));
    }
    if (alternatives.empty()) return last;
    if (alternatives.size() == 1) return alternatives[0];
    return ojson{{"anyOf", std::move(alternatives)}};
  }

  Status merge_into(ojson& acc, const ojson& s, std::vector<const ojson*>* any_of_lists,
                    const std::string& path, int depth) {
    if (depth > options_.max_depth) {
      return resource_exhausted("allOf/$ref expansion deeper than " +
                                std::to_string(options_.max_depth) + " at " + where(path));
    }
    if (s.is_boolean()) {
      if (s.get<bool>()) return Status::Ok();
      return nothing_matches(path, "allOf contains 'false'");
    }
    if (!s.is_object()) return invalid_argument("schema at " + where(path) + " must be an object");
    EMBER_RETURN_IF_ERROR(check_keywords(s, path));
    for (const auto& [key, value] : s.items()) {
      if (kAnnotations.count(key) || key == "$defs" || key == "definitions") continue;
      if (key == "$ref") {
        EMBER_ASSIGN_OR_RETURN(const ojson* target, resolve(value, path));
        EMBER_RETURN_IF_ERROR(merge_into(acc, *target, any_of_lists, path, depth + 1));
      } else if (key == "allOf") {
        if (!value.is_array())
          return invalid_argument("'allOf' at " + where(path) + " must be an array");
        for (const ojson& member : value) {
          EMBER_RETURN_IF_ERROR(merge_into(acc, member, any_of_lists, path + "/allOf", depth + 1));
        }
      } else if (key == "anyOf" || key == "oneOf") {
        if (!value.is_array() || value.empty()) {
          return invalid_argument("'" + key + "' at " + where(path) + " must be a non-empty array");
        }
        any_of_lists->push_back(&value);
      } else {
        EMBER_RETURN_IF_ERROR(combine(acc, key, value, path));
      }
    }
    return Status::Ok();
  }

  // acc[key] = acc[key] AND value, for one keyword.
  Status combine(ojson& acc, const std::string& key, const ojson& value, const std::string& path) {
    if (!acc.contains(key)) {
      acc[key] = value;
      return Status::Ok();
    }
    ojson& cur = acc[key];
    if (cur == value) return Status::Ok();
    auto as_list = [](const ojson& t) {
      return t.is_array() ? std::vector<ojson>(t.begin(), t.end()) : std::vector<ojson>{t};
    };
    if (key == "type") {
      std::vector<ojson> out;
      for (const ojson& a : as_list(cur)) {
        for (const ojson& b : as_list(value)) {
          ojson both;
          if (a == b) {
            both = a;
          } else if ((a == "integer" && b == "number") || (a == "number" && b == "integer")) {
            both = "integer";
          } else {
            continue;
          }
          if (std::find(out.begin(), out.end(), both) == out.end()) out.push_back(both);
        }
      }
      if (out.empty()) return nothing_matches(path, "allOf members have no type in common");
      cur = out.size() == 1 ? out[0] : ojson(out);
      return Status::Ok();
    }
    if (key == "nullable") {
      cur = cur == true && value == true;
      return Status::Ok();
    }
    if (key == "properties" && cur.is_object() && value.is_object()) {
      for (const auto& [k, v] : value.items()) {
        if (!cur.contains(k)) {
          cur[k] = v;
        } else if (cur[k] != v) {
          cur[k] = ojson{{"allOf", ojson::array({cur[k], v})}};
        }
      }
      return Status::Ok();
    }
    if (key == "required" && cur.is_array() && value.is_array()) {
      for (const ojson& r : value) {
        if (std::find(cur.begin(), cur.end(), r) == cur.end()) cur.push_back(r);
      }
      return Status::Ok();
    }
    if (key == "enum" && cur.is_array() && value.is_array()) {
      ojson out = ojson::array();
      for (const ojson& v : cur) {
        if (std::find(value.begin(), value.end(), v) != value.end()) out.push_back(v);
      }
      if (out.empty()) return nothing_matches(path, "allOf members share no 'enum' value");
      cur = std::move(out);
      return Status::Ok();
    }
    if (key == "const") return nothing_matches(path, "allOf members require different constants");
    const bool is_min =
        key == "minimum" || key == "minLength" || key == "minItems" || key == "exclusiveMinimum";
    const bool is_max =
        key == "maximum" || key == "maxLength" || key == "maxItems" || key == "exclusiveMaximum";
    if ((is_min || is_max) && cur.is_number() && value.is_number()) {
      const bool take = is_min ? value.get<double>() > cur.get<double>()
                               : value.get<double>() < cur.get<double>();
      if (take) cur = value;
      return Status::Ok();
    }
    if (key == "additionalProperties" || key == "items" || key == "additionalItems") {
      if (!cur.is_array() && !value.is_array()) {
        if (cur == false || value == false) {
          cur = false;
        } else if (cur == true) {
          cur = value;
        } else if (value != true) {
          cur = ojson{{"allOf", ojson::array({cur, value})}};
        }
        return Status::Ok();
      }
    }
    return unimplemented("allOf members with different '" + key + "' values at " + where(path) +
                         " are not supported");
  }

  const ojson& root_;
  const JsonSchemaOptions& options_;
  std::vector<std::pair<std::string, std::string>> rules_;
  std::set<std::string> reserved_, used_, added_primitives_;
  std::map<std::string, std::string> ref_names_;
};

}  // namespace

Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema,
                                        const JsonSchemaOptions& options) {
  try {
    return Converter(schema, options).run();
  } catch (const std::exception& e) {
    // nlohmann reports type mismatches by exception; every access above is checked first, so
    // this is a safety net that keeps a malformed schema from escaping as an exception.
    return invalid_argument(std::string("invalid JSON schema: ") + e.what());
  }
}

Result<std::string> json_schema_to_gbnf(const nlohmann::json& schema,
                                        const JsonSchemaOptions& options) {
  try {
    return json_schema_to_gbnf(nlohmann::ordered_json::parse(schema.dump(
                                   -1, ' ', false, nlohmann::json::error_handler_t::replace)),
                               options);
  } catch (const std::exception& e) {
    return invalid_argument(std::string("invalid JSON schema: ") + e.what());
  }
}

Result<std::string> json_schema_text_to_gbnf(std::string_view schema_text,
                                             const JsonSchemaOptions& options) {
  nlohmann::ordered_json schema;
  try {
    schema = nlohmann::ordered_json::parse(schema_text.begin(), schema_text.end());
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("JSON schema is not valid JSON: ") + e.what());
  }
  return json_schema_to_gbnf(schema, options);
}

}  // namespace ember::grammar
