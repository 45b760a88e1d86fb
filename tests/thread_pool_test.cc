// ThreadPool: every task runs exactly once, regions follow each other without loss, and a pool
// whose workers went to sleep wakes up.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "base/thread_pool.h"

namespace ember {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.n_threads(), threads);
    for (int64_t n : {0, 1, 2, 7, 64, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> bad_thread{0};
      pool.run(n, [&](int64_t task, int thread) {
        hits[static_cast<size_t>(task)].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread.fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
      EXPECT_EQ(bad_thread.load(), 0);
    }
  }
}

TEST(ThreadPool, ManyShortRegions) {
  ThreadPool pool(3);
  std::vector<int64_t> sums(4, 0);
  int64_t total = 0;
  for (int r = 0; r < 20000; ++r) {
    std::atomic<int64_t> sum{0};
    pool.run(4, [&](int64_t task, int) { sum.fetch_add(task + r); });
    total += sum.load();
  }
  int64_t expected = 0;
  for (int r = 0; r < 20000; ++r) expected += 6 + 4 * r;
  EXPECT_EQ(total, expected);
}

// Regions alternating a few tasks and many, on more threads than cores: workers are often
// descheduled between seeing a region and claiming from it, and must then claim nothing of the
// next region. A late worker that claimed with the next region's task count ran one of its tasks
// twice and counted it twice, and the caller then waited forever. A watchdog turns such a hang
// into a failure.
TEST(ThreadPool, LateWorkersNeverClaimTheNextRegionsTasks) {
  ThreadPool pool(8);
  std::atomic<int64_t> progress{0};
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    int64_t last = -1;
    for (int idle = 0; !finished.load(); std::this_thread::sleep_for(std::chrono::seconds(1))) {
      const int64_t now = progress.load();
      idle = now == last ? idle + 1 : 0;
      last = now;
      if (idle >= 30) {
        std::fprintf(stderr, "ThreadPool::run never returned (region %lld)\n",
                     static_cast<long long>(now));
        std::abort();
      }
    }
  });
  int64_t bad = 0;
  // About 3 s of regions (a stress duration, not a measurement).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (int64_t r = 0; bad == 0 && (r % 1024 != 0 || std::chrono::steady_clock::now() < until);
       ++r) {
    const int64_t n = r % 2 == 0 ? 48 : 2;
    // Fresh counters per region (the allocation also gives late workers time to fall behind).
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int64_t> out_of_range{0};
    pool.run(n, [&](int64_t task, int) {
      if (task < 0 || task >= n) {
        out_of_range.fetch_add(1);
        return;
      }
      hits[static_cast<size_t>(task)].fetch_add(1);
    });
    bad += out_of_range.load();
    for (int64_t i = 0; i < n; ++i) bad += hits[static_cast<size_t>(i)].load() != 1;
    progress.store(r + 1);
  }
  finished.store(true);
  watchdog.join();
  EXPECT_EQ(bad, 0);
}

TEST(ThreadPool, WakesSleepingWorkers) {
  ThreadPool pool(2);
  for (int r = 0; r < 3; ++r) {
    // Longer than the spin phase, so the worker is asleep when the next region starts.
    std::this_thread::sleep_for(std::chrono::microseconds(ThreadPool::kSpinMicros * 5));
    std::atomic<int> n{0};
    pool.run(16, [&](int64_t, int) { n.fetch_add(1); });
    EXPECT_EQ(n.load(), 16);
  }
}

TEST(ThreadPool, PoolCreatedAndImmediatelyUsed) {
  // A region started right after construction must not be missed by workers that have not
  // started running yet.
  for (int i = 0; i < 200; ++i) {
    ThreadPool pool(2);
    std::atomic<int> n{0};
    pool.run(2, [&](int64_t, int) { n.fetch_add(1); });
    ASSERT_EQ(n.load(), 2);
  }
}

}  // namespace
}  // namespace ember
