// The native op surface: one dispatch function per op. Each checks dtype/device/shape (throwing
// RnError that names the op and the shapes), allocates outputs, and enqueues the CPU kernel (or
// the CUDA one) on the device's stream. Nothing here waits for compute except read_*.
#pragma once
#include <array>
#include <functional>
#include <tuple>
#include <vector>
#include "../core/tensor.h"
#include "../cpu/kernels.h"

namespace rn {
namespace ops {

using Shape = std::vector<int64_t>;

// ---- memory (memory.cc) ----
Tensor from_host(const void* src, size_t bytes, const Shape& shape, DType dt);
Tensor empty(const Shape& shape, DType dt, Device dev);
// Enqueues the copy of t's elements (contiguous order) into dst and returns the stream position.
uint64_t enqueue_read(const Tensor& t, void* dst);
void wait(Device dev, uint64_t seq);  // also rethrows the stream's sticky error
void sync(Device dev);
Tensor view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset);
Tensor contiguous(const Tensor& t);
Tensor to_channels_last(const Tensor& t);
void copy_(const Tensor& dst, const Tensor& src);  // src broadcast to dst's shape
Tensor cast(const Tensor& t, DType dt);
void fill_(const Tensor& t, double v);
void rand_(const Tensor& t, bool normal, uint64_t seed, uint64_t offset, float a, float b);

// ---- elementwise (elementwise.cc) ----
Tensor unary(cpu::Unary op, const Tensor& x);
Tensor unary_backward(cpu::Unary op, const Tensor& dy, const Tensor& x, const Tensor& y);
Tensor binary(cpu::Binary op, const Tensor& a, const Tensor& b);
Tensor scalar(cpu::ScalarOp op, const Tensor& x, float s);
void axpy_(const Tensor& y, const Tensor& x, float alpha);  // y += alpha * x, same shape
Tensor dropout_forward(const Tensor& x, float p, uint64_t seed, uint64_t offset);
Tensor dropout_backward(const Tensor& dy, float p, uint64_t seed, uint64_t offset);
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// ---- reductions (reduce.cc) ----
Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim, float scale);
std::pair<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim);

// ---- matmul (gemm.cc): a [..., M, K] x b [..., K, N] (op() per trans flags) ----
Tensor matmul(const Tensor& a, const Tensor& b, bool transA, bool transB);

// ---- conv2d (conv2d.cc) ----
struct Conv2dArgs { int64_t sh, sw, ph, pw, dh, dw, groups; };
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Conv2dArgs& a);
// acc: a gradient already there for x (shape xshape, dense in the requested layout), which the
// result is added into and returned: the two gradient paths of a residual block summed without a
// separate add pass (the Winograd kernels add while they store).
Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& xshape, bool channels_last,
                            const Conv2dArgs& a, const Tensor* acc = nullptr);
Tensor conv2d_backward_weight(const Tensor& dy, const Tensor& x, const Shape& wshape, const Conv2dArgs& a);

// ---- batch norm (batchnorm.cc) ----
// Returns y, save_mean, save_invstd (the last two empty in eval mode).
std::tuple<Tensor, Tensor, Tensor> batchnorm_forward(const Tensor& x, const Tensor* gamma, const Tensor* beta,
                                                     const Tensor* running_mean, const Tensor* running_var,
                                                     bool training, float momentum, float eps);
// Returns dx, dgamma, dbeta. Training mode uses the saved batch statistics; eval mode the
// running ones (save_mean/save_invstd are then running_mean/running_var).
std::tuple<Tensor, Tensor, Tensor> batchnorm_backward(const Tensor& dy, const Tensor& x, const Tensor* gamma,
                                                      const Tensor& save_mean, const Tensor& save_invstd,
                                                      bool training, float eps);

// ---- pooling (pool.cc) ----
struct Pool2dArgs { int64_t kh, kw, sh, sw, ph, pw; bool ceil_mode, count_include_pad; };
std::pair<Tensor, Tensor> maxpool2d_forward(const Tensor& x, const Pool2dArgs& a);
Tensor maxpool2d_backward(const Tensor& dy, const Tensor& idx, const Shape& xshape, const Pool2dArgs& a);
Tensor avgpool2d_forward(const Tensor& x, const Pool2dArgs& a);
Tensor avgpool2d_backward(const Tensor& dy, const Shape& xshape, const Pool2dArgs& a);
Tensor adaptive_avgpool2d_forward(const Tensor& x, int64_t P, int64_t Q);
Tensor adaptive_avgpool2d_backward(const Tensor& dy, const Shape& xshape);

// ---- softmax family (softmax.cc) ----
Tensor softmax_forward(const Tensor& x, int64_t dim, bool log);
Tensor softmax_backward(const Tensor& dy, const Tensor& y, int64_t dim, bool log);
// reduction: 0 none, 1 mean, 2 sum. Returns loss and the saved log-probabilities (and the
// count of non-ignored targets as a 1-element i64 tensor, used by mean's backward).
std::tuple<Tensor, Tensor, Tensor> cross_entropy_forward(const Tensor& logits, const Tensor& target, int reduction,
                                                         float smoothing, int32_t ignore_index);
Tensor cross_entropy_backward(const Tensor& dloss, const Tensor& logp, const Tensor& target, const Tensor& count,
                              int reduction, float smoothing, int32_t ignore_index);

// ---- layer norm (layernorm.cc) ----
std::tuple<Tensor, Tensor, Tensor> layernorm_forward(const Tensor& x, int64_t D, const Tensor* gamma,
                                                     const Tensor* beta, float eps);
std::tuple<Tensor, Tensor, Tensor> layernorm_backward(const Tensor& dy, const Tensor& x, const Tensor* gamma,
                                                      const Tensor& mean, const Tensor& rstd, int64_t D);

// ---- shared checks (check.cc) ----
void check_live(const Tensor& t, const char* op, const char* name);
void check_f32(const Tensor& t, const char* op, const char* name);
// Float storage the CUDA kernels take: float32 anywhere, bfloat16 / float16 on CUDA (the tensor-core
// paths of conv2d and matmul; F.autocast casts to them). Returns the dtype.
DType check_float_storage(const Tensor& t, const char* op, const char* name);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op, const char* na, const char* nb);
void check_device(const Tensor& a, const Tensor& b, const char* op, const char* na, const char* nb);
// CPU-only ops in a CPU-only build: CUDA tensors cannot exist, but the message stays honest.
void require_cpu(const Tensor& t, const char* op);
uint64_t enqueue(Device dev, std::function<void()> fn);

}  // namespace ops
}  // namespace rn
