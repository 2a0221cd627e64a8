// Per-row helpers shared by the softmax, attention and layer-norm kernels, compiled per ISA (MT_SIMD_CLONES). They
// take restrict pointers and plain scalars so that gcc vectorises them (inside a lambda it cannot prove that stores
// leave captured values alone).
#pragma once
#include "common.h"

namespace mt {

// row[j] = softmax(row[j] + mask[j]) in place; mask may be null; a row of all -inf becomes uniform.
[[maybe_unused]] MT_SIMD_CLONES static void softmax_row_inplace(float* __restrict row, const float* __restrict mask,
                                                                int n) {
  if (mask) {
#pragma omp simd
    for (int j = 0; j < n; j++) row[j] += mask[j];
  }
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int j = 0; j < n; j++) mx = row[j] > mx ? row[j] : mx;
  if (mx == -INFINITY) {
    for (int j = 0; j < n; j++) row[j] = 1.0f / n;
    return;
  }
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < n; j++) {
    const float e = fast_expf(row[j] - mx);
    row[j] = e;
    s += e;
  }
  const float inv = 1.0f / s;
#pragma omp simd
  for (int j = 0; j < n; j++) row[j] *= inv;
}

// out[j] = p[j] · keep(base + j) / (1 - p)
[[maybe_unused]] MT_SIMD_CLONES static void dropout_row(const float* __restrict p, float* __restrict out, int n,
                                                        uint32_t base, uint32_t key, uint32_t th, float sc) {
#pragma omp simd
  for (int j = 0; j < n; j++) out[j] = p[j] * ((dropout_hash(key, base + (uint32_t)j) >> 8) < th ? sc : 0.0f);
}

// Softmax backward in place on dr (= dL/dP), optionally through dropout first, scaled: dr = scale·P·(dr − Σ dr·P).
[[maybe_unused]] MT_SIMD_CLONES static void softmax_backward_row(float* __restrict dr, const float* __restrict pr,
                                                                 int n, float scale, bool dropout, uint32_t base,
                                                                 uint32_t key, uint32_t th, float sc) {
  if (dropout) {
#pragma omp simd
    for (int j = 0; j < n; j++) dr[j] *= (dropout_hash(key, base + (uint32_t)j) >> 8) < th ? sc : 0.0f;
  }
  float dot = 0;
#pragma omp simd reduction(+ : dot)
  for (int j = 0; j < n; j++) dot += dr[j] * pr[j];
#pragma omp simd
  for (int j = 0; j < n; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
}

}  // namespace mt
