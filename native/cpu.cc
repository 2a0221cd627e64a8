// CPUID leaf 1 (FMA, OSXSAVE), leaf 7.0 (AVX2, AVX-512 F/DQ/BW/VL, AVX512_VNNI, AMX), leaf 7.1 EAX (AVX512_BF16,
// AVX_VNNI); XGETBV checks that the OS saves the YMM (XCR0 bits 1-2) and ZMM/opmask state (bits 5-7): a CPU flag
// alone is not enough (a hypervisor or OS can disable AVX-512). Cache sizes from the deterministic cache leaves
// (4 on Intel, 0x8000001D on AMD), the brand string from 0x80000002-4.
#include "cpu.h"
#include "gemm_kernels.h"
#if MT_X86
#include <cpuid.h>
#include <cstdint>
#include <cstring>
#endif
#if MT_X86 && defined(__linux__)
#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <cstdlib>

namespace mt {

#if MT_X86
static uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

// sizes of the level-1 data, level-2 and level-3 caches from a deterministic cache parameters leaf
static void caches(unsigned leaf, CpuFeatures& f) {
  for (unsigned i = 0; i < 16; i++) {
    unsigned a, b, c, d;
    __cpuid_count(leaf, i, a, b, c, d);
    const unsigned type = a & 0x1f, level = (a >> 5) & 7;
    if (type == 0) break;
    if (type == 2) continue;  // instruction cache
    const int size = (int)(((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) * (c + 1));
    if (level == 1) f.l1d = size;
    if (level == 2) f.l2 = size;
    if (level == 3) f.l3 = size;
  }
}

static void identity(CpuFeatures& f) {
  unsigned a, b, c, d;
  __cpuid(0, a, b, c, d);
  char v[13] = {};
  std::memcpy(v, &b, 4);
  std::memcpy(v + 4, &d, 4);
  std::memcpy(v + 8, &c, 4);
  f.vendor = v;
  __cpuid(1, a, b, c, d);
  const unsigned base = (a >> 8) & 0xf, ext = (a >> 20) & 0xff;
  f.family = (int)(base == 0xf ? base + ext : base);
  f.model_id = (int)(((a >> 4) & 0xf) | ((base == 0x6 || base == 0xf) ? ((a >> 16) & 0xf) << 4 : 0));
  f.stepping = (int)(a & 0xf);
  if (__get_cpuid_max(0x80000000, nullptr) >= 0x80000004) {
    unsigned r[12];
    for (unsigned i = 0; i < 3; i++) __cpuid(0x80000002 + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
    char s[49] = {};
    std::memcpy(s, r, 48);
    std::string m = s;
    while (!m.empty() && (m.back() == ' ' || m.back() == '\0')) m.pop_back();
    while (!m.empty() && m.front() == ' ') m.erase(m.begin());
    f.model = m;
  }
  if (f.vendor == "GenuineIntel" && __get_cpuid_max(0, nullptr) >= 4) caches(4, f);
  else if (__get_cpuid_max(0x80000000, nullptr) >= 0x8000001D) caches(0x8000001D, f);
}

static CpuFeatures detect() {
  CpuFeatures f;
  identity(f);
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
  f.avx512vnni = f.avx512f && (c & (1u << 11));
  f.amx_bf16 = d & (1u << 22);
  f.amx_tile = d & (1u << 24);
  f.amx_int8 = d & (1u << 25);
  f.amx_os = (xcr0 & 0x60000) == 0x60000;
  if (maxSub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avxvnni = ymm && (a & (1u << 4));
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
  add(f.avx512vnni, "avx512_vnni");
  add(f.avxvnni, "avx_vnni");
  add(f.amx_tile, "amx_tile");
  add(f.amx_bf16, "amx_bf16");
  add(f.amx_int8, "amx_int8");
  add(f.neon, "neon");
  return s.empty() ? "baseline" : s;
}

static std::string amx_check() {
  if (const char* no = std::getenv("MEDTUNE_NO_AMX"); no && std::string(no) == "1") return "MEDTUNE_NO_AMX=1";
#if !MT_X86
  return "not an x86-64 build";
#else
  const CpuFeatures& f = cpu();
  std::string missing;
  if (!f.amx_tile) missing += " amx_tile";
  if (!f.amx_bf16) missing += " amx_bf16";
  if (!f.amx_int8) missing += " amx_int8";
  if (!missing.empty()) return "this CPU has no AMX (CPUID.(EAX=7,ECX=0):EDX lacks" + missing + ")";
  if (!gemm_kernel_amx_bf16()) return "this build has no AMX kernels (the compiler did not take -mamx-tile)";
  if (!f.amx_os) return "the OS does not enable the AMX tile state (XCR0 bits 17-18)";
#if defined(__linux__)
  constexpr long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
  if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
    return std::string("the kernel refused the AMX permission request (arch_prctl ARCH_REQ_XCOMP_PERM: ") +
           std::strerror(errno) + ")";
  return "";
#else
  return "AMX is only used on Linux (its permission request is Linux's arch_prctl)";
#endif
#endif
}

const std::string& amx_unusable() {
  static const std::string why = amx_check();
  return why;
}

std::string cpu_key() {
  const CpuFeatures& f = cpu();
  return (f.model.empty() ? std::string("unknown CPU") : f.model) + " (" + (f.vendor.empty() ? "?" : f.vendor) +
         " family " + std::to_string(f.family) + " model " + std::to_string(f.model_id) + " stepping " +
         std::to_string(f.stepping) + "; " + cpu_flags() + ")";
}

}  // namespace mt
