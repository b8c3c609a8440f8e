// Max / average / adaptive-average pooling over NCHW planes (float32), the CPU's definitions
// (native/cpu/pool.cc): the same windows, divisors, tie and NaN rules.
//
// Forward: one thread per output element. Backward gathers instead of scattering: one thread per
// input element adds the contributions of the outputs whose window covers it, in ascending output
// order -- the order the CPU's scatter adds them in -- so no atomics are needed and the sums are
// the CPU's, bit for bit.
#include <cfloat>
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {

#define RN_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__device__ __forceinline__ int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// outputs o (along one axis) whose window [o*s - pad, o*s - pad + k) contains position h
__device__ __forceinline__ void covering(int64_t h, int64_t k, int64_t s, int64_t pad, int64_t n_out, int64_t& o0,
                                         int64_t& o1) {
  // o*s - pad <= h  and  h < o*s - pad + k   =>   (h + pad - k) / s < o <= (h + pad) / s
  const int64_t hi = (h + pad) / s;  // h + pad >= 0
  const int64_t lo_num = h + pad - k + 1;
  const int64_t lo = lo_num <= 0 ? 0 : (lo_num + s - 1) / s;
  o0 = max64(lo, 0);
  o1 = min64(hi, n_out - 1);
}

__global__ void maxpool_fwd_k(float* __restrict__ y, int32_t* __restrict__ idx, const float* __restrict__ x,
                              cpu::PoolParams p, int64_t n) {
  RN_GRID_LOOP(e, n) {
    const int64_t ow = e % p.Q, oh = (e / p.Q) % p.P, t = e / (p.P * p.Q);
    const float* xp = x + t * p.H * p.W;
    const int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
    float best = -INFINITY;
    int64_t bi = -1;
    for (int64_t h = max64(h0, 0); h < min64(h0 + p.kh, p.H); h++)
      for (int64_t w = max64(w0, 0); w < min64(w0 + p.kw, p.W); w++) {
        const float v = xp[h * p.W + w];
        if (v > best || bi < 0 || isnan(v)) {
          best = v;
          bi = h * p.W + w;
          if (isnan(v)) goto done;
        }
      }
  done:
    y[e] = best;
    idx[e] = (int32_t)bi;
  }
}

__global__ void maxpool_bwd_k(float* __restrict__ dx, const float* __restrict__ dy, const int32_t* __restrict__ idx,
                              cpu::PoolParams p, int64_t n) {
  RN_GRID_LOOP(e, n) {
    const int64_t w = e % p.W, h = (e / p.W) % p.H, t = e / (p.H * p.W);
    const int32_t me = (int32_t)(h * p.W + w);
    int64_t a0, a1, b0, b1;
    covering(h, p.kh, p.sh, p.ph, p.P, a0, a1);
    covering(w, p.kw, p.sw, p.pw, p.Q, b0, b1);
    const float* dyp = dy + t * p.P * p.Q;
    const int32_t* ip = idx + t * p.P * p.Q;
    float s = 0.f;
    for (int64_t oh = a0; oh <= a1; oh++)
      for (int64_t ow = b0; ow <= b1; ow++)
        if (ip[oh * p.Q + ow] == me) s += dyp[oh * p.Q + ow];
    dx[e] = s;
  }
}

__device__ __forceinline__ int64_t avg_divisor(const cpu::PoolParams& p, int64_t h0, int64_t w0) {
  if (p.count_include_pad) {
    const int64_t h1 = min64(h0 + p.kh, p.H + p.ph), w1 = min64(w0 + p.kw, p.W + p.pw);
    return (h1 - h0) * (w1 - w0);
  }
  const int64_t hs = max64(h0, 0), ws = max64(w0, 0);
  const int64_t he = min64(h0 + p.kh, p.H), we = min64(w0 + p.kw, p.W);
  return max64(1, (he - hs) * (we - ws));
}

__global__ void avgpool_fwd_k(float* __restrict__ y, const float* __restrict__ x, cpu::PoolParams p, int64_t n) {
  RN_GRID_LOOP(e, n) {
    const int64_t ow = e % p.Q, oh = (e / p.Q) % p.P, t = e / (p.P * p.Q);
    const float* xp = x + t * p.H * p.W;
    const int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
    float s = 0.f;
    for (int64_t h = max64(h0, 0); h < min64(h0 + p.kh, p.H); h++)
      for (int64_t w = max64(w0, 0); w < min64(w0 + p.kw, p.W); w++) s += xp[h * p.W + w];
    y[e] = s / (float)avg_divisor(p, h0, w0);
  }
}

__global__ void avgpool_bwd_k(float* __restrict__ dx, const float* __restrict__ dy, cpu::PoolParams p, int64_t n) {
  RN_GRID_LOOP(e, n) {
    const int64_t w = e % p.W, h = (e / p.W) % p.H, t = e / (p.H * p.W);
    int64_t a0, a1, b0, b1;
    covering(h, p.kh, p.sh, p.ph, p.P, a0, a1);
    covering(w, p.kw, p.sw, p.pw, p.Q, b0, b1);
    const float* dyp = dy + t * p.P * p.Q;
    float s = 0.f;
    for (int64_t oh = a0; oh <= a1; oh++)
      for (int64_t ow = b0; ow <= b1; ow++) {
        const int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
        s += dyp[oh * p.Q + ow] / (float)avg_divisor(p, h0, w0);
      }
    dx[e] = s;
  }
}

// PyTorch's adaptive bins: start = floor(i*H/P), end = ceil((i+1)*H/P)
__global__ void adaptive_fwd_k(float* __restrict__ y, const float* __restrict__ x, int64_t H, int64_t W, int64_t P,
                               int64_t Q, int64_t n) {
  RN_GRID_LOOP(e, n) {
    const int64_t j = e % Q, i = (e / Q) % P, t = e / (P * Q);
    const float* xp = x + t * H * W;
    const int64_t h0 = i * H / P, h1 = ((i + 1) * H + P - 1) / P;
    const int64_t w0 = j * W / Q, w1 = ((j + 1) * W + Q - 1) / Q;
    float s = 0.f;
    for (int64_t h = h0; h < h1; h++)
      for (int64_t w = w0; w < w1; w++) s += xp[h * W + w];
    y[e] = s / (float)((h1 - h0) * (w1 - w0));
  }
}

__global__ void adaptive_bwd_k(float* __restrict__ dx, const float* __restrict__ dy, int64_t H, int64_t W, int64_t P,
                               int64_t Q, int64_t n) {
  RN_GRID_LOOP(e, n) {
    const int64_t w = e % W, h = (e / W) % H, t = e / (H * W);
    // bins i with floor(i*H/P) <= h < ceil((i+1)*H/P): a few around h*P/H (checked exactly)
    const int64_t i0 = max64(0, h * P / H - 1), i1 = min64(P - 1, ((h + 1) * P + H - 1) / H);
    const int64_t j0 = max64(0, w * Q / W - 1), j1 = min64(Q - 1, ((w + 1) * Q + W - 1) / W);
    const float* dyp = dy + t * P * Q;
    float s = 0.f;
    for (int64_t i = i0; i <= i1; i++) {
      const int64_t hs = i * H / P, he = ((i + 1) * H + P - 1) / P;
      if (h < hs || h >= he) continue;
      for (int64_t j = j0; j <= j1; j++) {
        const int64_t ws = j * W / Q, we = ((j + 1) * W + Q - 1) / Q;
        if (w < ws || w >= we) continue;
        s += dyp[i * Q + j] / (float)((he - hs) * (we - ws));
      }
    }
    dx[e] = s;
  }
}
}  // namespace

void maxpool2d_forward(float* y, int32_t* idx, const float* x, const cpu::PoolParams& p) {
  const int64_t n = p.N * p.C * p.P * p.Q;
  if (n == 0) return;
  maxpool_fwd_k<<<grid_for(n), kThreads, 0, stream()>>>(y, idx, x, p, n);
  check_launch("maxPool2d");
}
void maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, const cpu::PoolParams& p) {
  const int64_t n = p.N * p.C * p.H * p.W;
  if (n == 0) return;
  maxpool_bwd_k<<<grid_for(n), kThreads, 0, stream()>>>(dx, dy, idx, p, n);
  check_launch("maxPool2d backward");
}
void avgpool2d_forward(float* y, const float* x, const cpu::PoolParams& p) {
  const int64_t n = p.N * p.C * p.P * p.Q;
  if (n == 0) return;
  avgpool_fwd_k<<<grid_for(n), kThreads, 0, stream()>>>(y, x, p, n);
  check_launch("avgPool2d");
}
void avgpool2d_backward(float* dx, const float* dy, const cpu::PoolParams& p) {
  const int64_t n = p.N * p.C * p.H * p.W;
  if (n == 0) return;
  avgpool_bwd_k<<<grid_for(n), kThreads, 0, stream()>>>(dx, dy, p, n);
  check_launch("avgPool2d backward");
}
void adaptive_avgpool2d_forward(float* y, const float* x, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q) {
  const int64_t n = NC * P * Q;
  if (n == 0) return;
  adaptive_fwd_k<<<grid_for(n), kThreads, 0, stream()>>>(y, x, H, W, P, Q, n);
  check_launch("adaptiveAvgPool2d");
}
void adaptive_avgpool2d_backward(float* dx, const float* dy, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q) {
  const int64_t n = NC * H * W;
  if (n == 0) return;
  adaptive_bwd_k<<<grid_for(n), kThreads, 0, stream()>>>(dx, dy, H, W, P, Q, n);
  check_launch("adaptiveAvgPool2d backward");
}

}  // namespace cuda
}  // namespace rn
