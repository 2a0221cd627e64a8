// int8 inference helpers around the int8 GEMM (gemm_kernels.h, Int8Args): weights packed once into k quads,
// activations quantized per row on every call. Rounding is to nearest even (rint in the default rounding mode)
// of the float product x · (127 / max|row|), exactly what the TypeScript reference (src/tensor/quantize.ts) computes.
#include "common.h"
#include "gemm_kernels.h"
#include <algorithm>
#include <cmath>

namespace mt {

namespace {
MT_SIMD_CLONES float abs_max(const float* __restrict x, int64_t n) {
  float m = 0.0f;
#pragma omp simd reduction(max : m)
  for (int64_t k = 0; k < n; k++) m = std::max(m, std::fabs(x[k]));
  return m;
}

// (written so that gcc vectorises it: ternaries, not std::min/max; the +128 in float, exact for these integers)
MT_SIMD_CLONES void quantize_span(const float* __restrict x, int n, float inv, uint8_t* __restrict q) {
  for (int k = 0; k < n; k++) {
    float v = __builtin_rintf(x[k] * inv);
    v = v > 127.0f ? 127.0f : v;
    v = v < -127.0f ? -127.0f : v;
    q[k] = (uint8_t)(int32_t)(v + 128.0f);
  }
}
}  // namespace

int64_t int8_packed_size(int64_t nOut, int64_t nIn) {
  return (nOut + INT8_NR - 1) / INT8_NR * INT8_NR * ((nIn + 3) / 4);
}

// q[nOut, nIn] (s8, per-channel quantized weights) -> packed k quads (gemm_kernels.h) and comp[j] = 128 · Σ_k q[j, k]
void int8_pack_weights(const int8_t* q, int64_t nOut, int64_t nIn, int32_t* packed, int32_t* comp) {
  const int64_t kq = (nIn + 3) / 4, blocks = (nOut + INT8_NR - 1) / INT8_NR;
  parallel_for(blocks, 1, [=](int64_t b0, int64_t b1) {
    for (int64_t nb = b0; nb < b1; nb++)
      for (int c = 0; c < INT8_NR; c++) {
        const int64_t j = nb * INT8_NR + c;
        int32_t sum = 0;
        for (int64_t p = 0; p < kq; p++) {
          uint32_t lane = 0;
          for (int t = 0; t < 4; t++) {
            const int64_t k = 4 * p + t;
            const int8_t v = j < nOut && k < nIn ? q[j * nIn + k] : 0;
            sum += v;
            lane |= (uint32_t)(uint8_t)v << (8 * t);
          }
          packed[(nb * kq + p) * INT8_NR + c] = (int32_t)lane;
        }
        if (j < nOut) comp[j] = 128 * sum;
      }
  });
}

// x[rows, K] -> q[rows, lda] (u8 = round(x · 127 / max|row|) + 128; padding k ≥ K: 128) and scale[r] = max|row| / 127
void int8_quantize_rows(const float* x, int64_t rows, int64_t K, uint8_t* q, int64_t lda, float* scale) {
  parallel_for(rows, 16, [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * K;
      const float m = abs_max(xr, K);
      const float inv = m > 0.0f ? 127.0f / m : 0.0f;
      scale[r] = m / 127.0f;
      quantize_span(xr, (int)K, inv, q + r * lda);
      std::fill(q + r * lda + K, q + (r + 1) * lda, (uint8_t)128);
    }
  });
}

}  // namespace mt
