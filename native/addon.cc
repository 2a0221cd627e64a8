// N-API bindings: each export unpacks typed arrays (zero-copy) and numbers and calls one kernel.
// Shapes are checked in TypeScript (src/tensor/ops); here we only guard buffer bounds so that a bug can never
// write outside a buffer.
#include <napi.h>
#include <string>
#include "common.h"
#include "cpu.h"

using namespace Napi;

namespace {

bool fail(const Env& env, const std::string& msg) {
  Error::New(env, "medtune native: " + msg).ThrowAsJavaScriptException();
  return false;
}

struct Args {
  const CallbackInfo& info;
  Env env;
  bool ok = true;
  explicit Args(const CallbackInfo& i) : info(i), env(i.Env()) {}

  float* f32(size_t i, int64_t need, const char* name, bool nullable = false) {
    if (!ok) return nullptr;
    Value v = info[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<TypedArray>().TypedArrayType() != napi_float32_array) {
      ok = fail(env, std::string(name) + " must be a Float32Array");
      return nullptr;
    }
    auto a = v.As<Float32Array>();
    if ((int64_t)a.ElementLength() < need) {
      ok = fail(env, std::string(name) + " is too small (" + std::to_string(a.ElementLength()) + " < " +
                         std::to_string(need) + ")");
      return nullptr;
    }
    return a.Data();
  }
  int32_t* i32(size_t i, int64_t need, const char* name) {
    if (!ok) return nullptr;
    Value v = info[i];
    if (!v.IsTypedArray() || v.As<TypedArray>().TypedArrayType() != napi_int32_array) {
      ok = fail(env, std::string(name) + " must be an Int32Array");
      return nullptr;
    }
    auto a = v.As<Int32Array>();
    if ((int64_t)a.ElementLength() < need) {
      ok = fail(env, std::string(name) + " is too small");
      return nullptr;
    }
    return a.Data();
  }
  int64_t len(size_t i) {
    Value v = info[i];
    if (!v.IsTypedArray()) return 0;
    return (int64_t)v.As<TypedArray>().ElementLength();
  }
  double num(size_t i) { return info[i].As<Number>().DoubleValue(); }
  int64_t i64(size_t i) { return info[i].As<Number>().Int64Value(); }
  bool b(size_t i) { return info[i].ToBoolean().Value(); }
  int ints(size_t i, int64_t* out, int max) {
    auto arr = info[i].As<Array>();
    int n = (int)arr.Length();
    if (n > max) { ok = fail(env, "too many dimensions"); return 0; }
    for (int k = 0; k < n; k++) out[k] = arr.Get(k).As<Number>().Int64Value();
    return n;
  }
};

Value SetThreads(const CallbackInfo& info) {
  mt::set_threads((int)info[0].As<Number>().Int32Value());
  return info.Env().Undefined();
}
Value Threads(const CallbackInfo& info) { return Number::New(info.Env(), mt::threads()); }

// {cpu, isa, bf16Isa, blas, mode}: what runs GEMMs here
Value GemmInfo(const CallbackInfo& info) {
  Env env = info.Env();
  Object o = Object::New(env);
  static const char* modes[] = {"auto", "own", "blas"};
  o.Set("cpu", mt::cpu_flags());
  o.Set("isa", mt::gemm_isa());
  o.Set("bf16Isa", mt::gemm_bf16_isa());
  o.Set("blas", mt::blas_name());
  o.Set("mode", modes[mt::gemm_mode()]);
  return o;
}
// gemmConfigure(mode, isa, bf16Isa): "" or the reason it was refused (nothing changes then)
Value GemmConfigure(const CallbackInfo& info) {
  auto str = [&](size_t i) { return info[i].IsString() ? info[i].As<String>().Utf8Value() : std::string(); };
  const std::string mode = str(0), isa = str(1), bf16 = str(2);
  return String::New(info.Env(), mt::gemm_configure(mode.c_str(), isa.c_str(), bf16.c_str()));
}

Value Fill(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* out = a.f32(0, n, "out");
  if (a.ok) mt::fill(out, n, (float)a.num(1));
  return info.Env().Undefined();
}
Value Axpy(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* d = a.f32(0, n, "dst");
  float* s = a.f32(1, n, "src");
  if (a.ok) mt::axpy(d, s, n, (float)a.num(2));
  return info.Env().Undefined();
}
Value Scale(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* x = a.f32(0, n, "x");
  float* o = a.f32(2, n, "out");
  if (a.ok) mt::scale(x, o, n, (float)a.num(1));
  return info.Env().Undefined();
}
Value Binary(const CallbackInfo& info) {
  Args a(info);
  int op = (int)a.i64(0);
  int64_t shape[16], sa[16], sb[16];
  int rank = a.ints(4, shape, 16);
  a.ints(5, sa, 16);
  a.ints(6, sb, 16);
  int64_t total = 1, ea = 0, eb = 0;
  for (int d = 0; d < rank; d++) {
    total *= shape[d];
    if (shape[d] > 0) { ea += (shape[d] - 1) * sa[d]; eb += (shape[d] - 1) * sb[d]; }
  }
  float* A = a.f32(1, total ? ea + 1 : 0, "a");
  float* B = a.f32(2, total ? eb + 1 : 0, "b");
  float* O = a.f32(3, total, "out");
  if (a.ok) mt::binary(op, A, B, O, rank, shape, sa, sb);
  return info.Env().Undefined();
}
Value Unary(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(1);
  float* x = a.f32(1, n, "x");
  float* o = a.f32(2, n, "out");
  if (a.ok) mt::unary_forward((int)a.i64(0), x, o, n);
  return info.Env().Undefined();
}
Value UnaryBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(1);
  float* x = a.f32(1, n, "x");
  float* y = a.f32(2, n, "y");
  float* dy = a.f32(3, n, "dy");
  float* dx = a.f32(4, n, "dx");
  if (a.ok) mt::unary_backward((int)a.i64(0), x, y, dy, dx, n);
  return info.Env().Undefined();
}
Value BiasAct(const CallbackInfo& info) {
  Args a(info);
  int64_t rows = a.i64(3), n = a.i64(4);
  float* h = a.f32(0, rows * n, "h");
  float* bias = a.f32(1, n, "bias", true);
  float* o = a.f32(2, rows * n, "out");
  if (a.ok) mt::bias_act_forward(h, bias, o, rows, n, (int)a.i64(5));
  return info.Env().Undefined();
}
Value ActBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* h = a.f32(0, n, "h");
  float* dy = a.f32(1, n, "dy");
  float* dh = a.f32(2, n, "dh");
  if (a.ok) mt::act_backward(h, dy, dh, n, (int)a.i64(3));
  return info.Env().Undefined();
}
Value ReduceSum(const CallbackInfo& info) {
  Args a(info);
  int64_t outer = a.i64(2), r = a.i64(3), inner = a.i64(4);
  float* x = a.f32(0, outer * r * inner, "x");
  float* o = a.f32(1, outer * inner, "out");
  if (a.ok) mt::reduce_sum(x, o, outer, r, inner);
  return info.Env().Undefined();
}
Value SumSquares(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* x = a.f32(0, n, "x");
  if (!a.ok) return info.Env().Undefined();
  return Number::New(info.Env(), mt::sum_squares(x, n));
}
Value Permute(const CallbackInfo& info) {
  Args a(info);
  int64_t shape[16], perm[16];
  int rank = a.ints(2, shape, 16);
  a.ints(3, perm, 16);
  int64_t total = 1;
  for (int d = 0; d < rank; d++) {
    total *= shape[d];
    if (perm[d] < 0 || perm[d] >= rank) a.ok = fail(info.Env(), "bad permutation");
  }
  float* x = a.f32(0, total, "x");
  float* o = a.f32(1, total, "out");
  if (a.ok && rank > 0) mt::permute(x, o, rank, shape, perm);
  return info.Env().Undefined();
}
Value AxisCopy(const CallbackInfo& info) {
  Args a(info);
  int64_t outer = a.i64(2), srcLen = a.i64(3), srcStart = a.i64(4), dstLen = a.i64(5), dstStart = a.i64(6),
          len = a.i64(7), inner = a.i64(8);
  if (srcStart + len > srcLen || dstStart + len > dstLen || srcStart < 0 || dstStart < 0)
    a.ok = fail(info.Env(), "axisCopy range out of bounds");
  float* s = a.f32(0, outer * srcLen * inner, "src");
  float* d = a.f32(1, outer * dstLen * inner, "dst");
  if (a.ok) mt::axis_copy(s, d, outer, srcLen, srcStart, dstLen, dstStart, len, inner, a.b(9));
  return info.Env().Undefined();
}
// gemm(transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch, bf16)
Value Gemm(const CallbackInfo& info) {
  Args a(info);
  bool tA = a.b(0), tB = a.b(1);
  int64_t M = a.i64(2), N = a.i64(3), K = a.i64(4);
  int64_t lda = a.i64(7), sA = a.i64(8), ldb = a.i64(10), sB = a.i64(11), ldc = a.i64(14), sC = a.i64(15),
          batch = a.i64(16);
  if (M < 0 || N < 0 || K < 0 || batch < 1) { fail(info.Env(), "bad gemm sizes"); return info.Env().Undefined(); }
  const int64_t rowsA = tA ? K : M, colsA = tA ? M : K;
  const int64_t rowsB = tB ? N : K, colsB = tB ? K : N;
  if (lda < colsA || ldb < colsB || ldc < N) {
    fail(info.Env(), "gemm leading dimension too small");
    return info.Env().Undefined();
  }
  auto extent = [](int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) -> int64_t {
    if (rows == 0 || cols == 0) return 0;
    return (batch - 1) * stride + (rows - 1) * ld + cols;
  };
  float* A = a.f32(6, extent(rowsA, colsA, lda, sA, batch), "A");
  float* B = a.f32(9, extent(rowsB, colsB, ldb, sB, batch), "B");
  float* C = a.f32(13, extent(M, N, ldc, sC, batch), "C");
  const bool bf16 = a.b(17);
  if (bf16 && !mt::gemm_bf16_available()) a.ok = fail(info.Env(), "bf16 GEMM is not available on this CPU");
  if (a.ok)
    mt::gemm(tA, tB, (int)M, (int)N, (int)K, (float)a.num(5), A, (int)lda, sA, B, (int)ldb, sB, (float)a.num(12), C,
             (int)ldc, sC, (int)batch, bf16);
  return info.Env().Undefined();
}
// linearForward(x, w, bias, h, out, rows, nIn, nOut, act, bf16)
Value LinearForward(const CallbackInfo& info) {
  Args a(info);
  const int64_t rows = a.i64(5), nIn = a.i64(6), nOut = a.i64(7), act = a.i64(8);
  if (rows < 0 || nIn < 0 || nOut < 0 || act < 0 || act > 4) {
    fail(info.Env(), "bad linear sizes");
    return info.Env().Undefined();
  }
  float* x = a.f32(0, rows * nIn, "x");
  float* w = a.f32(1, nOut * nIn, "weight");
  float* b = a.f32(2, nOut, "bias", true);
  float* h = a.f32(3, rows * nOut, "h");
  float* o = a.f32(4, rows * nOut, "out");
  const bool bf16 = a.b(9);
  if (a.ok && act == mt::ACT_NONE && o != h) a.ok = fail(info.Env(), "linearForward without activation: out must be h");
  if (bf16 && !mt::gemm_bf16_available()) a.ok = fail(info.Env(), "bf16 GEMM is not available on this CPU");
  if (a.ok) mt::linear_forward(x, w, b, h, o, (int)rows, (int)nIn, (int)nOut, (int)act, bf16);
  return info.Env().Undefined();
}
Value EmbeddingForward(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.i64(3), dim = a.i64(4);
  int32_t* ids = a.i32(0, n, "ids");
  int64_t rows = dim > 0 ? a.len(1) / dim : 0;
  if (a.ok)
    for (int64_t i = 0; i < n; i++)
      if (ids[i] < 0 || ids[i] >= rows) {
        a.ok = fail(info.Env(), "token id " + std::to_string(ids[i]) + " is outside the embedding table (" +
                                    std::to_string(rows) + " rows)");
        break;
      }
  float* t = a.f32(1, rows * dim, "table");
  float* o = a.f32(2, n * dim, "out");
  if (a.ok) mt::embedding_forward(ids, t, o, n, dim);
  return info.Env().Undefined();
}
Value EmbeddingBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.i64(3), dim = a.i64(4);
  int32_t* ids = a.i32(0, n, "ids");
  int64_t rows = dim > 0 ? a.len(2) / dim : 0;
  if (a.ok)
    for (int64_t i = 0; i < n; i++)
      if (ids[i] < 0 || ids[i] >= rows) {
        a.ok = fail(info.Env(), "token id out of range");
        break;
      }
  float* d = a.f32(1, n * dim, "dout");
  float* t = a.f32(2, rows * dim, "dtable");
  if (a.ok) mt::embedding_backward(ids, d, t, n, dim);
  return info.Env().Undefined();
}
Value LayerNormForward(const CallbackInfo& info) {
  Args a(info);
  int64_t rows = a.i64(8), dim = a.i64(9);
  float* x = a.f32(0, rows * dim, "x");
  float* res = a.f32(1, rows * dim, "residual", true);
  float* g = a.f32(2, dim, "gamma");
  float* b = a.f32(3, dim, "beta");
  float* o = a.f32(4, rows * dim, "out");
  float* s = a.f32(5, rows * dim, "sum", true);
  float* m = a.f32(6, rows, "mean");
  float* r = a.f32(7, rows, "rstd");
  if (res && !s) a.ok = fail(info.Env(), "layerNormForward: sum buffer needed with a residual");
  if (a.ok) mt::layernorm_forward(x, res, g, b, o, s, m, r, rows, dim, (float)a.num(10));
  return info.Env().Undefined();
}
Value LayerNormBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t rows = a.i64(8), dim = a.i64(9);
  float* dy = a.f32(0, rows * dim, "dy");
  float* s = a.f32(1, rows * dim, "s");
  float* m = a.f32(2, rows, "mean");
  float* r = a.f32(3, rows, "rstd");
  float* g = a.f32(4, dim, "gamma");
  float* dx = a.f32(5, rows * dim, "dx");
  float* dg = a.f32(6, dim, "dgamma");
  float* db = a.f32(7, dim, "dbeta");
  if (a.ok) mt::layernorm_backward(dy, s, m, r, g, dx, dg, db, rows, dim);
  return info.Env().Undefined();
}
Value SoftmaxForward(const CallbackInfo& info) {
  Args a(info);
  int64_t rows = a.i64(2), n = a.i64(3);
  float* x = a.f32(0, rows * n, "x");
  float* o = a.f32(1, rows * n, "out");
  if (a.ok) mt::softmax_forward(x, o, rows, n);
  return info.Env().Undefined();
}
Value SoftmaxBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t rows = a.i64(3), n = a.i64(4);
  float* y = a.f32(0, rows * n, "y");
  float* dy = a.f32(1, rows * n, "dy");
  float* dx = a.f32(2, rows * n, "dx");
  if (a.ok) mt::softmax_backward(y, dy, dx, rows, n);
  return info.Env().Undefined();
}
Value DropoutForward(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* x = a.f32(0, n, "x");
  float* o = a.f32(1, n, "out");
  if (a.ok) mt::dropout_forward(x, o, n, (float)a.num(2), (uint32_t)a.i64(3));
  return info.Env().Undefined();
}
Value DropoutBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* dy = a.f32(0, n, "dy");
  float* dx = a.f32(1, n, "dx");
  if (a.ok) mt::dropout_backward(dy, dx, n, (float)a.num(2), (uint32_t)a.i64(3));
  return info.Env().Undefined();
}
// rows × cols block with row stride ld: the elements a buffer must hold
static int64_t strided(int64_t rows, int64_t cols, int64_t ld) {
  return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0;
}

// attentionForward(q, k, v, mask, out, probs, B, T, H, D, scale, p, key, bf16, ld): ld = row stride of q, k, v
Value AttentionForward(const CallbackInfo& info) {
  Args a(info);
  int B = (int)a.i64(6), T = (int)a.i64(7), H = (int)a.i64(8), D = (int)a.i64(9);
  int64_t n = (int64_t)B * T * H * D;
  const int64_t ld = info[14].IsNumber() ? a.i64(14) : (int64_t)H * D;
  if (ld < (int64_t)H * D) {
    fail(info.Env(), "attention: row stride smaller than the hidden size");
    return info.Env().Undefined();
  }
  const int64_t nin = strided((int64_t)B * T, (int64_t)H * D, ld);
  float* q = a.f32(0, nin, "q");
  float* k = a.f32(1, nin, "k");
  float* v = a.f32(2, nin, "v");
  float* mask = a.f32(3, (int64_t)B * T, "mask", true);
  float* o = a.f32(4, n, "out");
  float* p = a.f32(5, (int64_t)B * H * T * T, "probs");
  const bool bf16 = a.b(13);
  if (bf16 && !mt::gemm_bf16_available()) a.ok = fail(info.Env(), "bf16 GEMM is not available on this CPU");
  if (a.ok)
    mt::attention_forward(q, k, v, mask, o, p, B, T, H, D, (float)a.num(10), (float)a.num(11), (uint32_t)a.i64(12),
                          bf16, (int)ld);
  return info.Env().Undefined();
}
// attentionBackward(q, k, v, probs, dout, dq, dk, dv, B, T, H, D, scale, p, key, bf16, ld)
Value AttentionBackward(const CallbackInfo& info) {
  Args a(info);
  int B = (int)a.i64(8), T = (int)a.i64(9), H = (int)a.i64(10), D = (int)a.i64(11);
  int64_t n = (int64_t)B * T * H * D;
  const int64_t ld = info[16].IsNumber() ? a.i64(16) : (int64_t)H * D;
  if (ld < (int64_t)H * D) {
    fail(info.Env(), "attention: row stride smaller than the hidden size");
    return info.Env().Undefined();
  }
  const int64_t nin = strided((int64_t)B * T, (int64_t)H * D, ld);
  float* q = a.f32(0, nin, "q");
  float* k = a.f32(1, nin, "k");
  float* v = a.f32(2, nin, "v");
  float* p = a.f32(3, (int64_t)B * H * T * T, "probs");
  float* dout = a.f32(4, n, "dout");
  float* dq = a.f32(5, nin, "dq");
  float* dk = a.f32(6, nin, "dk");
  float* dv = a.f32(7, nin, "dv");
  const bool bf16 = a.b(15);
  if (bf16 && !mt::gemm_bf16_available()) a.ok = fail(info.Env(), "bf16 GEMM is not available on this CPU");
  if (a.ok)
    mt::attention_backward(q, k, v, p, dout, dq, dk, dv, B, T, H, D, (float)a.num(12), (float)a.num(13),
                           (uint32_t)a.i64(14), bf16, (int)ld);
  return info.Env().Undefined();
}
Value CrossEntropyForward(const CallbackInfo& info) {
  Args a(info);
  int64_t N = a.i64(5), C = a.i64(6);
  int ignore = (int)a.i64(7);
  float* x = a.f32(0, N * C, "logits");
  int32_t* t = a.i32(1, N, "targets");
  float* w = a.f32(2, C, "classWeights", true);
  float* l = a.f32(3, N, "loss");
  float* wt = a.f32(4, N, "weight");
  if (a.ok)
    for (int64_t i = 0; i < N; i++)
      if (t[i] != ignore && (t[i] < 0 || t[i] >= C)) {
        a.ok = fail(info.Env(), "target " + std::to_string(t[i]) + " is not a class index below " + std::to_string(C));
        break;
      }
  if (a.ok) mt::cross_entropy_forward(x, t, w, l, wt, N, C, ignore, (float)a.num(8));
  return info.Env().Undefined();
}
Value CrossEntropyBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t N = a.i64(4), C = a.i64(5);
  int ignore = (int)a.i64(6);
  float* x = a.f32(0, N * C, "logits");
  int32_t* t = a.i32(1, N, "targets");
  float* w = a.f32(2, C, "classWeights", true);
  float* d = a.f32(3, N * C, "dlogits");
  if (a.ok)
    for (int64_t i = 0; i < N; i++)
      if (t[i] != ignore && (t[i] < 0 || t[i] >= C)) {
        a.ok = fail(info.Env(), "target out of range");
        break;
      }
  if (a.ok) mt::cross_entropy_backward(x, t, w, d, N, C, ignore, (float)a.num(7), (float)a.num(8));
  return info.Env().Undefined();
}
Value BceForward(const CallbackInfo& info) {
  Args a(info);
  int64_t N = a.i64(4), C = a.i64(5);
  float* x = a.f32(0, N * C, "logits");
  float* t = a.f32(1, N * C, "targets");
  float* pw = a.f32(2, C, "posWeight", true);
  float* l = a.f32(3, N * C, "loss");
  if (a.ok) mt::bce_forward(x, t, pw, l, N, C);
  return info.Env().Undefined();
}
Value BceBackward(const CallbackInfo& info) {
  Args a(info);
  int64_t N = a.i64(4), C = a.i64(5);
  float* x = a.f32(0, N * C, "logits");
  float* t = a.f32(1, N * C, "targets");
  float* pw = a.f32(2, C, "posWeight", true);
  float* d = a.f32(3, N * C, "dlogits");
  if (a.ok) mt::bce_backward(x, t, pw, d, N, C, (float)a.num(6));
  return info.Env().Undefined();
}
Value AdamW(const CallbackInfo& info) {
  Args a(info);
  int64_t n = a.len(0);
  float* p = a.f32(0, n, "param");
  float* g = a.f32(1, n, "grad");
  float* m = a.f32(2, n, "m");
  float* v = a.f32(3, n, "v");
  if (a.ok)
    mt::adamw(p, g, m, v, n, (float)a.num(4), (float)a.num(5), (float)a.num(6), (float)a.num(7), (float)a.num(8),
              (float)a.num(9), (float)a.num(10), (float)a.num(11));
  return info.Env().Undefined();
}

Object Init(Env env, Object exports) {
  mt::blas_init();
#define EXPORT(name, fn) exports.Set(name, Function::New(env, fn, name))
  EXPORT("setThreads", SetThreads);
  EXPORT("threads", Threads);
  EXPORT("fill", Fill);
  EXPORT("axpy", Axpy);
  EXPORT("scale", Scale);
  EXPORT("binary", Binary);
  EXPORT("unary", Unary);
  EXPORT("unaryBackward", UnaryBackward);
  EXPORT("biasAct", BiasAct);
  EXPORT("actBackward", ActBackward);
  EXPORT("reduceSum", ReduceSum);
  EXPORT("sumSquares", SumSquares);
  EXPORT("permute", Permute);
  EXPORT("axisCopy", AxisCopy);
  EXPORT("gemm", Gemm);
  EXPORT("gemmInfo", GemmInfo);
  EXPORT("linearForward", LinearForward);
  EXPORT("gemmConfigure", GemmConfigure);
  EXPORT("embeddingForward", EmbeddingForward);
  EXPORT("embeddingBackward", EmbeddingBackward);
  EXPORT("layerNormForward", LayerNormForward);
  EXPORT("layerNormBackward", LayerNormBackward);
  EXPORT("softmaxForward", SoftmaxForward);
  EXPORT("softmaxBackward", SoftmaxBackward);
  EXPORT("dropoutForward", DropoutForward);
  EXPORT("dropoutBackward", DropoutBackward);
  EXPORT("attentionForward", AttentionForward);
  EXPORT("attentionBackward", AttentionBackward);
  EXPORT("crossEntropyForward", CrossEntropyForward);
  EXPORT("crossEntropyBackward", CrossEntropyBackward);
  EXPORT("bceWithLogitsForward", BceForward);
  EXPORT("bceWithLogitsBackward", BceBackward);
  EXPORT("adamw", AdamW);
#undef EXPORT
  return exports;
}

}  // namespace

NODE_API_MODULE(medtune_native, Init)
