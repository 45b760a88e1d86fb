// `ember logits -m FILE (--prompt P | --prompt-file F | --tokens-file IDS.json) -o OUT.f32
//               [--threads T] [--ubatch N] [--kv-type T]`
//
// Evaluates the tokens in one batch (split into ubatches of --ubatch, 512 by default, as the
// reference's batch of 512) and writes the logits of every position as little-endian float32
// [n_tokens][n_vocab]. Prints {"prompt_tokens":[...]} on stdout. A prompt is tokenized with the
// model's BOS setting and special-token text parsed; a tokens file holds a JSON array of ids
// (or an object with a "prompt_tokens" array, such as the golden files of the test data).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "generation_flags.h"
#include "model_session.h"

namespace ember::cli {
namespace {

struct LogitsArgs {
  std::string model;
  std::string prompt;
  bool prompt_given = false;
  std::string prompt_file;
  std::string tokens_file;
  std::string out;
  int threads = 0;
  int64_t ubatch = 512;
  std::string kv_type = "f16";
  std::string numerics = "fast";
};

Result<std::vector<int32_t>> read_tokens_file(const std::string& path) {
  EMBER_ASSIGN_OR_RETURN(const std::string text, read_text_file(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument("'" + path + "' is not valid JSON");
  if (j.is_object() && j.contains("prompt_tokens")) j = j["prompt_tokens"];
  if (!j.is_array()) {
    return invalid_argument("'" + path +
                            "' must hold a JSON array of token ids (or an object "
                            "with a \"prompt_tokens\" array)");
  }
  std::vector<int32_t> ids;
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX) {
      return invalid_argument("'" + path + "': " + v.dump() + " is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

int run_logits(const LogitsArgs& a) {
  const int sources =
      int(a.prompt_given) + int(!a.prompt_file.empty()) + int(!a.tokens_file.empty());
  if (sources != 1) {
    return report_error("logits: give exactly one of --prompt, --prompt-file, --tokens-file");
  }
  if (a.ubatch <= 0) return report_error("logits: --ubatch must be positive");
  Result<kernels::KvType> kv = parse_kv_type(a.kv_type);
  if (!kv.ok()) return report_error(kv.status());
  std::vector<int32_t> ids;
  if (!a.tokens_file.empty()) {
    Result<std::vector<int32_t>> r = read_tokens_file(a.tokens_file);
    if (!r.ok()) return report_error(r.status());
    ids = std::move(*r);
  }
  Result<Numerics> numerics = parse_numerics_flag(a.numerics);
  if (!numerics.ok()) return report_error(numerics.status());
  Result<LoadedModel> lm = load_model(a.model, a.threads, /*quiet=*/false, *numerics);
  if (!lm.ok()) return report_error(lm.status());
  if (a.tokens_file.empty()) {
    std::string prompt = a.prompt;
    if (!a.prompt_file.empty()) {
      Result<std::string> text = read_text_file(a.prompt_file);
      if (!text.ok()) return report_error(text.status());
      prompt = std::move(*text);
    }
    Result<std::vector<int32_t>> r = tokenize_prompt(*lm, prompt);
    if (!r.ok()) return report_error(r.status());
    ids = std::move(*r);
  }
  if (ids.empty()) return report_error("logits: no tokens to evaluate");

  runtime::ContextParams cp;
  cp.n_ctx = static_cast<int64_t>(ids.size());
  cp.n_ubatch = a.ubatch;
  cp.n_threads = a.threads;
  cp.kv_type = *kv;
  Result<std::unique_ptr<runtime::Context>> ctx = runtime::Context::create(*lm->model, cp);
  if (!ctx.ok()) return report_error(ctx.status());
  runtime::Batch batch;
  for (size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], static_cast<int32_t>(i), 0, true);
  if (Status st = (*ctx)->decode(batch); !st.ok()) return report_error(st);

  FILE* f = std::fopen(a.out.c_str(), "wb");
  if (f == nullptr) return report_error("cannot create '" + a.out + "'");
  const size_t n = ids.size() * static_cast<size_t>((*ctx)->n_vocab());
  const bool ok = std::fwrite((*ctx)->logits(0), sizeof(float), n, f) == n;
  if (std::fclose(f) != 0 || !ok) return report_error("cannot write '" + a.out + "'");

  nlohmann::json j;
  j["prompt_tokens"] = ids;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace

void register_logits(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "Write the logits of every position of one batched evaluation (float32)");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option_function<std::string>(
      "-p,--prompt",
      [a](const std::string& p) {
        a->prompt = p;
        a->prompt_given = true;
      },
      "Prompt text (BOS as the model says, special-token text parsed)");
  cmd->add_option("--prompt-file", a->prompt_file, "Read the prompt from a file");
  cmd->add_option("--tokens-file", a->tokens_file,
                  "JSON array of token ids (or an object with \"prompt_tokens\")");
  cmd->add_option("-o,--output", a->out, "Output file: float32 [n_tokens][n_vocab]")->required();
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all hardware threads)");
  cmd->add_option("--ubatch", a->ubatch, "Tokens evaluated together (default 512)");
  cmd->add_option("--kv-type", a->kv_type, "Key/value cache type: f16 (default), f32, q8_0");
  add_numerics_flag(cmd, a->numerics);
  cmd->callback([a, &result] { result.exit_code = run_logits(*a); });
}

}  // namespace ember::cli
