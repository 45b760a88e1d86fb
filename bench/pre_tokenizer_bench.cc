// Pre-tokenizer throughput (MB/s of input text) for every kind on War and Peace
// (../shared/testdata/text/war-and-peace.txt, or $EMBER_TESTDATA/text/...), plus the UTF-8
// validation that precedes it. Run e.g.
//   build/release/ember_bench_kernels --benchmark_filter='PreTokenize/(llama3|gpt-2|qwen2)$'
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace ember::tokenizer {
namespace {

// The corpus, read once (empty when it cannot be found).
const std::string& corpus() {
  static const std::string text = [] {
    std::vector<std::filesystem::path> candidates;
    if (const char* env = std::getenv("EMBER_TESTDATA"); env != nullptr && *env != '\0') {
      candidates.emplace_back(std::filesystem::path(env) / "text" / "war-and-peace.txt");
    }
    candidates.emplace_back(std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared" /
                            "testdata" / "text" / "war-and-peace.txt");
    candidates.emplace_back("../shared/testdata/text/war-and-peace.txt");
    for (const auto& p : candidates) {
      std::ifstream in(p, std::ios::binary);
      if (!in) continue;
      std::stringstream ss;
      ss << in.rdbuf();
      return ss.str();
    }
    return std::string();
  }();
  return text;
}

void BM_PreTokenize(benchmark::State& state, PreTokenizer kind) {
  const std::string& text = corpus();
  if (text.empty()) {
    state.SkipWithError("war-and-peace.txt not found (set EMBER_TESTDATA)");
    return;
  }
  std::vector<std::pair<uint32_t, uint32_t>> words;
  words.reserve(text.size() / 3);
  for (auto _ : state) {
    words.clear();
    pre_tokenize(kind, text, words);
    benchmark::DoNotOptimize(words.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
  state.counters["words"] = static_cast<double>(words.size());
}

void BM_IsValidUtf8(benchmark::State& state) {
  const std::string& text = corpus();
  if (text.empty()) {
    state.SkipWithError("war-and-peace.txt not found (set EMBER_TESTDATA)");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(is_valid_utf8(text));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_IsValidUtf8)->Unit(benchmark::kMillisecond);

const bool kRegistered = [] {
  for (int k = 0; k < kNumPreTokenizers; ++k) {
    const auto kind = static_cast<PreTokenizer>(k);
    const std::string name = "PreTokenize/" + std::string(pre_tokenizer_name(kind));
    benchmark::RegisterBenchmark(name.c_str(), BM_PreTokenize, kind)->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace ember::tokenizer
