// A persistent fork/join thread pool for the inference runtime.
//
// A decode step runs hundreds of short parallel regions (one per matrix product, attention, ...),
// so starting threads per region (base/parallel.h) would cost more than the work. The pool keeps
// n_threads - 1 workers alive; `run(n_tasks, fn)` hands out task indices to the workers and the
// calling thread and returns when every task has finished.
//
// Workers spin for a short while after a region (the next one usually follows within
// microseconds), then sleep on a futex so an idle pool costs no CPU.
//
// Determinism: which thread runs which task is not fixed (tasks are handed out dynamically), so a
// task's result must depend only on its index; `thread` is given only to select per-thread
// scratch memory. Split work into tasks by rows of the output, never by thread count, and the
// results are the same for any pool size.
//
// The pool is owned by its creator (no global pool); one region runs at a time, and `run` must
// not be called from inside a task.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace ember {

class ThreadPool {
 public:
  // `n_threads` >= 1 threads in total, the caller included (n_threads - 1 workers are started).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(task, thread) for every task in [0, n_tasks), `thread` in [0, n_threads()), and
  // returns when all calls have returned. Runs inline when n_tasks <= 1 or the pool has 1 thread.
  // At most 2^32 - 1 tasks per region.
  template <typename Fn>
  void run(int64_t n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    if (n_tasks <= 0) return;
    if (n_tasks == 1 || n_threads_ == 1) {
      for (int64_t i = 0; i < n_tasks; ++i) fn(i, 0);
      return;
    }
    run_impl(
        n_tasks, [](void* ctx, int64_t task, int thread) { (*static_cast<F*>(ctx))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // How long a worker spins waiting for the next region before it sleeps.
  static constexpr int64_t kSpinMicros = 300;

 private:
  using TaskFn = void (*)(void* ctx, int64_t task, int thread);

  void run_impl(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker_main(int thread);
  // Claims and runs tasks of region `epoch` until none are left; returns how many it ran.
  int64_t do_tasks(uint32_t epoch, TaskFn fn, void* ctx, int64_t n_tasks, int thread);

  int n_threads_;
  std::vector<std::thread> workers_;

  // The current region's parameters. Atomics only so that a worker that wakes very late can
  // read them while the next region is being published; it then fails to claim a task (the
  // epoch in work_ differs: run_impl moves work_ to the new epoch before it changes them) and
  // never calls the function it read.
  std::atomic<TaskFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int64_t> n_tasks_{0};

  // epoch_ announces a new region (workers poll and sleep on it). work_ packs the region's epoch
  // (high 32 bits) with the next unclaimed task index (low 32 bits): a worker claims a task with
  // a compare-and-swap that also checks the epoch, so it can never run a task of a region it
  // did not read the parameters of. done_ counts finished tasks; the caller waits for it only, so
  // a worker that is busy elsewhere or asleep never delays a region.
  alignas(64) std::atomic<uint32_t> epoch_{0};
  alignas(64) std::atomic<uint64_t> work_{0};
  alignas(64) std::atomic<int64_t> done_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace ember
