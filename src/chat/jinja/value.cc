// Value construction and the Python semantics of single values: truthiness, str(), repr(), ==,
// ordering and dict keys.
#include "chat/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "chat/jinja/unicode.h"

namespace ember::jinja {

std::optional<Value> CallArgs::take_kwarg(std::string_view name) {
  for (auto it = kwargs.begin(); it != kwargs.end(); ++it) {
    if (it->first == name) {
      Value v = std::move(it->second);
      kwargs.erase(it);
      return v;
    }
  }
  return std::nullopt;
}

std::string Object::repr() const {
  std::string r = "<";
  r += type_name();
  r += " object>";
  return r;
}

Result<Value> Object::call(Interpreter&, CallArgs) {
  std::string m = "'";
  m += type_name();
  m += "' object is not callable";
  return invalid_argument(std::move(m));
}

Result<std::optional<Value>> Object::get_attr(Interpreter&, std::string_view) {
  return std::optional<Value>();
}

Status Object::set_attr(std::string_view, Value) {
  std::string m = "cannot assign attributes of a '";
  m += type_name();
  m += "' object";
  return invalid_argument(std::move(m));
}

std::vector<Value> IteratorObject::take() {
  std::vector<Value> r(items_.begin() + static_cast<ptrdiff_t>(pos_), items_.end());
  pos_ = items_.size();
  return r;
}

bool IteratorObject::consume_until(const Value& v) {
  while (pos_ < items_.size()) {
    if (py_equals(items_[pos_++], v)) return true;
  }
  return false;
}

// ---- Value
// ---------------------------------------------------------------------------------------

Value Value::undefined(std::string message) {
  Value v;
  v.ptr_ = std::make_shared<std::string>(std::move(message));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.f_ = d;
  return v;
}

Value Value::string(std::string s, bool markup) {
  Value v;
  v.kind_ = Kind::kString;
  v.markup_ = markup;
  v.ptr_ = std::make_shared<std::string>(std::move(s));
  return v;
}

Value Value::new_list(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::kList;
  auto d = std::make_shared<ListData>();
  d->items = std::move(items);
  v.ptr_ = std::move(d);
  return v;
}

Value Value::new_tuple(std::vector<Value> items) {
  Value v = new_list(std::move(items));
  v.list().tuple = true;
  return v;
}

Value Value::new_dict() {
  return new_dict(std::make_shared<DictData>());
}

Value Value::new_dict(std::shared_ptr<DictData> d) {
  Value v;
  v.kind_ = Kind::kDict;
  v.ptr_ = std::move(d);
  return v;
}

Value Value::object(std::shared_ptr<Object> o) {
  Value v;
  v.kind_ = Kind::kObject;
  v.ptr_ = std::move(o);
  return v;
}

std::string Value::undefined_message() const {
  if (kind_ != Kind::kUndefined || !ptr_) return "undefined value";
  return *static_cast<const std::string*>(ptr_.get());
}

bool Value::identical(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
      return ptr_ == other.ptr_;
    case Kind::kNone:
      return true;
    case Kind::kBool:
      return b_ == other.b_;
    case Kind::kInt:
      return i_ == other.i_;
    case Kind::kFloat:
      return f_ == other.f_;
    case Kind::kString:
      return str() == other.str();
    default:
      return ptr_ == other.ptr_;
  }
}

// ---- DictData
// ------------------------------------------------------------------------------------

const Value* DictData::find(const Value& key) const {
  for (const auto& [k, v] : entries_) {
    if (py_equals(k, key)) return &v;
  }
  return nullptr;
}

Value* DictData::find(const Value& key) {
  for (auto& [k, v] : entries_) {
    if (py_equals(k, key)) return &v;
  }
  return nullptr;
}

const Value* DictData::find(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k.is_string() && k.str() == key) return &v;
  }
  return nullptr;
}

Status DictData::set(Value key, Value value) {
  if (!hashable(key)) return invalid_argument("unhashable type: '" + type_name(key) + "'");
  if (Value* slot = find(key)) {
    *slot = std::move(value);
  } else {
    entries_.emplace_back(std::move(key), std::move(value));
  }
  return Status::Ok();
}

void DictData::set(std::string_view key, Value value) {
  for (auto& [k, v] : entries_) {
    if (k.is_string() && k.str() == key) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(Value::string(std::string(key)), std::move(value));
}

bool DictData::erase(const Value& key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (py_equals(it->first, key)) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

// ---- Python semantics
// ----------------------------------------------------------------------------

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int() != 0;
    case Value::Kind::kFloat:
      return v.as_double() != 0.0;
    case Value::Kind::kString:
      return !v.str().empty();
    case Value::Kind::kList:
      return !v.list().items.empty();
    case Value::Kind::kDict:
      return !v.dict().empty();
    case Value::Kind::kObject:
      return true;
  }
  return false;
}

std::string type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "Undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return v.is_markup() ? "Markup" : "str";
    case Value::Kind::kList:
      return v.list().tuple ? "tuple" : "list";
    case Value::Kind::kDict:
      return "dict";
    case Value::Kind::kObject:
      return v.object().type_name();
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNone:
      return "None";
    case Value::Kind::kUndefined:
      return "jinja2.runtime.Undefined object";
    case Value::Kind::kString:
      return v.is_markup() ? "markupsafe.Markup object" : "str object";
    case Value::Kind::kObject:
      return v.object().type_repr();
    default:
      return type_name(v) + " object";
  }
}

std::string py_string_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string r;
  r.reserve(s.size() + 2);
  r += quote;
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = next_code_point(s, i);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      r += '\\';
      r += static_cast<char>(c);
    } else if (c == '\t') {
      r += "\\t";
    } else if (c == '\n') {
      r += "\\n";
    } else if (c == '\r') {
      r += "\\r";
    } else if (!py_isprintable(c)) {
      char buf[16];
      if (c < 0x100) {
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      } else if (c < 0x10000) {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      } else {
        std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
      }
      r += buf;
    } else {
      append_utf8(r, c);
    }
  }
  r += quote;
  return r;
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form, then laid out the way Python's repr() does:
  // positional for decimal exponents in [-4, 16), exponential otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  const int exp = std::atoi(sci.c_str() + epos + 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  if (exp < -4 || exp >= 16) {
    std::string r = sign + digits.substr(0, 1);
    if (digits.size() > 1) {
      r += '.';
      r.append(digits, 1, std::string::npos);
    }
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return r + eb;
  }
  const int decpt = exp + 1;  // digits before the decimal point
  std::string r = sign;
  if (decpt <= 0) {
    r += "0.";
    r.append(static_cast<size_t>(-decpt), '0');
    r += digits;
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    r += digits;
    r.append(static_cast<size_t>(decpt) - digits.size(), '0');
    r += ".0";
  } else {
    r += digits.substr(0, static_cast<size_t>(decpt));
    r += '.';
    r += digits.substr(static_cast<size_t>(decpt));
  }
  return r;
}

namespace {

void repr_into(std::string& out, const Value& v, int depth);

void str_into(std::string& out, const Value& v, int depth) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return;
    case Value::Kind::kString:
      out += v.str();
      return;
    default:
      repr_into(out, v, depth);
  }
}

void repr_into(std::string& out, const Value& v, int depth) {
  if (depth > 200) {  // self-referencing containers print like Python's recursion guard
    out += "...";
    return;
  }
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      out += "Undefined";
      return;
    case Value::Kind::kNone:
      out += "None";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "True" : "False";
      return;
    case Value::Kind::kInt:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::kFloat:
      out += float_repr(v.as_double());
      return;
    case Value::Kind::kString:
      if (v.is_markup()) {
        out += "Markup(" + py_string_repr(v.str()) + ")";
      } else {
        out += py_string_repr(v.str());
      }
      return;
    case Value::Kind::kList: {
      const ListData& l = v.list();
      out += l.tuple ? '(' : '[';
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        repr_into(out, l.items[i], depth + 1);
      }
      if (l.tuple && l.items.size() == 1) out += ',';
      out += l.tuple ? ')' : ']';
      return;
    }
    case Value::Kind::kDict: {
      out += '{';
      bool first = true;
      for (const auto& [k, val] : v.dict().entries()) {
        if (!first) out += ", ";
        first = false;
        repr_into(out, k, depth + 1);
        out += ": ";
        repr_into(out, val, depth + 1);
      }
      out += '}';
      return;
    }
    case Value::Kind::kObject:
      out += v.object().repr();
      return;
  }
}

// Exact comparison of an int64 with a double (Python compares int and float exactly).
int compare_int_double(int64_t i, double d) {
  if (std::isnan(d)) return 2;  // unordered
  if (d >= 9223372036854775808.0) return -1;
  if (d < -9223372036854775808.0) return 1;
  const double t = std::trunc(d);
  const auto ti = static_cast<int64_t>(t);
  if (i < ti) return -1;
  if (i > ti) return 1;
  if (d > t) return -1;
  if (d < t) return 1;
  return 0;
}

// -1/0/1 for numbers, 2 when unordered (NaN).
int compare_numbers(const Value& a, const Value& b) {
  if (a.is_integral() && b.is_integral()) {
    const int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_integral()) return compare_int_double(a.as_int(), b.as_double());
  if (b.is_integral()) {
    const int c = compare_int_double(b.as_int(), a.as_double());
    return c == 2 ? 2 : -c;
  }
  const double x = a.as_double(), y = b.as_double();
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool apply_order(int c, CompareOp op) {
  if (c == 2) return false;
  switch (op) {
    case CompareOp::kLt:
      return c < 0;
    case CompareOp::kLe:
      return c <= 0;
    case CompareOp::kGt:
      return c > 0;
    case CompareOp::kGe:
      return c >= 0;
  }
  return false;
}

const char* op_symbol(CompareOp op) {
  switch (op) {
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "?";
}

}  // namespace

std::string py_str(const Value& v) {
  std::string out;
  str_into(out, v, 0);
  return out;
}

std::string py_repr(const Value& v) {
  std::string out;
  repr_into(out, v, 0);
  return out;
}

namespace {

bool equals_at(const Value& a, const Value& b, int depth);

}  // namespace

bool py_equals(const Value& a, const Value& b) {
  return equals_at(a, b, 0);
}

namespace {

bool equals_at(const Value& a, const Value& b, int depth) {
  // Containers that contain themselves would recurse forever (Python raises RecursionError);
  // comparison gives up as unequal past a generous depth.
  if (depth > 200) return false;
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.str() == b.str();
    case Value::Kind::kList: {
      const ListData& x = a.list();
      const ListData& y = b.list();
      if (&x == &y) return true;
      if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!equals_at(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      const DictData& x = a.dict();
      const DictData& y = b.dict();
      if (&x == &y) return true;
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (other == nullptr || !equals_at(v, *other, depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kObject:
      return a.identical(b);
    default:
      return false;
  }
}

}  // namespace

bool hashable(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kDict:
      return false;
    case Value::Kind::kList: {
      if (!v.list().tuple) return false;
      for (const Value& item : v.list().items) {
        if (!hashable(item)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

namespace {

Result<bool> compare_at(const Value& a, CompareOp op, const Value& b, int depth) {
  if (depth > 200) return invalid_argument("maximum recursion depth exceeded in comparison");
  if (a.is_undefined()) return invalid_argument(a.undefined_message());
  if (b.is_undefined()) return invalid_argument(b.undefined_message());
  if (a.is_number() && b.is_number()) return apply_order(compare_numbers(a, b), op);
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return apply_order(c < 0 ? -1 : (c > 0 ? 1 : 0), op);
  }
  if (a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
    const auto& x = a.list().items;
    const auto& y = b.list().items;
    const size_t n = std::min(x.size(), y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!equals_at(x[i], y[i], depth + 1)) return compare_at(x[i], op, y[i], depth + 1);
    }
    const int c = x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    return apply_order(c, op);
  }
  return invalid_argument(std::string("'") + op_symbol(op) +
                          "' not supported between instances of '" + type_name(a) + "' and '" +
                          type_name(b) + "'");
}

}  // namespace

Result<bool> py_compare(const Value& a, CompareOp op, const Value& b) {
  return compare_at(a, op, b, 0);
}

}  // namespace ember::jinja
