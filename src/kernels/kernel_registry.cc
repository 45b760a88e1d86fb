// Which SIMD kernels exist for which Isa and weight type.
#include "kernels/matmul_internal.h"

#if defined(__x86_64__) || defined(_M_X64)
#include "kernels/x86/kernels_x86.h"
#endif

namespace ember::kernels {

PackedKernel packed_kernel(Isa isa, TensorType type) {
#if defined(__x86_64__) || defined(_M_X64)
  switch (isa) {
    case Isa::kScalar:
      return nullptr;
    case Isa::kAvx2:
      return x86::avx2_kernel(type);
    case Isa::kAvx512:
      return x86::avx512_kernel(type);
    case Isa::kAvx512Vnni:
      return x86::avx512vnni_kernel(type);
    case Isa::kAvx512Amx:
      return x86::avx512amx_kernel(type);
  }
#else
  (void)isa;
  (void)type;
#endif
  return nullptr;
}

ConvertKernel convert_kernel(Isa isa) {
#if defined(__x86_64__) || defined(_M_X64)
  switch (isa) {
    case Isa::kScalar:
      return nullptr;
    case Isa::kAvx2:
      return x86::avx2_convert();
    case Isa::kAvx512:
    case Isa::kAvx512Vnni:
    case Isa::kAvx512Amx:
      return x86::avx512_convert();
  }
#else
  (void)isa;
#endif
  return nullptr;
}

}  // namespace ember::kernels
