// ember — command-line entry point.
#include <cstdio>

#include "commands.h"

namespace ember::cli {

int report_error(const Status& status) { return report_error(status.message()); }

int report_error(const std::string& message) {
  std::fprintf(stderr, "ember: %s\n", message.c_str());
  return 1;
}

}  // namespace ember::cli

int main(int argc, char** argv) {
  CLI::App app{"ember: run GGUF language models locally"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "ember 0.1.0");
  ember::cli::CommandResult result;
  ember::cli::register_inspect(app, result);
  ember::cli::register_quantize(app, result);
  ember::cli::register_synth(app, result);
  ember::cli::register_run(app, result);
  ember::cli::register_chat(app, result);
  ember::cli::register_logits(app, result);
  ember::cli::register_bench(app, result);
  ember::cli::register_tokenize(app, result);
  ember::cli::register_detokenize(app, result);
  ember::cli::register_grammar(app, result);
  ember::cli::register_template(app, result);
  ember::cli::register_serve(app, result);
  ember::cli::register_embed(app, result);
  ember::cli::register_rerank(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One clear line, not CLI11's multi-line usage dump.
    std::fprintf(stderr, "ember: %s (see 'ember --help')\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember: %s\n", e.what());
    return 1;
  }
  return result.exit_code;
}
