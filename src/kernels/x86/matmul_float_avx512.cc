// F32, F16 and BF16 kernels for AVX-512 (compiled with its flags only; VNNI adds nothing here).
#include "kernels/x86/kernels_x86.h"
#include "kernels/x86/simd_avx512.h"
#include "kernels/x86/tiles_float.h"

namespace ember::kernels::x86 {

PackedKernel avx512_float_kernel(TensorType type) {
  // Tiles: 2 row vectors (32 rows) x 12 tokens for batches, 2 row vectors for one token.
  return float_kernel<Avx512<false>, 2, 12, 2>(type);
}

}  // namespace ember::kernels::x86
