// Matrix products (kernels/matmul.h) on Llama-3.2-1B shapes, per weight type and Isa.
//
//   GEMV (n_tokens = 1, decoding): bytes_per_second = weight bytes read per second.
//   GEMM (n_tokens = 512, prompt processing): counter GFLOPS = 2 * rows * cols * n_tokens / s.
// Each runs on 1 thread and on 2 threads (rows split in halves at a multiple of
// matmul_row_block, the second half on a spinning helper thread). Weights are prepared (packed)
// as the runtime does; the "unpacked" variants show the on-the-fly packing path.
// Rates of 1-thread runs are per second of the thread's CPU time (robust on a shared machine);
// 2-thread runs use wall-clock time.
// Activation conversion is timed separately (BM_Convert), it is not part of the products.
//
// Roofline/<type>/<isa>/<shape>/t<threads>: the GEMV against a plain streaming read of as many
// bytes as the packed weights (its own buffer, mapped the same way), the two alternating within
// each iteration so that a busy machine slows both alike, both from memory (copies of the
// matrix and windows of the buffer rotate over 768 MiB): counters gemv_GBps and read_GBps
// (bytes per second of thread CPU time, times the threads: robust to a shared machine's
// descheduling) and ratio = gemv / read, the fraction of the memory roofline the one-token
// product reaches.
//
// Run e.g.: ember_bench_kernels --benchmark_filter='Matmul/q4_0/avx512-vnni/.*'
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/stream_read.h"
#include "kernels/matmul.h"
#include "tensor/quantize.h"

namespace ember::kernels {
namespace {

struct Shape {
  const char* name;
  int64_t rows, cols;
};
// attn_q/attn_output, ffn_gate/ffn_up, ffn_down, tied output (vocab x n_embd).
const Shape kShapes[] = {{"2048x2048", 2048, 2048},
                         {"8192x2048", 8192, 2048},
                         {"2048x8192", 2048, 8192},
                         {"128256x2048", 128256, 2048}};

const TensorType kTypes[] = {
    TensorType::kQ4_0,   TensorType::kQ4_K, TensorType::kQ6_K, TensorType::kQ8_0,
    TensorType::kF16,    TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
    TensorType::kQ2_K,   TensorType::kQ3_K, TensorType::kQ5_K, TensorType::kIQ4_NL,
    TensorType::kIQ4_XS, TensorType::kBF16, TensorType::kF32,  TensorType::kMXFP4,
};

// A matrix of `rows` rows built from 64 distinct random rows (quantizing every row of the
// larger shapes would take minutes); every row still has its own memory, so the bandwidth is real.
std::vector<uint8_t> make_weights(TensorType type, int64_t rows, int64_t cols, size_t* row_bytes) {
  *row_bytes = *tensor_row_size(type, cols);
  constexpr int64_t kDistinct = 64;
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<uint8_t> distinct(*row_bytes * kDistinct);
  std::vector<float> x(static_cast<size_t>(cols));
  for (int64_t r = 0; r < kDistinct; ++r) {
    for (float& v : x) v = dist(rng);
    (void)quantize_row(type, x.data(), distinct.data() + r * *row_bytes, cols);
  }
  std::vector<uint8_t> w(*row_bytes * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(w.data() + r * *row_bytes, distinct.data() + (r % kDistinct) * *row_bytes,
                *row_bytes);
  }
  return w;
}

// One helper thread that runs a job when the generation counter moves (spinning, as a runtime's
// pool would while busy).
class Helper {
 public:
  Helper() : thread_([this] { loop(); }) {}
  ~Helper() {
    stop_.store(true);
    gen_.fetch_add(1);
    thread_.join();
  }
  void start(std::function<void()> job) {
    job_ = std::move(job);
    done_.store(false, std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_release);
  }
  void wait() {
    while (!done_.load(std::memory_order_acquire)) {
    }
  }

 private:
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      uint64_t g;
      while ((g = gen_.load(std::memory_order_acquire)) == seen) {
      }
      seen = g;
      if (stop_.load()) return;
      job_();
      done_.store(true, std::memory_order_release);
    }
  }
  std::atomic<uint64_t> gen_{0};
  std::atomic<bool> done_{true}, stop_{false};
  std::function<void()> job_;
  std::thread thread_;
};

void BM_Matmul(benchmark::State& state, Isa isa, TensorType type, Shape shape, int64_t n_tokens,
               int threads, bool prepared) {
  const auto isas = supported_isas();
  if (std::find(isas.begin(), isas.end(), isa) == isas.end()) {
    state.SkipWithError("Isa not supported here");
    return;
  }
  size_t row_bytes = 0;
  std::vector<uint8_t> data = make_weights(type, shape.rows, shape.cols, &row_bytes);
  const Weights w{type, data.data(), shape.rows, shape.cols, row_bytes};
  Result<PreparedWeights> pw = prepare_weights(isa, w);
  if (!pw.ok()) {
    state.SkipWithError(pw.status().to_string().c_str());
    return;
  }
  if (prepared && pw->packed()) {
    data.clear();
    data.shrink_to_fit();
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * shape.cols));
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> act(activation_bytes(type, n_tokens, shape.cols));
  convert_activations(isa, type, x.data(), n_tokens, shape.cols, act.data());
  std::vector<float> y(static_cast<size_t>(n_tokens * shape.rows));

  auto part = [&](int64_t rb, int64_t re) {
    if (prepared) {
      matmul(*pw, act.data(), n_tokens, y.data(), shape.rows, rb, re);
    } else {
      matmul(isa, w, act.data(), n_tokens, y.data(), shape.rows, rb, re);
    }
  };
  const int64_t blk = matmul_row_block(isa);
  const int64_t mid = threads == 2 ? (shape.rows / 2 + blk - 1) / blk * blk : shape.rows;
  std::unique_ptr<Helper> helper;
  if (threads == 2) helper = std::make_unique<Helper>();
  for (auto _ : state) {
    if (helper) helper->start([&] { part(mid, shape.rows); });
    part(0, mid);
    if (helper) helper->wait();
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(row_bytes) * static_cast<double>(shape.rows);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * static_cast<double>(shape.rows * shape.cols * n_tokens) * 1e-9 *
                             static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// A read-only buffer of `bytes` bytes, mapped like large packed weights (own mapping, huge pages
// requested) and filled so every page is resident.
class StreamBuffer {
 public:
  explicit StreamBuffer(size_t bytes) : words_(bytes / sizeof(uint64_t)) {
    size_ = words_ * sizeof(uint64_t);
    void* m = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    (void)::madvise(m, size_, MADV_HUGEPAGE);
    p_ = static_cast<uint64_t*>(m);
    for (size_t i = 0; i < words_; ++i) p_[i] = i;
  }
  ~StreamBuffer() {
    if (p_ != nullptr) ::munmap(p_, size_);
  }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  const uint64_t* data() const { return p_; }
  size_t words() const { return words_; }

 private:
  uint64_t* p_ = nullptr;
  size_t words_ = 0, size_ = 0;
};

// CPU time of the calling thread, in seconds.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The weights of a one-token product come from memory, not from a cache: the GEMV cycles
// through copies of the packed matrix, and the read through as many windows of a buffer of the
// same size, at least this many bytes each (more than this machine's last-level cache).
constexpr size_t kRooflineBytes = size_t{768} << 20;

void BM_Roofline(benchmark::State& state, Isa isa, TensorType type, Shape shape, int threads) {
  const auto isas = supported_isas();
  if (std::find(isas.begin(), isas.end(), isa) == isas.end()) {
    state.SkipWithError("Isa not supported here");
    return;
  }
  size_t row_bytes = 0;
  std::vector<uint8_t> data = make_weights(type, shape.rows, shape.cols, &row_bytes);
  const Weights w{type, data.data(), shape.rows, shape.cols, row_bytes};
  std::vector<PreparedWeights> copies;
  size_t bytes = 0;
  do {
    Result<PreparedWeights> pw = prepare_weights(isa, w);
    if (!pw.ok()) {
      state.SkipWithError(pw.status().to_string().c_str());
      return;
    }
    if (!pw->packed()) {
      state.SkipWithError("no packed kernel for this type and Isa");
      return;
    }
    bytes = pw->packed_bytes();
    copies.push_back(std::move(*pw));
  } while (copies.size() * bytes < kRooflineBytes);
  data.clear();
  data.shrink_to_fit();
  const size_t n_copies = copies.size();
  const size_t window = bytes / sizeof(uint64_t);
  StreamBuffer stream(window * sizeof(uint64_t) * n_copies);
  if (stream.data() == nullptr) {
    state.SkipWithError("cannot map the read buffer");
    return;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(shape.cols));
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> act(activation_bytes(type, 1, shape.cols));
  convert_activations(isa, type, x.data(), 1, shape.cols, act.data());
  std::vector<float> y(static_cast<size_t>(shape.rows));

  const int64_t blk = matmul_row_block(isa);
  const int64_t mid = threads == 2 ? (shape.rows / 2 + blk - 1) / blk * blk : shape.rows;
  const size_t wmid = threads == 2 ? window / 2 : window;
  std::unique_ptr<Helper> helper;
  if (threads == 2) helper = std::make_unique<Helper>();
  uint64_t sums[2] = {};
  // Seconds of CPU time of both threads (each measures its own part), per kind of pass.
  double gemv_cpu = 0.0, read_cpu = 0.0, helper_cpu = 0.0;
  size_t i = 0;
  for (auto _ : state) {
    const PreparedWeights& pw = copies[i % n_copies];
    const uint64_t* win = stream.data() + (i % n_copies) * window;
    ++i;
    if (helper) {
      helper->start([&] {
        const double c0 = thread_cpu_seconds();
        matmul(pw, act.data(), 1, y.data(), shape.rows, mid, shape.rows);
        helper_cpu = thread_cpu_seconds() - c0;
      });
    }
    const double c0 = thread_cpu_seconds();
    matmul(pw, act.data(), 1, y.data(), shape.rows, 0, mid);
    const double c1 = thread_cpu_seconds();
    if (helper) helper->wait();
    const double g = (c1 - c0) + helper_cpu;
    if (helper) {
      helper->start([&] {
        const double r0 = thread_cpu_seconds();
        sums[1] ^= stream_read_words(win + wmid, window - wmid);
        helper_cpu = thread_cpu_seconds() - r0;
      });
    }
    const double c2 = thread_cpu_seconds();
    sums[0] ^= stream_read_words(win, wmid);
    const double c3 = thread_cpu_seconds();
    if (helper) helper->wait();
    gemv_cpu += g;
    read_cpu += (c3 - c2) + helper_cpu;
    state.SetIterationTime(g / threads);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(sums);
    benchmark::ClobberMemory();
  }
  // Bytes per second of (average) thread CPU time times the thread count.
  const double total = static_cast<double>(bytes) * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(total));
  state.counters["gemv_GBps"] = total / gemv_cpu * threads * 1e-9;
  state.counters["read_GBps"] = total / read_cpu * threads * 1e-9;
  state.counters["ratio"] = read_cpu / gemv_cpu;
}

void BM_Convert(benchmark::State& state, Isa isa, TensorType type) {
  const int64_t n = 512, cols = 2048;
  std::vector<float> x(static_cast<size_t>(n * cols));
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> out(activation_bytes(type, n, cols));
  for (auto _ : state) {
    convert_activations(isa, type, x.data(), n, cols, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * n * cols);
}

// prepare_weights on an 8192 x 2048 matrix (bytes_per_second: source weight bytes).
void BM_Prepare(benchmark::State& state, Isa isa, TensorType type) {
  size_t row_bytes = 0;
  const int64_t rows = 8192, cols = 2048;
  std::vector<uint8_t> data = make_weights(type, rows, cols, &row_bytes);
  const Weights w{type, data.data(), rows, cols, row_bytes};
  for (auto _ : state) {
    Result<PreparedWeights> pw = prepare_weights(isa, w);
    benchmark::DoNotOptimize(pw);
  }
  state.SetBytesProcessed(static_cast<int64_t>(row_bytes * rows) * state.iterations());
}

// Name: Matmul/<type>/<isa>/<shape>/n<tokens>/t<threads>[/unpacked]
const bool kRegistered = [] {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kAvx512Amx}) {
    for (TensorType type : kTypes) {
      const std::string base = "Matmul/" + tensor_type_name(type) + "/" + isa_name(isa) + "/";
      for (const Shape& s : kShapes) {
        for (int64_t n : {1, 2, 4, 8, 16, 512}) {
          // Batched products run only on the layer shapes, and the scalar reference only for one
          // token (a batch would take minutes). The small batches (a server's decode steps) only
          // for the types of the benchmark models (Q4_0 / Q8_0 layers, Q6_K / Q4_K output) and
          // the Isas where AMX or VNNI matter; the logits shape only for 8 tokens (a decode step
          // of 8 sequences, each with its own logits row).
          const bool small_batch = n > 1 && n < 512;
          if (n > 1 && isa == Isa::kScalar) continue;
          if (n > 1 && s.rows > 8192 && n != 8) continue;
          if (small_batch && (isa < Isa::kAvx512Vnni ||
                              (type != TensorType::kQ4_0 && type != TensorType::kQ8_0 &&
                               type != TensorType::kQ6_K && type != TensorType::kQ4_K))) {
            continue;
          }
          for (int threads : {1, 2}) {
            const std::string name =
                base + s.name + "/n" + std::to_string(n) + "/t" + std::to_string(threads);
            auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, isa, type, s, n,
                                                   threads, true)
                          ->Unit(benchmark::kMicrosecond);
            if (threads > 1) b->UseRealTime();
            if (n == 1 && threads == 1 && isa != Isa::kScalar) {
              benchmark::RegisterBenchmark((name + "/unpacked").c_str(), BM_Matmul, isa, type, s, n,
                                           threads, false)
                  ->Unit(benchmark::kMicrosecond);
            }
          }
        }
      }
      // The roofline pairs for the types of the benchmark models (Q4_K_M: Q4_K, Q6_K).
      if (isa != Isa::kScalar && isa != Isa::kAvx512Amx &&
          (type == TensorType::kQ4_0 || type == TensorType::kQ4_K || type == TensorType::kQ6_K ||
           type == TensorType::kQ8_0 || type == TensorType::kF16)) {
        for (const Shape& s : kShapes) {
          for (int threads : {1, 2}) {
            const std::string name = "Roofline/" + tensor_type_name(type) + "/" + isa_name(isa) +
                                     "/" + s.name + "/t" + std::to_string(threads);
            benchmark::RegisterBenchmark(name.c_str(), BM_Roofline, isa, type, s, threads)
                ->Unit(benchmark::kMicrosecond)
                ->UseManualTime();
          }
        }
      }
      if (isa == Isa::kAvx512Vnni) {
        benchmark::RegisterBenchmark(("Prepare/" + tensor_type_name(type) + "/8192x2048").c_str(),
                                     BM_Prepare, isa, type)
            ->Unit(benchmark::kMillisecond);
      }
      benchmark::RegisterBenchmark(
          ("Convert/" + tensor_type_name(type) + "/" + isa_name(isa) + "/512x2048").c_str(),
          BM_Convert, isa, type)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  return true;
}();

}  // namespace
}  // namespace ember::kernels
