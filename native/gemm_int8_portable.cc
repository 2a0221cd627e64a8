// Portable int8 GEMM (any CPU; plain C++, auto-vectorised where the compiler can): the reference every int8 kernel
// is checked against at first use, and what runs where the CPU has no VNNI. Same packed weights and loop nest as
// the VNNI kernel (gemm_int8_driver.h), and the same exact int32 sums, so both give the same results bit for bit.
#include "gemm_int8_driver.h"

namespace {

struct Int8Portable {
  static constexpr int MR = 4;

  template <int R>
  static void tile(int kq, const uint8_t* __restrict a, int64_t lda, const int32_t* __restrict b,
                   int32_t* __restrict acc) {
    int32_t s[R][mt::INT8_NR] = {};
    for (int p = 0; p < kq; p++, b += mt::INT8_NR) {
      for (int r = 0; r < R; r++) {
        const uint8_t* ar = a + r * lda + 4 * p;
        const int32_t a0 = ar[0], a1 = ar[1], a2 = ar[2], a3 = ar[3];
        for (int c = 0; c < mt::INT8_NR; c++) {
          const uint32_t w = (uint32_t)b[c];
          s[r][c] += a0 * (int8_t)(w & 0xff) + a1 * (int8_t)((w >> 8) & 0xff) + a2 * (int8_t)((w >> 16) & 0xff) +
                     a3 * (int8_t)(w >> 24);
        }
      }
    }
    for (int r = 0; r < R; r++)
      for (int c = 0; c < mt::INT8_NR; c++) acc[r * mt::INT8_NR + c] = s[r][c];
  }
};

const mt::Int8Kernel kernel = {"portable-int8", Int8Portable::MR, &mt::Int8Driver<Int8Portable>::block};

}  // namespace

namespace mt {
const Int8Kernel* int8_kernel_portable() { return &kernel; }
}  // namespace mt
