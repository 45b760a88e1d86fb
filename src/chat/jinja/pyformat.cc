// printf-style and str.format() formatting with CPython's rules.
#include "chat/jinja/pyformat.h"

#include <cmath>
#include <cstdio>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/unicode.h"

namespace ember::jinja {

namespace {

struct Spec {
  bool left = false, plus = false, space = false, alt = false, zero = false;
  int width = -1;
  int precision = -1;
};

std::string pad(std::string body, int width, bool left, char fill = ' ') {
  const auto n = static_cast<int>(code_point_count(body));
  if (width <= n) return body;
  const std::string padding(static_cast<size_t>(width - n), fill);
  return left ? body + padding : padding + body;
}

std::string digits_of(uint64_t v, int base, bool upper) {
  if (v == 0) return "0";
  const char* d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string r;
  while (v > 0) {
    r.insert(r.begin(), d[v % static_cast<uint64_t>(base)]);
    v /= static_cast<uint64_t>(base);
  }
  return r;
}

std::string format_int(int64_t v, char conv, const Spec& s) {
  const bool neg = v < 0;
  const uint64_t mag = neg ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  int base = 10;
  std::string prefix;
  if (conv == 'x' || conv == 'X') {
    base = 16;
    if (s.alt) prefix = conv == 'x' ? "0x" : "0X";
  } else if (conv == 'o') {
    base = 8;
    if (s.alt) prefix = "0o";
  }
  std::string digits = digits_of(mag, base, conv == 'X');
  if (s.precision > static_cast<int>(digits.size())) {
    digits.insert(0, static_cast<size_t>(s.precision) - digits.size(), '0');
  }
  std::string sign = neg ? "-" : (s.plus ? "+" : (s.space ? " " : ""));
  std::string head = sign + prefix;
  const int len = static_cast<int>(head.size() + digits.size());
  if (s.width > len && !s.left && s.zero) {
    digits.insert(0, static_cast<size_t>(s.width - len), '0');
  }
  return pad(head + digits, s.width, s.left);
}

std::string format_float_printf(double v, char conv, const Spec& s) {
  std::string f = "%";
  if (s.left) f += '-';
  if (s.plus) f += '+';
  if (s.space) f += ' ';
  if (s.alt) f += '#';
  if (s.zero && !std::isinf(v) && !std::isnan(v)) f += '0';
  if (s.width >= 0) f += std::to_string(s.width);
  f += '.' + std::to_string(s.precision < 0 ? 6 : s.precision);
  f += conv;
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, f.c_str(), v);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), f.c_str(), v);
  big.resize(static_cast<size_t>(n));
  return big;
}

Result<Value> arg_for(const std::vector<Value>& args, size_t& next) {
  if (next >= args.size()) return invalid_argument("not enough arguments for format string");
  return args[next++];
}

}  // namespace

Result<Value> percent_format(const Value& fmt_value, const Value& args_value) {
  const std::string& fmt = fmt_value.str();
  const bool markup = fmt_value.is_markup();
  std::vector<Value> args;
  const Value* mapping = nullptr;
  // CPython treats any non-tuple, non-str argument with item access (dict, list, Jinja2's
  // Undefined) as a mapping: it is still the single positional argument, but leftover
  // arguments are then not an error.
  bool mapping_like = false;
  if (args_value.is_tuple()) {
    args = args_value.list().items;
  } else {
    args.push_back(args_value);
    if (args_value.is_dict()) mapping = &args_value;
    mapping_like = args_value.is_dict() || args_value.is_list() || args_value.is_undefined();
  }
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  size_t i = 0;
  while (i < fmt.size()) {
    const char c = fmt[i];
    if (c != '%') {
      out += c;
      ++i;
      continue;
    }
    const size_t start = i;
    ++i;
    if (i >= fmt.size()) return invalid_argument("incomplete format");
    std::optional<Value> keyed;
    if (fmt[i] == '(') {
      if (mapping == nullptr) return invalid_argument("format requires a mapping");
      int depth = 1;
      size_t j = i + 1;
      while (j < fmt.size() && depth > 0) {
        if (fmt[j] == '(') ++depth;
        if (fmt[j] == ')') --depth;
        ++j;
      }
      if (depth != 0) return invalid_argument("incomplete format key");
      const std::string key = fmt.substr(i + 1, j - i - 2);
      const Value* v = mapping->dict().find(std::string_view(key));
      if (v == nullptr) return invalid_argument(py_string_repr(key));
      keyed = *v;
      used_mapping = true;
      i = j;
    }
    Spec s;
    for (; i < fmt.size(); ++i) {
      const char f = fmt[i];
      if (f == '-') {
        s.left = true;
      } else if (f == '+') {
        s.plus = true;
      } else if (f == ' ') {
        s.space = true;
      } else if (f == '#') {
        s.alt = true;
      } else if (f == '0') {
        s.zero = true;
      } else {
        break;
      }
    }
    auto read_number = [&](int& target) -> Status {
      if (i < fmt.size() && fmt[i] == '*') {
        ++i;
        EMBER_ASSIGN_OR_RETURN(Value w, arg_for(args, next));
        if (!w.is_integral()) return invalid_argument("* wants int");
        target = static_cast<int>(std::min<int64_t>(w.as_int(), 1 << 20));
        return Status::Ok();
      }
      int64_t n = -1;
      while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') {
        n = (n < 0 ? 0 : n) * 10 + (fmt[i] - '0');
        if (n > (1 << 20)) return invalid_argument("width too big");
        ++i;
      }
      if (n >= 0) target = static_cast<int>(n);
      return Status::Ok();
    };
    EMBER_RETURN_IF_ERROR(read_number(s.width));
    if (s.width < -1) {
      s.left = true;
      s.width = -s.width;
    }
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      s.precision = 0;
      EMBER_RETURN_IF_ERROR(read_number(s.precision));
      if (s.precision < 0) s.precision = 0;
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) return invalid_argument("incomplete format");
    const char conv = fmt[i++];
    if (conv == '%') {
      out += '%';
      continue;
    }
    Value arg;
    if (keyed) {
      arg = *keyed;
    } else {
      EMBER_ASSIGN_OR_RETURN(arg, arg_for(args, next));
    }
    switch (conv) {
      case 's':
      case 'r':
      case 'a': {
        std::string text = conv == 's' ? py_str(arg) : py_repr(arg);
        if (markup && !(arg.is_markup() && conv == 's')) text = html_escape(text);
        if (s.precision >= 0) {
          const std::u32string u = to_u32(text);
          if (u.size() > static_cast<size_t>(s.precision)) {
            text = to_utf8(std::u32string_view(u).substr(0, static_cast<size_t>(s.precision)));
          }
        }
        out += pad(text, s.width, s.left);
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        int64_t v;
        if (arg.is_integral()) {
          v = arg.as_int();
        } else if (arg.is_float() && (conv == 'd' || conv == 'i' || conv == 'u')) {
          const double d = arg.as_double();
          if (!std::isfinite(d))
            return invalid_argument("cannot convert float infinity or NaN to integer");
          if (std::fabs(d) >= 9.2e18) return out_of_range("integer overflow");
          v = static_cast<int64_t>(d);
        } else {
          const bool real = conv == 'd' || conv == 'i' || conv == 'u';
          return invalid_argument(std::string("%") + conv +
                                  " format: " + (real ? "a real number" : "an integer") +
                                  " is required, not " + type_name(arg));
        }
        out += format_int(v, conv == 'i' || conv == 'u' ? 'd' : conv, s);
        break;
      }
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G': {
        if (!arg.is_number()) {
          return invalid_argument("must be real number, not " + type_name(arg));
        }
        out += format_float_printf(arg.as_double(), conv, s);
        break;
      }
      case 'c': {
        std::string ch;
        if (arg.is_integral()) {
          if (arg.as_int() < 0 || arg.as_int() > 0x10FFFF) {
            return out_of_range("%c arg not in range(0x110000)");
          }
          append_utf8(ch, static_cast<char32_t>(arg.as_int()));
        } else if (arg.is_string() && code_point_count(arg.str()) == 1) {
          ch = arg.str();
        } else {
          return invalid_argument("%c requires int or char");
        }
        out += pad(ch, s.width, s.left);
        break;
      }
      default: {
        char buf[96];
        std::snprintf(buf, sizeof buf, "unsupported format character '%c' (0x%x) at index %zu",
                      conv, static_cast<unsigned>(static_cast<unsigned char>(conv)), i - 1);
        (void)start;
        return invalid_argument(buf);
      }
    }
  }
  if (!used_mapping && !mapping_like && next < args.size()) {
    return invalid_argument("not all arguments converted during string formatting");
  }
  return Value::string(std::move(out), markup);
}

// ---- str.format --------------------------------------------------------------------------------

Result<std::string> format_with_spec(const Value& v, std::string_view spec) {
  if (spec.empty()) return py_str(v);
  // [[fill]align][sign][z][#][0][width][grouping][.precision][type]
  size_t i = 0;
  std::string fill = " ";
  char align = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  {
    size_t j = 0;
    const char32_t first = next_code_point(spec, j);
    if (j < spec.size() && is_align(spec[j])) {
      fill.clear();
      append_utf8(fill, first);
      align = spec[j];
      i = j + 1;
    } else if (is_align(spec[0])) {
      align = spec[0];
      i = 1;
    }
  }
  char sign = 0;
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
  if (i < spec.size() && spec[i] == 'z') ++i;
  bool alt = false;
  if (i < spec.size() && spec[i] == '#') {
    alt = true;
    ++i;
  }
  if (i < spec.size() && spec[i] == '0') {
    if (align == 0) {
      fill = "0";
      align = '=';
    }
    ++i;
  }
  int width = -1;
  while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
    width = (width < 0 ? 0 : width) * 10 + (spec[i] - '0');
    if (width > (1 << 20)) return invalid_argument("Too many decimal digits in format string");
    ++i;
  }
  char grouping = 0;
  if (i < spec.size() && (spec[i] == ',' || spec[i] == '_')) grouping = spec[i++];
  int precision = -1;
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    precision = 0;
    bool any = false;
    while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') {
      precision = precision * 10 + (spec[i] - '0');
      if (precision > (1 << 20))
        return invalid_argument("Too many decimal digits in format string");
      any = true;
      ++i;
    }
    if (!any) return invalid_argument("Format specifier missing precision");
  }
  char type = 0;
  if (i < spec.size()) type = spec[i++];
  if (i != spec.size()) return invalid_argument("Invalid format specifier");

  auto apply_align = [&](std::string body, char default_align, std::string sign_text) {
    const char a = align ? align : default_align;
    const int n = static_cast<int>(code_point_count(body) + code_point_count(sign_text));
    if (width <= n) return sign_text + body;
    std::string padding;
    const int total = width - n;
    auto fill_n = [&](int k) {
      std::string r;
      for (int q = 0; q < k; ++q) r += fill;
      return r;
    };
    switch (a) {
      case '<':
        return sign_text + body + fill_n(total);
      case '^':
        return fill_n(total / 2) + sign_text + body + fill_n(total - total / 2);
      case '=':
        return sign_text + fill_n(total) + body;
      default:
        return fill_n(total) + sign_text + body;
    }
  };
  auto group = [&](std::string digits) {
    if (!grouping) return digits;
    std::string r;
    const size_t n = digits.size();
    for (size_t k = 0; k < n; ++k) {
      if (k > 0 && (n - k) % 3 == 0) r += grouping;
      r += digits[k];
    }
    return r;
  };

  if (v.is_string()) {
    if (type != 0 && type != 's') {
      return invalid_argument(std::string("Unknown format code '") + type +
                              "' for object of type 'str'");
    }
    std::string body = v.str();
    if (precision >= 0) {
      const std::u32string u = to_u32(body);
      if (u.size() > static_cast<size_t>(precision)) {
        body = to_utf8(std::u32string_view(u).substr(0, static_cast<size_t>(precision)));
      }
    }
    return apply_align(body, '<', "");
  }
  if (v.is_integral() && (type == 0 || type == 'd' || type == 'b' || type == 'o' || type == 'x' ||
                          type == 'X' || type == 'c' || type == 'n')) {
    if (precision >= 0)
      return invalid_argument("Precision not allowed in integer format specifier");
    const int64_t x = v.as_int();
    const uint64_t mag = x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    std::string digits;
    std::string prefix;
    switch (type) {
      case 'b':
        digits = digits_of(mag, 2, false);
        prefix = alt ? "0b" : "";
        break;
      case 'o':
        digits = digits_of(mag, 8, false);
        prefix = alt ? "0o" : "";
        break;
      case 'x':
        digits = digits_of(mag, 16, false);
        prefix = alt ? "0x" : "";
        break;
      case 'X':
        digits = digits_of(mag, 16, true);
        prefix = alt ? "0X" : "";
        break;
      case 'c': {
        std::string ch;
        append_utf8(ch, static_cast<char32_t>(mag));
        return apply_align(ch, '<', "");
      }
      default:
        digits = group(digits_of(mag, 10, false));
    }
    std::string sign_text = x < 0 ? "-" : (sign == '+' ? "+" : (sign == ' ' ? " " : ""));
    return apply_align(digits, '>', sign_text + prefix);
  }
  if (v.is_number()) {
    const double d = v.as_double();
    std::string body;
    const bool neg = std::signbit(d) && !std::isnan(d);
    const double mag = std::fabs(d);
    if (type == 0 && precision < 0) {
      body = v.is_float() ? float_repr(mag)
                          : std::to_string(v.as_int() < 0 ? -v.as_int() : v.as_int());
    } else {
      char t = type;
      int p = precision < 0 ? 6 : precision;
      bool percent = false;
      double m = mag;
      if (t == '%') {
        percent = true;
        t = 'f';
        m *= 100;
      }
      if (t == 0) t = 'g';
      if (t == 'n') t = 'g';
      if (t != 'e' && t != 'E' && t != 'f' && t != 'F' && t != 'g' && t != 'G') {
        return invalid_argument(std::string("Unknown format code '") + type +
                                "' for object of type '" + type_name(v) + "'");
      }
      Spec s;
      s.alt = alt;
      s.precision = p;
      body = format_float_printf(m, t, s);
      if (percent) body += '%';
    }
    if (grouping) {
      const size_t dot = body.find_first_not_of("0123456789");
      body = group(body.substr(0, dot)) + (dot == std::string::npos ? "" : body.substr(dot));
    }
    std::string sign_text = neg ? "-" : (sign == '+' ? "+" : (sign == ' ' ? " " : ""));
    return apply_align(body, '>', sign_text);
  }
  return invalid_argument("unsupported format string passed to " + type_name(v) + ".__format__");
}

Result<Value> str_format(Interpreter& interp, const Value& fmt_value, const CallArgs& args) {
  const std::string& fmt = fmt_value.str();
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;

  // Resolves "name.attr[key]..." to a value.
  auto resolve = [&](std::string_view field) -> Result<Value> {
    size_t end = 0;
    while (end < field.size() && field[end] != '.' && field[end] != '[') ++end;
    const std::string_view head = field.substr(0, end);
    Value v;
    if (head.empty()) {
      if (used_manual) {
        return invalid_argument(
            "cannot switch from manual field specification to automatic field numbering");
      }
      used_auto = true;
      if (auto_index >= args.args.size()) {
        return out_of_range("Replacement index " + std::to_string(auto_index) +
                            " out of range for positional args tuple");
      }
      v = args.args[auto_index++];
    } else if (head.find_first_not_of("0123456789") == std::string_view::npos) {
      if (used_auto) {
        return invalid_argument(
            "cannot switch from automatic field numbering to manual field specification");
      }
      used_manual = true;
      const size_t idx = static_cast<size_t>(std::stoull(std::string(head.substr(0, 9))));
      if (idx >= args.args.size()) {
        return out_of_range("Replacement index " + std::to_string(idx) +
                            " out of range for positional args tuple");
      }
      v = args.args[idx];
    } else {
      bool found = false;
      for (const auto& [k, val] : args.kwargs) {
        if (k == head) {
          v = val;
          found = true;
        }
      }
      if (!found) return invalid_argument(py_string_repr(head));
    }
    size_t i = end;
    while (i < field.size()) {
      if (field[i] == '.') {
        size_t j = i + 1;
        while (j < field.size() && field[j] != '.' && field[j] != '[') ++j;
        EMBER_ASSIGN_OR_RETURN(v, interp.get_attr(v, field.substr(i + 1, j - i - 1)));
        i = j;
      } else {
        const size_t close = field.find(']', i);
        if (close == std::string_view::npos)
          return invalid_argument("Missing ']' in format string");
        const std::string_view key = field.substr(i + 1, close - i - 1);
        Value k = key.find_first_not_of("0123456789") == std::string_view::npos && !key.empty()
                      ? Value::integer(std::stoll(std::string(key.substr(0, 18))))
                      : Value::string(std::string(key));
        EMBER_ASSIGN_OR_RETURN(v, interp.get_item(v, k));
        i = close + 1;
      }
    }
    return v;
  };

  size_t i = 0;
  while (i < fmt.size()) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      return invalid_argument("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    // Find the matching '}' (one level of nested fields inside the spec).
    size_t j = i + 1;
    int depth = 1;
    while (j < fmt.size()) {
      if (fmt[j] == '{') ++depth;
      if (fmt[j] == '}' && --depth == 0) break;
      ++j;
    }
    if (j >= fmt.size()) return invalid_argument("expected '}' before end of string");
    const std::string_view field(fmt.data() + i + 1, j - i - 1);
    i = j + 1;
    size_t name_end = 0;
    while (name_end < field.size() && field[name_end] != '!' && field[name_end] != ':') {
      if (field[name_end] == '[') {
        const size_t close = field.find(']', name_end);
        name_end = close == std::string_view::npos ? field.size() : close + 1;
        continue;
      }
      ++name_end;
    }
    char conversion = 0;
    std::string_view spec;
    size_t k = name_end;
    if (k < field.size() && field[k] == '!') {
      if (k + 1 >= field.size())
        return invalid_argument("end of string while looking for conversion specifier");
      conversion = field[k + 1];
      k += 2;
      if (k < field.size() && field[k] != ':')
        return invalid_argument("expected ':' after conversion specifier");
    }
    if (k < field.size() && field[k] == ':') spec = field.substr(k + 1);
    EMBER_ASSIGN_OR_RETURN(Value v, resolve(field.substr(0, name_end)));
    if (conversion == 'r' || conversion == 'a') {
      v = Value::string(py_repr(v));
    } else if (conversion == 's') {
      v = Value::string(py_str(v));
    } else if (conversion != 0) {
      return invalid_argument(std::string("Unknown conversion specifier ") + conversion);
    }
    std::string spec_text(spec);
    if (spec_text.find('{') != std::string::npos) {
      CallArgs nested = args;
      EMBER_ASSIGN_OR_RETURN(Value s, str_format(interp, Value::string(spec_text), nested));
      spec_text = s.str();
    }
    EMBER_ASSIGN_OR_RETURN(std::string piece, format_with_spec(v, spec_text));
    out += fmt_value.is_markup() && !v.is_markup() ? html_escape(piece) : piece;
  }
  return Value::string(std::move(out), fmt_value.is_markup());
}

}  // namespace ember::jinja
