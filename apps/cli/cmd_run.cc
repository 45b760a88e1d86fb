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
#include "ember/engine.h"

namespace ember::cli {
namespace {

struct RunArgs {
  std::string model, prompt, prompt_file, grammar_file, json_schema_file, kv_type = "f16";
  int32_t n_predict = -1, n_ctx = 4096, threads = 0, batch = 512;
  SamplingParams sampling;
  std::vector<std::string> logit_bias, stop;
  std::string samplers;
  bool ignore_eos = false, no_mmap = false, no_special = false;
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

Status parse_logit_bias(const std::vector<std::string>& items, std::map<int32_t, float>& out) {
  for (const auto& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      return invalid_argument("--logit-bias expects ID=BIAS (e.g. 15043=-inf or 13=+2.5), got '" +
                              item + "'");
    }
    try {
      size_t used = 0;
      const long id = std::stol(item.substr(0, eq), &used);
      if (used != eq) throw std::invalid_argument("id");
      const std::string b = item.substr(eq + 1);
      float bias;
      if (b == "-inf" || b == "-infinity") {
        bias = -INFINITY;
      } else {
        size_t used_b = 0;
        bias = std::stof(b, &used_b);
        if (used_b != b.size()) throw std::invalid_argument("bias");
      }
      if (id < INT32_MIN || id > INT32_MAX) throw std::out_of_range("id");
      out[static_cast<int32_t>(id)] = bias;
    } catch (const std::exception&) {
      return invalid_argument("--logit-bias: cannot parse '" + item + "' as ID=BIAS");
    }
  }
  return Status::Ok();
}

int run_generation(RunArgs a) {
  GenerationParams params;
  params.sampling = a.sampling;
  params.max_tokens = a.n_predict;
  params.stop = a.stop;
  params.ignore_eos = a.ignore_eos;
  params.parse_special = !a.no_special;
  if (Status st = parse_logit_bias(a.logit_bias, params.sampling.logit_bias); !st.ok()) {
    return report_error(st);
  }
  if (!a.samplers.empty()) {
    std::stringstream ss(a.samplers);
    std::string name;
    while (std::getline(ss, name, ';')) {
      if (name.empty()) continue;
      auto kind = sampler_kind_from_name(name);
      if (!kind.ok()) return report_error(kind.status());
      params.sampling.order.push_back(*kind);
    }
  }
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

  EngineOptions options;
  options.n_ctx = a.n_ctx;
  options.n_threads = a.threads;
  options.n_batch = a.batch;
  options.use_mmap = !a.no_mmap;
  if (a.kv_type == "f16") {
    options.kv_cache_type = KvCacheType::kF16;
  } else if (a.kv_type == "f32") {
    options.kv_cache_type = KvCacheType::kF32;
  } else if (a.kv_type == "q8_0") {
    options.kv_cache_type = KvCacheType::kQ8_0;
  } else {
    return report_error("--kv-type: unknown KV cache type '" + a.kv_type + "' (f16, f32, q8_0)");
  }
  auto engine = Engine::load(a.model, options);
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
  cmd->add_option("-f,--file,--prompt-file", a->prompt_file, "Read the prompt from a file (bytes as they are)");
  cmd->add_option("-n,--n-predict", a->n_predict, "Tokens to generate (-1 = until end of text)");
  cmd->add_option("-c,--ctx-size", a->n_ctx,
                  "Context size in tokens (0 = the model's; default 4096)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("-b,--batch-size", a->batch, "Prompt tokens evaluated together (default 512)");
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 (default), f32, q8_0");
  cmd->add_flag("--no-mmap", a->no_mmap, "Read the model into memory instead of mapping it");
  cmd->add_flag("--no-parse-special", a->no_special,
                "Treat special-token text in the prompt (e.g. <|im_start|>) as plain text");
  SamplingParams& s = a->sampling;
  cmd->add_option("--temp,--temperature", s.temperature, "Temperature (default 0.8; 0 = greedy)");
  cmd->add_option("--top-k", s.top_k, "Top-k (default 40; 0 = off)");
  cmd->add_option("--top-p", s.top_p, "Top-p (default 0.95; 1 = off)");
  cmd->add_option("--min-p", s.min_p, "Min-p (default 0.05; 0 = off)");
  cmd->add_option("--typical-p,--typical", s.typical_p,
                  "Locally typical sampling (default 1 = off)");
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Repetition penalty (default 1 = off)");
  cmd->add_option("--repeat-last-n", s.repeat_last_n,
                  "Tokens the penalties look back at (default 64; 0 = off; -1 = context)");
  cmd->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty (default 0)");
  cmd->add_option("--presence-penalty", s.presence_penalty, "Presence penalty (default 0)");
  cmd->add_option("--mirostat", s.mirostat, "Mirostat: 0 = off, 1, 2");
  cmd->add_option("--mirostat-tau", s.mirostat_tau, "Mirostat target entropy (default 5)");
  cmd->add_option("--mirostat-eta", s.mirostat_eta, "Mirostat learning rate (default 0.1)");
  cmd->add_option("-s,--seed", s.seed, "Random seed (default: random)");
  cmd->add_option(
      "--samplers", a->samplers,
      "Sampler order, ';'-separated (default penalties;top_k;typ_p;top_p;min_p;temperature)");
  cmd->add_option("--logit-bias", a->logit_bias, "ID=BIAS, repeatable (-inf bans the token)");
  cmd->add_option("--stop", a->stop, "Stop string, repeatable (not printed)");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Never stop on end-of-generation tokens");
  cmd->add_option("--grammar-file", a->grammar_file, "Constrain output with a GBNF grammar");
  cmd->add_option("--json-schema", a->json_schema_file, "Constrain output with a JSON schema file");
  cmd->callback([a, &result] { result.exit_code = run_generation(*a); });
}

}  // namespace ember::cli
