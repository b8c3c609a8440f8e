// CUDA runtime side of the backend (cudart linked statically): device detection and device
// memory. The kernels, cuDNN/cuBLAS loaders and GPU ops are the CUDA issue's work; until they
// land, CUDA tensors are refused at the binding with ERR_RN_NO_CUDA.
#include <cuda_runtime.h>
#include <mutex>
#include <string>
#include "../core/tensor.h"

namespace rn {
namespace {
std::mutex g_m;
int64_t g_live = 0, g_peak = 0, g_allocs = 0;
std::string g_status;
}  // namespace

const char* cuda_status(bool* available) {
  std::lock_guard<std::mutex> l(g_m);
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  *available = e == cudaSuccess && n > 0;
  if (e != cudaSuccess) g_status = std::string("built with CUDA; no usable device: ") + cudaGetErrorString(e);
  else if (n == 0) g_status = "built with CUDA; no CUDA device found";
  else g_status = "built with CUDA; " + std::to_string(n) + " device(s) found (GPU ops not yet enabled in this build)";
  return g_status.c_str();
}

void* cuda_alloc(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess)
    throw RnError("ERR_RN_OOM", cat("out of memory: could not allocate ", bytes, " bytes on cuda"));
  std::lock_guard<std::mutex> l(g_m);
  g_live += (int64_t)bytes; g_allocs++;
  if (g_live > g_peak) g_peak = g_live;
  return p;
}
void cuda_free(void* p, size_t bytes) {
  cudaFree(p);
  std::lock_guard<std::mutex> l(g_m);
  g_live -= (int64_t)bytes;
}
MemStats cuda_memory_stats() {
  std::lock_guard<std::mutex> l(g_m);
  return {g_live, g_peak, 0, g_allocs};
}
void cuda_empty_cache() {}
void cuda_reset_peak() {
  std::lock_guard<std::mutex> l(g_m);
  g_peak = g_live;
}

}  // namespace rn
