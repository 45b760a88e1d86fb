#include "generation_flags.h"

#include <cmath>
#include <map>
#include <sstream>

namespace ember::cli {
namespace {

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

}  // namespace

void add_engine_flags(CLI::App* cmd, EngineFlags& f) {
  cmd->add_option("-c,--ctx-size,--ctx", f.n_ctx,
                  "Context size in tokens (0 = the model's; default 4096)");
  cmd->add_option("-t,--threads", f.threads, "Threads (default: all cores)");
  cmd->add_option("-b,--batch-size", f.batch, "Prompt tokens evaluated together (default 512)");
  cmd->add_option("--kv-type", f.kv_type, "KV cache type: f16 (default), f32, q8_0");
  add_numerics_flag(cmd, f.numerics);
  cmd->add_flag("--no-mmap", f.no_mmap, "Read the model into memory instead of mapping it");
}

void add_numerics_flag(CLI::App* cmd, std::string& value) {
  cmd->add_option(
         "--numerics", value,
         "fast (default) or reference: Q8_0 / MXFP4 products in llama.cpp's summation order "
         "(its bits; slower prompts)")
      ->check(CLI::IsMember({"fast", "reference"}));
}

Result<Numerics> parse_numerics_flag(const std::string& value) {
  if (std::optional<Numerics> n = numerics_from_name(value)) return *n;
  return invalid_argument("--numerics: unknown mode '" + value + "' (fast, reference)");
}

void add_sampling_flags(CLI::App* cmd, SamplingFlags& f) {
  SamplingParams& s = f.sampling;
  cmd->add_option("-n,--n-predict", f.n_predict, "Tokens to generate (-1 = until end of text)");
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
      "--samplers", f.samplers,
      "Sampler order, ';'-separated (default penalties;top_k;typ_p;top_p;min_p;temperature)");
  cmd->add_option("--logit-bias", f.logit_bias, "ID=BIAS, repeatable (-inf bans the token)");
  cmd->add_option("--stop", f.stop, "Stop string, repeatable (not printed)");
  cmd->add_flag("--ignore-eos", f.ignore_eos, "Never stop on end-of-generation tokens");
}

Result<EngineOptions> engine_options(const EngineFlags& f) {
  EngineOptions options;
  options.n_ctx = f.n_ctx;
  options.n_threads = f.threads;
  options.n_batch = f.batch;
  options.use_mmap = !f.no_mmap;
  EMBER_ASSIGN_OR_RETURN(options.numerics, parse_numerics_flag(f.numerics));
  if (f.kv_type == "f16") {
    options.kv_cache_type = KvCacheType::kF16;
  } else if (f.kv_type == "f32") {
    options.kv_cache_type = KvCacheType::kF32;
  } else if (f.kv_type == "q8_0") {
    options.kv_cache_type = KvCacheType::kQ8_0;
  } else {
    return invalid_argument("--kv-type: unknown KV cache type '" + f.kv_type +
                            "' (f16, f32, q8_0)");
  }
  return options;
}

Status apply_sampling_flags(const SamplingFlags& f, GenerationParams& params) {
  params.sampling = f.sampling;
  params.max_tokens = f.n_predict;
  params.stop = f.stop;
  params.ignore_eos = f.ignore_eos;
  EMBER_RETURN_IF_ERROR(parse_logit_bias(f.logit_bias, params.sampling.logit_bias));
  if (!f.samplers.empty()) {
    std::stringstream ss(f.samplers);
    std::string name;
    while (std::getline(ss, name, ';')) {
      if (name.empty()) continue;
      EMBER_ASSIGN_OR_RETURN(SamplerKind kind, sampler_kind_from_name(name));
      params.sampling.order.push_back(kind);
    }
  }
  return Status::Ok();
}

}  // namespace ember::cli
