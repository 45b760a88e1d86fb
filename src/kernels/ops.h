// Elementwise and small vector kernels of the forward pass (everything except the matrix
// products of kernels/matmul.h): RMS normalisation, activations, soft-capping, softmax pieces,
// and the key/value-cache dot products and updates used by attention.
//
// Each Isa has its own table of function pointers (`ops(isa)`); kScalar is the portable
// reference the SIMD variants are tested against. Within one Isa every function computes each
// output element with the same arithmetic whatever the length or position of the slice it is
// given, so splitting work across threads or tokens never changes a result.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/matmul.h"
#include "tensor/tensor_type.h"

namespace ember::kernels {

// Storage types of the key/value cache rows.
enum class KvType : uint8_t { kF32, kF16, kQ8_0 };

const char* kv_type_name(KvType type);
TensorType kv_tensor_type(KvType type);
// Bytes of one cache row of `n` values (n must be a multiple of 32 for kQ8_0).
size_t kv_row_bytes(KvType type, int64_t n);

struct OpsTable {
  Isa isa;

  // y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]  (w may be null: no weight). x and y may alias.
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // x[i] *= a
  void (*scale)(float* x, float a, int64_t n);
  // y[i] += x[i]
  void (*add)(float* y, const float* x, int64_t n);
  // g[i] = silu(g[i]) * u[i], silu(x) = x / (1 + exp(-x))
  void (*silu_mul)(float* g, const float* u, int64_t n);
  // g[i] = gelu(g[i]) * u[i], GELU with the tanh approximation
  void (*gelu_mul)(float* g, const float* u, int64_t n);
  // x[i] = cap * tanh(x[i] / cap)
  void (*softcap)(float* x, float cap, int64_t n);
  // x[i] = exp(x[i] - max); returns the sum of the new x[i] (accumulated in order).
  float (*exp_sum)(float* x, float max, int64_t n);
  // Largest x[i] (-inf for n == 0).
  float (*max)(const float* x, int64_t n);

  // Attention over one cache row: dot(q, row) and acc += a * row, for a row stored as `type`
  // (n values; a kQ8_0 row is n / 32 blocks).
  float (*kv_dot[3])(const float* q, const void* row, int64_t n);
  void (*kv_axpy[3])(float a, const void* row, float* acc, int64_t n);
  // Stores n F32 values as a cache row of the given type.
  void (*kv_store[3])(const float* x, void* row, int64_t n);
};

// The table for `isa` (an Isa without its own variant of a kernel uses the next lower one).
const OpsTable& ops(Isa isa);

// Per-variant tables (defined in ops_scalar.cc and src/kernels/x86/ops_*.cc).
const OpsTable& ops_scalar();
#if defined(__x86_64__)
const OpsTable& ops_avx2();
const OpsTable& ops_avx512();
#endif

}  // namespace ember::kernels
