// fp32 GEMM micro-kernel for AVX-512 (built with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma; called only when
// cpu() has them). Tile MR×NR = 12×32: 24 zmm accumulators + 2 B vectors + 1 broadcast of the 32 registers; per k
// two aligned loads of packed B and 12 broadcast-FMAs pairs (the broadcast folds into the FMA's memory operand).
#include <immintrin.h>
#include "gemm_driver.h"
#include "transpose_avx512.h"

namespace {

struct Avx512 {
  using Elem = float;
  static constexpr int MR = 12, NR = 32, KC = 512, NC = 1024, KSTEP = 1;

  // t[r] = row r of a rows×cols block (lanes ≥ cols and rows ≥ `rows` are zero)
  static inline void load_rows(const float* s, int64_t ld, int rows, int cols, __m512* t) {
    const __mmask16 m = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    for (int r = 0; r < 16; r++) t[r] = r < rows ? _mm512_maskz_loadu_ps(m, s + r * ld) : _mm512_setzero_ps();
  }

  // op(A)[i0:i0+rows, k0:k0+kc] -> dst[k][MR] (rows zero-padded)
  static void pack_a(const mt::GemmArgs& g, int i0, int rows, int k0, int kc, float* __restrict dst) {
    if (g.tA) {  // A stored K×M: each k is a contiguous run of rows
      const __mmask16 m = (__mmask16)((1u << rows) - 1);
      for (int k = 0; k < kc; k++)
        _mm512_mask_storeu_ps(dst + k * MR, (__mmask16)((1u << MR) - 1),
                              _mm512_maskz_loadu_ps(m, g.A + (int64_t)(k0 + k) * g.lda + i0));
      return;
    }
    // A row-major: 16 k at a time through a register transpose; each k then holds the MR rows in lanes 0..MR-1
    const float* s = g.A + (int64_t)i0 * g.lda + k0;
    for (int k = 0; k < kc; k += 16) {
      const int kn = kc - k < 16 ? kc - k : 16;
      __m512 t[16];
      load_rows(s + k, g.lda, rows, kn, t);
      transpose16(t);
      for (int j = 0; j < kn; j++) _mm512_mask_storeu_ps(dst + (k + j) * MR, (__mmask16)((1u << MR) - 1), t[j]);
    }
  }

  // op(B)[k0:k0+kc, j0:j0+cols] -> dst[k][NR] (columns zero-padded)
  static void pack_b(const mt::GemmArgs& g, int k0, int kc, int j0, int cols, float* __restrict dst) {
    if (!g.tB) {
      const __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
      const __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
      for (int k = 0; k < kc; k++) {
        const float* s = g.B + (int64_t)(k0 + k) * g.ldb + j0;
        _mm512_store_ps(dst + k * NR, _mm512_maskz_loadu_ps(m0, s));
        _mm512_store_ps(dst + k * NR + 16, _mm512_maskz_loadu_ps(m1, s + 16));
      }
      return;
    }
    // B stored N×K: column c of op(B) is row j0+c of B; 16 columns × 16 k per register transpose
    for (int c0 = 0; c0 < NR; c0 += 16) {
      const int cn = cols - c0 < 0 ? 0 : (cols - c0 < 16 ? cols - c0 : 16);
      const float* s = g.B + (int64_t)(j0 + c0) * g.ldb + k0;
      for (int k = 0; k < kc; k += 16) {
        const int kn = kc - k < 16 ? kc - k : 16;
        __m512 t[16];
        load_rows(s + k, g.ldb, cn, kn, t);
        transpose16(t);
        for (int j = 0; j < kn; j++) _mm512_store_ps(dst + (k + j) * NR + c0, t[j]);
      }
    }
  }

  // C[R, ncols] = alpha · Σ_k a[k][r] b[k][:] + beta · C   (beta == 0: C not read)
  // A read in place when N is small: with few B slivers per A sliver its pack is not repaid. Row-major op(A)
  // (mode 1: rows at a + r·lda): +2-7% on attention's 128×128×64 and 128×64×128 per head; op(A) = Aᵀ (mode 2: the
  // sliver is already k-major, rows of A at a + k·lda): +8% on the 128×64×128 TN products of attention's backward
  // (thread CPU time). For N ≥ 256 the packed sliver is 1.5-6% faster (strided reads cost more than the pack).
  static constexpr bool DIRECT_A = true;
  static int direct_a(const mt::GemmArgs& g) { return g.N > 128 ? 0 : g.tA ? 2 : 1; }

  template <int R>
  static void tile(int kc, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc,
                   float alpha, float beta, int ncols) {
    tile_impl<R, 0>(kc, a, 0, b, c, ldc, alpha, beta, ncols);
  }
  template <int R>
  static void tile_direct(int kc, const float* __restrict a, int64_t lda, const float* __restrict b,
                          float* __restrict c, int64_t ldc, float alpha, float beta, int ncols) {
    tile_impl<R, 1>(kc, a, lda, b, c, ldc, alpha, beta, ncols);
  }
  template <int R>
  static void tile_direct_t(int kc, const float* __restrict a, int64_t lda, const float* __restrict b,
                            float* __restrict c, int64_t ldc, float alpha, float beta, int ncols) {
    tile_impl<R, 2>(kc, a, lda, b, c, ldc, alpha, beta, ncols);
  }

  // MODE 0: packed sliver a[k][MR]; 1: rows in place, a[r·lda + k]; 2: k-major in place, a[k·lda + r]
  template <int R, int MODE>
  static inline __attribute__((always_inline)) void tile_impl(int kc, const float* __restrict a, int64_t lda,
                                                              const float* __restrict b, float* __restrict c,
                                                              int64_t ldc, float alpha, float beta, int ncols) {
    __m512 x[R], y[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) x[r] = y[r] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
      const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        const __m512 av = _mm512_set1_ps(MODE == 1 ? a[r * lda] : a[r]);
        x[r] = _mm512_fmadd_ps(av, b0, x[r]);
        y[r] = _mm512_fmadd_ps(av, b1, y[r]);
      }
      a += MODE == 0 ? MR : MODE == 1 ? 1 : lda;
      b += NR;
    }
    const __mmask16 m0 = ncols >= 16 ? 0xFFFF : (__mmask16)((1u << ncols) - 1);
    const __mmask16 m1 = ncols >= 32 ? 0xFFFF : ncols <= 16 ? 0 : (__mmask16)((1u << (ncols - 16)) - 1);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      float* cr = c + r * ldc;
      __m512 u = _mm512_mul_ps(va, x[r]), v = _mm512_mul_ps(va, y[r]);
      if (beta != 0.0f) {
        u = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), u);
        v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), v);
      }
      _mm512_mask_storeu_ps(cr, m0, u);
      _mm512_mask_storeu_ps(cr + 16, m1, v);
    }
  }
};

const mt::GemmKernel kernel = {
    "avx512", Avx512::MR, Avx512::NR, false, mt::Driver<Avx512>::WORK, &mt::Driver<Avx512>::block};

}  // namespace

namespace mt {
const GemmKernel* gemm_kernel_avx512() { return &kernel; }
}  // namespace mt
