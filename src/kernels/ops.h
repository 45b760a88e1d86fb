// Elementwise and small vector kernels of the forward pass (everything except the matrix
// products of kernels/matmul.h): RMS normalisation, activations, soft-capping, softmax pieces,
// and the primitives of attention over the key/value cache (kernels/attention.h).
//
// Numerics follow the reference implementation's x86 AVX-512 build operation by operation (the
// same roundings, fused multiply-adds and summation trees), because quantized matrix products
// round their 8-bit activations: a last-bit difference anywhere upstream flips some of those
// roundings and grows into visible logit differences. Every Isa computes bit-identical results
// (the scalar table emulates the vector lanes), except where noted.
//
// Within one Isa every function computes each output element with the same arithmetic whatever
// the slice it is given belongs to, so splitting work across threads never changes a result.
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

  // y[i] = (x[i] * s) * w[i] with s = 1 / sqrt(mean(x^2) + eps), the squares summed in double
  // (w may be null: no weight). x and y may alias.
  void (*rmsnorm)(const float* x, const float* w, float* y, int64_t n, float eps);
  // x[i] *= a
  void (*scale)(float* x, float a, int64_t n);
  // y[i] += x[i]
  void (*add)(float* y, const float* x, int64_t n);
  // g[i] = silu(g[i]) * u[i], silu(x) = x / (1 + exp(-x)); exp as vexp() below for whole groups
  // of 16 elements, the C library's expf for the last n % 16.
  void (*silu_mul)(float* g, const float* u, int64_t n);
  // g[i] = gelu(g[i]) * u[i]: GELU (tanh approximation) looked up at the half-precision rounding
  // of g[i], the result rounded to half precision (0 below -10, identity above 10).
  void (*gelu_mul)(float* g, const float* u, int64_t n);
  // x[i] = tanhf(x[i] * (1 / cap)) * cap
  void (*softcap)(float* x, float cap, int64_t n);
  // x[i] = exp(x[i] - max), exp as silu_mul's; returns the sum of the new values, each group of
  // 16 summed in float (a fixed tree) and the group sums (and the tail) accumulated in double.
  double (*softmax)(float* x, float max, int64_t n);
  // Largest x[i] (-inf for n == 0).
  float (*max)(const float* x, int64_t n);

  // --- attention primitives ---------------------------------------------------------------
  // dot(q, k) for a half-precision key row, q given as float values that are exact halves
  // (the reference rounds the query to F16 first): four 16-lane FMA accumulators over groups of
  // 64, reduced by a fixed tree; the n % 64 tail accumulated in double.
  float (*dot_f16)(const float* q, const uint16_t* k, int64_t n);
  // The same for an F32 key row (tail in float).
  float (*dot_f32)(const float* q, const float* k, int64_t n);
  // Half-precision accumulator rows: acc = f16(f32(acc) * s), acc = f16(fma(f32(v), s, f32(acc))).
  void (*f16_scale)(uint16_t* acc, float s, int64_t n);
  void (*f16_mad)(uint16_t* acc, const uint16_t* v, float s, int64_t n);
  // acc[i] = fma(v[i], s, acc[i])
  void (*f32_mad)(float* acc, const float* v, float s, int64_t n);
  // C[M x N] += A[M x K] * B[K x N]: every element an FMA chain over k ascending, starting from
  // its current value (the reference's SIMD GEMM used by tiled attention).
  void (*gemm_acc)(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
                   int64_t m, int64_t k, int64_t n);
  // C[M x N] = A[M x K] * B[K x N]: gemm_acc on a C of zeros, bit for bit (the same FMA
  // chains, from zero), without reading C first.
  void (*gemm)(float* c, int64_t ldc, const float* a, int64_t lda, const float* b, int64_t ldb,
               int64_t m, int64_t k, int64_t n);

  // The same for a B whose row kk is the half-precision row b_rows[kk] (n values, widened
  // exactly): the same FMA chains as gemm_acc, bit for bit. Tiled attention's P . V for a few
  // query rows reads the F16 value rows straight from the cache this way (no conversion pass).
  void (*gemm_acc_f16b)(float* c, int64_t ldc, const float* a, int64_t lda,
                        const uint16_t* const* b_rows, int64_t m, int64_t k, int64_t n);

  // dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows, c < cols (data movement only:
  // every Isa gives the same result). Tiled attention's key tile, [cells][dk] -> [dk][cells].
  void (*transpose)(const float* src, int64_t ld_src, float* dst, int64_t ld_dst, int64_t rows,
                    int64_t cols);

  // dst[c * ld_dst + r] = float(rows[r][c]) for half-precision rows (exact; one pass):
  // tiled attention's F16 key tile, [cells][dk] -> [dk][cells].
  void (*f16_rows_to_f32_t)(const uint16_t* const* rows, int64_t n_rows, int64_t cols, float* dst,
                            int64_t ld_dst);

  // y[i] = float(x[i]) for half-precision x (exact).
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n);

  // A Q8_0 cache row (n values, n a multiple of 32) dequantized: y[i] = float(q[i]) * d of its
  // block, one rounding, as the reference dequantizes (every Isa gives the same bits).
  void (*q8_0_to_f32)(const uint8_t* row, float* y, int64_t n);

  // Stores n F32 values as a cache row of the given type.
  void (*kv_store[3])(const float* x, void* row, int64_t n);
};

// The table for `isa` (an Isa without its own variant uses the next lower one).
const OpsTable& ops(Isa isa);

// Per-variant tables (defined in ops_scalar.cc and src/kernels/x86/ops_*.cc).
const OpsTable& ops_scalar();
#if defined(__x86_64__)
const OpsTable& ops_avx2();
const OpsTable& ops_avx512();
#endif

}  // namespace ember::kernels
