// LayerNorm over the last D elements of each row (float32), the CPU's definitions
// (native/cpu/layernorm.cc): mean and variance in double, two passes over the row.
//   forward   one warp per row
//   backward  dx: one warp per row; dgamma / dbeta: per (column, slice of rows) partial sums in a
//             scratch buffer, then a second kernel adds the slices (so few, long columns still
//             spread over the device)
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {

__global__ void ln_fwd_k(float* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd,
                         const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ beta,
                         int64_t rows, int64_t D, float eps) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; r < rows;
       r += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    const float* xp = x + r * D;
    double s = 0;
    for (int64_t i = lane; i < D; i += 32) s += xp[i];
    const float m = (float)(warp_sum(s) / (double)D);
    double v = 0;
    for (int64_t i = lane; i < D; i += 32) {
      const double d = xp[i] - m;
      v += d * d;
    }
    const float rs = (float)(1.0 / sqrt(warp_sum(v) / (double)D + eps));
    if (lane == 0) {
      mean[r] = m;
      rstd[r] = rs;
    }
    float* yp = y + r * D;
    for (int64_t i = lane; i < D; i += 32) {
      const float h = (xp[i] - m) * rs;
      yp[i] = gamma ? h * gamma[i] + (beta ? beta[i] : 0.f) : h + (beta ? beta[i] : 0.f);
    }
  }
}

__global__ void ln_bwd_dx_k(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ x,
                            const float* __restrict__ gamma, const float* __restrict__ mean,
                            const float* __restrict__ rstd, int64_t rows, int64_t D) {
  const int lane = threadIdx.x & 31;
  for (int64_t r = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5; r < rows;
       r += ((int64_t)gridDim.x * blockDim.x) >> 5) {
    const float* xp = x + r * D;
    const float* g = dy + r * D;
    const float m = mean[r], rs = rstd[r];
    double a = 0, b = 0;
    for (int64_t i = lane; i < D; i += 32) {
      const float gg = g[i] * (gamma ? gamma[i] : 1.f);
      const float xh = (xp[i] - m) * rs;
      a += gg;
      b += gg * xh;
    }
    const float ma = (float)(warp_sum(a) / (double)D), mb = (float)(warp_sum(b) / (double)D);
    float* d = dx + r * D;
    for (int64_t i = lane; i < D; i += 32) {
      const float gg = g[i] * (gamma ? gamma[i] : 1.f);
      const float xh = (xp[i] - m) * rs;
      d[i] = rs * (gg - ma - xh * mb);
    }
  }
}

// grid (ceil(D / 256), S): column i, rows of slice s
__global__ void ln_bwd_params_k(double2* __restrict__ part, const float* __restrict__ dy, const float* __restrict__ x,
                                const float* __restrict__ mean, const float* __restrict__ rstd, int64_t rows, int64_t D,
                                int64_t r_per) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, s = blockIdx.y;
  if (i >= D) return;
  const int64_t r0 = s * r_per, r1 = min(rows, r0 + r_per);
  float pg = 0.f, pb = 0.f;
  for (int64_t r = r0; r < r1; r++) {
    const float g = dy[r * D + i];
    pg += g * ((x[r * D + i] - mean[r]) * rstd[r]);
    pb += g;
  }
  part[s * D + i] = make_double2(pg, pb);
}

__global__ void ln_bwd_params_sum_k(float* __restrict__ dgamma, float* __restrict__ dbeta, const double2* __restrict__ part,
                                    int64_t S, int64_t D) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= D) return;
  double g = 0, b = 0;
  for (int64_t s = 0; s < S; s++) {
    g += part[s * D + i].x;
    b += part[s * D + i].y;
  }
  if (dgamma) dgamma[i] = (float)g;
  if (dbeta) dbeta[i] = (float)b;
}
}  // namespace

void layernorm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                       int64_t rows, int64_t D, float eps) {
  if (rows == 0) return;
  ln_fwd_k<<<grid_for(rows * 32), kThreads, 0, stream()>>>(y, mean, rstd, x, gamma, beta, rows, D, eps);
  check_launch("layerNorm");
}

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* mean, const float* rstd, int64_t rows, int64_t D) {
  cudaStream_t s = stream();
  if (rows == 0) {
    if (dgamma) check(cudaMemsetAsync(dgamma, 0, (size_t)D * sizeof(float), s), "cudaMemsetAsync");
    if (dbeta) check(cudaMemsetAsync(dbeta, 0, (size_t)D * sizeof(float), s), "cudaMemsetAsync");
    return;
  }
  if (dx) {
    ln_bwd_dx_k<<<grid_for(rows * 32), kThreads, 0, s>>>(dx, dy, x, gamma, mean, rstd, rows, D);
    check_launch("layerNorm backward");
  }
  if (!dgamma && !dbeta) return;
  const int64_t cb = (D + 255) / 256;
  int64_t S = std::max<int64_t>(1, std::min<int64_t>(rows, ((int64_t)sm_count() * 8 + cb - 1) / cb));
  S = std::min<int64_t>(S, 65535);
  const int64_t r_per = (rows + S - 1) / S;
  S = (rows + r_per - 1) / r_per;
  Scratch part((size_t)(S * D) * sizeof(double2));
  ln_bwd_params_k<<<dim3((unsigned)cb, (unsigned)S), 256, 0, s>>>(part.as<double2>(), dy, x, mean, rstd, rows, D, r_per);
  check_launch("layerNorm backward");
  ln_bwd_params_sum_k<<<(unsigned)cb, 256, 0, s>>>(dgamma, dbeta, part.as<double2>(), S, D);
  check_launch("layerNorm backward");
}

}  // namespace cuda
}  // namespace rn
