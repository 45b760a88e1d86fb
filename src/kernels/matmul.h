// Matrix products between model weights (any tensor type) and F32 activations.
//
// This is the one interface the runtime uses for every linear layer. A product runs in two steps:
//   1. convert_activations: the F32 activations x[n_tokens][cols] are converted once into the
//      format the weight type's dot product wants (e.g. 8-bit blocks for quantized weights, as
//      the reference implementation does);
//   2. matmul: y[t][r] = dot(W[r], x[t]) for a range of weight rows, so threads split the work by
//      rows and every output element is computed by exactly one thread.
// Determinism contract: for a given Isa, each y[t][r] is computed with the same arithmetic
// whatever n_tokens, the row range, the tile it falls in or the thread count, so results are
// bit-identical between a batch and token-by-token evaluation. Different Isa values may differ
// in the last bits (summation order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/tensor_type.h"

namespace ember::kernels {

// Instruction-set variants of the kernels. kScalar is the portable reference that every other
// variant is tested against.
enum class Isa : uint8_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3 };

const char* isa_name(Isa isa);
// The variants this CPU *and* OS can run (XCR0 checked), kScalar first, best last.
std::vector<Isa> supported_isas();
// The fastest supported variant.
Isa best_isa();

// A weight matrix [rows][cols]: `rows` output features, `cols` input features; row r starts at
// data + r * row_bytes (row_bytes >= tensor_row_size(type, cols)).
struct Weights {
  TensorType type = TensorType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
};

// Bytes needed to hold n_tokens activation rows of `cols` values converted for `weight_type`.
size_t activation_bytes(TensorType weight_type, int64_t n_tokens, int64_t cols);

// Converts x[n_tokens][cols] (row-major, contiguous) for products with weights of `weight_type`.
// `out` holds activation_bytes(weight_type, n_tokens, cols) bytes.
void convert_activations(Isa isa, TensorType weight_type, const float* x, int64_t n_tokens,
                         int64_t cols, void* out);

// y[t * ldy + r] = sum_c W[r][c] * x[t][c] for r in [row_begin, row_end), t in [0, n_tokens).
// `x_converted` comes from convert_activations with the same weight type and cols.
void matmul(Isa isa, const Weights& w, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end);

}  // namespace ember::kernels
