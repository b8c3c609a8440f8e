// Fused multi-tensor optimiser updates (SGD, AdamW) for native/ops/optim.cc to call on CUDA
// parameter groups: one launch per batch of up to kMaxTensors tensors (their pointers and sizes
// travel in the kernel's parameters), blockIdx.y picking the tensor, each element loaded once,
// updated in registers and stored once.
//
// The arithmetic is native/cpu/optim.cc's FMA variant step for step -- __fmaf_rn where torch's
// add(alpha) / addcmul contract to a fused multiply-add, __fmul_rn / __fadd_rn (never contracted)
// everywhere else, IEEE sqrt and division -- so GPU and CPU (on FMA machines) produce the same bits
// for the same gradients.
#include <algorithm>
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {
constexpr int kMaxTensors = 24;

struct SgdBatch {
  int count;
  float* p[kMaxTensors];
  float* buf[kMaxTensors];
  const float* g[kMaxTensors];
  int64_t n[kMaxTensors];
  bool init[kMaxTensors];
};
struct AdamwBatch {
  int count;
  float* p[kMaxTensors];
  float* m[kMaxTensors];
  float* v[kMaxTensors];
  float* vmax[kMaxTensors];
  const float* g[kMaxTensors];
  int64_t n[kMaxTensors];
  float neg_step[kMaxTensors];
  float bc2s[kMaxTensors];
};

__global__ void sgd_k(SgdBatch b, float neg_lr, float sign, float wd, float mom, float omd, bool nesterov) {
  const int t = blockIdx.y;
  if (t >= b.count) return;
  float* __restrict__ p = b.p[t];
  float* __restrict__ buf = b.buf[t];
  const float* __restrict__ g = b.g[t];
  const int64_t n = b.n[t];
  const bool use_wd = wd != 0.f, init = b.init[t];
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float pi = p[i];
    float d = __fmul_rn(sign, g[i]);
    if (use_wd) d = __fmaf_rn(wd, pi, d);
    if (mom == 0.f || !buf) {  // sgd_plain_k
      p[i] = __fmaf_rn(neg_lr, d, pi);
      continue;
    }
    float bv;
    if (init) bv = d;
    else bv = __fmaf_rn(omd, d, __fmul_rn(buf[i], mom));
    buf[i] = bv;
    const float step = nesterov ? __fmaf_rn(mom, bv, d) : bv;
    p[i] = __fmaf_rn(neg_lr, step, pi);
  }
}

__global__ void adamw_k(AdamwBatch b, float decay, float b1, float b2, float omb1, float omb2, float eps, float sign,
                        bool amsgrad) {
  const int t = blockIdx.y;
  if (t >= b.count) return;
  float* __restrict__ p = b.p[t];
  float* __restrict__ m = b.m[t];
  float* __restrict__ v = b.v[t];
  float* __restrict__ vmax = b.vmax[t];
  const float* __restrict__ g = b.g[t];
  const int64_t n = b.n[t];
  const float neg_step = b.neg_step[t], bc2s = b.bc2s[t];
  const bool ams = amsgrad && vmax;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float gi = __fmul_rn(sign, g[i]);
    const float pi = __fmul_rn(p[i], decay);
    const float mi = __fmaf_rn(omb1, gi, __fmul_rn(m[i], b1));
    const float vi = __fmaf_rn(__fmul_rn(omb2, gi), gi, __fmul_rn(v[i], b2));
    float vd = vi;
    if (ams) {
      const float vm = vmax[i];
      vd = (vi > vm || isnan(vi)) ? vi : vm;  // torch.maximum propagates NaN
      vmax[i] = vd;
    }
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vd), bc2s), eps);
    m[i] = mi;
    v[i] = vi;
    p[i] = __fadd_rn(pi, __fdiv_rn(__fmul_rn(neg_step, mi), denom));
  }
}

unsigned blocks_for(int64_t max_n) {
  int64_t b = (max_n + kThreads * 4 - 1) / (kThreads * 4);
  b = std::max<int64_t>(1, std::min<int64_t>(b, (int64_t)sm_count() * 8));
  return (unsigned)b;
}
}  // namespace

void sgd_step_multi(const cpu::SgdTensor* ts, int64_t count, const cpu::SgdHyper& h) {
  const float neg_lr = -h.lr, sign = h.maximize ? -1.f : 1.f;
  for (int64_t first = 0; first < count; first += kMaxTensors) {
    SgdBatch b{};
    int64_t max_n = 0;
    b.count = (int)std::min<int64_t>(kMaxTensors, count - first);
    for (int k = 0; k < b.count; k++) {
      const cpu::SgdTensor& t = ts[first + k];
      b.p[k] = t.param;
      b.buf[k] = t.buf;
      b.g[k] = t.grad;
      b.n[k] = t.n;
      b.init[k] = t.init;
      max_n = std::max(max_n, t.n);
    }
    if (max_n == 0) continue;
    dim3 grid(blocks_for(max_n), (unsigned)b.count);
    sgd_k<<<grid, kThreads, 0, stream()>>>(b, neg_lr, sign, h.weight_decay, h.momentum, h.one_minus_dampening, h.nesterov);
    check_launch("sgd_step");
  }
}

void adamw_step_multi(const cpu::AdamwTensor* ts, int64_t count, const cpu::AdamwHyper& h) {
  const float sign = h.maximize ? -1.f : 1.f;
  for (int64_t first = 0; first < count; first += kMaxTensors) {
    AdamwBatch b{};
    int64_t max_n = 0;
    b.count = (int)std::min<int64_t>(kMaxTensors, count - first);
    for (int k = 0; k < b.count; k++) {
      const cpu::AdamwTensor& t = ts[first + k];
      b.p[k] = t.param;
      b.m[k] = t.exp_avg;
      b.v[k] = t.exp_avg_sq;
      b.vmax[k] = t.max_exp_avg_sq;
      b.g[k] = t.grad;
      b.n[k] = t.n;
      b.neg_step[k] = -t.step_size;
      b.bc2s[k] = t.bias_correction2_sqrt;
      max_n = std::max(max_n, t.n);
    }
    if (max_n == 0) continue;
    dim3 grid(blocks_for(max_n), (unsigned)b.count);
    adamw_k<<<grid, kThreads, 0, stream()>>>(b, h.decay, h.beta1, h.beta2, h.one_minus_beta1, h.one_minus_beta2, h.eps, sign,
                                             h.amsgrad);
    check_launch("adamw_step");
  }
}

}  // namespace cuda
}  // namespace rn
