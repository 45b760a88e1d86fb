// ThreadPool: every task runs exactly once, regions follow each other without loss, and a pool
// whose workers went to sleep wakes up.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
