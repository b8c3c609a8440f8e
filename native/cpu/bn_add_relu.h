// Fused BatchNorm2d (+ residual add) + ReLU, CPU kernels (see bn_add_relu.cc for the design).
//   y = max(0, gamma * (x - mean) * invstd + beta [+ r])
// x, r, y, dy, dx, dr share one layout: [N, C, HW] (NCHW) or [N, HW, C] (channels-last, cl=true).
// Pointers that may be null: r / dr (bn+relu), gamma / beta (no affine: 1 and 0), running stats.
#pragma once
#include <cstdint>

namespace rn {
namespace cpu {

// Training: batch statistics (saved for backward as mean and invstd = 1/sqrt(var + eps)) and the
// running-stat update of batchnorm_forward_train (momentum, unbiased running variance).
// Two passes over x: statistics, then normalise + add + relu.
void bn_add_relu_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                               float* running_var, const float* x, const float* r, const float* gamma,
                               const float* beta, int64_t N, int64_t C, int64_t HW, bool cl, float momentum,
                               float eps, uint8_t* relu_bits = nullptr);
// Eval: running statistics; save_mean / save_invstd receive running_mean and 1/sqrt(running_var + eps)
// (so backward has one signature for both modes). One pass.
void bn_add_relu_forward_eval(float* y, float* save_mean, float* save_invstd, const float* x, const float* r,
                              const float* gamma, const float* beta, const float* running_mean,
                              const float* running_var, int64_t N, int64_t C, int64_t HW, bool cl, float eps,
                              uint8_t* relu_bits = nullptr);
// Backward from dy, the ReLU mask (relu_bits from the forward, or else y > 0 from the saved output
// y), the input x and the saved statistics. Writes dx, dr = dy * mask (when dr is non-null),
// dgamma, dbeta (always). training: batch-statistics backward (two passes); otherwise the eval
// backward (one pass).
void bn_add_relu_backward(float* dx, float* dr, float* dgamma, float* dbeta, const float* dy, const float* y,
                          const float* x, const float* gamma, const float* save_mean, const float* save_invstd,
                          int64_t N, int64_t C, int64_t HW, bool cl, bool training, const uint8_t* relu_bits = nullptr);
// relu_bits (forward, optional): also write the ReLU mask, bit e = (y[e] > 0) for element e in
// memory order, into a buffer of bn_add_relu_mask_bytes(elements) bytes (4 of them read slack),
// for the backward to read instead of y (1/32 of the bytes). Only where the kernels that run now
// make bits (v2; v1 reads y).
bool bn_add_relu_makes_masks();
int64_t bn_add_relu_mask_bytes(int64_t elems);

// Kernel versions, llm.c style (bench/kernels/bn_add_relu compares them):
//   1  portable loops that GCC vectorises (RN_VEC clones: AVX-512 / AVX2 / baseline)
//   2  AVX-512 intrinsics: register accumulators, masked tails, non-temporal stores for big outputs
int bn_add_relu_version();           // the version that runs now
int bn_add_relu_best_version();      // 2 where the CPU has AVX-512F+DQ, else 1
// 0 = best available (the default). Throws RnError(ERR_RN_RANGE) for a version this CPU cannot run.
void set_bn_add_relu_version(int v);
// Outputs of at least this many bytes are written with non-temporal stores by version 2 (they
// would not stay in cache anyway); < 0 restores the default (16 MiB).
int64_t bn_add_relu_nt_bytes();
void set_bn_add_relu_nt_bytes(int64_t bytes);

}  // namespace cpu
}  // namespace rn
