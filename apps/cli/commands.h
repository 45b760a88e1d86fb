// The `ember` command-line front end: each subcommand registers itself on the CLI11 app and
// returns its exit status through `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "ember/status.h"

namespace ember::cli {

// Where a subcommand stores its exit status once it has run.
struct CommandResult {
  int exit_code = 0;
};

void register_inspect(CLI::App& app, CommandResult& result);
void register_quantize(CLI::App& app, CommandResult& result);
void register_synth(CLI::App& app, CommandResult& result);
void register_tokenize(CLI::App& app, CommandResult& result);
void register_detokenize(CLI::App& app, CommandResult& result);
void register_run(CLI::App& app, CommandResult& result);
void register_chat(CLI::App& app, CommandResult& result);
void register_grammar(CLI::App& app, CommandResult& result);
void register_logits(CLI::App& app, CommandResult& result);
void register_bench(CLI::App& app, CommandResult& result);
void register_template(CLI::App& app, CommandResult& result);
void register_serve(CLI::App& app, CommandResult& result);
void register_embed(CLI::App& app, CommandResult& result);
void register_rerank(CLI::App& app, CommandResult& result);

// Prints "ember: <message>" on stderr and returns the exit code for a failed command.
int report_error(const Status& status);
int report_error(const std::string& message);


}  // namespace ember::cli
