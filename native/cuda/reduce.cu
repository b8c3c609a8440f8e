// Reductions over one (collapsed) dimension of x viewed as [outer, r, inner] (native/ops/reduce.cc
// collapses several dims one at a time, as on the CPU).
//
// sum: accumulated in double (the CPU sums in double too), in up to two stages: when there are
// few outputs for the size of r, r is split into chunks whose partial sums land in a scratch
// buffer and a second kernel adds them, so the whole device works on e.g. a bias gradient.
//   inner == 1  one warp per (row, chunk), lanes reading consecutive elements
//   inner  > 1  one thread per (column, chunk), consecutive threads reading consecutive columns
// max / argmax: the CPU's rule (first NaN wins, else the first maximum), lane-local scans then a
// warp (value, index) reduction that keeps that rule.
#include <cfloat>
#include <climits>
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {

__global__ void sum_rows_k(double* __restrict__ part, float* __restrict__ out, const float* __restrict__ x, int64_t outer,
                           int64_t r, int64_t chunks, int64_t len, float scale) {
  const int64_t warps = outer * chunks;
  const int lane = threadIdx.x & 31;
  for (int64_t w = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; w < warps;
       w += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    const int64_t row = w / chunks, ch = w % chunks;
    const int64_t k0 = ch * len, k1 = min(r, k0 + len);
    const float* xp = x + row * r;
    double acc = 0;
    for (int64_t k = k0 + lane; k < k1; k += 32) acc += xp[k];
    acc = warp_sum(acc);
    if (lane == 0) {
      if (part) part[ch * outer + row] = acc;
      else out[row] = (float)(acc * scale);
    }
  }
}

__global__ void sum_cols_k(double* __restrict__ part, float* __restrict__ out, const float* __restrict__ x, int64_t outer,
                           int64_t r, int64_t inner, int64_t len, float scale) {
  const int64_t cols = outer * inner, ch = blockIdx.y;
  const int64_t k0 = ch * len, k1 = min(r, k0 + len);
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = c / inner, i = c % inner;
    const float* xp = x + o * r * inner + i;
    double acc = 0;
    for (int64_t k = k0; k < k1; k++) acc += xp[k * inner];
    if (part) part[ch * cols + c] = acc;
    else out[c] = (float)(acc * scale);
  }
}

__global__ void sum_chunks_k(float* __restrict__ out, const double* __restrict__ part, int64_t n, int64_t chunks,
                             float scale) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < n; c += (int64_t)gridDim.x * blockDim.x) {
    double acc = 0;
    for (int64_t k = 0; k < chunks; k++) acc += part[k * n + c];
    out[c] = (float)(acc * scale);
  }
}

// (value, index) under the CPU's rule; a is the candidate seen first when indices tie
__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
  const bool na = isnan(va), nb = isnan(vb);
  if (na || nb) return na && nb ? ia < ib : na;
  if (va != vb) return va > vb;
  return ia < ib;
}

__global__ void max_rows_k(float* __restrict__ out, int32_t* __restrict__ idx, const float* __restrict__ x, int64_t outer,
                           int64_t r) {
  const int lane = threadIdx.x & 31;
  for (int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; row < outer;
       row += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    const float* xp = x + row * r;
    float best = -FLT_MAX;
    int bi = INT_MAX;
    if (lane < r) {
      best = xp[lane];
      bi = lane;
      if (!isnan(best))
        for (int64_t k = lane + 32; k < r; k += 32) {
          float v = xp[k];
          if (v > best || isnan(v)) {
            best = v;
            bi = (int)k;
            if (isnan(v)) break;
          }
        }
    } else {
      best = -INFINITY;
    }
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, best, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (better(ov, oi, best, bi)) { best = ov; bi = oi; }
    }
    if (lane == 0) {
      if (out) out[row] = best;
      if (idx) idx[row] = bi;
    }
  }
}

__global__ void max_cols_k(float* __restrict__ out, int32_t* __restrict__ idx, const float* __restrict__ x, int64_t outer,
                           int64_t r, int64_t inner) {
  const int64_t cols = outer * inner;
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = c / inner, i = c % inner;
    const float* xp = x + o * r * inner + i;
    float best = -INFINITY;
    int32_t bi = 0;
    for (int64_t k = 0; k < r; k++) {
      float v = xp[k * inner];
      if (v > best || isnan(v)) {
        best = v;
        bi = (int32_t)k;
        if (isnan(v)) break;
      }
    }
    if (out) out[c] = best;
    if (idx) idx[c] = bi;
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

void sum_dim(float* out, const float* x, int64_t outer, int64_t r, int64_t inner, float scale) {
  const int64_t cols = outer * inner;
  if (cols == 0) return;
  cudaStream_t s = stream();
  if (r == 0) {  // empty sum
    check(cudaMemsetAsync(out, 0, (size_t)cols * sizeof(float), s), "cudaMemsetAsync");
    return;
  }
  const int64_t target = (int64_t)sm_count() * 2048;  // threads that keep the device busy
  if (inner == 1) {
    int64_t chunks = std::max<int64_t>(1, std::min(ceil_div(target / 32, outer), ceil_div(r, 1024)));
    const int64_t len = ceil_div(r, chunks);
    chunks = ceil_div(r, len);
    Scratch part(chunks > 1 ? (size_t)(outer * chunks) * sizeof(double) : 0);
    double* pp = chunks > 1 ? part.as<double>() : nullptr;
    sum_rows_k<<<grid_for(outer * chunks * 32), kThreads, 0, s>>>(pp, out, x, outer, r, chunks, len, scale);
    check_launch("sum");
    if (pp) {
      sum_chunks_k<<<grid_for(outer), kThreads, 0, s>>>(out, pp, outer, chunks, scale);
      check_launch("sum");
    }
    return;
  }
  int64_t chunks = std::max<int64_t>(1, std::min(ceil_div(target, cols), ceil_div(r, 64)));
  chunks = std::min<int64_t>(chunks, 65535);
  const int64_t len = ceil_div(r, chunks);
  chunks = ceil_div(r, len);
  Scratch part(chunks > 1 ? (size_t)(cols * chunks) * sizeof(double) : 0);
  double* pp = chunks > 1 ? part.as<double>() : nullptr;
  dim3 grid(grid_for(cols), (unsigned)chunks);
  sum_cols_k<<<grid, kThreads, 0, s>>>(pp, out, x, outer, r, inner, len, scale);
  check_launch("sum");
  if (pp) {
    sum_chunks_k<<<grid_for(cols), kThreads, 0, s>>>(out, pp, cols, chunks, scale);
    check_launch("sum");
  }
}

void max_dim(float* out, int32_t* idx, const float* x, int64_t outer, int64_t r, int64_t inner) {
  const int64_t cols = outer * inner;
  if (cols == 0) return;
  if (inner == 1) max_rows_k<<<grid_for(outer * 32), kThreads, 0, stream()>>>(out, idx, x, outer, r);
  else max_cols_k<<<grid_for(cols), kThreads, 0, stream()>>>(out, idx, x, outer, r, inner);
  check_launch("max");
}

}  // namespace cuda
}  // namespace rn
