// Elementwise, reduction, layout, softmax and dropout kernels. Loops are written so gcc vectorises them (-O3, and
// MT_SIMD_CLONES on the hot ones for AVX2 / AVX-512); parallel over contiguous chunks with a grain that keeps small
// tensors on one thread.
#include "common.h"
#include "rowops.h"
#include <vector>
#include <algorithm>

namespace mt {

static const int64_t GRAIN = 1 << 15;

void fill(float* out, int64_t n, float v) {
  parallel_for(n, GRAIN, [=](int64_t b, int64_t e) { std::fill(out + b, out + e, v); });
}

MT_SIMD_CLONES static void axpy_span(float* __restrict dst, const float* __restrict src, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) dst[i] += alpha * src[i];
}

MT_SIMD_CLONES static void scale_span(const float* x, float* out, int64_t n, float alpha) {
  for (int64_t i = 0; i < n; i++) out[i] = alpha * x[i];
}

void axpy(float* dst, const float* src, int64_t n, float alpha) {
  parallel_for(n, GRAIN, [=](int64_t b, int64_t e) { axpy_span(dst + b, src + b, e - b, alpha); });
}

void scale(const float* x, float* out, int64_t n, float alpha) {
  parallel_for(n, GRAIN, [=](int64_t b, int64_t e) { scale_span(x + b, out + b, e - b, alpha); });
}

template <int OP>
static inline float bop(float a, float b) {
  if (OP == BIN_ADD) return a + b;
  if (OP == BIN_SUB) return a - b;
  if (OP == BIN_MUL) return a * b;
  return a / b;
}

template <int OP>
static void binary_t(const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* sa,
                     const int64_t* sb) {
  int64_t total = 1;
  for (int d = 0; d < rank; d++) total *= shape[d];
  if (total == 0) return;
  const int64_t last = rank ? shape[rank - 1] : 1;
  const int64_t la = rank ? sa[rank - 1] : 0, lb = rank ? sb[rank - 1] : 0;
  const int64_t rows = total / last;
  parallel_for(rows, std::max<int64_t>(1, GRAIN / last), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      // offsets of row r in a and b
      int64_t ia = 0, ib = 0, rem = r;
      for (int d = rank - 2; d >= 0; d--) {
        const int64_t idx = rem % shape[d];
        rem /= shape[d];
        ia += idx * sa[d];
        ib += idx * sb[d];
      }
      float* o = out + r * last;
      const float* pa = a + ia;
      const float* pb = b + ib;
      if (la == 1 && lb == 1) for (int64_t j = 0; j < last; j++) o[j] = bop<OP>(pa[j], pb[j]);
      else if (la == 1 && lb == 0) {
        const float y = pb[0];
        for (int64_t j = 0; j < last; j++) o[j] = bop<OP>(pa[j], y);
      } else if (la == 0 && lb == 1) {
        const float x = pa[0];
        for (int64_t j = 0; j < last; j++) o[j] = bop<OP>(x, pb[j]);
      } else
        for (int64_t j = 0; j < last; j++) o[j] = bop<OP>(pa[j * la], pb[j * lb]);
    }
  });
}

void binary(int op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* sa,
            const int64_t* sb) {
  switch (op) {
    case BIN_ADD: binary_t<BIN_ADD>(a, b, out, rank, shape, sa, sb); break;
    case BIN_SUB: binary_t<BIN_SUB>(a, b, out, rank, shape, sa, sb); break;
    case BIN_MUL: binary_t<BIN_MUL>(a, b, out, rank, shape, sa, sb); break;
    default: binary_t<BIN_DIV>(a, b, out, rank, shape, sa, sb); break;
  }
}

// op: enum UnaryOp (U_*, generated from native/kernels.mjs)
void unary_forward(int op, const float* x, float* out, int64_t n) {
  parallel_for(n, GRAIN, [=](int64_t b, int64_t e) {
    switch (op) {
      case U_GELU: for (int64_t i = b; i < e; i++) out[i] = gelu_f(x[i]); break;
      case U_GELU_TANH: for (int64_t i = b; i < e; i++) out[i] = gelu_tanh_f(x[i]); break;
      case U_TANH: for (int64_t i = b; i < e; i++) out[i] = std::tanh(x[i]); break;
      case U_RELU: for (int64_t i = b; i < e; i++) out[i] = x[i] > 0 ? x[i] : 0.0f; break;
      case U_EXP: for (int64_t i = b; i < e; i++) out[i] = std::exp(x[i]); break;
      case U_LOG: for (int64_t i = b; i < e; i++) out[i] = std::log(x[i]); break;
      case U_NEG: for (int64_t i = b; i < e; i++) out[i] = -x[i]; break;
      case U_SQUARE: for (int64_t i = b; i < e; i++) out[i] = x[i] * x[i]; break;
      case U_SQRT: for (int64_t i = b; i < e; i++) out[i] = std::sqrt(x[i]); break;
      case U_SIGMOID:
        for (int64_t i = b; i < e; i++)
          out[i] = x[i] >= 0 ? 1.0f / (1.0f + std::exp(-x[i])) : std::exp(x[i]) / (1.0f + std::exp(x[i]));
        break;
    }
  });
}

void unary_backward(int op, const float* x, const float* y, const float* dy, float* dx, int64_t n) {
  parallel_for(n, GRAIN, [=](int64_t b, int64_t e) {
    switch (op) {
      case U_GELU: for (int64_t i = b; i < e; i++) dx[i] = dy[i] * gelu_grad_f(x[i]); break;
      case U_GELU_TANH: for (int64_t i = b; i < e; i++) dx[i] = dy[i] * gelu_tanh_grad_f(x[i]); break;
      case U_TANH: for (int64_t i = b; i < e; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]); break;
      case U_RELU: for (int64_t i = b; i < e; i++) dx[i] = x[i] > 0 ? dy[i] : 0.0f; break;
      case U_EXP: for (int64_t i = b; i < e; i++) dx[i] = dy[i] * y[i]; break;
      case U_LOG: for (int64_t i = b; i < e; i++) dx[i] = dy[i] / x[i]; break;
      case U_NEG: for (int64_t i = b; i < e; i++) dx[i] = -dy[i]; break;
      case U_SQUARE: for (int64_t i = b; i < e; i++) dx[i] = 2.0f * x[i] * dy[i]; break;
      case U_SQRT: for (int64_t i = b; i < e; i++) dx[i] = dy[i] * 0.5f / y[i]; break;
      case U_SIGMOID: for (int64_t i = b; i < e; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]); break;
    }
  });
}

MT_SIMD_CLONES static void act_span(int act, const float* h, float* o, int64_t n) { act_row(act, h, o, n); }

MT_SIMD_CLONES static void act_grad_span(int act, const float* __restrict h, const float* __restrict dy,
                                         float* __restrict dh, int64_t n) {
  switch (act) {
    case ACT_GELU:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) dh[i] = dy[i] * gelu_grad_f(h[i]);
      break;
    case ACT_GELU_TANH:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) dh[i] = dy[i] * gelu_tanh_grad_f(h[i]);
      break;
    case ACT_RELU:
      for (int64_t i = 0; i < n; i++) dh[i] = h[i] > 0 ? dy[i] : 0.0f;
      break;
    case ACT_TANH:
#pragma omp simd
      for (int64_t i = 0; i < n; i++) { const float t = tanh_f(h[i]); dh[i] = dy[i] * (1.0f - t * t); }
      break;
    default:
      for (int64_t i = 0; i < n; i++) dh[i] = dy[i];
  }
}

MT_SIMD_CLONES static void add_bias_span(float* __restrict h, const float* __restrict bias, int64_t n) {
  for (int64_t j = 0; j < n; j++) h[j] += bias[j];
}

// h[rows, n] += bias[n]; out = act(h)   (fused bias + activation: one pass over memory)
void bias_act_forward(float* h, const float* bias, float* out, int64_t rows, int64_t n, int act) {
  parallel_for(rows, std::max<int64_t>(1, GRAIN / std::max<int64_t>(n, 1)), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      if (bias) add_bias_span(h + r * n, bias, n);
      if (act != ACT_NONE || out != h) act_span(act, h + r * n, out + r * n, n);
    }
  });
}

// dh = dy * act'(h)
void act_backward(const float* h, const float* dy, float* dh, int64_t n, int act) {
  parallel_for(n, GRAIN, [=](int64_t b, int64_t e) { act_grad_span(act, h + b, dy + b, dh + b, e - b); });
}

MT_SIMD_CLONES static void add_span(float* __restrict dst, const float* __restrict src, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; j++) dst[j] += src[j];
}

// out[inner] = Σ_k x[k, inner] over `rows` rows, in row order
static void sum_rows_span(const float* __restrict x, float* __restrict out, int64_t rows, int64_t inner) {
  for (int64_t j = 0; j < inner; j++) out[j] = 0.0f;
  for (int64_t k = 0; k < rows; k++) add_span(out, x + k * inner, inner);
}

// x[outer, r, inner] -> out[outer, inner]. Deterministic: each output is summed over r in a fixed order.
void reduce_sum(const float* x, float* out, int64_t outer, int64_t r, int64_t inner) {
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, GRAIN / std::max<int64_t>(r, 1)), [=](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; o++) {
        const float* p = x + o * r;
        double s = 0;
        for (int64_t k = 0; k < r; k++) s += p[k];
        out[o] = (float)s;
      }
    });
    return;
  }
  if (outer == 1 && r >= 256) {
    // bias gradients (sum over 4096 rows of 256 columns): fixed row blocks summed into partials in parallel,
    // then the partials added in block order — deterministic for any thread count.
    const int64_t RB = 64;
    const int64_t nb = (r + RB - 1) / RB;
    std::vector<float> partv((size_t)(nb * inner));
    float* part = partv.data();
    parallel_for(nb, 1, [=](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++)
        sum_rows_span(x + b * RB * inner, part + b * inner, std::min(RB, r - b * RB), inner);
    });
    sum_rows_span(part, out, nb, inner);
    return;
  }
  // parallel over (outer, column blocks of inner); columns accumulate in float, rows in order
  const int64_t CB = 256;
  const int64_t nb = (inner + CB - 1) / CB;
  parallel_for(outer * nb, 1, [=](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; t++) {
      const int64_t o = t / nb, c0 = (t % nb) * CB, c1 = std::min(inner, c0 + CB);
      float* dst = out + o * inner + c0;
      for (int64_t j = 0; j < c1 - c0; j++) dst[j] = 0.0f;
      for (int64_t k = 0; k < r; k++) add_span(dst, x + (o * r + k) * inner + c0, c1 - c0);
    }
  });
}

// Σ x² of one block: 8 float lanes (k = i mod 8, the same on every ISA), then their sum and the tail in double
MT_SIMD_CLONES static double sum_squares_block(const float* __restrict x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += x[i + k] * x[i + k];
  double d = 0;
  for (int k = 0; k < 8; k++) d += acc[k];
  for (; i < n; i++) d += (double)x[i] * x[i];
  return d;
}

// Σ x², in fixed blocks of 4096 summed in order: the same result for any thread count.
double sum_squares(const float* x, int64_t n) {
  const int64_t BS = 4096;
  const int64_t nb = (n + BS - 1) / BS;
  std::vector<double> partv(nb);
  double* part = partv.data();
  parallel_for(nb, 16, [=](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) part[b] = sum_squares_block(x + b * BS, std::min(n, (b + 1) * BS) - b * BS);
  });
  double total = 0;
  for (double d : partv) total += d;
  return total;
}

// out = x permuted; out.shape[i] = shape[perm[i]]
void permute(const float* x, float* out, int rank, const int64_t* shape, const int64_t* perm) {
  if (rank == 0) {  // a scalar
    out[0] = x[0];
    return;
  }
  int64_t inStr[16], outShape[16], srcStr[16];
  int64_t acc = 1;
  for (int d = rank - 1; d >= 0; d--) { inStr[d] = acc; acc *= shape[d]; }
  for (int d = 0; d < rank; d++) { outShape[d] = shape[perm[d]]; srcStr[d] = inStr[perm[d]]; }
  const int64_t total = acc;
  if (total == 0) return;
  const int64_t last = outShape[rank - 1];
  const int64_t ls = srcStr[rank - 1];
  const int64_t rows = total / last;
  parallel_for(rows, std::max<int64_t>(1, GRAIN / last), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t src = 0, rem = r;
      for (int d = rank - 2; d >= 0; d--) {
        const int64_t idx = rem % outShape[d];
        rem /= outShape[d];
        src += idx * srcStr[d];
      }
      float* o = out + r * last;
      const float* s = x + src;
      for (int64_t j = 0; j < last; j++) o[j] = s[j * ls];
    }
  });
}

void axis_copy(const float* src, float* dst, int64_t outer, int64_t srcLen, int64_t srcStart, int64_t dstLen,
               int64_t dstStart, int64_t len, int64_t inner, bool acc) {
  const int64_t n = len * inner;
  parallel_for(outer, std::max<int64_t>(1, GRAIN / std::max<int64_t>(n, 1)), [=](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
      const float* s = src + (o * srcLen + srcStart) * inner;
      float* d = dst + (o * dstLen + dstStart) * inner;
      if (acc) for (int64_t i = 0; i < n; i++) d[i] += s[i];
      else std::memcpy(d, s, n * sizeof(float));
    }
  });
}

void softmax_forward(const float* x, float* out, int64_t rows, int64_t n) {
  parallel_for(rows, std::max<int64_t>(1, GRAIN / std::max<int64_t>(n, 1)), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      if (out != x) std::memcpy(out + r * n, x + r * n, n * sizeof(float));
      softmax_row_inplace(out + r * n, nullptr, (int)n);
    }
  });
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n) {
  parallel_for(rows, std::max<int64_t>(1, GRAIN / std::max<int64_t>(n, 1)), [=](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* yr = y + r * n;
      const float* dyr = dy + r * n;
      float* dxr = dx + r * n;
      float d = 0;
#pragma omp simd reduction(+ : d)
      for (int64_t j = 0; j < n; j++) d += dyr[j] * yr[j];
      for (int64_t j = 0; j < n; j++) dxr[j] = yr[j] * (dyr[j] - d);
    }
  });
}

// Inner loops live in small functions with restrict pointers and scalar arguments: inside a lambda the compiler
// cannot prove that stores to `out` leave the captured scalars alone, and refuses to vectorise.
MT_SIMD_CLONES static void dropout_span(const float* __restrict x, float* __restrict out, uint32_t cnt, uint32_t base,
                                        uint32_t key, uint32_t th, float sc) {
#pragma omp simd
  for (uint32_t j = 0; j < cnt; j++) out[j] = x[j] * ((dropout_hash(key, base + j) >> 8) < th ? sc : 0.0f);
}

void dropout_forward(const float* x, float* out, int64_t n, float p, uint32_t key) {
  const uint32_t th = dropout_threshold(p);
  const float sc = 1.0f / (1.0f - p);
  parallel_for(n, GRAIN, [=](int64_t b, int64_t e) {
    dropout_span(x + b, out + b, (uint32_t)(e - b), (uint32_t)b, key, th, sc);
  });
}

void dropout_backward(const float* dy, float* dx, int64_t n, float p, uint32_t key) {
  dropout_forward(dy, dx, n, p, key);
}

}  // namespace mt
