// Command-line flags shared by the commands that generate text (`ember run`, `ember chat`):
// the engine setup (context, threads, batch, KV cache type, mmap) and the sampling setup
// (temperature, top-k/p, penalties, mirostat, seed, sampler order, logit bias, stop strings,
// token budget).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "ember/engine.h"
#include "ember/generation.h"
#include "ember/status.h"

namespace ember::cli {

struct EngineFlags {
  int32_t n_ctx = 4096, threads = 0, batch = 512;
  std::string kv_type = "f16";
  bool no_mmap = false;
};

struct SamplingFlags {
  SamplingParams sampling;
  int32_t n_predict = -1;
  std::vector<std::string> logit_bias, stop;
  std::string samplers;
  bool ignore_eos = false;
};

// Registers -c/--ctx-size, -t/--threads, -b/--batch-size, --kv-type, --no-mmap.
void add_engine_flags(CLI::App* cmd, EngineFlags& flags);
// Registers -n/--n-predict, --temp, --top-k, --top-p, --min-p, --typical-p, --repeat-penalty,
// --repeat-last-n, --frequency-penalty, --presence-penalty, --mirostat*, -s/--seed,
// --samplers, --logit-bias, --stop, --ignore-eos.
void add_sampling_flags(CLI::App* cmd, SamplingFlags& flags);

// Errors: an unknown KV cache type.
Result<EngineOptions> engine_options(const EngineFlags& flags);
// Fills sampling, max_tokens, stop and ignore_eos of `params`. Errors: a malformed --logit-bias
// or an unknown sampler name.
Status apply_sampling_flags(const SamplingFlags& flags, GenerationParams& params);

}  // namespace ember::cli
