// Throughput of the scalar row converters (tensor/quantize.h) on one 4096-element row.
//
// Bytes processed are counted on the F32 side (4 bytes per element) for both directions, so the
// rates of different types compare directly as "floats per second"; items are elements.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "tensor/quantize.h"

namespace ember {
namespace {

constexpr int64_t kRowLength = 4096;

// A reproducible row of normally distributed values, like typical weights.
std::vector<float> make_row() {
  std::mt19937 rng(1234);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> x(kRowLength);
  for (float& v : x) v = dist(rng);
  return x;
}

void set_counters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kRowLength);
  state.SetBytesProcessed(state.iterations() * kRowLength * static_cast<int64_t>(sizeof(float)));
}

void BM_Dequantize(benchmark::State& state, TensorType type) {
  const std::vector<float> x = make_row();
  std::vector<unsigned char> q(*tensor_row_size(type, kRowLength));
  if (!quantize_row(type, x.data(), q.data(), kRowLength).ok()) {
    state.SkipWithError("quantize_row failed");
    return;
  }
  std::vector<float> y(kRowLength);
  for (auto _ : state) {
    Status s = dequantize_row(type, q.data(), y.data(), kRowLength);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

void BM_Quantize(benchmark::State& state, TensorType type) {
  const std::vector<float> x = make_row();
  std::vector<unsigned char> q(*tensor_row_size(type, kRowLength));
  for (auto _ : state) {
    Status s = quantize_row(type, x.data(), q.data(), kRowLength);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  set_counters(state);
}

#define EMBER_CONVERTER_BENCH(name, type)              \
  BENCHMARK_CAPTURE(BM_Dequantize, name, type);        \
  BENCHMARK_CAPTURE(BM_Quantize, name, type)

EMBER_CONVERTER_BENCH(f32, TensorType::kF32);
EMBER_CONVERTER_BENCH(f16, TensorType::kF16);
EMBER_CONVERTER_BENCH(bf16, TensorType::kBF16);
EMBER_CONVERTER_BENCH(q4_0, TensorType::kQ4_0);
EMBER_CONVERTER_BENCH(q4_1, TensorType::kQ4_1);
EMBER_CONVERTER_BENCH(q5_0, TensorType::kQ5_0);
EMBER_CONVERTER_BENCH(q5_1, TensorType::kQ5_1);
EMBER_CONVERTER_BENCH(q8_0, TensorType::kQ8_0);
EMBER_CONVERTER_BENCH(q8_K, TensorType::kQ8_K);
EMBER_CONVERTER_BENCH(iq4_nl, TensorType::kIQ4_NL);
EMBER_CONVERTER_BENCH(iq4_xs, TensorType::kIQ4_XS);

}  // namespace
}  // namespace ember
