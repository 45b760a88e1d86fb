// `ember run -m FILE -p PROMPT [-n N] [--threads T] [-c CTX] [--kv-type T] [--ignore-eos]`
//
// Greedy generation: the prompt is evaluated in one batch, then the most probable token is
// appended until N tokens, an end-of-generation token or a full context. Only the generated text
// goes to stdout (streamed as it is produced, never splitting a UTF-8 character); load and speed
// figures go to stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "commands.h"
#include "model_session.h"

namespace ember::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int64_t n_predict = 128;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type = "f16";
  bool ignore_eos = false;
};

// Bytes of `s` that form complete UTF-8 characters, leaving an unfinished trailing sequence
// (at most 3 bytes) for later.
size_t complete_utf8_prefix(const std::string& s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead byte
    const size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len > back ? n - back : n;
  }
  return n;
}

int64_t argmax(const float* x, int64_t n) {
  return std::max_element(x, x + n) - x;
}

int run_generate(const RunArgs& a) {
  if (a.prompt.empty() == a.prompt_file.empty()) {
    return report_error("run: give exactly one of -p/--prompt and --prompt-file");
  }
  if (a.n_predict < 0) return report_error("run: -n must not be negative");
  std::string prompt = a.prompt;
  if (!a.prompt_file.empty()) {
    Result<std::string> text = read_text_file(a.prompt_file);
    if (!text.ok()) return report_error(text.status());
    prompt = std::move(*text);
  }
  Result<kernels::KvType> kv = parse_kv_type(a.kv_type);
  if (!kv.ok()) return report_error(kv.status());
  Result<LoadedModel> lm = load_model(a.model, a.threads);
  if (!lm.ok()) return report_error(lm.status());
  Result<std::vector<int32_t>> toks = tokenize_prompt(*lm, prompt);
  if (!toks.ok()) return report_error(toks.status());
  if (toks->empty()) return report_error("run: the prompt has no tokens");
  const Tokenizer& tok = *lm->tokenizer;

  ContextParams cp;
  cp.n_threads = a.threads;
  cp.kv_type = *kv;
  cp.n_ctx =
      a.ctx > 0 ? a.ctx : static_cast<int64_t>(toks->size()) + std::max<int64_t>(a.n_predict, 1);
  if (static_cast<int64_t>(toks->size()) > cp.n_ctx) {
    return report_error("run: the prompt has " + std::to_string(toks->size()) +
                        " tokens, more than the context size " + std::to_string(cp.n_ctx));
  }
  Result<std::unique_ptr<Context>> ctx = Context::create(*lm->model, cp);
  if (!ctx.ok()) return report_error(ctx.status());
  Context& c = **ctx;
  std::fprintf(stderr, "ember: loaded %s in %.2f s (%s, %d threads, context %lld)\n",
               lm->model->description().c_str(), lm->load_seconds, kernels::isa_name(c.isa()),
               c.n_threads(), static_cast<long long>(cp.n_ctx));

  const auto t0 = std::chrono::steady_clock::now();
  Batch batch;
  for (size_t i = 0; i < toks->size(); ++i) {
    batch.add((*toks)[i], static_cast<int32_t>(i), 0, i + 1 == toks->size());
  }
  if (Status st = c.decode(batch); !st.ok()) return report_error(st);
  const auto t1 = std::chrono::steady_clock::now();

  std::string pending;
  int64_t generated = 0;
  int32_t pos = static_cast<int32_t>(toks->size());
  const char* stop = "length";
  while (generated < a.n_predict) {
    const auto next = static_cast<int32_t>(argmax(c.logits(0), c.n_vocab()));
    if (!a.ignore_eos && tok.is_eog(next)) {
      stop = "end of generation token";
      break;
    }
    pending += tok.token_to_piece(next, /*special=*/false).value_or("");
    const size_t ready = complete_utf8_prefix(pending);
    if (ready > 0) {
      std::fwrite(pending.data(), 1, ready, stdout);
      std::fflush(stdout);
      pending.erase(0, ready);
    }
    ++generated;
    if (generated == a.n_predict) break;
    if (pos >= cp.n_ctx) {
      stop = "context full";
      break;
    }
    batch.clear();
    batch.add(next, pos++, 0, true);
    if (Status st = c.decode(batch); !st.ok()) return report_error(st);
  }
  if (!pending.empty()) std::fwrite(pending.data(), 1, pending.size(), stdout);
  std::fflush(stdout);
  const auto t2 = std::chrono::steady_clock::now();

  const double pp = std::chrono::duration<double>(t1 - t0).count();
  const double tg = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr,
               "\nember: prompt %zu tokens in %.3f s (%.2f t/s); generated %lld tokens in %.3f s "
               "(%.2f t/s); stopped: %s\n",
               toks->size(), pp, pp > 0 ? static_cast<double>(toks->size()) / pp : 0.0,
               static_cast<long long>(generated), tg,
               tg > 0 ? static_cast<double>(generated) / tg : 0.0, stop);
  return 0;
}

}  // namespace

void register_run(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text greedily from a prompt");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text (special-token text is parsed)");
  cmd->add_option("--prompt-file", a->prompt_file, "Read the prompt from a file");
  cmd->add_option("-n,--n-predict", a->n_predict, "Tokens to generate (default 128)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all hardware threads)");
  cmd->add_option("-c,--ctx-size", a->ctx, "Context size (default: prompt + n)");
  cmd->add_option("--kv-type", a->kv_type, "Key/value cache type: f16 (default), f32, q8_0");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Keep generating after end-of-generation tokens");
  cmd->callback([a, &result] { result.exit_code = run_generate(*a); });
}

}  // namespace ember::cli
