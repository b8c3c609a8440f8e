// Dispatch for the fused BatchNorm2d (+ residual add) + ReLU op (kernels in cpu/bn_add_relu.cc).
// Same conventions as ops.h: argument/shape checks throw at the call site, naming the op
// ("batchNormAddRelu", or "batchNormRelu" without a residual); the kernel is enqueued on the
// device's stream.
#pragma once
#include <tuple>
#include "ops.h"

namespace rn {
namespace ops {

// y = relu(bn(x) [+ residual]) for x [N, C, ...] (NCHW, or channels-last 4-D memory, which y keeps;
// the residual is brought to x's layout). Returns y, save_mean, save_invstd: the batch statistics
// in training, running_mean and 1/sqrt(running_var + eps) in eval — backward takes either; and,
// when save_mask is set and the CPU kernels that run make one, the ReLU bit mask (uint8,
// cpu::bn_add_relu_mask_bytes) for backward to take instead of y; else an empty tensor.
std::tuple<Tensor, Tensor, Tensor, Tensor> bn_add_relu_forward(const Tensor& x, const Tensor* residual,
                                                               const Tensor* gamma, const Tensor* beta,
                                                               const Tensor* running_mean, const Tensor* running_var,
                                                               bool training, float momentum, float eps,
                                                               bool save_mask = false);
// Returns dx, dresidual (empty unless has_residual), dgamma, dbeta. y is the forward's output or
// the bit mask it returned.
std::tuple<Tensor, Tensor, Tensor, Tensor> bn_add_relu_backward(const Tensor& dy, const Tensor& y, const Tensor& x,
                                                                const Tensor* gamma, const Tensor& save_mean,
                                                                const Tensor& save_invstd, bool training,
                                                                bool has_residual);

}  // namespace ops
}  // namespace rn
