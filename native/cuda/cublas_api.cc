// The cuBLAS loader: dlopen libcublas.so.13 (or .12) after libcublasLt from the same folder and
// resolve every function of RN_CUBLAS_FUNCS, once. See cublas_api.h and loader.h.
#include "cublas_api.h"
#include <dlfcn.h>
#include <mutex>
#include <sstream>
#include "backend.h"
#include "loader.h"

namespace rn {
namespace blas {
namespace {
struct State {
  Api api;
  bool ok = false;
  std::string path, error;
  int64_t major = 0;
};

std::vector<std::string> companions(const std::string& so) {
  // libcublas.so.N needs libcublasLt.so.N
  return {"libcublasLt" + so.substr(std::string("libcublas").size())};
}

State& state() {
  static std::once_flag once;
  static State* s = new State();
  std::call_once(once, [] {
    cuda::LoadResult r = cuda::load_library({"libcublas.so.13", "libcublas.so.12"}, companions);
    if (!r.handle) {
      std::ostringstream why;
      why << "cuBLAS (libcublas.so.13 or .12) was not found; searched " << cuda::describe_search(true) << "; tried: ";
      for (size_t i = 0; i < r.tried.size(); i++) why << (i ? ", " : "") << r.tried[i];
      why << ". Install it (pip install nvidia-cublas, or the CUDA toolkit's cuBLAS) or point RESNODE_CUDA_LIB_DIRS at its lib folder";
      s->error = why.str();
      return;
    }
    std::string missing;
#define RN_BLAS_LOAD(name, ret, args)                                   \
  s->api.name = reinterpret_cast<name##_t>(dlsym(r.handle, #name));     \
  if (!s->api.name) missing += std::string(missing.empty() ? "" : ", ") + #name;
    RN_CUBLAS_FUNCS(RN_BLAS_LOAD)
#undef RN_BLAS_LOAD
#define RN_BLAS_LOAD_OPT(name, ret, args) s->api.name = reinterpret_cast<name##_t>(dlsym(r.handle, #name));
    RN_CUBLAS_OPTIONAL_FUNCS(RN_BLAS_LOAD_OPT)
#undef RN_BLAS_LOAD_OPT
    s->path = r.path;
    if (!missing.empty()) {
      s->error = "cuBLAS at " + r.path + " lacks " + missing;
      return;
    }
    s->major = r.path.find(".so.13") != std::string::npos ? 13 : 12;
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

const char* status_name(Status st) {
  State& s = state();
  if (s.ok && s.api.cublasGetStatusString) return s.api.cublasGetStatusString(st);
  switch (st) {
    case STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

}  // namespace blas

namespace cuda {
LibraryInfo cublas_info() {
  LibraryInfo i;
  i.name = "cublas";
  auto& s = blas::state();
  i.loaded = s.ok;
  i.path = s.path;
  i.error = s.error;
  i.version = s.major;  // the precise version needs a handle (cublasGetVersion_v2): see gemm.cu
  return i;
}
}  // namespace cuda
}  // namespace rn
