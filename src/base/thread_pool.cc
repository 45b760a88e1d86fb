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

void ThreadPool::do_tasks(int thread) {
  const int64_t n = n_tasks_;
  for (;;) {
    const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n) break;
    fn_(ctx_, task, thread);
  }
}

void ThreadPool::run_impl(int64_t n_tasks, TaskFn fn, void* ctx) {
  fn_ = fn;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  pending_workers_.store(n_threads_ - 1, std::memory_order_relaxed);
  // seq_cst pairs with the sleeper's seq_cst increment + re-check (a Dekker-style handshake):
  // either we see the sleeper and wake it, or it sees the new epoch and does not sleep.
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) epoch_.notify_all();

  do_tasks(0);

  // Wait for the workers to finish their last tasks. Regions are short, so spin; yield now and
  // then in case a worker was descheduled on a busy machine.
  for (uint32_t spins = 0; pending_workers_.load(std::memory_order_acquire) != 0; ++spins) {
    if ((spins & 1023u) == 1023u) {
      std::this_thread::yield();
    } else {
      cpu_relax();
    }
  }
}

void ThreadPool::worker_main(int thread) {
  // The epoch before any region: read here it could already include the first region, which the
  // worker would then never run.
  uint32_t seen = 0;
  for (;;) {
    // Spin for a while: the next region of a decode step normally starts within microseconds.
    bool changed = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
    for (uint32_t spins = 0;; ++spins) {
      if (epoch_.load(std::memory_order_acquire) != seen) {
        changed = true;
        break;
      }
      cpu_relax();
      if ((spins & 63u) == 63u && std::chrono::steady_clock::now() > deadline) break;
    }
    if (!changed) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while (epoch_.load(std::memory_order_seq_cst) == seen) {
        epoch_.wait(seen, std::memory_order_seq_cst);
      }
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    seen = epoch_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    do_tasks(thread);
    pending_workers_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace ember
