// Jinja2's global functions as Hugging Face configures them: range, dict, namespace, cycler,
// joiner, plus transformers' raise_exception(msg) and strftime_now(fmt). Also the argument
// binder shared by filters, tests and methods.
#include <ctime>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/ops.h"

namespace ember::jinja {

Result<std::vector<std::optional<Value>>> bind_args(std::string_view func, CallArgs& args,
                                                    std::initializer_list<std::string_view> names) {
  std::vector<std::optional<Value>> out(names.size());
  if (args.args.size() > names.size()) {
    return invalid_argument(std::string(func) + "() takes at most " + std::to_string(names.size()) +
                            " argument" + (names.size() == 1 ? "" : "s") + " (" +
                            std::to_string(args.args.size()) + " given)");
  }
  for (size_t i = 0; i < args.args.size(); ++i) out[i] = std::move(args.args[i]);
  for (auto& [k, v] : args.kwargs) {
    size_t idx = 0;
    bool found = false;
    for (std::string_view n : names) {
      if (n == k) {
        found = true;
        break;
      }
      ++idx;
    }
    if (!found) {
      return invalid_argument(std::string(func) + "() got an unexpected keyword argument " +
                              py_string_repr(k));
    }
    if (out[idx]) {
      return invalid_argument(std::string(func) + "() got multiple values for argument " +
                              py_string_repr(k));
    }
    out[idx] = std::move(v);
  }
  return out;
}

namespace {

Result<Value> g_range(Interpreter& interp, const Value&, CallArgs& args) {
  if (!args.kwargs.empty()) return invalid_argument("range() takes no keyword arguments");
  const auto& a = args.args;
  if (a.empty() || a.size() > 3) {
    return invalid_argument("range expected 1 to 3 arguments, got " + std::to_string(a.size()));
  }
  int64_t start = 0, stop = 0, step = 1;
  if (a.size() == 1) {
    EMBER_ASSIGN_OR_RETURN(stop, to_index(a[0], ""));
  } else {
    EMBER_ASSIGN_OR_RETURN(start, to_index(a[0], ""));
    EMBER_ASSIGN_OR_RETURN(stop, to_index(a[1], ""));
    if (a.size() == 3) {
      EMBER_ASSIGN_OR_RETURN(step, to_index(a[2], ""));
    }
  }
  if (step == 0) return invalid_argument("range() arg 3 must not be zero");
  // Length computed without overflow.
  __int128 n = 0;
  if (step > 0 && start < stop) {
    n = ((__int128)stop - start + step - 1) / step;
  } else if (step < 0 && start > stop) {
    n = ((__int128)start - stop - step - 1) / (-(__int128)step);
  }
  const int64_t limit = interp.config().limits.max_range;
  if (n > limit) {
    return resource_exhausted("range() of " + std::to_string(static_cast<long long>(n)) +
                              " items exceeds the limit of " + std::to_string(limit));
  }
  EMBER_RETURN_IF_ERROR(interp.charge(static_cast<int64_t>(n)));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i)
    items.push_back(Value::integer(start + i * step));
  return Value::new_list(std::move(items));
}

Status fill_dict(DictData& d, CallArgs& args, std::string_view func) {
  if (args.args.size() > 1) {
    return invalid_argument(std::string(func) + " expected at most 1 argument, got " +
                            std::to_string(args.args.size()));
  }
  if (!args.args.empty()) {
    const Value& src = args.args[0];
    if (src.is_dict()) {
      for (const auto& [k, v] : src.dict().entries()) EMBER_RETURN_IF_ERROR(d.set(k, v));
    } else {
      EMBER_ASSIGN_OR_RETURN(auto pairs, iterate(src));
      for (const auto& p : pairs) {
        auto kv = iterate(p);
        if (!kv.ok() || kv->size() != 2) {
          return invalid_argument(
              "dictionary update sequence element has the wrong length; 2 is required");
        }
        EMBER_RETURN_IF_ERROR(d.set((*kv)[0], (*kv)[1]));
      }
    }
  }
  for (auto& [k, v] : args.kwargs) d.set(k, std::move(v));
  return Status::Ok();
}

Result<Value> g_dict(Interpreter&, const Value&, CallArgs& args) {
  Value d = Value::new_dict();
  EMBER_RETURN_IF_ERROR(fill_dict(d.dict(), args, "dict"));
  return d;
}

Result<Value> g_namespace(Interpreter& interp, const Value&, CallArgs& args) {
  auto ns = std::make_shared<NamespaceObject>();
  EMBER_RETURN_IF_ERROR(fill_dict(ns->attrs(), args, "namespace"));
  Value v = Value::object(ns);
  interp.track(v);
  return v;
}

Result<Value> g_raise_exception(Interpreter&, const Value&, CallArgs& args) {
  std::string msg;
  if (!args.args.empty()) msg = py_str(args.args[0]);
  return invalid_argument(msg);
}

Result<Value> g_strftime_now(Interpreter& interp, const Value&, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("strftime_now", args, {"format"}));
  if (!a[0])
    return invalid_argument("strftime_now() missing 1 required positional argument: 'format'");
  if (!a[0]->is_string()) {
    return invalid_argument("strftime() argument 1 must be str, not " + type_name(*a[0]));
  }
  std::tm tm{};
  if (interp.config().now) {
    tm = *interp.config().now;
  } else {
    const std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  // datetime.strftime handles %f, %z and %Z itself (naive time: empty offsets), the rest is the
  // C library's strftime.
  const std::string& f = a[0]->str();
  std::string fmt;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '%' && i + 1 < f.size()) {
      const char c = f[i + 1];
      if (c == 'f') {
        fmt += "000000";
        ++i;
        continue;
      }
      if (c == 'z' || c == 'Z') {
        ++i;
        continue;
      }
      fmt += f[i];
      fmt += c;
      ++i;
      continue;
    }
    fmt += f[i];
  }
  if (fmt.empty()) return Value::string("");
  for (size_t cap = 256; cap <= (size_t{1} << 20); cap *= 4) {
    std::string buf(cap, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
    if (n > 0) {
      buf.resize(n);
      return Value::string(std::move(buf));
    }
  }
  return Value::string("");
}

// jinja2.utils.Cycler.
class CyclerObject : public Object, public std::enable_shared_from_this<CyclerObject> {
 public:
  explicit CyclerObject(std::vector<Value> items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  std::string type_repr() const override { return "jinja2.utils.Cycler object"; }
  Result<std::optional<Value>> get_attr(Interpreter&, std::string_view name) override {
    if (name == "current") return std::optional<Value>(items_[pos_]);
    if (name == "next" || name == "reset") {
      return std::optional<Value>(
          Value::object(std::make_shared<Method>(shared_from_this(), name == "next")));
    }
    return std::optional<Value>();
  }

 private:
  class Method : public Object {
   public:
    Method(std::shared_ptr<CyclerObject> c, bool next) : c_(std::move(c)), next_(next) {}
    std::string type_name() const override { return "method"; }
    bool callable() const override { return true; }
    Result<Value> call(Interpreter&, CallArgs) override {
      if (!next_) {
        c_->pos_ = 0;
        return Value::none();
      }
      Value v = c_->items_[c_->pos_];
      c_->pos_ = (c_->pos_ + 1) % c_->items_.size();
      return v;
    }

   private:
    std::shared_ptr<CyclerObject> c_;
    bool next_;
  };
  std::vector<Value> items_;
  size_t pos_ = 0;
};

Result<Value> g_cycler(Interpreter&, const Value&, CallArgs& args) {
  if (args.args.empty()) return invalid_argument("at least one item has to be provided");
  return Value::object(std::make_shared<CyclerObject>(std::move(args.args)));
}

// jinja2.utils.Joiner: returns "" the first time it is called, the separator afterwards.
class JoinerObject : public Object {
 public:
  explicit JoinerObject(std::string sep) : sep_(std::move(sep)) {}
  std::string type_name() const override { return "Joiner"; }
  std::string type_repr() const override { return "jinja2.utils.Joiner object"; }
  bool callable() const override { return true; }
  Result<Value> call(Interpreter&, CallArgs) override {
    if (!used_) {
      used_ = true;
      return Value::string("");
    }
    return Value::string(sep_);
  }

 private:
  std::string sep_;
  bool used_ = false;
};

Result<Value> g_joiner(Interpreter&, const Value&, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("joiner", args, {"sep"}));
  return Value::object(std::make_shared<JoinerObject>(a[0] ? py_str(*a[0]) : ", "));
}

}  // namespace

std::vector<std::pair<std::string, Value>> builtin_globals() {
  std::vector<std::pair<std::string, Value>> g;
  auto add = [&](const char* name, NativeFunction::Fn fn) {
    g.emplace_back(name, Value::object(std::make_shared<NativeFunction>(name, fn)));
  };
  add("range", g_range);
  add("dict", g_dict);
  add("namespace", g_namespace);
  add("cycler", g_cycler);
  add("joiner", g_joiner);
  add("raise_exception", g_raise_exception);
  add("strftime_now", g_strftime_now);
  return g;
}

}  // namespace ember::jinja
