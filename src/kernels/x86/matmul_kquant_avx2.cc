// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS kernels for AVX2 (compiled with its flags only).
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx2.h"
#include "kernels/x86/tiles_kquant.h"

namespace ember::kernels::x86 {

PackedKernel avx2_kquant_kernel(TensorType type) {
  // Tiles (16 registers): 1 row vector (8 rows) x 3 tokens for batches, 1 for one token.
  return kquant_kernel<Avx2, 1, 3, 1>(type);
}

}  // namespace ember::kernels::x86
