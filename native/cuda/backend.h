// The CUDA backend as the rest of the library sees it: plain C++ (no CUDA headers), so native/ops
// and native/binding compile the same way with or without nvcc. With CUDA the definitions live in
// native/cuda/*.cu and *.cc; without it native/cuda/disabled.cc defines every entry to throw
// ERR_RN_NO_CUDA (candle's dummy backend), so a CPU-only binary still links and loads.
//
// Execution model (see docs/cuda.md):
//   * one device (cuda:0), one cudaStream_t. Kernels are launched from the calling (JS) thread
//     straight onto that stream: launches are asynchronous, so ops return at once, and stream
//     order is op order. Shapes are checked before a launch (errors throw at the call site).
//   * reads synchronise: a read copies device -> pinned host memory on the stream, records an
//     event, and queues a job on the "cuda" host Stream (core/stream.h) that waits for the event
//     and copies into the destination. ops::wait(Device::CUDA, seq) waits for that job, so the
//     binding's readSync / readAsync work unchanged. GPU faults and kernel-detected errors
//     (a class index out of range) surface there as the stream's sticky error.
//   * device memory comes from a caching allocator (stream-ordered reuse is safe because there
//     is one stream); uploads and downloads go through a pool of pinned host buffers.
//
// Kernel entry points take raw pointers, outputs first, then inputs, then sizes (llm.c's order,
// the same as native/cpu/kernels.h), and a DType where the storage type can vary. They launch on
// the device stream and return; the caller (native/ops) has checked shapes and allocated outputs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "../core/tensor.h"
#include "../cpu/kernels.h"
#include "../cpu/optim.h"

namespace rn {

// ---- allocator hooks used by core/tensor.cc (runtime.cu / disabled.cc) ----
void* cuda_alloc(size_t bytes);
void cuda_free(void* p, size_t bytes);
MemStats cuda_memory_stats();
void cuda_empty_cache();
void cuda_reset_peak();
const char* cuda_status(bool* available);

namespace cuda {

// ---- device and runtime (runtime.cu) ----
struct DeviceProps {
  std::string name;
  int index = 0, major = 0, minor = 0, multiprocessors = 0, warp_size = 0, max_threads_per_block = 0;
  int clock_khz = 0, memory_clock_khz = 0, memory_bus_width = 0;
  int64_t total_memory = 0, l2_cache = 0, shared_per_block = 0;
  int driver_version = 0, runtime_version = 0;
};
bool available();                 // driver present and a device usable (queried once)
std::string status();             // one line: what is there, or why not (what was searched)
int device_count();
DeviceProps properties(int device);
bool initialized();               // this process created the device context (exit hooks sync only then)
void synchronize();               // host waits for every queued GPU op; throws the first error
void on_env_cleanup();            // sync if initialized (JS buffers may still be written by reads)
// Error thrown when CUDA cannot run here: ERR_RN_NO_CUDA with status() and the library search.
[[noreturn]] void throw_unavailable(const char* op);
// Where cuDNN / cuBLAS are looked for, in order (for messages); resolve runs python3 once to
// name the site-packages folders.
std::string library_search_description(bool resolve = true);

// TF32 for float32 convolutions and matmuls (default off: float32 results match the CPU).
void set_allow_tf32(bool on);
bool allow_tf32();

// ---- libraries (cudnn_api.cc / cublas_api.cc): loaded at first use ----
struct LibraryInfo {
  std::string name;     // "cudnn" / "cublas"
  bool loaded = false;
  int64_t version = 0;  // cudnnGetVersion() / cublasGetVersion
  std::string path;     // the file that was loaded
  std::string error;    // why not (names every path tried)
};
// Tries to load (once) and reports; never throws.
LibraryInfo cudnn_info();
LibraryInfo cublas_info();

// ---- transfers (runtime.cu) ----
// Host -> device copy of `bytes` from src (host memory that stays valid for the call) into dst
// (device). Staged through a pinned buffer; returns once src has been read.
void upload(void* dst, const void* src, size_t bytes);
// Device -> host: copies src into a pinned buffer on the stream and queues a job on the given
// host Stream (Device::CUDA's for reads, Device::CPU's for to('cpu')) that waits for the copy and
// memcpy's into dst; `keep` (dst's owner) is held until then. Returns that Stream's sequence number.
uint64_t enqueue_download(void* dst, const void* src, size_t bytes, Device host_stream,
                          std::shared_ptr<void> keep = nullptr);

// ---- memory kernels (elementwise.cu) ----
struct Strided {  // an N-d view: shape and element strides (0 = broadcast), at most kMaxDims
  int nd = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};
// dst[i] = src[i] over `shape` with the given strides; element size 1, 2, 4 or 8 bytes.
void copy_strided(void* dst, const void* src, int64_t esize, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& sdst, const std::vector<int64_t>& ssrc);
void cast(void* dst, DType dst_dt, const void* src, DType src_dt, int64_t n);
// Fills a strided view (any dtype) with v.
void fill(void* dst, DType dt, double v, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides);
// Same counter-based generator as cpu::rand_* (value i depends on (seed, offset + i) only).
void rand_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
void rand_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);

// ---- elementwise (elementwise.cu), float32 ----
void unary_forward(float* out, const float* x, int64_t n, cpu::Unary op);
void unary_backward(float* dx, const float* dy, const float* x, const float* y, int64_t n, cpu::Unary op);
void scalar_forward(float* out, const float* x, float s, int64_t n, cpu::ScalarOp op);
// out contiguous over `shape`; a, b strided (0 on broadcast dims)
void binary_forward(float* out, const float* a, const float* b, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, cpu::Binary op);
void axpy(float* y, const float* x, float alpha, int64_t n);
// The same masks as cpu::dropout_forward for the same (seed, offset).
void dropout_forward(float* out, const float* x, int64_t n, float p, uint64_t seed, uint64_t offset);
// Per-channel bias add: y[n, c, ...] += b[c] for [N, C, HW] or channels-last [N, HW, C].
void add_channel_bias(float* y, const float* b, int64_t N, int64_t C, int64_t HW, bool cl);

// ---- reductions (reduce.cu), float32, x as [outer, r, inner] ----
void sum_dim(float* out, const float* x, int64_t outer, int64_t r, int64_t inner, float scale);
void max_dim(float* out, int32_t* idx, const float* x, int64_t outer, int64_t r, int64_t inner);

// ---- GEMM through cuBLAS (gemm.cu): row-major C[b] = alpha op(A[b]) op(B[b]) + beta C[b] ----
// dt: F32, BF16 or F16 storage for A, B and C (float32 accumulation).
void gemm(void* C, const void* A, const void* B, DType dt, int64_t batch, int64_t M, int64_t N, int64_t K,
          bool transA, bool transB, float alpha, float beta, int64_t strideA, int64_t strideB, int64_t strideC);

// ---- conv2d through cuDNN (conv2d_cudnn.cu); x, y, dx, dy in NCHW or NHWC (p.channels_last),
// weights always [K, C/groups, R, S] contiguous; bias may be null. Algorithms are chosen by
// cudnnFind*AlgorithmEx once per shape / layout / dtype and cached; workspaces come from the
// caching allocator. dt: F32, BF16 or F16.
void conv2d_forward(void* y, const void* x, const void* w, const float* bias, const cpu::ConvParams& p, DType dt);
void conv2d_backward_data(void* dx, const void* dy, const void* w, const cpu::ConvParams& p, DType dt);
void conv2d_backward_weight(void* dw, const void* dy, const void* x, const cpu::ConvParams& p, DType dt);
size_t conv_cache_size();

// ---- batch norm (bn_add_relu.cu): same contracts as cpu::batchnorm_* (float32) ----
void batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, int64_t N, int64_t C,
                             int64_t HW, bool cl, float momentum, float eps);
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* mean,
                            const float* var, int64_t N, int64_t C, int64_t HW, bool cl, float eps);
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, int64_t N, int64_t C, int64_t HW, bool cl);
void batchnorm_backward_eval(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                             const float* gamma, const float* mean, const float* var, int64_t N, int64_t C,
                             int64_t HW, bool cl, float eps);

// ---- fused BatchNorm (+ add) + ReLU (bn_add_relu.cu): the contracts of cpu/bn_add_relu.h with
// a storage dtype for x, r, y, dy, dx, dr (F32, BF16 or F16); statistics, gamma, beta and the
// running stats are float32. The wiring point for native/ops/bn_add_relu.cc.
void bn_add_relu_forward_train(void* y, float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                               const void* x, const void* r, const float* gamma, const float* beta, int64_t N,
                               int64_t C, int64_t HW, bool cl, float momentum, float eps, DType dt);
void bn_add_relu_forward_eval(void* y, float* save_mean, float* save_invstd, const void* x, const void* r,
                              const float* gamma, const float* beta, const float* running_mean,
                              const float* running_var, int64_t N, int64_t C, int64_t HW, bool cl, float eps, DType dt);
void bn_add_relu_backward(void* dx, void* dr, float* dgamma, float* dbeta, const void* dy, const void* y, const void* x,
                          const float* gamma, const float* save_mean, const float* save_invstd, int64_t N, int64_t C,
                          int64_t HW, bool cl, bool training, DType dt);
// Kernel generation of the fused kernels above and of batchnorm_* (bn_add_relu.cu): 2 (default)
// or 1 (the first kernels, kept to compare and to fall back on), chosen by RESNODE_CUDA_BN=v1|v2
// (read once; another value is ERR_RN_ARG at the first BatchNorm on cuda). set_...(v) switches
// for later launches (1, 2; 0 = back to the environment's choice); ERR_RN_RANGE otherwise.
int bn_add_relu_version();
void set_bn_add_relu_version(int v);

// ---- benchmark timing (runtime.cu) ----
// timer_begin queues a kernel that keeps the GPU busy for spin_ms (so the launches that follow
// queue up behind it and then run back to back, free of host overhead) and records an event;
// timer_end records another, waits for it and returns the GPU milliseconds between the two.
void timer_begin(double spin_ms);
double timer_end();

// ---- pooling (pool.cu), NCHW float32: contracts of cpu::*pool2d_* ----
void maxpool2d_forward(float* y, int32_t* idx, const float* x, const cpu::PoolParams& p);
void maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, const cpu::PoolParams& p);
void avgpool2d_forward(float* y, const float* x, const cpu::PoolParams& p);
void avgpool2d_backward(float* dx, const float* dy, const cpu::PoolParams& p);
void adaptive_avgpool2d_forward(float* y, const float* x, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q);
void adaptive_avgpool2d_backward(float* dx, const float* dy, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q);

// ---- softmax family (softmax.cu), float32 ----
void softmax_forward(float* y, const float* x, int64_t outer, int64_t C, int64_t inner, bool log);
void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t C, int64_t inner, bool log);
// losses [N*inner], logp like x, count (int64 on the device): as cpu::cross_entropy_forward; an
// out-of-range target is recorded on the device and thrown (ERR_RN_INDEX) by the next read.
void cross_entropy_forward(float* losses, float* logp, int64_t* count, const float* x, const int32_t* target,
                           int64_t N, int64_t C, int64_t inner, float smoothing, int32_t ignore_index);
// out[0] = sum(losses) / count (reduction 1) or sum(losses) (reduction 2)
void cross_entropy_reduce(float* out, const float* losses, const int64_t* count, int64_t n, int reduction);
// As cpu::cross_entropy_backward, with the mean's 1/count read on the device.
void cross_entropy_backward(float* dx, const float* dloss, bool per_sample, int reduction, const int64_t* count,
                            const float* logp, const int32_t* target, int64_t N, int64_t C, int64_t inner,
                            float smoothing, int32_t ignore_index);

// ---- layer norm (layernorm.cu), float32 ----
void layernorm_forward(float* y, float* save_mean, float* save_rstd, const float* x, const float* gamma,
                       const float* beta, int64_t rows, int64_t D, float eps);
void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_rstd, int64_t rows, int64_t D);

// ---- optimisers (optim.cu): fused multi-tensor updates, the formulas of cpu/optim.h bit for bit
// (float32, the FMA variant). Entry points for native/ops/optim.cc.
void sgd_step_multi(const cpu::SgdTensor* ts, int64_t count, const cpu::SgdHyper& h);
void adamw_step_multi(const cpu::AdamwTensor* ts, int64_t count, const cpu::AdamwHyper& h);

}  // namespace cuda

namespace ops {
// Copy of t on another device (native/ops/memory.cc), in t's memory format when dense (contiguous
// or channels-last). To cuda: waits for queued CPU ops (an upload reads the source), then stages it
// through pinned memory. To cpu: asynchronous; the CPU stream waits for the copy.
Tensor to_device(const Tensor& t, Device dev);
}  // namespace ops
}  // namespace rn
