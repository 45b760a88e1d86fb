// Provisional portable implementation of kernels/matmul.h: activations stay F32 and each weight
// row is dequantized before an F32 dot product. Correct for every type but slow; it exists so the
// runtime can be built and tested while the real kernels (scalar 8-bit reference + SIMD variants)
// are written, and is replaced by them.
#include <cstring>
#include <vector>

#include "kernels/matmul.h"
#include "tensor/quantize.h"

namespace ember::kernels {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx512Vnni: return "avx512-vnni";
  }
  return "unknown";
}

std::vector<Isa> supported_isas() { return {Isa::kScalar}; }
Isa best_isa() { return Isa::kScalar; }

size_t activation_bytes(TensorType, int64_t n_tokens, int64_t cols) {
  return static_cast<size_t>(n_tokens) * static_cast<size_t>(cols) * sizeof(float);
}

void convert_activations(Isa, TensorType, const float* x, int64_t n_tokens, int64_t cols,
                         void* out) {
  std::memcpy(out, x, static_cast<size_t>(n_tokens * cols) * sizeof(float));
}

void matmul(Isa, const Weights& w, const void* x_converted, int64_t n_tokens, float* y,
            int64_t ldy, int64_t row_begin, int64_t row_end) {
  const float* x = static_cast<const float*>(x_converted);
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    const auto* src = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r) * w.row_bytes;
    (void)dequantize_row(w.type, src, row.data(), w.cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * w.cols;
      float sum = 0.0f;
      for (int64_t c = 0; c < w.cols; ++c) sum += row[static_cast<size_t>(c)] * xt[c];
      y[t * ldy + r] = sum;
    }
  }
}

}  // namespace ember::kernels
