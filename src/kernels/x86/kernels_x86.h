// Registry of the x86 SIMD kernels, one lookup per Isa. The kernels themselves live in files
// compiled for their instruction set (matmul_<group>_<isa>.cc); these lookups are compiled for
// the baseline and only return pointers, which are called after the dispatch has checked that
// the CPU and OS support the Isa.
#pragma once

#include "kernels/matmul_internal.h"

namespace ember::kernels::x86 {

// nullptr when the Isa has no kernel of its own for the type.
PackedKernel avx2_kernel(TensorType type);
PackedKernel avx512_kernel(TensorType type);
PackedKernel avx512vnni_kernel(TensorType type);

ConvertKernel avx2_convert();
ConvertKernel avx512_convert();

}  // namespace ember::kernels::x86
