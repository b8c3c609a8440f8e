// softmax / log-softmax over one dimension of [outer, C, inner], and cross entropy on logits
// (log-softmax + NLL with label smoothing and ignore_index), float32, the CPU's definitions
// (native/cpu/softmax.cc): max-shifted exponentials summed in double.
//
// inner == 1 (the usual [N, C] logits): one warp per row; inner > 1: one thread per (o, i)
// column, consecutive threads on consecutive columns.
// A target out of range is recorded in a per-call device word (the lowest bad index, with its
// value) that check_async() reports as ERR_RN_INDEX at the next read, as the CPU backend does.
#include <cfloat>
#include <cstring>
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {

#define RN_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The row maximum skips NaN elements (std::max(m, NaN) keeps m on the CPU, fmaxf does the same
// here); the sum of exponentials then carries any NaN into the outputs on both.
__global__ void softmax_rows_k(float* __restrict__ y, const float* __restrict__ x, int64_t rows, int64_t C, bool log) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; row < rows;
       row += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    const float* xp = x + row * C;
    float* yp = y + row * C;
    float m = -INFINITY;
    for (int64_t c = lane; c < C; c += 32) m = fmaxf(m, xp[c]);
    m = warp_max(m);
    double s = 0;
    for (int64_t c = lane; c < C; c += 32) s += (double)expf(xp[c] - m);
    s = warp_sum(s);
    if (log) {
      const float lse = m + (float)::log(s);
      for (int64_t c = lane; c < C; c += 32) yp[c] = xp[c] - lse;
    } else {
      const float inv = (float)(1.0 / s);
      for (int64_t c = lane; c < C; c += 32) yp[c] = expf(xp[c] - m) * inv;
    }
  }
}

__global__ void softmax_cols_k(float* __restrict__ y, const float* __restrict__ x, int64_t outer, int64_t C, int64_t inner,
                               bool log) {
  RN_GRID_LOOP(t, outer * inner) {
    const int64_t o = t / inner, i = t % inner;
    const float* xp = x + o * C * inner + i;
    float* yp = y + o * C * inner + i;
    float m = -INFINITY;
    for (int64_t c = 0; c < C; c++) m = fmaxf(m, xp[c * inner]);
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += (double)expf(xp[c * inner] - m);
    if (log) {
      const float lse = m + (float)::log(s);
      for (int64_t c = 0; c < C; c++) yp[c * inner] = xp[c * inner] - lse;
    } else {
      const float inv = (float)(1.0 / s);
      for (int64_t c = 0; c < C; c++) yp[c * inner] = expf(xp[c * inner] - m) * inv;
    }
  }
}

__global__ void softmax_bwd_rows_k(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ y,
                                   int64_t rows, int64_t C, bool log) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; row < rows;
       row += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    const int64_t b = row * C;
    double s = 0;
    if (log)
      for (int64_t c = lane; c < C; c += 32) s += dy[b + c];
    else
      for (int64_t c = lane; c < C; c += 32) s += dy[b + c] * y[b + c];
    const float sf = (float)warp_sum(s);
    if (log)
      for (int64_t c = lane; c < C; c += 32) dx[b + c] = dy[b + c] - expf(y[b + c]) * sf;
    else
      for (int64_t c = lane; c < C; c += 32) dx[b + c] = y[b + c] * (dy[b + c] - sf);
  }
}

__global__ void softmax_bwd_cols_k(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ y,
                                   int64_t outer, int64_t C, int64_t inner, bool log) {
  RN_GRID_LOOP(t, outer * inner) {
    const int64_t o = t / inner, i = t % inner;
    const int64_t b = o * C * inner + i;
    double s = 0;
    if (log)
      for (int64_t c = 0; c < C; c++) s += dy[b + c * inner];
    else
      for (int64_t c = 0; c < C; c++) s += dy[b + c * inner] * y[b + c * inner];
    const float sf = (float)s;
    if (log)
      for (int64_t c = 0; c < C; c++) dx[b + c * inner] = dy[b + c * inner] - expf(y[b + c * inner]) * sf;
    else
      for (int64_t c = 0; c < C; c++) dx[b + c * inner] = y[b + c * inner] * (dy[b + c * inner] - sf);
  }
}

// per sample: losses, non-ignored count, first bad target
__global__ void nll_k(float* __restrict__ losses, unsigned long long* __restrict__ count,
                      unsigned long long* __restrict__ bad, const float* __restrict__ logp, const int32_t* __restrict__ target,
                      int64_t N, int64_t C, int64_t inner, float smoothing, int32_t ignore_index) {
  unsigned long long cnt = 0;
  RN_GRID_LOOP(t, N * inner) {
    const int64_t n = t / inner, i = t % inner;
    const int32_t tg = target[t];
    if (tg == ignore_index) {
      losses[t] = 0.f;
      continue;
    }
    if (tg < 0 || tg >= C) {
      atomicMin(bad, ((unsigned long long)t << 32) | (unsigned long long)(uint32_t)tg);
      losses[t] = 0.f;
      continue;
    }
    const float* lp = logp + n * C * inner + i;
    float nll = -lp[(int64_t)tg * inner];
    if (smoothing > 0.f) {
      double s = 0;
      for (int64_t c = 0; c < C; c++) s += lp[c * inner];
      nll = (1.f - smoothing) * nll - smoothing * (float)(s / (double)C);
    }
    losses[t] = nll;
    cnt++;
  }
  cnt = block_sum<unsigned long long>(cnt);
  if (threadIdx.x == 0 && cnt) atomicAdd(count, cnt);
}

__global__ void ce_reduce_k(float* __restrict__ out, const float* __restrict__ losses, const int64_t* __restrict__ count,
                            int64_t n, int reduction) {
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += losses[i];
  s = block_sum<double>(s);
  if (threadIdx.x == 0) out[0] = reduction == 1 ? (float)(s / (double)count[0]) : (float)s;
}

__global__ void ce_bwd_k(float* __restrict__ dx, const float* __restrict__ dloss, bool per_sample, int reduction,
                         const int64_t* __restrict__ count, const float* __restrict__ logp, const int32_t* __restrict__ target,
                         int64_t N, int64_t C, int64_t inner, float smoothing, int32_t ignore_index) {
  const float scale = reduction == 1 ? 1.f / (float)count[0] : 1.f;
  const float off = smoothing / (float)C;
  RN_GRID_LOOP(e, N * C * inner) {
    const int64_t i = e % inner, c = (e / inner) % C, n = e / (C * inner);
    const int64_t t = n * inner + i;
    const int32_t tg = target[t];
    if (tg == ignore_index || tg < 0 || tg >= C) {
      dx[e] = 0.f;
      continue;
    }
    const float g = (per_sample ? dloss[t] : dloss[0]) * scale;
    const float q = off + (c == tg ? 1.f - smoothing : 0.f);
    dx[e] = g * (expf(logp[e]) - q);
  }
}
}  // namespace

void softmax_forward(float* y, const float* x, int64_t outer, int64_t C, int64_t inner, bool log) {
  if (outer * C * inner == 0) return;
  if (inner == 1) softmax_rows_k<<<grid_for(outer * 32), kThreads, 0, stream()>>>(y, x, outer, C, log);
  else softmax_cols_k<<<grid_for(outer * inner), kThreads, 0, stream()>>>(y, x, outer, C, inner, log);
  check_launch(log ? "logSoftmax" : "softmax");
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  if (outer * C * inner == 0) return;
  if (inner == 1) softmax_bwd_rows_k<<<grid_for(outer * 32), kThreads, 0, stream()>>>(dx, dy, y, outer, C, log);
  else softmax_bwd_cols_k<<<grid_for(outer * inner), kThreads, 0, stream()>>>(dx, dy, y, outer, C, inner, log);
  check_launch(log ? "logSoftmax backward" : "softmax backward");
}

void cross_entropy_forward(float* losses, float* logp, int64_t* count, const float* x, const int32_t* target, int64_t N,
                           int64_t C, int64_t inner, float smoothing, int32_t ignore_index) {
  cudaStream_t s = stream();
  check(cudaMemsetAsync(count, 0, sizeof(int64_t), s), "cudaMemsetAsync");
  softmax_forward(logp, x, N, C, inner, true);
  const int64_t n = N * inner;
  if (n == 0) return;
  Scratch bad(sizeof(unsigned long long));
  check(cudaMemsetAsync(bad.s->data, 0xff, sizeof(unsigned long long), s), "cudaMemsetAsync");
  nll_k<<<grid_for(n), kThreads, 0, s>>>(losses, reinterpret_cast<unsigned long long*>(count),
                                        bad.as<unsigned long long>(), logp, target, N, C, inner, smoothing, ignore_index);
  check_launch("crossEntropy");
  const int64_t classes = C;
  const int32_t ig = ignore_index;
  check_async(bad.s->data, sizeof(unsigned long long), [classes, ig](const void* h) {
    unsigned long long key;
    std::memcpy(&key, h, sizeof key);
    if (key == ~0ull) return;
    const int64_t idx = (int64_t)(key >> 32);
    const int32_t val = (int32_t)(uint32_t)(key & 0xffffffffu);
    throw RnError("ERR_RN_INDEX", cat("crossEntropy: target[", idx, "] = ", val, " is out of range for ", classes,
                                      " classes (expected 0 <= target < ", classes, " or the ignore index ", ig, ")"));
  });
}

void cross_entropy_reduce(float* out, const float* losses, const int64_t* count, int64_t n, int reduction) {
  ce_reduce_k<<<1, 1024, 0, stream()>>>(out, losses, count, n, reduction);
  check_launch("crossEntropy");
}

void cross_entropy_backward(float* dx, const float* dloss, bool per_sample, int reduction, const int64_t* count,
                            const float* logp, const int32_t* target, int64_t N, int64_t C, int64_t inner, float smoothing,
                            int32_t ignore_index) {
  const int64_t n = N * C * inner;
  if (n == 0) return;
  ce_bwd_k<<<grid_for(n), kThreads, 0, stream()>>>(dx, dloss, per_sample, reduction, count, logp, target, N, C, inner,
                                                  smoothing, ignore_index);
  check_launch("crossEntropy backward");
}

}  // namespace cuda
}  // namespace rn
