// `ember bench -m FILE [-p 512] [-n 128] [-d 0] [--sequences 1] [-t THREADS] [-r REPS] [-c N_CTX]
//  [--json]`
//
// Prompt processing (pp) and generation (tg) speed, defined as llama-bench defines them:
//   ppP: P random tokens evaluated as one batch (split into ubatches of -ub); only the last
//        token's logits are computed.
//   tgN: N single-token decode steps.
//   -d D (llama-bench's n_depth): the cache holds D tokens (BOS first when the model adds one,
//        then random tokens, evaluated untimed in batches of -b) before each run of a test, so
//        the test's tokens sit at positions D, D+1, ...; D = 0 is an empty cache. The depth is
//        evaluated once per test and the test's own tokens are removed (seq_rm) after each run,
//        so every run starts from the same D cached tokens.
//   --sequences S (llama-batched-bench's npl): a tg test decodes S sequences together: each step
//        is one batch carrying the next token of every sequence (ids 0 .. S-1, each at its own
//        positions D, D+1, ...), as a server decoding S streams does; the depth is evaluated once
//        and shared by all S sequences (seq_cp). t/s is the aggregate, S * N / seconds. pp tests
//        run once, with one sequence.
// The context holds D + P + S * N cells (-c sets it explicitly; a test that does not fit is an
// error). Each test runs once as a warm-up, then -r times; t/s = tokens / seconds per run,
// reported as mean and sample standard deviation over the runs. -p, -n, -d and -t take
// comma-separated lists. --json prints an array with one object per test carrying llama-bench's
// field names (n_depth included) plus the resident set after load and its peak.
// Progress (runs done, rate, ETA) goes to stderr: a bar on a terminal, a line every few seconds
// otherwise, nothing with --quiet.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "base/parallel.h"
#include "commands.h"
#include "generation_flags.h"
#include "model_session.h"
#include "progress.h"
#include "read_bandwidth.h"
#include "runtime/kv_cache.h"

namespace ember::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::vector<int64_t> n_prompt = {512};
  std::vector<int64_t> n_gen = {128};
  std::vector<int64_t> n_depth = {0};
  std::vector<int> n_seq = {1};  // sequences decoded together in tg tests
  int64_t n_ctx = 0;             // 0: depth + test size
  std::vector<int> threads;
  int reps = 5;
  int64_t n_batch = 2048;
  int64_t n_ubatch = 512;
  std::string kv_type = "f16";
  std::string attention = "tiled";
  std::string numerics = "fast";
  bool json = false;
  bool no_warmup = false;
  bool profile = false;
  bool quiet = false;
  bool read_bandwidth = false;
};

struct TestResult {
  int64_t n_prompt = 0, n_gen = 0, n_depth = 0;
  int threads = 0;
  int n_seq = 1;
  std::vector<double> samples_ns;
  std::string time;  // ISO 8601 start time
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

class Bench {
 public:
  Bench(const LoadedModel& lm, runtime::Context& ctx, const BenchArgs& a)
      : lm_(lm), ctx_(ctx), a_(a), rng_(1234) {}

  // n tokens at positions start, start + 1, ... (BOS first when start is 0).
  Status prompt(int64_t start, int64_t n) {
    const int32_t bos = lm_.tokenizer && lm_.tokenizer->add_bos() ? lm_.tokenizer->bos() : -1;
    int64_t done = 0;
    while (done < n) {
      const int64_t len = std::min(a_.n_batch, n - done);
      runtime::Batch b;
      for (int64_t i = 0; i < len; ++i) {
        const int64_t pos = start + done + i;
        const int32_t tok = pos == 0 && bos >= 0 ? bos : random_token();
        b.add(tok, static_cast<int32_t>(pos), 0, i == len - 1);
      }
      EMBER_RETURN_IF_ERROR(ctx_.decode(b));
      done += len;
    }
    return Status::Ok();
  }

  // n steps, each one token of every sequence 0 .. n_seq-1 at position start + step (BOS first
  // when start is 0), all of them wanting logits.
  Status generate(int64_t start, int64_t n, int n_seq) {
    const int32_t bos = lm_.tokenizer && lm_.tokenizer->add_bos() ? lm_.tokenizer->bos() : -1;
    runtime::Batch b;
    for (int64_t i = 0; i < n; ++i) {
      b.clear();
      const int64_t pos = start + i;
      for (int s = 0; s < n_seq; ++s) {
        const int32_t tok = pos == 0 && bos >= 0 ? bos : random_token();
        b.add(tok, static_cast<int32_t>(pos), s, true);
      }
      EMBER_RETURN_IF_ERROR(ctx_.decode(b));
    }
    return Status::Ok();
  }

 private:
  int32_t random_token() {
    return static_cast<int32_t>(rng_() % static_cast<uint32_t>(ctx_.n_vocab()));
  }
  const LoadedModel& lm_;
  runtime::Context& ctx_;
  const BenchArgs& a_;
  std::mt19937 rng_;
};

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1024.0 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024.0 * 1024));
  }
  return buf;
}

int run_bench(BenchArgs a) {
  if (a.reps <= 0) return report_error("bench: -r must be positive");
  if (a.n_batch <= 0 || a.n_ubatch <= 0) return report_error("bench: batch sizes must be positive");
  for (int64_t v : a.n_prompt) {
    if (v < 0) return report_error("bench: -p must not be negative");
  }
  for (int64_t v : a.n_gen) {
    if (v < 0) return report_error("bench: -n must not be negative");
  }
  if (a.n_depth.empty()) a.n_depth.push_back(0);
  for (int64_t v : a.n_depth) {
    if (v < 0) return report_error("bench: -d must not be negative");
  }
  if (a.n_seq.empty()) a.n_seq.push_back(1);
  for (int s : a.n_seq) {
    if (s < 1 || s > KvCache::kMaxSequences)
      return report_error("bench: --sequences must be between 1 and " +
                          std::to_string(KvCache::kMaxSequences) + ", not " + std::to_string(s));
  }
  if (a.n_ctx < 0) return report_error("bench: -c must not be negative");
  // Every test must fit the context: checked before loading, so a mistake costs nothing.
  if (a.n_ctx > 0) {
    for (int64_t d : a.n_depth) {
      for (int64_t size : a.n_prompt) {
        if (d + size > a.n_ctx && size > 0)
          return report_error("bench: depth " + std::to_string(d) + " + pp" + std::to_string(size) +
                              " needs " + std::to_string(d + size) +
                              " cells, more than the context (-c " + std::to_string(a.n_ctx) + ")");
      }
      for (int64_t size : a.n_gen) {
        for (int s : a.n_seq) {
          const int64_t cells = d + size * s;
          if (cells > a.n_ctx && size > 0)
            return report_error(
                "bench: depth " + std::to_string(d) + " + tg" + std::to_string(size) +
                (s > 1 ? " x " + std::to_string(s) + " sequences" : std::string()) + " needs " +
                std::to_string(cells) + " cells, more than the context (-c " +
                std::to_string(a.n_ctx) + ")");
        }
      }
    }
  }
  constexpr int64_t kMaxPositions = int64_t{1} << 30;  // positions are int32; cells allocate
  for (int64_t d : a.n_depth) {
    for (int64_t size : a.n_prompt) {
      if (d + size > kMaxPositions) return report_error("bench: depth + -p is too large");
    }
    for (int64_t size : a.n_gen) {
      if (d + size * KvCache::kMaxSequences > kMaxPositions)
        return report_error("bench: depth + -n is too large");
    }
  }
  if (a.threads.empty()) a.threads.push_back(hardware_threads());
  for (int t : a.threads) {
    if (t <= 0) return report_error("bench: thread counts must be positive");
  }
  Result<kernels::KvType> kv = parse_kv_type(a.kv_type);
  if (!kv.ok()) return report_error(kv.status());
  runtime::AttentionMode attention = runtime::AttentionMode::kTiled;
  if (a.attention == "by-size") {
    attention = runtime::AttentionMode::kAuto;
  } else if (a.attention == "per-key") {
    attention = runtime::AttentionMode::kPerKey;
  } else if (a.attention != "tiled") {
    return report_error("bench: --attention must be tiled, by-size or per-key, not '" +
                        a.attention + "'");
  }

  const int load_threads = *std::max_element(a.threads.begin(), a.threads.end());
  Result<Numerics> numerics = parse_numerics_flag(a.numerics);
  if (!numerics.ok()) return report_error(numerics.status());
  Result<LoadedModel> lm = load_model(a.model, load_threads, a.quiet, *numerics);
  if (!lm.ok()) return report_error(lm.status());
  const size_t rss_after_load = resident_bytes();
  const size_t rss_peak_after_load = peak_resident_bytes();
  uint64_t n_params = 0;
  for (const auto& t : lm->model->file().tensors()) n_params += static_cast<uint64_t>(t.n_elements);
  const std::string model_type = lm->model->description();
  std::fprintf(stderr,
               "ember: loaded %s in %.2f s; RSS after load %s (peak %s; file %s, packed copies "
               "%s)\n",
               model_type.c_str(), lm->load_seconds, human_bytes(double(rss_after_load)).c_str(),
               human_bytes(double(rss_peak_after_load)).c_str(),
               human_bytes(double(lm->model->weight_bytes())).c_str(),
               human_bytes(double(lm->model->packed_bytes())).c_str());

  // The tests, in llama-bench's order: every pp, then every tg, for each thread count.
  std::vector<TestResult> tests;
  for (int t : a.threads) {
    for (int64_t d : a.n_depth) {
      for (int64_t p : a.n_prompt) {
        if (p > 0) tests.push_back({p, 0, d, t, 1, {}, {}});
      }
      for (int64_t n : a.n_gen) {
        for (int s : a.n_seq) {
          if (n > 0) tests.push_back({0, n, d, t, s, {}, {}});
        }
      }
    }
  }
  // Progress over every run (warm-ups included) on stderr; the results go to stdout.
  const uint64_t runs_per_test = static_cast<uint64_t>(a.reps) + (a.no_warmup ? 0 : 1);
  const uint64_t total_runs = runs_per_test * tests.size();
  uint64_t runs_done = 0;
  Progress progress({.label = "bench",
                     .unit = "runs",
                     .style = a.quiet ? Progress::Style::kQuiet : Progress::Style::kAuto});
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  if (!a.json) {
    std::printf("| model | size | params | backend | threads | test | t/s |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
  }
  for (TestResult& r : tests) {
    runtime::ContextParams cp;
    cp.n_ctx =
        a.n_ctx > 0 ? a.n_ctx : std::max<int64_t>(1, r.n_depth + r.n_prompt + r.n_seq * r.n_gen);
    cp.n_seq_max = r.n_seq;
    cp.n_ubatch = a.n_ubatch;
    cp.n_threads = r.threads;
    cp.kv_type = *kv;
    cp.profile = a.profile;
    cp.attention = attention;
    // Recurrent layers cannot cut their state back to the depth: sequence 1 keeps a copy of it.
    const bool recurrent = lm->model->hparams().has_recurrent();
    if (recurrent) cp.n_seq_max = r.n_seq + 1;
    Result<std::unique_ptr<runtime::Context>> ctx = runtime::Context::create(*lm->model, cp);
    if (!ctx.ok()) {
      progress.finish();
      return report_error(ctx.status());
    }
    Bench bench(*lm, **ctx, a);
    r.time = now_iso8601();
    std::string name =
        r.n_prompt > 0 ? "pp" + std::to_string(r.n_prompt) : "tg" + std::to_string(r.n_gen);
    if (r.n_seq > 1) name += " x" + std::to_string(r.n_seq);        // sequences decoded together
    if (r.n_depth > 0) name += " @ d" + std::to_string(r.n_depth);  // llama-bench's label
    const std::string item = name + " t=" + std::to_string(r.threads);
    // The depth, evaluated once (untimed) and shared by every sequence; after each run the
    // test's tokens are removed again.
    const auto d = static_cast<int32_t>(r.n_depth);
    if (r.n_depth > 0) {
      Status st = bench.prompt(0, r.n_depth);
      for (int s = 1; s < r.n_seq && st.ok(); ++s) st = (*ctx)->seq_cp(0, s, 0, d);
      if (!st.ok()) {
        progress.finish();
        return report_error(st);
      }
    }
    // Recurrent layers cannot cut their state back to the depth: sequence `backup` (after the
    // decoding ones) keeps a copy of it.
    const int32_t backup = static_cast<int32_t>(r.n_seq);
    if (recurrent && d > 0) {
      Status st = (*ctx)->seq_cp(0, backup, 0, -1);
      if (!st.ok()) {
        progress.finish();
        return report_error(st);
      }
    }
    // Back to the depth after a run: remove the run's tokens (a recurrent model restores each
    // sequence from the copy, cells shared, no recomputation).
    auto back_to_depth = [&]() -> Status {
      if (!recurrent || d == 0) return (*ctx)->seq_rm(-1, d, -1);
      for (int32_t s = 0; s < static_cast<int32_t>(r.n_seq); ++s) {
        EMBER_RETURN_IF_ERROR((*ctx)->seq_rm(s, 0, -1));
        EMBER_RETURN_IF_ERROR((*ctx)->seq_cp(backup, s, 0, -1));
      }
      return Status::Ok();
    };
    if (!a.no_warmup) {
      Status st = r.n_prompt > 0 ? bench.prompt(d, r.n_prompt) : bench.generate(d, 1, r.n_seq);
      if (st.ok()) st = back_to_depth();
      if (!st.ok()) {
        progress.finish();
        return report_error(st);
      }
      progress.update(++runs_done, total_runs, item + " warm-up");
    }
    (*ctx)->reset_profile();
    for (int rep = 0; rep < a.reps; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      Status st =
          r.n_prompt > 0 ? bench.prompt(d, r.n_prompt) : bench.generate(d, r.n_gen, r.n_seq);
      const auto t1 = std::chrono::steady_clock::now();
      if (st.ok()) st = back_to_depth();
      if (!st.ok()) {
        progress.finish();
        return report_error(st);
      }
      r.samples_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
      progress.update(++runs_done, total_runs, item);
    }
    std::vector<double> ts;
    for (double ns : r.samples_ns)
      ts.push_back(static_cast<double>(r.n_prompt + r.n_seq * r.n_gen) * 1e9 / ns);
    progress.clear();  // the profile and the table row must not land on the bar's line
    if (a.profile) {
      // Per-stage share of the measured runs, on stderr.
      const auto& prof = (*ctx)->profile();
      double total = 0;
      for (double v : prof) total += v;
      std::fprintf(stderr, "ember: %s profile (%.3f s over %d runs):\n", name.c_str(), total,
                   a.reps);
      for (size_t i = 0; i < prof.size(); ++i) {
        std::fprintf(stderr, "  %-24s %8.2f ms/run %6.1f%%\n",
                     runtime::stage_name(static_cast<runtime::Stage>(i)), prof[i] * 1e3 / a.reps,
                     total > 0 ? 100.0 * prof[i] / total : 0.0);
      }
    }
    if (a.json) {
      nlohmann::ordered_json j;
      j["model_filename"] = a.model;
      j["model_type"] = model_type;
      j["model_size"] = lm->model->weight_bytes();
      j["model_n_params"] = n_params;
      j["n_batch"] = a.n_batch;
      j["n_ubatch"] = a.n_ubatch;
      j["n_threads"] = r.threads;
      j["type_k"] = a.kv_type;
      j["type_v"] = a.kv_type;
      j["isa"] = kernels::isa_name((*ctx)->isa());
      j["numerics"] = std::string(numerics_name(*numerics));
      j["n_prompt"] = r.n_prompt;
      j["n_gen"] = r.n_gen;
      j["n_depth"] = r.n_depth;
      j["n_seq"] = r.n_seq;
      j["test_time"] = r.time;
      j["avg_ns"] = static_cast<uint64_t>(mean(r.samples_ns));
      j["stddev_ns"] = static_cast<uint64_t>(stddev(r.samples_ns));
      j["avg_ts"] = mean(ts);
      j["stddev_ts"] = stddev(ts);
      if (r.n_gen > 0) {  // one decode step (a token of every sequence)
        j["avg_step_ns"] = static_cast<uint64_t>(mean(r.samples_ns) / static_cast<double>(r.n_gen));
      }
      j["samples_ns"] = r.samples_ns;
      j["samples_ts"] = ts;
      j["rss_after_load"] = rss_after_load;
      j["rss_peak_after_load"] = rss_peak_after_load;
      j["rss_after_test"] = resident_bytes();
      j["rss_peak"] = peak_resident_bytes();  // the process's peak so far
      j["kv_bytes"] = (*ctx)->kv_bytes();
      j["packed_weight_bytes"] = lm->model->packed_bytes();
      out.push_back(std::move(j));
    } else {
      // The backend names the Isa, and the numerics mode when it is not the default.
      const std::string backend = std::string(kernels::isa_name((*ctx)->isa())) +
                                  (*numerics == Numerics::kReference ? ", reference" : "");
      std::printf("| %s | %s | %.2f B | CPU (%s) | %d | %s | %.2f ± %.2f |\n", model_type.c_str(),
                  human_bytes(double(lm->model->weight_bytes())).c_str(),
                  static_cast<double>(n_params) / 1e9, backend.c_str(), r.threads, name.c_str(),
                  mean(ts), stddev(ts));
      std::fflush(stdout);
    }
  }
  progress.finish();
  const size_t rss_peak = peak_resident_bytes();  // before the probe's buffer
  if (a.read_bandwidth) {
    // After the tests, so its buffer is not in their peak; the thread count of the last test.
    constexpr size_t kProbeBytes = size_t{512} << 20;
    const int threads = a.threads.back();
    Result<double> bw = measure_read_bandwidth(kProbeBytes, threads, 5);
    if (!bw.ok()) return report_error(bw.status());
    std::fprintf(stderr, "ember: streaming read, %d threads, 512 MiB, best of 5: %.1f GB/s\n",
                 threads, *bw / 1e9);
    for (auto& j : out) {
      j["read_bw_threads"] = threads;
      j["read_bw_gbs"] = *bw / 1e9;
    }
  }
  if (a.json) std::printf("%s\n", out.dump(2).c_str());
  std::fprintf(stderr, "ember: RSS at exit %s, peak %s\n",
               human_bytes(double(resident_bytes())).c_str(),
               human_bytes(double(rss_peak)).c_str());
  return 0;
}

}  // namespace

void register_bench(CLI::App& app, CommandResult& result) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("-p,--n-prompt", a->n_prompt, "Prompt lengths (comma-separated; 0 skips)")
      ->delimiter(',');
  cmd->add_option("-n,--n-gen", a->n_gen, "Generated tokens (comma-separated; 0 skips)")
      ->delimiter(',');
  cmd->add_option("-d,--n-depth", a->n_depth,
                  "Tokens already in the cache before each test (comma-separated; default 0)")
      ->delimiter(',');
  cmd->add_option("--sequences,--npl", a->n_seq,
                  "Sequences decoded together in tg tests, one token each per step "
                  "(comma-separated; default 1; t/s is the aggregate)")
      ->delimiter(',');
  cmd->add_option("-c,--ctx-size", a->n_ctx,
                  "Cache cells (default: depth + test size; a test that does not fit is an error)");
  cmd->add_option("-t,--threads", a->threads, "Thread counts (comma-separated; default: all)")
      ->delimiter(',');
  cmd->add_option("-r,--repetitions", a->reps, "Runs per test (default 5)");
  cmd->add_option("-b,--batch-size", a->n_batch, "Tokens per decode call (default 2048)");
  cmd->add_option("--ub,--ubatch-size", a->n_ubatch, "Tokens evaluated together (default 512)");
  cmd->add_option("--kv-type", a->kv_type, "Key/value cache type: f16 (default), f32, q8_0");
  cmd->add_option("--attention", a->attention,
                  "Attention algorithm: tiled (default, what Engine uses), by-size (llama.cpp's "
                  "choice), per-key");
  add_numerics_flag(cmd, a->numerics);
  cmd->add_flag("--json", a->json, "Print a JSON array (llama-bench's field names)");
  cmd->add_flag("--no-warmup", a->no_warmup, "Skip the warm-up run");
  cmd->add_flag("--read-bandwidth", a->read_bandwidth,
                "After the tests, measure streaming-read bandwidth (512 MiB, last -t threads)");
  cmd->add_flag("--profile", a->profile, "Print where the time goes (per stage) on stderr");
  cmd->add_flag("-q,--quiet", a->quiet, "No progress output on stderr");
  cmd->callback([a, &result] { result.exit_code = run_bench(*a); });
}

}  // namespace ember::cli
