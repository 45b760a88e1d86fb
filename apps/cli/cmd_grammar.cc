// `ember grammar check FILE.gbnf [--input TEXT_FILE | --text TEXT]`
// `ember grammar check --json-schema SCHEMA.json [--input TEXT_FILE | --text TEXT]`
//
// Without input: prints "ok" for a valid grammar (with --json-schema: prints the generated GBNF)
// and exits 0; prints the error (with line and column) on stderr and exits 1 otherwise.
// With input: prints "accepted" (exit 0) when the whole text matches the grammar, or "rejected"
// (exit 1) with the reason on stderr. Errors (unreadable file, invalid grammar) print
// "ember: ..." on stderr, nothing on stdout, and exit 1.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>

#include "commands.h"
#include "grammar/gbnf_parser.h"
#include "grammar/grammar_matcher.h"
#include "grammar/json_schema.h"

namespace ember::cli {
namespace {

struct GrammarCheckArgs {
  std::string grammar_path;
  std::string schema_path;
  std::string input_path;
  std::optional<std::string> text;
};

Result<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open '" + path + "'");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("cannot read '" + path + "'");
  return s;
}

// "line L, column C" (characters counted from 1) of byte `pos` in `text`.
std::string text_position(const std::string& text, size_t pos) {
  int line = 1, column = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

int run_check(const GrammarCheckArgs& a) {
  if (a.grammar_path.empty() == a.schema_path.empty()) {
    return report_error("give either a GBNF file or --json-schema FILE");
  }
  if (!a.input_path.empty() && a.text) return report_error("--input and --text exclude each other");
  std::string gbnf;
  if (!a.schema_path.empty()) {
    auto schema = read_whole_file(a.schema_path);
    if (!schema.ok()) return report_error(schema.status());
    auto converted = grammar::json_schema_text_to_gbnf(*schema);
    if (!converted.ok()) return report_error(a.schema_path + ": " + converted.status().message());
    gbnf = std::move(*converted);
  } else {
    auto text = read_whole_file(a.grammar_path);
    if (!text.ok()) return report_error(text.status());
    gbnf = std::move(*text);
  }
  auto grammar = grammar::parse_gbnf(gbnf);
  if (!grammar.ok()) {
    const std::string& source = a.schema_path.empty() ? a.grammar_path : a.schema_path;
    return report_error(source + ": " + grammar.status().message());
  }
  const bool has_input = !a.input_path.empty() || a.text.has_value();
  if (!has_input) {
    if (!a.schema_path.empty()) {
      std::fwrite(gbnf.data(), 1, gbnf.size(), stdout);
    } else {
      std::puts("ok");
    }
    return 0;
  }
  std::string input;
  if (a.text) {
    input = *a.text;
  } else {
    auto text = read_whole_file(a.input_path);
    if (!text.ok()) return report_error(text.status());
    input = std::move(*text);
  }
  auto matcher = grammar::GrammarMatcher::create(*grammar);
  if (!matcher.ok()) return report_error(matcher.status());
  // Byte by byte, to say where the text stops matching.
  for (size_t i = 0; i < input.size(); ++i) {
    Result<bool> ok = matcher->try_accept(std::string_view(input).substr(i, 1));
    if (!ok.ok()) return report_error(ok.status());
    if (!*ok) {
      std::puts("rejected");
      std::fprintf(stderr, "ember: the text stops matching at byte %zu (%s)\n", i,
                   text_position(input, i).c_str());
      return 1;
    }
  }
  if (!matcher->is_complete()) {
    std::puts("rejected");
    std::fprintf(stderr, "ember: the text ends before the grammar is complete\n");
    return 1;
  }
  std::puts("accepted");
  return 0;
}

}  // namespace

void register_grammar(CLI::App& app, CommandResult& result) {
  CLI::App* grammar = app.add_subcommand("grammar", "GBNF grammars and JSON schemas");
  grammar->require_subcommand(1);
  auto args = std::make_shared<GrammarCheckArgs>();
  CLI::App* check = grammar->add_subcommand(
      "check",
      "Check a GBNF grammar (prints 'ok'), or whether a text matches it: prints 'accepted' (exit "
      "0) or 'rejected' (exit 1). Errors exit 1 with a message on stderr.");
  check->add_option("grammar", args->grammar_path, "GBNF grammar file");
  check->add_option("--json-schema", args->schema_path,
                    "JSON schema file instead of a grammar (prints the generated GBNF)");
  check->add_option("--input", args->input_path, "Text file to match (its exact bytes)");
  check->add_option("--text", args->text, "Text to match, given on the command line");
  check->callback([args, &result] { result.exit_code = run_check(*args); });
}

}  // namespace ember::cli
