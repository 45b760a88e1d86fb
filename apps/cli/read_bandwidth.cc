#include "read_bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "base/stream_read.h"

namespace ember::cli {

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
        sink[static_cast<size_t>(t)] = stream_read_words(words + b, e - b);
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
