// Expression evaluation: names, attribute and item access, calls, filters, tests, operators.
// Each expression kind has its own small function so that deep expressions and recursive
// macros use little stack per level (see RenderLimits::max_eval_depth).
#include <algorithm>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/ops.h"

namespace ember::jinja {

namespace {

std::string undefined_attr_message(const Value& obj, std::string_view name) {
  return py_string_repr(object_type_repr(obj)) + " has no attribute " + py_string_repr(name);
}

std::string undefined_element_message(const Value& obj, const Value& key) {
  return object_type_repr(obj) + " has no element " + py_repr(key);
}

}  // namespace

EvalGuard::EvalGuard(Interpreter& i) : i_(i) {
  ++i_.eval_depth_;
}
EvalGuard::~EvalGuard() {
  --i_.eval_depth_;
}
bool EvalGuard::exceeded() const {
  return i_.eval_depth_ > i_.config_.limits.max_eval_depth;
}

Result<CallArgs> Interpreter::eval_call_args(const CallSpec& spec,
                                             const std::shared_ptr<Scope>& scope) {
  CallArgs args;
  for (const auto& a : spec.args) {
    EMBER_ASSIGN_OR_RETURN(Value v, eval(*a, scope));
    args.args.push_back(std::move(v));
  }
  for (const auto& k : spec.kwargs) {
    EMBER_ASSIGN_OR_RETURN(Value v, eval(*k.value, scope));
    args.kwargs.emplace_back(k.name, std::move(v));
  }
  if (spec.dyn_args) {
    EMBER_ASSIGN_OR_RETURN(Value v, eval(*spec.dyn_args, scope));
    auto items = iterate(v);
    if (!items.ok()) return located(items.status(), spec.dyn_args->pos);
    for (auto& item : *items) args.args.push_back(std::move(item));
  }
  if (spec.dyn_kwargs) {
    EMBER_ASSIGN_OR_RETURN(Value v, eval(*spec.dyn_kwargs, scope));
    if (!v.is_dict()) {
      return located(invalid_argument("argument after ** must be a mapping, not " + type_name(v)),
                     spec.dyn_kwargs->pos);
    }
    for (const auto& [k, val] : v.dict().entries()) {
      if (!k.is_string()) {
        return located(invalid_argument("keywords must be strings"), spec.dyn_kwargs->pos);
      }
      args.kwargs.emplace_back(k.str(), val);
    }
  }
  return args;
}

Result<Value> Interpreter::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EvalGuard guard(*this);
  if (guard.exceeded()) {
    return located(resource_exhausted("template nesting too deep at render time"), e.pos);
  }
  if (Status st = charge(1); !st.ok()) return located(st, e.pos);
  switch (e.kind) {
    case ExprKind::kConst:
      return e.value;
    case ExprKind::kName:
      return eval_name(e, scope);
    case ExprKind::kNsRef:
      return located(invalid_argument("namespace attribute reference used as a value"), e.pos);
    case ExprKind::kGetattr:
      return eval_getattr(e, scope);
    case ExprKind::kGetitem:
      return eval_getitem(e, scope);
    case ExprKind::kSlice:
      return located(invalid_argument("slice outside of a subscript"), e.pos);
    case ExprKind::kCall:
      return eval_call(e, scope);
    case ExprKind::kFilter:
      return eval_filter(e, scope, std::nullopt);
    case ExprKind::kTest:
      return eval_test(e, scope);
    case ExprKind::kNeg:
    case ExprKind::kPos:
      return eval_unary(e, scope);
    case ExprKind::kNot:
    case ExprKind::kAnd:
    case ExprKind::kOr:
      return eval_logic(e, scope);
    case ExprKind::kBinary:
      return eval_binary(e, scope);
    case ExprKind::kConcat:
      return eval_concat(e, scope);
    case ExprKind::kCompare:
      return eval_compare(e, scope);
    case ExprKind::kCond:
      return eval_cond(e, scope);
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kDict:
      return eval_collection(e, scope);
  }
  return located(internal_error("unknown expression"), e.pos);
}

Result<Value> Interpreter::eval_name(const Expr& e, const std::shared_ptr<Scope>& scope) {
  if (const Value* v = scope->lookup(e.name)) return *v;
  return Value::undefined(py_string_repr(e.name) + " is undefined");
}

Result<Value> Interpreter::eval_getattr(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value obj, eval(*e.children[0], scope));
  auto r = get_attr(obj, e.name);
  if (!r.ok()) return located(r.status(), e.pos);
  return r;
}

Result<Value> Interpreter::eval_getitem(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value obj, eval(*e.children[0], scope));
  const Expr& key = *e.children[1];
  if (key.kind != ExprKind::kSlice) {
    EMBER_ASSIGN_OR_RETURN(Value k, eval(key, scope));
    auto r = get_item(obj, k);
    if (!r.ok()) return located(r.status(), e.pos);
    return r;
  }
  std::vector<Value> parts(3, Value::none());
  for (size_t i = 0; i < 3; ++i) {
    if (key.children[i]) {
      EMBER_ASSIGN_OR_RETURN(parts[i], eval(*key.children[i], scope));
    }
  }
  auto r = slice(obj, parts[0], parts[1], parts[2]);
  if (!r.ok()) return located(r.status(), e.pos);
  return r;
}

Result<Value> Interpreter::eval_call(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value callee, eval(*e.children[0], scope));
  EMBER_ASSIGN_OR_RETURN(CallArgs args, eval_call_args(e.call, scope));
  auto r = call(callee, std::move(args));
  if (!r.ok()) return located(r.status(), e.pos);
  return r;
}

Result<Value> Interpreter::eval_test(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value v, eval(*e.children[0], scope));
  EMBER_ASSIGN_OR_RETURN(CallArgs args, eval_call_args(e.call, scope));
  auto r = apply_test(e.name, v, std::move(args));
  if (!r.ok()) return located(r.status(), e.pos);
  return Value::boolean(*r);
}

Result<Value> Interpreter::eval_unary(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value v, eval(*e.children[0], scope));
  auto r = e.kind == ExprKind::kNeg ? negate(v) : unary_plus(v);
  if (!r.ok()) return located(r.status(), e.pos);
  return r;
}

Result<Value> Interpreter::eval_logic(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value l, eval(*e.children[0], scope));
  switch (e.kind) {
    case ExprKind::kNot:
      return Value::boolean(!truthy(l));
    case ExprKind::kAnd:
      if (!truthy(l)) return l;
      return eval(*e.children[1], scope);
    default:
      if (truthy(l)) return l;
      return eval(*e.children[1], scope);
  }
}

Result<Value> Interpreter::eval_binary(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value l, eval(*e.children[0], scope));
  EMBER_ASSIGN_OR_RETURN(Value r, eval(*e.children[1], scope));
  auto v = binary_op(e.bin_op, l, r);
  if (!v.ok()) return located(v.status(), e.pos);
  if (v->is_string()) {
    EMBER_RETURN_IF_ERROR(located(charge_bytes(v->str().size()), e.pos));
  } else if (v->is_list()) {
    EMBER_RETURN_IF_ERROR(located(charge(static_cast<int64_t>(v->list().items.size() / 8)), e.pos));
  }
  return v;
}

Result<Value> Interpreter::eval_concat(const Expr& e, const std::shared_ptr<Scope>& scope) {
  std::string s;
  for (const auto& c : e.children) {
    EMBER_ASSIGN_OR_RETURN(Value v, eval(*c, scope));
    if (v.is_string()) {
      s += v.str();
    } else {
      s += py_str(v);
    }
    if (s.size() > kMaxBuiltSize) {
      return located(resource_exhausted("string concatenation result too large"), e.pos);
    }
  }
  EMBER_RETURN_IF_ERROR(located(charge_bytes(s.size()), e.pos));
  return Value::string(std::move(s));
}

Result<Value> Interpreter::eval_cond(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value t, eval(*e.children[0], scope));
  if (truthy(t)) return eval(*e.children[1], scope);
  if (e.children[2]) return eval(*e.children[2], scope);
  return Value::undefined("the inline if-expression on line " + std::to_string(e.pos.line) +
                          " evaluated to false and no else section was defined.");
}

Result<Value> Interpreter::eval_collection(const Expr& e, const std::shared_ptr<Scope>& scope) {
  if (e.kind == ExprKind::kDict) {
    Value d = Value::new_dict();
    for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
      EMBER_ASSIGN_OR_RETURN(Value k, eval(*e.children[i], scope));
      EMBER_ASSIGN_OR_RETURN(Value v, eval(*e.children[i + 1], scope));
      Status st = d.dict().set(std::move(k), std::move(v));
      if (!st.ok()) return located(st, e.children[i]->pos);
    }
    return d;
  }
  std::vector<Value> items;
  items.reserve(e.children.size());
  for (const auto& c : e.children) {
    EMBER_ASSIGN_OR_RETURN(Value v, eval(*c, scope));
    items.push_back(std::move(v));
  }
  return e.kind == ExprKind::kList ? Value::new_list(std::move(items))
                                   : Value::new_tuple(std::move(items));
}

Result<Value> Interpreter::eval_filter(const Expr& e, const std::shared_ptr<Scope>& scope,
                                       std::optional<Value> subject) {
  Value v;
  if (e.children[0]) {
    if (e.children[0]->kind == ExprKind::kFilter) {
      EMBER_ASSIGN_OR_RETURN(v, eval_filter(*e.children[0], scope, std::move(subject)));
    } else {
      EMBER_ASSIGN_OR_RETURN(v, eval(*e.children[0], scope));
    }
  } else if (subject) {
    v = std::move(*subject);
  }
  EMBER_ASSIGN_OR_RETURN(CallArgs args, eval_call_args(e.call, scope));
  auto r = apply_filter(e.name, std::move(v), std::move(args));
  if (!r.ok()) return located(r.status(), e.pos);
  return r;
}

Result<Value> Interpreter::apply_filter(std::string_view name, Value subject, CallArgs args) {
  FilterFn f = find_filter(name);
  if (f == nullptr) return invalid_argument("No filter named " + py_string_repr(name) + " found.");
  return f(*this, subject, args);
}

Result<bool> Interpreter::apply_test(std::string_view name, const Value& subject, CallArgs args) {
  TestFn t = find_test(name);
  if (t == nullptr) return invalid_argument("No test named " + py_string_repr(name) + " found.");
  return t(*this, subject, args);
}

Result<Value> Interpreter::eval_compare(const Expr& e, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value left, eval(*e.children[0], scope));
  for (size_t i = 0; i < e.cmp_ops.size(); ++i) {
    EMBER_ASSIGN_OR_RETURN(Value right, eval(*e.children[i + 1], scope));
    bool r = false;
    switch (e.cmp_ops[i]) {
      case CmpOp::kEq:
        r = py_equals(left, right);
        break;
      case CmpOp::kNe:
        r = !py_equals(left, right);
        break;
      case CmpOp::kIn:
      case CmpOp::kNotIn: {
        auto c = contains(right, left);
        if (!c.ok()) return located(c.status(), e.pos);
        r = e.cmp_ops[i] == CmpOp::kIn ? *c : !*c;
        break;
      }
      default: {
        CompareOp op = CompareOp::kLt;
        if (e.cmp_ops[i] == CmpOp::kLe) op = CompareOp::kLe;
        if (e.cmp_ops[i] == CmpOp::kGt) op = CompareOp::kGt;
        if (e.cmp_ops[i] == CmpOp::kGe) op = CompareOp::kGe;
        auto c = py_compare(left, op, right);
        if (!c.ok()) return located(c.status(), e.pos);
        r = *c;
      }
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

// ---- attribute access, subscripts and calls ---------------------------------------------------

Result<Value> Interpreter::get_attr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      return invalid_argument(obj.undefined_message());
    case Value::Kind::kObject: {
      EMBER_ASSIGN_OR_RETURN(std::optional<Value> v, obj.object().get_attr(*this, name));
      if (v) return std::move(*v);
      return Value::undefined(undefined_attr_message(obj, name));
    }
    case Value::Kind::kList:
      for (size_t i = 0; i < obj.list().fields.size(); ++i) {
        if (obj.list().fields[i] == name) return obj.list().items[i];  // named tuple field
      }
      break;
    default:
      break;
  }
  if (obj.is_number() && (name == "real" || name == "imag")) {  // number properties
    if (name == "imag") return obj.is_float() ? Value::number(0.0) : Value::integer(0);
    return obj.is_float() ? obj : Value::integer(obj.as_int());
  }
  if (has_method(obj, name)) {
    if (config_.immutable_sandbox && is_mutating_method(obj, name)) {
      return Value::undefined("access to attribute " + py_string_repr(name) + " of " +
                              py_string_repr(type_name(obj)) + " object is unsafe.");
    }
    return bound_method(obj, name);
  }
  if (obj.is_dict()) {
    if (const Value* v = obj.dict().find(name)) return *v;
  }
  return Value::undefined(undefined_attr_message(obj, name));
}

Result<Value> Interpreter::get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      return invalid_argument(obj.undefined_message());
    case Value::Kind::kDict:
      if (hashable(key)) {
        if (const Value* v = obj.dict().find(key)) return *v;
      }
      break;
    case Value::Kind::kList:
      if (key.is_integral()) {
        const auto& items = obj.list().items;
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(items.size());
        if (i >= 0 && i < static_cast<int64_t>(items.size())) return items[static_cast<size_t>(i)];
        return Value::undefined(undefined_element_message(obj, key));
      }
      break;
    case Value::Kind::kString:
      if (key.is_integral()) {
        if (auto c = string_index(obj.str(), key.as_int())) return Value::string(std::move(*c));
        return Value::undefined(undefined_element_message(obj, key));
      }
      break;
    default:
      break;
  }
  if (key.is_string()) {
    if (obj.is_object()) {
      EMBER_ASSIGN_OR_RETURN(std::optional<Value> v, obj.object().get_attr(*this, key.str()));
      if (v) return std::move(*v);
    } else if (has_method(obj, key.str())) {
      return get_attr(obj, key.str());
    }
    return Value::undefined(undefined_attr_message(obj, key.str()));
  }
  return Value::undefined(undefined_element_message(obj, key));
}

Result<Value> Interpreter::call(const Value& callee, CallArgs args) {
  if (callee.is_undefined()) return invalid_argument(callee.undefined_message());
  if (callee.is_object() && callee.object().callable()) {
    return callee.object().call(*this, std::move(args));
  }
  return invalid_argument(std::string("'") + type_name(callee) + "' object is not callable");
}

}  // namespace ember::jinja
