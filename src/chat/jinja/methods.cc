// Python methods of str, list, tuple and dict that templates call (message.content.strip(),
// tools.items(), ns.items.append(x), '{}'.format(x), ...), with CPython's semantics.
#include <algorithm>
#include <cmath>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/pyformat.h"
#include "chat/jinja/unicode.h"

namespace ember::jinja {

namespace {

constexpr std::string_view kStrMethods[] = {
    "capitalize", "casefold",   "center",       "count",        "endswith",  "expandtabs",
    "find",       "format",     "index",        "isalnum",      "isalpha",   "isascii",
    "isdecimal",  "isdigit",    "isidentifier", "islower",      "isnumeric", "isprintable",
    "isspace",    "istitle",    "isupper",      "join",         "ljust",     "lower",
    "lstrip",     "partition",  "removeprefix", "removesuffix", "replace",   "rfind",
    "rindex",     "rjust",      "rpartition",   "rsplit",       "rstrip",    "split",
    "splitlines", "startswith", "strip",        "swapcase",     "title",     "upper",
    "zfill"};
constexpr std::string_view kListMethods[] = {"append", "clear",   "copy",   "count",
                                             "extend", "index",   "insert", "pop",
                                             "remove", "reverse", "sort"};
constexpr std::string_view kTupleMethods[] = {"count", "index"};
constexpr std::string_view kDictMethods[] = {"clear", "copy",    "get",        "items",  "keys",
                                             "pop",   "popitem", "setdefault", "update", "values"};
constexpr std::string_view kIntMethods[] = {"bit_length", "conjugate"};
constexpr std::string_view kFloatMethods[] = {"conjugate", "is_integer"};

template <size_t N>
bool in(const std::string_view (&names)[N], std::string_view n) {
  return std::find(std::begin(names), std::end(names), n) != std::end(names);
}

class BoundMethod : public Object {
 public:
  BoundMethod(Value self, std::string name) : self_(std::move(self)), name_(std::move(name)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override {
    return "<built-in method " + name_ + " of " + jinja::type_name(self_) + " object>";
  }
  bool callable() const override { return true; }
  Result<Value> call(Interpreter& interp, CallArgs args) override;

 private:
  Value self_;
  std::string name_;
};

Status no_kwargs(std::string_view method, const CallArgs& args) {
  if (!args.kwargs.empty()) {
    return invalid_argument(std::string(method) + "() takes no keyword arguments");
  }
  return Status::Ok();
}

Status arg_count(std::string_view method, const CallArgs& args, size_t lo, size_t hi) {
  const size_t n = args.args.size();
  if (n < lo || n > hi) {
    if (lo == hi) {
      return invalid_argument(std::string(method) + "() takes exactly " + std::to_string(lo) +
                              " argument" + (lo == 1 ? "" : "s") + " (" + std::to_string(n) +
                              " given)");
    }
    if (n < lo) {
      return invalid_argument(std::string(method) + " expected at least " + std::to_string(lo) +
                              " argument" + (lo == 1 ? "" : "s") + ", got " + std::to_string(n));
    }
    return invalid_argument(std::string(method) + " expected at most " + std::to_string(hi) +
                            " argument" + (hi == 1 ? "" : "s") + ", got " + std::to_string(n));
  }
  return Status::Ok();
}

Result<std::string> str_arg(const Value& v, std::string_view what) {
  if (v.is_string()) return v.str();
  return invalid_argument(std::string(what) + " must be str, not " + type_name(v));
}

// Code-point view of a string for index-based methods.
struct CodePoints {
  explicit CodePoints(const std::string& s) : u(to_u32(s)) {}
  std::u32string u;
  // Python slice bounds [start, end) from optional int/None arguments.
  Result<std::pair<size_t, size_t>> bounds(const CallArgs& args, size_t first) const {
    const auto n = static_cast<int64_t>(u.size());
    int64_t lo = 0, hi = n;
    auto adj = [n](int64_t i) {
      if (i < 0) i += n;
      return std::clamp<int64_t>(i, 0, n);
    };
    if (args.args.size() > first && !args.args[first].is_none()) {
      EMBER_ASSIGN_OR_RETURN(int64_t v, to_index(args.args[first], "slice index"));
      lo = adj(v);
    }
    if (args.args.size() > first + 1 && !args.args[first + 1].is_none()) {
      EMBER_ASSIGN_OR_RETURN(int64_t v, to_index(args.args[first + 1], "slice index"));
      hi = adj(v);
    }
    return std::make_pair(static_cast<size_t>(lo), static_cast<size_t>(hi));
  }
};

Result<std::vector<std::string>> prefix_args(const Value& v, std::string_view method) {
  std::vector<std::string> r;
  if (v.is_string()) {
    r.push_back(v.str());
  } else if (v.is_tuple()) {
    for (const Value& item : v.list().items) {
      if (!item.is_string()) {
        return invalid_argument("tuple for " + std::string(method) +
                                " must only contain str, not " + type_name(item));
      }
      r.push_back(item.str());
    }
  } else {
    return invalid_argument(std::string(method) + " first arg must be str or a tuple of str, not " +
                            type_name(v));
  }
  return r;
}

std::vector<Value> split_whitespace(const std::string& s, int64_t maxsplit, bool from_right) {
  const std::u32string u = to_u32(s);
  std::vector<std::u32string> parts;
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < u.size() && py_isspace(u[i])) ++i;
      if (i >= u.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.push_back(u.substr(i));  // the remainder keeps its trailing whitespace
        break;
      }
      size_t j = i;
      while (j < u.size() && !py_isspace(u[j])) ++j;
      parts.push_back(u.substr(i, j - i));
      i = j;
    }
  } else {
    size_t i = u.size();
    while (true) {
      while (i > 0 && py_isspace(u[i - 1])) --i;
      if (i == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.push_back(u.substr(0, i));  // the remainder keeps its leading whitespace
        break;
      }
      size_t j = i;
      while (j > 0 && !py_isspace(u[j - 1])) --j;
      parts.push_back(u.substr(j, i - j));
      i = j;
    }
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<Value> r;
  for (auto& p : parts) r.push_back(Value::string(to_utf8(p)));
  return r;
}

std::vector<Value> split_sep(const std::string& s, const std::string& sep, int64_t maxsplit,
                             bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t pos = 0;
    while (true) {
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) break;
      const size_t f = s.find(sep, pos);
      if (f == std::string::npos) break;
      parts.push_back(s.substr(pos, f - pos));
      pos = f + sep.size();
    }
    parts.push_back(s.substr(pos));
  } else {
    size_t end = s.size();
    std::vector<std::string> rev;
    while (true) {
      if (maxsplit >= 0 && static_cast<int64_t>(rev.size()) == maxsplit) break;
      if (end < sep.size()) break;
      const size_t f = s.rfind(sep, end - sep.size());
      if (f == std::string::npos) break;
      rev.push_back(s.substr(f + sep.size(), end - f - sep.size()));
      end = f;
    }
    rev.push_back(s.substr(0, end));
    parts.assign(rev.rbegin(), rev.rend());
  }
  std::vector<Value> r;
  for (auto& p : parts) r.push_back(Value::string(std::move(p)));
  return r;
}

Result<Value> str_method(Interpreter& interp, const Value& self, std::string_view name,
                         CallArgs& args) {
  const std::string& s = self.str();
  const bool markup = self.is_markup();
  auto result = [&](std::string r) { return Value::string(std::move(r), markup); };
  auto escaped = [&](const Value& v) {
    return markup && !v.is_markup() ? html_escape(v.str()) : v.str();
  };
  if (name == "format") return str_format(interp, self, args);
  if (name == "split" || name == "rsplit") {
    EMBER_ASSIGN_OR_RETURN(auto a, bind_args(name, args, {"sep", "maxsplit"}));
    int64_t maxsplit = -1;
    if (a[1]) {
      EMBER_ASSIGN_OR_RETURN(maxsplit, to_index(*a[1], ""));
    }
    std::vector<Value> parts;
    if (!a[0] || a[0]->is_none()) {
      parts = split_whitespace(s, maxsplit, name == "rsplit");
    } else {
      EMBER_ASSIGN_OR_RETURN(std::string sep, str_arg(*a[0], "sep"));
      if (sep.empty()) return invalid_argument("empty separator");
      parts = split_sep(s, sep, maxsplit, name == "rsplit");
    }
    if (markup) {
      for (auto& p : parts) p = Value::string(p.str(), true);
    }
    return Value::new_list(std::move(parts));
  }
  EMBER_RETURN_IF_ERROR(no_kwargs(name, args));
  const auto& av = args.args;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 1));
    std::string chars;
    const bool has_chars = !av.empty() && !av[0].is_none();
    if (has_chars) {
      EMBER_ASSIGN_OR_RETURN(chars, str_arg(av[0], name == "strip"    ? "strip arg"
                                                   : name == "lstrip" ? "lstrip arg"
                                                                      : "rstrip arg"));
    }
    return result(py_strip(s, has_chars ? &chars : nullptr, name != "rstrip", name != "lstrip"));
  }
  if (name == "upper") return result(py_upper(s));
  if (name == "lower" || name == "casefold") return result(py_lower(s));
  if (name == "title") return result(py_title(s));
  if (name == "capitalize") return result(py_capitalize(s));
  if (name == "swapcase") return result(py_swapcase(s));
  if (name == "startswith" || name == "endswith") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 3));
    EMBER_ASSIGN_OR_RETURN(auto prefixes, prefix_args(av[0], name));
    CodePoints cp(s);
    EMBER_ASSIGN_OR_RETURN(auto b, cp.bounds(args, 1));
    if (b.first > b.second) return Value::boolean(false);
    const std::u32string sub = cp.u.substr(b.first, b.second - b.first);
    for (const auto& p : prefixes) {
      const std::u32string pu = to_u32(p);
      if (pu.size() > sub.size()) continue;
      if (name == "startswith" ? sub.compare(0, pu.size(), pu) == 0
                               : sub.compare(sub.size() - pu.size(), pu.size(), pu) == 0) {
        return Value::boolean(true);
      }
    }
    return Value::boolean(false);
  }
  if (name == "replace") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 2, 3));
    EMBER_ASSIGN_OR_RETURN(std::string old_s, str_arg(av[0], "replace() argument 1"));
    EMBER_ASSIGN_OR_RETURN(std::string new_s, str_arg(av[1], "replace() argument 2"));
    new_s = escaped(av[1]);
    if (markup) old_s = escaped(av[0]);
    int64_t count = -1;
    if (av.size() > 2) {
      EMBER_ASSIGN_OR_RETURN(count, to_index(av[2], ""));
    }
    std::string r;
    if (old_s.empty()) {
      // Python inserts `new` between every character (and at both ends).
      const std::u32string u = to_u32(s);
      int64_t done = 0;
      for (size_t i = 0; i <= u.size(); ++i) {
        if (count < 0 || done < count) {
          r += new_s;
          ++done;
        }
        if (i < u.size()) append_utf8(r, u[i]);
      }
    } else {
      size_t pos = 0;
      int64_t done = 0;
      while (count < 0 || done < count) {
        const size_t f = s.find(old_s, pos);
        if (f == std::string::npos) break;
        r.append(s, pos, f - pos);
        r += new_s;
        pos = f + old_s.size();
        ++done;
        if (r.size() > kMaxBuiltSize) return resource_exhausted("replace() result too large");
      }
      r.append(s, pos, std::string::npos);
    }
    EMBER_RETURN_IF_ERROR(interp.charge_bytes(r.size()));
    return result(std::move(r));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 3));
    EMBER_ASSIGN_OR_RETURN(std::string sub_s, str_arg(av[0], "must be str"));
    CodePoints cp(s);
    EMBER_ASSIGN_OR_RETURN(auto b, cp.bounds(args, 1));
    const std::u32string sub = to_u32(sub_s);
    if (name == "count") {
      if (b.first > b.second) return Value::integer(0);
      const std::u32string hay = cp.u.substr(b.first, b.second - b.first);
      if (sub.empty()) return Value::integer(static_cast<int64_t>(hay.size() + 1));
      int64_t n = 0;
      for (size_t p = hay.find(sub); p != std::u32string::npos; p = hay.find(sub, p + sub.size()))
        ++n;
      return Value::integer(n);
    }
    int64_t found = -1;
    if (b.first <= b.second && sub.size() <= b.second - b.first) {
      const std::u32string hay = cp.u.substr(b.first, b.second - b.first);
      const size_t p = (name == "find" || name == "index") ? hay.find(sub) : hay.rfind(sub);
      if (p != std::u32string::npos) found = static_cast<int64_t>(p + b.first);
    }
    if (found < 0 && (name == "index" || name == "rindex")) {
      return invalid_argument("substring not found");
    }
    return Value::integer(found);
  }
  if (name == "join") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    EMBER_ASSIGN_OR_RETURN(auto items, iterate(av[0]));
    std::string r;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        return invalid_argument("sequence item " + std::to_string(i) + ": expected str instance, " +
                                type_name(items[i]) + " found");
      }
      if (i) r += s;
      r += escaped(items[i]);
      if (r.size() > kMaxBuiltSize) return resource_exhausted("join() result too large");
    }
    EMBER_RETURN_IF_ERROR(interp.charge_bytes(r.size()));
    return result(std::move(r));
  }
  if (name == "center" || name == "ljust" || name == "rjust") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 2));
    EMBER_ASSIGN_OR_RETURN(int64_t width, to_index(av[0], ""));
    std::string fill = " ";
    if (av.size() > 1) {
      if (!av[1].is_string() || code_point_count(av[1].str()) != 1) {
        return invalid_argument("The fill character must be exactly one character long");
      }
      fill = av[1].str();
    }
    const auto n = static_cast<int64_t>(code_point_count(s));
    if (width <= n) return result(s);
    if (width > static_cast<int64_t>(kMaxBuiltSize)) return resource_exhausted("width too large");
    const int64_t total = width - n;
    int64_t left = 0;
    if (name == "center") {
      left = total / 2 + (total & width & 1);  // CPython's rounding
    } else if (name == "rjust") {
      left = total;
    }
    std::string r;
    for (int64_t i = 0; i < left; ++i) r += fill;
    r += s;
    for (int64_t i = 0; i < total - left; ++i) r += fill;
    return result(std::move(r));
  }
  if (name == "zfill") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    EMBER_ASSIGN_OR_RETURN(int64_t width, to_index(av[0], ""));
    const auto n = static_cast<int64_t>(code_point_count(s));
    if (width <= n) return result(s);
    if (width > static_cast<int64_t>(kMaxBuiltSize)) return resource_exhausted("width too large");
    std::string r = s;
    size_t at = (!r.empty() && (r[0] == '+' || r[0] == '-')) ? 1 : 0;
    r.insert(at, static_cast<size_t>(width - n), '0');
    return result(std::move(r));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    EMBER_ASSIGN_OR_RETURN(std::string a, str_arg(av[0], std::string(name) + "() argument"));
    if (name == "removeprefix" && s.rfind(a, 0) == 0) return result(s.substr(a.size()));
    if (name == "removesuffix" && !a.empty() && s.size() >= a.size() &&
        s.compare(s.size() - a.size(), a.size(), a) == 0) {
      return result(s.substr(0, s.size() - a.size()));
    }
    return result(s);
  }
  if (name == "partition" || name == "rpartition") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    EMBER_ASSIGN_OR_RETURN(std::string sep, str_arg(av[0], "sep"));
    if (sep.empty()) return invalid_argument("empty separator");
    const size_t f = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (f == std::string::npos) {
      if (name == "partition") return Value::new_tuple({result(s), result(""), result("")});
      return Value::new_tuple({result(""), result(""), result(s)});
    }
    return Value::new_tuple(
        {result(s.substr(0, f)), result(sep), result(s.substr(f + sep.size()))});
  }
  if (name == "splitlines") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 1));
    const bool keep = !av.empty() && truthy(av[0]);
    std::vector<Value> lines;
    for (auto& l : py_splitlines(s, keep)) lines.push_back(result(std::move(l)));
    return Value::new_list(std::move(lines));
  }
  if (name == "expandtabs") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 1));
    int64_t tab = 8;
    if (!av.empty()) {
      EMBER_ASSIGN_OR_RETURN(tab, to_index(av[0], ""));
    }
    tab = std::min<int64_t>(tab, 1 << 16);
    std::string r;
    int64_t col = 0;
    size_t i = 0;
    while (i < s.size()) {
      const char32_t c = next_code_point(s, i);
      if (c == '\t') {
        if (tab > 0) {
          const int64_t spaces = tab - col % tab;
          r.append(static_cast<size_t>(spaces), ' ');
          col += spaces;
        }
      } else {
        append_utf8(r, c);
        col = (c == '\n' || c == '\r') ? 0 : col + 1;
      }
      if (r.size() > kMaxBuiltSize) return resource_exhausted("expandtabs() result too large");
    }
    return result(std::move(r));
  }
  // Predicates.
  EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
  const std::u32string u = to_u32(s);
  auto all = [&](auto pred) {
    if (u.empty()) return Value::boolean(false);
    for (char32_t c : u) {
      if (!pred(c)) return Value::boolean(false);
    }
    return Value::boolean(true);
  };
  if (name == "isalnum") return all(py_isalnum);
  if (name == "isalpha") return all(py_isalpha);
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") return all(py_isdigit);
  if (name == "isspace") return all(py_isspace);
  if (name == "isascii") return Value::boolean(is_ascii(s));
  if (name == "isprintable") {
    for (char32_t c : u) {
      if (!py_isprintable(c)) return Value::boolean(false);
    }
    return Value::boolean(true);
  }
  if (name == "isupper") return Value::boolean(py_isupper(s));
  if (name == "islower") return Value::boolean(py_islower(s));
  if (name == "isidentifier") {
    if (u.empty() || !(u[0] == '_' || py_isalpha(u[0]))) return Value::boolean(false);
    for (char32_t c : u) {
      if (!(c == '_' || py_isalnum(c))) return Value::boolean(false);
    }
    return Value::boolean(true);
  }
  if (name == "istitle") {
    bool cased = false, prev_cased = false;
    for (char32_t c : u) {
      if (py_isupper_cp(c)) {
        if (prev_cased) return Value::boolean(false);
        prev_cased = cased = true;
      } else if (py_islower_cp(c)) {
        if (!prev_cased) return Value::boolean(false);
        prev_cased = cased = true;
      } else {
        prev_cased = false;
      }
    }
    return Value::boolean(cased);
  }
  return invalid_argument("'str' object has no attribute " + py_string_repr(name));
}

Result<Value> list_method(Interpreter& interp, const Value& self, std::string_view name,
                          CallArgs& args) {
  ListData& l = self.list();
  auto& items = l.items;
  EMBER_RETURN_IF_ERROR(no_kwargs(name, args));
  const auto& av = args.args;
  if (name == "count") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    int64_t n = 0;
    for (const Value& v : items) n += py_equals(v, av[0]) ? 1 : 0;
    return Value::integer(n);
  }
  if (name == "index") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 3));
    for (size_t i = 0; i < items.size(); ++i) {
      if (py_equals(items[i], av[0])) return Value::integer(static_cast<int64_t>(i));
    }
    return invalid_argument(py_repr(av[0]) + " is not in " + (l.tuple ? "tuple" : "list"));
  }
  if (name == "copy") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
    return Value::new_list(items);
  }
  // Mutating methods.
  interp.track(self);
  if (name == "append") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    if (items.size() >= kMaxBuiltSize / 16) return resource_exhausted("list too large");
    items.push_back(av[0]);
    return Value::none();
  }
  if (name == "extend") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    EMBER_ASSIGN_OR_RETURN(auto more, iterate(av[0]));
    if (items.size() + more.size() >= kMaxBuiltSize / 16)
      return resource_exhausted("list too large");
    EMBER_RETURN_IF_ERROR(interp.charge(static_cast<int64_t>(more.size())));
    items.insert(items.end(), more.begin(), more.end());
    return Value::none();
  }
  if (name == "insert") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 2, 2));
    EMBER_ASSIGN_OR_RETURN(int64_t i, to_index(av[0], ""));
    const auto n = static_cast<int64_t>(items.size());
    if (i < 0) i = std::max<int64_t>(0, i + n);
    i = std::min(i, n);
    if (items.size() >= kMaxBuiltSize / 16) return resource_exhausted("list too large");
    items.insert(items.begin() + i, av[1]);
    return Value::none();
  }
  if (name == "pop") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 1));
    if (items.empty()) return out_of_range("pop from empty list");
    int64_t i = -1;
    if (!av.empty()) {
      EMBER_ASSIGN_OR_RETURN(i, to_index(av[0], ""));
    }
    const auto n = static_cast<int64_t>(items.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return out_of_range("pop index out of range");
    Value v = items[static_cast<size_t>(i)];
    items.erase(items.begin() + i);
    return v;
  }
  if (name == "remove") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 1));
    for (size_t i = 0; i < items.size(); ++i) {
      if (py_equals(items[i], av[0])) {
        items.erase(items.begin() + static_cast<ptrdiff_t>(i));
        return Value::none();
      }
    }
    return invalid_argument("list.remove(x): x not in list");
  }
  if (name == "clear") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
    items.clear();
    return Value::none();
  }
  if (name == "reverse") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
    std::reverse(items.begin(), items.end());
    return Value::none();
  }
  return invalid_argument("'list' object has no attribute " + py_string_repr(name));
}

Result<Value> list_sort(Interpreter& interp, const Value& self, CallArgs& args) {
  if (!args.args.empty()) return invalid_argument("sort() takes no positional arguments");
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("sort", args, {"key", "reverse"}));
  const bool reverse = a[1] && truthy(*a[1]);
  auto& items = self.list().items;
  std::vector<Value> keys = items;
  if (a[0] && !a[0]->is_none()) {
    for (auto& k : keys) {
      CallArgs ca;
      ca.args.push_back(k);
      EMBER_ASSIGN_OR_RETURN(k, interp.call(*a[0], std::move(ca)));
    }
  }
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Status err;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (!err.ok()) return false;
    auto r = reverse ? py_compare(keys[y], CompareOp::kLt, keys[x])
                     : py_compare(keys[x], CompareOp::kLt, keys[y]);
    if (!r.ok()) {
      err = r.status();
      return false;
    }
    return *r;
  });
  EMBER_RETURN_IF_ERROR(err);
  std::vector<Value> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) sorted.push_back(items[i]);
  items = std::move(sorted);
  interp.track(self);
  return Value::none();
}

Result<Value> dict_method(Interpreter& interp, const Value& self, std::string_view name,
                          CallArgs& args) {
  DictData& d = self.dict();
  if (name == "update") {
    interp.track(self);
    if (args.args.size() > 1) return invalid_argument("update expected at most 1 argument");
    if (!args.args.empty()) {
      const Value& other = args.args[0];
      if (other.is_dict()) {
        const auto entries = other.dict().entries();
        for (const auto& [k, v] : entries) EMBER_RETURN_IF_ERROR(d.set(k, v));
      } else {
        EMBER_ASSIGN_OR_RETURN(auto pairs, iterate(other));
        for (const auto& p : pairs) {
          EMBER_ASSIGN_OR_RETURN(auto kv, iterate(p));
          if (kv.size() != 2) {
            return invalid_argument("dictionary update sequence element has length " +
                                    std::to_string(kv.size()) + "; 2 is required");
          }
          EMBER_RETURN_IF_ERROR(d.set(kv[0], kv[1]));
        }
      }
    }
    for (auto& [k, v] : args.kwargs) d.set(k, std::move(v));
    return Value::none();
  }
  EMBER_RETURN_IF_ERROR(no_kwargs(name, args));
  const auto& av = args.args;
  if (name == "get") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 2));
    if (!hashable(av[0])) return invalid_argument("unhashable type: '" + type_name(av[0]) + "'");
    if (const Value* v = d.find(av[0])) return *v;
    return av.size() > 1 ? av[1] : Value::none();
  }
  if (name == "items" || name == "keys" || name == "values") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
    std::vector<Value> r;
    r.reserve(d.size());
    for (const auto& [k, v] : d.entries()) {
      if (name == "items") {
        r.push_back(Value::new_tuple({k, v}));
      } else {
        r.push_back(name == "keys" ? k : v);
      }
    }
    return Value::new_list(std::move(r));
  }
  if (name == "copy") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
    auto c = std::make_shared<DictData>(d);
    return Value::new_dict(std::move(c));
  }
  interp.track(self);
  if (name == "pop") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 2));
    if (!hashable(av[0])) return invalid_argument("unhashable type: '" + type_name(av[0]) + "'");
    if (const Value* v = d.find(av[0])) {
      Value r = *v;
      d.erase(av[0]);
      return r;
    }
    if (av.size() > 1) return av[1];
    return out_of_range(py_repr(av[0]));
  }
  if (name == "popitem") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
    if (d.empty()) return out_of_range("'popitem(): dictionary is empty'");
    auto kv = d.entries().back();
    d.entries().pop_back();
    return Value::new_tuple({kv.first, kv.second});
  }
  if (name == "setdefault") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 1, 2));
    if (!hashable(av[0])) return invalid_argument("unhashable type: '" + type_name(av[0]) + "'");
    if (const Value* v = d.find(av[0])) return *v;
    Value def = av.size() > 1 ? av[1] : Value::none();
    EMBER_RETURN_IF_ERROR(d.set(av[0], def));
    return def;
  }
  if (name == "clear") {
    EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
    d.entries().clear();
    return Value::none();
  }
  return invalid_argument("'dict' object has no attribute " + py_string_repr(name));
}

Result<Value> number_method(const Value& self, std::string_view name, CallArgs& args) {
  EMBER_RETURN_IF_ERROR(no_kwargs(name, args));
  EMBER_RETURN_IF_ERROR(arg_count(name, args, 0, 0));
  if (name == "conjugate") return self.is_float() ? self : Value::integer(self.as_int());
  if (name == "is_integer") {
    const double d = self.as_double();
    return Value::boolean(std::isfinite(d) && std::floor(d) == d);
  }
  if (name == "bit_length") {
    uint64_t v = self.as_int() < 0 ? 0 - static_cast<uint64_t>(self.as_int())
                                   : static_cast<uint64_t>(self.as_int());
    int64_t n = 0;
    while (v) {
      ++n;
      v >>= 1;
    }
    return Value::integer(n);
  }
  return invalid_argument(std::string("'") + type_name(self) + "' object has no attribute " +
                          py_string_repr(name));
}

Result<Value> BoundMethod::call(Interpreter& interp, CallArgs args) {
  if (interp.config().immutable_sandbox && is_mutating_method(self_, name_)) {
    return invalid_argument("access to attribute " + py_string_repr(name_) + " of " +
                            py_string_repr(jinja::type_name(self_)) + " object is unsafe.");
  }
  switch (self_.kind()) {
    case Value::Kind::kString:
      return str_method(interp, self_, name_, args);
    case Value::Kind::kList:
      if (name_ == "sort") return list_sort(interp, self_, args);
      return list_method(interp, self_, name_, args);
    case Value::Kind::kDict:
      return dict_method(interp, self_, name_, args);
    default:
      return number_method(self_, name_, args);
  }
}

}  // namespace

bool has_method(const Value& self, std::string_view name) {
  switch (self.kind()) {
    case Value::Kind::kString:
      return in(kStrMethods, name);
    case Value::Kind::kList:
      return self.list().tuple ? in(kTupleMethods, name) : in(kListMethods, name);
    case Value::Kind::kDict:
      return in(kDictMethods, name);
    case Value::Kind::kInt:
    case Value::Kind::kBool:
      return in(kIntMethods, name);
    case Value::Kind::kFloat:
      return in(kFloatMethods, name);
    default:
      return false;
  }
}

bool is_mutating_method(const Value& self, std::string_view name) {
  if (self.is_list() && !self.list().tuple) {
    return name == "append" || name == "clear" || name == "extend" || name == "insert" ||
           name == "pop" || name == "remove" || name == "reverse" || name == "sort";
  }
  if (self.is_dict()) {
    return name == "clear" || name == "pop" || name == "popitem" || name == "setdefault" ||
           name == "update";
  }
  return false;
}

Value bound_method(const Value& self, std::string_view name) {
  return Value::object(std::make_shared<BoundMethod>(self, std::string(name)));
}

}  // namespace ember::jinja
