// Template: parse once, render many times (the syntax tree is immutable and shared).
#include "chat/jinja/template.h"

#include <cstdio>

#include "chat/jinja/builtins.h"
#include "chat/jinja/json.h"
#include "chat/jinja/scoping.h"

namespace ember::jinja {

namespace {

// Jinja2 rejects unknown filter and test names when it compiles a template, except inside
// `if` statements and conditional expressions ("soft" frames), where the error is deferred to
// the moment the filter is actually applied.
Status check_names(const Expr* e, bool soft);

Status check_call(const CallSpec& c, bool soft) {
  for (const auto& a : c.args) EMBER_RETURN_IF_ERROR(check_names(a.get(), soft));
  for (const auto& k : c.kwargs) EMBER_RETURN_IF_ERROR(check_names(k.value.get(), soft));
  EMBER_RETURN_IF_ERROR(check_names(c.dyn_args.get(), soft));
  return check_names(c.dyn_kwargs.get(), soft);
}

Status check_names(const Expr* e, bool soft) {
  if (e == nullptr) return Status::Ok();
  if (!soft && e->kind == ExprKind::kFilter && find_filter(e->name) == nullptr) {
    return syntax_error(e->pos, "No filter named " + py_string_repr(e->name) + ".");
  }
  if (!soft && e->kind == ExprKind::kTest && find_test(e->name) == nullptr) {
    return syntax_error(e->pos, "No test named " + py_string_repr(e->name) + ".");
  }
  const bool inner_soft = soft || e->kind == ExprKind::kCond;
  for (const auto& c : e->children) EMBER_RETURN_IF_ERROR(check_names(c.get(), inner_soft));
  return check_call(e->call, inner_soft);
}

Status check_names(const Body& body, bool soft) {
  for (const auto& s : body) {
    switch (s->kind) {
      case StmtKind::kIf:
        for (const auto& [t, b] : s->branches) {
          EMBER_RETURN_IF_ERROR(check_names(t.get(), true));
          EMBER_RETURN_IF_ERROR(check_names(b, true));
        }
        EMBER_RETURN_IF_ERROR(check_names(s->else_body, true));
        break;
      case StmtKind::kOutput:
      case StmtKind::kSet:
        EMBER_RETURN_IF_ERROR(check_names(s->expr.get(), soft));
        EMBER_RETURN_IF_ERROR(check_names(s->target.get(), soft));
        break;
      case StmtKind::kFor:
        EMBER_RETURN_IF_ERROR(check_names(s->expr.get(), soft));
        EMBER_RETURN_IF_ERROR(check_names(s->test.get(), false));
        EMBER_RETURN_IF_ERROR(check_names(s->body, false));
        EMBER_RETURN_IF_ERROR(check_names(s->else_body, false));
        break;
      case StmtKind::kCallBlock:
        EMBER_RETURN_IF_ERROR(check_names(s->expr.get(), soft));
        for (const auto& d : s->signature.defaults)
          EMBER_RETURN_IF_ERROR(check_names(d.get(), false));
        EMBER_RETURN_IF_ERROR(check_names(s->body, false));
        break;
      case StmtKind::kWith:
        for (const auto& [t, v] : s->with_assignments)
          EMBER_RETURN_IF_ERROR(check_names(v.get(), soft));
        EMBER_RETURN_IF_ERROR(check_names(s->body, false));
        break;
      default:
        // Macros, filter blocks, block sets, blocks, generation: their own (non-soft) frames.
        EMBER_RETURN_IF_ERROR(check_names(s->expr.get(), false));
        for (const auto& d : s->signature.defaults)
          EMBER_RETURN_IF_ERROR(check_names(d.get(), false));
        EMBER_RETURN_IF_ERROR(check_names(s->body, false));
        EMBER_RETURN_IF_ERROR(check_names(s->else_body, false));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Template> Template::parse(std::string_view source, const ParseOptions& options) {
  EMBER_ASSIGN_OR_RETURN(Body body, parse_template(source, options));
  EMBER_RETURN_IF_ERROR(check_names(body, false));
  auto parsed = std::make_shared<Parsed>();
  parsed->root_undefined = analyze_scopes(body);
  parsed->body = std::move(body);
  return Template(std::move(parsed));
}

Result<std::string> Template::render(const std::vector<std::pair<std::string, Value>>& context,
                                     const RenderOptions& options) const {
  Interpreter interp(options);
  return interp.render(parsed_->body, parsed_->root_undefined, context);
}

Result<std::string> Template::render(const nlohmann::ordered_json& context,
                                     const RenderOptions& options) const {
  if (!context.is_object()) return invalid_argument("template context must be a JSON object");
  std::vector<std::pair<std::string, Value>> vars;
  for (auto it = context.begin(); it != context.end(); ++it) {
    vars.emplace_back(it.key(), from_json(it.value()));
  }
  return render(vars, options);
}

Result<std::string> Template::render(const nlohmann::json& context,
                                     const RenderOptions& options) const {
  if (!context.is_object()) return invalid_argument("template context must be a JSON object");
  std::vector<std::pair<std::string, Value>> vars;
  for (auto it = context.begin(); it != context.end(); ++it) {
    vars.emplace_back(it.key(), from_json(it.value()));
  }
  return render(vars, options);
}

Result<std::tm> parse_iso8601(std::string_view text) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const std::string t(text);
  int n = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) {
    return invalid_argument("invalid ISO 8601 time '" + t + "' (expected YYYY-MM-DD[THH:MM[:SS]])");
  }
  size_t pos = static_cast<size_t>(n);
  if (pos < t.size() && (t[pos] == 'T' || t[pos] == ' ')) {
    int m = 0;
    const int got = std::sscanf(t.c_str() + pos + 1, "%2d:%2d%n", &h, &mi, &m);
    if (got != 2) return invalid_argument("invalid ISO 8601 time '" + t + "'");
    pos += 1 + static_cast<size_t>(m);
    if (pos < t.size() && t[pos] == ':') {
      int k = 0;
      if (std::sscanf(t.c_str() + pos + 1, "%2d%n", &s, &k) != 1) {
        return invalid_argument("invalid ISO 8601 time '" + t + "'");
      }
      pos += 1 + static_cast<size_t>(k);
      if (pos < t.size() && t[pos] == '.') {  // fractional seconds: ignored
        ++pos;
        while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) ++pos;
      }
    }
  }
  if (pos != t.size()) {
    return invalid_argument("invalid ISO 8601 time '" + t + "' (time zones are not supported)");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return invalid_argument("ISO 8601 time out of range: '" + t + "'");
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  // Normalize (weekday, day of year) without time zone effects.
  std::tm copy = tm;
  const time_t t0 = timegm(&copy);
  std::tm out{};
  gmtime_r(&t0, &out);
  if (out.tm_mday != d || out.tm_mon != mo - 1) {
    return invalid_argument("ISO 8601 date does not exist: '" + t + "'");
  }
  return out;
}

}  // namespace ember::jinja
