// Interface between the GEMM dispatcher (gemm.cc, built with baseline flags) and the kernel families, each in
// its own translation unit built with its own target flags (gemm_avx512.cc, gemm_avx2.cc, gemm_portable.cc,
// gemm_avx512bf16.cc). Only plain structs and function pointers cross this line, so no inline function or template
// compiled for one ISA can be picked by the linker for another (the ODR trap of per-file target flags).
#pragma once
#include <cstddef>
#include <cstdint>

// MT_X86: build the x86 kernel families (AVX2, AVX-512, AVX512-BF16) and detect them. MEDTUNE_PORTABLE_ONLY
// builds as for a CPU without them (ARM64 and the like) on x86-64 too, to test that configuration here.
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(MEDTUNE_PORTABLE_ONLY)
#define MT_X86 1
#else
#define MT_X86 0
#endif

namespace mt {

// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C (+ bias[N] on every row), row-major; op(A) = A (M×K, lda)
// or Aᵀ (A stored K×M); op(B) = B (K×N, ldb) or Bᵀ (B stored N×K). With beta == 0, C is never read (it may hold
// NaN garbage). Epilogue (fused into the last K block, while each tile is still in L1): with act != ACT_NONE,
// act_out[i, j] = act(C[i, j]) as well (same ldc) — a linear layer's bias + GELU without another pass.
struct GemmArgs {
  bool tA, tB;
  int M, N, K;
  float alpha, beta;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float* C;
  int64_t ldc;
  const float* bias = nullptr;
  int act = 0;
  float* act_out = nullptr;
};

// One kernel family. block() computes the sub-rectangle C[m0:m1, n0:n1] single-threaded with `work` as scratch
// (work_bytes, 64-byte aligned). bf16 families round op(A) and op(B) to bfloat16 (nearest even) while packing and
// accumulate in fp32.
struct GemmKernel {
  const char* name;
  int mr, nr;
  bool bf16;
  size_t work_bytes;
  void (*block)(const GemmArgs& g, int m0, int m1, int n0, int n1, void* work);
};

// Each returns its family's descriptor; the x86 ones exist only in x86-64 builds and must only be called when
// cpu() reports the ISA.
const GemmKernel* gemm_kernel_portable();
const GemmKernel* gemm_kernel_portable_bf16();
#if MT_X86
const GemmKernel* gemm_kernel_avx2();
const GemmKernel* gemm_kernel_avx512();
const GemmKernel* gemm_kernel_avx512bf16();
#endif

}  // namespace mt
