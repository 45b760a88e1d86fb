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

std::shared_ptr<Scope> Interpreter::frame_scope(const std::shared_ptr<Scope>& parent,
                                                const std::vector<std::string>& undefined) {
  auto s = child_scope(parent);
  for (const auto& name : undefined) {
    s->set(name, Value::undefined(py_string_repr(name) + " is undefined"));
  }
  return s;
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
                                        const std::vector<std::string>& root_undefined,
                                        const std::vector<std::pair<std::string, Value>>& context) {
  auto globals = std::make_shared<Scope>(nullptr);
  track(globals);
  for (auto& [k, v] : builtin_globals()) globals->set(k, std::move(v));
  auto ctx = child_scope(globals);
  for (const auto& [k, v] : context) ctx->set(k, v);
  auto root = frame_scope(ctx, root_undefined);
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
    case StmtKind::kText:
      EMBER_RETURN_IF_ERROR(located(append_output(out, s.text), s.pos));
      return Flow::kNormal;
    case StmtKind::kOutput:
      return exec_output(s, scope, out);
    case StmtKind::kIf:
      return exec_if(s, scope, out);
    case StmtKind::kFor:
      return exec_for(s, scope, out);
    case StmtKind::kSet:
      return exec_set(s, scope);
    case StmtKind::kSetBlock:
    case StmtKind::kFilterBlock:
      return exec_captured(s, scope, out);
    case StmtKind::kMacro:
      scope->set(s.text, Value::object(std::make_shared<MacroObject>(s.text, &s, scope)));
      return Flow::kNormal;
    case StmtKind::kCallBlock:
      return exec_call_block(s, scope, out);
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
    case StmtKind::kWith:
    case StmtKind::kBlock:
    case StmtKind::kGeneration:
      return exec_scoped(s, scope, out);
  }
  return Flow::kNormal;
}

Result<Flow> Interpreter::exec_output(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                      std::string& out) {
  EMBER_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
  EMBER_RETURN_IF_ERROR(located(append_output(out, v.is_string() ? v.str() : py_str(v)), s.pos));
  return Flow::kNormal;
}

Result<Flow> Interpreter::exec_if(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                  std::string& out) {
  for (const auto& [test, body] : s.branches) {
    EMBER_ASSIGN_OR_RETURN(Value t, eval(*test, scope));
    if (truthy(t)) return exec(body, scope, out);
  }
  return exec(s.else_body, scope, out);
}

Result<Flow> Interpreter::exec_set(const Stmt& s, const std::shared_ptr<Scope>& scope) {
  EMBER_ASSIGN_OR_RETURN(Value v, eval(*s.expr, scope));
  EMBER_RETURN_IF_ERROR(assign(*s.target, std::move(v), scope));
  return Flow::kNormal;
}

// {% set x %}...{% endset %} and {% filter f %}...{% endfilter %}: the body renders into a
// buffer in its own scope; break/continue inside it abandon the buffer.
Result<Flow> Interpreter::exec_captured(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                        std::string& out) {
  std::string buf;
  EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, frame_scope(scope, s.frame_undefined), buf));
  if (f != Flow::kNormal) return f;
  Value v = Value::string(std::move(buf));
  if (s.expr) {
    EMBER_ASSIGN_OR_RETURN(v, eval_filter(*s.expr, scope, std::move(v)));
  }
  if (s.kind == StmtKind::kSetBlock) {
    EMBER_RETURN_IF_ERROR(assign(*s.target, std::move(v), scope));
  } else {
    EMBER_RETURN_IF_ERROR(located(append_output(out, v.is_string() ? v.str() : py_str(v)), s.pos));
  }
  return Flow::kNormal;
}

Result<Flow> Interpreter::exec_call_block(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                          std::string& out) {
  const Expr& call_expr = *s.expr;
  EMBER_ASSIGN_OR_RETURN(Value callee, eval(*call_expr.children[0], scope));
  EMBER_ASSIGN_OR_RETURN(CallArgs args, eval_call_args(call_expr.call, scope));
  args.kwargs.emplace_back("caller",
                           Value::object(std::make_shared<MacroObject>("caller", &s, scope)));
  auto r = call(callee, std::move(args));
  if (!r.ok()) return located(r.status(), call_expr.pos);
  EMBER_RETURN_IF_ERROR(located(append_output(out, r->is_string() ? r->str() : py_str(*r)), s.pos));
  return Flow::kNormal;
}

// with, block and generation bodies run in a child scope.
Result<Flow> Interpreter::exec_scoped(const Stmt& s, const std::shared_ptr<Scope>& scope,
                                      std::string& out) {
  if (s.kind == StmtKind::kWith) {
    std::vector<Value> values;
    for (const auto& [target, value] : s.with_assignments) {
      EMBER_ASSIGN_OR_RETURN(Value v, eval(*value, scope));
      values.push_back(std::move(v));
    }
    auto inner = frame_scope(scope, s.frame_undefined);
    for (size_t i = 0; i < values.size(); ++i) {
      EMBER_RETURN_IF_ERROR(assign(*s.with_assignments[i].first, std::move(values[i]), inner));
    }
    return exec(s.body, inner, out);
  }
  // Blocks see the template's top-level variables, not the enclosing loop or macro scope.
  auto inner = frame_scope(s.kind == StmtKind::kBlock && root_ ? root_ : scope, s.frame_undefined);
  EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, inner, out));
  (void)f;
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
  // Jinja2 clears its "no iteration" flag at the end of the loop body, so the else block also
  // runs when every iteration left early through continue (or the first one through break).
  bool completed = false;
  while (true) {
    EMBER_ASSIGN_OR_RETURN(std::optional<Value> item, loop->advance());
    if (!item) break;
    if (++iterations_ > config_.limits.max_loop_iterations) {
      return located(resource_exhausted("template exceeded " +
                                        std::to_string(config_.limits.max_loop_iterations) +
                                        " loop iterations"),
                     s.pos);
    }
    auto iter_scope = frame_scope(scope, s.frame_undefined);
    EMBER_RETURN_IF_ERROR(located(assign(*s.target, *item, iter_scope), s.target->pos));
    iter_scope->set("loop", Value::object(loop));
    EMBER_ASSIGN_OR_RETURN(Flow f, exec(s.body, iter_scope, out));
    if (f == Flow::kBreak) break;
    if (f == Flow::kNormal) completed = true;
  }
  if (!completed) {
    // The else block runs in its own scope, like Jinja2's else frame.
    EMBER_ASSIGN_OR_RETURN(Flow f,
                           exec(s.else_body, frame_scope(scope, s.else_frame_undefined), out));
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
  auto scope = frame_scope(macro.closure(), def.frame_undefined);
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
