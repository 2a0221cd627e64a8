// GEMM dispatcher: picks the kernel family for this CPU (CPUID at load: AVX-512, AVX2+FMA, or portable; bf16 via
// AVX512-BF16), chooses between our own packed GEMM and BLAS (OpenBLAS / Accelerate, when present at build time),
// and splits the work over our thread pool.
//   own:  C is cut into one contiguous block of rows or of columns per thread (whichever balances the threads
//         best), in whole micro-tiles; each thread packs its own operands into a thread-local buffer. Results do
//         not depend on the split.
//   blas: BLAS kept single-threaded, the same split, one sgemm call per block.
//   auto: per shape class (transposes, each size rounded up to a power of two, batched or not) both are timed once
//         on the caller's operands (into scratch) and the faster one is cached for the process.
// Default: own when our kernel is SIMD (AVX2/AVX-512: at least as fast as OpenBLAS at every BERT shape we measured),
// BLAS when only the portable kernel runs here and BLAS was built in, else own. Not auto: two processes could time
// a shape differently and pick different GEMMs, and then a resumed training run would no longer reproduce an
// uninterrupted one bit for bit. MEDTUNE_GEMM=auto opts in.
// A batch of small GEMMs is spread over threads a batch element at a time.
#include "common.h"
#include "cpu.h"
#include "gemm_kernels.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>
#if defined(MEDTUNE_ACCELERATE)
#include <Accelerate/Accelerate.h>
#define MT_HAVE_BLAS 1
#define MT_BLAS_NAME "accelerate"
#elif defined(MEDTUNE_OPENBLAS)
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#define MT_HAVE_BLAS 1
#define MT_BLAS_NAME "openblas"
#else
#define MT_HAVE_BLAS 0
#define MT_BLAS_NAME ""
#endif

namespace mt {
namespace {

struct Config {
  const GemmKernel* fp32 = nullptr;
  const GemmKernel* bf16 = nullptr;  // null: this CPU has no bf16 kernel that is faster than fp32
  GemmMode mode = GEMM_AUTO;
};

#if MT_X86
bool has_avx512() {
  const CpuFeatures& f = cpu();
  return f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl;
}
#endif

Config defaults() {
  Config c;
  c.fp32 = gemm_kernel_portable();
#if MT_X86
  if (cpu().avx2 && cpu().fma) c.fp32 = gemm_kernel_avx2();
  if (has_avx512()) c.fp32 = gemm_kernel_avx512();
  if (has_avx512() && cpu().avx512bf16) c.bf16 = gemm_kernel_avx512bf16();
#endif
  c.mode = MT_HAVE_BLAS && c.fp32 == gemm_kernel_portable() ? GEMM_BLAS : GEMM_OWN;
  return c;
}

// The current choice, replaced as a whole by gemm_configure() (old copies are kept alive: another thread may be
// reading one), so GEMM calls on several threads never see a half-written config.
std::atomic<const Config*>& config_slot() {
  static std::atomic<const Config*> slot{new Config(defaults())};
  return slot;
}
const Config& config() { return *config_slot().load(std::memory_order_acquire); }

// ---- own kernels on the pool

void* thread_work(size_t bytes) {
  struct Buf {
    void* p = nullptr;
    size_t n = 0;
    ~Buf() { std::free(p); }
  };
  static thread_local Buf buf;
  if (buf.n < bytes) {
    std::free(buf.p);
    buf.n = (bytes + 63) / 64 * 64;
    buf.p = std::aligned_alloc(64, buf.n);
  }
  return buf.p;
}

void own_serial(const GemmKernel* k, const GemmArgs& g) { k->block(g, 0, g.M, 0, g.N, thread_work(k->work_bytes)); }

// Largest share of M (in rows) one of T threads gets when C is cut in units of `unit` rows: the split's critical path.
int64_t worst_share(int64_t M, int unit, int T) {
  const int64_t blocks = (M + unit - 1) / unit;
  const int64_t per = (blocks + T - 1) / T;
  return std::min<int64_t>(M, per * unit);
}

void own_threaded(const GemmKernel* k, const GemmArgs& g) {
  const int T = threads();
  if (T == 1 || (int64_t)g.M * g.N * g.K < (1 << 16)) return own_serial(k, g);
  // cut the dimension whose whole-tile split keeps the slowest thread's share of C smallest (e.g. 256×256: rows
  // in 12s give 132 + 124 rows, columns in 32s give 128 + 128), rows on a tie
  const bool rows = worst_share(g.M, k->mr, T) * g.N <= worst_share(g.N, k->nr, T) * g.M;
  const int unit = rows ? k->mr : k->nr;
  const int64_t blocks = ((rows ? g.M : g.N) + unit - 1) / unit;
  parallel_for(blocks, 1, [k, &g, rows, unit](int64_t b0, int64_t b1) {
    void* w = thread_work(k->work_bytes);
    const int lo = (int)(b0 * unit), hi = (int)std::min<int64_t>(rows ? g.M : g.N, b1 * unit);
    if (rows) k->block(g, lo, hi, 0, g.N, w);
    else k->block(g, 0, g.M, lo, hi, w);
  });
}

// ---- BLAS

#if MT_HAVE_BLAS
void blas_call(const GemmArgs& g) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0) {
    for (int i = 0; i < g.M; i++)
      for (int j = 0; j < g.N; j++)
        g.C[(int64_t)i * g.ldc + j] = g.beta == 0.0f ? 0.0f : g.beta * g.C[(int64_t)i * g.ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, g.tA ? CblasTrans : CblasNoTrans, g.tB ? CblasTrans : CblasNoTrans, g.M, g.N, g.K, g.alpha,
              g.A, (int)g.lda, g.B, (int)g.ldb, g.beta, g.C, (int)g.ldc);
}

void blas_threaded(const GemmArgs& g) {
  if (threads() == 1 || (int64_t)g.M * g.N * g.K < (1 << 16)) return blas_call(g);
  const bool rows = g.M >= g.N;
  const int64_t blocks = ((rows ? g.M : g.N) + 15) / 16;
  parallel_for(blocks, 1, [&g, rows](int64_t b0, int64_t b1) {
    GemmArgs s = g;
    const int lo = (int)(b0 * 16), hi = (int)std::min<int64_t>(rows ? g.M : g.N, b1 * 16);
    if (rows) {  // rows lo..hi of op(A): A + lo*lda (no trans) or A + lo (trans, A stored K×M)
      s.M = hi - lo;
      s.A = g.tA ? g.A + lo : g.A + (int64_t)lo * g.lda;
      s.C = g.C + (int64_t)lo * g.ldc;
    } else {  // columns lo..hi of op(B): B + lo (no trans) or B + lo*ldb (trans, B stored N×K)
      s.N = hi - lo;
      s.B = g.tB ? g.B + (int64_t)lo * g.ldb : g.B + lo;
      s.C = g.C + lo;
    }
    blas_call(s);
  });
}
#endif

std::mutex tune_mu;  // guards the config and the auto cache

// ---- auto: measure once per shape class

#if MT_HAVE_BLAS

int log2ceil(int x) {
  int l = 0;
  while ((1 << l) < x) l++;
  return l;
}

using ShapeKey = std::tuple<bool, bool, int, int, int, bool>;
std::map<ShapeKey, bool> tune_own;  // true: own kernel is faster for this class

double seconds() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

bool prefer_own(const GemmArgs& g, bool threaded) {
  const ShapeKey key{g.tA, g.tB, log2ceil(g.M), log2ceil(g.N), log2ceil(g.K), threaded};
  std::lock_guard<std::mutex> lk(tune_mu);
  auto it = tune_own.find(key);
  if (it != tune_own.end()) return it->second;
  // time both on the caller's operands into scratch (beta = 0), alternating, best of 3 each
  std::vector<float> scratch((size_t)g.M * g.N);
  GemmArgs s = g;
  s.beta = 0.0f;
  s.C = scratch.data();
  s.ldc = g.N;
  const GemmKernel* k = config().fp32;
  double own = 1e30, blas = 1e30;
  for (int r = 0; r < 3; r++) {
    double t0 = seconds();
    if (threaded) own_threaded(k, s);
    else own_serial(k, s);
    double t1 = seconds();
    if (threaded) blas_threaded(s);
    else blas_call(s);
    double t2 = seconds();
    own = std::min(own, t1 - t0);
    blas = std::min(blas, t2 - t1);
  }
  return tune_own[key] = own <= blas;
}
#endif

#if MT_HAVE_BLAS
// BLAS has no epilogue: bias and activation in a second pass
void blas_with_epilogue(const GemmArgs& g, bool threaded) {
  threaded ? blas_threaded(g) : blas_call(g);
  if (!g.bias && !g.act) return;
  float* out = g.act ? g.act_out : g.C;
  if (g.ldc == g.N) return bias_act_forward(g.C, g.bias, out, g.M, g.N, g.act);
  for (int i = 0; i < g.M; i++)
    bias_act_forward(g.C + (int64_t)i * g.ldc, g.bias, out + (int64_t)i * g.ldc, 1, g.N, g.act);
}
#endif

void run_one(const GemmArgs& g, bool bf16, bool threaded) {
  const Config& c = config();
  if (bf16) return threaded ? own_threaded(c.bf16, g) : own_serial(c.bf16, g);
#if MT_HAVE_BLAS
  if (c.mode == GEMM_BLAS || (c.mode == GEMM_AUTO && !prefer_own(g, threaded))) return blas_with_epilogue(g, threaded);
#endif
  threaded ? own_threaded(c.fp32, g) : own_serial(c.fp32, g);
}

const GemmKernel* kernel_named(const std::string& name) {
  if (name == "portable") return gemm_kernel_portable();
  if (name == "portable-bf16") return gemm_kernel_portable_bf16();
#if MT_X86
  if (name == "avx2") return cpu().avx2 && cpu().fma ? gemm_kernel_avx2() : nullptr;
  if (name == "avx512") return has_avx512() ? gemm_kernel_avx512() : nullptr;
  if (name == "avx512bf16") return has_avx512() && cpu().avx512bf16 ? gemm_kernel_avx512bf16() : nullptr;
#endif
  return nullptr;
}

}  // namespace

void blas_init() {
#if defined(MEDTUNE_OPENBLAS)
  openblas_set_num_threads(1);
#endif
}

bool blas_available() { return MT_HAVE_BLAS; }
const char* blas_name() { return MT_BLAS_NAME; }
GemmMode gemm_mode() { return config().mode; }
const char* gemm_isa() { return config().fp32->name; }
const char* gemm_bf16_isa() { return config().bf16 ? config().bf16->name : ""; }

std::string gemm_configure(const char* mode, const char* isa, const char* bf16isa) {
  Config next = config();
  if (mode && *mode) {
    const std::string m = mode;
    if (m == "own") next.mode = GEMM_OWN;
    else if (m == "blas" || m == "auto") {
      if (!MT_HAVE_BLAS)
        return "this build has no BLAS (OpenBLAS was not found when the addon was built; install libopenblas-dev and "
               "run "
               "`npm rebuild medtune`, or use MEDTUNE_GEMM=own)";
      next.mode = m == "blas" ? GEMM_BLAS : GEMM_AUTO;
    } else return "unknown GEMM \"" + m + "\" (use auto, own or blas)";
  }
  if (isa && *isa) {
    const GemmKernel* k = kernel_named(isa);
    if (!k || k->bf16)
      return std::string("fp32 GEMM kernel \"") + isa + "\" is not available on this CPU (" + cpu_flags() + ")";
    next.fp32 = k;
  }
  if (bf16isa && std::string(bf16isa) == "none") next.bf16 = nullptr;
  else if (bf16isa && *bf16isa) {
    const GemmKernel* k = kernel_named(bf16isa);
    if (!k || !k->bf16)
      return std::string("bf16 GEMM kernel \"") + bf16isa + "\" is not available on this CPU (" + cpu_flags() + ")";
    next.bf16 = k;
  }
  std::lock_guard<std::mutex> lk(tune_mu);
  config_slot().store(new Config(next), std::memory_order_release);
#if MT_HAVE_BLAS
  tune_own.clear();
#endif
  return "";
}

bool gemm_bf16_available() { return config().bf16 != nullptr; }

// C_i[M,N] = alpha * op(A_i)[M,K] * op(B_i)[K,N] + beta * C_i, i < batch
void gemm(bool tA, bool tB, int M, int N, int K, float alpha, const float* A, int lda, int64_t strideA, const float* B,
          int ldb, int64_t strideB, float beta, float* C, int ldc, int64_t strideC, int batch, bool bf16) {
  if (M <= 0 || N <= 0 || batch <= 0) return;
  auto args = [=](int64_t b) {
    return GemmArgs{tA, tB, M, N, K, alpha, beta, A + b * strideA, lda, B + b * strideB, ldb, C + b * strideC, ldc};
  };
  if (batch > 1 && (batch >= threads() || (int64_t)M * N * K < (1 << 18))) {
    parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++) run_one(args(b), bf16, false);
    });
    return;
  }
  for (int b = 0; b < batch; b++) run_one(args(b), bf16, true);
}

// x[rows, nIn] · w[nOut, nIn]ᵀ + bias -> h[rows, nOut]; out = act(h) (act none: out is h), in one GEMM with the
// bias and activation fused into its epilogue
void linear_forward(const float* x, const float* w, const float* bias, float* h, float* out, int rows, int nIn,
                    int nOut, int act, bool bf16) {
  GemmArgs g{false, true, rows, nOut, nIn, 1.0f, 0.0f, x, nIn, w, nIn, h, nOut};
  g.bias = bias;
  g.act = act;
  g.act_out = act ? out : nullptr;
  if (rows > 0 && nOut > 0) run_one(g, bf16, true);
}

void gemm_serial(const GemmArgs& g, bool bf16) {
  if (g.M <= 0 || g.N <= 0) return;
  run_one(g, bf16, false);
}

}  // namespace mt
