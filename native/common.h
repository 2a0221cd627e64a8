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
  std::memcpy(&scale, &e, 4);
  return p * scale * big;
}

// erf(x), Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), given e = exp(-x²) computed by the caller.
static inline float erf_with_exp(float x, float e) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  const float y = 1.0f - (((((1.061405429f * t - 1.453152027f) * t) + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t * e;
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
  const float ax = std::fabs(x) > 9.0f ? 9.0f : std::fabs(x);
  const float e = fast_expf(-2.0f * ax);
  const float t = (1.0f - e) / (1.0f + e);
  return x < 0 ? -t : t;
}
static inline float gelu_tanh_f(float x) { return 0.5f * x * (1.0f + tanh_f(0.79788456080286536f * (x + 0.044715f * x * x * x))); }
static inline float gelu_tanh_grad_f(float x) {
  const float th = tanh_f(0.79788456080286536f * (x + 0.044715f * x * x * x));
  return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * x * x);
}

enum Act { ACT_NONE = 0, ACT_GELU = 1, ACT_GELU_TANH = 2, ACT_RELU = 3, ACT_TANH = 4 };

// ---- kernels (one file per family)
// gemm.cc (kernels: gemm_kernels.h)
struct GemmArgs;
enum GemmMode { GEMM_AUTO = 0, GEMM_OWN = 1, GEMM_BLAS = 2 };
// C_i = alpha · op(A_i) · op(B_i) + beta · C_i for i < batch (row-major, strides between batch elements);
// bf16: operands rounded to bfloat16, fp32 accumulation (only when gemm_bf16_available()).
void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, int64_t strideA,
          const float* B, int ldb, int64_t strideB, float beta, float* C, int ldc, int64_t strideC, int batch, bool bf16);
// one GEMM on the calling thread only (for kernels that are already parallel, e.g. attention per head)
void gemm_serial(const GemmArgs& g, bool bf16);
void blas_init();
bool blas_available();
const char* blas_name();
GemmMode gemm_mode();
const char* gemm_isa();
const char* gemm_bf16_isa();
bool gemm_bf16_available();
// mode: "auto" | "own" | "blas"; isa: fp32 kernel ("avx512", "avx2", "portable"); bf16isa: bf16 kernel ("avx512bf16",
// "portable-bf16", "none"). Empty strings keep the current choice. Returns "" or what is wrong.
std::string gemm_configure(const char* mode, const char* isa, const char* bf16isa);
// elementwise.cc
void fill(float* out, int64_t n, float v);
void axpy(float* dst, const float* src, int64_t n, float alpha);
void scale(const float* x, float* out, int64_t n, float alpha);
void binary(int op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb);
void unary_forward(int op, const float* x, float* out, int64_t n);
void unary_backward(int op, const float* x, const float* y, const float* dy, float* dx, int64_t n);
void bias_act_forward(float* h, const float* bias, float* out, int64_t rows, int64_t n, int act);
void act_backward(const float* h, const float* dy, float* dh, int64_t n, int act);
void reduce_sum(const float* x, float* out, int64_t outer, int64_t r, int64_t inner);
double sum_squares(const float* x, int64_t n);
void permute(const float* x, float* out, int rank, const int64_t* shape, const int64_t* perm);
void axis_copy(const float* src, float* dst, int64_t outer, int64_t srcLen, int64_t srcStart, int64_t dstLen, int64_t dstStart, int64_t len, int64_t inner, bool acc);
void softmax_forward(const float* x, float* out, int64_t rows, int64_t n);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n);
void dropout_forward(const float* x, float* out, int64_t n, float p, uint32_t key);
void dropout_backward(const float* dy, float* dx, int64_t n, float p, uint32_t key);
// layernorm.cc
void layernorm_forward(const float* x, const float* res, const float* gamma, const float* beta, float* out, float* sum, float* mean, float* rstd, int64_t rows, int64_t dim, float eps);
void layernorm_backward(const float* dy, const float* s, const float* mean, const float* rstd, const float* gamma, float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t dim);
// attention.cc
void attention_forward(const float* q, const float* k, const float* v, const float* mask, float* out, float* probs, int B, int T, int H, int D, float scale, float p, uint32_t key, bool bf16);
void attention_backward(const float* q, const float* k, const float* v, const float* probs, const float* dout, float* dq, float* dk, float* dv, int B, int T, int H, int D, float scale, float p, uint32_t key, bool bf16);
// embedding.cc
void embedding_forward(const int32_t* ids, const float* table, float* out, int64_t n, int64_t dim);
void embedding_backward(const int32_t* ids, const float* dout, float* dtable, int64_t n, int64_t dim);
// loss.cc
void cross_entropy_forward(const float* logits, const int32_t* targets, const float* w, float* loss, float* weight, int64_t N, int64_t C, int ignore, float smoothing);
void cross_entropy_backward(const float* logits, const int32_t* targets, const float* w, float* dlogits, int64_t N, int64_t C, int ignore, float smoothing, float gradScale);
void bce_forward(const float* logits, const float* targets, const float* pw, float* loss, int64_t N, int64_t C);
void bce_backward(const float* logits, const float* targets, const float* pw, float* dlogits, int64_t N, int64_t C, float gradScale);
// adamw.cc
void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps, float wd, float bc1, float bc2, float gradScale);

}  // namespace mt
