// CPU feature detection (CPUID + XGETBV on x86-64; nothing to detect elsewhere). Kernels built for an ISA are
// only ever called when these flags say the CPU and the OS support it, so one build runs on any machine.
#pragma once
#include <string>

namespace mt {

struct CpuFeatures {
  bool avx2 = false, fma = false;                                     // x86-64-v3 GEMM kernel
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;  // AVX-512 GEMM kernel
  bool avx512bf16 = false;                                            // vdpbf16ps: bf16 GEMM
  bool neon = false;                                                  // aarch64 (portable kernel only)
};

const CpuFeatures& cpu();
// "avx2 fma avx512f ... avx512_bf16" as /proc/cpuinfo spells them (only the flags medtune cares about)
std::string cpu_flags();

}  // namespace mt
