// AdamW (PyTorch's torch.optim.AdamW, decoupled weight decay), one fused pass over p, g, m, v.
#include "common.h"

namespace mt {

// p, g, m, v: [n]
void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps, float wd, float bc1,
           float bc2, float gradScale) {
  const float stepSize = lr / bc1;
  const float bc2Sqrt = std::sqrt(bc2);
  const float decay = 1.0f - lr * wd;
  const float ob1 = 1.0f - beta1, ob2 = 1.0f - beta2;
  parallel_for(n, 1 << 15, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      const float gi = g[i] * gradScale;
      const float pi = wd != 0.0f ? p[i] * decay : p[i];
      const float mi = beta1 * m[i] + ob1 * gi;
      const float vi = beta2 * v[i] + ob2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const float denom = std::sqrt(vi) / bc2Sqrt + eps;
      p[i] = pi - stepSize * (mi / denom);
    }
  });
}

}  // namespace mt
