// Losses (not hot: N·C is small). Same formulas as the js backend (see src/tensor/kernels.ts).
#include "common.h"
#include <algorithm>

namespace mt {

static double lse_row(const float* x, int64_t C) {
  double mx = -INFINITY;
  for (int64_t c = 0; c < C; c++) mx = std::max(mx, (double)x[c]);
  if (mx == -INFINITY) return mx;
  double s = 0;
  for (int64_t c = 0; c < C; c++) s += std::exp((double)x[c] - mx);
  return mx + std::log(s);
}

// logits: [N, C]; targets: [N]; w: [C] or null; loss, weight: [N]
void cross_entropy_forward(const float* logits, const int32_t* targets, const float* w, float* loss, float* weight,
                           int64_t N, int64_t C, int ignore, float smoothing) {
  for (int64_t i = 0; i < N; i++) {
    const int t = targets[i];
    if (t == ignore) { loss[i] = 0; weight[i] = 0; continue; }
    const float* x = logits + i * C;
    const double lse = lse_row(x, C);
    const double wt = w ? w[t] : 1.0;
    double l = (1.0 - smoothing) * wt * (lse - x[t]);
    if (smoothing > 0) {
      double s = 0;
      for (int64_t c = 0; c < C; c++) s += (w ? w[c] : 1.0) * (lse - x[c]);
      l += (smoothing / (double)C) * s;
    }
    loss[i] = (float)l;
    weight[i] = (float)wt;
  }
}

void cross_entropy_backward(const float* logits, const int32_t* targets, const float* w, float* dlogits, int64_t N,
                            int64_t C, int ignore, float smoothing, float gradScale) {
  double W = (double)C;
  if (w) { W = 0; for (int64_t c = 0; c < C; c++) W += w[c]; }
  for (int64_t i = 0; i < N; i++) {
    const int t = targets[i];
    float* g = dlogits + i * C;
    if (t == ignore) { for (int64_t c = 0; c < C; c++) g[c] = 0; continue; }
    const float* x = logits + i * C;
    const double lse = lse_row(x, C);
    const double wt = w ? w[t] : 1.0;
    for (int64_t c = 0; c < C; c++) {
      const double pc = std::exp((double)x[c] - lse);
      const double wc = w ? w[c] : 1.0;
      double d = (1.0 - smoothing) * wt * (pc - (c == t ? 1.0 : 0.0));
      if (smoothing > 0) d += (smoothing / (double)C) * (W * pc - wc);
      g[c] = (float)(d * gradScale);
    }
  }
}

// logits, targets, loss: [N, C]; pw: [C] or null
void bce_forward(const float* logits, const float* targets, const float* pw, float* loss, int64_t N, int64_t C) {
  for (int64_t i = 0; i < N * C; i++) {
    const double x = logits[i], y = targets[i];
    const double lw = pw ? (pw[i % C] - 1.0) * y + 1.0 : 1.0;
    loss[i] = (float)((1.0 - y) * x + lw * (std::log1p(std::exp(-std::fabs(x))) + std::max(-x, 0.0)));
  }
}

void bce_backward(const float* logits, const float* targets, const float* pw, float* dlogits, int64_t N, int64_t C,
                  float gradScale) {
  for (int64_t i = 0; i < N * C; i++) {
    const double x = logits[i], y = targets[i];
    const double s = x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    const double p = pw ? pw[i % C] : 1.0;
    dlogits[i] = (float)(((1.0 - y) * s - p * y * (1.0 - s)) * gradScale);
  }
}

}  // namespace mt
