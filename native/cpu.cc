// CPUID leaf 1 (FMA, OSXSAVE), leaf 7.0 (AVX2, AVX-512 F/DQ/BW/VL), leaf 7.1 EAX bit 5 (AVX512_BF16); XGETBV
// checks that the OS saves the YMM (XCR0 bits 1-2) and ZMM/opmask state (bits 5-7): a CPU flag alone is not
// enough (a hypervisor or OS can disable AVX-512).
#include "cpu.h"
#include "gemm_kernels.h"
#if MT_X86
#include <cpuid.h>
#include <cstdint>
#endif

namespace mt {

#if MT_X86
static uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  if (!osxsave) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm = (xcr0 & 0x6) == 0x6;
  const bool zmm = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned maxSub = a;
  f.avx2 = ymm && (b & (1u << 5));
  f.fma = ymm && fma;
  f.avx512f = zmm && (b & (1u << 16));
  f.avx512dq = zmm && (b & (1u << 17));
  f.avx512bw = zmm && (b & (1u << 30));
  f.avx512vl = zmm && (b & (1u << 31));
  if (maxSub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512bf16 = f.avx512f && (a & (1u << 5));
  }
  return f;
}
#else
static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__aarch64__)
  f.neon = true;
#endif
  return f;
}
#endif

const CpuFeatures& cpu() {
  static const CpuFeatures f = detect();
  return f;
}

std::string cpu_flags() {
  const CpuFeatures& f = cpu();
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512dq, "avx512dq");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512bf16, "avx512_bf16");
  add(f.neon, "neon");
  return s.empty() ? "baseline" : s;
}

}  // namespace mt
