// The loop nest shared by the int8 kernel families (gemm_int8_portable.cc, gemm_avx512vnni.cc; see Int8Args in
// gemm_kernels.h). Instantiated in each kernel's translation unit with a traits type from its anonymous namespace
// (internal linkage, that unit's target flags), as gemm_driver.h is.
//
// B is packed once at load, so nothing is packed here, and A is quantized once per call into rows of u8 that the
// micro-kernel reads in place (4 k of one row broadcast per step):
//   panel over N by PANEL blocks of 32 channels:  kq·128 bytes per block, the panel stays in L2
//     ir over M by MR:                             MR rows of A (MR·K bytes: L1/L2), reused across the panel
//       block of 32 channels:                      micro-kernel: int32 sums of MR × 32 over all of K in registers,
//                                                  then the epilogue (scales, bias, activation) on the tile
// No K blocking: the int32 sums of a tile stay in registers over the whole of K (exact; |sum| < 2^31 for K < 66,000).
//
// Traits K: MR; template <int R> tile(kq, a, lda, b, acc) with acc[R][32] int32 (the raw Σ (qa + 128) · qb);
// optional TILES, begin(), end() as in gemm_driver.h.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
#include "gemm_driver.h"

namespace mt {

template <class K>
struct Int8Driver {
  using TileFn = void (*)(int, const uint8_t*, int64_t, const int32_t*, int32_t*);
  template <size_t... I>
  static const TileFn* tiles(std::index_sequence<I...>) {
    static const TileFn t[] = {&K::template tile<(int)I + 1>...};
    return t;
  }

  // C[i0:i0+rows, j0:j0+cols] from the tile's sums; every kernel runs these float operations in this order
  static void epilogue(const Int8Args& g, int i0, int rows, int j0, int cols, const int32_t* acc) {
    for (int r = 0; r < rows; r++) {
      const float sa = g.a_scale[i0 + r];
      const int32_t* __restrict s = acc + r * INT8_NR;
      float* __restrict c = g.C + (int64_t)(i0 + r) * g.ldc + j0;
      const int32_t* __restrict comp = g.comp + j0;
      const float* __restrict sb = g.b_scale + j0;
      if (g.bias) {
        const float* __restrict b = g.bias + j0;
#pragma omp simd
        for (int j = 0; j < cols; j++) c[j] = (float)(s[j] - comp[j]) * (sa * sb[j]) + b[j];
      } else {
#pragma omp simd
        for (int j = 0; j < cols; j++) c[j] = (float)(s[j] - comp[j]) * (sa * sb[j]);
      }
      if (g.act) mt::act_row(g.act, c, g.act_out + (int64_t)(i0 + r) * g.ldc + j0, cols);
    }
  }

  static void block(const Int8Args& g, int m0, int m1, int n0, int n1) {
    if (m1 <= m0 || n1 <= n0) return;
    const int kq = (g.K + 3) / 4;
    // blocks of 32 channels per panel: about 512 KiB of packed B (half of the smallest L2 medtune runs on)
    const int panel = kq > 0 ? (int)std::max<int64_t>(1, (512 << 10) / ((int64_t)kq * 128)) : 1 << 20;
    const TileScope<K> scope;
    const TileFn* tile = tiles(std::make_index_sequence<K::MR>());
    alignas(64) int32_t acc[K::MR * INT8_NR];
    const int nb0 = n0 / INT8_NR, nb1 = (n1 + INT8_NR - 1) / INT8_NR;
    for (int pb = nb0; pb < nb1; pb += panel) {
      const int pe = pb + panel < nb1 ? pb + panel : nb1;
      for (int ir = m0; ir < m1; ir += K::MR) {
        const int rows = m1 - ir < K::MR ? m1 - ir : K::MR;
        for (int nb = pb; nb < pe; nb++) {
          const int j0 = nb * INT8_NR, cols = (n1 - j0 < INT8_NR ? n1 - j0 : INT8_NR);
          tile[rows - 1](kq, g.A + (int64_t)ir * g.lda, g.lda, g.B + (int64_t)nb * kq * INT8_NR, acc);
          epilogue(g, ir, rows, j0, cols, acc);
        }
      }
    }
  }
};

}  // namespace mt
