// LayerNorm over the last D elements of each row: y = (x - mean) * rstd * gamma + beta.
#include <cmath>
#include <vector>
#include <algorithm>
#include "kernels.h"
#include "../core/parallel.h"

namespace rn {
namespace cpu {

void layernorm_forward(float* y, float* save_mean, float* save_rstd, const float* x, const float* gamma,
                       const float* beta, int64_t rows, int64_t D, float eps) {
  parallel_for(rows, 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const float* xp = x + r * D;
      double s = 0;
      for (int64_t i = 0; i < D; i++) s += xp[i];
      float m = (float)(s / (double)D);
      double v = 0;
      for (int64_t i = 0; i < D; i++) { double d = xp[i] - m; v += d * d; }
      float rstd = (float)(1.0 / std::sqrt(v / (double)D + eps));
      save_mean[r] = m;
      save_rstd[r] = rstd;
      float* yp = y + r * D;
      for (int64_t i = 0; i < D; i++) {
        float h = (xp[i] - m) * rstd;
        yp[i] = gamma ? h * gamma[i] + (beta ? beta[i] : 0.f) : h + (beta ? beta[i] : 0.f);
      }
    }
  });
}

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_rstd, int64_t rows, int64_t D) {
  // dx per row (parallel over rows); dgamma/dbeta reduced over rows in per-chunk partials.
  const int64_t nchunks = std::max<int64_t>(1, std::min<int64_t>(rows, 32));
  std::vector<float> pg(dgamma ? nchunks * D : 0, 0.f), pb(dbeta ? nchunks * D : 0, 0.f);
  parallel_for(nchunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t ch = cb; ch < ce; ch++) {
      for (int64_t r = rows * ch / nchunks; r < rows * (ch + 1) / nchunks; r++) {
        const float* xp = x + r * D;
        const float* g = dy + r * D;
        float m = save_mean[r], rs = save_rstd[r];
        double a = 0, bsum = 0;  // sum(g*gamma), sum(g*gamma*xhat)
        for (int64_t i = 0; i < D; i++) {
          float gg = g[i] * (gamma ? gamma[i] : 1.f);
          float xh = (xp[i] - m) * rs;
          a += gg;
          bsum += gg * xh;
          if (dgamma) pg[ch * D + i] += g[i] * xh;
          if (dbeta) pb[ch * D + i] += g[i];
        }
        if (dx) {
          float ma = (float)(a / (double)D), mb = (float)(bsum / (double)D);
          float* d = dx + r * D;
          for (int64_t i = 0; i < D; i++) {
            float gg = g[i] * (gamma ? gamma[i] : 1.f);
            float xh = (xp[i] - m) * rs;
            d[i] = rs * (gg - ma - xh * mb);
          }
        }
      }
    }
  });
  for (int64_t i = 0; i < D; i++) {
    if (dgamma) { float s = 0; for (int64_t ch = 0; ch < nchunks; ch++) s += pg[ch * D + i]; dgamma[i] = s; }
    if (dbeta) { float s = 0; for (int64_t ch = 0; ch < nchunks; ch++) s += pb[ch * D + i]; dbeta[i] = s; }
  }
}

}  // namespace cpu
}  // namespace rn
