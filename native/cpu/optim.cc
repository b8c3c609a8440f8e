// Optimiser kernels: SGD (momentum, dampening, Nesterov, weight decay, maximize) and AdamW
// (decoupled weight decay, bias corrections, amsgrad), each one fused pass over the parameter,
// its gradient and its state, plus the reductions behind clip_grad_norm.
//
// Why fused: PyTorch's single-tensor path reads and writes every parameter-sized tensor several
// times per step (add, mul_, add_, addcmul_, sqrt, div, add_, addcdiv_: ~10 passes for AdamW);
// here each element is loaded once, updated in registers and stored once, so a step costs one
// sweep of memory (AdamW: 4 reads + 3 writes per element, 5/4 with amsgrad).
//
// The arithmetic follows torch 1.13 op by op in float32 (same order of roundings, scalars
// rounded to float32 where torch rounds them), so results match PyTorch to the last few ulps;
// the flat loops are written for the auto-vectoriser (RN_VEC clones per ISA), with the flags
// hoisted into separate loops so every loop body is branch-free.
#include <algorithm>
#include <cmath>
#include <vector>
#include "optim.h"
#include "../core/parallel.h"
#include "../core/simd.h"

namespace rn {
namespace cpu {
namespace {
constexpr int64_t kGrain = 1 << 15;   // elements per parallel chunk
constexpr int64_t kBlock = 1 << 14;   // fixed reduction block: thread-count independent sums

// ---- SGD ----------------------------------------------------------------------------------------
// d_p = sign * g (+ wd * p)
RN_VEC void sgd_plain_k(float* __restrict p, const float* __restrict g, int64_t n, float neg_lr, float sign, float wd) {
  if (wd != 0.f) {
    for (int64_t i = 0; i < n; i++) {
      float d = sign * g[i] + wd * p[i];
      p[i] = p[i] + neg_lr * d;
    }
  } else {
    for (int64_t i = 0; i < n; i++) p[i] = p[i] + neg_lr * (sign * g[i]);
  }
}
RN_VEC void sgd_momentum_k(float* __restrict p, float* __restrict buf, const float* __restrict g, int64_t n, float neg_lr,
                           float sign, float wd, float mom, float omd, bool nesterov, bool init) {
  // Four loop bodies (init x nesterov); weight decay enters as wd * p with wd possibly 0, which
  // is exact unless p is inf/NaN, so that case takes the wd == 0 loops through `use_wd`.
  const bool use_wd = wd != 0.f;
  if (init) {
    if (nesterov) {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = d + wd * p[i];
        buf[i] = d;
        p[i] = p[i] + neg_lr * (d + mom * d);
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = d + wd * p[i];
        buf[i] = d;
        p[i] = p[i] + neg_lr * d;
      }
    }
  } else {
    if (nesterov) {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = d + wd * p[i];
        float b = buf[i] * mom;
        b = b + omd * d;
        buf[i] = b;
        p[i] = p[i] + neg_lr * (d + mom * b);
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = d + wd * p[i];
        float b = buf[i] * mom;
        b = b + omd * d;
        buf[i] = b;
        p[i] = p[i] + neg_lr * b;
      }
    }
  }
}

// ---- AdamW --------------------------------------------------------------------------------------
RN_VEC void adamw_k(float* __restrict p, float* __restrict m, float* __restrict v, const float* __restrict g, int64_t n,
                    float decay, float b1, float b2, float omb1, float omb2, float eps, float sign, float neg_step,
                    float bc2s) {
  for (int64_t i = 0; i < n; i++) {
    float gi = sign * g[i];
    float pi = p[i] * decay;
    float mi = m[i] * b1;
    mi = mi + omb1 * gi;
    float vi = v[i] * b2;
    vi = vi + omb2 * (gi * gi);
    float denom = std::sqrt(vi) / bc2s + eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + neg_step * (mi / denom);
  }
}
RN_VEC void adamw_ams_k(float* __restrict p, float* __restrict m, float* __restrict v, float* __restrict vmax,
                        const float* __restrict g, int64_t n, float decay, float b1, float b2, float omb1, float omb2,
                        float eps, float sign, float neg_step, float bc2s) {
  for (int64_t i = 0; i < n; i++) {
    float gi = sign * g[i];
    float pi = p[i] * decay;
    float mi = m[i] * b1;
    mi = mi + omb1 * gi;
    float vi = v[i] * b2;
    vi = vi + omb2 * (gi * gi);
    float vm = vmax[i];
    vm = (vi > vm || std::isnan(vi)) ? vi : vm;  // torch.maximum propagates NaN
    float denom = std::sqrt(vm) / bc2s + eps;
    m[i] = mi;
    v[i] = vi;
    vmax[i] = vm;
    p[i] = pi + neg_step * (mi / denom);
  }
}

// ---- reductions ---------------------------------------------------------------------------------
// Eight independent double accumulators (a fixed summation order the SLP vectoriser can use).
RN_VEC double sumsq_k(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j] * (double)x[i + j];
  for (int j = 0; i < n; i++, j++) acc[j] += (double)x[i] * (double)x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
RN_VEC double sumabs_k(const float* x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += (double)std::fabs(x[i + j]);
  for (int j = 0; i < n; i++, j++) acc[j] += (double)std::fabs(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
double sumpow_k(const float* x, int64_t n, double p) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += std::pow((double)std::fabs(x[i]), p);
  return s;
}
double maxabs_k(const float* x, int64_t n) {
  float m = 0.f;
  for (int64_t i = 0; i < n; i++) {
    float a = std::fabs(x[i]);
    if (a > m || std::isnan(a)) m = a;
    if (std::isnan(m)) break;  // NaN wins
  }
  return (double)m;
}
RN_VEC void scale_k(float* x, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = x[i] * s;
}
}  // namespace

void sgd_step(float* param, float* buf, const float* grad, int64_t n, const SgdHyper& h, bool init) {
  const float neg_lr = -h.lr, sign = h.maximize ? -1.f : 1.f;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (h.momentum == 0.f || !buf)
      sgd_plain_k(param + b, grad + b, e - b, neg_lr, sign, h.weight_decay);
    else
      sgd_momentum_k(param + b, buf + b, grad + b, e - b, neg_lr, sign, h.weight_decay, h.momentum, h.one_minus_dampening,
                     h.nesterov, init);
  });
}

void adamw_step(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq, const float* grad, int64_t n,
                const AdamwHyper& h, float step_size, float bias_correction2_sqrt) {
  const float sign = h.maximize ? -1.f : 1.f, neg_step = -step_size;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (h.amsgrad && max_exp_avg_sq)
      adamw_ams_k(param + b, exp_avg + b, exp_avg_sq + b, max_exp_avg_sq + b, grad + b, e - b, h.decay, h.beta1, h.beta2,
                  h.one_minus_beta1, h.one_minus_beta2, h.eps, sign, neg_step, bias_correction2_sqrt);
    else
      adamw_k(param + b, exp_avg + b, exp_avg_sq + b, grad + b, e - b, h.decay, h.beta1, h.beta2, h.one_minus_beta1,
              h.one_minus_beta2, h.eps, sign, neg_step, bias_correction2_sqrt);
  });
}

double abs_pow_sum(const float* x, int64_t n, double p) {
  if (n <= 0) return 0.0;
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> part((size_t)nb, 0.0);
  const bool is_inf = std::isinf(p);
  parallel_for(nb, 2, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      const float* xs = x + b * kBlock;
      int64_t len = std::min(kBlock, n - b * kBlock);
      part[(size_t)b] = is_inf ? maxabs_k(xs, len) : p == 2.0 ? sumsq_k(xs, len) : p == 1.0 ? sumabs_k(xs, len) : sumpow_k(xs, len, p);
    }
  });
  double s = 0.0;
  for (double v : part) {
    if (is_inf) s = (v > s || std::isnan(v)) ? v : s;
    else s += v;
  }
  return s;
}

void scale_inplace(float* x, float s, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { scale_k(x + b, s, e - b); });
}

}  // namespace cpu
}  // namespace rn
