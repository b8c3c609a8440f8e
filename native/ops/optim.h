// Optimiser ops (optim.cc): in-place multi-tensor updates of one parameter group, and global-norm
// gradient clipping. Like every op: arguments are checked synchronously (errors name the op, the
// tensor's index and both shapes), then one closure is enqueued on the device's stream; nothing
// waits for compute. Parameters and state are updated in place.
#pragma once
#include <vector>
#include "ops.h"
#include "../cpu/optim.h"

namespace rn {
namespace ops {

struct SgdArgs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};
// PyTorch 1.13 SGD over a parameter group. bufs[i] may be an empty Tensor when momentum == 0
// (else it must have params[i]'s shape and strides); init[i] marks a buffer allocated for this
// step, which the kernel fills with d_p (torch's `buf = clone(d_p)` on the first step).
void sgd_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& bufs,
               const std::vector<bool>& init, const SgdArgs& a);

struct AdamwArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize;
};
// PyTorch 1.13 AdamW over a parameter group. steps[i] is parameter i's step count including this
// update (>= 1); bias corrections are computed from it in double, as torch does with Python
// floats. max_exp_avg_sqs is used (and required) only with amsgrad.
void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avgs,
                 const std::vector<Tensor>& exp_avg_sqs, const std::vector<Tensor>& max_exp_avg_sqs,
                 const std::vector<double>& steps, const AdamwArgs& a);

// torch.nn.utils.clip_grad_norm_: total = norm_p(norm_p(g_i) for each i) (p = inf: max |g|),
// g_i *= min(1, max_norm / (total + 1e-6)) in place. Returns total as a 0-d float32 tensor
// (written when the op runs). max_norm = inf computes the norm only.
Tensor clip_grad_norm_(const std::vector<Tensor>& grads, double max_norm, double norm_type);

// Uninitialised tensor with t's shape and memory format (optimiser state for a parameter).
Tensor empty_like(const Tensor& t);

}  // namespace ops
}  // namespace rn
