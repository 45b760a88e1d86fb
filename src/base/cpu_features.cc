#include "base/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define EMBER_X86 1
#include <cpuid.h>
#endif

#include <cstdint>

#if defined(__linux__) && defined(EMBER_X86)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ember {
namespace {

#if defined(EMBER_X86)
struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

// CPUID leaf/subleaf; all zero when the leaf is beyond the CPU's maximum (never faults).
Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
  const uint32_t max_leaf = __get_cpuid_max(leaf & 0x80000000u, nullptr);
  if (max_leaf == 0 || leaf > max_leaf) return r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

// XCR0: which register states the OS saves on context switches. XGETBV may only be executed
// when CPUID.1:ECX.OSXSAVE is set (otherwise it faults), which the caller checks.
uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(uint32_t v, int b) {
  return ((v >> b) & 1u) != 0;
}

// Asks the OS for the AMX tile data state. Linux (5.16+) enables it per process on request
// (arch_prctl ARCH_REQ_XCOMP_PERM with XFEATURE_XTILEDATA); until then tile instructions fault.
// Other systems: no known way to ask, so AMX counts as unusable.
bool request_amx_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return ::syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
#endif

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#if defined(EMBER_X86)
  const Regs l1 = cpuid(1, 0);
  const Regs l7 = cpuid(7, 0);
  const Regs l7s1 = l7.eax >= 1 ? cpuid(7, 1) : Regs{};
  f.sse42 = bit(l1.ecx, 20);
  const bool osxsave = bit(l1.ecx, 27);
  uint64_t xcr0 = 0;
  if (osxsave) xcr0 = read_xcr0();
  // XCR0 bits: 1 SSE (XMM), 2 AVX (YMM upper halves), 5 opmask, 6 ZMM0-15 upper halves,
  // 7 ZMM16-31.
  const bool os_ymm = (xcr0 & 0x6u) == 0x6u;
  const bool os_zmm = (xcr0 & 0xE6u) == 0xE6u;
  f.avx = os_ymm && bit(l1.ecx, 28);
  if (f.avx) {
    f.fma = bit(l1.ecx, 12);
    f.f16c = bit(l1.ecx, 29);
    f.avx2 = bit(l7.ebx, 5);
    f.bmi2 = bit(l7.ebx, 8);
    f.avxvnni = bit(l7s1.eax, 4);
  }
  if (f.avx && os_zmm && bit(l7.ebx, 16)) {
    f.avx512f = true;
    f.avx512dq = bit(l7.ebx, 17);
    f.avx512bw = bit(l7.ebx, 30);
    f.avx512vl = bit(l7.ebx, 31);
    f.avx512vnni = bit(l7.ecx, 11);
    f.avx512bf16 = bit(l7s1.eax, 5);
  }
  // XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA); CPUID.7.0:EDX bit 24 AMX-TILE, 25 AMX-INT8,
  // 22 AMX-BF16. The permission request comes last: only when everything else says yes.
  const bool os_tiles = (xcr0 & 0x60000u) == 0x60000u;
  if (os_tiles && bit(l7.edx, 24) && request_amx_permission()) {
    f.amx_tile = true;
    f.amx_int8 = bit(l7.edx, 25);
    f.amx_bf16 = bit(l7.edx, 22);
  }
#endif
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect_cpu_features();
  return features;
}

std::string CpuFeatures::to_string() const {
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(sse42, "sse4.2");
  add(avx, "avx");
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(bmi2, "bmi2");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512dq, "avx512dq");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avxvnni, "avxvnni");
  add(amx_tile, "amx-tile");
  add(amx_int8, "amx-int8");
  add(amx_bf16, "amx-bf16");
  return s;
}

}  // namespace ember
