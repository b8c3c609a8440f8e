// N-API entry points of the optimiser ops (native/ops/optim.h): read and check the arguments,
// call the dispatcher, wrap the results. One call updates a whole parameter group: tensors come
// as arrays of handles, one entry per parameter. No kernel logic here.
#include <napi.h>
#include "errors.h"
#include "tensor_wrap.h"
#include "../ops/optim.h"

namespace rn {
namespace binding {
namespace {
using V = Napi::Value;
using CI = Napi::CallbackInfo;

void argc(const CI& info, size_t n, const char* op) {
  if (info.Length() < n) throw RnError("ERR_RN_ARG", cat(op, ": expected ", n, " arguments but received ", info.Length()), ErrKind::Type);
}
Napi::Array array_arg(const CI& info, size_t i, const char* op, const char* name, const char* what) {
  if (!info[i].IsArray()) bad_arg(info[i], what, op, name);
  return info[i].As<Napi::Array>();
}
// An array of tensor handles; with `nullable`, null/undefined entries give empty Tensors.
std::vector<Tensor> tensors_arg(const CI& info, size_t i, const char* op, const char* name, bool nullable) {
  Napi::Array a = array_arg(info, i, op, name, "an array of tensor handles");
  std::vector<Tensor> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (nullable && (v.IsNull() || v.IsUndefined())) continue;
    Handle* h = handle_of(v);
    std::string nm = cat(name, "[", k, "]");
    if (!h) bad_arg(v, "a tensor handle", op, nm.c_str());
    if (!h->t.storage) throw RnError("ERR_RN_DISPOSED", cat(op, ": ", nm, " is a disposed tensor"));
    out[k] = h->t;
  }
  return out;
}
std::vector<bool> bools_arg(const CI& info, size_t i, const char* op, const char* name) {
  Napi::Array a = array_arg(info, i, op, name, "an array of booleans");
  std::vector<bool> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    std::string nm = cat(name, "[", k, "]");
    if (!v.IsBoolean()) bad_arg(v, "a boolean", op, nm.c_str());
    out[k] = v.As<Napi::Boolean>().Value();
  }
  return out;
}
std::vector<double> numbers_arg(const CI& info, size_t i, const char* op, const char* name) {
  Napi::Array a = array_arg(info, i, op, name, "an array of numbers");
  std::vector<double> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    std::string nm = cat(name, "[", k, "]");
    if (!v.IsNumber()) bad_arg(v, "a number", op, nm.c_str());
    out[k] = v.As<Napi::Number>().DoubleValue();
  }
  return out;
}

// sgdStep(params, grads, bufs, init, lr, momentum, dampening, weightDecay, nesterov, maximize)
V sgdStep(const CI& info) {
  const char* op = "sgdStep";
  argc(info, 10, op);
  ops::SgdArgs a{num_arg(info, 4, op, "lr"), num_arg(info, 5, op, "momentum"), num_arg(info, 6, op, "dampening"),
                 num_arg(info, 7, op, "weightDecay"), bool_arg(info, 8, op, "nesterov"), bool_arg(info, 9, op, "maximize")};
  ops::sgd_step_(tensors_arg(info, 0, op, "params", false), tensors_arg(info, 1, op, "grads", false),
                 tensors_arg(info, 2, op, "bufs", true), bools_arg(info, 3, op, "init"), a);
  return info.Env().Undefined();
}

// adamwStep(params, grads, expAvgs, expAvgSqs, maxExpAvgSqs | null, steps, lr, beta1, beta2, eps,
//           weightDecay, amsgrad, maximize)
V adamwStep(const CI& info) {
  const char* op = "adamwStep";
  argc(info, 13, op);
  ops::AdamwArgs a{num_arg(info, 6, op, "lr"), num_arg(info, 7, op, "beta1"), num_arg(info, 8, op, "beta2"),
                   num_arg(info, 9, op, "eps"), num_arg(info, 10, op, "weightDecay"), bool_arg(info, 11, op, "amsgrad"),
                   bool_arg(info, 12, op, "maximize")};
  std::vector<Tensor> vmax;
  if (!(info[4].IsNull() || info[4].IsUndefined())) vmax = tensors_arg(info, 4, op, "maxExpAvgSqs", false);
  ops::adamw_step_(tensors_arg(info, 0, op, "params", false), tensors_arg(info, 1, op, "grads", false),
                   tensors_arg(info, 2, op, "expAvgs", false), tensors_arg(info, 3, op, "expAvgSqs", false), vmax,
                   numbers_arg(info, 5, op, "steps"), a);
  return info.Env().Undefined();
}

// clipGradNorm(grads, maxNorm, normType) -> 0-d total norm
V clipGradNorm(const CI& info) {
  const char* op = "clipGradNorm";
  argc(info, 3, op);
  return wrap(info.Env(), ops::clip_grad_norm_(tensors_arg(info, 0, op, "grads", false), num_arg(info, 1, op, "maxNorm"),
                                               num_arg(info, 2, op, "normType")));
}

V emptyLike(const CI& info) { return wrap(info.Env(), ops::empty_like(tensor_arg(info, 0, "emptyLike", "tensor"))); }

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports) {
#define RN_EXPORT(name) exports.Set(#name, RN_FN(env, name))
  RN_EXPORT(sgdStep); RN_EXPORT(adamwStep); RN_EXPORT(clipGradNorm); RN_EXPORT(emptyLike);
#undef RN_EXPORT
}

}  // namespace binding
}  // namespace rn
