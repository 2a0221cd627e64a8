// LayerNorm with an optional fused residual add: s = x + res; out = (s - mean) * rstd * gamma + beta.
#include "common.h"
#include "rowops.h"
#include <vector>
#include <algorithm>

namespace mt {

// One row: s = x (+ res, stored in sum); returns mean and rstd; out = (s - mean)·rstd·gamma + beta.
MT_SIMD_CLONES static void layernorm_row(const float* __restrict x, const float* __restrict res,
                                         const float* __restrict gamma, const float* __restrict beta,
                                         float* __restrict out, float* __restrict sum, float* mean, float* rstd,
                                         int64_t dim, float eps) {
  const float* s = x;
  if (res) {
#pragma omp simd
    for (int64_t j = 0; j < dim; j++) sum[j] = x[j] + res[j];
    s = sum;
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
  *mean = m;
  *rstd = rs;
#pragma omp simd
  for (int64_t j = 0; j < dim; j++) out[j] = (s[j] - m) * rs * gamma[j] + beta[j];
}

// One row of the backward: dx, and dgamma/dbeta partial sums accumulated into pg/pb.
MT_SIMD_CLONES static void layernorm_backward_row(const float* __restrict dy, const float* __restrict s, float m,
                                                  float rs, const float* __restrict gamma, float* __restrict dx,
                                                  float* __restrict pg, float* __restrict pb, int64_t dim) {
  float sumD = 0, sumDX = 0;
#pragma omp simd reduction(+ : sumD, sumDX)
  for (int64_t j = 0; j < dim; j++) {
    const float xh = (s[j] - m) * rs;
    const float d = dy[j] * gamma[j];
    sumD += d;
    sumDX += d * xh;
    pg[j] += dy[j] * xh;
    pb[j] += dy[j];
  }
  sumD /= dim;
  sumDX /= dim;
#pragma omp simd
  for (int64_t j = 0; j < dim; j++) {
    const float xh = (s[j] - m) * rs;
    dx[j] = rs * (dy[j] * gamma[j] - sumD - xh * sumDX);
  }
}

// x, res, out, sum: [rows, dim]; gamma, beta: [dim]; mean, rstd: [rows]
void layernorm_forward(const float* x, const float* res, const float* gamma, const float* beta, float* out, float* sum,
                       float* mean, float* rstd, int64_t rows, int64_t dim, float eps) {
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(dim, 1)), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      layernorm_row(x + r * dim, res ? res + r * dim : nullptr, gamma, beta, out + r * dim,
                    res ? sum + r * dim : nullptr, mean + r, rstd + r, dim, eps);
  });
}

// dy, s, dx: [rows, dim]; dgamma, dbeta: [dim] accumulated. Row blocks of 32 keep per-block partial sums of
// dgamma/dbeta, summed in block order afterwards: deterministic for any thread count.
void layernorm_backward(const float* dy, const float* s, const float* mean, const float* rstd, const float* gamma,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim) {
  const int64_t RB = 32;
  const int64_t nb = (rows + RB - 1) / RB;
  std::vector<float> partv((size_t)(nb * 2 * dim));
  float* part = partv.data();
  parallel_for(nb, 1, [=](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      float* pg = part + b * 2 * dim;
      float* pb = pg + dim;
      for (int64_t j = 0; j < 2 * dim; j++) pg[j] = 0;
      for (int64_t r = b * RB; r < std::min(rows, (b + 1) * RB); r++)
        layernorm_backward_row(dy + r * dim, s + r * dim, mean[r], rstd[r], gamma, dx + r * dim, pg, pb, dim);
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
