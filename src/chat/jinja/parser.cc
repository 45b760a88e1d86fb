// Recursive-descent parser over the lexer's tokens.
#include "chat/jinja/parser.h"

#include <functional>

namespace ember::jinja {

namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::kData:
      return "template data / text";
    case TokenType::kVariableBegin:
      return "begin of print statement";
    case TokenType::kVariableEnd:
      return "end of print statement";
    case TokenType::kBlockBegin:
      return "begin of statement block";
    case TokenType::kBlockEnd:
      return "end of statement block";
    case TokenType::kName:
      return t.value;
    case TokenType::kString:
      return "string";
    case TokenType::kInteger:
      return "integer";
    case TokenType::kFloat:
      return "float";
    case TokenType::kOperator:
      return t.value;
    case TokenType::kEof:
      return "end of template";
  }
  return "token";
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const ParseOptions& options)
      : toks_(std::move(tokens)), opt_(options) {}

  Result<Body> parse_root() {
    Body body;
    EMBER_RETURN_IF_ERROR(subparse(body, {}));
    if (cur().type != TokenType::kEof) return unexpected(cur());
    return body;
  }

 private:
  // Depth guard shared by expressions and statements.
  struct Nest {
    explicit Nest(Parser& p) : p_(p) { ++p_.depth_; }
    ~Nest() { --p_.depth_; }
    Parser& p_;
  };
  Status check_depth() const {
    if (depth_ > opt_.max_nesting) {
      return syntax_error(
          cur().pos, "template nesting too deep (limit " + std::to_string(opt_.max_nesting) + ")");
    }
    return Status::Ok();
  }

  const Token& cur() const { return toks_[idx_]; }
  const Token& look() const { return toks_[std::min(idx_ + 1, toks_.size() - 1)]; }
  void advance() {
    if (idx_ + 1 < toks_.size()) ++idx_;
  }
  bool is_op(std::string_view op) const {
    return cur().type == TokenType::kOperator && cur().value == op;
  }
  bool is_name(std::string_view name) const {
    return cur().type == TokenType::kName && cur().value == name;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  Status unexpected(const Token& t) const {
    if (t.type == TokenType::kEof) return eof_error();
    return syntax_error(t.pos, "unexpected '" + describe(t) + "'");
  }
  Status eof_error() const {
    std::string m = "Unexpected end of template.";
    if (!end_stack_.empty()) {
      m += " Jinja was looking for the following tags: ";
      const auto& ends = end_stack_.back();
      for (size_t i = 0; i < ends.size(); ++i) {
        if (i) m += " or ";
        m += "'" + ends[i] + "'";
      }
      m += ".";
    }
    if (!tag_stack_.empty()) {
      m += " The innermost block that needs to be closed is '" + tag_stack_.back() + "'.";
    }
    return syntax_error(cur().pos, m);
  }
  Status expect_op(std::string_view op) {
    if (skip_op(op)) return Status::Ok();
    if (cur().type == TokenType::kEof) return eof_error();
    return syntax_error(cur().pos,
                        "expected token '" + std::string(op) + "', got '" + describe(cur()) + "'");
  }
  Status expect_type(TokenType type, std::string_view what) {
    if (cur().type == type) {
      advance();
      return Status::Ok();
    }
    if (cur().type == TokenType::kEof) return eof_error();
    return syntax_error(
        cur().pos, "expected token '" + std::string(what) + "', got '" + describe(cur()) + "'");
  }
  Result<std::string> expect_name() {
    if (cur().type != TokenType::kName) {
      if (cur().type == TokenType::kEof) return eof_error();
      return syntax_error(cur().pos, "expected token 'name', got '" + describe(cur()) + "'");
    }
    std::string n = cur().value;
    advance();
    return n;
  }

  // Records the height of a finished node and rejects trees taller than max_nesting: chains
  // built by loops (a + b + c ..., x.a.b.c ..., x|f|g ...) would otherwise make every later
  // recursive walk (evaluation, destruction) arbitrarily deep.
  Status seal(Expr& e) const {
    int h = 0;
    for (const auto& c : e.children) {
      if (c) h = std::max(h, c->height);
    }
    for (const auto& a : e.call.args) h = std::max(h, a->height);
    for (const auto& k : e.call.kwargs) h = std::max(h, k.value->height);
    if (e.call.dyn_args) h = std::max(h, e.call.dyn_args->height);
    if (e.call.dyn_kwargs) h = std::max(h, e.call.dyn_kwargs->height);
    e.height = h + 1;
    if (e.height > opt_.max_nesting) {
      return syntax_error(
          e.pos, "expression nested too deeply (limit " + std::to_string(opt_.max_nesting) + ")");
    }
    return Status::Ok();
  }

  static ExprPtr make(ExprKind kind, SourcePos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }

  // ---- statements ----------------------------------------------------------------------------

  Status subparse(Body& body, std::vector<std::string> end_tokens);
  Result<std::vector<StmtPtr>> parse_statement();
  Status parse_statements(Body& body, std::vector<std::string> end_tokens, bool drop_needle);
  Result<StmtPtr> parse_for(SourcePos pos);
  Result<StmtPtr> parse_if(SourcePos pos);
  Result<StmtPtr> parse_set(SourcePos pos);
  Result<StmtPtr> parse_macro(SourcePos pos);
  Result<StmtPtr> parse_call_block(SourcePos pos);
  Result<StmtPtr> parse_filter_block(SourcePos pos);
  Result<StmtPtr> parse_with(SourcePos pos);
  Status parse_signature(MacroSignature& sig);

  // ---- expressions ---------------------------------------------------------------------------

  Result<ExprPtr> parse_expression(bool with_condexpr = true) {
    return with_condexpr ? parse_condexpr() : parse_or();
  }
  Result<ExprPtr> parse_condexpr();
  Result<ExprPtr> parse_or();
  Result<ExprPtr> parse_and();
  Result<ExprPtr> parse_not();
  Result<ExprPtr> parse_compare();
  Result<ExprPtr> parse_math1();
  Result<ExprPtr> parse_concat();
  Result<ExprPtr> parse_math2();
  Result<ExprPtr> parse_pow();
  Result<ExprPtr> parse_unary(bool with_filter);
  Result<ExprPtr> parse_primary(bool with_namespace = false);
  Result<ExprPtr> parse_tuple(bool simplified, bool with_condexpr,
                              const std::vector<std::string>& extra_end, bool explicit_parens,
                              bool with_namespace = false);
  Result<ExprPtr> parse_list();
  Result<ExprPtr> parse_dict();
  Result<ExprPtr> parse_postfix(ExprPtr node);
  Result<ExprPtr> parse_filter_expr(ExprPtr node);
  Result<ExprPtr> parse_subscript(ExprPtr node);
  Result<ExprPtr> parse_subscribed();
  Status parse_call_args(CallSpec& spec);
  Result<ExprPtr> parse_filter(ExprPtr node, bool start_inline);
  Result<ExprPtr> parse_test(ExprPtr node);
  Result<ExprPtr> parse_assign_target(bool with_tuple, bool name_only,
                                      const std::vector<std::string>& extra_end,
                                      bool with_namespace);

  bool is_tuple_end(const std::vector<std::string>& extra_end) const {
    if (cur().type == TokenType::kVariableEnd || cur().type == TokenType::kBlockEnd || is_op(")")) {
      return true;
    }
    for (const auto& e : extra_end) {
      if (is_name(e)) return true;
    }
    return false;
  }

  std::vector<Token> toks_;
  const ParseOptions& opt_;
  size_t idx_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;  // for break/continue validation
  std::vector<std::vector<std::string>> end_stack_;
  std::vector<std::string> tag_stack_;
};

Status Parser::subparse(Body& body, std::vector<std::string> end_tokens) {
  const bool pushed = !end_tokens.empty();
  if (pushed) end_stack_.push_back(end_tokens);
  struct Pop {
    Parser* p;
    bool active;
    ~Pop() {
      if (active) p->end_stack_.pop_back();
    }
  } pop{this, pushed};
  while (cur().type != TokenType::kEof) {
    const Token& t = cur();
    if (t.type == TokenType::kData) {
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::kText;
      s->pos = t.pos;
      s->text = t.value;
      body.push_back(std::move(s));
      advance();
    } else if (t.type == TokenType::kVariableBegin) {
      const SourcePos pos = t.pos;
      advance();
      EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_tuple(false, true, {}, false));
      EMBER_RETURN_IF_ERROR(expect_type(TokenType::kVariableEnd, "end of print statement"));
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::kOutput;
      s->pos = pos;
      s->expr = std::move(e);
      body.push_back(std::move(s));
    } else if (t.type == TokenType::kBlockBegin) {
      advance();
      for (const auto& e : end_tokens) {
        if (is_name(e)) return Status::Ok();
      }
      EMBER_ASSIGN_OR_RETURN(auto stmts, parse_statement());
      for (auto& s : stmts) body.push_back(std::move(s));
      EMBER_RETURN_IF_ERROR(expect_type(TokenType::kBlockEnd, "end of statement block"));
    } else {
      return unexpected(t);
    }
  }
  return Status::Ok();
}

Status Parser::parse_statements(Body& body, std::vector<std::string> end_tokens, bool drop_needle) {
  skip_op(":");
  EMBER_RETURN_IF_ERROR(expect_type(TokenType::kBlockEnd, "end of statement block"));
  EMBER_RETURN_IF_ERROR(subparse(body, end_tokens));
  if (cur().type == TokenType::kEof) {
    end_stack_.push_back(end_tokens);
    Status s = eof_error();
    end_stack_.pop_back();
    return s;
  }
  if (drop_needle) advance();
  return Status::Ok();
}

Result<std::vector<StmtPtr>> Parser::parse_statement() {
  Nest nest(*this);
  EMBER_RETURN_IF_ERROR(check_depth());
  const Token& t = cur();
  if (t.type != TokenType::kName) {
    if (t.type == TokenType::kEof) return eof_error();
    return syntax_error(t.pos, "tag name expected");
  }
  const std::string tag = t.value;
  const SourcePos pos = t.pos;
  tag_stack_.push_back(tag);
  struct PopTag {
    Parser* p;
    ~PopTag() { p->tag_stack_.pop_back(); }
  } pop{this};
  std::vector<StmtPtr> out;
  Result<StmtPtr> r = StmtPtr();
  if (tag == "for") {
    r = parse_for(pos);
  } else if (tag == "if") {
    r = parse_if(pos);
  } else if (tag == "set") {
    r = parse_set(pos);
  } else if (tag == "macro") {
    r = parse_macro(pos);
  } else if (tag == "call") {
    r = parse_call_block(pos);
  } else if (tag == "filter") {
    r = parse_filter_block(pos);
  } else if (tag == "with") {
    r = parse_with(pos);
  } else if (tag == "print") {
    advance();
    while (cur().type != TokenType::kBlockEnd) {
      if (!out.empty()) EMBER_RETURN_IF_ERROR(expect_op(","));
      EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_expression());
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::kOutput;
      s->pos = pos;
      s->expr = std::move(e);
      out.push_back(std::move(s));
    }
    return out;
  } else if (tag == "break" || tag == "continue") {
    advance();
    if (loop_depth_ == 0) {
      return syntax_error(pos, "'" + tag + "' outside loop");
    }
    auto s = std::make_unique<Stmt>();
    s->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
    s->pos = pos;
    out.push_back(std::move(s));
    return out;
  } else if (tag == "generation") {
    advance();
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::kGeneration;
    s->pos = pos;
    const int saved_loop = loop_depth_;
    loop_depth_ = 0;  // the body is rendered like a caller() macro
    Status st = parse_statements(s->body, {"endgeneration"}, true);
    loop_depth_ = saved_loop;
    EMBER_RETURN_IF_ERROR(st);
    out.push_back(std::move(s));
    return out;
  } else if (tag == "block") {
    advance();
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::kBlock;
    s->pos = pos;
    EMBER_ASSIGN_OR_RETURN(s->text, expect_name());
    skip_name("scoped");
    skip_name("required");
    const int saved_loop = loop_depth_;
    loop_depth_ = 0;
    EMBER_RETURN_IF_ERROR(parse_statements(s->body, {"endblock"}, true));
    loop_depth_ = saved_loop;
    skip_name(s->text);
    out.push_back(std::move(s));
    return out;
  } else if (tag == "extends" || tag == "include" || tag == "import" || tag == "from") {
    return syntax_error(pos, "'" + tag +
                                 "' is not supported: chat templates are rendered standalone, "
                                 "without a template loader");
  } else if (tag == "autoescape") {
    return syntax_error(pos, "'autoescape' blocks are not supported");
  } else {
    std::string m = "Encountered unknown tag '" + tag + "'.";
    if (!end_stack_.empty()) {
      bool expected = false;
      for (const auto& ends : end_stack_) {
        for (const auto& e : ends) expected = expected || e == tag;
      }
      std::string looking;
      for (size_t i = 0; i < end_stack_.back().size(); ++i) {
        if (i) looking += " or ";
        looking += "'" + end_stack_.back()[i] + "'";
      }
      if (expected) {
        m += " You probably made a nesting mistake. Jinja is expecting this tag, but currently "
             "looking for " +
             looking + ".";
      } else {
        m += " Jinja was looking for the following tags: " + looking + ".";
      }
    }
    if (tag_stack_.size() > 1) {
      m += " The innermost block that needs to be closed is '" + tag_stack_[tag_stack_.size() - 2] +
           "'.";
    }
    return syntax_error(pos, m);
  }
  if (!r.ok()) return r.status();
  out.push_back(std::move(r).value());
  return out;
}

Result<StmtPtr> Parser::parse_for(SourcePos pos) {
  advance();  // for
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::kFor;
  s->pos = pos;
  EMBER_ASSIGN_OR_RETURN(s->target, parse_assign_target(true, false, {"in"}, false));
  if (!skip_name("in")) {
    if (cur().type == TokenType::kEof) return eof_error();
    return syntax_error(cur().pos, "expected token 'in', got '" + describe(cur()) + "'");
  }
  EMBER_ASSIGN_OR_RETURN(s->expr, parse_tuple(false, false, {"recursive"}, false));
  if (skip_name("if")) {
    EMBER_ASSIGN_OR_RETURN(s->test, parse_expression());
  }
  s->recursive = skip_name("recursive");
  ++loop_depth_;
  Status st = parse_statements(s->body, {"endfor", "else"}, false);
  --loop_depth_;
  EMBER_RETURN_IF_ERROR(st);
  const bool is_endfor = is_name("endfor");
  advance();
  if (!is_endfor) {
    EMBER_RETURN_IF_ERROR(parse_statements(s->else_body, {"endfor"}, true));
  }
  return s;
}

Result<StmtPtr> Parser::parse_if(SourcePos pos) {
  advance();  // if
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::kIf;
  s->pos = pos;
  while (true) {
    EMBER_ASSIGN_OR_RETURN(ExprPtr test, parse_tuple(false, false, {}, false));
    Body body;
    EMBER_RETURN_IF_ERROR(parse_statements(body, {"elif", "else", "endif"}, false));
    s->branches.emplace_back(std::move(test), std::move(body));
    const std::string which = cur().value;
    advance();
    if (which == "elif") continue;
    if (which == "else") {
      EMBER_RETURN_IF_ERROR(parse_statements(s->else_body, {"endif"}, true));
    }
    break;
  }
  return s;
}

Result<StmtPtr> Parser::parse_set(SourcePos pos) {
  advance();  // set
  auto s = std::make_unique<Stmt>();
  s->pos = pos;
  EMBER_ASSIGN_OR_RETURN(s->target, parse_assign_target(true, false, {}, true));
  if (skip_op("=")) {
    s->kind = StmtKind::kSet;
    EMBER_ASSIGN_OR_RETURN(s->expr, parse_tuple(false, true, {}, false));
    return s;
  }
  s->kind = StmtKind::kSetBlock;
  if (is_op("|")) {
    EMBER_ASSIGN_OR_RETURN(s->expr, parse_filter(nullptr, false));
  }
  EMBER_RETURN_IF_ERROR(parse_statements(s->body, {"endset"}, true));
  return s;
}

// Names a body reads, for a macro's varargs/kwargs/caller detection (Jinja2 scans the body for
// these undeclared names).
void collect_names(const Expr* e, std::vector<std::string>& out);
void collect_names(const Body& body, std::vector<std::string>& out);

void collect_call(const CallSpec& c, std::vector<std::string>& out) {
  for (const auto& a : c.args) collect_names(a.get(), out);
  for (const auto& k : c.kwargs) collect_names(k.value.get(), out);
  collect_names(c.dyn_args.get(), out);
  collect_names(c.dyn_kwargs.get(), out);
}

void collect_names(const Expr* e, std::vector<std::string>& out) {
  if (e == nullptr) return;
  if (e->kind == ExprKind::kName) out.push_back(e->name);
  for (const auto& c : e->children) collect_names(c.get(), out);
  collect_call(e->call, out);
}

void collect_names(const Body& body, std::vector<std::string>& out) {
  for (const auto& s : body) {
    collect_names(s->expr.get(), out);
    collect_names(s->test.get(), out);
    for (const auto& [t, b] : s->branches) {
      collect_names(t.get(), out);
      collect_names(b, out);
    }
    collect_names(s->body, out);
    collect_names(s->else_body, out);
    for (const auto& d : s->signature.defaults) collect_names(d.get(), out);
    for (const auto& [t, v] : s->with_assignments) collect_names(v.get(), out);
  }
}

void analyze_signature(MacroSignature& sig, const Body& body) {
  std::vector<std::string> names;
  collect_names(body, names);
  for (const auto& n : names) {
    if (n == "varargs") sig.catch_varargs = true;
    if (n == "kwargs") sig.catch_kwargs = true;
    if (n == "caller") sig.uses_caller = true;
  }
}

Status Parser::parse_signature(MacroSignature& sig) {
  EMBER_RETURN_IF_ERROR(expect_op("("));
  while (!is_op(")")) {
    if (!sig.params.empty()) EMBER_RETURN_IF_ERROR(expect_op(","));
    EMBER_ASSIGN_OR_RETURN(std::string name, expect_name());
    if (skip_op("=")) {
      EMBER_ASSIGN_OR_RETURN(ExprPtr d, parse_expression());
      sig.defaults.push_back(std::move(d));
    } else if (!sig.defaults.empty()) {
      return syntax_error(cur().pos, "non-default argument follows default argument");
    }
    sig.params.push_back(std::move(name));
  }
  return expect_op(")");
}

Result<StmtPtr> Parser::parse_macro(SourcePos pos) {
  advance();  // macro
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::kMacro;
  s->pos = pos;
  EMBER_ASSIGN_OR_RETURN(s->text, expect_name());
  EMBER_RETURN_IF_ERROR(parse_signature(s->signature));
  const int saved_loop = loop_depth_;
  loop_depth_ = 0;
  Status st = parse_statements(s->body, {"endmacro"}, true);
  loop_depth_ = saved_loop;
  EMBER_RETURN_IF_ERROR(st);
  analyze_signature(s->signature, s->body);
  return s;
}

Result<StmtPtr> Parser::parse_call_block(SourcePos pos) {
  advance();  // call
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::kCallBlock;
  s->pos = pos;
  if (is_op("(")) EMBER_RETURN_IF_ERROR(parse_signature(s->signature));
  EMBER_ASSIGN_OR_RETURN(s->expr, parse_expression());
  if (s->expr->kind != ExprKind::kCall) return syntax_error(pos, "expected call");
  const int saved_loop = loop_depth_;
  loop_depth_ = 0;
  Status st = parse_statements(s->body, {"endcall"}, true);
  loop_depth_ = saved_loop;
  EMBER_RETURN_IF_ERROR(st);
  analyze_signature(s->signature, s->body);
  return s;
}

Result<StmtPtr> Parser::parse_filter_block(SourcePos pos) {
  advance();  // filter
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::kFilterBlock;
  s->pos = pos;
  EMBER_ASSIGN_OR_RETURN(s->expr, parse_filter(nullptr, true));
  EMBER_RETURN_IF_ERROR(parse_statements(s->body, {"endfilter"}, true));
  return s;
}

Result<StmtPtr> Parser::parse_with(SourcePos pos) {
  advance();  // with
  auto s = std::make_unique<Stmt>();
  s->kind = StmtKind::kWith;
  s->pos = pos;
  while (cur().type != TokenType::kBlockEnd) {
    if (!s->with_assignments.empty()) EMBER_RETURN_IF_ERROR(expect_op(","));
    EMBER_ASSIGN_OR_RETURN(ExprPtr target, parse_assign_target(true, false, {}, false));
    EMBER_RETURN_IF_ERROR(expect_op("="));
    EMBER_ASSIGN_OR_RETURN(ExprPtr value, parse_expression());
    s->with_assignments.emplace_back(std::move(target), std::move(value));
  }
  EMBER_RETURN_IF_ERROR(parse_statements(s->body, {"endwith"}, true));
  return s;
}

Result<ExprPtr> Parser::parse_assign_target(bool with_tuple, bool name_only,
                                            const std::vector<std::string>& extra_end,
                                            bool with_namespace) {
  ExprPtr target;
  if (name_only) {
    const SourcePos pos = cur().pos;
    EMBER_ASSIGN_OR_RETURN(std::string n, expect_name());
    target = make(ExprKind::kName, pos);
    target->name = std::move(n);
  } else if (with_tuple) {
    EMBER_ASSIGN_OR_RETURN(target, parse_tuple(true, true, extra_end, false, with_namespace));
  } else {
    EMBER_ASSIGN_OR_RETURN(target, parse_primary(with_namespace));
  }
  auto assignable = [](const Expr& e) {
    if (e.kind == ExprKind::kName) {
      return e.name != "true" && e.name != "false" && e.name != "none" && e.name != "True" &&
             e.name != "False" && e.name != "None";
    }
    return e.kind == ExprKind::kNsRef;
  };
  bool ok = assignable(*target);
  if (target->kind == ExprKind::kTuple) {
    ok = true;
    for (const auto& c : target->children) ok = ok && assignable(*c);
  }
  if (!ok) {
    std::string what = target->kind == ExprKind::kConst ? "const" : "expression";
    return syntax_error(target->pos, "can't assign to '" + what + "'");
  }
  return target;
}

Result<ExprPtr> Parser::parse_condexpr() {
  Nest nest(*this);
  EMBER_RETURN_IF_ERROR(check_depth());
  SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr expr1, parse_or());
  while (skip_name("if")) {
    EMBER_ASSIGN_OR_RETURN(ExprPtr expr2, parse_or());
    ExprPtr expr3;
    if (skip_name("else")) {
      EMBER_ASSIGN_OR_RETURN(expr3, parse_condexpr());
    }
    ExprPtr c = make(ExprKind::kCond, pos);
    c->children.push_back(std::move(expr2));
    c->children.push_back(std::move(expr1));
    c->children.push_back(std::move(expr3));
    EMBER_RETURN_IF_ERROR(seal(*c));
    expr1 = std::move(c);
    pos = cur().pos;
  }
  return expr1;
}

Result<ExprPtr> Parser::parse_or() {
  const SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr left, parse_and());
  while (skip_name("or")) {
    EMBER_ASSIGN_OR_RETURN(ExprPtr right, parse_and());
    ExprPtr n = make(ExprKind::kOr, pos);
    n->children.push_back(std::move(left));
    n->children.push_back(std::move(right));
    EMBER_RETURN_IF_ERROR(seal(*n));
    left = std::move(n);
  }
  return left;
}

Result<ExprPtr> Parser::parse_and() {
  const SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr left, parse_not());
  while (skip_name("and")) {
    EMBER_ASSIGN_OR_RETURN(ExprPtr right, parse_not());
    ExprPtr n = make(ExprKind::kAnd, pos);
    n->children.push_back(std::move(left));
    n->children.push_back(std::move(right));
    EMBER_RETURN_IF_ERROR(seal(*n));
    left = std::move(n);
  }
  return left;
}

Result<ExprPtr> Parser::parse_not() {
  Nest nest(*this);
  EMBER_RETURN_IF_ERROR(check_depth());
  if (is_name("not")) {
    const SourcePos pos = cur().pos;
    advance();
    EMBER_ASSIGN_OR_RETURN(ExprPtr inner, parse_not());
    ExprPtr n = make(ExprKind::kNot, pos);
    n->children.push_back(std::move(inner));
    EMBER_RETURN_IF_ERROR(seal(*n));
    return n;
  }
  return parse_compare();
}

Result<ExprPtr> Parser::parse_compare() {
  const SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr expr, parse_math1());
  ExprPtr cmp;
  while (true) {
    CmpOp op;
    if (is_op("==")) {
      op = CmpOp::kEq;
    } else if (is_op("!=")) {
      op = CmpOp::kNe;
    } else if (is_op("<")) {
      op = CmpOp::kLt;
    } else if (is_op("<=")) {
      op = CmpOp::kLe;
    } else if (is_op(">")) {
      op = CmpOp::kGt;
    } else if (is_op(">=")) {
      op = CmpOp::kGe;
    } else if (is_name("in")) {
      op = CmpOp::kIn;
    } else if (is_name("not") && look().type == TokenType::kName && look().value == "in") {
      advance();
      op = CmpOp::kNotIn;
    } else {
      break;
    }
    advance();
    EMBER_ASSIGN_OR_RETURN(ExprPtr operand, parse_math1());
    if (!cmp) {
      cmp = make(ExprKind::kCompare, pos);
      cmp->children.push_back(std::move(expr));
    }
    cmp->cmp_ops.push_back(op);
    cmp->children.push_back(std::move(operand));
  }
  if (!cmp) return expr;
  EMBER_RETURN_IF_ERROR(seal(*cmp));
  return cmp;
}

Result<ExprPtr> Parser::parse_math1() {
  const SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr left, parse_concat());
  while (is_op("+") || is_op("-")) {
    const BinOp op = is_op("+") ? BinOp::kAdd : BinOp::kSub;
    advance();
    EMBER_ASSIGN_OR_RETURN(ExprPtr right, parse_concat());
    ExprPtr n = make(ExprKind::kBinary, pos);
    n->bin_op = op;
    n->children.push_back(std::move(left));
    n->children.push_back(std::move(right));
    EMBER_RETURN_IF_ERROR(seal(*n));
    left = std::move(n);
  }
  return left;
}

Result<ExprPtr> Parser::parse_concat() {
  const SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr first, parse_math2());
  if (!is_op("~")) return first;
  ExprPtr n = make(ExprKind::kConcat, pos);
  n->children.push_back(std::move(first));
  while (skip_op("~")) {
    EMBER_ASSIGN_OR_RETURN(ExprPtr next, parse_math2());
    n->children.push_back(std::move(next));
  }
  EMBER_RETURN_IF_ERROR(seal(*n));
  return n;
}

Result<ExprPtr> Parser::parse_math2() {
  const SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr left, parse_pow());
  while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
    BinOp op = BinOp::kMul;
    if (is_op("/")) op = BinOp::kDiv;
    if (is_op("//")) op = BinOp::kFloorDiv;
    if (is_op("%")) op = BinOp::kMod;
    advance();
    EMBER_ASSIGN_OR_RETURN(ExprPtr right, parse_pow());
    ExprPtr n = make(ExprKind::kBinary, pos);
    n->bin_op = op;
    n->children.push_back(std::move(left));
    n->children.push_back(std::move(right));
    EMBER_RETURN_IF_ERROR(seal(*n));
    left = std::move(n);
  }
  return left;
}

Result<ExprPtr> Parser::parse_pow() {
  const SourcePos pos = cur().pos;
  EMBER_ASSIGN_OR_RETURN(ExprPtr left, parse_unary(true));
  while (skip_op("**")) {
    EMBER_ASSIGN_OR_RETURN(ExprPtr right, parse_unary(true));
    ExprPtr n = make(ExprKind::kBinary, pos);
    n->bin_op = BinOp::kPow;
    n->children.push_back(std::move(left));
    n->children.push_back(std::move(right));
    EMBER_RETURN_IF_ERROR(seal(*n));
    left = std::move(n);
  }
  return left;
}

Result<ExprPtr> Parser::parse_unary(bool with_filter) {
  Nest nest(*this);
  EMBER_RETURN_IF_ERROR(check_depth());
  const SourcePos pos = cur().pos;
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    const bool neg = is_op("-");
    advance();
    EMBER_ASSIGN_OR_RETURN(ExprPtr inner, parse_unary(false));
    node = make(neg ? ExprKind::kNeg : ExprKind::kPos, pos);
    node->children.push_back(std::move(inner));
    EMBER_RETURN_IF_ERROR(seal(*node));
  } else {
    EMBER_ASSIGN_OR_RETURN(node, parse_primary());
  }
  EMBER_ASSIGN_OR_RETURN(node, parse_postfix(std::move(node)));
  if (with_filter) {
    EMBER_ASSIGN_OR_RETURN(node, parse_filter_expr(std::move(node)));
  }
  return node;
}

Result<ExprPtr> Parser::parse_primary(bool with_namespace) {
  Nest nest(*this);
  EMBER_RETURN_IF_ERROR(check_depth());
  const Token& t = cur();
  const SourcePos pos = t.pos;
  if (t.type == TokenType::kName) {
    const std::string v = t.value;
    advance();
    if (v == "true" || v == "True" || v == "false" || v == "False") {
      ExprPtr n = make(ExprKind::kConst, pos);
      n->value = Value::boolean(v == "true" || v == "True");
      return n;
    }
    if (v == "none" || v == "None") {
      ExprPtr n = make(ExprKind::kConst, pos);
      n->value = Value::none();
      return n;
    }
    if (with_namespace && is_op(".")) {
      advance();
      EMBER_ASSIGN_OR_RETURN(std::string attr, expect_name());
      ExprPtr n = make(ExprKind::kNsRef, pos);
      n->name = v;
      n->attr = std::move(attr);
      return n;
    }
    ExprPtr n = make(ExprKind::kName, pos);
    n->name = v;
    return n;
  }
  if (t.type == TokenType::kString) {
    std::string s;
    while (cur().type == TokenType::kString) {
      s += cur().value;
      advance();
    }
    ExprPtr n = make(ExprKind::kConst, pos);
    n->value = Value::string(std::move(s));
    return n;
  }
  if (t.type == TokenType::kInteger || t.type == TokenType::kFloat) {
    ExprPtr n = make(ExprKind::kConst, pos);
    n->value =
        t.type == TokenType::kInteger ? Value::integer(t.int_value) : Value::number(t.float_value);
    advance();
    return n;
  }
  if (is_op("(")) {
    advance();
    EMBER_ASSIGN_OR_RETURN(ExprPtr n, parse_tuple(false, true, {}, true));
    EMBER_RETURN_IF_ERROR(expect_op(")"));
    return n;
  }
  if (is_op("[")) return parse_list();
  if (is_op("{")) return parse_dict();
  return unexpected(t);
}

Result<ExprPtr> Parser::parse_tuple(bool simplified, bool with_condexpr,
                                    const std::vector<std::string>& extra_end, bool explicit_parens,
                                    bool with_namespace) {
  SourcePos pos = cur().pos;
  std::vector<ExprPtr> args;
  bool is_tuple = false;
  while (true) {
    if (!args.empty()) EMBER_RETURN_IF_ERROR(expect_op(","));
    if (is_tuple_end(extra_end)) break;
    if (simplified) {
      EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_primary(with_namespace));
      args.push_back(std::move(e));
    } else {
      EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_expression(with_condexpr));
      args.push_back(std::move(e));
    }
    if (is_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
    pos = cur().pos;
  }
  if (!is_tuple) {
    if (!args.empty()) return std::move(args[0]);
    if (!explicit_parens) {
      if (cur().type == TokenType::kEof) return eof_error();
      return syntax_error(cur().pos, "Expected an expression, got '" + describe(cur()) + "'");
    }
  }
  ExprPtr n = make(ExprKind::kTuple, pos);
  n->children = std::move(args);
  EMBER_RETURN_IF_ERROR(seal(*n));
  return n;
}

Result<ExprPtr> Parser::parse_list() {
  const SourcePos pos = cur().pos;
  advance();  // [
  ExprPtr n = make(ExprKind::kList, pos);
  while (!is_op("]")) {
    if (!n->children.empty()) EMBER_RETURN_IF_ERROR(expect_op(","));
    if (is_op("]")) break;
    EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_expression());
    n->children.push_back(std::move(e));
  }
  EMBER_RETURN_IF_ERROR(expect_op("]"));
  EMBER_RETURN_IF_ERROR(seal(*n));
  return n;
}

Result<ExprPtr> Parser::parse_dict() {
  const SourcePos pos = cur().pos;
  advance();  // {
  ExprPtr n = make(ExprKind::kDict, pos);
  while (!is_op("}")) {
    if (!n->children.empty()) EMBER_RETURN_IF_ERROR(expect_op(","));
    if (is_op("}")) break;
    EMBER_ASSIGN_OR_RETURN(ExprPtr k, parse_expression());
    EMBER_RETURN_IF_ERROR(expect_op(":"));
    EMBER_ASSIGN_OR_RETURN(ExprPtr v, parse_expression());
    n->children.push_back(std::move(k));
    n->children.push_back(std::move(v));
  }
  EMBER_RETURN_IF_ERROR(expect_op("}"));
  EMBER_RETURN_IF_ERROR(seal(*n));
  return n;
}

Result<ExprPtr> Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("[")) {
      EMBER_ASSIGN_OR_RETURN(node, parse_subscript(std::move(node)));
    } else if (is_op("(")) {
      ExprPtr call = make(ExprKind::kCall, cur().pos);
      EMBER_RETURN_IF_ERROR(parse_call_args(call->call));
      call->children.push_back(std::move(node));
      EMBER_RETURN_IF_ERROR(seal(*call));
      node = std::move(call);
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|")) {
      EMBER_ASSIGN_OR_RETURN(node, parse_filter(std::move(node), false));
    } else if (is_name("is")) {
      EMBER_ASSIGN_OR_RETURN(node, parse_test(std::move(node)));
    } else if (is_op("(")) {
      ExprPtr call = make(ExprKind::kCall, cur().pos);
      EMBER_RETURN_IF_ERROR(parse_call_args(call->call));
      call->children.push_back(std::move(node));
      EMBER_RETURN_IF_ERROR(seal(*call));
      node = std::move(call);
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::parse_subscript(ExprPtr node) {
  const Token t = cur();
  advance();
  if (t.value == ".") {
    const Token attr = cur();
    advance();
    if (attr.type == TokenType::kName) {
      ExprPtr n = make(ExprKind::kGetattr, t.pos);
      n->name = attr.value;
      n->children.push_back(std::move(node));
      EMBER_RETURN_IF_ERROR(seal(*n));
      return n;
    }
    if (attr.type != TokenType::kInteger) {
      return syntax_error(attr.pos, "expected name or number");
    }
    ExprPtr key = make(ExprKind::kConst, attr.pos);
    key->value = Value::integer(attr.int_value);
    ExprPtr n = make(ExprKind::kGetitem, t.pos);
    n->children.push_back(std::move(node));
    n->children.push_back(std::move(key));
    EMBER_RETURN_IF_ERROR(seal(*n));
    return n;
  }
  // '['
  std::vector<ExprPtr> args;
  while (!is_op("]")) {
    if (!args.empty()) EMBER_RETURN_IF_ERROR(expect_op(","));
    EMBER_ASSIGN_OR_RETURN(ExprPtr a, parse_subscribed());
    args.push_back(std::move(a));
  }
  EMBER_RETURN_IF_ERROR(expect_op("]"));
  ExprPtr n = make(ExprKind::kGetitem, t.pos);
  n->children.push_back(std::move(node));
  if (args.size() == 1) {
    n->children.push_back(std::move(args[0]));
  } else {
    ExprPtr tup = make(ExprKind::kTuple, t.pos);
    tup->children = std::move(args);
    EMBER_RETURN_IF_ERROR(seal(*tup));
    n->children.push_back(std::move(tup));
  }
  EMBER_RETURN_IF_ERROR(seal(*n));
  return n;
}

Result<ExprPtr> Parser::parse_subscribed() {
  const SourcePos pos = cur().pos;
  std::vector<ExprPtr> parts;
  if (is_op(":")) {
    advance();
    parts.push_back(nullptr);
  } else {
    EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_expression());
    if (!is_op(":")) return e;
    advance();
    parts.push_back(std::move(e));
  }
  if (is_op(":")) {
    parts.push_back(nullptr);
  } else if (!is_op("]") && !is_op(",")) {
    EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_expression());
    parts.push_back(std::move(e));
  } else {
    parts.push_back(nullptr);
  }
  if (is_op(":")) {
    advance();
    if (!is_op("]") && !is_op(",")) {
      EMBER_ASSIGN_OR_RETURN(ExprPtr e, parse_expression());
      parts.push_back(std::move(e));
    } else {
      parts.push_back(nullptr);
    }
  } else {
    parts.push_back(nullptr);
  }
  ExprPtr n = make(ExprKind::kSlice, pos);
  n->children = std::move(parts);
  EMBER_RETURN_IF_ERROR(seal(*n));
  return n;
}

Status Parser::parse_call_args(CallSpec& spec) {
  const SourcePos pos = cur().pos;
  EMBER_RETURN_IF_ERROR(expect_op("("));
  bool require_comma = false;
  auto ensure = [&](bool ok) -> Status {
    if (!ok) return syntax_error(pos, "invalid syntax for function call expression");
    return Status::Ok();
  };
  while (!is_op(")")) {
    if (require_comma) {
      EMBER_RETURN_IF_ERROR(expect_op(","));
      if (is_op(")")) break;
    }
    if (is_op("*")) {
      EMBER_RETURN_IF_ERROR(ensure(!spec.dyn_args && !spec.dyn_kwargs));
      advance();
      EMBER_ASSIGN_OR_RETURN(spec.dyn_args, parse_expression());
    } else if (is_op("**")) {
      EMBER_RETURN_IF_ERROR(ensure(!spec.dyn_kwargs));
      advance();
      EMBER_ASSIGN_OR_RETURN(spec.dyn_kwargs, parse_expression());
    } else if (cur().type == TokenType::kName && look().type == TokenType::kOperator &&
               look().value == "=") {
      EMBER_RETURN_IF_ERROR(ensure(!spec.dyn_kwargs));
      std::string key = cur().value;
      advance();
      advance();
      EMBER_ASSIGN_OR_RETURN(ExprPtr v, parse_expression());
      spec.kwargs.push_back(Keyword{std::move(key), std::move(v)});
    } else {
      EMBER_RETURN_IF_ERROR(ensure(!spec.dyn_args && !spec.dyn_kwargs && spec.kwargs.empty()));
      EMBER_ASSIGN_OR_RETURN(ExprPtr v, parse_expression());
      spec.args.push_back(std::move(v));
    }
    require_comma = true;
  }
  return expect_op(")");
}

Result<ExprPtr> Parser::parse_filter(ExprPtr node, bool start_inline) {
  while (is_op("|") || start_inline) {
    if (!start_inline) advance();
    const SourcePos pos = cur().pos;
    EMBER_ASSIGN_OR_RETURN(std::string name, expect_name());
    while (skip_op(".")) {
      EMBER_ASSIGN_OR_RETURN(std::string part, expect_name());
      name += "." + part;
    }
    ExprPtr f = make(ExprKind::kFilter, pos);
    f->name = std::move(name);
    if (is_op("(")) EMBER_RETURN_IF_ERROR(parse_call_args(f->call));
    f->children.push_back(std::move(node));
    EMBER_RETURN_IF_ERROR(seal(*f));
    node = std::move(f);
    start_inline = false;
  }
  return node;
}

Result<ExprPtr> Parser::parse_test(ExprPtr node) {
  const SourcePos pos = cur().pos;
  advance();  // is
  const bool negated = skip_name("not");
  EMBER_ASSIGN_OR_RETURN(std::string name, expect_name());
  while (skip_op(".")) {
    EMBER_ASSIGN_OR_RETURN(std::string part, expect_name());
    name += "." + part;
  }
  ExprPtr t = make(ExprKind::kTest, pos);
  t->name = std::move(name);
  if (is_op("(")) {
    EMBER_RETURN_IF_ERROR(parse_call_args(t->call));
  } else if ((cur().type == TokenType::kName || cur().type == TokenType::kString ||
              cur().type == TokenType::kInteger || cur().type == TokenType::kFloat || is_op("[") ||
              is_op("{")) &&
             !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) return syntax_error(cur().pos, "You cannot chain multiple tests with is");
    EMBER_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
    EMBER_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
    t->call.args.push_back(std::move(arg));
  }
  t->children.push_back(std::move(node));
  EMBER_RETURN_IF_ERROR(seal(*t));
  if (!negated) return t;
  ExprPtr n = make(ExprKind::kNot, pos);
  n->children.push_back(std::move(t));
  EMBER_RETURN_IF_ERROR(seal(*n));
  return n;
}

}  // namespace

Result<Body> parse_template(std::string_view source, const ParseOptions& options) {
  EMBER_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source, options.lexer));
  Parser parser(std::move(tokens), options);
  return parser.parse_root();
}

}  // namespace ember::jinja
