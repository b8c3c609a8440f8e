// Fused BatchNorm2d (+ residual add) + ReLU on the GPU, and plain BatchNorm2d built from the same
// kernels (no residual, no ReLU).
//
//   forward   y = max(0, (x - mean) * A + B [+ r])          A = gamma * invstd, B = beta
//   backward  g = dy * (y > 0)          [-> dr]
//             dbeta = sum g,  dgamma = invstd * sum g (x - mean)
//             dx = P g + Q (x - mean) + R    P = gamma invstd; training: Q = -P invstd^2 sum g (x - mean) / M,
//                                            R = -P sum g / M; eval: Q = R = 0
// The formulas, the shifted statistics (per channel K = its first element: sums of x - K and
// (x - K)^2, combined in double) and the running-statistics update are those of the CPU kernels
// (native/cpu/bn_add_relu.cc), so both backends agree to float32 rounding. The ReLU mask is
// recomputed from the saved output y, never stored.
//
// Storage: x, r, y, dy, dx, dr are float32, bfloat16 or float16 (T); every statistic, gamma, beta
// and the running stats are float32, and all math is float32 (sums in double across threads).
// Layouts: NCHW ([N, C, HW]) or channels-last ([N, HW, C]).
//
// Kernels (each pass is one sweep of memory):
//   stats_nchw / stats_nhwc   per (channel, slice of the batch) partial sums -> scratch
//   finalize_*                per channel: statistics, running stats, coefficients
//   apply_fwd / apply_bwd     elementwise, 4 elements per thread when the layout allows
//                             (16-byte float32 or 8-byte 16-bit vector loads)
// Forward training = stats + finalize + apply (2 reads of x); backward = stats + finalize + apply
// (2 reads of dy, y, x).
//
// The element -> channel map is walked incrementally (no 64-bit division per element): a thread
// starts at element e0 and moves by the grid stride S, whose quotient and remainder by HW and C
// are computed once on the host.
#include <algorithm>
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {

// ---- 4-element vector loads/stores of T (16 bytes of float, 8 of 16-bit types) ----
template <class T> struct Vec;
template <> struct Vec<float> { using raw = float4; };
template <> struct Vec<__nv_bfloat16> { using raw = uint2; };
template <> struct Vec<__half> { using raw = uint2; };

template <class T, int V>
__device__ __forceinline__ void load(const T* __restrict__ p, float (&v)[V]) {
  if constexpr (V == 4) {
    typename Vec<T>::raw r = *reinterpret_cast<const typename Vec<T>::raw*>(p);
    const T* e = reinterpret_cast<const T*>(&r);
#pragma unroll
    for (int k = 0; k < 4; k++) v[k] = to_f<T>(e[k]);
  } else {
    v[0] = to_f<T>(p[0]);
  }
}
template <class T, int V>
__device__ __forceinline__ void store(T* __restrict__ p, const float (&v)[V]) {
  if constexpr (V == 4) {
    typename Vec<T>::raw r;
    T* e = reinterpret_cast<T*>(&r);
#pragma unroll
    for (int k = 0; k < 4; k++) e[k] = from_f<T>(v[k]);
    *reinterpret_cast<typename Vec<T>::raw*>(p) = r;
  } else {
    p[0] = from_f<T>(v[0]);
  }
}

// ---- element -> channel walk ----
struct Walk {
  int64_t C, HW;
  bool cl;
  int64_t stride;       // elements a thread advances per iteration
  int64_t q_mod_c;      // (stride / HW) % C   (NCHW)
  int64_t rem_hw;       // stride % HW         (NCHW)
  int64_t stride_mod_c; // stride % C          (NHWC)
};
struct Pos {
  int64_t pi, c;  // position in the plane (NCHW), channel
};
__device__ __forceinline__ Pos walk_start(const Walk& w, int64_t e) {
  if (w.cl) return {0, e % w.C};
  return {e % w.HW, (e / w.HW) % w.C};
}
__device__ __forceinline__ void walk_next(const Walk& w, Pos& p) {
  if (w.cl) {
    p.c += w.stride_mod_c;
    if (p.c >= w.C) p.c -= w.C;
    return;
  }
  p.pi += w.rem_hw;
  int64_t carry = 0;
  if (p.pi >= w.HW) {
    p.pi -= w.HW;
    carry = 1;
  }
  p.c += w.q_mod_c + carry;
  if (p.c >= w.C) p.c -= w.C;
}

// ---- pass 1: per-channel partial sums ----
// Forward: u = x - K, sums of u and u^2. Backward: g = dy [* (y > 0)], sums of g and g (x - mean).

// Block reduction of two float partials per thread into double, written by thread 0.
__device__ void block_store2(double2* out, float a, float b) {
  double da = block_sum<double>((double)a);
  double db = block_sum<double>((double)b);
  if (threadIdx.x == 0) *out = make_double2(da, db);
}

// NCHW: grid (C, S), block 256: warps take planes n of the block's slice, lanes stride the plane.
template <class T, int V, bool BWD>
__global__ void stats_nchw_k(double2* __restrict__ part, const T* __restrict__ x, const T* __restrict__ dy,
                             const T* __restrict__ y, const float* __restrict__ mean, int64_t N, int64_t C, int64_t HW,
                             int64_t n_per, bool relu) {
  const int64_t c = blockIdx.x, s = blockIdx.y;
  const int64_t n0 = s * n_per, n1 = min(N, n0 + n_per);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  const float k = BWD ? mean[c] : to_f<T>(x[c * HW]);  // forward shift: the channel's first element
  float s1 = 0.f, s2 = 0.f;
  for (int64_t n = n0 + warp; n < n1; n += nwarps) {
    const int64_t base = (n * C + c) * HW;
    for (int64_t i = (int64_t)lane * V; i < HW; i += 32 * V) {
      float xv[V];
      load<T, V>(x + base + i, xv);
      if constexpr (BWD) {
        float gv[V], yv[V];
        load<T, V>(dy + base + i, gv);
        if (relu) load<T, V>(y + base + i, yv);
#pragma unroll
        for (int j = 0; j < V; j++) {
          float g = relu && !(yv[j] > 0.f) ? 0.f : gv[j];
          s1 += g;
          s2 += g * (xv[j] - k);
        }
      } else {
#pragma unroll
        for (int j = 0; j < V; j++) {
          float u = xv[j] - k;
          s1 += u;
          s2 += u * u;
        }
      }
    }
  }
  block_store2(part + s * C + c, s1, s2);
}

// NHWC: grid (ceil(C / 32), S), block (32, 8): x over 32 channels, y over rows of the slice.
template <class T, bool BWD>
__global__ void stats_nhwc_k(double2* __restrict__ part, const T* __restrict__ x, const T* __restrict__ dy,
                             const T* __restrict__ y, const float* __restrict__ mean, int64_t rows, int64_t C,
                             int64_t r_per, bool relu) {
  __shared__ double sh1[8][33], sh2[8][33];
  const int64_t c = blockIdx.x * 32 + threadIdx.x, s = blockIdx.y;
  const int64_t r0 = s * r_per, r1 = min(rows, r0 + r_per);
  float s1 = 0.f, s2 = 0.f;
  if (c < C) {
    const float k = BWD ? mean[c] : to_f<T>(x[c]);
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const int64_t e = r * C + c;
      const float xv = to_f<T>(x[e]);
      if constexpr (BWD) {
        float g = to_f<T>(dy[e]);
        if (relu && !(to_f<T>(y[e]) > 0.f)) g = 0.f;
        s1 += g;
        s2 += g * (xv - k);
      } else {
        const float u = xv - k;
        s1 += u;
        s2 += u * u;
      }
    }
  }
  sh1[threadIdx.y][threadIdx.x] = s1;
  sh2[threadIdx.y][threadIdx.x] = s2;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    double a = 0, b = 0;
    for (int j = 0; j < 8; j++) {
      a += sh1[j][threadIdx.x];
      b += sh2[j][threadIdx.x];
    }
    part[s * C + c] = make_double2(a, b);
  }
}

// ---- per-channel finalisation ----
// coef layout: [0, C) mean, [C, 2C) A or P, [2C, 3C) B or Q, [3C, 4C) R
template <class T>
__global__ void finalize_fwd_train_k(float* __restrict__ coef, float* __restrict__ save_mean, float* __restrict__ save_invstd,
                                     float* __restrict__ running_mean, float* __restrict__ running_var,
                                     const double2* __restrict__ part, const T* __restrict__ x,
                                     const float* __restrict__ gamma, const float* __restrict__ beta, int64_t S, int64_t C,
                                     int64_t HW, bool cl, double M, float momentum, float eps) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c >= C) return;
  double S1 = 0, S2 = 0;
  for (int64_t s = 0; s < S; s++) {
    S1 += part[s * C + c].x;
    S2 += part[s * C + c].y;
  }
  const float K = to_f<T>(x[cl ? c : c * HW]);
  const double m1 = S1 / M;
  const double var = fmax(0.0, S2 / M - m1 * m1);
  const float mu = (float)((double)K + m1);
  const float invstd = (float)(1.0 / sqrt(var + (double)eps));
  save_mean[c] = mu;
  save_invstd[c] = invstd;
  coef[c] = mu;
  coef[C + c] = (gamma ? gamma[c] : 1.f) * invstd;
  coef[2 * C + c] = beta ? beta[c] : 0.f;
  if (running_mean) running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mu;
  if (running_var) {
    const double unbiased = M > 1 ? var * M / (M - 1) : var;
    running_var[c] = (1.f - momentum) * running_var[c] + momentum * (float)unbiased;
  }
}

// eval: from running statistics (save_* may be null for plain BatchNorm2d)
__global__ void finalize_fwd_eval_k(float* __restrict__ coef, float* __restrict__ save_mean, float* __restrict__ save_invstd,
                                    const float* __restrict__ rm, const float* __restrict__ rv,
                                    const float* __restrict__ gamma, const float* __restrict__ beta, int64_t C, float eps) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c >= C) return;
  const float invstd = 1.f / sqrtf(rv[c] + eps);
  if (save_mean) save_mean[c] = rm[c];
  if (save_invstd) save_invstd[c] = invstd;
  coef[c] = rm[c];
  coef[C + c] = (gamma ? gamma[c] : 1.f) * invstd;
  coef[2 * C + c] = beta ? beta[c] : 0.f;
}

__global__ void finalize_bwd_k(float* __restrict__ coef, float* __restrict__ dgamma, float* __restrict__ dbeta,
                               const double2* __restrict__ part, const float* __restrict__ gamma,
                               const float* __restrict__ mean, const float* __restrict__ invstd, int64_t S, int64_t C,
                               double M, bool training) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c >= C) return;
  double S1 = 0, S2 = 0;
  for (int64_t s = 0; s < S; s++) {
    S1 += part[s * C + c].x;
    S2 += part[s * C + c].y;
  }
  const float is = invstd[c];
  const float P = (gamma ? gamma[c] : 1.f) * is;
  if (dbeta) dbeta[c] = (float)S1;
  if (dgamma) dgamma[c] = (float)(S2 * is);
  coef[c] = mean[c];
  coef[C + c] = P;
  coef[2 * C + c] = training ? (float)(-(double)P * is * is * S2 / M) : 0.f;
  coef[3 * C + c] = training ? (float)(-(double)P * S1 / M) : 0.f;
}

__global__ void invstd_k(float* __restrict__ out, const float* __restrict__ var, int64_t C, float eps) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c < C) out[c] = 1.f / sqrtf(var[c] + eps);
}

// ---- pass 2: elementwise ----
template <class T, int V>
__global__ void apply_fwd_k(T* __restrict__ y, const T* __restrict__ x, const T* __restrict__ r,
                            const float* __restrict__ coef, int64_t E, Walk w, bool relu) {
  const int64_t C = w.C;
  int64_t e = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) * V;
  if (e >= E) return;
  Pos p = walk_start(w, e);
  for (; e < E; e += w.stride) {
    float xv[V], rv[V], out[V];
    load<T, V>(x + e, xv);
    if (r) load<T, V>(r + e, rv);
#pragma unroll
    for (int j = 0; j < V; j++) {
      const int64_t c = w.cl ? p.c + j : p.c;  // NHWC: 4 consecutive channels (C % 4 == 0)
      float v = (xv[j] - coef[c]) * coef[C + c] + coef[2 * C + c];
      if (r) v += rv[j];
      out[j] = relu ? (v <= 0.f ? 0.f : v) : v;  // NaN stays NaN
    }
    store<T, V>(y + e, out);
    walk_next(w, p);
  }
}

template <class T, int V>
__global__ void apply_bwd_k(T* __restrict__ dx, T* __restrict__ dr, const T* __restrict__ dy, const T* __restrict__ y,
                            const T* __restrict__ x, const float* __restrict__ coef, int64_t E, Walk w, bool relu) {
  const int64_t C = w.C;
  int64_t e = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) * V;
  if (e >= E) return;
  Pos p = walk_start(w, e);
  for (; e < E; e += w.stride) {
    float gv[V], yv[V], xv[V], dxv[V];
    load<T, V>(dy + e, gv);
    if (relu) load<T, V>(y + e, yv);
    if (dx) load<T, V>(x + e, xv);
#pragma unroll
    for (int j = 0; j < V; j++) {
      if (relu && !(yv[j] > 0.f)) gv[j] = 0.f;
      if (dx) {
        const int64_t c = w.cl ? p.c + j : p.c;
        dxv[j] = coef[C + c] * gv[j] + coef[2 * C + c] * (xv[j] - coef[c]) + coef[3 * C + c];
      }
    }
    if (dr) store<T, V>(dr + e, gv);
    if (dx) store<T, V>(dx + e, dxv);
    walk_next(w, p);
  }
}

// ---- host side ----
bool aligned(const void* p, size_t a) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % a == 0; }

// Vector width for a set of pointers: 4 when the layout keeps a group of 4 in one plane (NCHW:
// HW % 4 == 0) or on 4 consecutive channels (NHWC: C % 4 == 0) and every pointer is aligned.
template <class T>
int vec_width(int64_t C, int64_t HW, bool cl, std::initializer_list<const void*> ptrs) {
  if (cl ? C % 4 : HW % 4) return 1;
  for (const void* p : ptrs)
    if (!aligned(p, 4 * sizeof(T))) return 1;
  return 4;
}

Walk make_walk(int64_t C, int64_t HW, bool cl, int64_t stride) {
  Walk w{};
  w.C = C;
  w.HW = HW;
  w.cl = cl;
  w.stride = stride;
  w.q_mod_c = (stride / HW) % C;
  w.rem_hw = stride % HW;
  w.stride_mod_c = stride % C;
  return w;
}

// grid for an elementwise pass over E elements, V per thread
unsigned apply_grid(int64_t E, int V) { return grid_for((E + V - 1) / V); }

// Pass 1 for either direction; returns the partial buffer and its slice count.
template <class T, bool BWD>
std::pair<std::unique_ptr<Scratch>, int64_t> partial_sums(const T* x, const T* dy, const T* y, const float* mean,
                                                          int64_t N, int64_t C, int64_t HW, bool cl, bool relu) {
  cudaStream_t s = stream();
  const int64_t target = (int64_t)sm_count() * 4;
  if (!cl) {
    int64_t S = std::max<int64_t>(1, std::min<int64_t>(std::min<int64_t>(N, 65535), (target + C - 1) / C));
    const int64_t n_per = (N + S - 1) / S;
    S = (N + n_per - 1) / n_per;
    auto part = std::make_unique<Scratch>((size_t)(S * C) * sizeof(double2));
    dim3 grid((unsigned)C, (unsigned)S);
    const int V = vec_width<T>(C, HW, cl, {x, dy, y});
    if (V == 4)
      stats_nchw_k<T, 4, BWD><<<grid, 256, 0, s>>>(part->as<double2>(), x, dy, y, mean, N, C, HW, n_per, relu);
    else
      stats_nchw_k<T, 1, BWD><<<grid, 256, 0, s>>>(part->as<double2>(), x, dy, y, mean, N, C, HW, n_per, relu);
    check_launch(BWD ? "batchNorm backward (statistics)" : "batchNorm (statistics)");
    return {std::move(part), S};
  }
  const int64_t rows = N * HW, ct = (C + 31) / 32;
  int64_t S = std::max<int64_t>(1, std::min<int64_t>((rows + 7) / 8, (target + ct - 1) / ct));
  S = std::min<int64_t>(S, 65535);
  const int64_t r_per = (rows + S - 1) / S;
  S = (rows + r_per - 1) / r_per;
  auto part = std::make_unique<Scratch>((size_t)(S * C) * sizeof(double2));
  dim3 grid((unsigned)ct, (unsigned)S), block(32, 8);
  stats_nhwc_k<T, BWD><<<grid, block, 0, s>>>(part->as<double2>(), x, dy, y, mean, rows, C, r_per, relu);
  check_launch(BWD ? "batchNorm backward (statistics)" : "batchNorm (statistics)");
  return {std::move(part), S};
}

template <class T>
void apply_forward(T* y, const T* x, const T* r, const float* coef, int64_t N, int64_t C, int64_t HW, bool cl, bool relu) {
  const int64_t E = N * C * HW;
  if (E == 0) return;
  const int V = vec_width<T>(C, HW, cl, {x, r, y});
  const unsigned g = apply_grid(E, V);
  const Walk w = make_walk(C, HW, cl, (int64_t)g * kThreads * V);
  if (V == 4) apply_fwd_k<T, 4><<<g, kThreads, 0, stream()>>>(y, x, r, coef, E, w, relu);
  else apply_fwd_k<T, 1><<<g, kThreads, 0, stream()>>>(y, x, r, coef, E, w, relu);
  check_launch("batchNorm (apply)");
}

template <class T>
void apply_backward(T* dx, T* dr, const T* dy, const T* y, const T* x, const float* coef, int64_t N, int64_t C, int64_t HW,
                    bool cl, bool relu) {
  const int64_t E = N * C * HW;
  if (E == 0 || (!dx && !dr)) return;
  const int V = vec_width<T>(C, HW, cl, {dx, dr, dy, y, x});
  const unsigned g = apply_grid(E, V);
  const Walk w = make_walk(C, HW, cl, (int64_t)g * kThreads * V);
  if (V == 4) apply_bwd_k<T, 4><<<g, kThreads, 0, stream()>>>(dx, dr, dy, y, x, coef, E, w, relu);
  else apply_bwd_k<T, 1><<<g, kThreads, 0, stream()>>>(dx, dr, dy, y, x, coef, E, w, relu);
  check_launch("batchNorm backward (apply)");
}

unsigned cgrid(int64_t C) { return (unsigned)((C + 127) / 128); }

template <class T>
void forward_train(T* y, float* sm, float* si, float* rm, float* rv, const T* x, const T* r, const float* gamma,
                   const float* beta, int64_t N, int64_t C, int64_t HW, bool cl, float momentum, float eps, bool relu) {
  if (C <= 0 || N * HW <= 0) return;
  auto [part, S] = partial_sums<T, false>(x, nullptr, nullptr, nullptr, N, C, HW, cl, false);
  Scratch coef((size_t)(4 * C) * sizeof(float));
  finalize_fwd_train_k<T><<<cgrid(C), 128, 0, stream()>>>(coef.as<float>(), sm, si, rm, rv, part->template as<double2>(), x, gamma,
                                                          beta, S, C, HW, cl, (double)N * (double)HW, momentum, eps);
  check_launch("batchNorm (finalize)");
  apply_forward<T>(y, x, r, coef.as<float>(), N, C, HW, cl, relu);
}

template <class T>
void forward_eval(T* y, float* sm, float* si, const T* x, const T* r, const float* gamma, const float* beta,
                  const float* rm, const float* rv, int64_t N, int64_t C, int64_t HW, bool cl, float eps, bool relu) {
  if (C <= 0) return;
  Scratch coef((size_t)(4 * C) * sizeof(float));
  finalize_fwd_eval_k<<<cgrid(C), 128, 0, stream()>>>(coef.as<float>(), sm, si, rm, rv, gamma, beta, C, eps);
  check_launch("batchNorm (eval)");
  apply_forward<T>(y, x, r, coef.as<float>(), N, C, HW, cl, relu);
}

template <class T>
void backward(T* dx, T* dr, float* dgamma, float* dbeta, const T* dy, const T* y, const T* x, const float* gamma,
              const float* mean, const float* invstd, int64_t N, int64_t C, int64_t HW, bool cl, bool training, bool relu) {
  if (C <= 0) return;
  cudaStream_t s = stream();
  if (N * HW <= 0) {
    if (dgamma) check(cudaMemsetAsync(dgamma, 0, (size_t)C * sizeof(float), s), "cudaMemsetAsync");
    if (dbeta) check(cudaMemsetAsync(dbeta, 0, (size_t)C * sizeof(float), s), "cudaMemsetAsync");
    return;
  }
  auto [part, S] = partial_sums<T, true>(x, dy, y, mean, N, C, HW, cl, relu);
  Scratch coef((size_t)(4 * C) * sizeof(float));
  finalize_bwd_k<<<cgrid(C), 128, 0, s>>>(coef.as<float>(), dgamma, dbeta, part->template as<double2>(), gamma, mean, invstd, S, C,
                                          (double)N * (double)HW, training);
  check_launch("batchNorm backward (finalize)");
  apply_backward<T>(dx, dr, dy, y, x, coef.as<float>(), N, C, HW, cl, relu);
}
}  // namespace

// ---- fused entry points (backend.h) ----
void bn_add_relu_forward_train(void* y, float* sm, float* si, float* rm, float* rv, const void* x, const void* r,
                               const float* gamma, const float* beta, int64_t N, int64_t C, int64_t HW, bool cl,
                               float momentum, float eps, DType dt) {
  dispatch_floating(dt, "batchNormAddRelu", [&](auto t) {
    using T = decltype(t);
    forward_train<T>(static_cast<T*>(y), sm, si, rm, rv, static_cast<const T*>(x), static_cast<const T*>(r), gamma, beta, N,
                     C, HW, cl, momentum, eps, true);
  });
}
void bn_add_relu_forward_eval(void* y, float* sm, float* si, const void* x, const void* r, const float* gamma,
                              const float* beta, const float* rm, const float* rv, int64_t N, int64_t C, int64_t HW,
                              bool cl, float eps, DType dt) {
  dispatch_floating(dt, "batchNormAddRelu", [&](auto t) {
    using T = decltype(t);
    forward_eval<T>(static_cast<T*>(y), sm, si, static_cast<const T*>(x), static_cast<const T*>(r), gamma, beta, rm, rv, N,
                    C, HW, cl, eps, true);
  });
}
void bn_add_relu_backward(void* dx, void* dr, float* dgamma, float* dbeta, const void* dy, const void* y, const void* x,
                          const float* gamma, const float* sm, const float* si, int64_t N, int64_t C, int64_t HW, bool cl,
                          bool training, DType dt) {
  dispatch_floating(dt, "batchNormAddRelu backward", [&](auto t) {
    using T = decltype(t);
    backward<T>(static_cast<T*>(dx), static_cast<T*>(dr), dgamma, dbeta, static_cast<const T*>(dy),
                static_cast<const T*>(y), static_cast<const T*>(x), gamma, sm, si, N, C, HW, cl, training, true);
  });
}

// ---- plain BatchNorm2d (float32): the CPU batchnorm_* contracts ----
void batchnorm_forward_train(float* y, float* sm, float* si, float* rm, float* rv, const float* x, const float* gamma,
                             const float* beta, int64_t N, int64_t C, int64_t HW, bool cl, float momentum, float eps) {
  forward_train<float>(y, sm, si, rm, rv, x, nullptr, gamma, beta, N, C, HW, cl, momentum, eps, false);
}
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* mean,
                            const float* var, int64_t N, int64_t C, int64_t HW, bool cl, float eps) {
  forward_eval<float>(y, nullptr, nullptr, x, nullptr, gamma, beta, mean, var, N, C, HW, cl, eps, false);
}
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* sm, const float* si, int64_t N, int64_t C, int64_t HW, bool cl) {
  backward<float>(dx, nullptr, dgamma, dbeta, dy, nullptr, x, gamma, sm, si, N, C, HW, cl, true, false);
}
void batchnorm_backward_eval(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                             const float* mean, const float* var, int64_t N, int64_t C, int64_t HW, bool cl, float eps) {
  if (C <= 0) return;
  Scratch inv((size_t)C * sizeof(float));
  invstd_k<<<cgrid(C), 128, 0, stream()>>>(inv.as<float>(), var, C, eps);
  check_launch("batchNorm backward");
  backward<float>(dx, nullptr, dgamma, dbeta, dy, nullptr, x, gamma, mean, inv.as<float>(), N, C, HW, cl, false, false);
}

}  // namespace cuda
}  // namespace rn
