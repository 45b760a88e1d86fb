#include "model_session.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "base/strings.h"
#include "progress.h"
#include "tokenizer/tokenizer_gguf.h"

namespace ember::cli {

Result<kernels::KvType> parse_kv_type(const std::string& name) {
  for (kernels::KvType t : {kernels::KvType::kF16, kernels::KvType::kF32, kernels::KvType::kQ8_0}) {
    if (iequals(name, kernels::kv_type_name(t))) return t;
  }
  return invalid_argument("unknown cache type '" + name + "' (f16, f32 or q8_0)");
}

namespace {

// Loading a small model is instant: its progress shows only past a second.
Progress::Options load_progress(bool quiet) {
  return {.label = "load",
          .unit = "matrices",
          .style = quiet ? Progress::Style::kQuiet : Progress::Style::kAuto,
          .show_after = std::chrono::seconds(1)};
}

}  // namespace

Result<std::shared_ptr<const Model>> load_public_model(const std::string& path,
                                                       ModelOptions options, bool quiet) {
  Progress progress(load_progress(quiet));
  options.progress = [&progress](size_t done, size_t total) { progress.update(done, total); };
  Result<std::shared_ptr<const Model>> model = Model::load(path, options);
  progress.finish();
  return model;
}

Result<LoadedModel> load_model(const std::string& path, int threads, bool quiet,
                               Numerics numerics) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedModel out;
  runtime::ModelLoadOptions o;
  o.n_threads = threads;
  o.numerics = numerics;
  Progress progress(load_progress(quiet));
  o.progress = [&progress](size_t done, size_t total) { progress.update(done, total); };
  Result<std::unique_ptr<runtime::Model>> model = runtime::Model::load(path, o);
  progress.finish();
  EMBER_ASSIGN_OR_RETURN(out.model, std::move(model));
  Result<Tokenizer> tok = tokenizer_from_gguf(out.model->file());
  if (tok.ok()) {
    for (const std::string& w : tok->warnings())
      std::fprintf(stderr, "ember: warning: %s\n", w.c_str());
    out.tokenizer = std::move(tok).value();
  }
  out.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

Result<std::vector<int32_t>> tokenize_prompt(const LoadedModel& m, const std::string& prompt) {
  if (!m.tokenizer) {
    EMBER_RETURN_IF_ERROR(tokenizer_from_gguf(m.model->file())
                              .status()
                              .with_context("the model's tokenizer cannot be loaded"));
    return internal_error("tokenizer missing");
  }
  return m.tokenizer->tokenize(prompt, /*add_special=*/true, /*parse_special=*/true);
}

size_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long pages_total = 0, pages_resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &pages_total, &pages_resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<size_t>(pages_resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t peak_resident_bytes() {
  // VmHWM: the resident set's high-water mark, in kB.
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmHWM: %llu kB", &kb) == 1) break;
  }
  std::fclose(f);
  return static_cast<size_t>(kb) * 1024;
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open '" + path + "'");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return io_error("cannot read '" + path + "'");
  return data;
}

}  // namespace ember::cli
