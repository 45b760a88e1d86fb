// `ember quantize IN OUT TYPE [--threads N] [--pure] [--quiet]`
//
// Progress (tensors done, rate, ETA) goes to stderr: a bar on a terminal, a line every few
// seconds otherwise, nothing with --quiet.
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "base/parallel.h"
#include "commands.h"
#include "progress.h"
#include "model/quantize_model.h"

namespace ember::cli {
namespace {

struct QuantizeArgs {
  std::string in;
  std::string out;
  std::string type;
  int threads = 0;
  bool pure = false;
  bool quiet = false;
};

std::string preset_list() {
  std::string s;
  for (const auto& p : quant_presets()) {
    if (!s.empty()) s += ", ";
    s += p.name;
  }
  return s;
}

int run_quantize(const QuantizeArgs& a) {
  const auto preset = find_quant_preset(a.type);
  if (!preset) return report_error("unknown quantization type '" + a.type + "' (one of: " + preset_list() + ")");
  if (a.threads < 0) return report_error("--threads must be >= 0");
  if (a.in == a.out) return report_error("input and output must be different files");
  QuantizeModelOptions opts;
  opts.preset = *preset;
  opts.pure = a.pure;
  opts.n_threads = a.threads > 0 ? a.threads : hardware_threads();
  Progress bar({.label = "quantize",
                .unit = "tensors",
                .style = a.quiet ? Progress::Style::kQuiet : Progress::Style::kAuto});
  opts.progress = [&bar](size_t done, size_t total, const std::string& name, TensorType) {
    bar.update(done, total, name);
  };
  const auto start = std::chrono::steady_clock::now();
  auto stats = quantize_model(a.in, a.out, opts);
  if (!stats.ok()) {
    bar.finish();  // ends the bar's line before the message
    return report_error(stats.status());
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.finish();
  std::fprintf(stderr, "quantized %zu of %zu tensors to %s: %.2f MiB -> %.2f MiB in %.1f s (%d threads)\n",
               stats->n_quantized, stats->n_tensors, std::string(preset->name).c_str(),
               stats->bytes_in / 1048576.0, stats->bytes_out / 1048576.0, secs, opts.n_threads);
  return 0;
}

}  // namespace

void register_quantize(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Convert a GGUF model to another tensor type");
  cmd->add_option("input", a->in, "Input GGUF model")->required();
  cmd->add_option("output", a->out, "Output GGUF file")->required();
  cmd->add_option("type", a->type, "Preset: " + preset_list())->required();
  cmd->add_option("--threads,-t", a->threads, "Threads (default: all cores)");
  cmd->add_flag("--pure", a->pure, "Give every matrix the preset's base type (no mixed recipe)");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress output");
  cmd->callback([a, &result] { result.exit_code = run_quantize(*a); });
}

}  // namespace ember::cli
