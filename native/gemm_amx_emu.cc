// A portable emulation of the AMX tile instructions that gemm_amx.h uses, so that the AMX kernels' packing, edge
// handling and loop code run — and are tested bit for bit — on any CPU (kernels "amx-emu-bf16", "amx-emu-int8";
// slow, never chosen by default). Baseline flags, -ffp-contract=off (binding.gyp): every product and sum below is
// one rounded fp32 operation, as written.
//
// Semantics taken from the Intel SDM's pseudocode (vol. 2, TILELOADD, TILESTORED, TILEZERO, LDTILECFG, TDPBF16PS,
// TDPBUSD), which is what "the hardware's order" means here:
//   - LDTILECFG zeroes every tile; a tile op without a configuration faults (here: abort with a message); a load
//     fills rows × colsb bytes and zeroes the rest of the register, a store writes rows × colsb bytes;
//   - TDPBF16PS: for each row m of C, for each k pair p (a.colsb / 4 of them, in order), for each column n:
//       c[m][n] += fp32(a[m].bf16[2p]) · fp32(b[p].bf16[2n]);
//       c[m][n] += fp32(a[m].bf16[2p+1]) · fp32(b[p].bf16[2n+1])
//     each add rounded to fp32 (nearest even; MXCSR is not consulted), bf16 denormal inputs read as zero (DAZ) and
//     denormal sums flushed to signed zero (FTZ). Note the even element first: VDPBF16PS (AVX512-BF16) adds the odd
//     one first, so the two instructions need not agree bit for bit. Products of two bf16 are exact in fp32 (8-bit
//     significands) barring overflow and underflow.
//   - TDPBUSD: c[m][n] += Σ_{i<4} u8(a[m][4p + i]) · s8(b[p][4n + i]) in 32-bit wrap-around integers: exact,
//     so any order gives the same sums.
// Whether a real Sapphire Rapids core rounds TDPBF16PS exactly so (the SDM's pseudocode is a specification of the
// result, and a fused or wider internal sum would differ in the last bit) is checked by the real-kernel test in
// src/tensor/amx.test.ts where AMX runs; the real kernels are otherwise held to the fp32 error bound, not to this.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include "gemm_amx.h"

namespace {

struct EmuState {
  mt::AmxTileConfig cfg;
  bool configured = false;
  alignas(64) uint8_t t[8][16 * 64];
};
EmuState& state() {
  static thread_local EmuState s;
  return s;
}

[[noreturn]] void fault(const char* what) {
  std::fprintf(stderr, "medtune: AMX emulation: %s\n", what);
  std::abort();
}

// the configured shape of tile t (faults when unconfigured)
void shape(int t, int& rows, int& colsb) {
  const EmuState& s = state();
  if (!s.configured) fault("tile instruction without a tile configuration (LDTILECFG)");
  rows = s.cfg.rows[t];
  colsb = s.cfg.colsb[t];
  if (rows == 0 || colsb == 0) fault("tile instruction on an unconfigured tile");
}

void load(int t, const void* p, int64_t stride) {
  int rows, colsb;
  shape(t, rows, colsb);
  uint8_t* d = state().t[t];
  std::memset(d, 0, 16 * 64);
  for (int r = 0; r < rows; r++) std::memcpy(d + r * 64, (const uint8_t*)p + r * stride, colsb);
}

float bf16_daz(uint16_t h) { return (h & 0x7f80u) == 0 ? 0.0f * ((h & 0x8000u) ? -1.0f : 1.0f) : mt::bf16_to_float(h); }
float ftz(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// tile c += tile a · tile b with the shape checks of the instructions; mac(c_lane, a_row_quad, b_row_lane)
template <class Mac>
void dot(int c, int a, int b, Mac mac) {
  int cr, cc, ar, ac, br, bc;
  shape(c, cr, cc);
  shape(a, ar, ac);
  shape(b, br, bc);
  if (cr != ar || cc != bc || ac / 4 != br) fault("tile shapes do not fit the dot product");
  EmuState& s = state();
  for (int m = 0; m < cr; m++)
    for (int k = 0; k < ac / 4; k++)
      for (int n = 0; n < cc / 4; n++) mac(s.t[c] + m * 64 + 4 * n, s.t[a] + m * 64 + 4 * k, s.t[b] + k * 64 + 4 * n);
}

struct EmuTiles {
  static void config(const mt::AmxTileConfig* c) {
    EmuState& s = state();
    if (c->palette != 1) fault("only palette 1 is emulated");
    s.cfg = *c;
    s.configured = true;
    std::memset(s.t, 0, sizeof s.t);
  }
  static void release() {
    EmuState& s = state();
    s.configured = false;
    std::memset(s.t, 0, sizeof s.t);
  }
  template <int C>
  static void zero() {
    int rows, colsb;
    shape(C, rows, colsb);
    std::memset(state().t[C], 0, 16 * 64);
  }
  template <int C>
  static void store(void* p, int64_t stride) {
    int rows, colsb;
    shape(C, rows, colsb);
    for (int r = 0; r < rows; r++) std::memcpy((uint8_t*)p + r * stride, state().t[C] + r * 64, colsb);
  }
  template <int R>
  static void load_a(const void* p, int64_t stride) {
    load(4 + R, p, stride);
  }
  template <int H>
  static void load_b(const void* p, int64_t stride) {
    load(6 + H, p, stride);
  }
  template <int C>
  static void dp_bf16() {
    dot(C, 4 + C / 2, 6 + C % 2, [](uint8_t* c, const uint8_t* a, const uint8_t* b) {
      float acc;
      uint16_t x[2], y[2];
      std::memcpy(&acc, c, 4);
      std::memcpy(x, a, 4);
      std::memcpy(y, b, 4);
      acc = ftz(acc + bf16_daz(x[0]) * bf16_daz(y[0]));
      acc = ftz(acc + bf16_daz(x[1]) * bf16_daz(y[1]));
      std::memcpy(c, &acc, 4);
    });
  }
  template <int C>
  static void dp_int8() {
    dot(C, 4 + C / 2, 6 + C % 2, [](uint8_t* c, const uint8_t* a, const uint8_t* b) {
      uint32_t acc;
      std::memcpy(&acc, c, 4);
      for (int i = 0; i < 4; i++) acc += (uint32_t)((int32_t)a[i] * (int32_t)(int8_t)b[i]);
      std::memcpy(c, &acc, 4);
    });
  }
};

using Bf16 = mt::AmxBf16<EmuTiles>;
using Int8 = mt::AmxInt8<EmuTiles>;
const mt::GemmKernel bf16 = {"amx-emu-bf16", Bf16::MR, Bf16::NR, true, mt::Driver<Bf16>::WORK,
                             &mt::Driver<Bf16>::block};
const mt::Int8Kernel int8 = {"amx-emu-int8", Int8::MR, &mt::Int8Driver<Int8>::block};

}  // namespace

namespace mt {
const GemmKernel* gemm_kernel_amx_emu_bf16() { return &bf16; }
const Int8Kernel* int8_kernel_amx_emu() { return &int8; }
}  // namespace mt
