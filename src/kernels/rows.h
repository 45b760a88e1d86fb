// Fused row kernels of the encoder forward pass (runtime/encoder.cc): post-norm LayerNorm with
// its residual add, the scaled softmax of an attention score row, and bias + GELU. Each replaces a
// sequence of kernels/ops.h calls by one call that reads the row fewer times.
//
// As in kernels/ops.h, every Isa computes bit-identical results (the scalar table emulates the
// 16-lane vector arithmetic: the same roundings, unfused multiplies and adds, and summation
// trees), and each output depends only on its own row.
#pragma once

#include <cstdint>

#include "kernels/matmul.h"

namespace ember::kernels {

struct RowOps {
  Isa isa;

  // x[i] = ((c[i] * s) * w[i]) + b[i] over a row of n values, where
  //   r[i] = x[i] + (add[i] + bias[i])   (add null: r = x; bias null: no bias; bias is read
  //           only with add),
  //   mean  = float(sum(r) / n), the sum in double over 8 interleaved partial sums (partial j
  //           takes r[8 k + j] for the whole groups of 8, partial 0 the n % 8 tail, in order),
  //           combined as ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
  //   c[i] = r[i] - mean,
  //   s     = 1 / sqrtf(float(sum(c^2) / n) + eps), the squares (in float) summed in double as
  //           kernels/ops.h's rmsnorm sums them,
  // (w or b null: no weight / no bias). Bit-identical to the sequence add(add, bias),
  // add(x, add), the mean above, x -= mean, rmsnorm(x, w, x, n, eps), add(x, b).
  void (*layer_norm)(float* x, const float* add, const float* bias, const float* w, const float* b,
                     int64_t n, float eps);

  // x[i] = e[i] * float(1 / sum(e)) with e[i] = vexp(x[i] * scale - m), m = max(x[i] * scale),
  // vexp the exp of kernels/ops.h (ops_common.h's vexp_lane) for every element (the last group
  // of 16 masked), each group of 16 summed in float by the 16-lane tree (missing lanes 0) and
  // the group sums accumulated in double. (Equals scale, max, softmax, scale of kernels/ops.h
  // except that ops.h's softmax takes the C library's expf for the n % 16 tail.) n >= 1.
  void (*softmax_scaled)(float* x, float scale, int64_t n);
  // softmax_scaled on `rows` rows of n values, rows ld apart: each row's bits as softmax_scaled
  // gives them (SIMD variants work on several rows at once, interleaving their dependency chains).
  void (*softmax_scaled_rows)(float* x, int64_t ld, int64_t rows, float scale, int64_t n);

  // x[i] = gelu(x[i] + bias[i]) (bias may be null): kernels/ops.h's gelu_mul with u = 1 (the
  // reference's half-precision table), bit-identical to add(x, bias) then gelu_mul(x, ones).
  void (*bias_gelu)(float* x, const float* bias, int64_t n);
};

// The table for `isa` (an Isa without its own variant uses the next lower one).
const RowOps& row_ops(Isa isa);

// Per-variant tables (defined beside the ops tables: ops_scalar.cc, src/kernels/x86/ops_*.cc).
const RowOps& row_ops_scalar();
#if defined(__x86_64__)
const RowOps& row_ops_avx2();
const RowOps& row_ops_avx512();
#endif

}  // namespace ember::kernels
