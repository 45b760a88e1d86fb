// Statement execution and expression evaluation.
#include "chat/jinja/interpreter.h"

#include <algorithm>
#include <deque>

#include "chat/jinja/builtins.h"
#include "chat/jinja/ops.h"

namespace ember::jinja {

std::string location_prefix(SourcePos pos) {
  return "line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) + ": ";
}

namespace {

bool has_location(const std::string& m) {
  if (m.rfind("line ", 0) != 0) return false;
  const size_t comma = m.find(", column ");
  return comma != std::string::npos && comma < 20;
}

std::string undefined_attr_message(const Value& obj, std::string_view name) {
  return py_string_repr(object_type_repr(obj)) + " has no attribute " + py_string_repr(name);
}

std::string undefined_element_message(const Value& obj, const Value& key) {
  return object_type_repr(obj) + " has no element " + py_repr(key);
}

}  // namespace

// ---- Scope
// ----------------------------------------------------------------------------------------

const Value* Scope::lookup(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_.get()) {
    for (const auto& [k, v] : s->vars_) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Scope::set(std::string_view name, Value value) {
  for (auto& [k, v] : vars_) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars_.emplace_back(std::string(name), std::move(value));
}

// ---- objects
// ----------------------------------------------------------------------------------------

std::string NativeFunction::repr() const {
  return "<built-in function " + name_ + ">";
}

std::string NamespaceObject::repr() const {
  return "<Namespace " + py_repr(Value::new_dict(std::make_shared<DictData>(attrs_))) + ">";
}

Result<std::optional<Value>> NamespaceObject::get_attr(Interpreter&, std::string_view name) {
  if (const Value* v = attrs_.find(name)) return std::optional<Value>(*v);
  return std::optional<Value>();
}

Status NamespaceObject::set_attr(std::string_view name, Value value) {
  attrs_.set(name, std::move(value));
  return Status::Ok();
}

Result<std::optional<Value>> MacroObject::get_attr(Interpreter&, std::string_view name) {
  if (name == "name") return std::optional<Value>(Value::string(name_));
  if (name == "arguments") {
    std::vector<Value> params;
    for (const auto& p : def_->signature.params) params.push_back(Value::string(p));
    return std::optional<Value>(Value::new_tuple(std::move(params)));
  }
  if (name == "catch_kwargs")
    return std::optional<Value>(Value::boolean(def_->signature.catch_kwargs));
  if (name == "catch_varargs") {
    return std::optional<Value>(Value::boolean(def_->signature.catch_varargs));
  }
  if (name == "caller") return std::optional<Value>(Value::boolean(def_->signature.uses_caller));
  return std::optional<Value>();
}

// The `loop` variable of a for loop. Items passing the loop's `if` filter are pulled lazily,
// as Jinja2's generator does, so loop.last / loop.length evaluate the filter ahead of time only
// when they are used.
class LoopObject : public Object, public std::enable_shared_from_this<LoopObject> {
 public:
  LoopObject(Interpreter& interp, const Stmt& stmt, std::vector<Value> items,
             std::shared_ptr<Scope> scope, int depth0)
      : interp_(interp),
        stmt_(stmt),
        items_(std::move(items)),
        scope_(std::move(scope)),
        depth0_(depth0) {}

  std::string type_name() const override { return "LoopContext"; }
  std::string type_repr() const override { return "jinja2.runtime.LoopContext object"; }
  std::string repr() const override {
    return "<LoopContext " + std::to_string(index0_ + 1) + "/?>";
  }
  bool callable() const override { return true; }
  Result<Value> call(Interpreter& interp, CallArgs args) override {
    if (!stmt_.recursive) {
      return invalid_argument(
          "The loop must have the 'recursive' marker to be called recursively.");
    }
    if (args.args.size() != 1 || !args.kwargs.empty()) {
      return invalid_argument("loop() takes exactly one argument");
    }
    EMBER_ASSIGN_OR_RETURN(std::string s,
                           interp.run_loop(stmt_, args.args[0], scope_, depth0_ + 1));
    return Value::string(std::move(s));
  }

  // Advances to the next item; nullopt at the end.
  Result<std::optional<Value>> advance() {
    std::optional<Value> next;
    if (!pending_.empty()) {
      next = std::move(pending_.front());
      pending_.pop_front();
    } else {
      EMBER_ASSIGN_OR_RETURN(next, pull());
    }
    if (!next) return next;
    before_ = current_;
    has_before_ = index0_ >= 0;
    current_ = *next;
    ++index0_;
    return next;
  }

  Result<std::optional<Value>> get_attr(Interpreter&, std::string_view name) override {
    auto some = [](Value v) { return std::optional<Value>(std::move(v)); };
    if (name == "index0") return some(Value::integer(index0_));
    if (name == "index") return some(Value::integer(index0_ + 1));
    if (name == "first") return some(Value::boolean(index0_ == 0));
    if (name == "depth") return some(Value::integer(depth0_ + 1));
    if (name == "depth0") return some(Value::integer(depth0_));
    if (name == "previtem") {
      return some(has_before_ ? before_ : Value::undefined("there is no previous item"));
    }
    if (name == "last" || name == "nextitem") {
      EMBER_RETURN_IF_ERROR(peek());
      if (name == "last") return some(Value::boolean(pending_.empty()));
      return some(pending_.empty() ? Value::undefined("there is no next item") : pending_.front());
    }
    if (name == "length" || name == "revindex" || name == "revindex0") {
      EMBER_ASSIGN_OR_RETURN(int64_t n, length());
      if (name == "length") return some(Value::integer(n));
      if (name == "revindex") return some(Value::integer(n - index0_));
      return some(Value::integer(n - index0_ - 1));
    }
    if (name == "cycle" || name == "changed") {
      auto self = std::static_pointer_cast<LoopObject>(shared_from_this());
      return some(Value::object(std::make_shared<LoopMethod>(self, name == "cycle")));
    }
    return std::optional<Value>();
  }

 private:
  class LoopMethod : public Object {
   public:
    LoopMethod(std::shared_ptr<LoopObject> loop, bool cycle)
        : loop_(std::move(loop)), cycle_(cycle) {}
    std::string type_name() const override { return "method"; }
    bool callable() const override { return true; }
    Result<Value> call(Interpreter&, CallArgs args) override {
      if (!args.kwargs.empty()) return invalid_argument("unexpected keyword argument");
      if (cycle_) {
        if (args.args.empty()) return invalid_argument("no items for cycling given");
        const auto n = static_cast<int64_t>(args.args.size());
        return args.args[static_cast<size_t>(((loop_->index0_ % n) + n) % n)];
      }
      Value v = Value::new_tuple(std::move(args.args));
      if (loop_->has_changed_ && py_equals(loop_->last_changed_, v)) return Value::boolean(false);
      loop_->has_changed_ = true;
      loop_->last_changed_ = std::move(v);
      return Value::boolean(true);
    }

   private:
    std::shared_ptr<LoopObject> loop_;
    bool cycle_;
  };

  Result<std::optional<Value>> pull() {
    while (pos_ < items_.size()) {
      Value v = items_[pos_++];
      if (stmt_.test) {
        EMBER_ASSIGN_OR_RETURN(bool ok, interp_.loop_filter_accepts(stmt_, scope_, v));
        if (!ok) continue;
      }
      return std::optional<Value>(std::move(v));
    }
    return std::optional<Value>();
  }

  Status peek() {
    if (!pending_.empty()) return Status::Ok();
    EMBER_ASSIGN_OR_RETURN(std::optional<Value> v, pull());
    if (v) pending_.push_back(std::move(*v));
    return Status::Ok();
  }

  Result<int64_t> length() {
    if (!stmt_.test) return static_cast<int64_t>(items_.size());
    while (true) {
      EMBER_ASSIGN_OR_RETURN(std::optional<Value> v, pull());
      if (!v) break;
      pending_.push_back(std::move(*v));
    }
    return index0_ + 1 + static_cast<int64_t>(pending_.size());
  }

  Interpreter& interp_;
  const Stmt& stmt_;
  std::vector<Value> items_;
  std::shared_ptr<Scope> scope_;
  int depth0_;
  size_t pos_ = 0;
  std::deque<Value> pending_;
  int64_t index0_ = -1;
  Value current_;
  Value before_;
  bool has_before_ = false;
  Value last_changed_;
  bool has_changed_ = false;
};

// ---- Interpreter
// -----------------------------------------------------------------------------------

class EvalGuard {
 public:
  explicit EvalGuard(Interpreter& i) : i_(i) { ++i_.eval_depth_; }
  ~EvalGuard() { --i_.eval_depth_; }
  bool exceeded() const { return i_.eval_depth_ > i_.config_.limits.max_eval_depth; }

 private:
  Interpreter& i_;
};

Interpreter::Interpreter(const RenderOptions& config) : config_(config) {}

Interpreter::~Interpreter() {
  // Values created during a render can form reference cycles (a macro stored in the scope it
  // captured, a namespace holding itself, a list appended to itself); clearing every tracked
  // scope and mutated container releases them.
  for (auto& w : scopes_) {
    if (auto s = w.lock()) s->clear();
  }
  for (size_t i = 0; i < containers_.size(); ++i) {
    auto p = containers_[i].lock();
    if (!p) continue;
    switch (container_kinds_[i]) {
      case 0:
        static_cast<ListData*>(p.get())->items.clear();
        break;
      case 1:
        static_cast<DictData*>(p.get())->entries().clear();
        break;
      default: {
        auto* o = static_cast<Object*>(p.get());
        if (o->is_namespace()) static_cast<NamespaceObject*>(o)->clear();
      }
    }
  }
}

void Interpreter::track(const std::shared_ptr<Scope>& scope) {
  if (scopes_.size() >= prune_at_) {
    std::erase_if(scopes_, [](const std::weak_ptr<Scope>& w) { return w.expired(); });
    prune_at_ = std::max<size_t>(1024, scopes_.size() * 2);
  }
  scopes_.push_back(scope);
}

void Interpreter::track(const Value& v) {
  int kind;
  if (v.is_list()) {
    kind = 0;
  } else if (v.is_dict()) {
    kind = 1;
  } else if (v.is_object()) {
    kind = 2;
  } else {
    return;
  }
  for (size_t i = containers_.size(); i-- > 0 && i + 8 >= containers_.size();) {
    if (containers_[i].lock() == v.payload()) return;  // recently tracked
  }
  if (containers_.size() >= 4096 && containers_.size() % 4096 == 0) {
    size_t out = 0;
    for (size_t i = 0; i < containers_.size(); ++i) {
      if (containers_[i].expired()) continue;
      containers_[out] = containers_[i];
      container_kinds_[out] = container_kinds_[i];
      ++out;
    }
    containers_.resize(out);
    container_kinds_.resize(out);
  }
  containers_.push_back(v.payload());
  container_kinds_.push_back(kind);
}

std::shared_ptr<Scope> Interpreter::child_scope(const std::shared_ptr<Scope>& parent) {
  auto s = std::make_shared<Scope>(parent);
  track(s);
  return s;
}

Status Interpreter::charge(int64_t units) {
  steps_ += units;
  if (steps_ > config_.limits.max_steps) {
    return resource_exhausted("template exceeded its work limit (" +
                              std::to_string(config_.limits.max_steps) + " steps)");
  }
  return Status::Ok();
}

Status Interpreter::located(const Status& s, SourcePos pos) const {
  if (s.ok() || has_location(s.message())) return s;
  return Status(s.code(), location_prefix(pos) + s.message());
}

Status Interpreter::append_output(std::string& out, std::string_view text) {
  output_bytes_ += text.size();
  if (output_bytes_ > config_.limits.max_output_bytes) {
    return resource_exhausted("template output exceeds " +
                              std::to_string(config_.limits.max_output_bytes) + " bytes");
  }
  EMBER_RETURN_IF_ERROR(charge_bytes(text.size()));
  out.append(text);
  return Status::Ok();
}

Result<std::string> Interpreter::render(const Body& body,
                                        const std::vector<std::pair<std::string, Value>>& context) {
  auto globals = std::make_shared<Scope>(nullptr);
  track(globals);
  for (auto& [k, v] : builtin_globals()) globals->set(k, std::move(v));
  auto ctx = child_scope(globals);
  for (const auto& [k, v] : context) ctx->set(k, v);
  auto root = child_scope(ctx);
  root_ = root;
  std::string out;
  EMBER_ASSIGN_OR_RETURN(Flow f, exec(body, root, out));
  (void)f;
  return out;
}

Result<Flow> Interpreter::exec(const Body& body, const std::shared_ptr<Scope>& scope,
                               std::string& out) {
  for (const auto& s : body) {
    EMBER_ASSIGN_OR_RETURN(Flow f, exec_stmt(*s, scope, out));
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Result<Flow> Interpreter::exec_stmt(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                    std::string& out) {
  EvalGuard guard(*this);
  if (guard.exceeded()) {
    return located(resource_exhausted("template nesting too deep at render time"), s.pos);
  }
  if (Status st = charge(1); !st.ok()) return located(st, s.pos);
  switch (s.kind) {
    case StmtKind::kText: {
      EMBER_RETURN_IF_ERROR(located(append_output(out, s.text), s.pos));
      return Flow::kNormal;
    }
    case StmtKind::kOutput: {
      EMBER_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
      if (v.is_string()) {
        EMBER_RETURN_IF_ERROR(located(append_output(out, v.str()), s.pos));
      } else {
        EMBER_RETURN_IF_ERROR(located(append_output(out, py_str(v)), s.pos));
      }
      return Flow::kNormal;
    }
    case StmtKind::kIf: {
      for (const auto& [test, body] : s.branches) {
        EMBER_ASSIGN_OR_RETURN(Value t, eval(*test, scope));
        if (truthy(t)) return exec(body, scope, out);
      }
      return exec(s.else_body, scope, out);
    }
    case StmtKind::kFor:
      return exec_for(s, scope, out);
    case StmtKind::kSet: {
      EMBER_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
      EMBER_RETURN_IF_ERROR(assign(*s.target, std::move(v), scope));
      return Flow::kNormal;
    }
    case StmtKind::kSetBlock: {
      std::string buf;
      auto inner = child_scope(scope);
      EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, inner, buf));
      if (f != Flow::kNormal) return f;
      Value v = Value::string(std::move(buf));
      if (s.expr) {
        EMBER_ASSIGN_OR_RETURN(v, eval_filter(*s.expr, scope, std::move(v)));
      }
      EMBER_RETURN_IF_ERROR(assign(*s.target, std::move(v), scope));
      return Flow::kNormal;
    }
    case StmtKind::kMacro: {
      scope->set(s.text, Value::object(std::make_shared<MacroObject>(s.text, &s, scope)));
      return Flow::kNormal;
    }
    case StmtKind::kCallBlock: {
      const Expr& call = *s.expr;
      EMBER_ASSIGN_OR_RETURN(Value callee, eval(*call.children[0], scope));
      EMBER_ASSIGN_OR_RETURN(CallArgs args, eval_call_args(call.call, scope));
      args.kwargs.emplace_back("caller",
                               Value::object(std::make_shared<MacroObject>("caller", &s, scope)));
      auto r = this->call(callee, std::move(args));
      if (!r.ok()) return located(r.status(), call.pos);
      const Value& v = *r;
      EMBER_RETURN_IF_ERROR(
          located(append_output(out, v.is_string() ? v.str() : py_str(v)), s.pos));
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      std::string buf;
      auto inner = child_scope(scope);
      EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, inner, buf));
      if (f != Flow::kNormal) return f;
      EMBER_ASSIGN_OR_RETURN(Value v, eval_filter(*s.expr, scope, Value::string(std::move(buf))));
      EMBER_RETURN_IF_ERROR(
          located(append_output(out, v.is_string() ? v.str() : py_str(v)), s.pos));
      return Flow::kNormal;
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
    case StmtKind::kWith: {
      std::vector<Value> values;
      for (const auto& [target, value] : s.with_assignments) {
        EMBER_ASSIGN_OR_RETURN(Value v, eval(*value, scope));
        values.push_back(std::move(v));
      }
      auto inner = child_scope(scope);
      for (size_t i = 0; i < values.size(); ++i) {
        EMBER_RETURN_IF_ERROR(assign(*s.with_assignments[i].first, std::move(values[i]), inner));
      }
      return exec(s.body, inner, out);
    }
    case StmtKind::kBlock: {
      // Blocks see the template's top-level variables, not the enclosing loop or macro scope.
      auto inner = child_scope(root_ ? root_ : scope);
      EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, inner, out));
      (void)f;
      return Flow::kNormal;
    }
    case StmtKind::kGeneration: {
      auto inner = child_scope(scope);
      EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, inner, out));
      (void)f;
      return Flow::kNormal;
    }
  }
  return Flow::kNormal;
}

Result<bool> Interpreter::loop_filter_accepts(const Stmt& stmt, const std::shared_ptr<Scope>& scope,
                                              const Value& item) {
  auto tmp = child_scope(scope);
  EMBER_RETURN_IF_ERROR(assign(*stmt.target, item, tmp));
  EMBER_ASSIGN_OR_RETURN(Value t, eval(*stmt.test, tmp));
  return truthy(t);
}

Result<std::string> Interpreter::run_loop(const Stmt& stmt, const Value& iterable,
                                          const std::shared_ptr<Scope>& scope, int depth0) {
  if (call_depth_ >= config_.limits.max_call_depth) {
    return resource_exhausted("recursive loop nesting exceeds " +
                              std::to_string(config_.limits.max_call_depth));
  }
  ++call_depth_;
  struct Dec {
    int& d;
    ~Dec() { --d; }
  } dec{call_depth_};
  std::string out;
  EMBER_ASSIGN_OR_RETURN(Flow f, exec_loop(stmt, iterable, scope, out, depth0));
  (void)f;
  return out;
}

Result<Flow> Interpreter::exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                   std::string& out) {
  EMBER_ASSIGN_OR_RETURN(Value iterable, eval(*s.expr, scope));
  return exec_loop(s, iterable, scope, out, 0);
}

Result<Flow> Interpreter::exec_loop(const Stmt& s, const Value& iterable,
                                    const std::shared_ptr<Scope>& scope, std::string& out,
                                    int depth0) {
  auto items = iterate(iterable);
  if (!items.ok()) return located(items.status(), s.expr->pos);
  auto loop = std::make_shared<LoopObject>(*this, s, std::move(items).value(), scope, depth0);
  bool any = false;
  while (true) {
    EMBER_ASSIGN_OR_RETURN(std::optional<Value> item, loop->advance());
    if (!item) break;
    any = true;
    if (++iterations_ > config_.limits.max_loop_iterations) {
      return located(resource_exhausted("template exceeded " +
                                        std::to_string(config_.limits.max_loop_iterations) +
                                        " loop iterations"),
                     s.pos);
    }
    auto iter_scope = child_scope(scope);
    EMBER_RETURN_IF_ERROR(located(assign(*s.target, *item, iter_scope), s.target->pos));
    iter_scope->set("loop", Value::object(loop));
    EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, iter_scope, out));
    if (f == Flow::kBreak) break;
  }
  if (!any) {
    // The else block runs in its own scope, like Jinja2's else frame.
    EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.else_body, child_scope(scope), out));
    (void)f;
  }
  return Flow::kNormal;
}

Status Interpreter::assign(const Expr& target, Value value, const std::shared_ptr<Scope>& scope) {
  switch (target.kind) {
    case ExprKind::kName:
      scope->set(target.name, std::move(value));
      return Status::Ok();
    case ExprKind::kNsRef: {
      const Value* ns = scope->lookup(target.name);
      if (ns == nullptr || !ns->is_object() || !ns->object().is_namespace()) {
        return located(invalid_argument("cannot assign attribute on non-namespace object"),
                       target.pos);
      }
      return ns->object().set_attr(target.attr, std::move(value));
    }
    case ExprKind::kTuple: {
      auto items = iterate(value);
      if (!items.ok()) {
        return located(
            invalid_argument("cannot unpack non-iterable " + type_name(value) + " object"),
            target.pos);
      }
      const size_t want = target.children.size();
      if (items->size() > want) {
        return located(
            invalid_argument("too many values to unpack (expected " + std::to_string(want) + ")"),
            target.pos);
      }
      if (items->size() < want) {
        return located(
            invalid_argument("not enough values to unpack (expected " + std::to_string(want) +
                             ", got " + std::to_string(items->size()) + ")"),
            target.pos);
      }
      for (size_t i = 0; i < want; ++i) {
        EMBER_RETURN_IF_ERROR(assign(*target.children[i], (*items)[i], scope));
      }
      return Status::Ok();
    }
    default:
      return located(invalid_argument("can't assign to this expression"), target.pos);
  }
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
  return eval_inner(e, scope);
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

Result<Value> Interpreter::eval_inner(const Expr& e, const std::shared_ptr<Scope>& scope) {
  switch (e.kind) {
    case ExprKind::kConst:
      return e.value;
    case ExprKind::kName: {
      if (const Value* v = scope->lookup(e.name)) return *v;
      return Value::undefined(py_string_repr(e.name) + " is undefined");
    }
    case ExprKind::kNsRef:
      return located(invalid_argument("namespace attribute reference used as a value"), e.pos);
    case ExprKind::kGetattr: {
      EMBER_ASSIGN_OR_RETURN(Value obj, eval(*e.children[0], scope));
      auto r = get_attr(obj, e.name);
      if (!r.ok()) return located(r.status(), e.pos);
      return r;
    }
    case ExprKind::kGetitem: {
      EMBER_ASSIGN_OR_RETURN(Value obj, eval(*e.children[0], scope));
      const Expr& key = *e.children[1];
      if (key.kind == ExprKind::kSlice) {
        Value parts[3] = {Value::none(), Value::none(), Value::none()};
        for (int i = 0; i < 3; ++i) {
          if (key.children[static_cast<size_t>(i)]) {
            EMBER_ASSIGN_OR_RETURN(parts[i], eval(*key.children[static_cast<size_t>(i)], scope));
          }
        }
        auto r = slice(obj, parts[0], parts[1], parts[2]);
        if (!r.ok()) return located(r.status(), e.pos);
        if (*r) return std::move(**r);
        std::vector<Value> pv(parts, parts + 3);
        return Value::undefined(object_type_repr(obj) + " has no element slice(" + py_repr(pv[0]) +
                                ", " + py_repr(pv[1]) + ", " + py_repr(pv[2]) + ")");
      }
      EMBER_ASSIGN_OR_RETURN(Value k, eval(key, scope));
      auto r = get_item(obj, k);
      if (!r.ok()) return located(r.status(), e.pos);
      return r;
    }
    case ExprKind::kSlice:
      return located(invalid_argument("slice outside of a subscript"), e.pos);
    case ExprKind::kCall: {
      EMBER_ASSIGN_OR_RETURN(Value callee, eval(*e.children[0], scope));
      EMBER_ASSIGN_OR_RETURN(CallArgs args, eval_call_args(e.call, scope));
      auto r = call(callee, std::move(args));
      if (!r.ok()) return located(r.status(), e.pos);
      return r;
    }
    case ExprKind::kFilter:
      return eval_filter(e, scope, std::nullopt);
    case ExprKind::kTest: {
      EMBER_ASSIGN_OR_RETURN(Value v, eval(*e.children[0], scope));
      EMBER_ASSIGN_OR_RETURN(CallArgs args, eval_call_args(e.call, scope));
      auto r = apply_test(e.name, v, std::move(args));
      if (!r.ok()) return located(r.status(), e.pos);
      return Value::boolean(*r);
    }
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      EMBER_ASSIGN_OR_RETURN(Value v, eval(*e.children[0], scope));
      auto r = e.kind == ExprKind::kNeg ? negate(v) : unary_plus(v);
      if (!r.ok()) return located(r.status(), e.pos);
      return r;
    }
    case ExprKind::kNot: {
      EMBER_ASSIGN_OR_RETURN(Value v, eval(*e.children[0], scope));
      return Value::boolean(!truthy(v));
    }
    case ExprKind::kAnd: {
      EMBER_ASSIGN_OR_RETURN(Value l, eval(*e.children[0], scope));
      if (!truthy(l)) return l;
      return eval(*e.children[1], scope);
    }
    case ExprKind::kOr: {
      EMBER_ASSIGN_OR_RETURN(Value l, eval(*e.children[0], scope));
      if (truthy(l)) return l;
      return eval(*e.children[1], scope);
    }
    case ExprKind::kBinary: {
      EMBER_ASSIGN_OR_RETURN(Value l, eval(*e.children[0], scope));
      EMBER_ASSIGN_OR_RETURN(Value r, eval(*e.children[1], scope));
      auto v = binary_op(e.bin_op, l, r);
      if (!v.ok()) return located(v.status(), e.pos);
      if (v->is_string()) {
        EMBER_RETURN_IF_ERROR(located(charge_bytes(v->str().size()), e.pos));
      } else if (v->is_list()) {
        EMBER_RETURN_IF_ERROR(
            located(charge(static_cast<int64_t>(v->list().items.size() / 8)), e.pos));
      }
      return v;
    }
    case ExprKind::kConcat: {
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
    case ExprKind::kCompare:
      return eval_compare(e, scope);
    case ExprKind::kCond: {
      EMBER_ASSIGN_OR_RETURN(Value t, eval(*e.children[0], scope));
      if (truthy(t)) return eval(*e.children[1], scope);
      if (e.children[2]) return eval(*e.children[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.pos.line) +
                              " evaluated to false and no else section was defined.");
    }
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(e.children.size());
      for (const auto& c : e.children) {
        EMBER_ASSIGN_OR_RETURN(Value v, eval(*c, scope));
        items.push_back(std::move(v));
      }
      return e.kind == ExprKind::kList ? Value::new_list(std::move(items))
                                       : Value::new_tuple(std::move(items));
    }
    case ExprKind::kDict: {
      Value d = Value::new_dict();
      for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
        EMBER_ASSIGN_OR_RETURN(Value k, eval(*e.children[i], scope));
        EMBER_ASSIGN_OR_RETURN(Value v, eval(*e.children[i + 1], scope));
        Status st = d.dict().set(std::move(k), std::move(v));
        if (!st.ok()) return located(st, e.children[i]->pos);
      }
      return d;
    }
  }
  return located(internal_error("unknown expression"), e.pos);
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

Result<Value> Interpreter::call_macro(const MacroObject& macro, CallArgs args) {
  if (call_depth_ >= config_.limits.max_call_depth) {
    return resource_exhausted("macro call nesting exceeds " +
                              std::to_string(config_.limits.max_call_depth) +
                              " (recursive macro?)");
  }
  ++call_depth_;
  struct Dec {
    int& d;
    ~Dec() { --d; }
  } dec{call_depth_};
  const Stmt& def = macro.def();
  const MacroSignature& sig = def.signature;
  auto scope = child_scope(macro.closure());
  const size_t n_params = sig.params.size();
  const size_t first_default = n_params - sig.defaults.size();
  const size_t n_positional = std::min(args.args.size(), n_params);
  for (size_t i = 0; i < n_positional; ++i) scope->set(sig.params[i], args.args[i]);
  bool found_caller = false;
  if (n_positional != n_params) {
    for (size_t i = n_positional; i < n_params; ++i) {
      const std::string& p = sig.params[i];
      if (p == "caller") found_caller = true;
      if (auto v = args.take_kwarg(p)) {
        scope->set(p, std::move(*v));
      } else if (i >= first_default) {
        EMBER_ASSIGN_OR_RETURN(Value d, eval(*sig.defaults[i - first_default], scope));
        scope->set(p, std::move(d));
      } else {
        scope->set(p, Value::undefined("parameter " + py_string_repr(p) + " was not provided"));
      }
    }
  } else {
    for (const auto& p : sig.params) found_caller = found_caller || p == "caller";
  }
  if (sig.uses_caller && !found_caller) {
    if (auto c = args.take_kwarg("caller")) {
      scope->set("caller", std::move(*c));
    } else {
      scope->set("caller", Value::undefined("No caller defined"));
    }
  }
  if (sig.catch_kwargs) {
    Value kw = Value::new_dict();
    for (auto& [k, v] : args.kwargs) kw.dict().set(k, std::move(v));
    scope->set("kwargs", std::move(kw));
  } else if (!args.kwargs.empty()) {
    if (args.kwargs.front().first == "caller") {
      return invalid_argument("macro " + py_string_repr(macro.name()) +
                              " was invoked with two values for the special caller argument. "
                              "This is most likely a bug.");
    }
    return invalid_argument("macro " + py_string_repr(macro.name()) +
                            " takes no keyword argument " +
                            py_string_repr(args.kwargs.front().first));
  }
  if (sig.catch_varargs) {
    std::vector<Value> extra;
    for (size_t i = n_params; i < args.args.size(); ++i) extra.push_back(args.args[i]);
    scope->set("varargs", Value::new_tuple(std::move(extra)));
  } else if (args.args.size() > n_params) {
    return invalid_argument("macro " + py_string_repr(macro.name()) + " takes not more than " +
                            std::to_string(n_params) + " argument(s)");
  }
  std::string out;
  EMBER_ASSIGN_OR_RETURN(Flow f, exec(def.body, scope, out));
  (void)f;
  return Value::string(std::move(out));
}

}  // namespace ember::jinja
