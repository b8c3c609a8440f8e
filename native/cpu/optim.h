// CPU kernels of the optimisers (optim.cc): the whole update of one parameter tensor in one pass
// over memory. Same conventions as kernels.h: raw pointers, outputs first (updated in place),
// then const inputs, then sizes and hyper-parameters. Each formula is PyTorch 1.13's
// single-tensor path (torch/optim/sgd.py, torch/optim/adamw.py), step for step in float32, with
// fused multiply-adds where torch's CPU kernels use them: on FMA CPUs the results are
// bit-identical to torch's for the same gradients (see optim.cc).
#pragma once
#include <cstdint>

namespace rn {
namespace cpu {

// SGD hyper-parameters as PyTorch applies them (each scalar already rounded to float32, as
// torch's `add_(..., alpha=x)` does).
struct SgdHyper {
  float lr;              // param += -lr * d_p
  float momentum;        // 0: no buffer
  float one_minus_dampening;
  float weight_decay;    // 0: skipped (so a NaN/inf parameter does not leak into d_p)
  bool nesterov;
  bool maximize;
};
// d_p = (maximize ? -g : g) + wd * p
// buf = init ? d_p : momentum * buf + (1 - dampening) * d_p            (momentum != 0)
// d_p = nesterov ? d_p + momentum * buf : buf                          (momentum != 0)
// p  += -lr * d_p
// `buf` may be null when momentum == 0; `init` marks a fresh (uninitialised) buffer.
void sgd_step(float* param, float* buf, const float* grad, int64_t n, const SgdHyper& h, bool init);
// Many tensors with one hyper-parameter set (a parameter group), split into chunks across all of
// them so a step over many small tensors still uses every thread.
struct SgdTensor {
  float* param;
  float* buf;
  const float* grad;
  int64_t n;
  bool init;
};
void sgd_step_multi(const SgdTensor* ts, int64_t count, const SgdHyper& h);

// AdamW hyper-parameters; the per-step bias corrections are computed by the caller in double
// (Python floats in torch) and passed as float32.
struct AdamwHyper {
  float decay;           // param *= 1 - lr * weight_decay
  float beta1, beta2;
  float one_minus_beta1, one_minus_beta2;
  float eps;
  bool amsgrad;
  bool maximize;
};
// g = maximize ? -g : g;  p *= decay
// m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
// vmax = max(vmax, v)                                   (amsgrad; the denominator uses vmax)
// p += -step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
void adamw_step(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq, const float* grad, int64_t n,
                const AdamwHyper& h, float step_size, float bias_correction2_sqrt);
struct AdamwTensor {
  float* param;
  float* exp_avg;
  float* exp_avg_sq;
  float* max_exp_avg_sq;  // null unless amsgrad
  const float* grad;
  int64_t n;
  float step_size;        // lr / (1 - beta1^step)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^step)
};
void adamw_step_multi(const AdamwTensor* ts, int64_t count, const AdamwHyper& h);

// sum_i |x_i|^p for finite p > 0 (p = 1 and 2 exact special cases), or max_i |x_i| for p = inf,
// accumulated in double over fixed-size blocks (the result does not depend on the thread count).
double abs_pow_sum(const float* x, int64_t n, double p);
// The same for `count` tensors at once (parallel over blocks of all of them): out[i] for xs[i].
void abs_pow_sum_multi(double* out, const float* const* xs, const int64_t* ns, int64_t count, double p);

// x *= s, for `count` tensors
void scale_multi(float* const* xs, const int64_t* ns, int64_t count, float s);

}  // namespace cpu
}  // namespace rn
