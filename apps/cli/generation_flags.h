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
#include "ember/numerics.h"
#include "ember/status.h"

namespace ember::cli {

struct EngineFlags {
  int32_t n_ctx = 4096, threads = 0, batch = 512;
  std::string kv_type = "f16";
  std::string numerics = "fast";
  bool no_mmap = false;
};

struct SamplingFlags {
  SamplingParams sampling;
  int32_t n_predict = -1;
  std::vector<std::string> logit_bias, stop;
  std::string samplers;
  bool ignore_eos = false;
};

// Registers -c/--ctx-size, -t/--threads, -b/--batch-size, --kv-type, --numerics, --no-mmap.
void add_engine_flags(CLI::App* cmd, EngineFlags& flags);
// Registers --numerics fast|reference (ember/numerics.h) into `value`; CLI11 rejects other values
// with a message naming the choices. Used by every command that loads a model for generation or
// logits (run, chat, bench, logits, serve).
void add_numerics_flag(CLI::App* cmd, std::string& value);
// The Numerics of a --numerics value ("fast" or "reference"). Errors: any other value.
Result<Numerics> parse_numerics_flag(const std::string& value);
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
