// The cuDNN loader: dlopen libcudnn.so.9 (after its sub-libraries from the same folder) and
// resolve every function of RN_CUDNN_FUNCS, once. See cudnn_api.h and loader.h.
#include "cudnn_api.h"
#include <dlfcn.h>
#include <mutex>
#include <sstream>
#include "backend.h"
#include "loader.h"

namespace rn {
namespace dnn {
namespace {
struct State {
  Api api;
  bool ok = false;
  std::string path, error;
  int64_t version = 0;
};

std::vector<std::string> companions(const std::string&) {
  // dependency order: graph first, then the legacy libraries, then the engines
  return {"libcudnn_graph.so.9",       "libcudnn_ops.so.9",
          "libcudnn_cnn.so.9",         "libcudnn_adv.so.9",
          "libcudnn_heuristic.so.9",   "libcudnn_engines_runtime_compiled.so.9",
          "libcudnn_engines_precompiled.so.9"};
}

State& state() {
  static std::once_flag once;
  static State* s = new State();  // leaked: the library stays loaded for the process
  std::call_once(once, [] {
    // NVRTC (for cuDNN's runtime-compiled engines, which dlopen it by soname) from the wheels' folders
    cuda::preload_any({"libnvrtc.so.13", "libnvrtc.so.12"});
    cuda::LoadResult r = cuda::load_library({"libcudnn.so.9"}, companions);
    std::ostringstream why;
    if (!r.handle) {
      why << "cuDNN 9 (libcudnn.so.9) was not found; searched " << cuda::describe_search(true) << "; tried: ";
      for (size_t i = 0; i < r.tried.size(); i++) why << (i ? ", " : "") << r.tried[i];
      why << ". Install it (pip install nvidia-cudnn-cu13, or the cuDNN 9 packages) or point RESNODE_CUDA_LIB_DIRS at its lib folder";
      s->error = why.str();
      return;
    }
    std::string missing;
#define RN_DNN_LOAD(name, ret, args)                                    \
  s->api.name = reinterpret_cast<name##_t>(dlsym(r.handle, #name));     \
  if (!s->api.name) missing += std::string(missing.empty() ? "" : ", ") + #name;
    RN_CUDNN_FUNCS(RN_DNN_LOAD)
#undef RN_DNN_LOAD
#define RN_DNN_LOAD_OPT(name, ret, args) s->api.name = reinterpret_cast<name##_t>(dlsym(r.handle, #name));
    RN_CUDNN_OPTIONAL_FUNCS(RN_DNN_LOAD_OPT)
#undef RN_DNN_LOAD_OPT
    s->path = r.path;
    if (!missing.empty()) {
      s->error = "cuDNN at " + r.path + " lacks " + missing + " (resnode needs cuDNN 9 with the legacy convolution API)";
      return;
    }
    s->version = (int64_t)s->api.cudnnGetVersion();
    if (s->version < 90000 || s->version >= 100000) {
      s->error = "cuDNN at " + r.path + " reports version " + std::to_string(s->version) + "; resnode needs cuDNN 9";
      return;
    }
    s->ok = true;
  });
  return *s;
}
}  // namespace

const Api& api() {
  State& s = state();
  if (!s.ok) throw RnError("ERR_RN_NO_CUDA", "cuda: " + s.error);
  return s.api;
}

std::string error_text(const char* fn, Status st) {
  State& s = state();
  std::string out = std::string(fn) + " failed: ";
  out += s.ok ? s.api.cudnnGetErrorString(st) : "error";
  out += " (" + std::to_string((int)st) + ")";
  if (s.ok && s.api.cudnnGetLastErrorString) {
    char msg[512] = {0};
    s.api.cudnnGetLastErrorString(msg, sizeof msg);
    if (msg[0]) out += ": " + std::string(msg);
  }
  return out;
}

}  // namespace dnn

namespace cuda {
LibraryInfo cudnn_info() {
  LibraryInfo i;
  i.name = "cudnn";
  auto& s = dnn::state();
  i.loaded = s.ok;
  i.version = s.version;
  i.path = s.path;
  i.error = s.error;
  return i;
}
}  // namespace cuda
}  // namespace rn
