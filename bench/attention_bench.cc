// Attention over an F16 cache, single thread: the tiled algorithm for a block of 64 query rows
// (prompt processing) and for one row (decoding), and the per-key algorithm for one row, head
// size 64, 4 query heads per key/value head (Llama 3.2 1B's shape).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "tensor/fp16.h"

namespace ember::kernels {
namespace {

struct Cache {
  std::vector<uint16_t> k, v;
  std::vector<int32_t> pos;
  std::vector<uint64_t> seqs;
  explicit Cache(int64_t n) {
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 1.0f);
    k.resize(static_cast<size_t>(n * 64));
    v.resize(static_cast<size_t>(n * 64));
    for (auto& x : k) x = fp32_to_fp16(d(rng));
    for (auto& x : v) x = fp32_to_fp16(d(rng));
    for (int64_t i = 0; i < n; ++i) {
      pos.push_back(static_cast<int32_t>(i));
      seqs.push_back(1);
    }
  }
  AttentionKv kv() const {
    AttentionKv a;
    a.k = reinterpret_cast<const uint8_t*>(k.data());
    a.v = reinterpret_cast<const uint8_t*>(v.data());
    a.k_stride = a.v_stride = 128;
    a.cell_pos = pos.data();
    a.cell_seqs = seqs.data();
    a.n_cells = static_cast<int64_t>(pos.size());
    a.head_dim_k = a.head_dim_v = 64;
    a.scale = 0.125f;
    return a;
  }
};

void BM_AttentionTiled64Rows(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Cache cache(n);
  std::vector<float> q(64 * 4 * 64, 0.1f), out(64 * 4 * 64);
  std::vector<uint8_t> scratch(attention_scratch_bytes(4, 64, 64) + 64);
  void* s =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  AttentionQuery rows[64];
  for (int i = 0; i < 64; ++i)
    rows[i] = {q.data() + i * 256, out.data() + i * 256, static_cast<int32_t>(n - 64 + i), 1};
  const OpsTable& O = ops(best_isa());
  for (auto _ : state) {
    attend_tiled(O, cache.kv(), rows, 64, 4, s);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["rows/s"] =
      benchmark::Counter(64.0 * 4, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionTiled64Rows)->Arg(64)->Arg(512)->Arg(4096);

void BM_AttentionPerKeyDecode(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Cache cache(n);
  std::vector<float> q(4 * 64, 0.1f), out(4 * 64);
  std::vector<uint8_t> scratch(attention_scratch_bytes(4, 64, 64) + 64);
  void* s =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  const AttentionQuery query{q.data(), out.data(), static_cast<int32_t>(n - 1), 1};
  const OpsTable& O = ops(best_isa());
  for (auto _ : state) {
    attend_per_key(O, cache.kv(), query, 4, s);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AttentionPerKeyDecode)->Arg(128)->Arg(512)->Arg(4096);

// One decoding row over n cells with the tiled algorithm, every span in turn then the fold: what
// one thread does for one key/value head when decoding at depth n (the runtime spreads the spans
// over threads).
void BM_AttentionTiledDecode(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Cache cache(n);
  std::vector<float> q(4 * 64, 0.1f), out(4 * 64);
  std::vector<uint8_t> scratch(attention_scratch_bytes(4, 64, 64) + 64);
  void* s =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  const AttentionQuery query{q.data(), out.data(), static_cast<int32_t>(n - 1), 1};
  const OpsTable& O = ops(best_isa());
  for (auto _ : state) {
    attend_tiled(O, cache.kv(), &query, 1, 4, s);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["cells/s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionTiledDecode)->Arg(512)->Arg(4096);

// One decoding token's attention over a whole model's cache, one thread: 16 layers of 8
// key/value heads (Llama 3.2 1B) at depth n, a cache far larger than the caches of the CPU, so
// the cells come from memory as they do when decoding after a long context. Arg 1 picks the
// layout of a layer: 0 = cell-major ([cell][head][64], all heads of a cell together), 1 =
// head-major ([head][cell][64], each head's cells contiguous, the KvCache layout), 2 = head-major
// with the keys as transposed 64-cell tiles (the KvCache layout of tiled contexts). Arg 2 = 1
// reads the first layer 16 times instead (8 MB at depth 4,096: from the last-level cache).
void BM_AttentionDecodeModel(benchmark::State& state) {
  const int64_t n = state.range(0);
  const bool head_major = state.range(1) != 0;
  const bool key_tiles = state.range(1) == 2;
  const bool resident = state.range(2) != 0;
  constexpr int64_t kLayers = 16, kHeads = 8, kDim = 64;
  const size_t layer_values = static_cast<size_t>(n * kHeads * kDim);
  std::vector<uint16_t> k(layer_values * kLayers), v(layer_values * kLayers);
  {
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (size_t i = 0; i < layer_values; ++i) k[i] = fp32_to_fp16(d(rng));
    for (size_t i = 0; i < layer_values; ++i) v[i] = fp32_to_fp16(d(rng));
    if (key_tiles) {  // each head plane's keys [cell][64] -> [tile][64 dims][64 cells]
      const std::vector<uint16_t> rows(k.begin(),
                                       k.begin() + static_cast<std::ptrdiff_t>(layer_values));
      for (int64_t h = 0; h < kHeads; ++h) {
        for (int64_t c = 0; c < n; ++c) {
          for (int64_t j = 0; j < kDim; ++j) {
            k[static_cast<size_t>(h * n * kDim + (c / 64) * 64 * kDim + j * 64 + c % 64)] =
                rows[static_cast<size_t>(h * n * kDim + c * kDim + j)];
          }
        }
      }
    }
    for (int64_t l = 1; l < kLayers; ++l) {
      std::copy(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(layer_values),
                k.begin() + static_cast<std::ptrdiff_t>(l * layer_values));
      std::copy(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(layer_values),
                v.begin() + static_cast<std::ptrdiff_t>(l * layer_values));
    }
  }
  std::vector<int32_t> pos(static_cast<size_t>(n));
  std::vector<uint64_t> seqs(static_cast<size_t>(n), 1);
  for (int64_t i = 0; i < n; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  std::vector<float> q(4 * kDim, 0.1f), out(4 * kDim);
  std::vector<uint8_t> scratch(attention_scratch_bytes(4, kDim, kDim) + 64);
  void* s =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  const AttentionQuery query{q.data(), out.data(), static_cast<int32_t>(n - 1), 1};
  const OpsTable& O = ops(best_isa());
  for (auto _ : state) {
    for (int64_t l = 0; l < kLayers; ++l) {
      for (int64_t h = 0; h < kHeads; ++h) {
        AttentionKv a;
        const size_t base = static_cast<size_t>(resident ? 0 : l) * layer_values;
        const size_t head = static_cast<size_t>(h) * (head_major ? n * kDim : kDim);
        a.k = reinterpret_cast<const uint8_t*>(k.data() + base + head);
        a.v = reinterpret_cast<const uint8_t*>(v.data() + base + head);
        a.k_stride = a.v_stride = head_major ? kDim * 2 : kHeads * kDim * 2;
        a.cell_pos = pos.data();
        a.cell_seqs = seqs.data();
        a.n_cells = n;
        a.head_dim_k = a.head_dim_v = kDim;
        a.scale = 0.125f;
        a.k_tiles = key_tiles;
        attend_tiled(O, a, &query, 1, 4, s);
        benchmark::DoNotOptimize(out.data());
      }
    }
  }
  state.counters["GB/s"] = benchmark::Counter(4.0 * static_cast<double>(layer_values * kLayers),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_AttentionDecodeModel)
    ->ArgsProduct({{4096}, {0, 1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ember::kernels
