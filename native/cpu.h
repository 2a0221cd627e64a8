// CPU feature detection (CPUID + XGETBV on x86-64; nothing to detect elsewhere). Kernels built for an ISA are
// only ever called when these flags say the CPU and the OS support it, so one build runs on any machine.
#pragma once
#include <string>

namespace mt {

struct CpuFeatures {
  bool avx2 = false, fma = false;                                             // x86-64-v3 GEMM kernel
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;  // AVX-512 GEMM kernel
  bool avx512bf16 = false;                                                    // vdpbf16ps: bf16 GEMM
  bool avx512vnni = false;                                                    // vpdpbusd: int8 GEMM
  bool avxvnni = false;                                                       // vpdpbusd on ymm (reported only)
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;  // AMX: CPUID.(EAX=7,ECX=0):EDX bits 24, 22, 25
  bool amx_os = false;  // XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA): the OS manages the tile state
  bool neon = false;                                          // aarch64 (portable kernel only)
  // data cache sizes of one core in bytes (CPUID leaf 4 on Intel, 0x8000001D on AMD; 0 where unknown)
  int l1d = 0, l2 = 0, l3 = 0;
  std::string vendor, model;  // "AuthenticAMD", "AMD EPYC 9B45" (brand string; "" where unknown)
  int family = 0, model_id = 0, stepping = 0;
};

const CpuFeatures& cpu();
// "avx2 fma avx512f ... avx512_bf16 avx512_vnni" as /proc/cpuinfo spells them (only the flags medtune cares about)
std::string cpu_flags();
// AMX usable in this process: "" when the CPU has AMX-TILE, AMX-BF16 and AMX-INT8, the OS enables the tile state
// (XCR0) and the Linux permission request arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) succeeded (made once,
// at the first call); otherwise why not, in words. MEDTUNE_NO_AMX=1 refuses AMX (for comparing with the kernels
// below it on an AMX machine).
const std::string& amx_unusable();
// a name for this CPU model: brand string, family/model/stepping and flags (the key of per-CPU caches)
std::string cpu_key();

}  // namespace mt
