// fp32 GEMM micro-kernel for AVX2 + FMA (x86-64-v3; built with -mavx2 -mfma, called only when cpu() has both).
// Tile MR×NR = 6×16: 12 ymm accumulators + 2 B vectors + 1 broadcast of the 16 registers; per k two aligned loads
// of packed B, 6 broadcasts and 12 FMAs (two FMA pipes busy for 6 cycles).
#include <immintrin.h>
#include "gemm_driver.h"

namespace {

struct Avx2 {
  using Elem = float;
  static constexpr int MR = 6, NR = 16, KC = 512, NC = 1024, KSTEP = 1;

  // lanes [0, n) all ones: a maskload/maskstore mask
  static inline __m256i lane_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // t[r] = row r of a rows×cols block, 8×8 (zeros outside), then transposed in registers
  static inline void load_transpose8(const float* s, int64_t ld, int rows, int cols, __m256* t) {
    const __m256i m = lane_mask(cols);
    for (int r = 0; r < 8; r++) t[r] = r < rows ? _mm256_maskload_ps(s + r * ld, m) : _mm256_setzero_ps();
    __m256 u[8], v[8];
    for (int i = 0; i < 8; i += 2) {
      u[i] = _mm256_unpacklo_ps(t[i], t[i + 1]);
      u[i + 1] = _mm256_unpackhi_ps(t[i], t[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      v[i] = _mm256_shuffle_ps(u[i], u[i + 2], 0x44);
      v[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], 0xEE);
      v[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0x44);
      v[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
      t[i] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x20);
      t[i + 4] = _mm256_permute2f128_ps(v[i], v[i + 4], 0x31);
    }
  }

  // op(A)[i0:i0+rows, k0:k0+kc] -> dst[k][MR] (rows zero-padded)
  static void pack_a(const mt::GemmArgs& g, int i0, int rows, int k0, int kc, float* __restrict dst) {
    if (g.tA) {  // A stored K×M: each k is a contiguous run of rows (masked load, spilling store as below)
      const __m256i m = lane_mask(rows);
      for (int k = 0; k < kc; k++)
        _mm256_storeu_ps(dst + k * MR, _mm256_maskload_ps(g.A + (int64_t)(k0 + k) * g.lda + i0, m));
      return;
    }
    // A row-major: 8 k at a time through an 8×8 register transpose; lanes 0..5 of each k are the rows. Full
    // 8-lane stores in increasing k: lanes 6-7 spill into the next k's slot and are overwritten by its store (the
    // last one lands in the buffer's slack). vmaskmovps stores are microcoded and slow on AMD.
    const float* s = g.A + (int64_t)i0 * g.lda + k0;
    for (int k = 0; k < kc; k += 8) {
      const int kn = kc - k < 8 ? kc - k : 8;
      __m256 t[8];
      load_transpose8(s + k, g.lda, rows, kn, t);
      for (int j = 0; j < kn; j++) _mm256_storeu_ps(dst + (k + j) * MR, t[j]);
    }
  }

  // op(B)[k0:k0+kc, j0:j0+cols] -> dst[k][NR] (columns zero-padded)
  static void pack_b(const mt::GemmArgs& g, int k0, int kc, int j0, int cols, float* __restrict dst) {
    if (!g.tB) {
      const __m256i m0 = lane_mask(cols), m1 = lane_mask(cols - 8);
      for (int k = 0; k < kc; k++) {
        const float* s = g.B + (int64_t)(k0 + k) * g.ldb + j0;
        _mm256_store_ps(dst + k * NR, _mm256_maskload_ps(s, m0));
        _mm256_store_ps(dst + k * NR + 8, _mm256_maskload_ps(s + 8, m1));
      }
      return;
    }
    // B stored N×K: column c of op(B) is row j0+c of B; 8 columns × 8 k per register transpose
    for (int c0 = 0; c0 < NR; c0 += 8) {
      const int cn = cols - c0 < 0 ? 0 : (cols - c0 < 8 ? cols - c0 : 8);
      const float* s = g.B + (int64_t)(j0 + c0) * g.ldb + k0;
      for (int k = 0; k < kc; k += 8) {
        const int kn = kc - k < 8 ? kc - k : 8;
        __m256 t[8];
        load_transpose8(s + k, g.ldb, cn, kn, t);
        for (int j = 0; j < kn; j++) _mm256_store_ps(dst + (k + j) * NR + c0, t[j]);
      }
    }
  }

  // C[R, ncols] = alpha · Σ_k a[k][r] b[k][:] + beta · C   (beta == 0: C not read)
  template <int R>
  static void tile(int kc, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc,
                   float alpha, float beta, int ncols) {
    __m256 x[R], y[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) x[r] = y[r] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
      const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        const __m256 av = _mm256_broadcast_ss(a + r);
        x[r] = _mm256_fmadd_ps(av, b0, x[r]);
        y[r] = _mm256_fmadd_ps(av, b1, y[r]);
      }
      a += MR;
      b += NR;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const bool full = ncols == NR;
    const __m256i m0 = lane_mask(ncols), m1 = lane_mask(ncols - 8);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      float* cr = c + r * ldc;
      __m256 u = _mm256_mul_ps(va, x[r]), v = _mm256_mul_ps(va, y[r]);
      if (full) {
        if (beta != 0.0f) {
          u = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), u);
          v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), v);
        }
        _mm256_storeu_ps(cr, u);
        _mm256_storeu_ps(cr + 8, v);
      } else {
        if (beta != 0.0f) {
          u = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr, m0), u);
          v = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr + 8, m1), v);
        }
        _mm256_maskstore_ps(cr, m0, u);
        _mm256_maskstore_ps(cr + 8, m1, v);
      }
    }
  }
};

const mt::GemmKernel kernel = {"avx2", Avx2::MR, Avx2::NR, false, mt::Driver<Avx2>::WORK, &mt::Driver<Avx2>::block};

}  // namespace

namespace mt {
const GemmKernel* gemm_kernel_avx2() { return &kernel; }
}  // namespace mt
