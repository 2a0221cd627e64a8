// LayerNorm with an optional fused residual add: s = x + res; out = (s - mean) * rstd * gamma + beta.
#include "common.h"
#include <vector>
#include <algorithm>

namespace mt {

// x, res, out, sum: [rows, dim]; gamma, beta: [dim]; mean, rstd: [rows]
void layernorm_forward(const float* x, const float* res, const float* gamma, const float* beta, float* out, float* sum, float* mean,
                       float* rstd, int64_t rows, int64_t dim, float eps) {
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(dim, 1)), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * dim;
      const float* s = xr;
      if (res) {
        float* sr = sum + r * dim;
        const float* rr = res + r * dim;
        for (int64_t j = 0; j < dim; j++) sr[j] = xr[j] + rr[j];
        s = sr;
      }
      float m = 0;
#pragma omp simd reduction(+ : m)
      for (int64_t j = 0; j < dim; j++) m += s[j];
      m /= dim;
      float v = 0;
#pragma omp simd reduction(+ : v)
      for (int64_t j = 0; j < dim; j++) v += (s[j] - m) * (s[j] - m);
      v /= dim;
      const float rs = 1.0f / std::sqrt(v + eps);
      mean[r] = m;
      rstd[r] = rs;
      float* o = out + r * dim;
      for (int64_t j = 0; j < dim; j++) o[j] = (s[j] - m) * rs * gamma[j] + beta[j];
    }
  });
}

// dy, s, dx: [rows, dim]; dgamma, dbeta: [dim] accumulated. Row blocks of 32 keep per-block partial sums of
// dgamma/dbeta, summed in block order afterwards: deterministic for any thread count.
void layernorm_backward(const float* dy, const float* s, const float* mean, const float* rstd, const float* gamma, float* dx,
                        float* dgamma, float* dbeta, int64_t rows, int64_t dim) {
  const int64_t RB = 32;
  const int64_t nb = (rows + RB - 1) / RB;
  std::vector<float> partv((size_t)(nb * 2 * dim));
  float* part = partv.data();
  parallel_for(nb, 1, [=](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float* pg = part + b * 2 * dim;
      float* pb = pg + dim;
      for (int64_t j = 0; j < 2 * dim; j++) pg[j] = 0;
      for (int64_t r = b * RB; r < std::min(rows, (b + 1) * RB); r++) {
        const float* dyr = dy + r * dim;
        const float* sr = s + r * dim;
        float* dxr = dx + r * dim;
        const float m = mean[r], rs = rstd[r];
        float sumD = 0, sumDX = 0;
#pragma omp simd reduction(+ : sumD, sumDX)
        for (int64_t j = 0; j < dim; j++) {
          const float xh = (sr[j] - m) * rs;
          const float d = dyr[j] * gamma[j];
          sumD += d;
          sumDX += d * xh;
          pg[j] += dyr[j] * xh;
          pb[j] += dyr[j];
        }
        sumD /= dim;
        sumDX /= dim;
        for (int64_t j = 0; j < dim; j++) {
          const float xh = (sr[j] - m) * rs;
          dxr[j] = rs * (dyr[j] * gamma[j] - sumD - xh * sumDX);
        }
      }
    }
  });
  for (int64_t b = 0; b < nb; b++) {
    const float* pg = part + b * 2 * dim;
    const float* pb = pg + dim;
    for (int64_t j = 0; j < dim; j++) {
      dgamma[j] += pg[j];
      dbeta[j] += pb[j];
    }
  }
}

}  // namespace mt
