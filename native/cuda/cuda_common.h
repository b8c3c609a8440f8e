// Shared by the .cu files of the CUDA backend: the device context (stream, SM count), error
// checks, scratch buffers from the caching allocator, storage-type loads/stores and launch sizes.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>
#include <functional>
#include <memory>
#include "backend.h"

namespace rn {
namespace cuda {

// The device stream every op is launched on (creates the context on first use; throws
// ERR_RN_NO_CUDA when there is no usable device).
cudaStream_t stream();
int sm_count();
// Throws RnError (ERR_RN_OOM for allocation failures, else ERR_RN_INTERNAL) when e != success.
void check(cudaError_t e, const char* what);
// After a kernel launch: a bad launch configuration (or an earlier fault) throws here.
void check_launch(const char* what);

// Errors found by kernels (a class index out of range): the kernel records them in a small
// device buffer; check_async() copies it to pinned memory on the stream and queues a job on the
// "cuda" host Stream that calls check(host copy) -- which may throw, making it the stream's
// sticky error, thrown by the next read (the CPU backend's semantics for such errors).
void check_async(const void* dev_buf, size_t bytes, std::function<void(const void*)> check);

// A temporary device buffer from the caching allocator; freeing it right after queueing the
// kernels that use it is safe (one stream: a later reuse is ordered after them).
struct Scratch {
  std::shared_ptr<Storage> s;
  explicit Scratch(size_t bytes) : s(alloc_storage(bytes ? bytes : 1, Device::CUDA)) {}
  template <class T> T* as() const { return static_cast<T*>(s->data); }
};

// ---- launch sizes ----
constexpr int kThreads = 256;
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  // grid-stride loops cover the rest; enough blocks to fill the device several times over
  int64_t b = (n + threads - 1) / threads;
  int64_t cap = (int64_t)sm_count() * 32;
  if (b > cap) b = cap;
  return (unsigned)(b < 1 ? 1 : b);
}

// ---- storage types: float math, T in memory ----
template <class T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <class T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }

// Calls f(T{}) with T the storage type of dt (float, __nv_bfloat16, __half).
template <class F>
void dispatch_floating(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::F32: f(float{}); return;
    case DType::BF16: f(__nv_bfloat16{}); return;
    case DType::F16: f(__half{}); return;
    default:
      throw RnError("ERR_RN_DTYPE", cat(op, ": ", dtype_name(dt), " is not supported on cuda (float32, bfloat16, float16)"),
                    ErrKind::Type);
  }
}

// ---- warp / block reductions ----
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets it.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T part[32];
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();  // part may still be read by a previous call
  if (lane == 0) part[wid] = v;
  __syncthreads();
  T r = lane < nw ? part[lane] : T(0);
  return warp_sum(r);
}

}  // namespace cuda
}  // namespace rn
