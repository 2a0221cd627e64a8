// bf16 GEMM with fp32 accumulation through AVX512-BF16 (built with -mavx512f -mavx512bw -mavx512dq -mavx512vl
// -mavx512bf16 -mfma; called only when cpu() has avx512_bf16). Operands stay fp32 in memory and are rounded to
// bf16 (vcvtne2ps2bf16, nearest even) while packing, in k pairs: one 32-bit lane = (even k, odd k), the layout
// vdpbf16ps consumes. Tile MR×NR = 12×32 like the fp32 kernel; each vdpbf16ps does 32 multiply-adds (2 per lane),
// twice the work of an fp32 FMA in the same issue slot, which is where the 2× comes from.
#include <immintrin.h>
#include "gemm_driver.h"
#include "transpose_avx512.h"

namespace {

struct Avx512Bf16 {
  using Elem = uint32_t;
  static constexpr int MR = 12, NR = 32, KC = 512, NC = 1024, KSTEP = 2;

  static inline __mmask16 mask16(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
  }

  // 16 lanes of (even, odd) pairs from two fp32 vectors: lane i = bf16(e[i]) | bf16(o[i]) << 16
  static inline __m512i pairs(__m512 e, __m512 o) {
    const __m512i lo = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(e));
    const __m512i hi = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(o));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
  }

  // 32 consecutive floats of a row -> 16 lanes of k pairs (lane p = elements 2p, 2p+1)
  static inline __m512 row_pairs(const float* s, int n) {
    const __m512 a = _mm512_maskz_loadu_ps(mask16(n), s), b = _mm512_maskz_loadu_ps(mask16(n - 16), s + 16);
    return (__m512)_mm512_cvtne2ps_pbh(b, a);  // lanes 0..15 from a, 16..31 from b
  }

  // `lines` (≤ 16) k-contiguous lines (rows of A, or rows of B = columns of op(B)), 32 k at a time, converted to
  // pairs and transposed: dst[p * stride + line] for p < ceil(kc/2); lanes ≥ `width` of each store are left out
  static void pack_lines(const float* s, int64_t ld, int lines, int kc, uint32_t* dst, int stride, __mmask16 width) {
    for (int k = 0; k < kc; k += 32) {
      const int kn = kc - k < 32 ? kc - k : 32;
      __m512 t[16];
      for (int r = 0; r < 16; r++) t[r] = r < lines ? row_pairs(s + r * ld + k, kn) : _mm512_setzero_ps();
      transpose16(t);
      for (int p = 0; p < (kn + 1) / 2; p++) _mm512_mask_storeu_ps((float*)dst + (k / 2 + p) * stride, width, t[p]);
    }
  }

  // `count` (≤ 16) contiguous values in each of the k lines k0.., paired two lines at a time: dst[p * stride + i]
  static void pack_pairs(const float* s, int64_t ld, int count, int kc, uint32_t* dst, int stride, __mmask16 width) {
    const __mmask16 m = mask16(count);
    for (int p = 0; p < (kc + 1) / 2; p++) {
      const __m512 e = _mm512_maskz_loadu_ps(m, s + (int64_t)(2 * p) * ld);
      const __m512 o = 2 * p + 1 < kc ? _mm512_maskz_loadu_ps(m, s + (int64_t)(2 * p + 1) * ld) : _mm512_setzero_ps();
      _mm512_mask_storeu_epi32(dst + p * stride, width, pairs(e, o));
    }
  }

  // A row-major op(A) with K ≤ 256 is packed row by row instead (ROWS_A): each row's k values converted to pairs in
  // their order, row r of the sliver at dst + r·KP; no transpose, and the micro-kernel broadcasts a[r·KP + p].
  // Measured (thread CPU time): +4-10% at K ≤ 256 (mini's projections, attention's per-head products), but -4-10%
  // at K ≥ 768, where reading 12 rows' cache lines every k step costs more than the transposing pack saves.
  static constexpr int KP = KC / 2;
  static constexpr bool ROWS_A = true;
  static bool rows_a(const mt::GemmArgs& g) { return !g.tA && g.K <= 256; }
  static void pack_a_rows(const mt::GemmArgs& g, int i0, int rows, int k0, int kc, uint32_t* __restrict dst) {
    const int kp = (kc + 1) / 2;
    for (int r = 0; r < rows; r++) {
      const float* s = g.A + (int64_t)(i0 + r) * g.lda + k0;
      uint32_t* d = dst + r * KP;
      for (int k = 0; k < kc; k += 32)
        _mm512_mask_storeu_ps((float*)d + k / 2, mask16((kp - k / 2)), row_pairs(s + k, kc - k));
    }
  }

  static void pack_a(const mt::GemmArgs& g, int i0, int rows, int k0, int kc, uint32_t* __restrict dst) {
    const __mmask16 w = mask16(MR);
    if (g.tA) pack_pairs(g.A + (int64_t)k0 * g.lda + i0, g.lda, rows, kc, dst, MR, w);
    else pack_lines(g.A + (int64_t)i0 * g.lda + k0, g.lda, rows, kc, dst, MR, w);
  }

  static void pack_b(const mt::GemmArgs& g, int k0, int kc, int j0, int cols, uint32_t* __restrict dst) {
    for (int c0 = 0; c0 < NR; c0 += 16) {
      const int cn = cols - c0 < 0 ? 0 : (cols - c0 < 16 ? cols - c0 : 16);
      if (g.tB) pack_lines(g.B + (int64_t)(j0 + c0) * g.ldb + k0, g.ldb, cn, kc, dst + c0, NR, 0xFFFF);
      else pack_pairs(g.B + (int64_t)k0 * g.ldb + j0 + c0, g.ldb, cn, kc, dst + c0, NR, 0xFFFF);
    }
  }

  template <int R>
  static void tile(int kp, const uint32_t* __restrict a, const uint32_t* __restrict b, float* __restrict c, int64_t ldc,
                   float alpha, float beta, int ncols) {
    tile_impl<R, false>(kp, a, b, c, ldc, alpha, beta, ncols);
  }
  template <int R>
  static void tile_rows(int kp, const uint32_t* __restrict a, const uint32_t* __restrict b, float* __restrict c,
                        int64_t ldc, float alpha, float beta, int ncols) {
    tile_impl<R, true>(kp, a, b, c, ldc, alpha, beta, ncols);
  }

  template <int R, bool ROWS>
  static inline __attribute__((always_inline)) void tile_impl(int kp, const uint32_t* __restrict a,
                                                              const uint32_t* __restrict b, float* __restrict c,
                                                              int64_t ldc, float alpha, float beta, int ncols) {
    __m512 x[R], y[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) x[r] = y[r] = _mm512_setzero_ps();
    for (int p = 0; p < kp; p++) {
      const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + 16);
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[ROWS ? r * KP : r]);
        x[r] = _mm512_dpbf16_ps(x[r], av, b0);
        y[r] = _mm512_dpbf16_ps(y[r], av, b1);
      }
      a += ROWS ? 1 : MR;
      b += NR;
    }
    const __mmask16 m0 = mask16(ncols), m1 = mask16(ncols - 16);
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

const mt::GemmKernel kernel = {"avx512bf16", Avx512Bf16::MR, Avx512Bf16::NR, true, mt::Driver<Avx512Bf16>::WORK,
                               &mt::Driver<Avx512Bf16>::block};

}  // namespace

namespace mt {
const GemmKernel* gemm_kernel_avx512bf16() { return &kernel; }
}  // namespace mt
