// AMX GEMM kernels on the real tile instructions (built with -mamx-tile -mamx-bf16 -mamx-int8 where the compiler
// takes them, see binding.gyp; called only when amx_unusable() in cpu.h is "": CPUID, XCR0 and the Linux
// permission request). The packing and loop code is gemm_amx.h's, shared with the emulation (gemm_amx_emu.cc)
// that the tests check bit for bit on any CPU; this unit only maps the tile operations to instructions.
// A compiler without AMX support builds this unit without the kernels (both return null) and the rest as usual.
#include "gemm_kernels.h"
#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(__AMX_INT8__)
#include <immintrin.h>
#include "gemm_amx.h"

namespace {

// The intrinsics take tile numbers as literal tokens (gcc pastes them into the assembly), hence the branches.
// gcc's tile loads are asm statements without memory operands: the barrier keeps the packing stores before them.
#define MT_BARRIER() __asm__ volatile("" ::: "memory")
struct HwTiles {
  static void config(const mt::AmxTileConfig* c) { _tile_loadconfig(c); }
  static void release() { _tile_release(); }
  template <int C>
  static void zero() {
    if constexpr (C == 0) _tile_zero(0);
    else if constexpr (C == 1) _tile_zero(1);
    else if constexpr (C == 2) _tile_zero(2);
    else _tile_zero(3);
  }
  template <int C>
  static void store(void* p, int64_t s) {
    if constexpr (C == 0) _tile_stored(0, p, s);
    else if constexpr (C == 1) _tile_stored(1, p, s);
    else if constexpr (C == 2) _tile_stored(2, p, s);
    else _tile_stored(3, p, s);
    MT_BARRIER();
  }
  template <int R>
  static void load_a(const void* p, int64_t s) {
    MT_BARRIER();
    if constexpr (R == 0) _tile_loadd(4, p, s);
    else _tile_loadd(5, p, s);
  }
  template <int H>
  static void load_b(const void* p, int64_t s) {
    MT_BARRIER();
    if constexpr (H == 0) _tile_loadd(6, p, s);
    else _tile_loadd(7, p, s);
  }
  template <int C>
  static void dp_bf16() {
    if constexpr (C == 0) _tile_dpbf16ps(0, 4, 6);
    else if constexpr (C == 1) _tile_dpbf16ps(1, 4, 7);
    else if constexpr (C == 2) _tile_dpbf16ps(2, 5, 6);
    else _tile_dpbf16ps(3, 5, 7);
  }
  template <int C>
  static void dp_int8() {
    if constexpr (C == 0) _tile_dpbusd(0, 4, 6);
    else if constexpr (C == 1) _tile_dpbusd(1, 4, 7);
    else if constexpr (C == 2) _tile_dpbusd(2, 5, 6);
    else _tile_dpbusd(3, 5, 7);
  }
};

using Bf16 = mt::AmxBf16<HwTiles>;
using Int8 = mt::AmxInt8<HwTiles>;
const mt::GemmKernel bf16 = {"amx-bf16", Bf16::MR, Bf16::NR, true, mt::Driver<Bf16>::WORK, &mt::Driver<Bf16>::block};
const mt::Int8Kernel int8 = {"amx-int8", Int8::MR, &mt::Int8Driver<Int8>::block};

}  // namespace

namespace mt {
const GemmKernel* gemm_kernel_amx_bf16() { return &bf16; }
const Int8Kernel* int8_kernel_amx() { return &int8; }
}  // namespace mt

#else
namespace mt {
const GemmKernel* gemm_kernel_amx_bf16() { return nullptr; }
const Int8Kernel* int8_kernel_amx() { return nullptr; }
}  // namespace mt
#endif
