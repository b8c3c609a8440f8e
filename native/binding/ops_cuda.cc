// N-API surface of the CUDA backend (rn.cuda in lib/index.ts): availability and device
// properties, the caching allocator's cache, library status, TF32, device moves (tensor.to()).
// Entry points whose names start with "_cuda" reach kernels whose ops are wired by other files
// (native/ops/bn_add_relu.cc, native/ops/optim.cc): they exist so the GPU tests and benchmarks
// can check those kernels against the CPU until then, and are not part of the public API.
#include <napi.h>
#include <cmath>
#include "errors.h"
#include "tensor_wrap.h"
#include "../cuda/backend.h"
#include "../ops/ops.h"

namespace rn {
namespace binding {
namespace {
using V = Napi::Value;
using CI = Napi::CallbackInfo;

void argc(const CI& info, size_t n, const char* op) {
  if (info.Length() < n) throw RnError("ERR_RN_ARG", cat(op, ": expected ", n, " arguments but received ", info.Length()), ErrKind::Type);
}

Napi::Object lib_obj(Napi::Env env, const cuda::LibraryInfo& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", l.name);
  o.Set("loaded", l.loaded);
  o.Set("version", (double)l.version);
  o.Set("path", l.path);
  o.Set("error", l.error);
  return o;
}

V cudaInfo(const CI& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", cuda::available());
  o.Set("status", cuda::status());
  o.Set("deviceCount", cuda::device_count());
  o.Set("initialized", cuda::initialized());
  o.Set("allowTF32", cuda::allow_tf32());
  o.Set("librarySearch", cuda::library_search_description(false));
  o.Set("convAlgorithmsCached", (double)cuda::conv_cache_size());
  return o;
}

V cudaDeviceProperties(const CI& info) {
  int64_t d = info.Length() > 0 && !info[0].IsUndefined() ? int_arg(info, 0, "cuda.properties", "device") : 0;
  cuda::DeviceProps p = cuda::properties((int)d);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("index", p.index);
  o.Set("name", p.name);
  o.Set("major", p.major);
  o.Set("minor", p.minor);
  o.Set("multiProcessorCount", p.multiprocessors);
  o.Set("warpSize", p.warp_size);
  o.Set("maxThreadsPerBlock", p.max_threads_per_block);
  o.Set("totalMemory", (double)p.total_memory);
  o.Set("l2CacheSize", (double)p.l2_cache);
  o.Set("sharedMemoryPerBlock", (double)p.shared_per_block);
  o.Set("clockRateKHz", p.clock_khz);
  o.Set("memoryClockRateKHz", p.memory_clock_khz);
  o.Set("memoryBusWidth", p.memory_bus_width);
  o.Set("driverVersion", p.driver_version);
  o.Set("runtimeVersion", p.runtime_version);
  return o;
}

V cudaEmptyCache(const CI& info) {
  empty_cache(Device::CUDA);
  return info.Env().Undefined();
}
V cudaResetPeak(const CI& info) {
  reset_peak(Device::CUDA);
  return info.Env().Undefined();
}
V cudaLibraries(const CI& info) {
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, lib_obj(info.Env(), cuda::cudnn_info()));
  a.Set(1u, lib_obj(info.Env(), cuda::cublas_info()));
  return a;
}
V cudaSynchronize(const CI& info) {
  ops::sync(Device::CUDA);
  return info.Env().Undefined();
}
V cudaSetAllowTF32(const CI& info) {
  cuda::set_allow_tf32(bool_arg(info, 0, "cuda.setAllowTF32", "enabled"));
  return info.Env().Undefined();
}

V toDevice(const CI& info) {
  argc(info, 2, "to");
  const Tensor& t = tensor_arg(info, 0, "to", "tensor");
  int64_t d = int_arg(info, 1, "to", "device");
  if (d < 0 || d > 1) throw RnError("ERR_RN_DEVICE", cat("to: unknown device code ", d));
  if (d == 1 && !cuda::available()) cuda::throw_unavailable("to");
  return wrap(info.Env(), ops::to_device(t, (Device)d));
}

// ---- test / benchmark hooks for kernels wired elsewhere ----
const Tensor* opt(const CI& info, size_t i, const char* op, const char* name) { return opt_tensor_arg(info, i, op, name); }
void need_cuda(const Tensor& t, const char* op, const char* name) {
  if (t.device() != Device::CUDA) throw RnError("ERR_RN_DEVICE", cat(op, ": ", name, " must be a cuda tensor"));
}
void need_vec(const Tensor* t, int64_t C, const char* op, const char* name) {
  if (!t) return;
  need_cuda(*t, op, name);
  if (t->dtype != DType::F32 || t->dim() != 1 || t->shape[0] != C || !t->is_contiguous())
    throw_shape(cat(op, ": ", name, " must be float32 [", C, "] but is ", dtype_name(t->dtype), " ", shape_str(t->shape)));
}
bool layout_of(const Tensor& x, const char* op) {
  const bool cl = x.is_channels_last() && !x.is_contiguous();
  if (!cl && !x.is_contiguous()) throw_shape(cat(op, ": tensors must be contiguous or channels-last"));
  return cl;
}
void same_as(const Tensor& t, const Tensor& x, const char* op, const char* name) {
  need_cuda(t, op, name);
  if (t.dtype != x.dtype || t.shape != x.shape || t.strides != x.strides)
    throw_shape(cat(op, ": ", name, " must match the input's dtype, shape and layout"));
}
float* fp(const Tensor* t) { return t ? t->f32() : nullptr; }

// [y, save_mean, save_invstd] = (x, residual?, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
V _cudaBnAddReluForward(const CI& info) {
  const char* op = "_cudaBnAddReluForward";
  argc(info, 9, op);
  const Tensor& x = tensor_arg(info, 0, op, "input");
  const Tensor *r = opt(info, 1, op, "residual"), *g = opt(info, 2, op, "weight"), *b = opt(info, 3, op, "bias");
  const Tensor *rm = opt(info, 4, op, "runningMean"), *rv = opt(info, 5, op, "runningVar");
  const bool training = bool_arg(info, 6, op, "training");
  const float momentum = (float)num_arg(info, 7, op, "momentum"), eps = (float)num_arg(info, 8, op, "eps");
  need_cuda(x, op, "input");
  if (x.dim() < 2 || x.dim() > 4) throw_shape(cat(op, ": expected [N, C, ...]"));
  const bool cl = layout_of(x, op);
  if (r) same_as(*r, x, op, "residual");
  const int64_t N = x.shape[0], C = x.shape[1];
  int64_t HW = 1;
  for (int64_t i = 2; i < x.dim(); i++) HW *= x.shape[i];
  need_vec(g, C, op, "weight");
  need_vec(b, C, op, "bias");
  need_vec(rm, C, op, "runningMean");
  need_vec(rv, C, op, "runningVar");
  if (!training && (!rm || !rv)) throw_arg(cat(op, ": eval mode needs running statistics"));
  Tensor y = empty_strided_like(x, x.dtype);
  Tensor sm = rn::empty({C}, DType::F32, Device::CUDA), si = rn::empty({C}, DType::F32, Device::CUDA);
  if (training)
    cuda::bn_add_relu_forward_train(y.raw(), sm.f32(), si.f32(), fp(rm), fp(rv), x.raw(), r ? r->raw() : nullptr, fp(g), fp(b),
                                    N, C, HW, cl, momentum, eps, x.dtype);
  else
    cuda::bn_add_relu_forward_eval(y.raw(), sm.f32(), si.f32(), x.raw(), r ? r->raw() : nullptr, fp(g), fp(b), rm->f32(),
                                   rv->f32(), N, C, HW, cl, eps, x.dtype);
  Napi::Array a = Napi::Array::New(info.Env(), 3);
  a.Set(0u, wrap(info.Env(), y));
  a.Set(1u, wrap(info.Env(), sm));
  a.Set(2u, wrap(info.Env(), si));
  return a;
}

// [dx, dresidual | null, dweight, dbias] = (dy, y, x, weight?, saveMean, saveInvstd, training, hasResidual)
V _cudaBnAddReluBackward(const CI& info) {
  const char* op = "_cudaBnAddReluBackward";
  argc(info, 8, op);
  const Tensor& dy = tensor_arg(info, 0, op, "grad");
  const Tensor& y = tensor_arg(info, 1, op, "output");
  const Tensor& x = tensor_arg(info, 2, op, "input");
  const Tensor* g = opt(info, 3, op, "weight");
  const Tensor& sm = tensor_arg(info, 4, op, "saveMean");
  const Tensor& si = tensor_arg(info, 5, op, "saveInvstd");
  const bool training = bool_arg(info, 6, op, "training"), has_res = bool_arg(info, 7, op, "hasResidual");
  need_cuda(x, op, "input");
  if (x.dim() < 2 || x.dim() > 4) throw_shape(cat(op, ": expected [N, C, ...]"));
  const bool cl = layout_of(x, op);
  same_as(dy, x, op, "grad");
  same_as(y, x, op, "output");
  const int64_t N = x.shape[0], C = x.shape[1];
  int64_t HW = 1;
  for (int64_t i = 2; i < x.dim(); i++) HW *= x.shape[i];
  need_vec(g, C, op, "weight");
  need_vec(&sm, C, op, "saveMean");
  need_vec(&si, C, op, "saveInvstd");
  Tensor dx = empty_strided_like(x, x.dtype);
  Tensor dr = has_res ? empty_strided_like(x, x.dtype) : Tensor();
  Tensor dg = rn::empty({C}, DType::F32, Device::CUDA), db = rn::empty({C}, DType::F32, Device::CUDA);
  cuda::bn_add_relu_backward(dx.raw(), has_res ? dr.raw() : nullptr, dg.f32(), db.f32(), dy.raw(), y.raw(), x.raw(), fp(g),
                             sm.f32(), si.f32(), N, C, HW, cl, training, x.dtype);
  Napi::Array a = Napi::Array::New(info.Env(), 4);
  a.Set(0u, wrap(info.Env(), dx));
  a.Set(1u, has_res ? V(wrap(info.Env(), dr)) : info.Env().Null());
  a.Set(2u, wrap(info.Env(), dg));
  a.Set(3u, wrap(info.Env(), db));
  return a;
}

// _cudaBnAddReluVersion([v]): the fused BatchNorm kernels' generation for later launches (1, 2;
// 0 = RESNODE_CUDA_BN's choice, v2 when unset); returns the one in use. ERR_RN_NO_CUDA without a GPU.
V _cudaBnAddReluVersion(const CI& info) {
  const char* op = "_cudaBnAddReluVersion";
  const bool set = info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsNull();
  const int64_t v = set ? int_arg(info, 0, op, "version") : 0;
  if (v < 0 || v > 2)  // before the narrowing to int
    throw RnError("ERR_RN_RANGE", cat(op, ": unknown kernel version ", v, " (0 = default, 1, 2)"), ErrKind::Range);
  if (!cuda::available()) cuda::throw_unavailable(op);
  if (set) cuda::set_bn_add_relu_version((int)v);
  return Napi::Number::New(info.Env(), cuda::bn_add_relu_version());
}
// _cudaTimerBegin([spinMs]) / _cudaTimerEnd() -> GPU ms between them (benchmarks; see backend.h)
V _cudaTimerBegin(const CI& info) {
  const char* op = "_cudaTimerBegin";
  const double ms = info.Length() > 0 && !info[0].IsUndefined() ? num_arg(info, 0, op, "spinMs") : 0.0;
  if (!(ms >= 0 && ms <= 1000)) throw RnError("ERR_RN_RANGE", cat(op, ": spinMs must be in [0, 1000] but is ", ms), ErrKind::Range);
  if (!cuda::available()) cuda::throw_unavailable(op);
  cuda::timer_begin(ms);
  return info.Env().Undefined();
}
V _cudaTimerEnd(const CI& info) {
  if (!cuda::available()) cuda::throw_unavailable("_cudaTimerEnd");
  return Napi::Number::New(info.Env(), cuda::timer_end());
}

std::vector<const Tensor*> tensors(const CI& info, size_t i, const char* op, const char* name, bool nullable) {
  if (!info[i].IsArray()) bad_arg(info[i], "an array of tensor handles", op, name);
  Napi::Array a = info[i].As<Napi::Array>();
  std::vector<const Tensor*> out(a.Length(), nullptr);
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (nullable && (v.IsNull() || v.IsUndefined())) continue;
    Handle* h = handle_of(v);
    if (!h || !h->t.storage) bad_arg(v, "a live tensor handle", op, name);
    out[k] = &h->t;
  }
  return out;
}
void need_param(const Tensor* t, const Tensor* p, const char* op, const char* name) {
  if (!t) throw_arg(cat(op, ": missing ", name));
  need_cuda(*t, op, name);
  if (t->dtype != DType::F32 || !t->is_contiguous() || t->numel() != p->numel())
    throw_shape(cat(op, ": ", name, " must be contiguous float32 with the parameter's size"));
}

// (params[], grads[], bufs[] (nullable), init[], lr, momentum, dampening, weightDecay, nesterov, maximize)
V _cudaSgdStep(const CI& info) {
  const char* op = "_cudaSgdStep";
  argc(info, 10, op);
  auto P = tensors(info, 0, op, "params", false), G = tensors(info, 1, op, "grads", false), B = tensors(info, 2, op, "bufs", true);
  if (!info[3].IsArray()) bad_arg(info[3], "an array of booleans", op, "init");
  Napi::Array init = info[3].As<Napi::Array>();
  const double lr = num_arg(info, 4, op, "lr"), mom = num_arg(info, 5, op, "momentum"), damp = num_arg(info, 6, op, "dampening");
  const double wd = num_arg(info, 7, op, "weightDecay");
  const bool nesterov = bool_arg(info, 8, op, "nesterov"), maximize = bool_arg(info, 9, op, "maximize");
  if (G.size() != P.size() || B.size() != P.size() || init.Length() != P.size()) throw_arg(cat(op, ": array lengths differ"));
  std::vector<cpu::SgdTensor> ts(P.size());
  for (size_t i = 0; i < P.size(); i++) {
    need_param(P[i], P[i], op, "params[i]");
    need_param(G[i], P[i], op, "grads[i]");
    if (mom != 0) need_param(B[i], P[i], op, "bufs[i]");
    ts[i] = {P[i]->f32(), B[i] ? B[i]->f32() : nullptr, G[i]->f32(), P[i]->numel(), init.Get((uint32_t)i).ToBoolean().Value()};
  }
  cpu::SgdHyper h{(float)lr, (float)mom, (float)(1.0 - damp), (float)wd, nesterov, maximize};
  cuda::sgd_step_multi(ts.data(), (int64_t)ts.size(), h);
  return info.Env().Undefined();
}

// (params[], grads[], expAvgs[], expAvgSqs[], maxExpAvgSqs[] | null, steps[], lr, beta1, beta2, eps, weightDecay, amsgrad, maximize)
V _cudaAdamwStep(const CI& info) {
  const char* op = "_cudaAdamwStep";
  argc(info, 13, op);
  auto P = tensors(info, 0, op, "params", false), G = tensors(info, 1, op, "grads", false);
  auto M = tensors(info, 2, op, "expAvgs", false), Vv = tensors(info, 3, op, "expAvgSqs", false);
  const bool ams = bool_arg(info, 11, op, "amsgrad"), maximize = bool_arg(info, 12, op, "maximize");
  std::vector<const Tensor*> VM(P.size(), nullptr);
  if (ams) VM = tensors(info, 4, op, "maxExpAvgSqs", false);
  if (!info[5].IsArray()) bad_arg(info[5], "an array of numbers", op, "steps");
  Napi::Array steps = info[5].As<Napi::Array>();
  const double lr = num_arg(info, 6, op, "lr"), b1 = num_arg(info, 7, op, "beta1"), b2 = num_arg(info, 8, op, "beta2");
  const double eps = num_arg(info, 9, op, "eps"), wd = num_arg(info, 10, op, "weightDecay");
  const size_t n = P.size();
  if (G.size() != n || M.size() != n || Vv.size() != n || VM.size() != n || steps.Length() != n)
    throw_arg(cat(op, ": array lengths differ"));
  std::vector<cpu::AdamwTensor> ts(n);
  for (size_t i = 0; i < n; i++) {
    need_param(P[i], P[i], op, "params[i]");
    need_param(G[i], P[i], op, "grads[i]");
    need_param(M[i], P[i], op, "expAvgs[i]");
    need_param(Vv[i], P[i], op, "expAvgSqs[i]");
    if (ams) need_param(VM[i], P[i], op, "maxExpAvgSqs[i]");
    const double step = steps.Get((uint32_t)i).ToNumber().DoubleValue();
    const double bc1 = 1.0 - std::pow(b1, step), bc2 = 1.0 - std::pow(b2, step);  // as native/ops/optim.cc
    ts[i] = {P[i]->f32(), M[i]->f32(), Vv[i]->f32(), VM[i] ? VM[i]->f32() : nullptr, G[i]->f32(), P[i]->numel(),
             (float)(lr / bc1), (float)std::sqrt(bc2)};
  }
  cpu::AdamwHyper h{(float)(1.0 - lr * wd), (float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2), (float)eps, ams, maximize};
  cuda::adamw_step_multi(ts.data(), (int64_t)ts.size(), h);
  return info.Env().Undefined();
}
}  // namespace

void register_cuda(Napi::Env env, Napi::Object exports) {
#define RN_EXPORT(name) exports.Set(#name, RN_FN(env, name))
  RN_EXPORT(cudaInfo); RN_EXPORT(cudaDeviceProperties); RN_EXPORT(cudaEmptyCache); RN_EXPORT(cudaResetPeak);
  RN_EXPORT(cudaLibraries); RN_EXPORT(cudaSynchronize); RN_EXPORT(cudaSetAllowTF32); RN_EXPORT(toDevice);
  RN_EXPORT(_cudaBnAddReluForward); RN_EXPORT(_cudaBnAddReluBackward); RN_EXPORT(_cudaSgdStep); RN_EXPORT(_cudaAdamwStep);
  RN_EXPORT(_cudaBnAddReluVersion); RN_EXPORT(_cudaTimerBegin); RN_EXPORT(_cudaTimerEnd);
#undef RN_EXPORT
}

}  // namespace binding
}  // namespace rn
