// In-register 16×16 fp32 transpose for the AVX-512 GEMM kernels (gemm_avx512.cc, gemm_avx512bf16.cc; both are
// built with -mavx512f): unpack pairs, then 4-float groups, then 128-bit lanes twice.
#pragma once
#include <immintrin.h>

static inline void transpose16(__m512* t) {
  __m512 u[16];
  for (int i = 0; i < 16; i += 2) {
    u[i] = _mm512_unpacklo_ps(t[i], t[i + 1]);
    u[i + 1] = _mm512_unpackhi_ps(t[i], t[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    t[i] = _mm512_shuffle_ps(u[i], u[i + 2], 0x44);
    t[i + 1] = _mm512_shuffle_ps(u[i], u[i + 2], 0xEE);
    t[i + 2] = _mm512_shuffle_ps(u[i + 1], u[i + 3], 0x44);
    t[i + 3] = _mm512_shuffle_ps(u[i + 1], u[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    u[i] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0x88);
    u[i + 4] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0xDD);
    u[i + 8] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0x88);
    u[i + 12] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; i++) {
    t[i] = _mm512_shuffle_f32x4(u[i], u[i + 8], 0x88);
    t[i + 8] = _mm512_shuffle_f32x4(u[i], u[i + 8], 0xDD);
    t[i + 4] = _mm512_shuffle_f32x4(u[i + 4], u[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(u[i + 4], u[i + 12], 0xDD);
  }
}
