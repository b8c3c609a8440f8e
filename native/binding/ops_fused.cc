// N-API entry points of the fused ops (same style as ops.cc: read and check the arguments, call the
// op's dispatcher in native/ops/, wrap the results), plus the native helpers that
// bench/kernels/ needs to measure this machine honestly:
//   benchCopy(bytes, reps)  memory bandwidth (memcpy, triad, triad with streaming stores, read)
//   benchFlush(bytes)       enqueue a read of a buffer of that size (evicts caches between reps)
//   benchBegin() / benchEnd()  time the ops enqueued between them on the stream thread itself:
//       begin enqueues a gate that holds the stream until end, so JS enqueues everything first and
//       the stream runs it back to back; end returns the milliseconds between the two stamps.
//       (Do not read tensors between them: the stream is held; the gate gives up after 30 s.)
#include <napi.h>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>
#include "errors.h"
#include "tensor_wrap.h"
#include "../ops/bn_add_relu.h"
#include "../cpu/bn_add_relu.h"
#include "../core/parallel.h"
#include "../core/simd.h"
#include "../core/stream.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RN_FUSED_X86 1
#endif

namespace rn {
namespace binding {
namespace {
using V = Napi::Value;
using CI = Napi::CallbackInfo;

void argc(const CI& info, size_t n, const char* op) {
  if (info.Length() < n)
    throw RnError("ERR_RN_ARG", cat(op, ": expected ", n, " arguments but received ", info.Length()), ErrKind::Type);
}
V tuple(Napi::Env env, std::initializer_list<Tensor> ts) {
  Napi::Array a = Napi::Array::New(env, ts.size());
  uint32_t i = 0;
  for (auto& t : ts) a.Set(i++, t.storage ? V(wrap(env, t)) : env.Null());
  return a;
}
bool has_arg(const CI& info, size_t i) { return info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull(); }

// ---- fused batch norm (+ add) + relu ----
// bnAddReluForward(x, residual|null, weight|null, bias|null, runningMean|null, runningVar|null,
//                  training, momentum, eps[, saveMask]) -> [y, saveMean, saveInvstd, reluMask|null]
// saveMask: also return the ReLU bit mask for backward (null where the kernels make none).
V bnAddReluForward(const CI& info) {
  const char* op = has_arg(info, 1) ? "batchNormAddRelu" : "batchNormRelu";
  argc(info, 9, op);
  const bool save_mask = has_arg(info, 9) && bool_arg(info, 9, op, "saveMask");
  auto r = ops::bn_add_relu_forward(tensor_arg(info, 0, op, "input"), opt_tensor_arg(info, 1, op, "residual"),
                                    opt_tensor_arg(info, 2, op, "weight"), opt_tensor_arg(info, 3, op, "bias"),
                                    opt_tensor_arg(info, 4, op, "runningMean"), opt_tensor_arg(info, 5, op, "runningVar"),
                                    bool_arg(info, 6, op, "training"), (float)num_arg(info, 7, op, "momentum"),
                                    (float)num_arg(info, 8, op, "eps"), save_mask);
  return tuple(info.Env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r), std::get<3>(r)});
}
// bnAddReluBackward(dy, y|reluMask, x, weight|null, saveMean, saveInvstd, training, hasResidual)
//   -> [dx, dresidual|null, dweight, dbias]
V bnAddReluBackward(const CI& info) {
  const char* op = "batchNormAddRelu backward";
  argc(info, 8, op);
  auto r = ops::bn_add_relu_backward(tensor_arg(info, 0, op, "grad"), tensor_arg(info, 1, op, "output"),
                                     tensor_arg(info, 2, op, "input"), opt_tensor_arg(info, 3, op, "weight"),
                                     tensor_arg(info, 4, op, "mean"), tensor_arg(info, 5, op, "invstd"),
                                     bool_arg(info, 6, op, "training"), bool_arg(info, 7, op, "hasResidual"));
  return tuple(info.Env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r), std::get<3>(r)});
}
// bnAddReluVersion([v]): sets the kernel version (0 = best) after queued work has run; returns the
// version that runs now.
V bnAddReluVersion(const CI& info) {
  if (has_arg(info, 0)) {
    const int64_t v = int_arg(info, 0, "bnAddReluVersion", "version");
    if (v < 0 || v > 2)  // before the narrowing to int (2^32 + 1 must not select version 1)
      throw RnError("ERR_RN_RANGE", cat("bn_add_relu: unknown kernel version ", v, " (0 = best, 1, 2)"), ErrKind::Range);
    stream_for(Device::CPU).sync();
    cpu::set_bn_add_relu_version((int)v);
  }
  return Napi::Number::New(info.Env(), cpu::bn_add_relu_version());
}
// convMode([m]): conv algorithm selection (0 auto, 1 Winograd wherever it applies, 2 direct, 3
// reference) after queued work has run; returns the mode now. For tests and benchmarks.
V convMode(const CI& info) {
  if (has_arg(info, 0)) {
    const int64_t m = int_arg(info, 0, "convMode", "mode");
    if (m < 0 || m > 3) throw RnError("ERR_RN_RANGE", cat("convMode: unknown mode ", m, " (0 auto, 1 winograd, 2 direct, 3 reference)"), ErrKind::Range);
    stream_for(Device::CPU).sync();
    cpu::set_conv_mode((cpu::ConvMode)m);
  }
  return Napi::Number::New(info.Env(), (int)cpu::conv_mode());
}
// bnAddReluNtBytes([bytes]): threshold for non-temporal stores (< 0 restores the default).
V bnAddReluNtBytes(const CI& info) {
  if (has_arg(info, 0)) {
    const int64_t b = int_arg(info, 0, "bnAddReluNtBytes", "bytes");
    stream_for(Device::CPU).sync();
    cpu::set_bn_add_relu_nt_bytes(b);
  }
  return Napi::Number::New(info.Env(), (double)cpu::bn_add_relu_nt_bytes());
}
// conv2dNtBytes([bytes]): threshold for non-temporal conv output stores (< 0 restores the default).
V conv2dNtBytes(const CI& info) {
  if (has_arg(info, 0)) {
    const int64_t b = int_arg(info, 0, "conv2dNtBytes", "bytes");
    stream_for(Device::CPU).sync();
    cpu::set_conv2d_nt_bytes(b);
  }
  return Napi::Number::New(info.Env(), (double)cpu::conv2d_nt_bytes());
}

// ---- machine measurements for bench/kernels ----
// These loops are the yardsticks the kernels are compared with, so they get the same treatment
// (RN_VEC clones, AVX-512 streaming stores where the CPU has them, the same thread pool).
RN_VEC void triad_k(float* a, const float* b, const float* c, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}
// Read-only sweep: 4 independent 16-lane GCC vectors (a lane loop of plain floats gets vectorised
// across iterations by GCC 12 and runs compute-bound).
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));
RN_VEC float read_k(const float* b, int64_t n) {
  v16f a0 = {}, a1 = {}, a2 = {}, a3 = {};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    v16f t0, t1, t2, t3;
    std::memcpy(&t0, b + i, 64);
    std::memcpy(&t1, b + i + 16, 64);
    std::memcpy(&t2, b + i + 32, 64);
    std::memcpy(&t3, b + i + 48, 64);
    a0 += t0;
    a1 += t1;
    a2 += t2;
    a3 += t3;
  }
  v16f a = (a0 + a1) + (a2 + a3);
  float s = 0;
  for (int j = 0; j < 16; j++) s += a[j];
  for (; i < n; i++) s += b[i];
  return s;
}
#ifdef RN_FUSED_X86
__attribute__((target("avx512f"))) void triad_nt_k(float* a, const float* b, const float* c, float s, int64_t n) {
  const __m512 sv = _mm512_set1_ps(s);
  int64_t i = 0;
  for (; i < n && ((uintptr_t)(a + i) & 63); i++) a[i] = b[i] + s * c[i];
  for (; i + 16 <= n; i += 16)
    _mm512_stream_ps(a + i, _mm512_fmadd_ps(sv, _mm512_loadu_ps(c + i), _mm512_loadu_ps(b + i)));
  for (; i < n; i++) a[i] = b[i] + s * c[i];
}
bool have_avx512f() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#endif

struct Buf {
  float* p = nullptr;
  int64_t n = 0;
  explicit Buf(int64_t elems) : n(elems) {
    p = static_cast<float*>(std::aligned_alloc(64, (size_t)((elems * 4 + 63) / 64 * 64)));
    if (!p) throw RnError("ERR_RN_OOM", cat("benchCopy: could not allocate ", elems * 4, " bytes"));
  }
  ~Buf() { std::free(p); }
};
// Splits [0, n) into contiguous per-task ranges (64-byte aligned starts) on the thread pool.
template <class F>
void par_range(int64_t n, F&& f) {
  const int64_t tasks = std::max<int64_t>(1, (int64_t)num_threads() * 8);
  parallel_for(tasks, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const int64_t s = (n * t / tasks) & ~int64_t(15), en = t == tasks - 1 ? n : (n * (t + 1) / tasks) & ~int64_t(15);
      if (en > s) f(s, en);
    }
  });
}
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// benchCopy(bytes, reps) -> { copy, triad, triadNt, read } in GB/s (best of reps), counting the
// bytes each loop must move: copy reads and writes `bytes`; triad reads 2 and writes 1 array of
// `bytes`; read reads `bytes`. triadNt is 0 where the CPU has no AVX-512.
V benchCopy(const CI& info) {
  argc(info, 1, "benchCopy");
  const int64_t bytes = int_arg(info, 0, "benchCopy", "bytes");
  const int64_t reps = has_arg(info, 1) ? int_arg(info, 1, "benchCopy", "reps") : 5;
  if (bytes < 4096 || bytes > (int64_t(8) << 30))
    throw RnError("ERR_RN_RANGE", cat("Expected a byte count in [4096, 8 GiB] for benchCopy(bytes) but received ", bytes), ErrKind::Range);
  if (reps < 1 || reps > 1000) throw RnError("ERR_RN_RANGE", cat("Expected reps in [1, 1000] for benchCopy(reps) but received ", reps), ErrKind::Range);
  const int64_t n = bytes / 4;
  double copy = 0, triad = 0, triad_nt = 0, rd = 0;
  volatile float sink = 0;
  auto run = [&] {
    Buf a(n), b(n), c(n);
    par_range(n, [&](int64_t s, int64_t e) {  // first touch (page faults) outside the timing
      for (int64_t i = s; i < e; i++) { a.p[i] = 0.f; b.p[i] = 1.f; c.p[i] = 2.f; }
    });
    for (int64_t r = 0; r < reps; r++) {
      double t0 = now_s();
      par_range(n, [&](int64_t s, int64_t e) { std::memcpy(a.p + s, b.p + s, (size_t)(e - s) * 4); });
      copy = std::max(copy, 2.0 * bytes / (now_s() - t0) / 1e9);
      t0 = now_s();
      par_range(n, [&](int64_t s, int64_t e) { triad_k(a.p + s, b.p + s, c.p + s, 0.5f, e - s); });
      triad = std::max(triad, 3.0 * bytes / (now_s() - t0) / 1e9);
#ifdef RN_FUSED_X86
      if (have_avx512f()) {
        t0 = now_s();
        par_range(n, [&](int64_t s, int64_t e) { triad_nt_k(a.p + s, b.p + s, c.p + s, 0.5f, e - s); });
        std::atomic_thread_fence(std::memory_order_seq_cst);
        triad_nt = std::max(triad_nt, 3.0 * bytes / (now_s() - t0) / 1e9);
      }
#endif
      t0 = now_s();
      par_range(n, [&](int64_t s, int64_t e) { sink = sink + read_k(b.p + s, e - s); });
      rd = std::max(rd, 1.0 * bytes / (now_s() - t0) / 1e9);
    }
  };
  // on the stream thread, like every kernel (it takes part in parallel_for)
  auto& st = stream_for(Device::CPU);
  st.wait(st.enqueue(run));
  st.check_error();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("copy", copy);
  o.Set("triad", triad);
  o.Set("triadNt", triad_nt);
  o.Set("read", rd);
  o.Set("bytes", (double)bytes);
  o.Set("threads", num_threads());
  return o;
}

// benchFlush(bytes): enqueue a read of a private buffer of that size.
V benchFlush(const CI& info) {
  argc(info, 1, "benchFlush");
  const int64_t bytes = int_arg(info, 0, "benchFlush", "bytes");
  if (bytes < 0 || bytes > (int64_t(4) << 30))
    throw RnError("ERR_RN_RANGE", cat("Expected a byte count in [0, 4 GiB] for benchFlush(bytes) but received ", bytes), ErrKind::Range);
  static std::shared_ptr<Buf> buf;
  const int64_t n = bytes / 4;
  if (!buf || buf->n < n) {
    stream_for(Device::CPU).sync();
    buf = std::make_shared<Buf>(std::max<int64_t>(n, 16));
    std::memset(buf->p, 0, (size_t)buf->n * 4);
  }
  std::shared_ptr<Buf> b = buf;
  stream_for(Device::CPU).enqueue([b, n] {
    static volatile float sink = 0;
    par_range(n, [&](int64_t s, int64_t e) { sink = sink + read_k(b->p + s, e - s); });
  });
  return info.Env().Undefined();
}

struct Gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = true;
  double t0 = 0, t1 = 0;
};
Gate& gate() {
  static Gate* g = new Gate();
  return *g;
}
V benchBegin(const CI& info) {
  Gate& g = gate();
  {
    std::lock_guard<std::mutex> l(g.m);
    g.open = false;
  }
  stream_for(Device::CPU).enqueue([&g] {
    std::unique_lock<std::mutex> l(g.m);
    g.cv.wait_for(l, std::chrono::seconds(30), [&] { return g.open; });
    g.t0 = now_s();
  });
  return info.Env().Undefined();
}
V benchEnd(const CI& info) {
  Gate& g = gate();
  auto& st = stream_for(Device::CPU);
  st.enqueue([&g] { g.t1 = now_s(); });
  {
    std::lock_guard<std::mutex> l(g.m);
    g.open = true;
  }
  g.cv.notify_all();
  st.sync();
  st.check_error();
  return Napi::Number::New(info.Env(), (g.t1 - g.t0) * 1e3);
}
}  // namespace

void register_fused(Napi::Env env, Napi::Object exports) {
#define RN_FUSED_EXPORT(name) exports.Set(#name, RN_FN(env, name))
  RN_FUSED_EXPORT(bnAddReluForward);
  RN_FUSED_EXPORT(bnAddReluBackward);
  RN_FUSED_EXPORT(bnAddReluVersion); RN_FUSED_EXPORT(convMode);
  RN_FUSED_EXPORT(bnAddReluNtBytes);
  RN_FUSED_EXPORT(conv2dNtBytes);
  RN_FUSED_EXPORT(benchCopy);
  RN_FUSED_EXPORT(benchFlush);
  RN_FUSED_EXPORT(benchBegin);
  RN_FUSED_EXPORT(benchEnd);
#undef RN_FUSED_EXPORT
}

}  // namespace binding
}  // namespace rn
