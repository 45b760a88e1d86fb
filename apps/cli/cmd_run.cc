// `ember run -m FILE -p PROMPT [-n N] [sampling flags] [--threads T]`: raw-prompt generation.
// The generated text goes to stdout as it arrives; timings and the finish reason go to stderr.
// Ctrl-C cancels the generation cleanly (the partial result's statistics are still printed); a
// second Ctrl-C exits at once.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "model_session.h"
#include "ember/engine.h"
#include "generation_flags.h"

namespace ember::cli {
namespace {

struct RunArgs {
  std::string model, prompt, prompt_file, grammar_file, json_schema_file;
  EngineFlags engine;
  SamplingFlags sampling;
  bool no_special = false;
};

// The engine a SIGINT cancels. A signal handler can only touch lock-free atomics, so this is the
// one piece of process-wide state the CLI keeps (the library keeps none).
std::atomic<Engine*> g_running_engine{nullptr};
std::atomic<int> g_interrupts{0};

extern "C" void on_sigint(int) {
  if (g_interrupts.fetch_add(1) >= 1) std::_Exit(130);
  if (Engine* e = g_running_engine.load()) e->cancel();
}

Result<std::string> read_text_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(std::string("cannot open ") + what + " '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int run_generation(RunArgs a) {
  GenerationParams params;
  params.parse_special = !a.no_special;
  if (Status st = apply_sampling_flags(a.sampling, params); !st.ok()) return report_error(st);
  if (a.prompt.empty() && a.prompt_file.empty()) {
    return report_error("give a prompt with -p/--prompt or -f/--prompt-file");
  }
  if (!a.prompt_file.empty()) {
    if (!a.prompt.empty()) return report_error("give either -p/--prompt or -f/--file, not both");
    auto text = read_text_file(a.prompt_file, "prompt file");
    if (!text.ok()) return report_error(text.status());
    a.prompt = std::move(*text);
  }
  if (!a.grammar_file.empty()) {
    auto text = read_text_file(a.grammar_file, "grammar file");
    if (!text.ok()) return report_error(text.status());
    params.grammar = std::move(*text);
  }
  if (!a.json_schema_file.empty()) {
    auto text = read_text_file(a.json_schema_file, "JSON schema file");
    if (!text.ok()) return report_error(text.status());
    params.json_schema = std::move(*text);
  }

  auto options = engine_options(a.engine);
  if (!options.ok()) return report_error(options.status());
  ModelOptions model_options;
  model_options.use_mmap = options->use_mmap;
  model_options.numerics = options->numerics;
  auto model = load_public_model(a.model, model_options);
  if (!model.ok()) return report_error(model.status());
  auto engine = Engine::create(std::move(*model), *options);
  if (!engine.ok()) return report_error(engine.status());

  g_interrupts = 0;
  g_running_engine = engine->get();
  auto previous = std::signal(SIGINT, on_sigint);
  auto result = (*engine)->generate(a.prompt, params, [](const GenerationChunk& chunk) {
    std::fwrite(chunk.text.data(), 1, chunk.text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::signal(SIGINT, previous);
  g_running_engine = nullptr;
  if (!result.ok()) return report_error(result.status());

  const GenerationUsage& u = result->usage;
  std::fprintf(stderr,
               "\n\nprompt: %d tokens (%d reused) in %.1f ms, %.2f t/s\n"
               "generation: %d tokens in %.1f ms, %.2f t/s (sampling %.1f ms)\n"
               "finish: %s%s%s\n",
               u.prompt_tokens, u.cached_prompt_tokens, u.prompt_ms, u.prompt_tokens_per_second,
               u.completion_tokens, u.generation_ms, u.generation_tokens_per_second, u.sampling_ms,
               std::string(finish_reason_name(result->finish_reason)).c_str(),
               result->stop_string.empty() ? "" : " at stop string ",
               result->stop_string.empty() ? "" : ("'" + result->stop_string + "'").c_str());
  if (result->finish_reason == FinishReason::kError) return report_error(result->error);
  return result->finish_reason == FinishReason::kCancelled ? 130 : 0;
}

}  // namespace

void register_run(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a raw prompt (streamed to stdout)");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text");
  cmd->add_option("-f,--file,--prompt-file", a->prompt_file,
                  "Read the prompt from a file (bytes as they are)");
  add_engine_flags(cmd, a->engine);
  cmd->add_flag("--no-parse-special", a->no_special,
                "Treat special-token text in the prompt (e.g. <|im_start|>) as plain text");
  add_sampling_flags(cmd, a->sampling);
  cmd->add_option("--grammar-file", a->grammar_file, "Constrain output with a GBNF grammar");
  cmd->add_option("--json-schema", a->json_schema_file, "Constrain output with a JSON schema file");
  cmd->callback([a, &result] { result.exit_code = run_generation(*a); });
}

}  // namespace ember::cli
