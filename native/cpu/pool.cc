// Max / average / adaptive-average pooling over NCHW planes, parallel over (n, c) planes.
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
