// Per-frame symbol analysis after jinja2/idtracking.py: within a frame, statements are visited
// in order; reads define a reference ("resolve" from the context) unless an enclosing frame
// already has one, writes define one that starts as the enclosing frame's value ("alias") or,
// when no enclosing frame knows the name, as missing. Names first seen inside an `if` branch
// never start missing (Jinja2 merges branches as "resolve"/"alias"). Nested frames see the
// complete reference set of every enclosing frame.
#include "chat/jinja/scoping.h"

#include <algorithm>
#include <set>

namespace ember::jinja {

namespace {

class FrameAnalysis {
 public:
  FrameAnalysis(const std::set<std::string>& outer, const std::vector<std::string>& params)
      : outer_(outer) {
    for (const auto& p : params) refs_.insert(p);
  }

  void visit_body(const Body& body) {
    for (const auto& s : body) visit_stmt(*s);
  }

  // Analyzes the frames nested in this one, once this frame's references are complete.
  void analyze_nested(Body& body) {
    std::set<std::string> known = outer_;
    known.insert(refs_.begin(), refs_.end());
    for (auto& s : body) nested_of(*s, known);
  }

  std::vector<std::string> undefined() const { return undefined_; }

 private:
  void load(const std::string& name) { refs_.insert(name); }

  void store(const std::string& name) {
    if (refs_.count(name)) return;
    refs_.insert(name);
    if (!outer_.count(name)) undefined_.push_back(name);
  }

  void visit_expr(const Expr* e) {
    if (e == nullptr) return;
    if (e->kind == ExprKind::kName || e->kind == ExprKind::kNsRef) load(e->name);
    for (const auto& c : e->children) visit_expr(c.get());
    for (const auto& a : e->call.args) visit_expr(a.get());
    for (const auto& k : e->call.kwargs) visit_expr(k.value.get());
    visit_expr(e->call.dyn_args.get());
    visit_expr(e->call.dyn_kwargs.get());
  }

  void visit_target(const Expr* t) {
    if (t == nullptr) return;
    switch (t->kind) {
      case ExprKind::kName:
        store(t->name);
        break;
      case ExprKind::kNsRef:
        load(t->name);
        break;
      case ExprKind::kTuple:
        for (const auto& c : t->children) visit_target(c.get());
        break;
      default:
        visit_expr(t);
    }
  }

  void visit_stmt(const Stmt& s) {
    switch (s.kind) {
      case StmtKind::kOutput:
        visit_expr(s.expr.get());
        break;
      case StmtKind::kSet:
        visit_expr(s.expr.get());
        visit_target(s.target.get());
        break;
      case StmtKind::kSetBlock:
        visit_target(s.target.get());
        break;
      case StmtKind::kFor:
        visit_expr(s.expr.get());
        break;
      case StmtKind::kMacro:
        store(s.text);
        break;
      case StmtKind::kCallBlock:
      case StmtKind::kFilterBlock:
        visit_expr(s.expr.get());
        break;
      case StmtKind::kWith:
        for (const auto& [target, value] : s.with_assignments) visit_expr(value.get());
        break;
      case StmtKind::kIf: {
        visit_expr(s.branches[0].first.get());
        // Each branch is analyzed on a copy; whatever it defines joins this frame as a reference
        // that does not start missing (elif tests belong to their branch, as in Jinja2).
        std::set<std::string> added;
        auto branch = [&](const Expr* test, const Body& body) {
          FrameAnalysis copy = *this;
          copy.undefined_.clear();
          copy.visit_expr(test);
          copy.visit_body(body);
          for (const auto& n : copy.refs_) {
            if (!refs_.count(n)) added.insert(n);
          }
        };
        branch(nullptr, s.branches[0].second);
        for (size_t i = 1; i < s.branches.size(); ++i) {
          branch(s.branches[i].first.get(), s.branches[i].second);
        }
        branch(nullptr, s.else_body);
        refs_.insert(added.begin(), added.end());
        break;
      }
      default:
        break;
    }
  }

  // Frames nested in statement `s` (directly at this level or inside its if-branches).
  static void nested_of(Stmt& s, const std::set<std::string>& known) {
    auto sub = [&](Body& body, const std::vector<std::string>& params) {
      FrameAnalysis f(known, params);
      f.visit_body(body);
      f.analyze_nested(body);
      return f.undefined();
    };
    auto target_names = [](const Expr* t, std::vector<std::string>& out) {
      if (t == nullptr) return;
      if (t->kind == ExprKind::kName) out.push_back(t->name);
      for (const auto& c : t->children) {
        if (c && c->kind == ExprKind::kName) out.push_back(c->name);
      }
    };
    switch (s.kind) {
      case StmtKind::kIf:
        for (auto& [test, body] : s.branches) {
          for (auto& inner : body) nested_of(*inner, known);
        }
        for (auto& inner : s.else_body) nested_of(*inner, known);
        break;
      case StmtKind::kFor: {
        std::vector<std::string> params;
        target_names(s.target.get(), params);
        params.push_back("loop");
        s.frame_undefined = sub(s.body, params);
        s.else_frame_undefined = sub(s.else_body, {});
        break;
      }
      case StmtKind::kMacro:
      case StmtKind::kCallBlock: {
        std::vector<std::string> params = s.signature.params;
        for (const char* special : {"varargs", "kwargs", "caller"}) params.push_back(special);
        s.frame_undefined = sub(s.body, params);
        break;
      }
      case StmtKind::kWith: {
        std::vector<std::string> params;
        for (const auto& [target, value] : s.with_assignments) target_names(target.get(), params);
        s.frame_undefined = sub(s.body, params);
        break;
      }
      case StmtKind::kSetBlock:
      case StmtKind::kFilterBlock:
      case StmtKind::kBlock:
      case StmtKind::kGeneration:
        s.frame_undefined = sub(s.body, {});
        break;
      default:
        break;
    }
  }

  const std::set<std::string>& outer_;
  std::set<std::string> refs_;
  std::vector<std::string> undefined_;
};

}  // namespace

std::vector<std::string> analyze_scopes(Body& body) {
  const std::set<std::string> none;
  FrameAnalysis root(none, {});
  root.visit_body(body);
  root.analyze_nested(body);
  return root.undefined();
}

}  // namespace ember::jinja
