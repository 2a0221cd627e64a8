// The AMX GEMM kernels' packing and loop code, written once against a tile-operations interface and instantiated
// twice: with the real tile instructions (gemm_amx.cc, built with -mamx-tile -mamx-bf16 -mamx-int8) and with the
// portable emulation of their semantics (gemm_amx_emu.cc, any CPU), so the tests check this code bit for bit on
// any machine. Each instantiation uses an Ops type from its own unit's anonymous namespace (internal linkage: the
// ODR trap of per-file target flags, gemm_kernels.h).
//
// Tiles (palette 1: eight registers of at most 16 rows × 64 bytes), one configuration for every call, all eight
// 16 × 64 bytes:
//   tmm0..3  C, fp32 / int32 sums: C[16 r .. 16 r + 15][16 c .. 16 c + 15] in tmm(2 r + c) — a 32 × 32 block of C
//   tmm4..5  A: rows 0-15 and 16-31 of the block, 32 bf16 (16 k pairs) or 64 u8 (16 k quads) per row
//   tmm6..7  B: columns 0-15 and 16-31, 16 k pairs (or quads) × 16 columns, each 32-bit lane = one column's pair
//            (quad): the "VNNI" layout
// so per 32 k (64 for int8) the micro-kernel loads 2 A and 2 B tiles and issues 4 tdpbf16ps (tdpbusd).
//
// Ops (all static): config(const AmxTileConfig*) (LDTILECFG, zeroes every tile), release() (TILERELEASE),
//   zero<C>(), store<C>(p, stride), load_a<R>(p, stride) -> tmm(4 + R), load_b<H>(p, stride) -> tmm(6 + H),
//   dp_bf16<C>() / dp_int8<C>(): tmm C += tmm(4 + C / 2) · tmm(6 + C % 2).
//
// Edges: the packing pads A to whole 32-row blocks and K to whole tiles with zeros, and B to whole 32-column
// blocks; a block with at most 16 valid rows (columns) skips the tiles of rows (columns) 16-31; C is stored from
// the tiles into a 32 × 32 buffer and only its valid part written to C. The configuration never changes inside a
// call (LDTILECFG would zero the sums), so edges are padding, not differently shaped tiles.
// Each thread configures its tiles at the start of each block it computes and releases them at the end: another
// library in the process (oneDNN through onnxruntime, say) may configure them differently between our calls.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include "bf16.h"
#include "gemm_driver.h"
#include "gemm_int8_driver.h"

namespace mt {

// the 64-byte operand of LDTILECFG
struct alignas(64) AmxTileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// palette 1, tiles 0-7 of 16 rows × 64 bytes
static inline AmxTileConfig amx_config() {  // static: never shared across units
  AmxTileConfig c;
  std::memset(&c, 0, sizeof c);
  c.palette = 1;
  for (int t = 0; t < 8; t++) {
    c.colsb[t] = 64;
    c.rows[t] = 16;
  }
  return c;
}

// ---- bf16: a GemmKernel on the shared loop nest (gemm_driver.h) with KSTEP = 32 (one tile depth: every packed
// block of k is padded with zeros to a multiple of 32). A is converted to bf16 pairs row by row (ROWS_A: row r of
// the sliver at r · KP pairs, the A tile's row stride), B into the VNNI-pair layout of 32 columns, k pair-major:
// lane c of pair p = (bf16(op(B)[2p][c]), bf16(op(B)[2p + 1][c])) — the layout gemm_avx512bf16.cc packs too.
template <class Ops>
struct AmxBf16 {
  using Elem = uint32_t;
  static constexpr int MR = 32, NR = 32, KC = 512, NC = 1024, KSTEP = 32;
  static constexpr int KP = KC / 2;  // k pairs per row of the packed A sliver
  static constexpr bool ROWS_A = true;
  static constexpr bool TILES = true;

  static void begin() {
    static const AmxTileConfig cfg = amx_config();
    Ops::config(&cfg);
  }
  static void end() { Ops::release(); }
  static bool rows_a(const GemmArgs&) { return true; }

  static inline uint32_t pair(float even, float odd) {
    return (uint32_t)bf16_from_float(even) | ((uint32_t)bf16_from_float(odd) << 16);
  }

  static void pack_a_rows(const GemmArgs& g, int i0, int rows, int k0, int kc, uint32_t* __restrict dst) {
    const int kp = (kc + KSTEP - 1) / KSTEP * KSTEP / 2;
    for (int r = 0; r < MR; r++) {
      uint32_t* d = dst + r * KP;
      if (r >= rows) {
        std::memset(d, 0, (size_t)kp * 4);
        continue;
      }
      const int i = i0 + r;
      for (int p = 0; p < kp; p++) {
        const int k = 2 * p;
        const float e = k < kc ? (g.tA ? g.A[(int64_t)(k0 + k) * g.lda + i] : g.A[(int64_t)i * g.lda + k0 + k]) : 0.0f;
        const float o =
            k + 1 < kc ? (g.tA ? g.A[(int64_t)(k0 + k + 1) * g.lda + i] : g.A[(int64_t)i * g.lda + k0 + k + 1]) : 0.0f;
        d[p] = pair(e, o);
      }
    }
  }
  static void pack_a(const GemmArgs& g, int i0, int rows, int k0, int kc, uint32_t* __restrict dst) {
    pack_a_rows(g, i0, rows, k0, kc, dst);
  }

  static void pack_b(const GemmArgs& g, int k0, int kc, int j0, int cols, uint32_t* __restrict dst) {
    const int kp = (kc + KSTEP - 1) / KSTEP * KSTEP / 2;
    auto at = [&](int k, int j) {
      return g.tB ? g.B[(int64_t)(j0 + j) * g.ldb + k0 + k] : g.B[(int64_t)(k0 + k) * g.ldb + j0 + j];
    };
    for (int p = 0; p < kp; p++) {
      const int k = 2 * p;
      for (int c = 0; c < NR; c++)
        dst[p * NR + c] = c >= cols || k >= kc ? 0u : pair(at(k, c), k + 1 < kc ? at(k + 1, c) : 0.0f);
    }
  }

  // C[R rows, ncols] = alpha · (A sliver · B sliver) + beta · C over `chunks` tile depths of 32 k
  template <int R>
  static void tile_rows(int chunks, const uint32_t* __restrict a, const uint32_t* __restrict b, float* __restrict c,
                        int64_t ldc, float alpha, float beta, int ncols) {
    constexpr bool two_rows = R > 16;
    const bool two_cols = ncols > 16;
    Ops::template zero<0>();
    if (two_cols) Ops::template zero<1>();
    if (two_rows) Ops::template zero<2>();
    if (two_rows && two_cols) Ops::template zero<3>();
    for (int ch = 0; ch < chunks; ch++) {
      Ops::template load_a<0>(a + ch * 16, KP * 4);
      if (two_rows) Ops::template load_a<1>(a + 16 * KP + ch * 16, KP * 4);
      Ops::template load_b<0>(b + ch * 16 * NR, NR * 4);
      if (two_cols) Ops::template load_b<1>(b + ch * 16 * NR + 16, NR * 4);
      Ops::template dp_bf16<0>();
      if (two_cols) Ops::template dp_bf16<1>();
      if (two_rows) Ops::template dp_bf16<2>();
      if (two_rows && two_cols) Ops::template dp_bf16<3>();
    }
    alignas(64) float t[32 * 32];
    Ops::template store<0>(t, 128);
    if (two_cols) Ops::template store<1>(t + 16, 128);
    if (two_rows) Ops::template store<2>(t + 16 * 32, 128);
    if (two_rows && two_cols) Ops::template store<3>(t + 16 * 32 + 16, 128);
    for (int r = 0; r < R; r++) {
      float* cr = c + r * ldc;
      const float* tr = t + r * 32;
      for (int j = 0; j < ncols; j++) cr[j] = alpha * tr[j] + (beta == 0.0f ? 0.0f : beta * cr[j]);
    }
  }
  template <int R>
  static void tile(int chunks, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, float alpha, float beta,
                   int ncols) {
    tile_rows<R>(chunks, a, b, c, ldc, alpha, beta, ncols);
  }
};

// ---- int8: an Int8Kernel on the int8 loop nest (gemm_int8_driver.h). B is the packed int8 weights as they are
// (k quads of 32 channels = two B tiles side by side, row stride 128 bytes); A the quantized rows, read in place
// 64 bytes (16 quads) at a time. Padding: a block of fewer than 32 rows is copied into a zeroed 32-row buffer
// (the tiles read 16 or 32 rows), and the last partial tile depth of K (K not a multiple of 64) is copied for A
// and B into zeroed tile-sized buffers (B has no padding beyond its last quad).
template <class Ops>
struct AmxInt8 {
  static constexpr int MR = 32;
  static constexpr bool TILES = true;

  static void begin() {
    static const AmxTileConfig cfg = amx_config();
    Ops::config(&cfg);
  }
  static void end() { Ops::release(); }

  template <int R>
  static void tile(int kq, const uint8_t* __restrict a, int64_t lda, const int32_t* __restrict b,
                   int32_t* __restrict acc) {
    constexpr bool two_rows = R > 16;
    const int full = kq / 16, rem = kq % 16;
    struct Pad {
      uint8_t* p = nullptr;
      size_t n = 0;
      ~Pad() { std::free(p); }
    };
    static thread_local Pad pad;
    if (R < MR) {  // rows R..31 do not exist: a zero-padded copy with row stride 64 · (full + 1)
      const int64_t ls = 64 * ((int64_t)full + 1);
      const size_t need = (size_t)(MR * ls);
      if (pad.n < need) {
        std::free(pad.p);
        pad.p = (uint8_t*)std::aligned_alloc(64, need);
        pad.n = need;
      }
      std::memset(pad.p, 0, need);
      for (int r = 0; r < R; r++) std::memcpy(pad.p + r * ls, a + r * lda, (size_t)kq * 4);
      a = pad.p;
      lda = ls;
    }
    Ops::template zero<0>();
    Ops::template zero<1>();
    if (two_rows) Ops::template zero<2>(), Ops::template zero<3>();
    auto step = [&](const uint8_t* ap, int64_t la, const int32_t* bp) {
      Ops::template load_a<0>(ap, la);
      if (two_rows) Ops::template load_a<1>(ap + 16 * la, la);
      Ops::template load_b<0>(bp, 128);
      Ops::template load_b<1>(bp + 16, 128);
      Ops::template dp_int8<0>();
      Ops::template dp_int8<1>();
      if (two_rows) Ops::template dp_int8<2>(), Ops::template dp_int8<3>();
    };
    for (int ch = 0; ch < full; ch++) step(a + 64 * ch, lda, b + ch * 16 * INT8_NR);
    if (rem) {
      alignas(64) uint8_t ar[32 * 64] = {};
      alignas(64) int32_t br[16 * INT8_NR] = {};
      for (int r = 0; r < (two_rows ? 32 : 16); r++) std::memcpy(ar + r * 64, a + r * lda + 64 * full, 4 * rem);
      std::memcpy(br, b + full * 16 * INT8_NR, sizeof(int32_t) * rem * INT8_NR);
      step(ar, 64, br);
    }
    Ops::template store<0>(acc, 128);
    Ops::template store<1>(acc + 16, 128);
    if (two_rows) Ops::template store<2>(acc + 16 * INT8_NR, 128), Ops::template store<3>(acc + 16 * INT8_NR + 16, 128);
  }
};

}  // namespace mt
