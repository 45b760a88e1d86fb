// `ember template (-m FILE | --template FILE.jinja) --input CASE.json [--bos-token S]
// [--eos-token S] [--now ISO8601]`: renders a chat template with the variables of CASE.json
// ({"messages": [...], "tools": [...], "add_generation_prompt": true, ...}) and prints exactly
// the rendered text.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

#include "chat/jinja/template.h"
#include "commands.h"
#include "gguf/gguf.h"

namespace ember::cli {
namespace {

struct TemplateArgs {
  std::string model;
  std::string template_file;
  std::string input;
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::string now;
};

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open '" + path + "'");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("cannot read '" + path + "'");
  return s;
}

// The text of a special token named by `key` (e.g. tokenizer.ggml.bos_token_id), if the model
// has one.
std::optional<std::string> token_text(const GgufFile& f, std::string_view key) {
  auto id = f.get_uint(key);
  if (!id.ok()) return std::nullopt;
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  if (tokens == nullptr) return std::nullopt;
  auto arr = tokens->as_string_array();
  if (!arr.ok() || *id >= arr->size()) return std::nullopt;
  return std::string((*arr)[*id]);
}

int run_template(const TemplateArgs& a) {
  if (a.model.empty() == a.template_file.empty()) {
    return report_error("give exactly one of -m FILE.gguf or --template FILE.jinja");
  }
  std::string source;
  std::optional<std::string> bos, eos;
  if (!a.model.empty()) {
    auto f = GgufFile::open(a.model);
    if (!f.ok()) return report_error(f.status());
    auto t = f->get_string("tokenizer.chat_template");
    if (!t.ok()) return report_error("'" + a.model + "' has no tokenizer.chat_template");
    source = *t;
    bos = token_text(*f, "tokenizer.ggml.bos_token_id");
    eos = token_text(*f, "tokenizer.ggml.eos_token_id");
  } else {
    auto t = read_text(a.template_file);
    if (!t.ok()) return report_error(t.status());
    source = std::move(*t);
  }
  auto input_text = read_text(a.input);
  if (!input_text.ok()) return report_error(input_text.status());
  nlohmann::ordered_json context;
  try {
    context = nlohmann::ordered_json::parse(*input_text);
  } catch (const nlohmann::json::exception& e) {
    return report_error("'" + a.input + "' is not valid JSON: " + e.what());
  }
  if (!context.is_object()) return report_error("'" + a.input + "' must hold a JSON object");
  // Token texts: flags first, then the case file, then the model.
  if (a.bos_token) {
    context["bos_token"] = *a.bos_token;
  } else if (!context.contains("bos_token") && bos) {
    context["bos_token"] = *bos;
  }
  if (a.eos_token) {
    context["eos_token"] = *a.eos_token;
  } else if (!context.contains("eos_token") && eos) {
    context["eos_token"] = *eos;
  }
  jinja::RenderOptions options;
  if (!a.now.empty()) {
    auto tm = jinja::parse_iso8601(a.now);
    if (!tm.ok()) return report_error(tm.status());
    options.now = *tm;
  }
  auto tmpl = jinja::Template::parse(source);
  if (!tmpl.ok()) return report_error("template: " + tmpl.status().message());
  auto out = tmpl->render(context, options);
  if (!out.ok()) return report_error("template: " + out.status().message());
  std::fwrite(out->data(), 1, out->size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

void register_template(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<TemplateArgs>();
  CLI::App* cmd =
      app.add_subcommand("template", "Render a chat template (prints exactly the rendered text)");
  cmd->add_option("-m,--model", a->model, "GGUF model whose tokenizer.chat_template to render");
  cmd->add_option("--template", a->template_file, "Jinja template file to render");
  cmd->add_option("--input", a->input,
                  "JSON object of variables: messages, tools, add_generation_prompt, ...")
      ->required();
  cmd->add_option("--bos-token", a->bos_token, "bos_token text (default: the model's)");
  cmd->add_option("--eos-token", a->eos_token, "eos_token text (default: the model's)");
  cmd->add_option("--now", a->now, "Time strftime_now() sees, ISO 8601 (default: now)");
  cmd->callback([a, &result] { result.exit_code = run_template(*a); });
}

}  // namespace ember::cli
