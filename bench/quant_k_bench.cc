// Throughput of the scalar K-quant conversions over one 4096-element row.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "tensor/blocks_k.h"
#include "tensor/quant_k.h"

namespace {

constexpr int64_t kN = 4096;

std::vector<float> gaussian_row() {
  std::mt19937 rng(42);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(kN);
  for (auto& v : x) v = g(rng);
  return x;
}

// Bytes processed counts the f32 side (4 bytes per element) for both directions, so the two
// numbers are directly comparable.
using QuantFn = void (*)(const float*, void*, int64_t);
using DequantFn = void (*)(const void*, float*, int64_t);

void BM_Quantize(benchmark::State& state, QuantFn quant, size_t block_bytes) {
  const std::vector<float> x = gaussian_row();
  std::vector<uint8_t> q(kN / ember::kQK_K * block_bytes);
  for (auto _ : state) {
    quant(x.data(), q.data(), kN);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kN * static_cast<int64_t>(sizeof(float)));
}

void BM_Dequantize(benchmark::State& state, QuantFn quant, DequantFn dequant,
                   size_t block_bytes) {
  const std::vector<float> x = gaussian_row();
  std::vector<uint8_t> q(kN / ember::kQK_K * block_bytes);
  quant(x.data(), q.data(), kN);
  std::vector<float> y(kN);
  for (auto _ : state) {
    dequant(q.data(), y.data(), kN);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kN * static_cast<int64_t>(sizeof(float)));
}

#define EMBER_KQ_BENCH(T, t)                                                         \
  BENCHMARK_CAPTURE(BM_Dequantize, T, ember::quantize_row_##t, ember::dequantize_row_##t, \
                    sizeof(ember::Block##T));                                        \
  BENCHMARK_CAPTURE(BM_Quantize, T, ember::quantize_row_##t, sizeof(ember::Block##T))

EMBER_KQ_BENCH(Q2K, q2_k);
EMBER_KQ_BENCH(Q3K, q3_k);
EMBER_KQ_BENCH(Q4K, q4_k);
EMBER_KQ_BENCH(Q5K, q5_k);
EMBER_KQ_BENCH(Q6K, q6_k);

}  // namespace
