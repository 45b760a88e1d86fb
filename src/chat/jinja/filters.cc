// String, number and conversion filters (jinja2/filters.py) and the filter registry, with
// transformers' `tojson` (json.dumps without ASCII or HTML escaping).
#include <cmath>
#include <cstdlib>

#include "chat/jinja/filters_impl.h"
#include "chat/jinja/json.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace ember::jinja {

namespace {

using filters::required;
using filters::soft_str;

Status no_extra(std::string_view f, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args(f, args, {}));
  (void)a;
  return Status::Ok();
}

Result<Value> f_default(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_default", args, {"default_value", "boolean"}));
  const bool boolean = a[1] && truthy(*a[1]);
  if (v.is_undefined() || (boolean && !truthy(v))) {
    return a[0] ? *a[0] : Value::string("");
  }
  return v;
}

Result<Value> f_length(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("len", args));
  EMBER_ASSIGN_OR_RETURN(int64_t n, length(v));
  return Value::integer(n);
}

Result<Value> f_string(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("soft_str", args));
  return soft_str(v);
}

Result<Value> string_op(const Value& v, CallArgs& args, std::string_view name,
                        std::string (*op)(std::string_view)) {
  EMBER_RETURN_IF_ERROR(no_extra(name, args));
  const Value s = soft_str(v);
  return Value::string(op(s.str()), s.is_markup());
}

Result<Value> f_upper(Interpreter&, const Value& v, CallArgs& a) {
  return string_op(v, a, "do_upper", py_upper);
}
Result<Value> f_lower(Interpreter&, const Value& v, CallArgs& a) {
  return string_op(v, a, "do_lower", py_lower);
}
Result<Value> f_capitalize(Interpreter&, const Value& v, CallArgs& a) {
  return string_op(v, a, "do_capitalize", py_capitalize);
}

// Jinja2's title: upper-case the first character of every item after splitting on runs of
// -, whitespace, (, {, [ and <; lower-case the rest.
std::string jinja_title(std::string_view s) {
  std::string out;
  size_t i = 0;
  bool in_delims = false;
  bool item_start = true;
  while (i < s.size()) {
    size_t j = i;
    const char32_t c = next_code_point(s, j);
    const bool delim = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
    if (delim != in_delims) item_start = true;
    in_delims = delim;
    const std::string_view ch = s.substr(i, j - i);
    out += item_start ? py_upper(ch) : py_lower(ch);
    item_start = false;
    i = j;
  }
  return out;
}

Result<Value> f_title(Interpreter&, const Value& v, CallArgs& a) {
  return string_op(v, a, "do_title", jinja_title);
}

Result<Value> f_trim(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_trim", args, {"chars"}));
  const Value s = soft_str(v);
  if (a[0] && !a[0]->is_none()) {
    if (!a[0]->is_string()) {
      return invalid_argument("strip arg must be None or str");
    }
    return Value::string(py_strip(s.str(), &a[0]->str(), true, true), s.is_markup());
  }
  return Value::string(py_strip(s.str(), nullptr, true, true), s.is_markup());
}

Result<Value> f_replace(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_replace", args, {"old", "new", "count"}));
  EMBER_ASSIGN_OR_RETURN(Value old_v, required(a[0], "do_replace", "old"));
  EMBER_ASSIGN_OR_RETURN(Value new_v, required(a[1], "do_replace", "new"));
  CallArgs ca;
  ca.args = {Value::string(py_str(old_v)), Value::string(py_str(new_v))};
  if (a[2] && !a[2]->is_none()) ca.args.push_back(*a[2]);
  EMBER_ASSIGN_OR_RETURN(
      Value r, interp.call(bound_method(Value::string(py_str(v)), "replace"), std::move(ca)));
  return r;
}

Result<Value> f_escape(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("escape", args));
  if (v.is_markup()) return v;
  return Value::string(html_escape(py_str(v)), true);
}

Result<Value> f_forceescape(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("do_forceescape", args));
  return Value::string(html_escape(py_str(v)), true);
}

Result<Value> f_safe(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("do_mark_safe", args));
  return Value::string(py_str(v), true);
}

Result<Value> f_center(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_center", args, {"width"}));
  CallArgs ca;
  ca.args.push_back(a[0] ? *a[0] : Value::integer(80));
  return interp.call(bound_method(soft_str(v), "center"), std::move(ca));
}

Result<Value> f_indent(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_indent", args, {"width", "first", "blank"}));
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  if (!v.is_string()) {
    EMBER_RETURN_IF_ERROR(binary_op(BinOp::kAdd, v, Value::string("\n")).status());
  }
  std::string indention;
  if (!a[0]) {
    indention = "    ";
  } else if (a[0]->is_string()) {
    indention = a[0]->str();
  } else {
    EMBER_ASSIGN_OR_RETURN(Value sp, binary_op(BinOp::kMul, Value::string(" "), *a[0]));
    indention = sp.str();
  }
  const bool first = a[1] && truthy(*a[1]);
  const bool blank = a[2] && truthy(*a[2]);
  const std::vector<std::string> lines = py_splitlines(v.str() + "\n", false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += "\n";
      if (!lines[i].empty()) rv += indention;
      rv += lines[i];
    }
  }
  if (first) rv = indention + rv;
  return Value::string(std::move(rv), v.is_markup());
}

// Python int(str, base): optional whitespace, sign, base prefix and single underscores.
std::optional<int64_t> parse_py_int(std::string_view text, int64_t base) {
  std::string s = py_strip(text, nullptr, true, true);
  bool neg = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  auto lower = [](char c) { return static_cast<char>(c | 0x20); };
  if (i + 1 < s.size() && s[i] == '0') {
    const char p = lower(s[i + 1]);
    int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (pb != 0 && (base == pb || base == 0)) {
      base = pb;
      i += 2;
      if (i < s.size() && s[i] == '_') ++i;
    }
  }
  if (base == 0) base = 10;
  if (base < 2 || base > 36) return std::nullopt;
  if (i >= s.size()) return std::nullopt;
  uint64_t v = 0;
  bool last_underscore = true;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      if (last_underscore) return std::nullopt;
      last_underscore = true;
      continue;
    }
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (lower(c) >= 'a' && lower(c) <= 'z') {
      d = lower(c) - 'a' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (static_cast<uint64_t>(INT64_MAX) + 1) / static_cast<uint64_t>(base))
      return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    last_underscore = false;
  }
  if (last_underscore) return std::nullopt;
  if (v > static_cast<uint64_t>(INT64_MAX) + (neg ? 1 : 0)) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

// Python float(str): whitespace, underscores between digits, inf/nan words.
std::optional<double> parse_py_float(std::string_view text) {
  std::string s = py_strip(text, nullptr, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        return std::nullopt;
      }
      continue;
    }
    clean += s[i];
  }
  if (clean.empty()) return std::nullopt;
  std::string low = py_lower(clean);
  size_t k = (low[0] == '+' || low[0] == '-') ? 1 : 0;
  const std::string word = low.substr(k);
  if (word == "inf" || word == "infinity") return low[0] == '-' ? -INFINITY : INFINITY;
  if (word == "nan") return NAN;
  for (char c : word) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == '+' ||
          c == '-')) {
      return std::nullopt;
    }
  }
  char* end = nullptr;
  const double d = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return d;
}

Result<Value> f_int(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_int", args, {"default", "base"}));
  const Value def = a[0] ? *a[0] : Value::integer(0);
  int64_t base = 10;
  if (a[1]) {
    EMBER_ASSIGN_OR_RETURN(base, to_index(*a[1], ""));
  }
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  if (v.is_string()) {
    if (auto i = parse_py_int(v.str(), base)) return Value::integer(*i);
    if (auto d = parse_py_float(v.str())) {
      if (std::isnan(*d) || std::isinf(*d) || std::fabs(*d) >= 9.2e18) return def;
      return Value::integer(static_cast<int64_t>(*d));
    }
    return def;
  }
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double d = v.as_double();
    if (std::isnan(d)) return def;
    if (std::isinf(d)) return out_of_range("cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2e18) return out_of_range("integer overflow");
    return Value::integer(static_cast<int64_t>(d));
  }
  return def;
}

Result<Value> f_float(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_float", args, {"default"}));
  const Value def = a[0] ? *a[0] : Value::number(0.0);
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    if (auto d = parse_py_float(v.str())) return Value::number(*d);
  }
  return def;
}

// Python round(x, n) for floats: correctly rounded half-to-even on the exact binary value.
double py_round(double x, int64_t n) {
  if (!std::isfinite(x)) return x;
  if (n > 300) return x;
  if (n >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), x);
    return std::strtod(buf, nullptr);
  }
  if (n < -308) return std::copysign(0.0, x);
  const double p = std::pow(10.0, static_cast<double>(-n));
  return std::nearbyint(x / p) * p;
}

Result<Value> f_round(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_round", args, {"precision", "method"}));
  int64_t precision = 0;
  if (a[0]) {
    EMBER_ASSIGN_OR_RETURN(precision, to_index(*a[0], ""));
  }
  std::string method = "common";
  if (a[1]) method = py_str(*a[1]);
  if (method != "common" && method != "ceil" && method != "floor") {
    return invalid_argument("method must be common, ceil or floor");
  }
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  if (!v.is_number()) {
    return invalid_argument("type " + type_name(v) + " doesn't define __round__ method");
  }
  if (method == "common") {
    if (v.is_integral()) {
      if (precision >= 0) return Value::integer(v.as_int());
      return Value::integer(
          static_cast<int64_t>(py_round(static_cast<double>(v.as_int()), precision)));
    }
    return Value::number(py_round(v.as_double(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  const double r = method == "ceil" ? std::ceil(x) : std::floor(x);
  return Value::number(r / scale);
}

Result<Value> f_abs(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("abs", args));
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) return out_of_range("integer overflow");
    return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  if (v.is_float()) return Value::number(std::fabs(v.as_double()));
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  return invalid_argument("bad operand type for abs(): '" + type_name(v) + "'");
}

Result<Value> f_format(Interpreter&, const Value& v, CallArgs& args) {
  if (!args.args.empty() && !args.kwargs.empty()) {
    return invalid_argument("can't handle positional and keyword arguments at the same time");
  }
  Value operand;
  if (!args.kwargs.empty()) {
    operand = Value::new_dict();
    for (auto& [k, x] : args.kwargs) operand.dict().set(k, x);
  } else {
    operand = Value::new_tuple(args.args);
  }
  return percent_format(soft_str(v), operand);
}

Result<Value> f_wordcount(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("do_wordcount", args));
  const std::string s = py_str(v);
  int64_t n = 0;
  bool in_word = false;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = next_code_point(s, i);
    const bool w = c == '_' || py_isalnum(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

Result<Value> f_truncate(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a,
                         bind_args("do_truncate", args, {"length", "killwords", "end", "leeway"}));
  int64_t length = 255, leeway = 5;
  if (a[0]) {
    EMBER_ASSIGN_OR_RETURN(length, to_index(*a[0], ""));
  }
  const bool killwords = a[1] && truthy(*a[1]);
  const std::string end = a[2] ? py_str(*a[2]) : "...";
  if (a[3] && !a[3]->is_none()) {
    EMBER_ASSIGN_OR_RETURN(leeway, to_index(*a[3], ""));
  }
  const std::u32string endu = to_u32(end);
  if (length < static_cast<int64_t>(endu.size())) {
    return invalid_argument("expected length >= " + std::to_string(endu.size()) + ", got " +
                            std::to_string(length));
  }
  if (leeway < 0) return invalid_argument("expected leeway >= 0, got " + std::to_string(leeway));
  if (!v.is_string()) return invalid_argument("object of type '" + type_name(v) + "' has no len()");
  const std::u32string s = to_u32(v.str());
  if (static_cast<int64_t>(s.size()) <= length + leeway) return v;
  std::u32string head =
      s.substr(0, static_cast<size_t>(length - static_cast<int64_t>(endu.size())));
  if (!killwords) {
    const size_t sp = head.rfind(U' ');
    if (sp != std::u32string::npos) head = head.substr(0, sp);
  }
  return Value::string(to_utf8(head) + end);
}

// markupsafe's striptags: drop comments and tags, collapse whitespace, unescape entities.
std::string strip_tags(std::string s) {
  for (size_t start; (start = s.find("<!--")) != std::string::npos;) {
    const size_t end = s.find("-->", start);
    if (end == std::string::npos) break;
    s.erase(start, end + 3 - start);
  }
  for (size_t start; (start = s.find('<')) != std::string::npos;) {
    const size_t end = s.find('>', start);
    if (end == std::string::npos) break;
    s.erase(start, end + 1 - start);
  }
  std::string collapsed;
  size_t i = 0;
  bool pending_space = false;
  while (i < s.size()) {
    const size_t b = i;
    const char32_t c = next_code_point(s, i);
    if (py_isspace(c)) {
      pending_space = !collapsed.empty();
      continue;
    }
    if (pending_space) collapsed += ' ';
    pending_space = false;
    collapsed.append(s, b, i - b);
  }
  std::string out;
  for (size_t k = 0; k < collapsed.size();) {
    if (collapsed[k] == '&') {
      const size_t semi = collapsed.find(';', k);
      if (semi != std::string::npos && semi - k <= 10) {
        const std::string ent = collapsed.substr(k + 1, semi - k - 1);
        std::string rep;
        if (ent == "amp")
          rep = "&";
        else if (ent == "lt")
          rep = "<";
        else if (ent == "gt")
          rep = ">";
        else if (ent == "quot")
          rep = "\"";
        else if (ent == "apos")
          rep = "'";
        else if (ent == "nbsp")
          rep = "\xC2\xA0";
        else if (ent.size() > 1 && ent[0] == '#') {
          const bool hex = ent[1] == 'x' || ent[1] == 'X';
          char* endp = nullptr;
          const long cp = std::strtol(ent.c_str() + (hex ? 2 : 1), &endp, hex ? 16 : 10);
          if (endp && *endp == '\0' && cp > 0 && cp <= 0x10FFFF &&
              !(cp >= 0xD800 && cp <= 0xDFFF)) {
            append_utf8(rep, static_cast<char32_t>(cp));
          }
        }
        if (!rep.empty()) {
          out += rep;
          k = semi + 1;
          continue;
        }
      }
    }
    out += collapsed[k++];
  }
  return out;
}

Result<Value> f_striptags(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("do_striptags", args));
  return Value::string(strip_tags(py_str(v)));
}

Result<Value> f_tojson(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(
      auto a, bind_args("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonDumpOptions o;
  o.ensure_ascii = a[0] && truthy(*a[0]);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      o.indent = a[1]->str();
    } else if (a[1]->is_integral()) {
      const int64_t n = a[1]->as_int();
      o.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(n, 0, 1024)), ' ');
    } else {
      return invalid_argument("indent must be an int or a str");
    }
  }
  if (a[2] && !a[2]->is_none()) {
    auto parts = iterate(*a[2]);
    if (!parts.ok() || parts->size() != 2 || !(*parts)[0].is_string() || !(*parts)[1].is_string()) {
      return invalid_argument(
          "separators must be a (item_separator, key_separator) pair of strings");
    }
    o.item_separator = (*parts)[0].str();
    o.key_separator = (*parts)[1].str();
  }
  o.sort_keys = a[3] && truthy(*a[3]);
  EMBER_ASSIGN_OR_RETURN(std::string s, to_json(v, o));
  EMBER_RETURN_IF_ERROR(interp.charge_bytes(s.size()));
  return Value::string(std::move(s));
}

// pprint.pformat for values that fit on one line: repr() with dict keys sorted.
Status pformat_into(std::string& out, const Value& v, int depth) {
  if (depth > 100) {
    out += "...";
    return Status::Ok();
  }
  if (v.is_dict()) {
    std::vector<const std::pair<Value, Value>*> entries;
    for (const auto& e : v.dict().entries()) entries.push_back(&e);
    std::stable_sort(entries.begin(), entries.end(), [](const auto* x, const auto* y) {
      auto r = py_compare(x->first, CompareOp::kLt, y->first);
      return r.ok() && *r;
    });
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i) out += ", ";
      EMBER_RETURN_IF_ERROR(pformat_into(out, entries[i]->first, depth + 1));
      out += ": ";
      EMBER_RETURN_IF_ERROR(pformat_into(out, entries[i]->second, depth + 1));
    }
    out += '}';
    return Status::Ok();
  }
  if (v.is_list() && v.list().fields.empty()) {
    const auto& l = v.list();
    out += l.tuple ? '(' : '[';
    for (size_t i = 0; i < l.items.size(); ++i) {
      if (i) out += ", ";
      EMBER_RETURN_IF_ERROR(pformat_into(out, l.items[i], depth + 1));
    }
    if (l.tuple && l.items.size() == 1) out += ',';
    out += l.tuple ? ')' : ']';
    return Status::Ok();
  }
  out += py_repr(v);
  return Status::Ok();
}

Result<Value> f_pprint(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("do_pprint", args));
  std::string out;
  EMBER_RETURN_IF_ERROR(pformat_into(out, v, 0));
  return Value::string(std::move(out));
}

Result<Value> f_attr(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_attr", args, {"name"}));
  EMBER_ASSIGN_OR_RETURN(Value name, required(a[0], "do_attr", "name"));
  if (!name.is_string()) return invalid_argument("attribute name must be a string");
  // getattr only: dict keys are not attributes.
  if (v.is_dict() && !has_method(v, name.str())) {
    return Value::undefined(py_string_repr(object_type_repr(v)) + " has no attribute " +
                            py_string_repr(name.str()));
  }
  return interp.get_attr(v, name.str());
}

std::string url_quote(const std::string& s, bool for_qs) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~' || (!for_qs && c == '/')) {
      out += static_cast<char>(c);
    } else if (for_qs && c == ' ') {
      out += '+';
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Result<Value> f_urlencode(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_extra("do_urlencode", args));
  if (v.is_string()) return Value::string(url_quote(v.str(), false));
  std::vector<std::pair<Value, Value>> pairs;
  if (v.is_dict()) {
    pairs = v.dict().entries();
  } else {
    EMBER_ASSIGN_OR_RETURN(auto items, iterate(v));
    for (const auto& item : items) {
      EMBER_ASSIGN_OR_RETURN(auto kv, iterate(item));
      if (kv.size() != 2) return invalid_argument("urlencode expects pairs");
      pairs.emplace_back(kv[0], kv[1]);
    }
  }
  std::string out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i) out += '&';
    out += url_quote(py_str(pairs[i].first), true) + "=" + url_quote(py_str(pairs[i].second), true);
  }
  return Value::string(std::move(out));
}

Result<Value> f_filesizeformat(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_filesizeformat", args, {"binary"}));
  const bool binary = a[0] && truthy(*a[0]);
  double bytes;
  if (v.is_number()) {
    bytes = v.as_double();
  } else if (v.is_string() && parse_py_float(v.str())) {
    bytes = *parse_py_float(v.str());
  } else {
    return invalid_argument("float() argument must be a string or a real number, not '" +
                            type_name(v) + "'");
  }
  const double base = binary ? 1024 : 1000;
  static const char* kBin[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  static const char* kDec[] = {"kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  if (bytes == 1) return Value::string("1 Byte");
  if (bytes < base) return Value::string(std::to_string(static_cast<int64_t>(bytes)) + " Bytes");
  double unit = base;
  for (int i = 0; i < 8; ++i) {
    unit = std::pow(base, i + 2);
    if (bytes < unit || i == 7) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f %s", base * bytes / unit, binary ? kBin[i] : kDec[i]);
      return Value::string(buf);
    }
  }
  return Value::string("");
}

Result<Value> f_unsupported(Interpreter&, const Value&, CallArgs&) {
  return unimplemented("this filter is not supported by ember (random, urlize, wordwrap, xmlattr)");
}

struct Entry {
  std::string_view name;
  FilterFn fn;
};

constexpr Entry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"e", f_escape},
    {"escape", f_escape},
    {"filesizeformat", f_filesizeformat},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"length", f_length},
    {"lower", f_lower},
    {"pprint", f_pprint},
    {"random", f_unsupported},
    {"replace", f_replace},
    {"round", f_round},
    {"safe", f_safe},
    {"string", f_string},
    {"striptags", f_striptags},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"upper", f_upper},
    {"urlencode", f_urlencode},
    {"urlize", f_unsupported},
    {"wordcount", f_wordcount},
    {"wordwrap", f_unsupported},
    {"xmlattr", f_unsupported},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const auto& e : kFilters) {
    if (e.name == name) return e.fn;
  }
  return filters::find_sequence_filter(name);
}

}  // namespace ember::jinja
