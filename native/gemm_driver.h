// The BLIS-style loop nest shared by every GEMM kernel family. Each kernel translation unit instantiates
// Driver<Traits> with a traits type from its own anonymous namespace, so every instantiation has internal linkage:
// private to that unit and compiled with that unit's target flags (see gemm_kernels.h).
//
// Loops (C row-major, SIMD vectors along N, A values broadcast):
//   jc over N by NC:
//     pc over K by KC:    pack op(B)[pc:pc+kc, jc:jc+nc] into NR-wide slivers, k-major  (kc·nc: stays in L2)
//       ir over M by MR:  pack op(A)[ir:ir+MR, pc:pc+kc] into one sliver, k-major      (MR·kc: stays in L1)
//         jr over nc by NR: micro-kernel: C[MR, NR] (+)= A sliver · B sliver, all MR·NR sums in registers
// The A sliver is reused across the whole jr sweep from L1 while B slivers stream from L2 (the roles BLIS gives
// B and A for column-major C). Edges: the last A sliver is zero-padded and run through the kernel instantiated
// for its row count; the last B sliver is zero-padded and stored with a column mask. Each element of C is one
// FMA chain over k in order, whatever the tile or thread it falls in, so results do not depend on how the
// dispatcher splits C across threads.
//
// Traits K: Elem (packed element), MR, NR, KC, NC (the largest blocks: g.kc, g.nc may ask for smaller ones),
//   KSTEP (k values per packed step: 1 fp32, 2 bf16 pairs),
//   pack_a(g, i0, rows, k0, kc, dst), pack_b(g, k0, kc, j0, cols, dst)   [dst zero-padded to MR / NR and to KSTEP]
//   template <int R> tile(ksteps, a, b, c, ldc, alpha, beta, ncols)
//   optional: TILES, begin(), end(): called around each block on its thread (AMX: tile configuration, release)
#pragma once
#include <cstdint>
#include <cstddef>
#include <type_traits>
#include <utility>
#include "gemm_kernels.h"
#include "fastmath.h"

namespace mt {

// begin() at construction and end() at destruction for kernels with TILES (gemm_amx.h), nothing for the others
template <class T, class = void>
struct HasTiles : std::false_type {};
template <class T>
struct HasTiles<T, std::void_t<decltype(T::TILES)>> : std::true_type {};
template <class K>
struct TileScope {
  TileScope() {
    if constexpr (HasTiles<K>::value) K::begin();
  }
  ~TileScope() {
    if constexpr (HasTiles<K>::value) K::end();
  }
};

template <class K>
struct Driver {
  using Elem = typename K::Elem;
  static constexpr int KCP = (K::KC + K::KSTEP - 1) / K::KSTEP * K::KSTEP;
  // packed B panel (NC columns rounded up to NR) + one A sliver, each 64-byte aligned
  static constexpr size_t B_BYTES = ((size_t)((K::NC + K::NR - 1) / K::NR * K::NR) * KCP * sizeof(Elem) + 63) / 64 * 64;
  // (+64: a kernel may store a full vector at the last k of the A sliver, spilling past it)
  static constexpr size_t A_BYTES = ((size_t)K::MR * KCP * sizeof(Elem) + 63) / 64 * 64 + 64;
  static constexpr size_t WORK = B_BYTES + A_BYTES;

  using TileFn = void (*)(int, const Elem*, const Elem*, float*, int64_t, float, float, int);
  using DirectFn = void (*)(int, const Elem*, int64_t, const Elem*, float*, int64_t, float, float, int);
  template <size_t... I>
  static const TileFn* tiles(std::index_sequence<I...>) {
    static const TileFn t[] = {&K::template tile<(int)I + 1>...};
    return t;
  }
  // kernels that can read a row-major op(A) in place (DIRECT_A) skip packing it
  template <class T, class = void>
  struct HasDirect : std::false_type {};
  template <class T>
  struct HasDirect<T, std::void_t<decltype(T::DIRECT_A)>> : std::true_type {};
  template <size_t... I>
  static const DirectFn* directs(int mode, std::index_sequence<I...>) {
    if constexpr (HasDirect<K>::value) {
      static const DirectFn rows[] = {&K::template tile_direct<(int)I + 1>...};
      static const DirectFn kmajor[] = {&K::template tile_direct_t<(int)I + 1>...};
      return mode == 1 ? rows : kmajor;
    } else {
      return nullptr;
    }
  }
  // 0: pack A; 1: read a row-major op(A) in place (rows at a + r·lda); 2: read Aᵀ in place (k rows at a + k·lda)
  static int direct(const mt::GemmArgs& g) {
    if constexpr (HasDirect<K>::value) return K::direct_a(g);
    else return 0;
  }
  // kernels that pack a row-major op(A) row by row (ROWS_A: no transpose, e.g. just a conversion to bf16) and
  // read it with a fixed row stride in the micro-kernel
  template <class T, class = void>
  struct HasRows : std::false_type {};
  template <class T>
  struct HasRows<T, std::void_t<decltype(T::ROWS_A)>> : std::true_type {};
  template <size_t... I>
  static const TileFn* row_tiles(std::index_sequence<I...>) {
    if constexpr (HasRows<K>::value) {
      static const TileFn t[] = {&K::template tile_rows<(int)I + 1>...};
      return t;
    } else {
      return nullptr;
    }
  }
  static bool rows_a(const mt::GemmArgs& g) {
    if constexpr (HasRows<K>::value) return K::rows_a(g);
    else return false;
  }

  // C = beta · C (K == 0)
  static void scale_c(const mt::GemmArgs& g, int m0, int m1, int n0, int n1) {
    for (int i = m0; i < m1; i++) {
      float* c = g.C + (int64_t)i * g.ldc;
      for (int j = n0; j < n1; j++) c[j] = g.beta == 0.0f ? 0.0f : g.beta * c[j];
    }
  }

  // bias and activation on C[i0:i0+rows, j0:j0+cols], just computed (still in L1)
  static void epilogue(const mt::GemmArgs& g, int i0, int rows, int j0, int cols) {
    for (int r = 0; r < rows; r++) {
      float* __restrict c = g.C + (int64_t)(i0 + r) * g.ldc + j0;
      if (g.bias) {
        const float* __restrict b = g.bias + j0;
#pragma omp simd
        for (int j = 0; j < cols; j++) c[j] += b[j];
      }
      if (g.act) mt::act_row(g.act, c, g.act_out + (int64_t)(i0 + r) * g.ldc + j0, cols);
    }
  }

  static void block(const mt::GemmArgs& g, int m0, int m1, int n0, int n1, void* work) {
    if (m1 <= m0 || n1 <= n0) return;
    const bool epi = g.bias || g.act;
    if (g.K <= 0) {
      scale_c(g, m0, m1, n0, n1);
      if (epi) epilogue(g, m0, m1 - m0, n0, n1 - n0);
      return;
    }
    const TileScope<K> scope;
    const TileFn* tile = tiles(std::make_index_sequence<K::MR>());
    const int mode = direct(g);
    const bool in_place = mode != 0;
    const DirectFn* tile_direct = directs(mode, std::make_index_sequence<K::MR>());
    const bool by_rows = !in_place && rows_a(g);
    if (by_rows) tile = row_tiles(std::make_index_sequence<K::MR>());
    Elem* bp = (Elem*)work;
    Elem* ap = (Elem*)((char*)work + B_BYTES);
    // cache blocking: the dispatcher's (from the CPU's cache sizes), at most the traits' (which size the buffers)
    const int KCr = g.kc >= 16 && g.kc < K::KC ? g.kc / 16 * 16 : K::KC;
    const int NCr = g.nc >= K::NR && g.nc < K::NC ? g.nc / K::NR * K::NR : K::NC;
    for (int jc = n0; jc < n1; jc += NCr) {
      const int nc = n1 - jc < NCr ? n1 - jc : NCr;
      for (int pc = 0; pc < g.K; pc += KCr) {
        const int kc = g.K - pc < KCr ? g.K - pc : KCr;
        const int kcp = (kc + K::KSTEP - 1) / K::KSTEP * K::KSTEP;
        const float beta = pc == 0 ? g.beta : 1.0f;
        const bool last = epi && pc + kc >= g.K;
        for (int jr = 0; jr < nc; jr += K::NR)
          K::pack_b(g, pc, kc, jc + jr, nc - jr < K::NR ? nc - jr : K::NR, bp + (int64_t)jr * kcp);
        for (int ir = m0; ir < m1; ir += K::MR) {
          const int rows = m1 - ir < K::MR ? m1 - ir : K::MR;
          float* crow = g.C + (int64_t)ir * g.ldc + jc;
          if (by_rows) {
            if constexpr (HasRows<K>::value) K::pack_a_rows(g, ir, rows, pc, kc, ap);
          } else if (!in_place) {
            K::pack_a(g, ir, rows, pc, kc, ap);
          }
          const Elem* a = mode == 1 ? (const Elem*)(g.A + (int64_t)ir * g.lda + pc)
                          : mode == 2 ? (const Elem*)(g.A + (int64_t)pc * g.lda + ir) : ap;
          for (int jr = 0; jr < nc; jr += K::NR) {
            const int cols = nc - jr < K::NR ? nc - jr : K::NR;
            if (in_place)
              tile_direct[rows - 1](kc, a, g.lda, bp + (int64_t)jr * kcp, crow + jr, g.ldc, g.alpha, beta, cols);
            else tile[rows - 1](kcp / K::KSTEP, a, bp + (int64_t)jr * kcp, crow + jr, g.ldc, g.alpha, beta, cols);
          }
          if (last) epilogue(g, ir, rows, jc, nc);  // whole rows of the sliver: long, vectorisable runs
        }
      }
    }
  }
};

}  // namespace mt
