// BatchNorm2d over [N, C, HW] (NCHW) or [N*HW, C] (channels-last): batch statistics with
// running-stat update in training, running statistics in eval, and the backward of both.
// Statistics accumulate in double: sums over N*H*W of up to ~10^7 floats lose digits in float.
#include <algorithm>
#include <cmath>
#include <vector>
#include "kernels.h"
#include "../core/parallel.h"

namespace rn {
namespace cpu {
namespace {

// Per-channel sums of f(x) (and g(x)) for both layouts, parallel without write conflicts.
template <class F>
void channel_sums(double* s1, double* s2, int64_t N, int64_t C, int64_t HW, bool cl, F f) {
  if (!cl) {
    parallel_for(C, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; c++) {
        double a1 = 0, a2 = 0;
        for (int64_t n = 0; n < N; n++) {
          int64_t base = (n * C + c) * HW;
          float p1 = 0.f, p2 = 0.f;  // float partial per row, double across rows
          for (int64_t i = 0; i < HW; i++) { float u, v; f(base + i, c, u, v); p1 += u; p2 += v; }
          a1 += p1; a2 += p2;
        }
        s1[c] = a1; s2[c] = a2;
      }
    });
    return;
  }
  const int64_t rows = N * HW;
  const int64_t nchunks = std::min<int64_t>(rows, 64);
  std::vector<double> part1(nchunks * C, 0.0), part2(nchunks * C, 0.0);
  parallel_for(nchunks, 1, [&](int64_t b, int64_t e) {
    std::vector<float> t1(C), t2(C);
    for (int64_t ch = b; ch < e; ch++) {
      int64_t r0 = rows * ch / nchunks, r1 = rows * (ch + 1) / nchunks;
      double* p1 = &part1[ch * C];
      double* p2 = &part2[ch * C];
      for (int64_t r = r0; r < r1; r += 64) {
        std::fill(t1.begin(), t1.end(), 0.f);
        std::fill(t2.begin(), t2.end(), 0.f);
        for (int64_t rr = r; rr < std::min(r1, r + 64); rr++)
          for (int64_t c = 0; c < C; c++) { float u, v; f(rr * C + c, c, u, v); t1[c] += u; t2[c] += v; }
        for (int64_t c = 0; c < C; c++) { p1[c] += t1[c]; p2[c] += t2[c]; }
      }
    }
  });
  for (int64_t c = 0; c < C; c++) {
    double a1 = 0, a2 = 0;
    for (int64_t ch = 0; ch < nchunks; ch++) { a1 += part1[ch * C + c]; a2 += part2[ch * C + c]; }
    s1[c] = a1; s2[c] = a2;
  }
}

// y[i] = x[i] * scale[c] + shift[c]
void affine(float* y, const float* x, const float* scale, const float* shift, int64_t N, int64_t C, int64_t HW, bool cl) {
  if (!cl) {
    parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; t++) {
        int64_t c = t % C;
        const float a = scale[c], s = shift[c];
        const float* xp = x + t * HW;
        float* yp = y + t * HW;
        for (int64_t i = 0; i < HW; i++) yp[i] = xp[i] * a + s;
      }
    });
  } else {
    parallel_for(N * HW, 64, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; r++)
        for (int64_t c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * scale[c] + shift[c];
    });
  }
}
}  // namespace

void batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW,
                             bool cl, float momentum, float eps) {
  const int64_t M = N * HW;
  std::vector<double> s1(C), s2(C);
  channel_sums(s1.data(), s2.data(), N, C, HW, cl, [&](int64_t i, int64_t, float& u, float& v) { u = x[i]; v = 0.f; });
  std::vector<float> mean(C);
  for (int64_t c = 0; c < C; c++) mean[c] = (float)(s1[c] / (double)M);
  // second pass for the variance: sum (x - mean)^2 is exact where E[x^2] - mean^2 cancels
  channel_sums(s1.data(), s2.data(), N, C, HW, cl, [&](int64_t i, int64_t c, float& u, float& v) {
    float d = x[i] - mean[c]; u = d * d; v = 0.f; });
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; c++) {
    double var = s1[c] / (double)M;
    float invstd = (float)(1.0 / std::sqrt(var + (double)eps));
    save_mean[c] = mean[c];
    save_invstd[c] = invstd;
    float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    scale[c] = g * invstd;
    shift[c] = b - mean[c] * g * invstd;
    if (running_mean) running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mean[c];
    if (running_var) {
      double unbiased = M > 1 ? s1[c] / (double)(M - 1) : s1[c];
      running_var[c] = (1.f - momentum) * running_var[c] + momentum * (float)unbiased;
    }
  }
  affine(y, x, scale.data(), shift.data(), N, C, HW, cl);
}

void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* mean,
                            const float* var, int64_t N, int64_t C, int64_t HW, bool cl, float eps) {
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; c++) {
    float invstd = 1.f / std::sqrt(var[c] + eps);
    float g = gamma ? gamma[c] : 1.f, b = beta ? beta[c] : 0.f;
    scale[c] = g * invstd;
    shift[c] = b - mean[c] * g * invstd;
  }
  affine(y, x, scale.data(), shift.data(), N, C, HW, cl);
}

void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, int64_t N, int64_t C, int64_t HW, bool cl) {
  const int64_t M = N * HW;
  std::vector<double> sdy(C), sdyx(C);
  // sum dy and sum dy * xhat, one pass
  channel_sums(sdy.data(), sdyx.data(), N, C, HW, cl, [&](int64_t i, int64_t c, float& u, float& v) {
    u = dy[i]; v = dy[i] * (x[i] - save_mean[c]) * save_invstd[c]; });
  std::vector<float> a(C), b(C), k(C);
  for (int64_t c = 0; c < C; c++) {
    if (dbeta) dbeta[c] = (float)sdy[c];
    if (dgamma) dgamma[c] = (float)sdyx[c];
    // dx = g*invstd * (dy - mean(dy) - xhat * mean(dy*xhat))
    float g = gamma ? gamma[c] : 1.f;
    float gi = g * save_invstd[c];
    a[c] = gi;
    k[c] = (float)(sdyx[c] / (double)M) * save_invstd[c];
    b[c] = (float)(sdy[c] / (double)M);
  }
  if (!dx) return;
  auto one = [&](int64_t i, int64_t c) {
    float xhat = (x[i] - save_mean[c]);
    dx[i] = a[c] * (dy[i] - b[c] - xhat * k[c]);
  };
  if (!cl) {
    parallel_for(N * C, 1, [&](int64_t s, int64_t e) {
      for (int64_t t = s; t < e; t++) {
        int64_t c = t % C;
        for (int64_t i = t * HW; i < (t + 1) * HW; i++) one(i, c);
      }
    });
  } else {
    parallel_for(N * HW, 64, [&](int64_t s, int64_t e) {
      for (int64_t r = s; r < e; r++)
        for (int64_t c = 0; c < C; c++) one(r * C + c, c);
    });
  }
}

void batchnorm_backward_eval(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                             const float* gamma, const float* mean, const float* var, int64_t N, int64_t C, int64_t HW,
                             bool cl, float eps) {
  std::vector<float> invstd(C), zero(C, 0.f);
  for (int64_t c = 0; c < C; c++) invstd[c] = 1.f / std::sqrt(var[c] + eps);
  std::vector<double> sdy(C), sdyx(C);
  channel_sums(sdy.data(), sdyx.data(), N, C, HW, cl, [&](int64_t i, int64_t c, float& u, float& v) {
    u = dy[i]; v = dy[i] * (x[i] - mean[c]) * invstd[c]; });
  std::vector<float> scale(C);
  for (int64_t c = 0; c < C; c++) {
    if (dbeta) dbeta[c] = (float)sdy[c];
    if (dgamma) dgamma[c] = (float)sdyx[c];
    scale[c] = (gamma ? gamma[c] : 1.f) * invstd[c];
  }
  if (dx) affine(dx, dy, scale.data(), zero.data(), N, C, HW, cl);
}

}  // namespace cpu
}  // namespace rn
