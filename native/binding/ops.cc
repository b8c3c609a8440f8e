// One N-API function per op: read and check the arguments, call the op's dispatcher in
// native/ops/, wrap the results. No kernel logic here.
#include <napi.h>
#include <cstdint>
#include <cstdlib>
#include <unistd.h>
#include "errors.h"
#include "../core/profile.h"
#include "tensor_wrap.h"
#include "../ops/ops.h"
#include "../core/parallel.h"
#include "../core/stream.h"

namespace rn {
namespace binding {
namespace {
using V = Napi::Value;
using CI = Napi::CallbackInfo;

DType dtype_arg(const CI& info, size_t i, const char* op) {
  int64_t d = int_arg(info, i, op, "dtype");
  if (d < 0 || d > 5) throw RnError("ERR_RN_DTYPE", cat(op, ": unknown dtype code ", d), ErrKind::Type);
  return (DType)d;
}
Device device_arg(const CI& info, size_t i, const char* op) {
  int64_t d = int_arg(info, i, op, "device");
  if (d < 0 || d > 1) throw RnError("ERR_RN_DEVICE", cat(op, ": unknown device code ", d));
  // cuda (1): the first device allocation checks availability and throws ERR_RN_NO_CUDA saying why
  // (no driver, no device, or a build without CUDA), so nothing here needs the CUDA backend.
  return (Device)d;
}
template <class E>
E enum_arg(const CI& info, size_t i, const char* op, int max) {
  int64_t v = int_arg(info, i, op, "op");
  if (v < 0 || v > max) throw RnError("ERR_RN_RANGE", cat(op, ": unknown op code ", v), ErrKind::Range);
  return (E)v;
}
uint64_t u64_arg(const CI& info, size_t i, const char* op, const char* name) {
  int64_t v = int_arg(info, i, op, name);
  if (v < 0) throw RnError("ERR_RN_RANGE", cat("Expected a non-negative integer for ", op, "(", name, ") but received ", v), ErrKind::Range);
  return (uint64_t)v;
}
// Integers that are narrowed for the kernels: range-checked first, never truncated (2^32 + 1 is not 1).
int32_t i32_arg(const CI& info, size_t i, const char* op, const char* name) {
  int64_t v = int_arg(info, i, op, name);
  if (v < INT32_MIN || v > INT32_MAX)
    throw RnError("ERR_RN_RANGE", cat("Expected a 32-bit integer for ", op, "(", name, ") but received ", v), ErrKind::Range);
  return (int32_t)v;
}
int reduction_arg(const CI& info, size_t i, const char* op) {
  int64_t v = int_arg(info, i, op, "reduction");
  if (v < 0 || v > 2) throw RnError("ERR_RN_RANGE", cat(op, ": unknown reduction ", v, " (0 none, 1 mean, 2 sum)"), ErrKind::Range);
  return (int)v;
}
void argc(const CI& info, size_t n, const char* op) {
  if (info.Length() < n) throw RnError("ERR_RN_ARG", cat(op, ": expected ", n, " arguments but received ", info.Length()), ErrKind::Type);
}
V tuple(Napi::Env env, std::initializer_list<Tensor> ts) {
  Napi::Array a = Napi::Array::New(env, ts.size());
  uint32_t i = 0;
  for (auto& t : ts) a.Set(i++, t.storage ? V(wrap(env, t)) : env.Null());
  return a;
}

// ---- memory ----
V fromBuffer(const CI& info) {
  argc(info, 3, "tensor");
  if (!info[0].IsTypedArray()) bad_arg(info[0], "a TypedArray", "tensor", "data");
  auto ta = info[0].As<Napi::TypedArray>();
  auto shape = ints_arg(info, 1, "tensor", "shape", true);
  DType dt = dtype_arg(info, 2, "tensor");
  size_t es = dtype_size(dt);
  if (ta.ElementSize() != es) bad_arg(info[0], cat("a TypedArray of ", es, "-byte elements for dtype ", dtype_name(dt)), "tensor", "data");
  // The data pointer straight from the typed array: ta.ArrayBuffer().Data() fails (napi_invalid_arg,
  // a code-less "Invalid argument") when the array is a view of a SharedArrayBuffer.
  napi_typedarray_type tt;
  size_t len = 0, off = 0;
  void* data = nullptr;
  napi_value buf;
  if (napi_get_typedarray_info(info.Env(), ta, &tt, &len, &data, &buf, &off) != napi_ok || (!data && len))
    bad_arg(info[0], "a TypedArray with readable memory", "tensor", "data");
  return wrap(info.Env(), ops::from_host(static_cast<const char*>(data), ta.ByteLength(), shape, dt));
}
V empty(const CI& info) {
  argc(info, 3, "empty");
  auto shape = ints_arg(info, 0, "empty", "shape", true);
  return wrap(info.Env(), ops::empty(shape, dtype_arg(info, 1, "empty"), device_arg(info, 2, "empty")));
}
V dispose(const CI& info) {
  Handle* h = handle_of(info[0]);
  if (!h) bad_arg(info[0], "a tensor handle", "dispose", "tensor");
  release(info.Env(), h);
  return info.Env().Undefined();
}
V isLive(const CI& info) {
  Handle* h = handle_of(info[0]);
  return Napi::Boolean::New(info.Env(), h && h->t.storage);
}

Napi::TypedArray alloc_typed(Napi::Env env, DType dt, size_t n) {
  // V8 aborts the process when it cannot allocate an ArrayBuffer; find out first (a huge
  // broadcast view, say [2^40] with stride 0, reads back as 2^40 elements).
  const size_t bytes = n * dtype_size(dt);
  // V8 aborts (a fatal error, not an exception) for a typed array longer than its kMaxLength: 2^32
  // elements on 64-bit Node 20. And where memory is overcommitted (containers) the malloc probe
  // below succeeds for any size, so also refuse more bytes than the machine has.
  static const size_t phys = [] {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : SIZE_MAX;
  }();
  if (n > (size_t(1) << 32) || bytes > phys)
    throw RnError("ERR_RN_OOM", cat("out of memory: reading back ", n, " elements (", bytes, " bytes) into a JS TypedArray (at most 2^32 elements and ",
                                    phys, " bytes of memory)"), ErrKind::Range);
  if (bytes > (size_t(64) << 20)) {
    void* probe = bytes > (size_t(1) << 53) ? nullptr : std::malloc(bytes);
    if (!probe)
      throw RnError("ERR_RN_OOM", cat("out of memory: reading back ", n, " elements (", bytes, " bytes) into a JS TypedArray"), ErrKind::Range);
    std::free(probe);
  }
  switch (dt) {
    case DType::F32: return Napi::Float32Array::New(env, n);
    case DType::I32: return Napi::Int32Array::New(env, n);
    case DType::U8: return Napi::Uint8Array::New(env, n);
    case DType::I64: return Napi::BigInt64Array::New(env, n);
    default: return Napi::Uint16Array::New(env, n);
  }
}
V readSync(const CI& info) {
  const Tensor& t = tensor_arg(info, 0, "dataSync", "tensor");
  auto ta = alloc_typed(info.Env(), t.dtype, (size_t)t.numel());
  void* dst = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  uint64_t seq = ops::enqueue_read(t, dst);
  ops::wait(t.device(), seq);
  return ta;
}

// Waits off the JS thread for the stream to reach `seq`, then resolves with the typed array.
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, Napi::TypedArray ta, Device dev, uint64_t seq)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), dev_(dev), seq_(seq) {
    ref_ = Napi::Persistent(static_cast<Napi::Object>(ta));
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      ops::wait(dev_, seq_);
    } catch (const RnError& e) {
      code_ = e.code;
      SetError(e.what());
    }
  }
  // These run from the event loop; when the environment is going away (a worker terminated) the
  // N-API calls fail with C++ exceptions, which must not escape (std::terminate).
  void OnOK() override {
    try {
      deferred_.Resolve(ref_.Value());
    } catch (...) {
    }
  }
  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(make_error(Env(), code_.empty() ? "ERR_RN_INTERNAL" : code_, e.Message(), ErrKind::Error).Value());
    } catch (...) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference ref_;
  Device dev_;
  uint64_t seq_;
  std::string code_;
};
V readAsync(const CI& info) {
  const Tensor& t = tensor_arg(info, 0, "data", "tensor");
  auto ta = alloc_typed(info.Env(), t.dtype, (size_t)t.numel());
  void* dst = static_cast<char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  uint64_t seq = ops::enqueue_read(t, dst);
  auto* w = new ReadWorker(info.Env(), ta, t.device(), seq);
  auto p = w->promise();
  w->Queue();
  return p;
}
V syncDevice(const CI& info) {
  ops::sync(info.Length() > 0 ? device_arg(info, 0, "sync") : Device::CPU);
  return info.Env().Undefined();
}
V view(const CI& info) {
  argc(info, 4, "view");
  const Tensor& t = tensor_arg(info, 0, "view", "tensor");
  return wrap(info.Env(), ops::view(t, ints_arg(info, 1, "view", "shape", true), ints_arg(info, 2, "view", "strides", false),
                                    int_arg(info, 3, "view", "offset")));
}
V contiguous(const CI& info) { return wrap(info.Env(), ops::contiguous(tensor_arg(info, 0, "contiguous", "tensor"))); }
V toChannelsLast(const CI& info) { return wrap(info.Env(), ops::to_channels_last(tensor_arg(info, 0, "toChannelsLast", "tensor"))); }
V copy_(const CI& info) {
  ops::copy_(tensor_arg(info, 0, "copy", "destination"), tensor_arg(info, 1, "copy", "source"));
  return info.Env().Undefined();
}
V castTo(const CI& info) { return wrap(info.Env(), ops::cast(tensor_arg(info, 0, "cast", "tensor"), dtype_arg(info, 1, "cast"))); }
V fill_(const CI& info) {
  ops::fill_(tensor_arg(info, 0, "fill", "tensor"), num_arg(info, 1, "fill", "value"));
  return info.Env().Undefined();
}
V rand_(const CI& info) {
  argc(info, 6, "rand");
  ops::rand_(tensor_arg(info, 0, "rand", "tensor"), bool_arg(info, 1, "rand", "normal"), u64_arg(info, 2, "rand", "seed"),
             u64_arg(info, 3, "rand", "offset"), (float)num_arg(info, 4, "rand", "a"), (float)num_arg(info, 5, "rand", "b"));
  return info.Env().Undefined();
}

// ---- elementwise ----
V unary(const CI& info) {
  auto op = enum_arg<cpu::Unary>(info, 0, "unary", (int)cpu::Unary::Reciprocal);
  return wrap(info.Env(), ops::unary(op, tensor_arg(info, 1, "unary", "input")));
}
V unaryBackward(const CI& info) {
  auto op = enum_arg<cpu::Unary>(info, 0, "unary backward", (int)cpu::Unary::Reciprocal);
  const Tensor& dy = tensor_arg(info, 1, "unary backward", "grad");
  const Tensor* x = opt_tensor_arg(info, 2, "unary backward", "input");
  const Tensor* y = opt_tensor_arg(info, 3, "unary backward", "output");
  return wrap(info.Env(), ops::unary_backward(op, dy, x ? *x : Tensor(), y ? *y : Tensor()));
}
V binary(const CI& info) {
  auto op = enum_arg<cpu::Binary>(info, 0, "binary", (int)cpu::Binary::Pow);
  return wrap(info.Env(), ops::binary(op, tensor_arg(info, 1, "binary", "input"), tensor_arg(info, 2, "binary", "other")));
}
V scalar(const CI& info) {
  auto op = enum_arg<cpu::ScalarOp>(info, 0, "scalar", (int)cpu::ScalarOp::Lt);
  return wrap(info.Env(), ops::scalar(op, tensor_arg(info, 1, "scalar", "input"), (float)num_arg(info, 2, "scalar", "value")));
}
V axpy_(const CI& info) {
  ops::axpy_(tensor_arg(info, 0, "add_", "self"), tensor_arg(info, 1, "add_", "other"), (float)num_arg(info, 2, "add_", "alpha"));
  return info.Env().Undefined();
}
V dropoutForward(const CI& info) {
  return wrap(info.Env(), ops::dropout_forward(tensor_arg(info, 0, "dropout", "input"), (float)num_arg(info, 1, "dropout", "p"),
                                               u64_arg(info, 2, "dropout", "seed"), u64_arg(info, 3, "dropout", "offset")));
}
V dropoutBackward(const CI& info) {
  return wrap(info.Env(), ops::dropout_backward(tensor_arg(info, 0, "dropout", "grad"), (float)num_arg(info, 1, "dropout", "p"),
                                                u64_arg(info, 2, "dropout", "seed"), u64_arg(info, 3, "dropout", "offset")));
}

// ---- reductions / matmul ----
V sum(const CI& info) {
  return wrap(info.Env(), ops::sum(tensor_arg(info, 0, "sum", "input"), ints_arg(info, 1, "sum", "dims", false),
                                   bool_arg(info, 2, "sum", "keepdim"), (float)num_arg(info, 3, "sum", "scale")));
}
V maxDim(const CI& info) {
  auto r = ops::max_dim(tensor_arg(info, 0, "max", "input"), int_arg(info, 1, "max", "dim"), bool_arg(info, 2, "max", "keepdim"));
  return tuple(info.Env(), {r.first, r.second});
}
V matmul(const CI& info) {
  return wrap(info.Env(), ops::matmul(tensor_arg(info, 0, "matmul", "input"), tensor_arg(info, 1, "matmul", "other"),
                                      bool_arg(info, 2, "matmul", "transA"), bool_arg(info, 3, "matmul", "transB")));
}

// ---- conv2d ----
ops::Conv2dArgs conv_args(const CI& info, size_t i, const char* op) {
  auto v = ints_arg(info, i, op, "params", false);
  if (v.size() != 7) throw RnError("ERR_RN_ARG", cat(op, ": expected 7 conv parameters"), ErrKind::Type);
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
}
V conv2dForward(const CI& info) {
  argc(info, 4, "conv2d");
  // arguments read in order so the first bad one is the one reported
  const Tensor& x = tensor_arg(info, 0, "conv2d", "input");
  const Tensor& w = tensor_arg(info, 1, "conv2d", "weight");
  const Tensor* b = opt_tensor_arg(info, 2, "conv2d", "bias");
  return wrap(info.Env(), ops::conv2d_forward(x, w, b, conv_args(info, 3, "conv2d")));
}
V conv2dBackwardData(const CI& info) {
  argc(info, 5, "conv2d backward");
  return wrap(info.Env(), ops::conv2d_backward_data(tensor_arg(info, 0, "conv2d backward", "grad"),
                                                    tensor_arg(info, 1, "conv2d backward", "weight"),
                                                    ints_arg(info, 2, "conv2d backward", "inputShape", true),
                                                    bool_arg(info, 3, "conv2d backward", "channelsLast"),
                                                    conv_args(info, 4, "conv2d backward"),
                                                    info.Length() > 5 ? opt_tensor_arg(info, 5, "conv2d backward", "accumulate") : nullptr));
}
V conv2dBackwardWeight(const CI& info) {
  argc(info, 4, "conv2d backward");
  return wrap(info.Env(), ops::conv2d_backward_weight(tensor_arg(info, 0, "conv2d backward", "grad"),
                                                      tensor_arg(info, 1, "conv2d backward", "input"),
                                                      ints_arg(info, 2, "conv2d backward", "weightShape", true),
                                                      conv_args(info, 3, "conv2d backward")));
}

// ---- batch norm ----
V batchNormForward(const CI& info) {
  argc(info, 8, "batchNorm2d");
  auto r = ops::batchnorm_forward(tensor_arg(info, 0, "batchNorm2d", "input"), opt_tensor_arg(info, 1, "batchNorm2d", "weight"),
                                  opt_tensor_arg(info, 2, "batchNorm2d", "bias"), opt_tensor_arg(info, 3, "batchNorm2d", "runningMean"),
                                  opt_tensor_arg(info, 4, "batchNorm2d", "runningVar"), bool_arg(info, 5, "batchNorm2d", "training"),
                                  (float)num_arg(info, 6, "batchNorm2d", "momentum"), (float)num_arg(info, 7, "batchNorm2d", "eps"));
  return tuple(info.Env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
}
V batchNormBackward(const CI& info) {
  argc(info, 7, "batchNorm2d backward");
  auto r = ops::batchnorm_backward(tensor_arg(info, 0, "batchNorm2d backward", "grad"), tensor_arg(info, 1, "batchNorm2d backward", "input"),
                                   opt_tensor_arg(info, 2, "batchNorm2d backward", "weight"),
                                   tensor_arg(info, 3, "batchNorm2d backward", "mean"), tensor_arg(info, 4, "batchNorm2d backward", "invstd"),
                                   bool_arg(info, 5, "batchNorm2d backward", "training"), (float)num_arg(info, 6, "batchNorm2d backward", "eps"));
  return tuple(info.Env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
}

// ---- pooling ----
ops::Pool2dArgs pool_args(const CI& info, size_t i, const char* op) {
  auto v = ints_arg(info, i, op, "params", false);
  if (v.size() != 8) throw RnError("ERR_RN_ARG", cat(op, ": expected 8 pool parameters"), ErrKind::Type);
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6] != 0, v[7] != 0};
}
V maxPool2dForward(const CI& info) {
  auto r = ops::maxpool2d_forward(tensor_arg(info, 0, "maxPool2d", "input"), pool_args(info, 1, "maxPool2d"));
  return tuple(info.Env(), {r.first, r.second});
}
V maxPool2dBackward(const CI& info) {
  return wrap(info.Env(), ops::maxpool2d_backward(tensor_arg(info, 0, "maxPool2d backward", "grad"), tensor_arg(info, 1, "maxPool2d backward", "indices"),
                                                  ints_arg(info, 2, "maxPool2d backward", "inputShape", true), pool_args(info, 3, "maxPool2d backward")));
}
V avgPool2dForward(const CI& info) {
  return wrap(info.Env(), ops::avgpool2d_forward(tensor_arg(info, 0, "avgPool2d", "input"), pool_args(info, 1, "avgPool2d")));
}
V avgPool2dBackward(const CI& info) {
  return wrap(info.Env(), ops::avgpool2d_backward(tensor_arg(info, 0, "avgPool2d backward", "grad"),
                                                  ints_arg(info, 1, "avgPool2d backward", "inputShape", true), pool_args(info, 2, "avgPool2d backward")));
}
V adaptiveAvgPool2dForward(const CI& info) {
  return wrap(info.Env(), ops::adaptive_avgpool2d_forward(tensor_arg(info, 0, "adaptiveAvgPool2d", "input"),
                                                          int_arg(info, 1, "adaptiveAvgPool2d", "outputH"), int_arg(info, 2, "adaptiveAvgPool2d", "outputW")));
}
V adaptiveAvgPool2dBackward(const CI& info) {
  return wrap(info.Env(), ops::adaptive_avgpool2d_backward(tensor_arg(info, 0, "adaptiveAvgPool2d backward", "grad"),
                                                           ints_arg(info, 1, "adaptiveAvgPool2d backward", "inputShape", true)));
}

// ---- softmax / cross entropy / layer norm ----
V softmaxForward(const CI& info) {
  return wrap(info.Env(), ops::softmax_forward(tensor_arg(info, 0, "softmax", "input"), int_arg(info, 1, "softmax", "dim"), bool_arg(info, 2, "softmax", "log")));
}
V softmaxBackward(const CI& info) {
  return wrap(info.Env(), ops::softmax_backward(tensor_arg(info, 0, "softmax backward", "grad"), tensor_arg(info, 1, "softmax backward", "output"),
                                                int_arg(info, 2, "softmax backward", "dim"), bool_arg(info, 3, "softmax backward", "log")));
}
V crossEntropyForward(const CI& info) {
  argc(info, 5, "crossEntropy");
  auto r = ops::cross_entropy_forward(tensor_arg(info, 0, "crossEntropy", "input"), tensor_arg(info, 1, "crossEntropy", "target"),
                                      reduction_arg(info, 2, "crossEntropy"), (float)num_arg(info, 3, "crossEntropy", "labelSmoothing"),
                                      i32_arg(info, 4, "crossEntropy", "ignoreIndex"));
  return tuple(info.Env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
}
V crossEntropyBackward(const CI& info) {
  argc(info, 7, "crossEntropy backward");
  return wrap(info.Env(), ops::cross_entropy_backward(tensor_arg(info, 0, "crossEntropy backward", "grad"), tensor_arg(info, 1, "crossEntropy backward", "logp"),
                                                      tensor_arg(info, 2, "crossEntropy backward", "target"), tensor_arg(info, 3, "crossEntropy backward", "count"),
                                                      reduction_arg(info, 4, "crossEntropy backward"),
                                                      (float)num_arg(info, 5, "crossEntropy backward", "labelSmoothing"),
                                                      i32_arg(info, 6, "crossEntropy backward", "ignoreIndex")));
}
V layerNormForward(const CI& info) {
  argc(info, 5, "layerNorm");
  auto r = ops::layernorm_forward(tensor_arg(info, 0, "layerNorm", "input"), int_arg(info, 1, "layerNorm", "normalizedSize"),
                                  opt_tensor_arg(info, 2, "layerNorm", "weight"), opt_tensor_arg(info, 3, "layerNorm", "bias"),
                                  (float)num_arg(info, 4, "layerNorm", "eps"));
  return tuple(info.Env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
}
V layerNormBackward(const CI& info) {
  argc(info, 6, "layerNorm backward");
  auto r = ops::layernorm_backward(tensor_arg(info, 0, "layerNorm backward", "grad"), tensor_arg(info, 1, "layerNorm backward", "input"),
                                   opt_tensor_arg(info, 2, "layerNorm backward", "weight"), tensor_arg(info, 3, "layerNorm backward", "mean"),
                                   tensor_arg(info, 4, "layerNorm backward", "rstd"), int_arg(info, 5, "layerNorm backward", "normalizedSize"));
  return tuple(info.Env(), {std::get<0>(r), std::get<1>(r), std::get<2>(r)});
}

// ---- runtime ----
V memoryStats(const CI& info) {
  Device d = info.Length() > 0 && info[0].IsNumber() && info[0].As<Napi::Number>().Int32Value() == 1 ? Device::CUDA : Device::CPU;
  MemStats s = memory_stats(d);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("live", (double)s.live);
  o.Set("peak", (double)s.peak);
  o.Set("cached", (double)s.cached);
  o.Set("allocs", (double)s.allocs);
  return o;
}
V emptyCache(const CI& info) { empty_cache(Device::CPU); return info.Env().Undefined(); }
V resetPeak(const CI& info) { reset_peak(Device::CPU); return info.Env().Undefined(); }
V setNumThreads(const CI& info) {
  int64_t n = int_arg(info, 0, "setNumThreads", "n");
  if (n < 1 || n > 1024) throw RnError("ERR_RN_RANGE", cat("Expected an integer in [1, 1024] for setNumThreads(n) but received ", n), ErrKind::Range);
  ops::sync(Device::CPU);  // never resize the pool under a running kernel
  set_num_threads((int)n);
  return info.Env().Undefined();
}
V getNumThreads(const CI& info) { return Napi::Number::New(info.Env(), num_threads()); }
V profileRows(Napi::Env env, const std::vector<profile::Row>& rows) {
  Napi::Array a = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", rows[i].name);
    o.Set("calls", (double)rows[i].calls);
    o.Set("hostMs", rows[i].host_ns / 1e6);
    o.Set("jobs", (double)rows[i].jobs);
    o.Set("kernelMs", rows[i].kernel_ns / 1e6);
    a.Set(i, o);
  }
  return a;
}
V profileStart(const CI& info) {
  profile::start();
  return info.Env().Undefined();
}
V profileStop(const CI& info) { return profileRows(info.Env(), profile::stop()); }
V profileSnapshot(const CI& info) { return profileRows(info.Env(), profile::snapshot()); }
V profileEnabled(const CI& info) { return Napi::Boolean::New(info.Env(), profile::enabled()); }
V pending(const CI& info) { return Napi::Number::New(info.Env(), (double)stream_for(Device::CPU).pending()); }

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
#define RN_EXPORT(name) exports.Set(#name, RN_FN(env, name))
  RN_EXPORT(fromBuffer); RN_EXPORT(empty); RN_EXPORT(dispose); RN_EXPORT(isLive); RN_EXPORT(readSync); RN_EXPORT(readAsync);
  RN_EXPORT(syncDevice); RN_EXPORT(view); RN_EXPORT(contiguous); RN_EXPORT(toChannelsLast); RN_EXPORT(copy_); RN_EXPORT(castTo);
  RN_EXPORT(fill_); RN_EXPORT(rand_);
  RN_EXPORT(profileStart); RN_EXPORT(profileStop); RN_EXPORT(profileSnapshot); RN_EXPORT(profileEnabled);
  RN_EXPORT(unary); RN_EXPORT(unaryBackward); RN_EXPORT(binary); RN_EXPORT(scalar); RN_EXPORT(axpy_);
  RN_EXPORT(dropoutForward); RN_EXPORT(dropoutBackward);
  RN_EXPORT(sum); RN_EXPORT(maxDim); RN_EXPORT(matmul);
  RN_EXPORT(conv2dForward); RN_EXPORT(conv2dBackwardData); RN_EXPORT(conv2dBackwardWeight);
  RN_EXPORT(batchNormForward); RN_EXPORT(batchNormBackward);
  RN_EXPORT(maxPool2dForward); RN_EXPORT(maxPool2dBackward); RN_EXPORT(avgPool2dForward); RN_EXPORT(avgPool2dBackward);
  RN_EXPORT(adaptiveAvgPool2dForward); RN_EXPORT(adaptiveAvgPool2dBackward);
  RN_EXPORT(softmaxForward); RN_EXPORT(softmaxBackward); RN_EXPORT(crossEntropyForward); RN_EXPORT(crossEntropyBackward);
  RN_EXPORT(layerNormForward); RN_EXPORT(layerNormBackward);
  RN_EXPORT(memoryStats); RN_EXPORT(emptyCache); RN_EXPORT(resetPeak); RN_EXPORT(setNumThreads); RN_EXPORT(getNumThreads);
  RN_EXPORT(pending);
#undef RN_EXPORT
}

}  // namespace binding
}  // namespace rn
