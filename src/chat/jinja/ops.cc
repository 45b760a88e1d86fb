// Python operator semantics.
#include "chat/jinja/ops.h"

#include <cmath>

#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace ember::jinja {

namespace {

const char* op_text(BinOp op) {
  switch (op) {
    case BinOp::kAdd:
      return "+";
    case BinOp::kSub:
      return "-";
    case BinOp::kMul:
      return "*";
    case BinOp::kDiv:
      return "/";
    case BinOp::kFloorDiv:
      return "//";
    case BinOp::kMod:
      return "%";
    case BinOp::kPow:
      return "** or pow()";
  }
  return "?";
}

Status unsupported(BinOp op, const Value& a, const Value& b) {
  return invalid_argument(std::string("unsupported operand type(s) for ") + op_text(op) + ": '" +
                          type_name(a) + "' and '" + type_name(b) + "'");
}

Status overflow() {
  return out_of_range("integer overflow (ember's template integers are 64-bit)");
}

Result<Value> repeat(const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const std::string& s = seq.str();
    if (!s.empty() && static_cast<uint64_t>(n) > kMaxBuiltSize / s.size()) {
      return resource_exhausted("string repetition result too large");
    }
    std::string r;
    r.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) r += s;
    return Value::string(std::move(r), seq.is_markup());
  }
  const auto& items = seq.list().items;
  if (!items.empty() && static_cast<uint64_t>(n) > (kMaxBuiltSize / 16) / items.size()) {
    return resource_exhausted("list repetition result too large");
  }
  std::vector<Value> r;
  r.reserve(items.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) r.insert(r.end(), items.begin(), items.end());
  return seq.list().tuple ? Value::new_tuple(std::move(r)) : Value::new_list(std::move(r));
}

double py_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0) {
    if ((b < 0) != (m < 0)) m += b;
  } else {
    m = std::copysign(0.0, b);
  }
  return m;
}

double py_floordiv(double a, double b) {
  // CPython's float floor division: divmod-based to get the mathematically floored quotient.
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div != 0) {
    double floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
    return floordiv;
  }
  return std::copysign(0.0, a / b);
}

}  // namespace

std::string html_escape(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        r += "&amp;";
        break;
      case '<':
        r += "&lt;";
        break;
      case '>':
        r += "&gt;";
        break;
      case '\'':
        r += "&#39;";
        break;
      case '"':
        r += "&#34;";
        break;
      default:
        r += c;
    }
  }
  return r;
}

Result<int64_t> to_index(const Value& v, std::string_view what) {
  if (v.is_integral()) return v.as_int();
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  return invalid_argument(std::string("'") + type_name(v) +
                          "' object cannot be interpreted as an integer" +
                          (what.empty() ? "" : " (" + std::string(what) + ")"));
}

Result<Value> binary_op(BinOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) return invalid_argument(a.undefined_message());
  // str % Undefined formats (Undefined prints as ""); every other use of Undefined fails.
  if (b.is_undefined() && !(op == BinOp::kMod && a.is_string())) {
    return invalid_argument(b.undefined_message());
  }
  const bool ints = a.is_integral() && b.is_integral();
  const bool nums = a.is_number() && b.is_number();
  switch (op) {
    case BinOp::kAdd: {
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return overflow();
        return Value::integer(r);
      }
      if (nums) return Value::number(a.as_double() + b.as_double());
      if (a.is_string() && b.is_string()) {
        if (a.str().size() + b.str().size() > kMaxBuiltSize) {
          return resource_exhausted("string concatenation result too large");
        }
        if (a.is_markup())
          return Value::string(a.str() + (b.is_markup() ? b.str() : html_escape(b.str())), true);
        if (b.is_markup()) return Value::string(html_escape(a.str()) + b.str(), true);
        return Value::string(a.str() + b.str());
      }
      if (a.is_list() && b.is_list() && a.list().tuple == b.list().tuple) {
        std::vector<Value> r = a.list().items;
        if (r.size() + b.list().items.size() > kMaxBuiltSize / 16) {
          return resource_exhausted("list concatenation result too large");
        }
        r.insert(r.end(), b.list().items.begin(), b.list().items.end());
        return a.list().tuple ? Value::new_tuple(std::move(r)) : Value::new_list(std::move(r));
      }
      if (a.is_string() && !a.is_markup()) {
        return invalid_argument("can only concatenate str (not \"" + type_name(b) + "\") to str");
      }
      if (a.is_list()) {
        const char* kind = a.list().tuple ? "tuple" : "list";
        return invalid_argument(std::string("can only concatenate ") + kind + " (not \"" +
                                type_name(b) + "\") to " + kind);
      }
      return unsupported(op, a, b);
    }
    case BinOp::kSub: {
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) return overflow();
        return Value::integer(r);
      }
      if (nums) return Value::number(a.as_double() - b.as_double());
      return unsupported(op, a, b);
    }
    case BinOp::kMul: {
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) return overflow();
        return Value::integer(r);
      }
      if (nums) return Value::number(a.as_double() * b.as_double());
      if ((a.is_string() || a.is_list()) && b.is_integral()) return repeat(a, b.as_int());
      if ((b.is_string() || b.is_list()) && a.is_integral()) return repeat(b, a.as_int());
      if (a.is_string() || b.is_string() || a.is_list() || b.is_list()) {
        const Value& seq = (a.is_string() || a.is_list()) ? a : b;
        const Value& other = (&seq == &a) ? b : a;
        if (other.is_string() || other.is_list()) return unsupported(op, a, b);
        return invalid_argument("can't multiply sequence by non-int of type '" + type_name(other) +
                                "'");
      }
      return unsupported(op, a, b);
    }
    case BinOp::kDiv: {
      if (!nums) return unsupported(op, a, b);
      if (b.as_double() == 0) {
        return invalid_argument(ints ? "division by zero" : "float division by zero");
      }
      return Value::number(a.as_double() / b.as_double());
    }
    case BinOp::kFloorDiv: {
      if (!nums) return unsupported(op, a, b);
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) return invalid_argument("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) return overflow();
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      if (b.as_double() == 0) return invalid_argument("float floor division by zero");
      return Value::number(py_floordiv(a.as_double(), b.as_double()));
    }
    case BinOp::kMod: {
      if (a.is_string()) return percent_format(a, b);
      if (!nums) return unsupported(op, a, b);
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) return invalid_argument("integer modulo by zero");
        if (y == -1) return Value::integer(0);
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value::integer(m);
      }
      if (b.as_double() == 0) return invalid_argument("float modulo");
      return Value::number(py_fmod(a.as_double(), b.as_double()));
    }
    case BinOp::kPow: {
      if (!nums) return unsupported(op, a, b);
      if (ints && b.as_int() >= 0) {
        int64_t base = a.as_int(), e = b.as_int(), r = 1;
        while (e > 0) {
          if (e & 1) {
            if (__builtin_mul_overflow(r, base, &r)) return overflow();
          }
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) return overflow();
        }
        return Value::integer(r);
      }
      const double x = a.as_double(), y = b.as_double();
      if (x == 0 && y < 0) {
        return invalid_argument("0.0 cannot be raised to a negative power");
      }
      if (x < 0 && std::floor(y) != y) {
        return unimplemented("complex results of ** are not supported");
      }
      const double r = std::pow(x, y);
      if (std::isinf(r) && std::isfinite(x) && std::isfinite(y)) {
        return out_of_range("(34, 'Numerical result out of range')");
      }
      return Value::number(r);
    }
  }
  return unsupported(op, a, b);
}

Result<Value> negate(const Value& v) {
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) return overflow();
    return Value::integer(-v.as_int());
  }
  if (v.is_float()) return Value::number(-v.as_double());
  return invalid_argument("bad operand type for unary -: '" + type_name(v) + "'");
}

Result<Value> unary_plus(const Value& v) {
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) return v;
  return invalid_argument("bad operand type for unary +: '" + type_name(v) + "'");
}

Result<bool> contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kList:
      for (const Value& v : container.list().items) {
        if (py_equals(v, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
      if (!hashable(item)) return invalid_argument("unhashable type: '" + type_name(item) + "'");
      return container.dict().find(item) != nullptr;
    case Value::Kind::kString:
      if (!item.is_string()) {
        return invalid_argument("'in <string>' requires string as left operand, not " +
                                type_name(item));
      }
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::kUndefined:
      return false;
    case Value::Kind::kObject:
      if (IteratorObject* it = container.object().as_iterator()) return it->consume_until(item);
      [[fallthrough]];
    default:
      return invalid_argument("argument of type '" + type_name(container) + "' is not iterable");
  }
}

Result<std::vector<Value>> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kList:
      return v.list().items;
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      keys.reserve(v.dict().size());
      for (const auto& [k, val] : v.dict().entries()) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      const std::string& s = v.str();
      size_t i = 0;
      while (i < s.size()) {
        const size_t b = i;
        next_code_point(s, i);
        chars.push_back(Value::string(s.substr(b, i - b), v.is_markup()));
      }
      return chars;
    }
    case Value::Kind::kUndefined:
      return std::vector<Value>();
    case Value::Kind::kObject:
      if (IteratorObject* it = v.object().as_iterator()) return it->take();
      [[fallthrough]];
    default:
      return invalid_argument(std::string("'") + type_name(v) + "' object is not iterable");
  }
}

Result<int64_t> length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      return static_cast<int64_t>(code_point_count(v.str()));
    case Value::Kind::kList:
      return static_cast<int64_t>(v.list().items.size());
    case Value::Kind::kDict:
      return static_cast<int64_t>(v.dict().size());
    case Value::Kind::kUndefined:
      return int64_t{0};
    default:
      return invalid_argument("object of type '" + type_name(v) + "' has no len()");
  }
}

std::optional<std::string> string_index(const std::string& s, int64_t i) {
  if (is_ascii(s)) {
    const auto n = static_cast<int64_t>(s.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return std::nullopt;
    return std::string(1, s[static_cast<size_t>(i)]);
  }
  const std::u32string u = to_u32(s);
  const auto n = static_cast<int64_t>(u.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return std::nullopt;
  std::string r;
  append_utf8(r, u[static_cast<size_t>(i)]);
  return r;
}

Result<Value> slice(const Value& v, const Value& start, const Value& stop, const Value& step) {
  // Jinja2 applies slices with Python's own indexing (not the sandbox's getitem), so errors
  // surface instead of becoming Undefined.
  if (v.is_undefined()) return invalid_argument(v.undefined_message());
  if (v.is_dict()) return invalid_argument("unhashable type: 'slice'");
  if (!v.is_string() && !v.is_list()) {
    std::string m = "'";
    m += type_name(v);
    m += "' object is not subscriptable";
    return invalid_argument(std::move(m));
  }
  auto bound = [](const Value& x) -> std::optional<std::optional<int64_t>> {
    if (x.is_none()) return std::optional<int64_t>();
    if (x.is_integral()) return std::optional<int64_t>(x.as_int());
    return std::nullopt;
  };
  const auto b0 = bound(start), b1 = bound(stop), b2 = bound(step);
  if (!b0 || !b1 || !b2) {
    return invalid_argument("slice indices must be integers or None or have an __index__ method");
  }
  const int64_t st = b2->value_or(1);
  if (st == 0) return invalid_argument("slice step cannot be zero");
  std::u32string u;
  int64_t n;
  const bool ascii = v.is_string() && is_ascii(v.str());
  if (v.is_string()) {
    if (!ascii) u = to_u32(v.str());
    n = static_cast<int64_t>(ascii ? v.str().size() : u.size());
  } else {
    n = static_cast<int64_t>(v.list().items.size());
  }
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> x, bool is_start) -> int64_t {
    if (!x) {
      if (st > 0) return is_start ? 0 : n;
      return is_start ? n - 1 : -1;
    }
    int64_t i = *x;
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t lo = adjust(*b0, true), hi = adjust(*b1, false);
  std::vector<int64_t> idx;
  if (st > 0) {
    for (int64_t i = lo; i < hi;) {
      idx.push_back(i);
      if (hi - i <= st) break;  // also keeps i + st from overflowing
      i += st;
    }
  } else {
    for (int64_t i = lo; i > hi;) {
      idx.push_back(i);
      if (i - hi <= -st) break;
      i += st;
    }
  }
  if (v.is_string()) {
    std::string r;
    for (int64_t i : idx) {
      if (ascii) {
        r += v.str()[static_cast<size_t>(i)];
      } else {
        append_utf8(r, u[static_cast<size_t>(i)]);
      }
    }
    return Value::string(std::move(r));
  }
  std::vector<Value> r;
  r.reserve(idx.size());
  for (int64_t i : idx) r.push_back(v.list().items[static_cast<size_t>(i)]);
  return v.list().tuple ? Value::new_tuple(std::move(r)) : Value::new_list(std::move(r));
}

}  // namespace ember::jinja
