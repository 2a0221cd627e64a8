// Portable GEMM kernels in plain C++ (any CPU: x86-64 without AVX2, ARM64, ...; gcc/clang vectorise the 16-wide
// inner loops with SSE2 or NEON). Tile MR×NR = 4×8 (16 xmm registers on x86-64), 4×16 on ARM64 (32 NEON registers).
//   fp32: the reference structure of the SIMD kernels, same packing and loop nest (gemm_driver.h).
//   bf16: bf16 storage, fp32 compute. Operands are rounded to bf16 while packing, in k pairs laid out exactly as
//   vdpbf16ps consumes them, and each pair is accumulated odd element first, then even, as the instruction does.
//   Products of two bf16 values are exact in fp32, so this path gives the same sums as gemm_avx512bf16.cc (up to
//   denormal flushing), and it is what runs the bf16 unit tests on CPUs without AVX512-BF16.
#include "gemm_driver.h"
#include "bf16.h"

namespace {

#if defined(__aarch64__)
constexpr int PNR = 16;
#else
constexpr int PNR = 8;
#endif

struct Portable {
  using Elem = float;
  static constexpr int MR = 4, NR = PNR, KC = 256, NC = 1024, KSTEP = 1;

  static void pack_a(const mt::GemmArgs& g, int i0, int rows, int k0, int kc, float* __restrict dst) {
    for (int k = 0; k < kc; k++)
      for (int r = 0; r < MR; r++)
        dst[k * MR + r] = r >= rows ? 0.0f
                          : g.tA    ? g.A[(int64_t)(k0 + k) * g.lda + i0 + r]
                                    : g.A[(int64_t)(i0 + r) * g.lda + k0 + k];
  }

  static void pack_b(const mt::GemmArgs& g, int k0, int kc, int j0, int cols, float* __restrict dst) {
    for (int k = 0; k < kc; k++)
      for (int c = 0; c < NR; c++)
        dst[k * NR + c] = c >= cols ? 0.0f
                          : g.tB    ? g.B[(int64_t)(j0 + c) * g.ldb + k0 + k]
                                    : g.B[(int64_t)(k0 + k) * g.ldb + j0 + c];
  }

  template <int R>
  static void tile(int kc, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc,
                   float alpha, float beta, int ncols) {
    float acc[R][NR] = {};
    for (int k = 0; k < kc; k++, a += MR, b += NR) {
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) {
        const float av = a[r];
#pragma GCC unroll 16
        for (int j = 0; j < NR; j++) acc[r][j] += av * b[j];
      }
    }
    for (int r = 0; r < R; r++) {
      float* cr = c + r * ldc;
      for (int j = 0; j < ncols; j++) cr[j] = alpha * acc[r][j] + (beta == 0.0f ? 0.0f : beta * cr[j]);
    }
  }
};

// packed element = one k pair (low half: even k, high half: odd k), as vdpbf16ps reads it
struct PortableBf16 {
  using Elem = uint32_t;
  static constexpr int MR = 4, NR = PNR, KC = 512, NC = 1024, KSTEP = 2;

  static inline uint32_t pair(float even, float odd) {
    return (uint32_t)mt::bf16_from_float(even) | ((uint32_t)mt::bf16_from_float(odd) << 16);
  }
  static inline float opA(const mt::GemmArgs& g, int i, int k) {
    return g.tA ? g.A[(int64_t)k * g.lda + i] : g.A[(int64_t)i * g.lda + k];
  }
  static inline float opB(const mt::GemmArgs& g, int k, int j) {
    return g.tB ? g.B[(int64_t)j * g.ldb + k] : g.B[(int64_t)k * g.ldb + j];
  }

  static void pack_a(const mt::GemmArgs& g, int i0, int rows, int k0, int kc, uint32_t* __restrict dst) {
    for (int p = 0; p < (kc + 1) / 2; p++)
      for (int r = 0; r < MR; r++) {
        const int k = k0 + 2 * p;
        dst[p * MR + r] = r >= rows ? 0u : pair(opA(g, i0 + r, k), 2 * p + 1 < kc ? opA(g, i0 + r, k + 1) : 0.0f);
      }
  }

  static void pack_b(const mt::GemmArgs& g, int k0, int kc, int j0, int cols, uint32_t* __restrict dst) {
    for (int p = 0; p < (kc + 1) / 2; p++)
      for (int c = 0; c < NR; c++) {
        const int k = k0 + 2 * p;
        dst[p * NR + c] = c >= cols ? 0u : pair(opB(g, k, j0 + c), 2 * p + 1 < kc ? opB(g, k + 1, j0 + c) : 0.0f);
      }
  }

  static inline float lo(uint32_t v) { return mt::bf16_to_float((uint16_t)v); }
  static inline float hi(uint32_t v) { return mt::bf16_to_float((uint16_t)(v >> 16)); }

  template <int R>
  static void tile(int kp, const uint32_t* __restrict a, const uint32_t* __restrict b, float* __restrict c, int64_t ldc,
                   float alpha, float beta, int ncols) {
    float acc[R][NR] = {};
    for (int p = 0; p < kp; p++, a += MR, b += NR)
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) {
        const float ae = lo(a[r]), ao = hi(a[r]);
        for (int j = 0; j < NR; j++) {
          acc[r][j] += ao * hi(b[j]);  // exact products: the order of the two adds is what matters
          acc[r][j] += ae * lo(b[j]);
        }
      }
    for (int r = 0; r < R; r++) {
      float* cr = c + r * ldc;
      for (int j = 0; j < ncols; j++) cr[j] = alpha * acc[r][j] + (beta == 0.0f ? 0.0f : beta * cr[j]);
    }
  }
};

const mt::GemmKernel fp32 = {
    "portable", Portable::MR, Portable::NR, false, mt::Driver<Portable>::WORK, &mt::Driver<Portable>::block};
const mt::GemmKernel bf16 = {"portable-bf16", PortableBf16::MR, PortableBf16::NR, true, mt::Driver<PortableBf16>::WORK,
                             &mt::Driver<PortableBf16>::block};

}  // namespace

namespace mt {
const GemmKernel* gemm_kernel_portable() { return &fp32; }
const GemmKernel* gemm_kernel_portable_bf16() { return &bf16; }
}  // namespace mt
