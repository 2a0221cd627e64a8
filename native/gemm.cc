// GEMM through BLAS (OpenBLAS cblas_sgemm, or Accelerate on macOS), kept single-threaded and split across our
// own thread pool: the larger of M and N is cut into one contiguous block per thread (rows of C, or columns),
// and a batch of small GEMMs is spread over threads a batch element at a time.
#include "common.h"
#ifdef MEDTUNE_ACCELERATE
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace mt {

void blas_init() {
#ifndef MEDTUNE_ACCELERATE
  openblas_set_num_threads(1);
#endif
}

static inline void sgemm1(bool tA, bool tB, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                          float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // C = beta * C
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[(int64_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(int64_t)i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb,
              beta, C, ldc);
}

// C_i[M,N] = alpha * op(A_i)[M,K] * op(B_i)[K,N] + beta * C_i, i < batch
void gemm(bool tA, bool tB, int M, int N, int K, float alpha, const float* A, int lda, int64_t strideA, const float* B, int ldb,
          int64_t strideB, float beta, float* C, int ldc, int64_t strideC, int batch) {
  const int T = threads();
  if (batch > 1 && (batch >= T || (int64_t)M * N * K < (1 << 18))) {
    parallel_for(batch, 1, [=](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++)
        sgemm1(tA, tB, M, N, K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC, ldc);
    });
    return;
  }
  for (int b = 0; b < batch; b++) {
    const float* Ab = A + b * strideA;
    const float* Bb = B + b * strideB;
    float* Cb = C + b * strideC;
    const int64_t work = (int64_t)M * N * K;
    if (T == 1 || work < (1 << 16)) {
      sgemm1(tA, tB, M, N, K, alpha, Ab, lda, Bb, ldb, beta, Cb, ldc);
      continue;
    }
    if (M >= N) {
      // rows of C: op(A) rows m0..m1 start at A + m0*lda (no trans) or A + m0 (trans, A stored K x M)
      const int64_t blocks = (M + 15) / 16;
      parallel_for(blocks, 1, [=](int64_t b0, int64_t b1) {
        const int m0 = (int)(b0 * 16), m1 = (int)std::min<int64_t>(M, b1 * 16);
        const float* Ap = tA ? Ab + m0 : Ab + (int64_t)m0 * lda;
        sgemm1(tA, tB, m1 - m0, N, K, alpha, Ap, lda, Bb, ldb, beta, Cb + (int64_t)m0 * ldc, ldc);
      });
    } else {
      // columns of C: op(B) columns n0..n1 start at B + n0 (no trans) or B + n0*ldb (trans, B stored N x K)
      const int64_t blocks = (N + 15) / 16;
      parallel_for(blocks, 1, [=](int64_t b0, int64_t b1) {
        const int n0 = (int)(b0 * 16), n1 = (int)std::min<int64_t>(N, b1 * 16);
        const float* Bp = tB ? Bb + (int64_t)n0 * ldb : Bb + n0;
        sgemm1(tA, tB, M, n1 - n0, K, alpha, Ab, lda, Bp, ldb, beta, Cb + n0, ldc);
      });
    }
  }
}

}  // namespace mt
