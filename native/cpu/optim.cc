// Optimiser kernels: SGD (momentum, dampening, Nesterov, weight decay, maximize) and AdamW
// (decoupled weight decay, bias corrections, amsgrad), each one fused pass over the parameter,
// its gradient and its state, plus the reductions behind clip_grad_norm.
//
// Why fused: PyTorch's single-tensor path reads and writes every parameter-sized tensor several
// times per step (add, mul_, add_, addcmul_, sqrt, div, add_, addcdiv_: ~10 passes for AdamW);
// here each element is loaded once, updated in registers and stored once, so a step costs one
// sweep of memory (AdamW: 4 reads + 3 writes per element, 5/4 with amsgrad).
//
// Bit-exact with PyTorch 1.13 on the same gradients (test/unit/optim.test.ts checks it): every
// torch op becomes one float32 rounding here, in torch's order. torch's `add(x, alpha=a)` is a
// fused multiply-add on FMA CPUs (ATen's vec::fmadd) and its addcmul_ contracts to one as well,
// so those steps use fma(); everything else is rounded separately, which is why these loops are
// compiled without automatic contraction (RN_NO_CONTRACT: GCC's default -ffp-contract=fast would
// otherwise fuse e.g. AdamW's `p * (1 - lr * wd)` into the following add). CPUs without FMA get
// the unfused variant (as torch does there). The loops vectorise (RN_VEC clones per ISA); flags
// are loop-invariant and split into separate loops.
#include <algorithm>
#include <cmath>
#include <vector>
#include "optim.h"
#include "../core/parallel.h"
#include "../core/simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#define RN_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define RN_NO_CONTRACT  // clang contracts only within one expression; each rounding here is its own statement
#endif

namespace rn {
namespace cpu {
namespace {
constexpr int64_t kGrain = 1 << 15;   // elements per parallel chunk
constexpr int64_t kBlock = 1 << 14;   // fixed reduction block: thread-count independent sums

// c + a * b: fused (one rounding) when the CPU has FMA, as torch's add with alpha
template <bool FMA>
inline float madd(float a, float b, float c) {
  if constexpr (FMA) return std::fma(a, b, c);
  else return c + a * b;
}
bool cpu_has_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");  // the x86-64-v3 / v4 clones
#elif defined(__aarch64__)
  return true;
#else
  return false;
#endif
}
const bool kFma = cpu_has_fma();

// ---- SGD ----------------------------------------------------------------------------------------
// torch: d_p = -g (maximize); d_p = d_p.add(p, alpha=wd); p.add_(d_p, alpha=-lr)
template <bool FMA>
RN_VEC RN_NO_CONTRACT void sgd_plain_k(float* __restrict p, const float* __restrict g, int64_t n, float neg_lr, float sign,
                                       float wd) {
  if (wd != 0.f) {
    for (int64_t i = 0; i < n; i++) {
      float d = madd<FMA>(wd, p[i], sign * g[i]);
      p[i] = madd<FMA>(neg_lr, d, p[i]);
    }
  } else {
    for (int64_t i = 0; i < n; i++) p[i] = madd<FMA>(neg_lr, sign * g[i], p[i]);
  }
}
// + buf = d_p (first step) or buf.mul_(momentum).add_(d_p, alpha=1-dampening);
//   d_p = nesterov ? d_p.add(buf, alpha=momentum) : buf
template <bool FMA>
RN_VEC RN_NO_CONTRACT void sgd_momentum_k(float* __restrict p, float* __restrict buf, const float* __restrict g, int64_t n,
                                          float neg_lr, float sign, float wd, float mom, float omd, bool nesterov, bool init) {
  // weight decay is skipped when 0 (as torch does: 0 * inf would be NaN)
  const bool use_wd = wd != 0.f;
  if (init) {
    if (nesterov) {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = madd<FMA>(wd, p[i], d);
        buf[i] = d;
        p[i] = madd<FMA>(neg_lr, madd<FMA>(mom, d, d), p[i]);
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = madd<FMA>(wd, p[i], d);
        buf[i] = d;
        p[i] = madd<FMA>(neg_lr, d, p[i]);
      }
    }
  } else {
    if (nesterov) {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = madd<FMA>(wd, p[i], d);
        float b = madd<FMA>(omd, d, buf[i] * mom);
        buf[i] = b;
        p[i] = madd<FMA>(neg_lr, madd<FMA>(mom, b, d), p[i]);
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        float d = sign * g[i];
        if (use_wd) d = madd<FMA>(wd, p[i], d);
        float b = madd<FMA>(omd, d, buf[i] * mom);
        buf[i] = b;
        p[i] = madd<FMA>(neg_lr, b, p[i]);
      }
    }
  }
}

// ---- AdamW --------------------------------------------------------------------------------------
// torch: p.mul_(1 - lr*wd); m.mul_(b1).add_(g, alpha=1-b1); v.mul_(b2).addcmul_(g, g, value=1-b2);
//        [vmax = maximum(vmax, v)]; denom = (v.sqrt() / bc2_sqrt).add_(eps);
//        p.addcdiv_(m, denom, value=-step_size)        (addcdiv: p + (value * m) / denom)
template <bool FMA>
RN_VEC RN_NO_CONTRACT void adamw_k(float* __restrict p, float* __restrict m, float* __restrict v, const float* __restrict g,
                                   int64_t n, float decay, float b1, float b2, float omb1, float omb2, float eps, float sign,
                                   float neg_step, float bc2s) {
  for (int64_t i = 0; i < n; i++) {
    float gi = sign * g[i];
    float pi = p[i] * decay;
    float mi = madd<FMA>(omb1, gi, m[i] * b1);
    float vi = madd<FMA>(omb2 * gi, gi, v[i] * b2);
    float denom = std::sqrt(vi) / bc2s + eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi + (neg_step * mi) / denom;
  }
}
template <bool FMA>
RN_VEC RN_NO_CONTRACT void adamw_ams_k(float* __restrict p, float* __restrict m, float* __restrict v, float* __restrict vmax,
                                       const float* __restrict g, int64_t n, float decay, float b1, float b2, float omb1,
                                       float omb2, float eps, float sign, float neg_step, float bc2s) {
  for (int64_t i = 0; i < n; i++) {
    float gi = sign * g[i];
    float pi = p[i] * decay;
    float mi = madd<FMA>(omb1, gi, m[i] * b1);
    float vi = madd<FMA>(omb2 * gi, gi, v[i] * b2);
    float vm = vmax[i];
    vm = (vi > vm || std::isnan(vi)) ? vi : vm;  // torch.maximum propagates NaN
    float denom = std::sqrt(vm) / bc2s + eps;
    m[i] = mi;
    v[i] = vi;
    vmax[i] = vm;
    p[i] = pi + (neg_step * mi) / denom;
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

// Work split over several tensors: chunks of at most kGrain elements of any of them. Chunks run
// the serial loops above (never a nested parallel_for), in parallel when there is enough work.
struct Chunk {
  int64_t t, b, e;
};
std::vector<Chunk> chunks_of(const int64_t* ns, int64_t count, int64_t grain, int64_t* total) {
  std::vector<Chunk> out;
  *total = 0;
  for (int64_t t = 0; t < count; t++) {
    for (int64_t b = 0; b < ns[t]; b += grain) out.push_back({t, b, std::min(ns[t], b + grain)});
    *total += ns[t];
  }
  return out;
}
template <class F>
void run_chunks(const std::vector<Chunk>& cs, int64_t total, const F& f) {
  if (total <= kGrain) {
    for (const Chunk& c : cs) f(c);
    return;
  }
  parallel_for((int64_t)cs.size(), 1, [&](int64_t a, int64_t z) {
    for (int64_t k = a; k < z; k++) f(cs[(size_t)k]);
  });
}
template <class T>
std::vector<int64_t> sizes_of(const T* ts, int64_t count) {
  std::vector<int64_t> ns((size_t)count);
  for (int64_t i = 0; i < count; i++) ns[(size_t)i] = ts[i].n;
  return ns;
}
double block_value(const float* x, int64_t n, double p) {
  if (std::isinf(p)) return maxabs_k(x, n);
  if (p == 2.0) return sumsq_k(x, n);
  if (p == 1.0) return sumabs_k(x, n);
  return sumpow_k(x, n, p);
}
}  // namespace

void sgd_step_multi(const SgdTensor* ts, int64_t count, const SgdHyper& h) {
  const float neg_lr = -h.lr, sign = h.maximize ? -1.f : 1.f;
  auto ns = sizes_of(ts, count);
  int64_t total;
  auto cs = chunks_of(ns.data(), count, kGrain, &total);
  run_chunks(cs, total, [&](const Chunk& c) {
    const SgdTensor& t = ts[c.t];
    float *p = t.param + c.b, *b = t.buf ? t.buf + c.b : nullptr;
    const float* g = t.grad + c.b;
    const int64_t n = c.e - c.b;
    if (h.momentum == 0.f || !b) {
      if (kFma) sgd_plain_k<true>(p, g, n, neg_lr, sign, h.weight_decay);
      else sgd_plain_k<false>(p, g, n, neg_lr, sign, h.weight_decay);
    } else if (kFma) {
      sgd_momentum_k<true>(p, b, g, n, neg_lr, sign, h.weight_decay, h.momentum, h.one_minus_dampening, h.nesterov, t.init);
    } else {
      sgd_momentum_k<false>(p, b, g, n, neg_lr, sign, h.weight_decay, h.momentum, h.one_minus_dampening, h.nesterov, t.init);
    }
  });
}
void sgd_step(float* param, float* buf, const float* grad, int64_t n, const SgdHyper& h, bool init) {
  SgdTensor t{param, buf, grad, n, init};
  sgd_step_multi(&t, 1, h);
}

void adamw_step_multi(const AdamwTensor* ts, int64_t count, const AdamwHyper& h) {
  const float sign = h.maximize ? -1.f : 1.f;
  auto ns = sizes_of(ts, count);
  int64_t total;
  auto cs = chunks_of(ns.data(), count, kGrain, &total);
  run_chunks(cs, total, [&](const Chunk& c) {
    const AdamwTensor& t = ts[c.t];
    const int64_t b = c.b, n = c.e - c.b;
    auto run = [&](auto ams, auto plain) {
      if (h.amsgrad && t.max_exp_avg_sq)
        ams(t.param + b, t.exp_avg + b, t.exp_avg_sq + b, t.max_exp_avg_sq + b, t.grad + b, n, h.decay, h.beta1, h.beta2,
            h.one_minus_beta1, h.one_minus_beta2, h.eps, sign, -t.step_size, t.bias_correction2_sqrt);
      else
        plain(t.param + b, t.exp_avg + b, t.exp_avg_sq + b, t.grad + b, n, h.decay, h.beta1, h.beta2, h.one_minus_beta1,
              h.one_minus_beta2, h.eps, sign, -t.step_size, t.bias_correction2_sqrt);
    };
    if (kFma) run(adamw_ams_k<true>, adamw_k<true>);
    else run(adamw_ams_k<false>, adamw_k<false>);
  });
}
void adamw_step(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq, const float* grad, int64_t n,
                const AdamwHyper& h, float step_size, float bias_correction2_sqrt) {
  AdamwTensor t{param, exp_avg, exp_avg_sq, max_exp_avg_sq, grad, n, step_size, bias_correction2_sqrt};
  adamw_step_multi(&t, 1, h);
}

void abs_pow_sum_multi(double* out, const float* const* xs, const int64_t* ns, int64_t count, double p) {
  // Fixed blocks (kBlock elements) of every tensor; each block's partial lands in its own slot and
  // the slots are combined in order, so the result is the same for any thread count.
  int64_t total;
  auto cs = chunks_of(ns, count, kBlock, &total);
  std::vector<double> part(cs.size(), 0.0);
  auto f = [&](int64_t a, int64_t z) {
    for (int64_t k = a; k < z; k++) {
      const Chunk& c = cs[(size_t)k];
      part[(size_t)k] = block_value(xs[c.t] + c.b, c.e - c.b, p);
    }
  };
  if (total <= kGrain) f(0, (int64_t)cs.size());
  else parallel_for((int64_t)cs.size(), 1, f);
  const bool is_inf = std::isinf(p);
  for (int64_t t = 0; t < count; t++) out[t] = 0.0;
  for (size_t k = 0; k < cs.size(); k++) {
    double& s = out[cs[k].t];
    double v = part[k];
    if (!is_inf) s += v;
    else if (!std::isnan(s) && (std::isnan(v) || v > s)) s = v;  // max, NaN wins
  }
}
double abs_pow_sum(const float* x, int64_t n, double p) {
  double out = 0.0;
  abs_pow_sum_multi(&out, &x, &n, 1, p);
  return out;
}

void scale_multi(float* const* xs, const int64_t* ns, int64_t count, float s) {
  int64_t total;
  auto cs = chunks_of(ns, count, kGrain, &total);
  run_chunks(cs, total, [&](const Chunk& c) { scale_k(xs[c.t] + c.b, s, c.e - c.b); });
}

}  // namespace cpu
}  // namespace rn
