// AdamW (PyTorch's torch.optim.AdamW, decoupled weight decay), one fused pass over p, g, m, v.
#include "common.h"

namespace mt {

struct AdamConst {
  float stepSize, bc2Sqrt, decay, beta1, beta2, ob1, ob2, eps, gradScale;
  bool wd;
};

MT_SIMD_CLONES static void adamw_span(float* __restrict p, const float* __restrict g, float* __restrict m,
                                      float* __restrict v, int64_t n, AdamConst c) {
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] * c.gradScale;
    const float pi = c.wd ? p[i] * c.decay : p[i];
    const float mi = c.beta1 * m[i] + c.ob1 * gi;
    const float vi = c.beta2 * v[i] + c.ob2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / c.bc2Sqrt + c.eps;
    p[i] = pi - c.stepSize * (mi / denom);
  }
}

// p, g, m, v: [n]
void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float wd, float bc1, float bc2, float gradScale) {
  const AdamConst c{lr / bc1, std::sqrt(bc2), 1.0f - lr * wd, beta1, beta2, 1.0f - beta1, 1.0f - beta2,
                    eps,      gradScale,      wd != 0.0f};
  parallel_for(n, 1 << 15, [=](int64_t b, int64_t e) { adamw_span(p + b, g + b, m + b, v + b, e - b, c); });
}

}  // namespace mt
