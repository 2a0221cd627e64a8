// Fused multi-head attention core, one (batch, head) pair per task:
//   S = scale · Q Kᵀ + mask;  P = softmax(S);  O = dropout(P) V
// q, k, v: [B, T, ld] rows (ld = H*D for separate tensors; 3·H*D when they are the column blocks of one fused QKV
// projection), head h at columns h*D..h*D+D of each (HF's layout; no transposes needed, we pass leading dimensions
// to the GEMM); out and dout: [B, T, H*D]; dq, dk, dv are written with the stride of q, k, v. probs: [B, H, T, T] (P
// before dropout, saved for backward). The dropout mask is recomputed from the hash in backward.
#include "common.h"
#include "rowops.h"
#include "gemm_kernels.h"
#include <vector>
#include <algorithm>

namespace mt {

// one per-head GEMM on this thread: C[M,N] = alpha · op(A) · op(B)
static inline void mm(bool tA, bool tB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                      int ldb, float* C, int ldc, bool bf16) {
  gemm_serial(GemmArgs{tA, tB, M, N, K, alpha, 0.0f, A, lda, B, ldb, C, ldc}, bf16);
}

void attention_forward(const float* q, const float* k, const float* v, const float* mask, float* out, float* probs,
                       int B, int T, int H, int D, float scale, float p, uint32_t key, bool bf16, int ld) {
  const int C = H * D;
  const uint32_t th = dropout_threshold(p);
  const float sc = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
  parallel_for((int64_t)B * H, 1, [=](int64_t t0, int64_t t1) {
    std::vector<float> drop(p > 0 ? (size_t)T * T : 0);
    for (int64_t t = t0; t < t1; t++) {
      const int b = (int)(t / H), h = (int)(t % H);
      const int64_t in = (int64_t)b * T * ld + h * D;  // head h of batch b in q, k, v (row stride ld)
      float* P = probs + t * T * T;
      // S[T,T] = scale * Q[T,D] K[T,D]^T
      mm(false, true, T, T, D, scale, q + in, ld, k + in, ld, P, T, bf16);
      const float* mb = mask ? mask + (int64_t)b * T : nullptr;
      for (int i = 0; i < T; i++) softmax_row_inplace(P + (int64_t)i * T, mb, T);
      const float* Pd = P;
      if (p > 0) {
        for (int i = 0; i < T; i++)
          dropout_row(P + (int64_t)i * T, drop.data() + (int64_t)i * T, T, (uint32_t)((t * T + i) * T), key, th, sc);
        Pd = drop.data();
      }
      // O[T,D] = Pd[T,T] V[T,D]
      mm(false, false, T, D, T, 1.0f, Pd, T, v + in, ld, out + (int64_t)b * T * C + h * D, C, bf16);
    }
  });
}

void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                        float* dq, float* dk, float* dv, int B, int T, int H, int D, float scale, float p, uint32_t key,
                        bool bf16, int ld) {
  const int C = H * D;
  const uint32_t th = dropout_threshold(p);
  const float sc = p > 0 ? 1.0f / (1.0f - p) : 1.0f;
  parallel_for((int64_t)B * H, 1, [=](int64_t t0, int64_t t1) {
    std::vector<float> drop(p > 0 ? (size_t)T * T : 0);
    std::vector<float> dP((size_t)T * T);
    for (int64_t t = t0; t < t1; t++) {
      const int b = (int)(t / H), h = (int)(t % H);
      const int64_t in = (int64_t)b * T * ld + h * D;  // q, k, v, dq, dk, dv (row stride ld)
      const int64_t off = (int64_t)b * T * C + h * D;  // dout (row stride C)
      const float* P = probs + t * T * T;
      const float* Pd = P;
      if (p > 0) {
        for (int i = 0; i < T; i++)
          dropout_row(P + (int64_t)i * T, drop.data() + (int64_t)i * T, T, (uint32_t)((t * T + i) * T), key, th, sc);
        Pd = drop.data();
      }
      // dV[T,D] = Pdᵀ[T,T] dO[T,D]
      mm(true, false, T, D, T, 1.0f, Pd, T, dout + off, C, dv + in, ld, bf16);
      // dPd[T,T] = dO[T,D] Vᵀ
      mm(false, true, T, T, D, 1.0f, dout + off, C, v + in, ld, dP.data(), T, bf16);
      for (int i = 0; i < T; i++)
        softmax_backward_row(dP.data() + (int64_t)i * T, P + (int64_t)i * T, T, scale, p > 0,
                             (uint32_t)((t * T + i) * T), key, th, sc);
      // dQ[T,D] = dS K ; dK[T,D] = dSᵀ Q
      mm(false, false, T, D, T, 1.0f, dP.data(), T, k + in, ld, dq + in, ld, bf16);
      mm(true, false, T, D, T, 1.0f, dP.data(), T, q + in, ld, dk + in, ld, bf16);
    }
  });
}

}  // namespace mt
