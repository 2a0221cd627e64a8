// GEMM dispatcher: picks the kernel family for this CPU (CPUID at load: AVX-512, AVX2+FMA, or portable; bf16 via
// AMX tiles or AVX512-BF16; int8 via AMX tiles, AVX512-VNNI or portable — AMX only where amx_unusable() is ""),
// chooses between our own packed GEMM and BLAS (OpenBLAS / Accelerate, when present at build time),
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
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
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
  const GemmKernel* bf16 = nullptr;  // null: this CPU has no bf16 kernel
  const Int8Kernel* int8 = nullptr;
  GemmMode mode = GEMM_AUTO;
  struct Blocks {
    int kc = 0, nc = 0;
  } fp32_blocks, bf16_blocks;  // cache blocking of the fp32 and bf16 kernels (blocking_for)
};

// ---- cache blocking from the CPU's cache sizes (CPUID), per kernel
//   kc: the A sliver (MR × kc) takes at most 3/4 of the L1 data cache; 128 ≤ kc ≤ 512 (512 on every x86 CPU
//       with a 32 KiB or larger L1d)
//   nc: Intel: the packed B panel (kc × nc) takes at most half of L2 (Sapphire Rapids, 2 MiB: nc 512 in fp32); the
//       panel then stays in L2 while A slivers and C pass through. AMD (and unknown): nc 1024, measured best on
//       Zen 4 and Zen 5 (bench gemm: the panel streams from L2 and the large victim L3 fast enough, and fewer
//       re-packs of A win; NC 256, half of their 1 MiB L2, was 3-5 % slower). 4·NR ≤ nc ≤ 1024.
// Without cache sizes (a hypervisor that hides them): L1 32 KiB, L2 1 MiB. MEDTUNE_GEMM_BLOCKING=KC,NC overrides
// both (for measuring on a new CPU).
using Blocking = Config::Blocks;

Blocking blocking_for(const GemmKernel* k) {
  Blocking b;
  const char* env = std::getenv("MEDTUNE_GEMM_BLOCKING");
  if (env && std::sscanf(env, "%d,%d", &b.kc, &b.nc) == 2) return b;
  const int elem = k->bf16 ? 2 : 4;
  const int64_t l1 = cpu().l1d > 0 ? cpu().l1d : 32 << 10, l2 = cpu().l2 > 0 ? cpu().l2 : 1 << 20;
  b.kc = (int)std::min<int64_t>(512, std::max<int64_t>(128, l1 * 3 / 4 / (k->mr * elem) / 16 * 16));
  const int64_t half_l2 = l2 / 2 / ((int64_t)b.kc * elem) / k->nr * k->nr;
  b.nc = cpu().vendor == "GenuineIntel" ? (int)std::min<int64_t>(1024, std::max<int64_t>(4 * k->nr, half_l2)) : 1024;
  return b;
}

// ---- self-check at first use: each ISA-specific kernel against the portable kernel of its kind, on small odd
// products; a kernel that disagrees is disabled for the process with a one-line warning (and the next kernel down
// is used). MEDTUNE_BREAK_KERNEL=<name> breaks a kernel on purpose (it adds 1 to one element of every block it
// computes), for the tests of this check.

std::mutex check_mu;
std::map<std::string, std::string> check_state;  // kernel name -> "" (passed) or why it was disabled

bool broken(const char* name) {
  const char* env = std::getenv("MEDTUNE_BREAK_KERNEL");
  return env && std::string(env) == name;
}
const GemmKernel* broken_gemm_of = nullptr;
void broken_gemm_block(const GemmArgs& g, int m0, int m1, int n0, int n1, void* work) {
  broken_gemm_of->block(g, m0, m1, n0, n1, work);
  if (m1 > m0 && n1 > n0) g.C[(int64_t)m0 * g.ldc + n0] += 1.0f;
}
const Int8Kernel* broken_int8_of = nullptr;
void broken_int8_block(const Int8Args& g, int m0, int m1, int n0, int n1) {
  broken_int8_of->block(g, m0, m1, n0, n1);
  if (m1 > m0 && n1 > n0) g.C[(int64_t)m0 * g.ldc + n0] += 1.0f;
}
// the kernel as it runs in this process (the broken wrapper when the test hook names it)
const GemmKernel* as_run(const GemmKernel* k) {
  static GemmKernel wrapped;
  if (!k || !broken(k->name)) return k;
  broken_gemm_of = k;
  wrapped = *k;
  wrapped.block = broken_gemm_block;
  return &wrapped;
}
const Int8Kernel* as_run(const Int8Kernel* k) {
  static Int8Kernel wrapped;
  if (!k || !broken(k->name)) return k;
  broken_int8_of = k;
  wrapped = *k;
  wrapped.block = broken_int8_block;
  return &wrapped;
}

uint32_t check_rng(uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s >> 8;
}
float check_value(uint32_t& s) { return (float)((int)(check_rng(s) % 2001) - 1000) / 256.0f; }

// max over C of |c - ref| / (2^-20 · K · Σ_k |a_k b_k| + 1e-30): ≤ 1 for any correct fp32 or bf16 kernel
double gemm_mismatch(const GemmKernel* k, const GemmKernel* ref) {
  double worst = 0;
  const int M = 29, N = 71, K = 133;
  uint32_t seed = 12345;
  std::vector<float> A(M * K), B(K * N), C(M * N), R(M * N);
  for (float& v : A) v = check_value(seed);
  for (float& v : B) v = check_value(seed);
  for (int t = 0; t < 4; t++) {
    const bool tA = t & 1, tB = t & 2;
    GemmArgs g{tA, tB, M, N, K, 1.0f, 0.0f, A.data(), tA ? M : K, B.data(), tB ? K : N, C.data(), N};
    std::vector<char> w1(k->work_bytes + 64), w2(ref->work_bytes + 64);
    auto align = [](std::vector<char>& w) { return (void*)(((uintptr_t)w.data() + 63) / 64 * 64); };
    k->block(g, 0, M, 0, N, align(w1));
    g.C = R.data();
    ref->block(g, 0, M, 0, N, align(w2));
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        double mag = 0;
        for (int p = 0; p < K; p++)
          mag += std::fabs((double)A[tA ? p * M + i : i * K + p] * B[tB ? j * K + p : p * N + j]);
        const double e = std::fabs((double)C[i * N + j] - R[i * N + j]) / (std::ldexp(mag * K, -20) + 1e-30);
        worst = std::max(worst, e != e ? 1e30 : e);
      }
  }
  return worst;
}

// int8 kernels give exact int32 sums and the same epilogue: any difference is a fault
double int8_mismatch(const Int8Kernel* k, const Int8Kernel* ref) {
  const int M = 29, N = 71, K = 133, lda = 136;
  uint32_t seed = 777;
  std::vector<uint8_t> A(M * lda);
  std::vector<int8_t> W(N * K);
  std::vector<float> sa(M), sb(N), bias(N), C(M * N), R(M * N);
  std::vector<int32_t> packed(int8_packed_size(N, K)), comp(N);
  for (uint8_t& v : A) v = (uint8_t)(1 + check_rng(seed) % 255);
  for (int8_t& v : W) v = (int8_t)((int)(check_rng(seed) % 255) - 127);
  for (float& v : sa) v = 1.0f / (1 + check_rng(seed) % 100);
  for (float& v : sb) v = 1.0f / (1 + check_rng(seed) % 100);
  for (float& v : bias) v = check_value(seed);
  int8_pack_weights(W.data(), N, K, packed.data(), comp.data());
  Int8Args g{M, N, K, A.data(), lda, sa.data(), packed.data(), comp.data(), sb.data(), bias.data(), C.data(), N, 0,
             nullptr};
  k->block(g, 0, M, 0, N);
  g.C = R.data();
  ref->block(g, 0, M, 0, N);
  double worst = 0;
  for (int i = 0; i < M * N; i++) worst = std::max(worst, C[i] == R[i] ? 0.0 : 1e30);
  return worst;
}

// true when the kernel may run: its self-check (once per process) passed; else the warning was printed once
template <class Kern>
bool self_checked(const Kern* k, const Kern* ref, double (*mismatch)(const Kern*, const Kern*), const char* kind) {
  if (!k || k == ref) return true;
  std::lock_guard<std::mutex> lk(check_mu);
  auto it = check_state.find(k->name);
  if (it != check_state.end()) return it->second.empty();
  const double e = mismatch(as_run(k), ref);
  std::string why;
  if (e > 1.0) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "its self-check against the portable %s kernel failed (error %.3g× the bound)",
                  kind, e > 1e29 ? INFINITY : e);
    why = buf;
    std::fprintf(stderr, "medtune: the %s %s kernel is disabled for this process: %s; using the next kernel down\n",
                 k->name, kind, why.c_str());
  }
  check_state[k->name] = why;
  return why.empty();
}
bool usable(const GemmKernel* k) {
  return self_checked(k, k && k->bf16 ? gemm_kernel_portable_bf16() : gemm_kernel_portable(), gemm_mismatch,
                      k && k->bf16 ? "bf16 GEMM" : "fp32 GEMM");
}
bool usable(const Int8Kernel* k) { return self_checked(k, int8_kernel_portable(), int8_mismatch, "int8 GEMM"); }

#if MT_X86
bool has_avx512() {
  const CpuFeatures& f = cpu();
  return f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl;
}
#endif

// The best kernel of each kind this CPU has and whose self-check passes.
Config defaults() {
  Config c;
  c.fp32 = gemm_kernel_portable();
  c.int8 = int8_kernel_portable();
#if MT_X86
  if (cpu().avx2 && cpu().fma && usable(gemm_kernel_avx2())) c.fp32 = gemm_kernel_avx2();
  if (has_avx512() && usable(gemm_kernel_avx512())) c.fp32 = gemm_kernel_avx512();
  if (has_avx512() && cpu().avx512bf16 && usable(gemm_kernel_avx512bf16())) c.bf16 = gemm_kernel_avx512bf16();
  if (has_avx512() && cpu().avx512vnni && usable(int8_kernel_avx512vnni())) c.int8 = int8_kernel_avx512vnni();
  if (amx_unusable().empty() && usable(gemm_kernel_amx_bf16())) c.bf16 = gemm_kernel_amx_bf16();
  if (amx_unusable().empty() && usable(int8_kernel_amx())) c.int8 = int8_kernel_amx();
#endif
  c.mode = MT_HAVE_BLAS && c.fp32 == gemm_kernel_portable() ? GEMM_BLAS : GEMM_OWN;
  c.fp32_blocks = blocking_for(c.fp32);
  if (c.bf16) c.bf16_blocks = blocking_for(c.bf16);
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

void own_run(const GemmKernel* k, const Blocking& b, GemmArgs g, bool threaded) {
  g.kc = b.kc;
  g.nc = b.nc;
  k = as_run(k);
  threaded ? own_threaded(k, g) : own_serial(k, g);
}

void run_one(const GemmArgs& g, bool bf16, bool threaded) {
  const Config& c = config();
  if (bf16) return own_run(c.bf16, c.bf16_blocks, g, threaded);
#if MT_HAVE_BLAS
  if (c.mode == GEMM_BLAS || (c.mode == GEMM_AUTO && !prefer_own(g, threaded))) return blas_with_epilogue(g, threaded);
#endif
  own_run(c.fp32, c.fp32_blocks, g, threaded);
}

// a kernel this CPU has and whose self-check passed, by name (null otherwise)
const GemmKernel* kernel_named(const std::string& name) {
  const GemmKernel* k = nullptr;
  if (name == "portable") k = gemm_kernel_portable();
  if (name == "portable-bf16") k = gemm_kernel_portable_bf16();
  if (name == "amx-emu-bf16") k = gemm_kernel_amx_emu_bf16();
#if MT_X86
  if (name == "amx-bf16" && amx_unusable().empty()) k = gemm_kernel_amx_bf16();
  if (name == "avx2" && cpu().avx2 && cpu().fma) k = gemm_kernel_avx2();
  if (name == "avx512" && has_avx512()) k = gemm_kernel_avx512();
  if (name == "avx512bf16" && has_avx512() && cpu().avx512bf16) k = gemm_kernel_avx512bf16();
#endif
  return k && usable(k) ? k : nullptr;
}

// why a kernel named in gemm_configure cannot run
std::string unavailable(const char* kind, const std::string& name) {
  std::lock_guard<std::mutex> lk(check_mu);
  auto it = check_state.find(name);
  if (it != check_state.end() && !it->second.empty())
    return std::string(kind) + " kernel \"" + name + "\" is disabled: " + it->second;
  if (name.rfind("amx-", 0) == 0 && name.rfind("amx-emu", 0) != 0 && !amx_unusable().empty())
    return std::string(kind) + " kernel \"" + name + "\" is not available: " + amx_unusable();
  return std::string(kind) + " kernel \"" + name + "\" is not available on this CPU (" + cpu_flags() + ")";
}

const Int8Kernel* int8_kernel_named(const std::string& name) {
  const Int8Kernel* k = nullptr;
  if (name == "portable-int8") k = int8_kernel_portable();
  if (name == "amx-emu-int8") k = int8_kernel_amx_emu();
#if MT_X86
  if (name == "amx-int8" && amx_unusable().empty()) k = int8_kernel_amx();
  if (name == "avx512vnni" && has_avx512() && cpu().avx512vnni) k = int8_kernel_avx512vnni();
#endif
  return k && usable(k) ? k : nullptr;
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
const char* gemm_int8_isa() { return config().int8->name; }

std::string gemm_disabled() {
  config();  // the self-checks of the default kernels have run
  std::lock_guard<std::mutex> lk(check_mu);
  std::string s;
  for (const auto& [name, why] : check_state)
    if (!why.empty()) s += (s.empty() ? "" : "; ") + name + ": " + why;
  return s;
}

std::string gemm_blocking() {
  const Config& c = config();
  auto one = [](const GemmKernel* k, const Blocking& b) {
    return std::string(k->name) + " KC " + std::to_string(b.kc) + " NC " + std::to_string(b.nc);
  };
  const CpuFeatures& f = cpu();
  std::string s = one(c.fp32, c.fp32_blocks) + (c.bf16 ? ", " + one(c.bf16, c.bf16_blocks) : "");
  s += " (L1d " + (f.l1d ? std::to_string(f.l1d >> 10) + " KiB" : "unknown") + ", L2 " +
       (f.l2 ? std::to_string(f.l2 >> 10) + " KiB" : "unknown") + ")";
  return s;
}

std::string gemm_configure(const char* mode, const char* isa, const char* bf16isa, const char* int8isa) {
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
      return unavailable("fp32 GEMM", isa);
    next.fp32 = k;
    next.fp32_blocks = blocking_for(k);
  }
  if (bf16isa && std::string(bf16isa) == "none") next.bf16 = nullptr;
  else if (bf16isa && *bf16isa) {
    const GemmKernel* k = kernel_named(bf16isa);
    if (!k || !k->bf16)
      return unavailable("bf16 GEMM", bf16isa);
    next.bf16 = k;
    next.bf16_blocks = blocking_for(k);
  }
  if (int8isa && *int8isa) {
    const Int8Kernel* k = int8_kernel_named(int8isa);
    if (!k)
      return unavailable("int8 GEMM", int8isa);
    next.int8 = k;
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

// ---- int8 linear layers (inference)

// out = act(h), h[rows, nOut] = dequantized x[rows, nIn] · W_q[nOut, nIn]ᵀ + bias: x quantized per row into a
// buffer of this thread, then the int8 kernel on the pool, cut into whole tiles like the fp32 GEMM
void linear_int8_forward(const float* x, const int32_t* packed, const int32_t* comp, const float* wscale,
                         const float* bias, float* h, float* out, int rows, int nIn, int nOut, int act) {
  if (rows <= 0 || nOut <= 0) return;
  struct Buf {
    std::vector<uint8_t> q;
    std::vector<float> s;
  };
  static thread_local Buf buf;
  const int64_t lda = ((int64_t)nIn + 63) / 64 * 64;
  if ((int64_t)buf.q.size() < rows * lda) buf.q.resize(rows * lda);
  if ((int64_t)buf.s.size() < rows) buf.s.resize(rows);
  int8_quantize_rows(x, rows, nIn, buf.q.data(), lda, buf.s.data());
  const Int8Kernel* k = as_run(config().int8);
  Int8Args g{rows, nOut, nIn, buf.q.data(), lda, buf.s.data(), packed, comp, wscale, bias, h, nOut, act,
             act ? out : nullptr};
  const int T = threads();
  if (T == 1 || (int64_t)rows * nOut * nIn < (1 << 16)) return k->block(g, 0, rows, 0, nOut);
  const bool byRows = worst_share(rows, k->mr, T) * nOut <= worst_share(nOut, INT8_NR, T) * rows;
  const int unit = byRows ? k->mr : INT8_NR;
  parallel_for(((byRows ? rows : nOut) + unit - 1) / unit, 1, [k, &g, byRows, unit](int64_t b0, int64_t b1) {
    const int lo = (int)(b0 * unit), hi = (int)std::min<int64_t>(byRows ? g.M : g.N, b1 * unit);
    if (byRows) k->block(g, lo, hi, 0, g.N);
    else k->block(g, 0, g.M, lo, hi);
  });
}

// ---- bf16 against fp32 on this CPU

namespace {
double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
}  // namespace

// Speed of the bf16 kernel relative to the fp32 kernel (> 1: bf16 faster), on one thread in thread CPU time (what
// the two kernels used, whatever else runs on the machine): a BERT-base projection, x·Wᵀ with 256 × 768 × 768,
// alternated 5 times, the best time of each. 0 when there is no bf16 kernel. About 40 ms.
double gemm_bf16_speedup() {
  const Config& c = config();
  if (!c.bf16) return 0;
  const int M = 256, N = 768, K = 768;
  std::vector<float> A((size_t)M * K), B((size_t)N * K), C((size_t)M * N);
  uint32_t seed = 99;
  for (float& v : A) v = check_value(seed);
  for (float& v : B) v = check_value(seed);
  GemmArgs g{false, true, M, N, K, 1.0f, 0.0f, A.data(), K, B.data(), K, C.data(), N};
  double best[2] = {1e30, 1e30};
  for (int r = 0; r < 5; r++)
    for (int b = 0; b < 2; b++) {
      const double t0 = thread_seconds();
      own_run(b ? c.bf16 : c.fp32, b ? c.bf16_blocks : c.fp32_blocks, g, false);
      best[b] = std::min(best[b], thread_seconds() - t0);
    }
  return best[0] / best[1];
}

}  // namespace mt
