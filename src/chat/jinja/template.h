// ember's Jinja2 engine: chat templates as Hugging Face transformers renders them.
//
//   auto tmpl = ember::jinja::Template::parse(source);          // syntax errors here
//   if (!tmpl.ok()) return tmpl.status();
//   nlohmann::ordered_json ctx = {{"messages", msgs}, {"add_generation_prompt", true},
//                                 {"bos_token", "<s>"}, {"eos_token", "</s>"}};
//   ember::Result<std::string> prompt = tmpl->render(ctx);
//
// Configuration matches transformers' apply_chat_template: trim_blocks and lstrip_blocks on,
// break/continue, {% generation %}, `tojson` as json.dumps(ensure_ascii=False, ...),
// raise_exception(msg) and strftime_now(fmt). Errors (syntax, undefined values, type errors,
// raise_exception, limits) come back as a Status whose message starts with
// "line L, column C: ".
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja/ast.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/parser.h"
#include "chat/jinja/value.h"

namespace ember::jinja {

class Template {
 public:
  // Parses `source` (UTF-8). Unknown filter and test names are rejected here, as Jinja2 does
  // when it compiles a template.
  static Result<Template> parse(std::string_view source, const ParseOptions& options = {});

  // Renders with the variables of a JSON object. ordered_json keeps object key order, which
  // `tojson`, `items()` and loops over dicts expose; nlohmann::json sorts keys.
  Result<std::string> render(const nlohmann::ordered_json& context,
                             const RenderOptions& options = {}) const;
  Result<std::string> render(const nlohmann::json& context,
                             const RenderOptions& options = {}) const;
  Result<std::string> render(const std::vector<std::pair<std::string, Value>>& context,
                             const RenderOptions& options = {}) const;

 private:
  struct Parsed {
    Body body;
    std::vector<std::string> root_undefined;  // see scoping.h
  };
  explicit Template(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const Parsed> parsed_;
};

// Parses an ISO 8601 local time ("2026-07-26T09:30:00", "2026-07-26 09:30", "2026-07-26") for
// RenderOptions::now.
Result<std::tm> parse_iso8601(std::string_view text);

}  // namespace ember::jinja
