// softmax / log-softmax over one dimension of [outer, C, inner], and cross entropy on logits
// (fused log-softmax + NLL with label smoothing and ignore_index, PyTorch's definitions).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>
#include "kernels.h"
#include "../core/parallel.h"
#include "../core/error.h"

namespace rn {
namespace cpu {

void softmax_forward(float* y, const float* x, int64_t outer, int64_t C, int64_t inner, bool log) {
  parallel_for(outer * inner, inner == 1 ? 16 : 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t o = t / inner, i = t % inner;
      const float* xp = x + o * C * inner + i;
      float* yp = y + o * C * inner + i;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t c = 0; c < C; c++) m = std::max(m, xp[c * inner]);
      double s = 0;
      for (int64_t c = 0; c < C; c++) s += std::exp(xp[c * inner] - m);
      if (log) {
        float lse = m + (float)std::log(s);
        for (int64_t c = 0; c < C; c++) yp[c * inner] = xp[c * inner] - lse;
      } else {
        float inv = (float)(1.0 / s);
        for (int64_t c = 0; c < C; c++) yp[c * inner] = std::exp(xp[c * inner] - m) * inv;
      }
    }
  });
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t C, int64_t inner, bool log) {
  parallel_for(outer * inner, inner == 1 ? 16 : 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t o = t / inner, i = t % inner;
      int64_t base = o * C * inner + i;
      double s = 0;
      if (log) {
        // d x = dy - softmax * sum(dy)
        for (int64_t c = 0; c < C; c++) s += dy[base + c * inner];
        for (int64_t c = 0; c < C; c++) dx[base + c * inner] = dy[base + c * inner] - std::exp(y[base + c * inner]) * (float)s;
      } else {
        // dx = y * (dy - sum(dy * y))
        for (int64_t c = 0; c < C; c++) s += dy[base + c * inner] * y[base + c * inner];
        for (int64_t c = 0; c < C; c++) dx[base + c * inner] = y[base + c * inner] * (dy[base + c * inner] - (float)s);
      }
    }
  });
}

void cross_entropy_forward(float* losses, float* logp, int64_t* count, const float* x, const int32_t* target,
                           int64_t N, int64_t C, int64_t inner, float smoothing, int32_t ignore_index) {
  softmax_forward(logp, x, N, C, inner, true);
  int64_t cnt = 0;
  int64_t bad = -1;
  int32_t bad_val = 0;
  for (int64_t t = 0; t < N * inner; t++) {
    int64_t n = t / inner, i = t % inner;
    int32_t tg = target[t];
    if (tg == ignore_index) { losses[t] = 0.f; continue; }
    if (tg < 0 || tg >= C) { if (bad < 0) { bad = t; bad_val = tg; } losses[t] = 0.f; continue; }
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
  *count = cnt;
  if (bad >= 0)
    throw RnError("ERR_RN_INDEX", cat("crossEntropy: target[", bad, "] = ", bad_val, " is out of range for ", C,
                                      " classes (expected 0 <= target < ", C, " or the ignore index ", ignore_index, ")"));
}

void cross_entropy_backward(float* dx, const float* dloss, bool per_sample, float scale, const float* logp,
                            const int32_t* target, int64_t N, int64_t C, int64_t inner, float smoothing,
                            int32_t ignore_index) {
  parallel_for(N * inner, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t n = t / inner, i = t % inner;
      const float* lp = logp + n * C * inner + i;
      float* d = dx + n * C * inner + i;
      int32_t tg = target[t];
      if (tg == ignore_index || tg < 0 || tg >= C) {
        for (int64_t c = 0; c < C; c++) d[c * inner] = 0.f;
        continue;
      }
      float g = (per_sample ? dloss[t] : dloss[0]) * scale;
      float off = smoothing / (float)C;
      for (int64_t c = 0; c < C; c++) {
        float q = off + (c == tg ? 1.f - smoothing : 0.f);
        d[c * inner] = g * (std::exp(lp[c * inner]) - q);
      }
    }
  });
}

}  // namespace cpu
}  // namespace rn
