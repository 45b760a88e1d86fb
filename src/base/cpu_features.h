// What the CPU and the operating system let ember's kernels use.
//
// A feature counts only when the processor reports it (CPUID) *and* the OS saves the register
// state it needs (XCR0 via XGETBV, itself only read when CPUID reports OSXSAVE): a CPU with
// AVX-512 under an OS that does not enable the ZMM state must not run AVX-512 code. On non-x86
// builds every flag is false. Detection runs once; the result is immutable.
#pragma once

#include <string>

namespace ember {

struct CpuFeatures {
  bool sse42 = false;
  bool avx = false;  // AVX with YMM state enabled by the OS
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool bmi2 = false;
  bool avx512f = false;  // AVX-512 with opmask/ZMM state enabled by the OS
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;  // VEX-encoded VNNI (256-bit), e.g. on hybrid Intel cores
  // AMX tiles: CPUID AMX-TILE, XCR0 tile state (bits 17 XTILECFG and 18 XTILEDATA) *and*, on
  // Linux, the process's permission to use the tile data state (arch_prctl
  // ARCH_REQ_XCOMP_PERM, requested during detection; the grant is per process and idempotent).
  // Without the grant the first tile instruction would fault, so no grant means false.
  bool amx_tile = false;
  bool amx_int8 = false;  // AMX-INT8 (tdpb*d), only with amx_tile
  bool amx_bf16 = false;  // AMX-BF16 (tdpbf16ps), only with amx_tile

  // "avx2 fma f16c avx512f ..." — the flags that are set, for logs and `ember` diagnostics.
  std::string to_string() const;
};

// The features of the running machine (detected on first call, then cached).
const CpuFeatures& cpu_features();

// Detection itself, exposed for tests; cpu_features() returns its cached result.
CpuFeatures detect_cpu_features();

}  // namespace ember
