#include "read_bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace ember::cli {
namespace {

// Sums a slice with 8 independent lanes so loads, not the adds' latency, set the pace (the
// compiler turns the lanes into vector registers). Cloned per ISA: built for the baseline x86-64
// only, the loop issues 16-byte loads and two threads cannot keep up with the memory (this host:
// 20 GB/s from the probe against 27 GB/s of weights streamed by an F16 decode step).
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
uint64_t read_slice(const uint64_t* p, size_t n) {
  uint64_t acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += p[i + static_cast<size_t>(l)];
  }
  for (; i < n; ++i) acc[0] += p[i];
  uint64_t s = 0;
  for (uint64_t a : acc) s ^= a;
  return s;
}

}  // namespace

Result<double> measure_read_bandwidth(size_t bytes, int threads, int passes) {
  threads = std::max(threads, 1);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return resource_exhausted("read bandwidth probe: out of memory");
  auto* words = static_cast<uint64_t*>(mem);
  const size_t n = bytes / sizeof(uint64_t);
  for (size_t i = 0; i < n; ++i) words[i] = i;  // distinct pages, all resident
  std::vector<uint64_t> sink(static_cast<size_t>(threads));
  double best = 0.0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const size_t b = n * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t e = n * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        sink[static_cast<size_t>(t)] = read_slice(words + b, e - b);
      });
    }
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s);
  }
  uint64_t all = 0;
  for (uint64_t v : sink) all ^= v;
  ::munmap(mem, bytes);
  volatile uint64_t keep = all;  // the sums are used, so the reads cannot be optimised away
  (void)keep;
  return best;
}

}  // namespace ember::cli
