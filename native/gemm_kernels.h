// Interface between the GEMM dispatcher (gemm.cc, built with baseline flags) and the kernel families, each in
// its own translation unit built with its own target flags (gemm_avx512.cc, gemm_avx2.cc, gemm_portable.cc,
// gemm_avx512bf16.cc, gemm_avx512vnni.cc, gemm_amx.cc, gemm_amx_emu.cc). Only plain structs and function pointers
// cross this line, so no inline function or template compiled for one ISA can be picked by the linker for another
// (the ODR trap of per-file target flags).
#pragma once
#include <cstddef>
#include <cstdint>

// MT_X86: build the x86 kernel families (AVX2, AVX-512, AVX512-BF16, VNNI, AMX) and detect them. MEDTUNE_PORTABLE_ONLY
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
  // cache blocking (set by the dispatcher from the CPU's cache sizes; 0: the kernel's defaults, its maximum)
  int kc = 0, nc = 0;
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

// int8 GEMM of a linear layer (inference): C[i, j] = a_scale[i] · b_scale[j] · Σ_k qa[i, k] · qb[j, k] + bias[j]
// (bias may be null), then act_out = act(C) with act != ACT_NONE. Exact int32 sums, so every kernel gives the same
// C bit for bit (the epilogue is the same float operations in the same order).
//   A: activations quantized per row (symmetric, qa in [-127, 127]) and stored as u8 = qa + 128, row-major, lda
//      bytes per row (a multiple of 4; k ≥ K is padding);
//   B: weights quantized per output channel (symmetric s8), packed once in "k quads": for each block of INT8_NR = 32
//      output channels and each quad p of k (k = 4p..4p+3, zero beyond K), 32 int32 lanes, lane c = the 4 bytes of
//      channel 32·block + c. That is the layout vpdpbusd multiplies (u8 × s8, 4 products per lane), and, read with
//      a row stride of 128 bytes, the B tile of AMX's tdpbusd (16 quads × 16 channels): one packing for every
//      int8 kernel (int8_pack_weights);
//   comp[j] = 128 · Σ_k qb[j, k] takes the +128 of A out again: Σ_k (qa + 128) · qb − comp[j] = Σ_k qa · qb.
constexpr int INT8_NR = 32;
struct Int8Args {
  int M, N, K;
  const uint8_t* A;
  int64_t lda;
  const float* a_scale;
  const int32_t* B;
  const int32_t* comp;
  const float* b_scale;
  const float* bias;
  float* C;
  int64_t ldc;
  int act;
  float* act_out;
};

// One int8 kernel family: block() computes C[m0:m1, n0:n1] on the calling thread (n0 a multiple of INT8_NR).
struct Int8Kernel {
  const char* name;
  int mr;
  void (*block)(const Int8Args& g, int m0, int m1, int n0, int n1);
};

// Each returns its family's descriptor; the x86 ones exist only in x86-64 builds and must only be called when
// cpu() reports the ISA.
const Int8Kernel* int8_kernel_portable();
#if MT_X86
const Int8Kernel* int8_kernel_avx512vnni();
#endif
const GemmKernel* gemm_kernel_portable();
const GemmKernel* gemm_kernel_portable_bf16();
#if MT_X86
const GemmKernel* gemm_kernel_avx2();
const GemmKernel* gemm_kernel_avx512();
const GemmKernel* gemm_kernel_avx512bf16();
// AMX (gemm_amx.cc, built with -mamx-tile -mamx-bf16 -mamx-int8 where the compiler takes them): null in a build
// without them; called only when amx_unusable() (cpu.h) is "".
const GemmKernel* gemm_kernel_amx_bf16();
const Int8Kernel* int8_kernel_amx();
#endif
// The same AMX packing and loop code on the portable emulation of the tile instructions (gemm_amx_emu.cc, any
// CPU; slow): what the tests check bit for bit. Never chosen by default.
const GemmKernel* gemm_kernel_amx_emu_bf16();
const Int8Kernel* int8_kernel_amx_emu();

}  // namespace mt
