// Fused multi-head attention core, one (batch, head) pair per task:
//   S = scale · Q Kᵀ + mask;  P = softmax(S);  O = dropout(P) V
// q, k, v, out: [B, T, H*D] with head h at columns h*D..h*D+D (HF's layout; no transposes needed, we pass
// leading dimensions to BLAS). probs: [B, H, T, T] (P before dropout, saved for backward). The dropout mask is
// recomputed from the hash in backward.
#include "common.h"
#include <vector>
#include <algorithm>
#ifdef MEDTUNE_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

namespace mt {

static inline void apply_dropout_row(const float* p, float* out, int T, uint32_t base, uint32_t th, float sc, uint32_t key) {
#pragma omp simd
  for (int j = 0; j < T; j++) out[j] = p[j] * ((dropout_hash(key, base + (uint32_t)j) >> 8) < th ? sc : 0.0f);
}

void attention_forward(const float* q, const float* k, const float* v, const float* mask, float* out, float* probs, int B, int T, int H,
                       int D, float scale, float p, uint32_t key) {
  const int C = H * D;
  const uint32_t th = dropout_threshold(p);
  const float sc = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
  parallel_for((int64_t)B * H, 1, [=](int64_t t0, int64_t t1) {
    std::vector<float> drop(p > 0 ? (size_t)T * T : 0);
    for (int64_t t = t0; t < t1; t++) {
      const int b = (int)(t / H), h = (int)(t % H);
      const float* qb = q + (int64_t)b * T * C + h * D;
      const float* kb = k + (int64_t)b * T * C + h * D;
      const float* vb = v + (int64_t)b * T * C + h * D;
      float* P = probs + t * T * T;
      // S[T,T] = scale * Q[T,D] K[T,D]^T
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qb, C, kb, C, 0.0f, P, T);
      for (int i = 0; i < T; i++) {
        float* row = P + (int64_t)i * T;
        if (mask) {
          const float* mb = mask + (int64_t)b * T;
          for (int j = 0; j < T; j++) row[j] += mb[j];
        }
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < T; j++) mx = row[j] > mx ? row[j] : mx;
        if (mx == -INFINITY) {
          for (int j = 0; j < T; j++) row[j] = 1.0f / T;
        } else {
          float s = 0;
#pragma omp simd reduction(+ : s)
          for (int j = 0; j < T; j++) {
            const float e = fast_expf(row[j] - mx);
            row[j] = e;
            s += e;
          }
          const float inv = 1.0f / s;
          for (int j = 0; j < T; j++) row[j] *= inv;
        }
      }
      const float* Pd = P;
      if (p > 0) {
        for (int i = 0; i < T; i++) apply_dropout_row(P + (int64_t)i * T, drop.data() + (int64_t)i * T, T, (uint32_t)((t * T + i) * T), th, sc, key);
        Pd = drop.data();
      }
      // O[T,D] = Pd[T,T] V[T,D]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, Pd, T, vb, C, 0.0f, out + (int64_t)b * T * C + h * D, C);
    }
  });
}

void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* dout, float* dq, float* dk,
                        float* dv, int B, int T, int H, int D, float scale, float p, uint32_t key) {
  const int C = H * D;
  const uint32_t th = dropout_threshold(p);
  const float sc = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
  parallel_for((int64_t)B * H, 1, [=](int64_t t0, int64_t t1) {
    std::vector<float> drop(p > 0 ? (size_t)T * T : 0);
    std::vector<float> dP((size_t)T * T);
    for (int64_t t = t0; t < t1; t++) {
      const int b = (int)(t / H), h = (int)(t % H);
      const int64_t off = (int64_t)b * T * C + h * D;
      const float* P = probs + t * T * T;
      const float* Pd = P;
      if (p > 0) {
        for (int i = 0; i < T; i++) apply_dropout_row(P + (int64_t)i * T, drop.data() + (int64_t)i * T, T, (uint32_t)((t * T + i) * T), th, sc, key);
        Pd = drop.data();
      }
      // dV[T,D] = Pdᵀ[T,T] dO[T,D]
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, Pd, T, dout + off, C, 0.0f, dv + off, C);
      // dPd[T,T] = dO[T,D] Vᵀ
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, dout + off, C, v + off, C, 0.0f, dP.data(), T);
      for (int i = 0; i < T; i++) {
        float* dr = dP.data() + (int64_t)i * T;
        const float* pr = P + (int64_t)i * T;
        if (p > 0) {
          const uint32_t base = (uint32_t)((t * T + i) * T);
#pragma omp simd
          for (int j = 0; j < T; j++) dr[j] *= (dropout_hash(key, base + (uint32_t)j) >> 8) < th ? sc : 0.0f;
        }
        float dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j < T; j++) dot += dr[j] * pr[j];
        for (int j = 0; j < T; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;  // dS (with the scale folded in)
      }
      // dQ[T,D] = dS K ; dK[T,D] = dSᵀ Q
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, dP.data(), T, k + off, C, 0.0f, dq + off, C);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, dP.data(), T, q + off, C, 0.0f, dk + off, C);
    }
  });
}

}  // namespace mt
