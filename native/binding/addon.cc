// Module registration: the only exported symbol of the addon.
#include <napi.h>
#include "errors.h"
#include "../core/simd.h"
#include "../core/stream.h"
#include "../core/parallel.h"

namespace rn {
namespace binding {
void register_ops(Napi::Env env, Napi::Object exports);
void register_fused(Napi::Env env, Napi::Object exports);
void register_optim(Napi::Env env, Napi::Object exports);
void register_cuda(Napi::Env env, Napi::Object exports);  // ops_cuda.cc
}
namespace cuda {
void on_env_cleanup();  // cuda/runtime.cu or cuda/disabled.cc
}
const char* cuda_status(bool* available);  // cuda/ or cuda/disabled.cc
}

#ifndef RESNODE_VERSION
#define RESNODE_VERSION "0.0.0"
#endif

static Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  bool cuda = false;
  const char* why = rn::cuda_status(&cuda);
  o.Set("version", RESNODE_VERSION);
  o.Set("cuda", cuda);
  o.Set("cudaStatus", why);
  o.Set("simd", rn::simd_level());
  o.Set("blas", "OpenBLAS (static)");
  o.Set("compiler", __VERSION__);
  o.Set("napiVersion", NAPI_VERSION);
  o.Set("threads", rn::num_threads());
  return o;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  rn::binding::register_ops(env, exports);
  rn::binding::register_fused(env, exports);
  rn::binding::register_optim(env, exports);
  rn::binding::register_cuda(env, exports);
  exports.Set("buildInfo", RN_FN(env, BuildInfo));
  // A worker thread (or the process) going away must not leave ops touching its buffers.
  napi_add_env_cleanup_hook(env, [](void*) { rn::stream_for(rn::Device::CPU).sync(); }, nullptr);
  // Reads from the GPU copy into JS buffers on the "cuda" host stream: let them finish too.
  napi_add_env_cleanup_hook(env, [](void*) { rn::cuda::on_env_cleanup(); }, nullptr);
  return exports;
}

NODE_API_MODULE(resnode, Init)
