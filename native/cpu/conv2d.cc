// conv2d forward / backward-data / backward-weight: the entry points, and the reference
// implementation (im2col + OpenBLAS GEMM, NCHW and NHWC memory).
//
// The entry points run the AVX-512 kernels of conv2d_avx512.cc (Winograd F(4x4,3x3) for 3x3
// stride-1 convolutions, direct implicit GEMM otherwise) when the CPU has AVX-512 and the case is
// covered, else the reference below. Environment (read once): RESNODE_CONV=reference forces the
// reference everywhere (A/B timing in bench/conv/, ruling the fast path in or out when chasing a
// numerical difference); RESNODE_CONV=direct keeps the fast path but without Winograd (its fp32
// error is ~1e-6..1e-5 of the output's magnitude, direct ~1e-7).
//
// Reference: samples are processed in chunks so one GEMM covers several images (small CIFAR-size products
// are too small to keep OpenBLAS's threads busy one image at a time) while the column buffer
// stays bounded (~32 MB). col2im is written as a gather over input pixels, so threads never
// write the same element.
#include <atomic>
#include <algorithm>
#include <cstring>
#include <vector>
#include <cstdlib>
#include "kernels.h"
#include "conv2d_impl.h"
#include "../core/error.h"
#include "../core/parallel.h"

namespace rn {
namespace cpu {
namespace {

constexpr int64_t kColBudget = 8 << 20;  // floats per column buffer

int64_t chunk_of(const ConvParams& p) {
  int64_t per = p.C * p.R * p.S * p.P * p.Q;
  return std::max<int64_t>(1, std::min<int64_t>(p.N, kColBudget / std::max<int64_t>(per, 1)));
}

// NCHW: col[(c*R + r)*S + s][nl*PQ + p*Q + q]
void im2col_nchw(float* col, const float* x, int64_t n0, int64_t nb, const ConvParams& p) {
  const int64_t PQ = p.P * p.Q, rows = p.C * p.R * p.S;
  parallel_for(rows * nb, 4, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t row = t / nb, nl = t % nb;
      int64_t s = row % p.S, r = (row / p.S) % p.R, c = row / (p.R * p.S);
      const float* xp = x + ((n0 + nl) * p.C + c) * p.H * p.W;
      float* out = col + row * nb * PQ + nl * PQ;
      for (int64_t oh = 0; oh < p.P; oh++) {
        int64_t h = oh * p.sh - p.ph + r * p.dh;
        float* o = out + oh * p.Q;
        if (h < 0 || h >= p.H) { std::memset(o, 0, p.Q * sizeof(float)); continue; }
        const float* xr = xp + h * p.W;
        int64_t w0 = -p.pw + s * p.dw;
        if (p.sw == 1 && w0 >= 0 && w0 + p.Q <= p.W) { std::memcpy(o, xr + w0, p.Q * sizeof(float)); continue; }
        for (int64_t ow = 0; ow < p.Q; ow++) {
          int64_t w = ow * p.sw + w0;
          o[ow] = (w >= 0 && w < p.W) ? xr[w] : 0.f;
        }
      }
    }
  });
}

// Gather form of col2im for NCHW: dx[n][c][h][w] = sum over (r, s) hitting an output pixel.
void col2im_nchw(float* dx, const float* col, int64_t n0, int64_t nb, const ConvParams& p) {
  const int64_t PQ = p.P * p.Q;
  parallel_for(nb * p.C, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t nl = t / p.C, c = t % p.C;
      float* dxp = dx + ((n0 + nl) * p.C + c) * p.H * p.W;
      for (int64_t h = 0; h < p.H; h++)
        for (int64_t w = 0; w < p.W; w++) {
          float acc = 0.f;
          for (int64_t r = 0; r < p.R; r++) {
            int64_t hh = h + p.ph - r * p.dh;
            if (hh < 0 || hh % p.sh) continue;
            int64_t oh = hh / p.sh;
            if (oh >= p.P) continue;
            for (int64_t s = 0; s < p.S; s++) {
              int64_t ww = w + p.pw - s * p.dw;
              if (ww < 0 || ww % p.sw) continue;
              int64_t ow = ww / p.sw;
              if (ow >= p.Q) continue;
              acc += col[((c * p.R + r) * p.S + s) * nb * PQ + nl * PQ + oh * p.Q + ow];
            }
          }
          dxp[h * p.W + w] = acc;
        }
    }
  });
}

// NHWC: col[nl*PQ + oh*Q + ow][((g*R + r)*S + s)*Cg + cg]
void im2col_nhwc(float* col, const float* x, int64_t n0, int64_t nb, const ConvParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, RSC = p.R * p.S * p.C;
  parallel_for(nb * p.P * p.Q, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t ow = t % p.Q, oh = (t / p.Q) % p.P, nl = t / (p.P * p.Q);
      float* o = col + t * RSC;
      for (int64_t g = 0; g < G; g++)
        for (int64_t r = 0; r < p.R; r++) {
          int64_t h = oh * p.sh - p.ph + r * p.dh;
          for (int64_t s = 0; s < p.S; s++) {
            int64_t w = ow * p.sw - p.pw + s * p.dw;
            float* dst = o + ((g * p.R + r) * p.S + s) * Cg;
            if (h < 0 || h >= p.H || w < 0 || w >= p.W) { std::memset(dst, 0, Cg * sizeof(float)); continue; }
            std::memcpy(dst, x + (((n0 + nl) * p.H + h) * p.W + w) * p.C + g * Cg, Cg * sizeof(float));
          }
        }
    }
  });
}

void col2im_nhwc(float* dx, const float* col, int64_t n0, int64_t nb, const ConvParams& p) {
  const int64_t G = p.groups, Cg = p.C / G, RSC = p.R * p.S * p.C;
  parallel_for(nb * p.H * p.W, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) {
      int64_t w = t % p.W, h = (t / p.W) % p.H, nl = t / (p.H * p.W);
      float* d = dx + (((n0 + nl) * p.H + h) * p.W + w) * p.C;
      std::memset(d, 0, p.C * sizeof(float));
      for (int64_t r = 0; r < p.R; r++) {
        int64_t hh = h + p.ph - r * p.dh;
        if (hh < 0 || hh % p.sh) continue;
        int64_t oh = hh / p.sh;
        if (oh >= p.P) continue;
        for (int64_t s = 0; s < p.S; s++) {
          int64_t ww = w + p.pw - s * p.dw;
          if (ww < 0 || ww % p.sw) continue;
          int64_t ow = ww / p.sw;
          if (ow >= p.Q) continue;
          const float* src = col + ((nl * p.P + oh) * p.Q + ow) * RSC;
          for (int64_t g = 0; g < G; g++) {
            const float* sg = src + ((g * p.R + r) * p.S + s) * Cg;
            float* dg = d + g * Cg;
            for (int64_t c = 0; c < Cg; c++) dg[c] += sg[c];
          }
        }
      }
    }
  });
}

// OIHW [K][Cg][R][S] <-> [K][R][S][Cg] (the weight layout the NHWC GEMMs use)
void w_to_khwc(float* out, const float* w, const ConvParams& p) {
  const int64_t Cg = p.C / p.groups;
  for (int64_t k = 0; k < p.K; k++)
    for (int64_t c = 0; c < Cg; c++)
      for (int64_t r = 0; r < p.R; r++)
        for (int64_t s = 0; s < p.S; s++) out[((k * p.R + r) * p.S + s) * Cg + c] = w[((k * Cg + c) * p.R + r) * p.S + s];
}
void w_from_khwc(float* w, const float* in, const ConvParams& p) {
  const int64_t Cg = p.C / p.groups;
  for (int64_t k = 0; k < p.K; k++)
    for (int64_t c = 0; c < Cg; c++)
      for (int64_t r = 0; r < p.R; r++)
        for (int64_t s = 0; s < p.S; s++) w[((k * Cg + c) * p.R + r) * p.S + s] = in[((k * p.R + r) * p.S + s) * Cg + c];
}

}  // namespace

void conv2d_reference_forward(float* y, const float* x, const float* w, const float* bias, const ConvParams& p) {
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, PQ = p.P * p.Q, CgRS = Cg * p.R * p.S;
  const int64_t nbmax = chunk_of(p);
  std::vector<float> col((size_t)(nbmax * p.C * p.R * p.S * PQ));
  if (p.channels_last) {
    std::vector<float> wt((size_t)(p.K * CgRS));
    w_to_khwc(wt.data(), w, p);
    for (int64_t n0 = 0; n0 < p.N; n0 += nbmax) {
      int64_t nb = std::min(nbmax, p.N - n0);
      im2col_nhwc(col.data(), x, n0, nb, p);
      float* yc = y + n0 * PQ * p.K;
      // y[npq, g*Kg + kg] = col_g[npq, :] . wt_g[kg, :]
      for (int64_t g = 0; g < G; g++)
        gemm_ld(yc + g * Kg, col.data() + g * CgRS, wt.data() + g * Kg * CgRS, nb * PQ, Kg, CgRS, false, true,
                p.C * p.R * p.S, CgRS, p.K, 1.f, 0.f);
      if (bias)
        parallel_for(nb * PQ, 256, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; i++)
            for (int64_t k = 0; k < p.K; k++) yc[i * p.K + k] += bias[k];
        });
    }
    return;
  }
  std::vector<float> tmp((size_t)(p.K * nbmax * PQ));
  for (int64_t n0 = 0; n0 < p.N; n0 += nbmax) {
    int64_t nb = std::min(nbmax, p.N - n0);
    im2col_nchw(col.data(), x, n0, nb, p);
    // tmp_g[Kg, nb*PQ] = w_g[Kg, CgRS] . col_g[CgRS, nb*PQ]
    for (int64_t g = 0; g < G; g++)
      gemm(tmp.data() + g * Kg * nb * PQ, w + g * Kg * CgRS, col.data() + g * CgRS * nb * PQ, 1, Kg, nb * PQ, CgRS,
           false, false, 1.f, 0.f, 0, 0, 0);
    parallel_for(nb * p.K, 4, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; t++) {
        int64_t nl = t / p.K, k = t % p.K;
        float* dst = y + ((n0 + nl) * p.K + k) * PQ;
        const float* src = tmp.data() + k * nb * PQ + nl * PQ;
        float bv = bias ? bias[k] : 0.f;
        for (int64_t i = 0; i < PQ; i++) dst[i] = src[i] + bv;
      }
    });
  }
}

void conv2d_reference_backward_data(float* dx, const float* dy, const float* w, const ConvParams& p) {
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, PQ = p.P * p.Q, CgRS = Cg * p.R * p.S;
  const int64_t nbmax = chunk_of(p);
  std::vector<float> col((size_t)(nbmax * p.C * p.R * p.S * PQ));
  if (p.channels_last) {
    std::vector<float> wt((size_t)(p.K * CgRS));
    w_to_khwc(wt.data(), w, p);
    for (int64_t n0 = 0; n0 < p.N; n0 += nbmax) {
      int64_t nb = std::min(nbmax, p.N - n0);
      const float* dyc = dy + n0 * PQ * p.K;
      // dcol_g[npq, CgRS] = dy_g[npq, Kg] . wt_g[Kg, CgRS]
      for (int64_t g = 0; g < G; g++)
        gemm_ld(col.data() + g * CgRS, dyc + g * Kg, wt.data() + g * Kg * CgRS, nb * PQ, CgRS, Kg, false, false,
                p.K, CgRS, p.C * p.R * p.S, 1.f, 0.f);
      col2im_nhwc(dx, col.data(), n0, nb, p);
    }
    return;
  }
  std::vector<float> tmp((size_t)(p.K * nbmax * PQ));
  for (int64_t n0 = 0; n0 < p.N; n0 += nbmax) {
    int64_t nb = std::min(nbmax, p.N - n0);
    parallel_for(nb * p.K, 4, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; t++) {
        int64_t nl = t / p.K, k = t % p.K;
        std::memcpy(tmp.data() + k * nb * PQ + nl * PQ, dy + ((n0 + nl) * p.K + k) * PQ, PQ * sizeof(float));
      }
    });
    // dcol_g[CgRS, nb*PQ] = w_g^T . dy_g[Kg, nb*PQ]
    for (int64_t g = 0; g < G; g++)
      gemm(col.data() + g * CgRS * nb * PQ, w + g * Kg * CgRS, tmp.data() + g * Kg * nb * PQ, 1, CgRS, nb * PQ, Kg,
           true, false, 1.f, 0.f, 0, 0, 0);
    col2im_nchw(dx, col.data(), n0, nb, p);
  }
}

void conv2d_reference_backward_weight(float* dw, const float* dy, const float* x, const ConvParams& p) {
  const int64_t G = p.groups, Kg = p.K / G, Cg = p.C / G, PQ = p.P * p.Q, CgRS = Cg * p.R * p.S;
  const int64_t nbmax = chunk_of(p);
  std::vector<float> col((size_t)(nbmax * p.C * p.R * p.S * PQ));
  if (p.channels_last) {
    std::vector<float> dwt((size_t)(p.K * CgRS), 0.f);
    for (int64_t n0 = 0; n0 < p.N; n0 += nbmax) {
      int64_t nb = std::min(nbmax, p.N - n0);
      im2col_nhwc(col.data(), x, n0, nb, p);
      const float* dyc = dy + n0 * PQ * p.K;
      // dwt_g[Kg, CgRS] += dy_g^T[Kg, npq] . col_g[npq, CgRS]
      for (int64_t g = 0; g < G; g++)
        gemm_ld(dwt.data() + g * Kg * CgRS, dyc + g * Kg, col.data() + g * CgRS, Kg, CgRS, nb * PQ, true, false, p.K,
                p.C * p.R * p.S, CgRS, 1.f, 1.f);
    }
    w_from_khwc(dw, dwt.data(), p);
    return;
  }
  std::vector<float> tmp((size_t)(p.K * nbmax * PQ));
  std::fill(dw, dw + p.K * CgRS, 0.f);
  for (int64_t n0 = 0; n0 < p.N; n0 += nbmax) {
    int64_t nb = std::min(nbmax, p.N - n0);
    im2col_nchw(col.data(), x, n0, nb, p);
    parallel_for(nb * p.K, 4, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; t++) {
        int64_t nl = t / p.K, k = t % p.K;
        std::memcpy(tmp.data() + k * nb * PQ + nl * PQ, dy + ((n0 + nl) * p.K + k) * PQ, PQ * sizeof(float));
      }
    });
    // dw_g[Kg, CgRS] += dy_g[Kg, nb*PQ] . col_g^T
    for (int64_t g = 0; g < G; g++)
      gemm(dw + g * Kg * CgRS, tmp.data() + g * Kg * nb * PQ, col.data() + g * CgRS * nb * PQ, 1, Kg, CgRS, nb * PQ,
           false, true, 1.f, 1.f, 0, 0, 0);
  }
}

namespace {
bool use_direct() { return conv_mode() != ConvMode::Reference; }
ConvMode mode_from_env() {
  const char* e = std::getenv("RESNODE_CONV");
  if (!e) return ConvMode::Auto;
  if (!std::strcmp(e, "reference") || !std::strcmp(e, "ref")) return ConvMode::Reference;
  if (!std::strcmp(e, "direct")) return ConvMode::Direct;
  if (!std::strcmp(e, "winograd")) return ConvMode::Winograd;
  return ConvMode::Auto;
}
std::atomic<int> g_conv_mode{(int)mode_from_env()};
std::atomic<int64_t> g_conv_nt_bytes{kConvNtBytesDefault};
}  // namespace

ConvMode conv_mode() { return (ConvMode)g_conv_mode.load(std::memory_order_relaxed); }
void set_conv_mode(ConvMode m) { g_conv_mode.store((int)m); }
int64_t conv2d_nt_bytes() { return g_conv_nt_bytes.load(std::memory_order_relaxed); }
void set_conv2d_nt_bytes(int64_t bytes) { g_conv_nt_bytes.store(bytes < 0 ? kConvNtBytesDefault : bytes); }

void conv2d_forward(float* y, const float* x, const float* w, const float* bias, const ConvParams& p) {
  if (use_direct() && conv2d_avx512_forward(y, x, w, bias, p)) return;
  conv2d_reference_forward(y, x, w, bias, p);
}
void conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvParams& p, bool accumulate) {
  if (use_direct() && conv2d_avx512_backward_data(dx, dy, w, p, accumulate)) return;
  // the ops layer asks for accumulate only where conv2d_backward_data_accumulates() (else it adds
  // a separate result itself)
  if (accumulate) throw RnError("ERR_RN_INTERNAL", "conv2d backward: accumulate requested where no kernel accumulates");
  conv2d_reference_backward_data(dx, dy, w, p);
}
bool conv2d_backward_data_accumulates(const ConvParams& p) { return use_direct() && conv2d_avx512_accumulates(p); }
void conv2d_backward_weight(float* dw, const float* dy, const float* x, const ConvParams& p) {
  if (use_direct() && conv2d_avx512_backward_weight(dw, dy, x, p)) return;
  conv2d_reference_backward_weight(dw, dy, x, p);
}

}  // namespace cpu
}  // namespace rn
