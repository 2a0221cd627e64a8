// N-API bindings. Every kernel's binding is generated from the kernel table (native/kernels.mjs) by
// scripts/gen-kernels.mjs into <gen>/medtune/bindings.h at build time: it unpacks typed arrays (zero-copy) and numbers
// with Unpack below, checks that each array holds what the sizes say, and calls one kernel. Shapes are checked in
// TypeScript (src/tensor/ops); here we only guard buffer bounds so that a bug can never write outside a buffer.
#include <napi.h>
#include <string>
#include <type_traits>
#include "common.h"
#include "cpu.h"

using namespace Napi;

namespace {

// The arguments of one kernel call, read with one N-API call each. After the first error (thrown as a JS
// exception) ok is false and every read returns a neutral value, so the binding reads on and skips the call.
struct Unpack {
  const CallbackInfo& info;
  napi_env env;
  const char* kernel;
  bool ok = true;
  Unpack(const CallbackInfo& i, const char* k) : info(i), env(i.Env()), kernel(k) {}

  void fail(const std::string& msg) {
    if (!ok) return;
    ok = false;
    Error::New(info.Env(), std::string("medtune native: ") + kernel + ": " + msg).ThrowAsJavaScriptException();
  }
  void check(bool bad, const char* msg) {
    if (bad) fail(msg);
  }
  void check(const std::string& error) {
    if (!error.empty()) fail(error);
  }

  static napi_status read(napi_env e, napi_value v, int64_t* out) { return napi_get_value_int64(e, v, out); }
  static napi_status read(napi_env e, napi_value v, double* out) { return napi_get_value_double(e, v, out); }
  static napi_status read(napi_env e, napi_value v, bool* out) { return napi_get_value_bool(e, v, out); }
  template <typename T>
  void wrong_type(const char* name) {
    fail(std::string(name) + (std::is_same<T, bool>::value ? " must be a boolean" : " must be a number"));
  }
  // a number (int64_t, double) or a boolean
  template <typename T>
  T get(size_t i, const char* name) {
    T v{};
    if (ok && read(env, info[i], &v) != napi_ok) wrong_type<T>(name);
    return v;
  }
  // an optional one: *v keeps its default when the argument is undefined
  template <typename T>
  void get_or(size_t i, const char* name, T* v) {
    if (ok && read(env, info[i], v) != napi_ok && !info[i].IsUndefined()) wrong_type<T>(name);
  }
  // an op code below count
  int code(size_t i, int count, const char* name) {
    const int64_t c = get<int64_t>(i, name);
    if (c < 0 || c >= count) fail(std::string(name) + ": unknown op code " + std::to_string(c));
    return ok ? (int)c : 0;
  }
  // an array of at most max numbers into out; returns its length
  int dims(size_t i, int64_t* out, int max, const char* name) {
    if (ok && !info[i].IsArray()) fail(std::string(name) + " must be an array");
    if (!ok) return 0;
    auto arr = info[i].As<Array>();
    const int n = (int)arr.Length();
    if (n > max) fail(std::string(name) + ": too many dimensions");
    for (int k = 0; ok && k < n; k++) out[k] = arr.Get(k).As<Number>().Int64Value();
    return ok ? n : 0;
  }
  // elements of a typed array (0 for anything else; f32 / i32 say what is wrong)
  int64_t len(size_t i) const {
    size_t n = 0;
    napi_typedarray_type type;
    return napi_get_typedarray_info(env, info[i], &type, &n, nullptr, nullptr, nullptr) == napi_ok ? (int64_t)n : 0;
  }
  template <typename T, napi_typedarray_type TYPE>
  T* array(size_t i, int64_t need, const char* name, bool nullable, const char* type_name) {
    if (!ok) return nullptr;
    napi_typedarray_type type;
    size_t n = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env, info[i], &type, &n, &data, nullptr, nullptr) != napi_ok || type != TYPE) {
      if (!(nullable && (info[i].IsNull() || info[i].IsUndefined()))) fail(std::string(name) + " must be " + type_name);
      return nullptr;
    }
    if ((int64_t)n < need) {
      fail(std::string(name) + " is too small (" + std::to_string(n) + " < " + std::to_string(need) + ")");
      return nullptr;
    }
    return static_cast<T*>(data);
  }
  float* f32(size_t i, int64_t need, const char* name, bool nullable = false) {
    return array<float, napi_float32_array>(i, need, name, nullable, "a Float32Array");
  }
  int32_t* i32(size_t i, int64_t need, const char* name) {
    return array<int32_t, napi_int32_array>(i, need, name, false, "an Int32Array");
  }
  int8_t* i8(size_t i, int64_t need, const char* name) {
    return array<int8_t, napi_int8_array>(i, need, name, false, "an Int8Array");
  }
};

// ---- size helpers for the table's array sizes and checks

// rows × cols block with row stride ld: the elements a buffer must hold
int64_t strided(int64_t rows, int64_t cols, int64_t ld) { return rows > 0 && cols > 0 ? (rows - 1) * ld + cols : 0; }
// batch such blocks, stride elements apart
int64_t gemm_extent(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
  return rows > 0 && cols > 0 ? (batch - 1) * stride + strided(rows, cols, ld) : 0;
}
// elements of a tensor of this shape
int64_t elements(const int64_t* shape, int rank) {
  int64_t n = 1;
  for (int d = 0; d < rank; d++) n *= shape[d];
  return n;
}
// elements a strided (broadcast) view of this shape reaches
int64_t broadcast_extent(const int64_t* shape, const int64_t* strides, int rank) {
  if (elements(shape, rank) == 0) return 0;
  int64_t last = 0;
  for (int d = 0; d < rank; d++) last += (shape[d] - 1) * strides[d];
  return last + 1;
}
bool is_permutation(const int64_t* perm, int rank) {
  bool seen[16] = {};
  for (int d = 0; d < rank; d++) {
    if (perm[d] < 0 || perm[d] >= rank || seen[perm[d]]) return false;
    seen[perm[d]] = true;
  }
  return true;
}
std::string token_error(const int32_t* ids, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= rows)
      return "token id " + std::to_string(ids[i]) + " is outside the embedding table (" + std::to_string(rows) +
             " rows)";
  return "";
}
std::string target_error(const int32_t* targets, int64_t n, int64_t classes, int64_t ignore) {
  for (int64_t i = 0; i < n; i++)
    if (targets[i] != ignore && (targets[i] < 0 || targets[i] >= classes))
      return "target " + std::to_string(targets[i]) + " is not a class index below " + std::to_string(classes);
  return "";
}

#include "medtune/bindings.h"

// {cpu, cpuModel, isa, bf16Isa, int8Isa, blas, mode, disabled, blocking, amx}: what runs GEMMs here (amx: "" when
// AMX is usable in this process, else why not)
Value GemmInfo(const CallbackInfo& info) {
  Env env = info.Env();
  Object o = Object::New(env);
  static const char* modes[] = {"auto", "own", "blas"};
  o.Set("cpu", mt::cpu_flags());
  o.Set("cpuModel", mt::cpu_key());
  o.Set("isa", mt::gemm_isa());
  o.Set("bf16Isa", mt::gemm_bf16_isa());
  o.Set("int8Isa", mt::gemm_int8_isa());
  o.Set("disabled", mt::gemm_disabled());
  o.Set("blocking", mt::gemm_blocking());
  o.Set("blas", mt::blas_name());
  o.Set("mode", modes[mt::gemm_mode()]);
  o.Set("amx", mt::amx_unusable());
  return o;
}
// gemmConfigure(mode, isa, bf16Isa, int8Isa): "" or the reason it was refused (nothing changes then)
Value GemmConfigure(const CallbackInfo& info) {
  auto str = [&](size_t i) { return info[i].IsString() ? info[i].As<String>().Utf8Value() : std::string(); };
  const std::string mode = str(0), isa = str(1), bf16 = str(2), int8 = str(3);
  return String::New(info.Env(), mt::gemm_configure(mode.c_str(), isa.c_str(), bf16.c_str(), int8.c_str()));
}
// gemmBf16Speedup(): bf16 kernel speed / fp32 kernel speed on this CPU (0: no bf16 kernel)
Value GemmBf16Speedup(const CallbackInfo& info) { return Number::New(info.Env(), mt::gemm_bf16_speedup()); }

Object Init(Env env, Object exports) {
  mt::blas_init();
  export_kernels(env, exports);
  exports.Set("gemmInfo", Function::New(env, GemmInfo, "gemmInfo"));
  exports.Set("gemmConfigure", Function::New(env, GemmConfigure, "gemmConfigure"));
  exports.Set("gemmBf16Speedup", Function::New(env, GemmBf16Speedup, "gemmBf16Speedup"));
  return exports;
}

}  // namespace

NODE_API_MODULE(medtune_native, Init)
