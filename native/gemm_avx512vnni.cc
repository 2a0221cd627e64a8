// int8 GEMM through AVX512-VNNI (built with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni; called only
// when cpu() has avx512_vnni). vpdpbusd multiplies 4 u8 activations by 4 s8 weights per 32-bit lane and adds the
// four products to an int32 sum: 64 multiply-adds per instruction, four times an fp32 FMA's 16 in the same issue
// slot. Tile MR × 32 = 12 × 32: 24 zmm accumulators + 2 weight vectors + 1 broadcast; per quad of k, 2 loads of
// packed weights, 12 broadcasts of 4 activation bytes (one per row, read in place), 24 vpdpbusd.
// Built with -ffp-contract=off: C++ lets gcc fuse the epilogue's multiply and add into an FMA (AVX-512 has it, the
// portable kernel's baseline ISA does not), and then the two would round differently; the self-check and the tests
// expect the same results bit for bit.
#include <immintrin.h>
#include <cstring>
#include "gemm_int8_driver.h"

namespace {

struct Avx512Vnni {
  static constexpr int MR = 12;

  template <int R>
  static void tile(int kq, const uint8_t* __restrict a, int64_t lda, const int32_t* __restrict b,
                   int32_t* __restrict acc) {
    __m512i x[R], y[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) x[r] = y[r] = _mm512_setzero_si512();
    for (int p = 0; p < kq; p++) {
      const __m512i b0 = _mm512_loadu_si512(b), b1 = _mm512_loadu_si512(b + 16);
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        int32_t q;
        std::memcpy(&q, a + r * lda + 4 * p, 4);
        const __m512i av = _mm512_set1_epi32(q);
        x[r] = _mm512_dpbusd_epi32(x[r], av, b0);
        y[r] = _mm512_dpbusd_epi32(y[r], av, b1);
      }
      b += mt::INT8_NR;
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) {
      _mm512_store_si512(acc + r * mt::INT8_NR, x[r]);
      _mm512_store_si512(acc + r * mt::INT8_NR + 16, y[r]);
    }
  }
};

const mt::Int8Kernel kernel = {"avx512vnni", Avx512Vnni::MR, &mt::Int8Driver<Avx512Vnni>::block};

}  // namespace

namespace mt {
const Int8Kernel* int8_kernel_avx512vnni() { return &kernel; }
}  // namespace mt
