// Sequence filters: map, select/reject(attr), sort, dictsort, unique, groupby, min/max, sum,
// first/last, join, list, batch, slice, reverse, items.
#include <algorithm>

#include "chat/jinja/filters_impl.h"
#include "chat/jinja/ops.h"
#include "chat/jinja/unicode.h"

namespace ember::jinja::filters {

AttrGetter::AttrGetter(Interpreter& interp, const std::optional<Value>& attribute, bool lower,
                       std::optional<Value> default_value)
    : interp_(interp), lower_(lower), default_(std::move(default_value)) {
  if (!attribute || attribute->is_none()) return;
  if (attribute->is_string()) {
    const std::string& a = attribute->str();
    size_t start = 0;
    while (true) {
      const size_t dot = a.find('.', start);
      const std::string part =
          a.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      const bool digits =
          !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
      if (digits && part.size() < 18) {
        parts_.push_back(Value::integer(std::stoll(part)));
      } else {
        parts_.push_back(Value::string(part));
      }
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  } else {
    parts_.push_back(*attribute);
  }
}

Result<Value> AttrGetter::operator()(const Value& item) const {
  Value v = item;
  for (const Value& p : parts_) {
    EMBER_ASSIGN_OR_RETURN(v, interp_.get_item(v, p));
    if (default_ && v.is_undefined()) v = *default_;
  }
  if (lower_ && v.is_string()) v = Value::string(py_lower(v.str()));
  return v;
}

Result<Value> required(const std::optional<Value>& v, std::string_view func,
                       std::string_view name) {
  if (v) return *v;
  return invalid_argument(std::string(func) + "() missing 1 required positional argument: '" +
                          std::string(name) + "'");
}

Value generator(std::vector<Value> items, std::string type) {
  return Value::object(std::make_shared<IteratorObject>(std::move(type), std::move(items)));
}

namespace {

// Sorts `items` by `keys` with Python's `<` (stable, errors for unorderable keys).
Status sort_by_keys(std::vector<Value>& items, const std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Status err;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (!err.ok()) return false;
    auto r = reverse ? py_compare(keys[b], CompareOp::kLt, keys[a])
                     : py_compare(keys[a], CompareOp::kLt, keys[b]);
    if (!r.ok()) {
      err = r.status();
      return false;
    }
    return *r;
  });
  EMBER_RETURN_IF_ERROR(err);
  std::vector<Value> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) sorted.push_back(std::move(items[i]));
  items = std::move(sorted);
  return Status::Ok();
}

Result<Value> f_sort(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a,
                         bind_args("do_sort", args, {"reverse", "case_sensitive", "attribute"}));
  const bool reverse = a[0] && truthy(*a[0]);
  const bool cs = a[1] && truthy(*a[1]);
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  // make_multi_attrgetter: comma-separated attributes give list keys.
  std::vector<AttrGetter> getters;
  if (a[2] && a[2]->is_string()) {
    const std::string& s = a[2]->str();
    size_t start = 0;
    while (true) {
      const size_t comma = s.find(',', start);
      getters.emplace_back(
          interp,
          Value::string(
              s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)),
          !cs);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    getters.emplace_back(interp, a[2], !cs);
  }
  std::vector<Value> keys;
  keys.reserve(items.size());
  for (const Value& item : items) {
    std::vector<Value> k;
    for (const auto& g : getters) {
      EMBER_ASSIGN_OR_RETURN(Value x, g(item));
      k.push_back(std::move(x));
    }
    keys.push_back(Value::new_list(std::move(k)));
  }
  EMBER_RETURN_IF_ERROR(interp.charge(static_cast<int64_t>(items.size()) * 4));
  EMBER_RETURN_IF_ERROR(sort_by_keys(items, keys, reverse));
  return Value::new_list(std::move(items));
}

Result<Value> f_dictsort(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a,
                         bind_args("do_dictsort", args, {"case_sensitive", "by", "reverse"}));
  const bool cs = a[0] && truthy(*a[0]);
  size_t pos = 0;
  if (a[1]) {
    if (a[1]->is_string() && a[1]->str() == "value") {
      pos = 1;
    } else if (!(a[1]->is_string() && a[1]->str() == "key")) {
      return invalid_argument("You can only sort by either \"key\" or \"value\"");
    }
  }
  const bool reverse = a[2] && truthy(*a[2]);
  if (!v.is_dict()) {
    if (v.is_undefined()) return invalid_argument(v.undefined_message());
    return invalid_argument(std::string("'") + type_name(v) + "' object has no attribute 'items'");
  }
  std::vector<Value> items, keys;
  for (const auto& [k, val] : v.dict().entries()) {
    items.push_back(Value::new_tuple({k, val}));
    const Value& key = pos == 0 ? k : val;
    keys.push_back(!cs && key.is_string() ? Value::string(py_lower(key.str())) : key);
  }
  EMBER_RETURN_IF_ERROR(interp.charge(static_cast<int64_t>(items.size()) * 4));
  EMBER_RETURN_IF_ERROR(sort_by_keys(items, keys, reverse));
  return Value::new_list(std::move(items));
}

Result<Value> f_unique(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_unique", args, {"case_sensitive", "attribute"}));
  const bool cs = a[0] && truthy(*a[0]);
  AttrGetter getter(interp, a[1], !cs);
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::vector<Value> seen, out;
  for (const Value& item : items) {
    EMBER_ASSIGN_OR_RETURN(Value key, getter(item));
    if (!hashable(key)) return invalid_argument("unhashable type: '" + type_name(key) + "'");
    bool dup = false;
    for (const Value& s : seen) {
      if (py_equals(s, key)) {
        dup = true;
        break;
      }
    }
    EMBER_RETURN_IF_ERROR(interp.charge(static_cast<int64_t>(seen.size() / 8)));
    if (!dup) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return generator(std::move(out));
}

Result<Value> min_max(Interpreter& interp, const Value& v, CallArgs& args, bool is_max) {
  EMBER_ASSIGN_OR_RETURN(
      auto a, bind_args(is_max ? "do_max" : "do_min", args, {"case_sensitive", "attribute"}));
  const bool cs = a[0] && truthy(*a[0]);
  AttrGetter getter(interp, a[1], !cs);
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  EMBER_ASSIGN_OR_RETURN(Value best_key, getter(items[0]));
  for (size_t i = 1; i < items.size(); ++i) {
    EMBER_ASSIGN_OR_RETURN(Value k, getter(items[i]));
    EMBER_ASSIGN_OR_RETURN(bool better,
                           py_compare(k, is_max ? CompareOp::kGt : CompareOp::kLt, best_key));
    if (better) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Result<Value> f_min(Interpreter& interp, const Value& v, CallArgs& args) {
  return min_max(interp, v, args, false);
}
Result<Value> f_max(Interpreter& interp, const Value& v, CallArgs& args) {
  return min_max(interp, v, args, true);
}

Result<Value> f_groupby(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a,
                         bind_args("do_groupby", args, {"attribute", "default", "case_sensitive"}));
  EMBER_ASSIGN_OR_RETURN(Value attribute, required(a[0], "do_groupby", "attribute"));
  const bool cs = a[2] && truthy(*a[2]);
  std::optional<Value> def;
  if (a[1] && !a[1]->is_none()) def = *a[1];
  AttrGetter key_of(interp, attribute, !cs, def);
  AttrGetter out_key(interp, attribute, false, def);
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::vector<Value> keys;
  for (const Value& item : items) {
    EMBER_ASSIGN_OR_RETURN(Value k, key_of(item));
    keys.push_back(std::move(k));
  }
  {
    std::vector<Value> k2 = keys;
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    Status err;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      if (!err.ok()) return false;
      auto r = py_compare(keys[x], CompareOp::kLt, keys[y]);
      if (!r.ok()) {
        err = r.status();
        return false;
      }
      return *r;
    });
    EMBER_RETURN_IF_ERROR(err);
    std::vector<Value> si, sk;
    for (size_t i : order) {
      si.push_back(items[i]);
      sk.push_back(keys[i]);
    }
    items = std::move(si);
    keys = std::move(sk);
  }
  std::vector<Value> groups;
  size_t i = 0;
  while (i < items.size()) {
    size_t j = i + 1;
    while (j < items.size() && py_equals(keys[j], keys[i])) ++j;
    std::vector<Value> members(items.begin() + static_cast<ptrdiff_t>(i),
                               items.begin() + static_cast<ptrdiff_t>(j));
    Value grouper = keys[i];
    if (!cs) {
      EMBER_ASSIGN_OR_RETURN(grouper, out_key(members[0]));
    }
    Value g = Value::new_tuple({grouper, Value::new_list(std::move(members))});
    g.list().fields = {"grouper", "list"};
    groups.push_back(std::move(g));
    i = j;
  }
  return Value::new_list(std::move(groups));
}

Result<Value> f_sum(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_sum", args, {"attribute", "start"}));
  AttrGetter getter(interp, a[0]);
  Value total = a[1] ? *a[1] : Value::integer(0);
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  for (const Value& item : items) {
    EMBER_ASSIGN_OR_RETURN(Value x, getter(item));
    EMBER_ASSIGN_OR_RETURN(total, binary_op(BinOp::kAdd, total, x));
    if (total.is_string()) EMBER_RETURN_IF_ERROR(interp.charge_bytes(total.str().size()));
  }
  return total;
}

Result<Value> f_first(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_first", args, {}));
  (void)a;
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Result<Value> f_last(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_last", args, {}));
  (void)a;
  if (v.is_object() && v.object().as_iterator()) {
    return invalid_argument(std::string("'") + type_name(v) + "' object is not reversible");
  }
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Result<Value> f_join(Interpreter& interp, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_join", args, {"d", "attribute"}));
  const std::string sep = a[0] ? py_str(*a[0]) : "";
  AttrGetter getter(interp, a[1]);
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    if (a[1]) {
      EMBER_ASSIGN_OR_RETURN(Value x, getter(items[i]));
      out += py_str(x);
    } else {
      out += py_str(items[i]);
    }
    if (out.size() > kMaxBuiltSize) return resource_exhausted("join result too large");
  }
  EMBER_RETURN_IF_ERROR(interp.charge_bytes(out.size()));
  return Value::string(std::move(out));
}

Result<Value> f_list(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_list", args, {}));
  (void)a;
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  return Value::new_list(std::move(items));
}

Result<Value> f_items(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_items", args, {}));
  (void)a;
  if (v.is_undefined()) return generator({});
  if (!v.is_dict()) return invalid_argument("Can only get item pairs from a mapping.");
  std::vector<Value> items;
  for (const auto& [k, val] : v.dict().entries()) items.push_back(Value::new_tuple({k, val}));
  return generator(std::move(items));
}

Result<Value> f_reverse(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_reverse", args, {}));
  (void)a;
  if (v.is_string()) {
    std::u32string u = to_u32(v.str());
    std::reverse(u.begin(), u.end());
    return Value::string(to_utf8(u));
  }
  if (v.is_undefined()) return generator({}, "reversed");  // reversed() of an empty sequence
  auto items = iterate(v);
  if (!items.ok()) return invalid_argument("argument must be iterable");
  std::reverse(items->begin(), items->end());
  if (v.is_list()) {
    return generator(std::move(items).value(), v.is_tuple() ? "reversed" : "list_reverseiterator");
  }
  if (v.is_dict()) return generator(std::move(items).value(), "dict_reversekeyiterator");
  return Value::new_list(std::move(items).value());
}

Result<Value> f_batch(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_batch", args, {"linecount", "fill_with"}));
  EMBER_ASSIGN_OR_RETURN(Value lc, required(a[0], "do_batch", "linecount"));
  EMBER_ASSIGN_OR_RETURN(int64_t n, to_index(lc, ""));
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::vector<Value> out;
  std::vector<Value> tmp;
  for (const Value& item : items) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::new_list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(item);
  }
  if (!tmp.empty()) {
    if (a[1] && !a[1]->is_none()) {
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(*a[1]);
    }
    out.push_back(Value::new_list(std::move(tmp)));
  }
  return generator(std::move(out));
}

Result<Value> f_slice(Interpreter&, const Value& v, CallArgs& args) {
  EMBER_ASSIGN_OR_RETURN(auto a, bind_args("do_slice", args, {"slices", "fill_with"}));
  EMBER_ASSIGN_OR_RETURN(Value sv, required(a[0], "do_slice", "slices"));
  EMBER_ASSIGN_OR_RETURN(int64_t slices, to_index(sv, ""));
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> seq, iterate(v));
  if (slices <= 0) {
    if (slices == 0) return invalid_argument("integer division or modulo by zero");
    return generator({});
  }
  if (slices > 100000) return resource_exhausted("too many slices");
  const auto length = static_cast<int64_t>(seq.size());
  const int64_t per = length / slices, extra = length % slices;
  int64_t offset = 0;
  std::vector<Value> out;
  for (int64_t k = 0; k < slices; ++k) {
    const int64_t start = offset + k * per;
    if (k < extra) ++offset;
    const int64_t end = offset + (k + 1) * per;
    std::vector<Value> tmp(seq.begin() + start, seq.begin() + end);
    if (a[1] && !a[1]->is_none() && k >= extra) tmp.push_back(*a[1]);
    out.push_back(Value::new_list(std::move(tmp)));
  }
  return generator(std::move(out));
}

Result<Value> f_map(Interpreter& interp, const Value& v, CallArgs& args) {
  if (!truthy(v)) return generator({});
  std::vector<Value> out;
  if (args.args.empty() && [&] {
        for (const auto& [k, x] : args.kwargs) {
          if (k == "attribute") return true;
        }
        return false;
      }()) {
    Value attribute = *args.take_kwarg("attribute");
    std::optional<Value> def = args.take_kwarg("default");
    if (!args.kwargs.empty()) {
      return invalid_argument("Unexpected keyword argument " +
                              py_string_repr(args.kwargs[0].first));
    }
    if (def && def->is_none()) def.reset();
    AttrGetter getter(interp, attribute, false, def);
    EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
    for (const Value& item : items) {
      EMBER_ASSIGN_OR_RETURN(Value x, getter(item));
      out.push_back(std::move(x));
    }
    return generator(std::move(out));
  }
  if (args.args.empty()) return invalid_argument("map requires a filter argument");
  const Value name = args.args[0];
  if (!name.is_string()) return invalid_argument("map: the filter name must be a string");
  CallArgs rest;
  rest.args.assign(args.args.begin() + 1, args.args.end());
  rest.kwargs = args.kwargs;
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  for (const Value& item : items) {
    EMBER_ASSIGN_OR_RETURN(Value x, interp.apply_filter(name.str(), item, rest));
    out.push_back(std::move(x));
  }
  return generator(std::move(out));
}

Result<Value> select_or_reject(Interpreter& interp, const Value& v, CallArgs& args, bool select,
                               bool lookup_attr) {
  if (!truthy(v)) return generator({});
  size_t off = 0;
  std::optional<AttrGetter> getter;
  if (lookup_attr) {
    if (args.args.empty()) return invalid_argument("Missing parameter for attribute name");
    getter.emplace(interp, args.args[0]);
    off = 1;
  }
  std::optional<std::string> test;
  CallArgs rest;
  if (args.args.size() > off) {
    if (!args.args[off].is_string()) return invalid_argument("test name must be a string");
    test = args.args[off].str();
    rest.args.assign(args.args.begin() + static_cast<ptrdiff_t>(off) + 1, args.args.end());
  }
  rest.kwargs = args.kwargs;
  EMBER_ASSIGN_OR_RETURN(std::vector<Value> items, iterate(v));
  std::vector<Value> out;
  for (const Value& item : items) {
    Value x = item;
    if (getter) {
      EMBER_ASSIGN_OR_RETURN(x, (*getter)(item));
    }
    bool ok;
    if (test) {
      EMBER_ASSIGN_OR_RETURN(ok, interp.apply_test(*test, x, rest));
    } else {
      ok = truthy(x);
    }
    if (ok == select) out.push_back(item);
  }
  return generator(std::move(out));
}

Result<Value> f_select(Interpreter& i, const Value& v, CallArgs& a) {
  return select_or_reject(i, v, a, true, false);
}
Result<Value> f_reject(Interpreter& i, const Value& v, CallArgs& a) {
  return select_or_reject(i, v, a, false, false);
}
Result<Value> f_selectattr(Interpreter& i, const Value& v, CallArgs& a) {
  return select_or_reject(i, v, a, true, true);
}
Result<Value> f_rejectattr(Interpreter& i, const Value& v, CallArgs& a) {
  return select_or_reject(i, v, a, false, true);
}

struct Entry {
  std::string_view name;
  FilterFn fn;
};

constexpr Entry kSequenceFilters[] = {
    {"sort", f_sort},
    {"dictsort", f_dictsort},
    {"unique", f_unique},
    {"min", f_min},
    {"max", f_max},
    {"groupby", f_groupby},
    {"sum", f_sum},
    {"first", f_first},
    {"last", f_last},
    {"join", f_join},
    {"list", f_list},
    {"items", f_items},
    {"reverse", f_reverse},
    {"batch", f_batch},
    {"slice", f_slice},
    {"map", f_map},
    {"select", f_select},
    {"reject", f_reject},
    {"selectattr", f_selectattr},
    {"rejectattr", f_rejectattr},
};

}  // namespace

FilterFn find_sequence_filter(std::string_view name) {
  for (const auto& e : kSequenceFilters) {
    if (e.name == name) return e.fn;
  }
  return nullptr;
}

}  // namespace ember::jinja::filters
