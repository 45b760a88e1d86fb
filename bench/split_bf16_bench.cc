// The encoder's F16 products on bge-small shapes: the split-BF16 AMX form (kernels/matmul.h
// WeightForm::kSplitBf16) against the exact F16 kernel (F32 FMAs) of the same Isa.
//
//   SplitBf16/<form>/<tokens>x<cols>x<rows>: one thread, prepared weights, activations converted
//   outside the timed loop; counter GMACs = tokens * cols * rows multiply-adds per second of the
//   thread's CPU time. Convert/<form>/...: the activation conversion alone (same counter basis:
//   values per second).
//
// Run: ember_bench_kernels --benchmark_filter='SplitBf16'
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/matmul.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

struct EncShape {
  int64_t tokens, cols, rows;
};
// attn q/k/v/o (384 x 384), ffn_up (1536 x 384), ffn_down (384 x 1536) at 448 tokens (about five
// 89-token inputs, one encoder pass), and one 89-token input.
const EncShape kEncShapes[] = {
    {448, 384, 384}, {448, 384, 1536}, {448, 1536, 384}, {89, 384, 1536}};

std::string shape_name(const EncShape& s) {
  return std::to_string(s.tokens) + "x" + std::to_string(s.cols) + "x" + std::to_string(s.rows);
}

void BM_Split(benchmark::State& state, EncShape s, WeightForm form, bool convert_only,
              TensorType type) {
  const Isa isa = Isa::kAvx512Amx;
  const bool ok = form == WeightForm::kSplitBf16      ? split_bf16_supported(isa, type)
                  : form == WeightForm::kSplitBf16Fly ? split_bf16_fly_supported(isa, type)
                                                      : best_isa() >= isa;
  if (!ok) {
    state.SkipWithError("no AMX-BF16 / avx512-amx here");
    return;
  }
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<uint16_t> wdata(static_cast<size_t>(s.rows * s.cols));
  for (uint16_t& v : wdata) {
    const float f = dist(rng);
    v = type == TensorType::kBF16 ? static_cast<uint16_t>(fp32_to_bits(f) >> 16) : fp32_to_fp16(f);
  }
  const Weights w{type, wdata.data(), s.rows, s.cols, static_cast<size_t>(s.cols) * 2};
  Result<PreparedWeights> pw = prepare_weights(isa, w, form);
  if (!pw.ok()) {
    state.SkipWithError(pw.status().to_string().c_str());
    return;
  }
  std::vector<float> x(static_cast<size_t>(s.tokens * s.cols));
  for (float& v : x) v = dist(rng) * 20.0f;
  std::vector<uint8_t> act(activation_bytes(*pw, s.tokens));
  convert_activations(*pw, x.data(), s.tokens, act.data());
  std::vector<float> y(static_cast<size_t>(s.tokens * s.rows));
  for (auto _ : state) {
    if (convert_only) {
      convert_activations(*pw, x.data(), s.tokens, act.data());
      benchmark::DoNotOptimize(act.data());
    } else {
      matmul(*pw, act.data(), s.tokens, y.data(), s.rows, 0, s.rows);
      benchmark::DoNotOptimize(y.data());
    }
    benchmark::ClobberMemory();
  }
  const double work = convert_only ? static_cast<double>(s.tokens * s.cols)
                                   : static_cast<double>(s.tokens * s.cols * s.rows);
  state.counters["GMACs"] = benchmark::Counter(
      work * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

const bool kRegistered = [] {
  for (const EncShape& s : kEncShapes) {
    for (WeightForm form : {WeightForm::kExact, WeightForm::kSplitBf16}) {
      const std::string f = form == WeightForm::kExact ? "f16-fma" : "split-bf16-amx";
      benchmark::RegisterBenchmark(("SplitBf16/" + f + "/" + shape_name(s)).c_str(), BM_Split, s,
                                   form, false, TensorType::kF16)
          ->Unit(benchmark::kMicrosecond);
      if (s.tokens == 448 && s.cols == 384 && s.rows == 1536) {
        // BF16 weights: the split form skips the hi . lo products (zero lo parts).
        const std::string fb = form == WeightForm::kExact ? "bf16-fma" : "bf16-split-amx";
        benchmark::RegisterBenchmark(("SplitBf16/" + fb + "/" + shape_name(s)).c_str(), BM_Split, s,
                                     form, false, TensorType::kBF16)
            ->Unit(benchmark::kMicrosecond);
      }
      if (s.tokens == 448 && s.rows == 384) {
        benchmark::RegisterBenchmark(("SplitBf16/Convert/" + f + "/" + shape_name(s)).c_str(),
                                     BM_Split, s, form, true, TensorType::kF16)
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  // Decoder shapes (llama-1b ffn_down: 2048 rows x 8192 columns), 1 token (decoding) and 512
  // (a prompt): the exact F16 kernel, the split form (hi + lo stored: 4 bytes a weight) and the
  // on-the-fly split form (2 bytes a weight, split in the kernel); BF16 weights for the last two.
  for (int64_t tokens : {1, 4, 16, 512}) {
    const EncShape s{tokens, 8192, 2048};
    const std::pair<const char*, WeightForm> forms[] = {
        {"f16-fma", WeightForm::kExact},
        {"split-bf16-amx", WeightForm::kSplitBf16},
        {"fly-bf16-amx", WeightForm::kSplitBf16Fly}};
    for (const auto& [name, form] : forms) {
      benchmark::RegisterBenchmark(
          ("SplitBf16/Dec/" + std::string(name) + "/" + shape_name(s)).c_str(), BM_Split, s, form,
          false, TensorType::kF16)
          ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark(("SplitBf16/Dec/bf16-fma/" + shape_name(s)).c_str(), BM_Split, s,
                                 WeightForm::kExact, false, TensorType::kBF16)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("SplitBf16/Dec/bf16-fly-amx/" + shape_name(s)).c_str(), BM_Split,
                                 s, WeightForm::kSplitBf16Fly, false, TensorType::kBF16)
        ->Unit(benchmark::kMicrosecond);
  }
  return true;
}();

}  // namespace
}  // namespace ember::kernels
