// Tokenizer throughput on a real book (../shared/testdata/text/war-and-peace.txt, 3.2 MB) with
// the reference vocabularies, one thread. Reported as bytes/s of input text (detokenize: of
// output text).
//
//   build/release/ember_bench_kernels --benchmark_filter=Tokenize
//
// The reference data is found through $EMBER_TESTDATA or ../shared/testdata next to the source
// tree; without it the benchmarks report an error and skip.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>

#include "ember/tokenizer.h"

namespace {

std::filesystem::path testdata_dir() {
  if (const char* env = std::getenv("EMBER_TESTDATA"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "testdata";
}

const std::string* book() {
  static const std::unique_ptr<std::string> text = [] {
    std::ifstream in(testdata_dir() / "text" / "war-and-peace.txt", std::ios::binary);
    if (!in) return std::unique_ptr<std::string>();
    return std::make_unique<std::string>(std::istreambuf_iterator<char>(in),
                                         std::istreambuf_iterator<char>());
  }();
  return text.get();
}

const ember::Tokenizer* vocab(const std::string& name) {
  static std::map<std::string, std::unique_ptr<ember::Tokenizer>> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto tok = ember::Tokenizer::load(
        (testdata_dir() / "vocab" / ("ggml-vocab-" + name + ".gguf")).string());
    it =
        cache
            .emplace(name, tok.ok() ? std::make_unique<ember::Tokenizer>(std::move(*tok)) : nullptr)
            .first;
  }
  return it->second.get();
}

void BM_Tokenize(benchmark::State& state, const std::string& name) {
  const std::string* text = book();
  const ember::Tokenizer* tok = vocab(name);
  if (text == nullptr || tok == nullptr) {
    state.SkipWithError("reference data not found (set EMBER_TESTDATA)");
    return;
  }
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok->tokenize(*text, true, false);
    n_tokens = ids.ok() ? ids->size() : 0;
    benchmark::DoNotOptimize(n_tokens);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text->size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
}

void BM_Detokenize(benchmark::State& state, const std::string& name) {
  const std::string* text = book();
  const ember::Tokenizer* tok = vocab(name);
  if (text == nullptr || tok == nullptr) {
    state.SkipWithError("reference data not found (set EMBER_TESTDATA)");
    return;
  }
  const std::vector<int32_t> ids = tok->tokenize(*text, true, false).value();
  size_t bytes = 0;
  for (auto _ : state) {
    auto out = tok->detokenize(ids);
    bytes = out.ok() ? out->size() : 0;
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

void BM_LoadVocab(benchmark::State& state, const std::string& name) {
  const auto path = testdata_dir() / "vocab" / ("ggml-vocab-" + name + ".gguf");
  for (auto _ : state) {
    auto tok = ember::Tokenizer::load(path.string());
    if (!tok.ok()) {
      state.SkipWithError(tok.status().to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(tok->n_vocab());
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_Tokenize, llama_bpe, std::string("llama-bpe"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, gpt_2, std::string("gpt-2"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, bert_bge, std::string("bert-bge"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Detokenize, llama_bpe, std::string("llama-bpe"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Detokenize, llama_spm, std::string("llama-spm"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadVocab, llama_bpe, std::string("llama-bpe"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadVocab, llama_spm, std::string("llama-spm"))->Unit(benchmark::kMillisecond);
