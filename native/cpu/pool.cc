// Max / average / adaptive-average pooling over NCHW planes, parallel over (n, c) planes; max
// pooling also in channels-last memory (channels in SIMD lanes, parallel over output rows).
// Max pooling saves the argmax index (within the input plane) for backward; backward is a
// scatter within the plane, which one thread owns.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <cmath>
#include "kernels.h"
#include "../core/error.h"
#include "../core/parallel.h"
#include "../core/simd.h"

namespace rn {
namespace cpu {

void maxpool2d_forward(float* y, int32_t* idx, const float* x, const PoolParams& p) {
  parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const float* xp = x + t * p.H * p.W;
      float* yp = y + t * p.P * p.Q;
      int32_t* ip = idx + t * p.P * p.Q;
      for (int64_t oh = 0; oh < p.P; oh++)
        for (int64_t ow = 0; ow < p.Q; ow++) {
          int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
          float best = -std::numeric_limits<float>::infinity();
          int64_t bi = -1;
          for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + p.kh, p.H); h++)
            for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + p.kw, p.W); w++) {
              float v = xp[h * p.W + w];
              if (v > best || bi < 0 || std::isnan(v)) { best = v; bi = h * p.W + w; if (std::isnan(v)) goto done; }
            }
        done:
          yp[oh * p.Q + ow] = best;
          ip[oh * p.Q + ow] = (int32_t)bi;
        }
    }
  });
}

namespace {
// One output pixel, channels [c0, c1) in lanes: the same rule as the NCHW kernel per channel (the
// first maximum wins, the first NaN wins and sticks, a window of -inf takes its first element).
RN_VEC void maxpool_pixel_cl(float* y, int32_t* idx, const float* x, const PoolParams& p, int64_t n, int64_t oh, int64_t ow,
                             int64_t c0, int64_t c1) {
  constexpr int64_t kC = 64;
  float best[kC];
  int32_t bi[kC];
  const int64_t cn = c1 - c0;
  for (int64_t c = 0; c < cn; c++) { best[c] = -std::numeric_limits<float>::infinity(); bi[c] = -1; }
  const int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + p.kh, p.H); h++)
    for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + p.kw, p.W); w++) {
      const float* xp = x + ((n * p.H + h) * p.W + w) * p.C + c0;
      const int32_t here = (int32_t)(h * p.W + w);
      for (int64_t c = 0; c < cn; c++) {
        const float v = xp[c], b = best[c];
        const bool take = bi[c] < 0 || v > b || (std::isnan(v) && !std::isnan(b));
        best[c] = take ? v : b;
        bi[c] = take ? here : bi[c];
      }
    }
  float* yp = y + ((n * p.P + oh) * p.Q + ow) * p.C + c0;
  int32_t* ip = idx + ((n * p.P + oh) * p.Q + ow) * p.C + c0;
  for (int64_t c = 0; c < cn; c++) { yp[c] = best[c]; ip[c] = bi[c]; }
}
}  // namespace

void maxpool2d_forward_cl(float* y, int32_t* idx, const float* x, const PoolParams& p) {
  parallel_for(p.N * p.P, 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; r++) {
      const int64_t n = r / p.P, oh = r % p.P;
      for (int64_t ow = 0; ow < p.Q; ow++)
        for (int64_t c0 = 0; c0 < p.C; c0 += 64) maxpool_pixel_cl(y, idx, x, p, n, oh, ow, c0, std::min<int64_t>(p.C, c0 + 64));
    }
  });
}

void maxpool2d_backward_cl(float* dx, const float* dy, const int32_t* idx, const PoolParams& p) {
  std::atomic<int64_t> bad{-1};
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q;
  parallel_for(p.N, 1, [&](int64_t b, int64_t e) {  // per image: windows overlap within one
    for (int64_t n = b; n < e; n++) {
      float* dxp = dx + n * HW * p.C;
      std::memset(dxp, 0, HW * p.C * sizeof(float));
      const float* dyp = dy + n * PQ * p.C;
      const int32_t* ip = idx + n * PQ * p.C;
      for (int64_t i = 0; i < PQ; i++)
        for (int64_t c = 0; c < p.C; c++) {
          const int32_t j = ip[i * p.C + c];
          if (j < 0) continue;
          if (j >= HW) { bad.store(j); continue; }
          dxp[j * p.C + c] += dyp[i * p.C + c];
        }
    }
  });
  if (bad.load() >= 0)
    throw RnError("ERR_RN_INDEX", cat("maxPool2d backward: index ", bad.load(), " is outside the input plane of ", HW, " elements"));
}

void maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, const PoolParams& p) {
  // indices come from the forward, but the native entry point accepts any int32 tensor: an index
  // outside the plane is reported (a deferred ERR_RN_INDEX), never written through
  std::atomic<int64_t> bad{-1};
  parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      float* dxp = dx + t * p.H * p.W;
      std::memset(dxp, 0, p.H * p.W * sizeof(float));
      const float* dyp = dy + t * p.P * p.Q;
      const int32_t* ip = idx + t * p.P * p.Q;
      for (int64_t i = 0; i < p.P * p.Q; i++) {
        if (ip[i] < 0) continue;
        if (ip[i] >= p.H * p.W) { bad.store(ip[i]); continue; }
        dxp[ip[i]] += dyp[i];
      }
    }
  });
  if (bad.load() >= 0)
    throw RnError("ERR_RN_INDEX", cat("maxPool2d backward: index ", bad.load(), " is outside an input plane of ", p.H, "x", p.W));
}

namespace {
inline int64_t avg_divisor(const PoolParams& p, int64_t h0, int64_t w0) {
  if (p.count_include_pad) {
    int64_t h1 = std::min(h0 + p.kh, p.H + p.ph), w1 = std::min(w0 + p.kw, p.W + p.pw);
    return (h1 - h0) * (w1 - w0);
  }
  int64_t hs = std::max<int64_t>(h0, 0), ws = std::max<int64_t>(w0, 0);
  int64_t he = std::min(h0 + p.kh, p.H), we = std::min(w0 + p.kw, p.W);
  return std::max<int64_t>(1, (he - hs) * (we - ws));
}
}  // namespace

void avgpool2d_forward(float* y, const float* x, const PoolParams& p) {
  parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const float* xp = x + t * p.H * p.W;
      float* yp = y + t * p.P * p.Q;
      for (int64_t oh = 0; oh < p.P; oh++)
        for (int64_t ow = 0; ow < p.Q; ow++) {
          int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
          float s = 0.f;
          for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + p.kh, p.H); h++)
            for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + p.kw, p.W); w++) s += xp[h * p.W + w];
          yp[oh * p.Q + ow] = s / (float)avg_divisor(p, h0, w0);
        }
    }
  });
}

void avgpool2d_backward(float* dx, const float* dy, const PoolParams& p) {
  parallel_for(p.N * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      float* dxp = dx + t * p.H * p.W;
      std::memset(dxp, 0, p.H * p.W * sizeof(float));
      const float* dyp = dy + t * p.P * p.Q;
      for (int64_t oh = 0; oh < p.P; oh++)
        for (int64_t ow = 0; ow < p.Q; ow++) {
          int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
          float g = dyp[oh * p.Q + ow] / (float)avg_divisor(p, h0, w0);
          for (int64_t h = std::max<int64_t>(h0, 0); h < std::min(h0 + p.kh, p.H); h++)
            for (int64_t w = std::max<int64_t>(w0, 0); w < std::min(w0 + p.kw, p.W); w++) dxp[h * p.W + w] += g;
        }
    }
  });
}

// PyTorch's bins: start = floor(i*H/P), end = ceil((i+1)*H/P)
void adaptive_avgpool2d_forward(float* y, const float* x, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q) {
  parallel_for(NC, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      const float* xp = x + t * H * W;
      for (int64_t i = 0; i < P; i++) {
        int64_t h0 = i * H / P, h1 = ((i + 1) * H + P - 1) / P;
        for (int64_t j = 0; j < Q; j++) {
          int64_t w0 = j * W / Q, w1 = ((j + 1) * W + Q - 1) / Q;
          float s = 0.f;
          for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) s += xp[h * W + w];
          y[t * P * Q + i * Q + j] = s / (float)((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

void adaptive_avgpool2d_backward(float* dx, const float* dy, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q) {
  parallel_for(NC, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      float* dxp = dx + t * H * W;
      std::memset(dxp, 0, H * W * sizeof(float));
      for (int64_t i = 0; i < P; i++) {
        int64_t h0 = i * H / P, h1 = ((i + 1) * H + P - 1) / P;
        for (int64_t j = 0; j < Q; j++) {
          int64_t w0 = j * W / Q, w1 = ((j + 1) * W + Q - 1) / Q;
          float g = dy[t * P * Q + i * Q + j] / (float)((h1 - h0) * (w1 - w0));
          for (int64_t h = h0; h < h1; h++)
            for (int64_t w = w0; w < w1; w++) dxp[h * W + w] += g;
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace rn
