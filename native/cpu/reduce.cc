// Reductions over one (collapsed) dimension of [outer, r, inner].
#include <cmath>
#include <limits>
#include <algorithm>
#include <vector>
#include "kernels.h"
#include "../core/parallel.h"

namespace rn {
namespace cpu {

void sum_dim(float* out, const float* x, int64_t outer, int64_t r, int64_t inner, float scale) {
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(r, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) {
        const float* xp = x + o * r;
        double s = 0;
        float p = 0.f;
        for (int64_t i = 0; i < r; i++) { p += xp[i]; if ((i & 1023) == 1023) { s += p; p = 0.f; } }
        out[o] = (float)((s + p) * scale);
      }
    });
    return;
  }
  if (outer == 1 && r > 1 && inner < 4096) {
    // sum over rows of a [r, inner] matrix (bias grads, etc.): per-chunk partials, then combine
    const int64_t nch = std::min<int64_t>(r, 32);
    std::vector<double> part(nch * inner, 0.0);
    parallel_for(nch, 1, [&](int64_t b, int64_t e) {
      for (int64_t ch = b; ch < e; ch++)
        for (int64_t k = r * ch / nch; k < r * (ch + 1) / nch; k++)
          for (int64_t i = 0; i < inner; i++) part[ch * inner + i] += x[k * inner + i];
    });
    for (int64_t i = 0; i < inner; i++) {
      double s = 0;
      for (int64_t ch = 0; ch < nch; ch++) s += part[ch * inner + i];
      out[i] = (float)(s * scale);
    }
    return;
  }
  parallel_for(outer * inner, 64, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t o = t / inner, i = t % inner;
      const float* xp = x + o * r * inner + i;
      double s = 0;
      for (int64_t k = 0; k < r; k++) s += xp[k * inner];
      out[t] = (float)(s * scale);
    }
  });
}

void max_dim(float* out, int32_t* idx, const float* x, int64_t outer, int64_t r, int64_t inner) {
  parallel_for(outer * inner, 64, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t o = t / inner, i = t % inner;
      const float* xp = x + o * r * inner + i;
      float best = -std::numeric_limits<float>::infinity();
      int32_t bi = 0;
      for (int64_t k = 0; k < r; k++) {
        float v = xp[k * inner];
        if (v > best || std::isnan(v)) { best = v; bi = (int32_t)k; if (std::isnan(v)) break; }
      }
      if (out) out[t] = best;
      if (idx) idx[t] = bi;
    }
  });
}

}  // namespace cpu
}  // namespace rn
