// Coarse-grained fork/join over an index range, for offline work such as quantizing a model.
// (The inference runtime uses a persistent thread pool instead; this one starts threads per call,
// which costs microseconds and is fine for work items of milliseconds.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "ember/status.h"

namespace ember {

// Number of hardware threads, at least 1.
inline int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Splits [0, n) into at most `n_threads` contiguous chunks and runs `fn(begin, end)` on each,
// the first chunk on the calling thread. Returns the first error any chunk reported.
inline Status parallel_for(int64_t n, int n_threads,
                           const std::function<Status(int64_t begin, int64_t end)>& fn) {
  if (n <= 0) return Status::Ok();
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(n_threads, n));
  if (workers == 1) return fn(0, n);
  std::vector<Status> results(static_cast<size_t>(workers));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers - 1));
  auto chunk = [&](int64_t w) {
    const int64_t begin = n * w / workers;
    const int64_t end = n * (w + 1) / workers;
    results[static_cast<size_t>(w)] = fn(begin, end);
  };
  for (int64_t w = 1; w < workers; ++w) threads.emplace_back(chunk, w);
  chunk(0);
  for (auto& t : threads) t.join();
  for (auto& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace ember
