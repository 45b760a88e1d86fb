// The Jinja tree-walking interpreter: scopes, statements, expressions, macros and loops, with
// Jinja2's semantics as Hugging Face transformers configures it, and hard limits so that no
// template can hang, recurse without bound or allocate without bound.
//
// Scoping follows Jinja2: a for-loop iteration, macro call, filter block, block set and `with`
// get a fresh child scope (so `{% set %}` inside them does not leak out; use namespace()),
// while `if` does not create one. Entering a frame binds the names Jinja2's compiler would
// treat as not-yet-assigned locals to Undefined (scoping.h).
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/value.h"

namespace ember::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{32} << 20;  // all text rendered, nested buffers included
  int max_call_depth = 64;                     // nested macro / caller() / recursive loop calls
  int max_eval_depth = 500;                    // nested expression and statement evaluation
  int64_t max_loop_iterations = 1'000'000;     // for-loop iterations in one render
  int64_t max_range = 1'000'000;               // items one range() call may produce
  int64_t max_steps = 100'000'000;             // work units (nodes evaluated + bytes built / 64)
};

struct RenderOptions {
  RenderLimits limits;
  // Time strftime_now() formats; unset means the current local time.
  std::optional<std::tm> now;
  // Hugging Face renders with ImmutableSandboxedEnvironment, which refuses list.append,
  // dict.update and the other mutating methods. ember allows them unless this is set.
  bool immutable_sandbox = false;
};

// A variable scope; lookups walk up the parent chain.
class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  const Value* lookup(std::string_view name) const;
  void set(std::string_view name, Value value);
  void clear() { vars_.clear(); }
  const std::shared_ptr<Scope>& parent() const { return parent_; }

 private:
  std::shared_ptr<Scope> parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};

class MacroObject;
class LoopObject;
class Interpreter;

// Counts nested evaluation frames (expressions and statements) against max_eval_depth.
class EvalGuard {
 public:
  explicit EvalGuard(Interpreter& i);
  ~EvalGuard();
  bool exceeded() const;

 private:
  Interpreter& i_;
};

enum class Flow { kNormal, kBreak, kContinue };

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& config);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders a template body with `context` variables on top of the builtin globals;
  // `root_undefined` are the names that start undefined in the top-level frame (scoping.h).
  Result<std::string> render(const Body& body, const std::vector<std::string>& root_undefined,
                             const std::vector<std::pair<std::string, Value>>& context);

  // ---- services for filters, tests, methods and builtins --------------------------------------
  const RenderOptions& config() const { return config_; }
  // Jinja2's environment.getattr / getitem (sandboxed: only data and known methods).
  Result<Value> get_attr(const Value& obj, std::string_view name);
  Result<Value> get_item(const Value& obj, const Value& key);
  // Calls any callable value.
  Result<Value> call(const Value& callee, CallArgs args);
  Result<Value> apply_filter(std::string_view name, Value subject, CallArgs args);
  Result<bool> apply_test(std::string_view name, const Value& subject, CallArgs args);
  // Work accounting: `units` steps (bytes built count 1/64 each via charge_bytes).
  Status charge(int64_t units);
  Status charge_bytes(size_t bytes) { return charge(static_cast<int64_t>(bytes / 64)); }
  // Registers a container or scope so reference cycles through it are broken after the render.
  void track(const Value& v);
  void track(const std::shared_ptr<Scope>& scope);

  // ---- used by MacroObject and LoopObject
  // ---------------------------------------------------------
  Result<Value> call_macro(const MacroObject& macro, CallArgs args);
  Result<std::string> run_loop(const Stmt& stmt, const Value& iterable,
                               const std::shared_ptr<Scope>& scope, int depth0);
  Result<bool> loop_filter_accepts(const Stmt& stmt, const std::shared_ptr<Scope>& scope,
                                   const Value& item);

 private:
  friend class EvalGuard;
  Result<Value> eval(const Expr& e, const std::shared_ptr<Scope>& scope);
  // One function per expression kind keeps each recursion frame small.
  Result<Value> eval_name(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_getattr(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_getitem(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_call(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_test(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_unary(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_logic(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_binary(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_concat(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_cond(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_collection(const Expr& e, const std::shared_ptr<Scope>& scope);
  Result<Flow> exec(const Body& body, const std::shared_ptr<Scope>& scope, std::string& out);
  Result<Flow> exec_stmt(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Result<Flow> exec_output(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Result<Flow> exec_if(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Result<Flow> exec_set(const Stmt& s, const std::shared_ptr<Scope>& scope);
  Result<Flow> exec_captured(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Result<Flow> exec_call_block(const Stmt& s, const std::shared_ptr<Scope>& scope,
                               std::string& out);
  Result<Flow> exec_scoped(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Result<Flow> exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
  Result<Flow> exec_loop(const Stmt& s, const Value& iterable, const std::shared_ptr<Scope>& scope,
                         std::string& out, int depth0);
  Status assign(const Expr& target, Value value, const std::shared_ptr<Scope>& scope);
  Result<CallArgs> eval_call_args(const CallSpec& spec, const std::shared_ptr<Scope>& scope);
  Result<Value> eval_filter(const Expr& e, const std::shared_ptr<Scope>& scope,
                            std::optional<Value> subject);
  Result<Value> eval_compare(const Expr& e, const std::shared_ptr<Scope>& scope);
  Status append_output(std::string& out, std::string_view text);
  Status located(const Status& s, SourcePos pos) const;
  std::shared_ptr<Scope> child_scope(const std::shared_ptr<Scope>& parent);
  // A child scope for a new frame, with the frame's initially-undefined names bound.
  std::shared_ptr<Scope> frame_scope(const std::shared_ptr<Scope>& parent,
                                     const std::vector<std::string>& undefined);

  RenderOptions config_;
  std::shared_ptr<Scope> root_;  // the template's top-level scope
  int64_t steps_ = 0;
  int64_t iterations_ = 0;
  size_t output_bytes_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
  std::vector<std::weak_ptr<Scope>> scopes_;
  std::vector<std::weak_ptr<void>> containers_;
  std::vector<int> container_kinds_;  // 0 list, 1 dict, 2 object
  size_t prune_at_ = 1024;
};

// A macro (or the `caller` of a call block): a body with a signature and the scope it was
// defined in.
class MacroObject : public Object {
 public:
  MacroObject(std::string name, const Stmt* def, std::shared_ptr<Scope> closure)
      : name_(std::move(name)), def_(def), closure_(std::move(closure)) {}
  std::string type_name() const override { return "Macro"; }
  std::string type_repr() const override { return "jinja2.runtime.Macro object"; }
  std::string repr() const override { return "<Macro '" + name_ + "'>"; }
  bool callable() const override { return true; }
  Result<Value> call(Interpreter& interp, CallArgs args) override {
    return interp.call_macro(*this, std::move(args));
  }
  Result<std::optional<Value>> get_attr(Interpreter& interp, std::string_view name) override;

  const std::string& name() const { return name_; }
  const Stmt& def() const { return *def_; }
  const std::shared_ptr<Scope>& closure() const { return closure_; }

 private:
  std::string name_;
  const Stmt* def_;
  std::shared_ptr<Scope> closure_;
};

// A Python-level callable implemented in C++ (builtin globals, bound methods).
class NativeFunction : public Object {
 public:
  using Fn = Result<Value> (*)(Interpreter&, const Value& self, CallArgs&);
  NativeFunction(std::string name, Fn fn, Value self = Value())
      : name_(std::move(name)), fn_(fn), self_(std::move(self)) {}
  std::string type_name() const override { return "builtin_function_or_method"; }
  std::string repr() const override;
  bool callable() const override { return true; }
  Result<Value> call(Interpreter& interp, CallArgs args) override {
    return fn_(interp, self_, args);
  }

 private:
  std::string name_;
  Fn fn_;
  Value self_;
};

// jinja2.utils.Namespace: attribute bag that `{% set ns.attr = ... %}` may modify.
class NamespaceObject : public Object {
 public:
  std::string type_name() const override { return "Namespace"; }
  std::string type_repr() const override { return "jinja2.utils.Namespace object"; }
  std::string repr() const override;
  bool is_namespace() const override { return true; }
  Result<std::optional<Value>> get_attr(Interpreter& interp, std::string_view name) override;
  Status set_attr(std::string_view name, Value value) override;
  DictData& attrs() { return attrs_; }
  void clear() { attrs_.entries().clear(); }

 private:
  DictData attrs_;
};

// "line L, column C: message" for runtime errors.
std::string location_prefix(SourcePos pos);

}  // namespace ember::jinja
