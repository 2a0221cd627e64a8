// Vectorisable float math shared by the elementwise kernels and the GEMM epilogues. Header-only and free of
// library calls and std templates (only static inline functions and builtins), so the GEMM translation units built
// with their own target flags can include it without the ODR trap described in gemm_kernels.h.
#pragma once
#include <cstdint>
#include "medtune/op_codes.h"  // generated from native/kernels.mjs: enum Activation (ACT_*), UnaryOp, BinaryOp

namespace mt {

// ---- vectorisable float math (no libm calls in hot loops, so gcc can use SIMD without -ffast-math)
// exp(x), relative error ~2e-7; 0 below -87.3, clamped above 88.
static inline float fast_expf(float x) {
  const float big = x < -87.3f ? 0.0f : 1.0f;
  x = x > 88.0f ? 88.0f : (x < -87.3f ? -87.3f : x);
  const float t = x * 1.44269504088896341f;
  const float n = (t + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t e = ((int32_t)n + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &e, 4);
  return p * scale * big;
}

// erf(x), Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), given e = exp(-x²) computed by the caller.
static inline float erf_with_exp(float x, float e) {
  const float ax = __builtin_fabsf(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  const float y =
      1.0f - (((((1.061405429f * t - 1.453152027f) * t) + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t * e;
  return x < 0 ? -y : y;
}
static inline float fast_erff(float x) { return erf_with_exp(x, fast_expf(-x * x)); }

// GELU(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2)); GELU'(x) = Φ(x) + x·φ(x), where φ(x) = exp(-x²/2)/√(2π) shares its
// exponential with erf(x/√2).
static inline float gelu_f(float x) { return 0.5f * x * (1.0f + fast_erff(x * 0.70710678118654752f)); }
static inline float gelu_grad_f(float x) {
  const float e = fast_expf(-0.5f * x * x);
  return 0.5f * (1.0f + erf_with_exp(x * 0.70710678118654752f, e)) + x * 0.39894228040143268f * e;
}
static inline float tanh_f(float x) {
  // tanh via exp; |x| > 9 saturates in float32
  const float ax = __builtin_fabsf(x) > 9.0f ? 9.0f : __builtin_fabsf(x);
  const float e = fast_expf(-2.0f * ax);
  const float t = (1.0f - e) / (1.0f + e);
  return x < 0 ? -t : t;
}
static inline float gelu_tanh_f(float x) {
  return 0.5f * x * (1.0f + tanh_f(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}
static inline float gelu_tanh_grad_f(float x) {
  const float th = tanh_f(0.79788456080286536f * (x + 0.044715f * x * x * x));
  return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x * x);
}

// o[j] = act(h[j]) for j < n (o may be h)
static inline void act_row(int act, const float* h, float* o, int64_t n) {
  switch (act) {
    case ACT_GELU:
#pragma omp simd
      for (int64_t j = 0; j < n; j++) o[j] = gelu_f(h[j]);
      break;
    case ACT_GELU_TANH:
#pragma omp simd
      for (int64_t j = 0; j < n; j++) o[j] = gelu_tanh_f(h[j]);
      break;
    case ACT_RELU:
      for (int64_t j = 0; j < n; j++) o[j] = h[j] > 0 ? h[j] : 0.0f;
      break;
    case ACT_TANH:
#pragma omp simd
      for (int64_t j = 0; j < n; j++) o[j] = tanh_f(h[j]);
      break;
    default:
      for (int64_t j = 0; j < n; j++) o[j] = h[j];
  }
}

}  // namespace mt
