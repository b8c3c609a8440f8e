// JS handles for native tensors: an External carrying a type tag (so any other object passed in
// is rejected, never reinterpreted) and the bytes reported to V8 for this handle.
#pragma once
#include <napi.h>
#include "../core/tensor.h"

namespace rn {
namespace binding {

struct Handle {
  Tensor t;
  int64_t reported = 0;
};

// {h, shape, strides, offset, dtype, device}: what lib/binding.ts calls a NativeTensor.
Napi::Object wrap(Napi::Env env, const Tensor& t);
// The tensor behind argument i; throws ERR_RN_ARG for non-handles and ERR_RN_DISPOSED.
const Tensor& tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
// Same, but null/undefined gives nullptr.
const Tensor* opt_tensor_arg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name);
Handle* handle_of(const Napi::Value& v);
void release(Napi::Env env, Handle* h);

}  // namespace binding
}  // namespace rn
