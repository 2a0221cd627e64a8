// Shared declarations for medtune's native kernels.
// Kernels are plain functions on raw float buffers (llm.c style), named x_forward / x_backward, with shapes in
// comments. Parallel loops go through mt::parallel_for (our own pool); BLAS is kept single-threaded so that the two
// never oversubscribe the cores, and GEMMs are split across our threads instead.
#pragma once
#include <cstdint>
#include <cstddef>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include "fastmath.h"

// Hot elementwise / row loops are compiled three times (AVX-512 = x86-64-v4, AVX2+FMA = x86-64-v3, baseline) and
// the dynamic loader picks the best version for the CPU once (target_clones through an ifunc; glibc on x86-64).
// Elsewhere (macOS, musl, ARM64) there is one version built for the baseline. This replaces -march=native, which
// made a build crash on an older CPU and left AVX-512 unused when built on an AVX2 machine.
#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__) && !defined(MEDTUNE_NO_CLONES)
#define MT_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MT_SIMD_CLONES
#endif

namespace mt {

// ---- thread pool (threadpool.cc)
void set_threads(int n);
int threads();
// Splits [0, n) into contiguous chunks, one per thread (at most ceil(n / grain) chunks), and runs
// fn(begin, end) on each; the calling thread takes the first chunk. Chunk bounds depend only on n, grain and
// the thread count, so results are deterministic for a given thread count.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// ---- dropout hash: must match dropoutHash() in src/tensor/kernels.ts
inline uint32_t dropout_hash(uint32_t key, uint32_t i) {
  uint32_t h = (i * 0x9e3779b1u) ^ key;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
inline uint32_t dropout_threshold(double p) { return (uint32_t)std::llround((1.0 - p) * 16777216.0); }


// ---- kernels (one file per family)
// gemm.cc (kernels: gemm_kernels.h)
struct GemmArgs;
enum GemmMode { GEMM_AUTO = 0, GEMM_OWN = 1, GEMM_BLAS = 2 };
// C_i = alpha · op(A_i) · op(B_i) + beta · C_i for i < batch (row-major, strides between batch elements);
// bf16: operands rounded to bfloat16, fp32 accumulation (only when gemm_bf16_available()).
void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, int64_t strideA,
          const float* B, int ldb, int64_t strideB, float beta, float* C, int ldc, int64_t strideC, int batch,
          bool bf16);
// h[rows, nOut] = x[rows, nIn] · w[nOut, nIn]ᵀ + bias (bias may be null); out = act(h) unless act is ACT_NONE (then
// out must be h): one GEMM, bias and activation fused into its epilogue
void linear_forward(const float* x, const float* w, const float* bias, float* h, float* out, int rows, int nIn,
                    int nOut, int act, bool bf16);
// one GEMM on the calling thread only (for kernels that are already parallel, e.g. attention per head)
void gemm_serial(const GemmArgs& g, bool bf16);
void blas_init();
bool blas_available();
const char* blas_name();
GemmMode gemm_mode();
const char* gemm_isa();
const char* gemm_bf16_isa();
const char* gemm_int8_isa();
bool gemm_bf16_available();
// kernels disabled by their self-check at first use: "name: why; ..." ("" when none)
std::string gemm_disabled();
// the cache blocking of the fp32 (and bf16) kernels and the cache sizes it came from, in words
std::string gemm_blocking();
// bf16 kernel speed / fp32 kernel speed on this CPU (one thread, thread CPU time, ~40 ms); 0 without a bf16 kernel
double gemm_bf16_speedup();
// mode: "auto" | "own" | "blas"; isa: fp32 kernel ("avx512", "avx2", "portable"); bf16isa: bf16 kernel ("avx512bf16",
// "portable-bf16", "none"); int8isa: int8 kernel ("avx512vnni", "portable-int8"). Empty strings keep the current
// choice. Returns "" or what is wrong.
std::string gemm_configure(const char* mode, const char* isa, const char* bf16isa, const char* int8isa);
// int8 inference (int8.cc, gemm.cc; layout in gemm_kernels.h): elements of the packed weights of a [nOut, nIn] layer
int64_t int8_packed_size(int64_t nOut, int64_t nIn);
// per-channel quantized weights q[nOut, nIn] -> packed k quads + comp[j] = 128 · Σ_k q[j, k]
void int8_pack_weights(const int8_t* q, int64_t nOut, int64_t nIn, int32_t* packed, int32_t* comp);
// x[rows, K] -> u8 rows of lda bytes (round(x · 127 / max|row|) + 128) and per-row scales max|row| / 127
void int8_quantize_rows(const float* x, int64_t rows, int64_t K, uint8_t* q, int64_t lda, float* scale);
// h[rows, nOut] = (x quantized per row) · (W quantized per channel)ᵀ · scales + bias; out = act(h) (act none: h)
void linear_int8_forward(const float* x, const int32_t* packed, const int32_t* comp, const float* wscale,
                         const float* bias, float* h, float* out, int rows, int nIn, int nOut, int act);
// elementwise.cc
void fill(float* out, int64_t n, float v);
void axpy(float* dst, const float* src, int64_t n, float alpha);
void scale(const float* x, float* out, int64_t n, float alpha);
void binary(int op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* sa,
            const int64_t* sb);
void unary_forward(int op, const float* x, float* out, int64_t n);
void unary_backward(int op, const float* x, const float* y, const float* dy, float* dx, int64_t n);
void bias_act_forward(float* h, const float* bias, float* out, int64_t rows, int64_t n, int act);
void act_backward(const float* h, const float* dy, float* dh, int64_t n, int act);
void reduce_sum(const float* x, float* out, int64_t outer, int64_t r, int64_t inner);
double sum_squares(const float* x, int64_t n);
void permute(const float* x, float* out, int rank, const int64_t* shape, const int64_t* perm);
void axis_copy(const float* src, float* dst, int64_t outer, int64_t srcLen, int64_t srcStart, int64_t dstLen,
               int64_t dstStart, int64_t len, int64_t inner, bool acc);
void softmax_forward(const float* x, float* out, int64_t rows, int64_t n);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n);
void dropout_forward(const float* x, float* out, int64_t n, float p, uint32_t key);
void dropout_backward(const float* dy, float* dx, int64_t n, float p, uint32_t key);
// layernorm.cc
void layernorm_forward(const float* x, const float* res, const float* gamma, const float* beta, float* out, float* sum,
                       float* mean, float* rstd, int64_t rows, int64_t dim, float eps);
void layernorm_backward(const float* dy, const float* s, const float* mean, const float* rstd, const float* gamma,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim);
// attention.cc
void attention_forward(const float* q, const float* k, const float* v, const float* mask, float* out, float* probs,
                       int B, int T, int H, int D, float scale, float p, uint32_t key, bool bf16, int ld);
void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* dout,
                        float* dq, float* dk, float* dv, int B, int T, int H, int D, float scale, float p, uint32_t key,
                        bool bf16, int ld);
// embedding.cc
void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim);
void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim);
// loss.cc
void cross_entropy_forward(const float* logits, const int32_t* targets, const float* w, float* loss, float* weight,
                           int64_t N, int64_t C, int ignore, float smoothing);
void cross_entropy_backward(const float* logits, const int32_t* targets, const float* w, float* dlogits, int64_t N,
                            int64_t C, int ignore, float smoothing, float gradScale);
void bce_forward(const float* logits, const float* targets, const float* pw, float* loss, int64_t N, int64_t C);
void bce_backward(const float* logits, const float* targets, const float* pw, float* dlogits, int64_t N, int64_t C,
                  float gradScale);
// adamw.cc
void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float wd, float bc1, float bc2, float gradScale);

}  // namespace mt
