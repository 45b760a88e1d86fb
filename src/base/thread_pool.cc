#include "base/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace ember {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  epoch_.notify_all();
  for (auto& w : workers_) w.join();
}

int64_t ThreadPool::do_tasks(uint32_t epoch, TaskFn fn, void* ctx, int64_t n_tasks, int thread) {
  const uint64_t tag = static_cast<uint64_t>(epoch) << 32;
  int64_t ran = 0;
  uint64_t w = work_.load(std::memory_order_relaxed);
  for (;;) {
    if ((w & ~uint64_t{0xffffffff}) != tag) break;  // another region
    const int64_t task = static_cast<int64_t>(w & 0xffffffffu);
    if (task >= n_tasks) break;
    if (!work_.compare_exchange_weak(w, w + 1, std::memory_order_relaxed)) continue;
    fn(ctx, task, thread);
    ++ran;
    w = work_.load(std::memory_order_relaxed);
  }
  return ran;
}

void ThreadPool::run_impl(int64_t n_tasks, TaskFn fn, void* ctx) {
  const uint32_t epoch = epoch_.load(std::memory_order_relaxed) + 1;
  // Close the previous region to late workers before its parameters change. A worker that saw
  // the previous epoch may still be about to claim a task; if work_ kept that epoch while fn_ /
  // ctx_ / n_tasks_ already held this region's, its claim would pass the epoch check against
  // the new task count (the old region's next index is below it): it would run a task of this
  // region twice and count it in done_, which then never equals `others` below and the caller
  // spins forever. The parameters are stored with release (and loaded with acquire), so a worker
  // that reads any of them reads this store of work_ or a later one in its claim, and fails.
  work_.store(static_cast<uint64_t>(epoch) << 32, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_release);
  ctx_.store(ctx, std::memory_order_release);
  n_tasks_.store(n_tasks, std::memory_order_release);
  // seq_cst pairs with the sleeper's seq_cst increment + re-check (a Dekker-style handshake):
  // either we see the sleeper and wake it, or it sees the new epoch and does not sleep.
  epoch_.store(epoch, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) epoch_.notify_all();

  const int64_t mine = do_tasks(epoch, fn, ctx, n_tasks, 0);
  // Wait for the tasks other threads claimed. Regions are short, so spin; yield now and then in
  // case a worker was descheduled on a busy machine.
  const int64_t others = n_tasks - mine;
  for (uint32_t spins = 0; done_.load(std::memory_order_acquire) != others; ++spins) {
    if ((spins & 255u) == 255u) {
      std::this_thread::yield();
    } else {
      cpu_relax();
    }
  }
}

void ThreadPool::worker_main(int thread) {
  uint32_t seen = 0;
  for (;;) {
    // Spin for a while: the next region of a decode step normally starts within microseconds.
    uint32_t now = epoch_.load(std::memory_order_acquire);
    if (now == seen) {
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
      for (uint32_t spins = 0; now == seen; ++spins) {
        cpu_relax();
        now = epoch_.load(std::memory_order_acquire);
        if ((spins & 63u) == 63u && std::chrono::steady_clock::now() > deadline) break;
      }
    }
    if (now == seen) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while ((now = epoch_.load(std::memory_order_seq_cst)) == seen) {
        epoch_.wait(seen, std::memory_order_seq_cst);
      }
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    const int64_t ran =
        do_tasks(seen, fn_.load(std::memory_order_acquire), ctx_.load(std::memory_order_acquire),
                 n_tasks_.load(std::memory_order_acquire), thread);
    if (ran > 0) done_.fetch_add(ran, std::memory_order_release);
  }
}

}  // namespace ember
