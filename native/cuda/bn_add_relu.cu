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
// recomputed from the saved output y (as stored: rounding to bf16 / f16 never turns a positive
// value into zero for bf16, and an f16 underflow to 0 is a 0 in y, so the mask is y's), never stored.
//
// Storage: x, r, y, dy, dx, dr are float32, bfloat16 or float16 (T); every statistic, gamma, beta
// and the running stats are float32, and all math is float32 (sums in double across threads).
// Layouts: NCHW ([N, C, HW]) or channels-last ([N, HW, C]).
//
// Two generations, selected by RESNODE_CUDA_BN=v1|v2 (read once; default v2) or at run time with
// set_bn_add_relu_version (the binding's _cudaBnAddReluVersion, for tests and benchmarks):
//
// v1 (the first kernels; kept to compare and to fall back on)
//   stats_nchw / stats_nhwc  per (channel, slice of the batch) partial sums -> scratch
//   finalize_*               per channel: statistics, running stats, coefficients (one thread each)
//   apply_fwd / apply_bwd    elementwise grid-stride loops, 4 elements per thread when aligned
//   forward training = 3 launches (2 reads of x); backward = 3 launches (dy, y, x read twice,
//   dx and dr written in the second pass); eval forward / backward also 2 / 3 launches.
//
// v2 (default). One tiling of the tensor serves both passes of an op:
//   NCHW  block = (channel c, chunk s of the channel's N*HW elements seen as N*HW/V vectors);
//         the threads of a block stride through the chunk (a vector never crosses a plane:
//         V divides HW), so all of a block's data belongs to one channel.
//   NHWC  block = (group of up to 256 vector columns, chunk s of the N*HW rows): bx threads across
//         the C/V vectors of a row, by = 256/bx rows at a time; a thread keeps its V channels.
//         NCHW with HW == 1 ([N, C], the same memory) takes this path.
//   V = 16 bytes of T when the layout and every pointer allow it, else 8 bytes, else 1 element;
//   each thread keeps 4 16-byte vectors (8 narrower ones) of each operand in flight in the
//   forward kernels, half as many in the backward ones (3 operands).
//   Chunks per group S = the blocks that fit on the device at once (occupancy x SMs) divided by
//   the groups, so the grid is one full wave of equal blocks (no tail wave), at least one vector
//   per thread (NCHW: 128-thread blocks when that fills the wave better, 64/128 for short channels).
//   Pass 1 (stats_k): each block reduces its chunk (float accumulators of at most 64 terms, as the
//   CPU's, folded into double; a fixed tree across the block) and writes one double2 partial per
//   channel; the last block to finish (an atomic ticket) combines every channel's S partials in a
//   fixed order and computes the statistics / coefficients (what v1's finalize kernels did), so
//   results do not depend on scheduling: bitwise reproducible on a given device, like the CPU.
//   Pass 2 (apply_*): the same tiling, each thread walking its items in reverse, so the data the
//   first pass read last (still in L2) is read first.
//   Forward training: stats + apply = 2 launches (x read twice, r once, y written: 3 [+1] E).
//   Forward eval: one launch (coefficients from the running statistics in the kernel).
//   Backward training: stats reads dy, y, x and writes dr = g (with a residual); apply reads g
//   (dr, or dy and y without a residual) and x and writes dx: 7 E either way (v1: 8 E with a
//   residual). Backward eval: one launch (dx = P g and dr = g written by the statistics pass).
//   The ticket counter is one device word reset by the last block: launches on the one stream
//   are serialised, so one counter serves every launch.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <type_traits>
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {

// ---- V-element vector loads/stores of T (V * sizeof(T) = 2, 4, 8 or 16 bytes, aligned) ----
template <int B> struct Bytes;
template <> struct Bytes<2> { using type = unsigned short; };
template <> struct Bytes<4> { using type = unsigned int; };
template <> struct Bytes<8> { using type = uint2; };
template <> struct Bytes<16> { using type = uint4; };

template <class T, int V>
__device__ __forceinline__ void load(const T* __restrict__ p, float (&v)[V]) {
  if constexpr (V == 1) {
    v[0] = to_f<T>(p[0]);
  } else {
    using R = typename Bytes<V * (int)sizeof(T)>::type;
    const R r = *reinterpret_cast<const R*>(p);
    const T* e = reinterpret_cast<const T*>(&r);
#pragma unroll
    for (int k = 0; k < V; k++) v[k] = to_f<T>(e[k]);
  }
}
template <class T, int V>
__device__ __forceinline__ void store(T* __restrict__ p, const float (&v)[V]) {
  if constexpr (V == 1) {
    p[0] = from_f<T>(v[0]);
  } else {
    using R = typename Bytes<V * (int)sizeof(T)>::type;
    R r;
    T* e = reinterpret_cast<T*>(&r);
#pragma unroll
    for (int k = 0; k < V; k++) e[k] = from_f<T>(v[k]);
    *reinterpret_cast<R*>(p) = r;
  }
}

// ---- per-channel finalisation (both generations) ----
// coef layout: [0, C) mean, [C, 2C) A or P, [2C, 3C) B or Q, [3C, 4C) R
struct FwdFinal {  // forward training: batch statistics from the shifted sums
  float *coef, *save_mean, *save_invstd, *running_mean, *running_var;
  const float *gamma, *beta;
  int64_t C;
  double M;
  float momentum, eps;
};
__device__ void finalize_fwd_channel(const FwdFinal& f, int64_t c, double S1, double S2, float K) {
  const double m1 = S1 / f.M;
  const double var = fmax(0.0, S2 / f.M - m1 * m1);
  const float mu = (float)((double)K + m1);
  const float invstd = (float)(1.0 / sqrt(var + (double)f.eps));
  f.save_mean[c] = mu;
  f.save_invstd[c] = invstd;
  f.coef[c] = mu;
  f.coef[f.C + c] = (f.gamma ? f.gamma[c] : 1.f) * invstd;
  f.coef[2 * f.C + c] = f.beta ? f.beta[c] : 0.f;
  if (f.running_mean) f.running_mean[c] = (1.f - f.momentum) * f.running_mean[c] + f.momentum * mu;
  if (f.running_var) {
    const double unbiased = f.M > 1 ? var * f.M / (f.M - 1) : var;
    f.running_var[c] = (1.f - f.momentum) * f.running_var[c] + f.momentum * (float)unbiased;
  }
}
struct BwdFinal {  // backward: dgamma, dbeta and the dx coefficients (coef may be null)
  float *coef, *dgamma, *dbeta;
  const float *gamma, *mean, *invstd;
  int64_t C;
  double M;
  bool training;
};
__device__ void finalize_bwd_channel(const BwdFinal& f, int64_t c, double S1, double S2) {
  const float is = f.invstd[c];
  const float P = (f.gamma ? f.gamma[c] : 1.f) * is;
  if (f.dbeta) f.dbeta[c] = (float)S1;
  if (f.dgamma) f.dgamma[c] = (float)(S2 * is);
  if (!f.coef) return;
  f.coef[c] = f.mean[c];
  f.coef[f.C + c] = P;
  f.coef[2 * f.C + c] = f.training ? (float)(-(double)P * is * is * S2 / f.M) : 0.f;
  f.coef[3 * f.C + c] = f.training ? (float)(-(double)P * S1 / f.M) : 0.f;
}
// eval forward: coefficients from the running statistics
__device__ __forceinline__ void eval_coef(const float* rm, const float* rv, const float* gamma, const float* beta,
                                          int64_t c, float eps, float& m, float& A, float& B, float& invstd) {
  invstd = 1.f / sqrtf(rv[c] + eps);
  m = rm[c];
  A = (gamma ? gamma[c] : 1.f) * invstd;
  B = beta ? beta[c] : 0.f;
}

__global__ void invstd_k(float* __restrict__ out, const float* __restrict__ var, int64_t C, float eps) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c < C) out[c] = 1.f / sqrtf(var[c] + eps);
}

bool aligned(const void* p, size_t a) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % a == 0; }
unsigned cgrid(int64_t C) { return (unsigned)((C + 127) / 128); }

//==================================================================================================
// v1
//==================================================================================================
namespace v1 {

// ---- element -> channel walk ----
// The element -> channel map is walked incrementally (no 64-bit division per element): a thread
// starts at element e0 and moves by the grid stride S, whose quotient and remainder by HW and C
// are computed once on the host.
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

// ---- per-channel finalisation: one thread per channel sums its S partials ----
template <class T>
__global__ void finalize_fwd_train_k(FwdFinal f, const double2* __restrict__ part, const T* __restrict__ x, int64_t S,
                                     int64_t HW, bool cl) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c >= f.C) return;
  double S1 = 0, S2 = 0;
  for (int64_t s = 0; s < S; s++) {
    S1 += part[s * f.C + c].x;
    S2 += part[s * f.C + c].y;
  }
  finalize_fwd_channel(f, c, S1, S2, to_f<T>(x[cl ? c : c * HW]));
}

// eval: from running statistics (save_* may be null for plain BatchNorm2d)
__global__ void finalize_fwd_eval_k(float* __restrict__ coef, float* __restrict__ save_mean, float* __restrict__ save_invstd,
                                    const float* __restrict__ rm, const float* __restrict__ rv,
                                    const float* __restrict__ gamma, const float* __restrict__ beta, int64_t C, float eps) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c >= C) return;
  float m, A, B, invstd;
  eval_coef(rm, rv, gamma, beta, c, eps, m, A, B, invstd);
  if (save_mean) save_mean[c] = m;
  if (save_invstd) save_invstd[c] = invstd;
  coef[c] = m;
  coef[C + c] = A;
  coef[2 * C + c] = B;
}

__global__ void finalize_bwd_k(BwdFinal f, const double2* __restrict__ part, int64_t S) {
  const int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (c >= f.C) return;
  double S1 = 0, S2 = 0;
  for (int64_t s = 0; s < S; s++) {
    S1 += part[s * f.C + c].x;
    S2 += part[s * f.C + c].y;
  }
  finalize_bwd_channel(f, c, S1, S2);
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

template <class T>
void forward_train(T* y, float* sm, float* si, float* rm, float* rv, const T* x, const T* r, const float* gamma,
                   const float* beta, int64_t N, int64_t C, int64_t HW, bool cl, float momentum, float eps, bool relu) {
  auto [part, S] = partial_sums<T, false>(x, nullptr, nullptr, nullptr, N, C, HW, cl, false);
  Scratch coef((size_t)(4 * C) * sizeof(float));
  const FwdFinal f{coef.as<float>(), sm, si, rm, rv, gamma, beta, C, (double)N * (double)HW, momentum, eps};
  finalize_fwd_train_k<T><<<cgrid(C), 128, 0, stream()>>>(f, part->template as<double2>(), x, S, HW, cl);
  check_launch("batchNorm (finalize)");
  apply_forward<T>(y, x, r, coef.as<float>(), N, C, HW, cl, relu);
}

template <class T>
void forward_eval(T* y, float* sm, float* si, const T* x, const T* r, const float* gamma, const float* beta,
                  const float* rm, const float* rv, int64_t N, int64_t C, int64_t HW, bool cl, float eps, bool relu) {
  Scratch coef((size_t)(4 * C) * sizeof(float));
  finalize_fwd_eval_k<<<cgrid(C), 128, 0, stream()>>>(coef.as<float>(), sm, si, rm, rv, gamma, beta, C, eps);
  check_launch("batchNorm (eval)");
  apply_forward<T>(y, x, r, coef.as<float>(), N, C, HW, cl, relu);
}

template <class T>
void backward(T* dx, T* dr, float* dgamma, float* dbeta, const T* dy, const T* y, const T* x, const float* gamma,
              const float* mean, const float* invstd, int64_t N, int64_t C, int64_t HW, bool cl, bool training, bool relu) {
  auto [part, S] = partial_sums<T, true>(x, dy, y, mean, N, C, HW, cl, relu);
  Scratch coef((size_t)(4 * C) * sizeof(float));
  const BwdFinal f{coef.as<float>(), dgamma, dbeta, gamma, mean, invstd, C, (double)N * (double)HW, training};
  finalize_bwd_k<<<cgrid(C), 128, 0, stream()>>>(f, part->template as<double2>(), S);
  check_launch("batchNorm backward (finalize)");
  apply_backward<T>(dx, dr, dy, y, x, coef.as<float>(), N, C, HW, cl, relu);
}
}  // namespace v1

//==================================================================================================
// v2 (see the top of the file)
//==================================================================================================
namespace v2 {

constexpr int kT = 256;  // threads per block (NCHW blocks shrink to 128 / 64 for short channels)

// The tiling of one op, computed on the host; both passes use it.
struct Geo {
  int64_t C, HW;
  int64_t items;   // per group: NCHW vectors of one channel (N * HW / V), NHWC rows (N * HW)
  int64_t S;       // chunks per group
  int64_t chunk;   // items per chunk (the last may be shorter)
  int64_t HWv;     // NCHW: vectors per plane
  int64_t sn, si;  // NCHW: blockDim vectors = sn planes + si vectors
  int64_t Cv;      // NHWC: vectors per row (C / V)
  int bx, by;      // NHWC: bx vector columns x by rows (bx * by <= 256)
  int by2;         // NHWC: by rounded up to a power of two (the reduction tree)
  int lpc;         // last block: lanes per channel (a power of two <= 32)
  int threads;     // block size
  unsigned blocks; // groups * S
};

// U items of each operand in flight per thread: 4 16-byte vectors (8 narrower ones) for the
// forward kernels (1-2 operands), half as many for the backward ones (2-3 operands)
template <class T, int V, bool BWD> constexpr int kU = (V * sizeof(T) >= 16 ? 4 : 8) / (BWD ? 2 : 1);
// distinct channels per thread: NHWC V (one per component), NCHW 1 (the block's)
template <bool CL, int V> constexpr int kNC = CL ? V : 1;

// V elements of T as loaded (one 2- to 16-byte load), converted to float on use
template <class T, int V>
struct Raw {
  using R = typename std::conditional<V == 1, T, typename Bytes<V * (int)sizeof(T)>::type>::type;
  R r;
  __device__ __forceinline__ void ld(const T* __restrict__ p) { r = *reinterpret_cast<const R*>(p); }
  __device__ __forceinline__ float operator[](int j) const { return to_f<T>(reinterpret_cast<const T*>(&r)[j]); }
};

// Where an item lives. NCHW: item j of channel c is vector j of the channel's N planes; NHWC:
// item r is row r, at the thread's vector column.
template <bool CL, int V> struct Cursor;
template <int V> struct Cursor<false, V> {
  int64_t n, i, c;
  __device__ __forceinline__ void start(const Geo& G, int64_t j, int64_t ch) {
    n = j / G.HWv;
    i = j - n * G.HWv;
    c = ch;
  }
  __device__ __forceinline__ void step(const Geo& G, bool rev) {
    if (!rev) {
      i += G.si;
      n += G.sn;
      if (i >= G.HWv) {
        i -= G.HWv;
        n++;
      }
    } else {
      i -= G.si;
      n -= G.sn;
      if (i < 0) {
        i += G.HWv;
        n--;
      }
    }
  }
  __device__ __forceinline__ int64_t off(const Geo& G) const { return ((n * G.C + c) * G.HWv + i) * V; }
};
template <int V> struct Cursor<true, V> {
  int64_t r, cv, q;
  __device__ __forceinline__ void start(const Geo& G, int64_t row, int64_t col) {
    r = row;
    cv = col * V;
    q = G.by;
  }
  __device__ __forceinline__ void step(const Geo&, bool rev) { r += rev ? -q : q; }
  __device__ __forceinline__ int64_t off(const Geo& G) const { return r * G.C + cv; }
};

// This thread's place in its block's tile.
struct Role {
  int64_t g, s;      // group (NCHW: the channel; NHWC: the column group), chunk
  int64_t it0, it1;  // the chunk's items
  int p, q;          // this thread's first item (from it0) and item stride
  int64_t col;       // NHWC: vector column
  int64_t ch0;       // channel of component 0 (NCHW: of every component)
  bool on;           // NHWC: false for threads without a column
};
template <bool CL>
__device__ __forceinline__ Role role(const Geo& G, int V) {
  Role R;
  R.g = blockIdx.x / G.S;
  R.s = blockIdx.x - R.g * G.S;
  R.it0 = R.s * G.chunk;
  R.it1 = min(G.items, R.it0 + G.chunk);
  if constexpr (CL) {
    const int tx = threadIdx.x % G.bx, ty = threadIdx.x / G.bx;
    R.col = R.g * G.bx + tx;
    R.p = ty;
    R.q = G.by;
    R.on = ty < G.by && R.col < G.Cv;
    R.ch0 = R.col * V;
  } else {
    R.col = 0;
    R.p = threadIdx.x;
    R.q = blockDim.x;
    R.on = true;
    R.ch0 = R.g;
  }
  return R;
}
template <bool CL>
__device__ __forceinline__ int64_t chan(const Role& R, int j) { return CL ? R.ch0 + j : R.ch0; }

// Calls body(off[U], ok[U]) for this thread's items, U at a time (element offsets of the
// items' vectors; ok[u] false past the end), first to last or (REV) last to first.
template <bool CL, int V, int U, bool REV, class F>
__device__ __forceinline__ void for_items(const Geo& G, const Role& R, F&& body) {
  if (!R.on || R.it0 + R.p >= R.it1) return;
  const int64_t K = (R.it1 - R.it0 - R.p + R.q - 1) / R.q;
  Cursor<CL, V> cur;
  cur.start(G, R.it0 + R.p + (REV ? (K - 1) * R.q : 0), CL ? R.col : R.g);
  for (int64_t k = 0; k < K; k += U) {
    int64_t off[U];
    bool ok[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      ok[u] = k + u < K;
      off[u] = cur.off(G);  // past the end: computed, never used
      cur.step(G, REV);
    }
    body(off, ok);
  }
}

// Loads operands a, b, c (b, c may be null: skipped) at each ok item, all before any use (U loads
// of each in flight), interleaved item by item.
template <class T, int V, int U>
__device__ __forceinline__ void load_items(const int64_t (&off)[U], const bool (&ok)[U], Raw<T, V>* va, const T* pa,
                                           Raw<T, V>* vb = nullptr, const T* pb = nullptr, Raw<T, V>* vc = nullptr,
                                           const T* pc = nullptr) {
#pragma unroll
  for (int u = 0; u < U; u++)
    if (ok[u]) {
      va[u].ld(pa + off[u]);
      if (pb) vb[u].ld(pb + off[u]);
      if (pc) vc[u].ld(pc + off[u]);
    }
}
// dst at each ok item = f(u, j) for its V components.
template <class T, int V, int U, class F>
__device__ __forceinline__ void store_items(T* __restrict__ dst, const int64_t (&off)[U], const bool (&ok)[U], F&& f) {
#pragma unroll
  for (int u = 0; u < U; u++)
    if (ok[u]) {
      float o[V];
#pragma unroll
      for (int j = 0; j < V; j++) o[j] = f(u, j);
      store<T, V>(dst + off[u], o);
    }
}
// f(j, c) for each of this thread's NC channels (component j, channel c), when it has a column.
template <bool CL, int NC, class F>
__device__ __forceinline__ void per_channel(const Role& R, F&& f) {
  if (!R.on) return;
#pragma unroll
  for (int j = 0; j < NC; j++) f(j, chan<CL>(R, j));
}

// ---- the last block ----
__device__ unsigned int g_ticket;  // blocks of the running statistics kernel that have finished

// True in the last block of the grid to get here, after every block's partials are visible.
__device__ bool last_block() {
  __shared__ bool last;
  __threadfence();  // this thread's partials, before the ticket
  __syncthreads();
  if (threadIdx.x == 0) {
    last = atomicAdd(&g_ticket, 1u) == gridDim.x - 1;
    if (last) atomicExch(&g_ticket, 0u);  // everyone has arrived: ready for the next launch
  }
  __syncthreads();
  if (last) __threadfence();
  return last;
}

template <class T>
struct StatsArgs {
  double2* part;              // [S][C]
  const T *x, *dy, *y;        // dy, y: backward
  T* g_out;                   // backward: dr = g (null: not written)
  T* dx_out;                  // backward eval: dx = P g (null: not written)
  bool relu;
  FwdFinal ff;                // forward
  BwdFinal bf;                // backward
  Geo geo;
};

// Pass 1. Forward: sums of x - K and (x - K)^2 (K = the channel's first element). Backward: sums of
// g = dy [* (y > 0)] and g (x - mean), writing g and (eval) P g on the way. The last block turns
// every channel's partials into statistics (FwdFinal / BwdFinal).
template <class T, int V, bool CL, bool BWD>
__global__ void __launch_bounds__(kT, 3) stats_k(const StatsArgs<T> a) {
  constexpr int U = kU<T, V, BWD>, NC = kNC<CL, V>;
  // float terms per accumulator between folds into double: at most 64, as the CPU's kFold
  constexpr int kFoldGroups = 64 / (U * (CL ? 1 : V)) > 0 ? 64 / (U * (CL ? 1 : V)) : 1;
  const Geo& G = a.geo;
  const Role R = role<CL>(G, V);
  // double accumulators: NCHW two registers; NHWC V pairs per thread in shared memory (the
  // reduction's buffer), so they do not hold 4 V registers through the loop
  extern __shared__ __align__(16) unsigned char smem[];
  double2* sh = reinterpret_cast<double2*>(smem);  // NHWC: [256][V], thread (ty, tx) at ty * bx + tx
  double d1 = 0.0, d2 = 0.0;
  if constexpr (CL)
    if (threadIdx.x < G.bx * G.by)
#pragma unroll
      for (int j = 0; j < V; j++) sh[threadIdx.x * V + j] = make_double2(0.0, 0.0);
  float k[NC] = {}, f1[NC] = {}, f2[NC] = {};
  per_channel<CL, NC>(R, [&](int j, int64_t c) { k[j] = BWD ? a.bf.mean[c] : to_f<T>(a.x[CL ? c : c * G.HW]); });
  auto fold = [&]() {
#pragma unroll
    for (int j = 0; j < NC; j++) {
      if constexpr (CL) {
        sh[threadIdx.x * V + j].x += f1[j];
        sh[threadIdx.x * V + j].y += f2[j];
      } else {
        d1 += f1[j];
        d2 += f2[j];
      }
      f1[j] = f2[j] = 0.f;
    }
  };
  int groups = 0;
  for_items<CL, V, U, false>(G, R, [&](const int64_t(&off)[U], const bool(&ok)[U]) {
    Raw<T, V> xv[U], gv[U], yv[U];
    load_items(off, ok, xv, a.x, gv, BWD ? a.dy : nullptr, yv, BWD && a.relu ? a.y : nullptr);
#pragma unroll
    for (int u = 0; u < U; u++)
      if (ok[u]) {
        float gs[V];
#pragma unroll
        for (int j = 0; j < V; j++) {
          const int cj = CL ? j : 0;
          if constexpr (BWD) {
            const float g = a.relu && !(yv[u][j] > 0.f) ? 0.f : gv[u][j];
            gs[j] = g;
            f1[cj] += g;
            f2[cj] += g * (xv[u][j] - k[cj]);
          } else {
            const float d = xv[u][j] - k[cj];
            f1[cj] += d;
            f2[cj] += d * d;
          }
        }
        if constexpr (BWD) {
          if (a.g_out) store<T, V>(a.g_out + off[u], gs);
          if (a.dx_out) {  // eval: dx = P g (P from L1: no registers held for this rare case)
#pragma unroll
            for (int j = 0; j < V; j++) {
              const int64_t c = chan<CL>(R, j);
              gs[j] *= (a.bf.gamma ? a.bf.gamma[c] : 1.f) * a.bf.invstd[c];
            }
            store<T, V>(a.dx_out + off[u], gs);
          }
        }
      }
    if (++groups == kFoldGroups) {
      fold();
      groups = 0;
    }
  });
  if (R.on) fold();

  // block partials -> part[s][c]
  if constexpr (!CL) {
    const double t1 = block_sum<double>(d1), t2 = block_sum<double>(d2);
    if (threadIdx.x == 0) a.part[R.s * G.C + R.g] = make_double2(t1, t2);
  } else {
    const int ty = threadIdx.x / G.bx, tx = threadIdx.x % G.bx;
    for (int st = G.by2 / 2; st > 0; st >>= 1) {  // a fixed tree over the rows
      __syncthreads();
      if (ty < st && ty + st < G.by)
#pragma unroll
        for (int j = 0; j < V; j++) {
          const double2 o = sh[(threadIdx.x + st * G.bx) * V + j];
          sh[threadIdx.x * V + j].x += o.x;
          sh[threadIdx.x * V + j].y += o.y;
        }
    }
    if (ty == 0 && R.col < G.Cv)
#pragma unroll
      for (int j = 0; j < V; j++) a.part[R.s * G.C + R.ch0 + j] = sh[tx * V + j];
  }

  if (!last_block()) return;
  // every channel: its S partials in a fixed order (lpc lanes, then a fixed butterfly)
  const int lpc = G.lpc, cpr = blockDim.x / lpc, l = threadIdx.x % lpc;
  for (int64_t base = 0; base < G.C; base += cpr) {
    const int64_t c = base + threadIdx.x / lpc;
    double s1 = 0.0, s2 = 0.0;
    if (c < G.C)
      for (int64_t s = l; s < G.S; s += lpc) {
        const double2 p = __ldcg(a.part + s * G.C + c);
        s1 += p.x;
        s2 += p.y;
      }
    for (int o = lpc / 2; o > 0; o >>= 1) {
      s1 += __shfl_xor_sync(0xffffffffu, s1, o);
      s2 += __shfl_xor_sync(0xffffffffu, s2, o);
    }
    if (c < G.C && l == 0) {
      if constexpr (BWD) finalize_bwd_channel(a.bf, c, s1, s2);
      else finalize_fwd_channel(a.ff, c, s1, s2, to_f<T>(a.x[CL ? c : c * G.HW]));
    }
  }
}

template <class T>
struct FwdArgs {
  T* y;
  const T *x, *r;
  const float* coef;                        // training: [mean | A | B]; null in eval:
  const float *rm, *rv, *gamma, *beta;      //   coefficients from the running statistics,
  float *save_mean, *save_invstd;           //   written by the first chunk's threads
  float eps;
  bool relu;
  Geo geo;
};

// Pass 2 forward: y = relu((x - m) A + B [+ r]).
template <class T, int V, bool CL>
__global__ void __launch_bounds__(kT, 3) apply_fwd_k(const FwdArgs<T> a) {
  constexpr int U = kU<T, V, false>, NC = kNC<CL, V>;
  const Geo& G = a.geo;
  const Role R = role<CL>(G, V);
  float m[NC] = {}, A[NC] = {}, B[NC] = {};
  per_channel<CL, NC>(R, [&](int j, int64_t c) {
    if (a.coef) {
      m[j] = a.coef[c];
      A[j] = a.coef[G.C + c];
      B[j] = a.coef[2 * G.C + c];
    } else {
      float invstd;
      eval_coef(a.rm, a.rv, a.gamma, a.beta, c, a.eps, m[j], A[j], B[j], invstd);
      if (R.s == 0 && R.p == 0) {
        if (a.save_mean) a.save_mean[c] = m[j];
        if (a.save_invstd) a.save_invstd[c] = invstd;
      }
    }
  });
  for_items<CL, V, U, true>(G, R, [&](const int64_t(&off)[U], const bool(&ok)[U]) {
    Raw<T, V> xv[U], rv[U];
    load_items(off, ok, xv, a.x, rv, a.r);
    store_items<T, V, U>(a.y, off, ok, [&](int u, int j) {
      const int cj = CL ? j : 0;
      float v = (xv[u][j] - m[cj]) * A[cj] + B[cj];
      if (a.r) v += rv[u][j];
      return a.relu ? (v <= 0.f ? 0.f : v) : v;  // NaN stays NaN
    });
  });
}

template <class T>
struct BwdArgs {
  T* dx;
  const T *g, *dy, *y, *x;  // g (the first pass's dr) when there is one, else dy [* (y > 0)]
  const float* coef;        // [mean | P | Q | R]
  bool relu;
  Geo geo;
};

// Pass 2 backward (training): dx = P g + (Q (x - mean) + R).
template <class T, int V, bool CL>
__global__ void __launch_bounds__(kT, 3) apply_bwd_k(const BwdArgs<T> a) {
  constexpr int U = kU<T, V, true>, NC = kNC<CL, V>;
  const Geo& G = a.geo;
  const Role R = role<CL>(G, V);
  float m[NC] = {}, P[NC] = {}, Q[NC] = {}, Rr[NC] = {};
  per_channel<CL, NC>(R, [&](int j, int64_t c) {
    m[j] = a.coef[c];
    P[j] = a.coef[G.C + c];
    Q[j] = a.coef[2 * G.C + c];
    Rr[j] = a.coef[3 * G.C + c];
  });
  const bool mask = !a.g && a.relu;
  for_items<CL, V, U, true>(G, R, [&](const int64_t(&off)[U], const bool(&ok)[U]) {
    Raw<T, V> gv[U], yv[U], xv[U];
    load_items(off, ok, gv, a.g ? a.g : a.dy, xv, a.x, yv, mask ? a.y : nullptr);
    store_items<T, V, U>(a.dx, off, ok, [&](int u, int j) {
      const int cj = CL ? j : 0;
      const float g = mask && !(yv[u][j] > 0.f) ? 0.f : gv[u][j];
      return P[cj] * g + (Q[cj] * (xv[u][j] - m[cj]) + Rr[cj]);
    });
  });
}

// ---- host side ----
template <int V, bool CL>
size_t stats_smem() { return CL ? (size_t)kT * V * sizeof(double2) : 0; }

// Blocks of 256 threads that fit on one SM for every kernel of a (T, V, layout) (once each).
template <class T, int V, bool CL>
int per_sm() {
  static const int n = [] {
    int best = 32;
    auto q = [&](const void* k, size_t smem) {
      int b = 0;
      if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, k, kT, smem) != cudaSuccess) {
        (void)cudaGetLastError();  // not a launch error: do not leave it for check_launch
        b = 1;
      }
      best = std::min(best, std::max(b, 1));
    };
    q((const void*)stats_k<T, V, CL, false>, stats_smem<V, CL>());
    q((const void*)stats_k<T, V, CL, true>, stats_smem<V, CL>());
    q((const void*)apply_fwd_k<T, V, CL>, 0);
    q((const void*)apply_bwd_k<T, V, CL>, 0);
    return best;
  }();
  return n;
}

// Chunks per group for blocks of T threads advancing `step` items per round: one wave (the blocks
// that fit at once, at most 32 per SM) shared by the groups, at least one item per thread.
int64_t chunks(int64_t groups, int64_t items, int64_t step, int T, int per_sm_256) {
  const int64_t fit = (int64_t)std::min(32, per_sm_256 * kT / T) * sm_count();
  const int64_t most = (items + step - 1) / step;
  return std::max<int64_t>(1, std::min(fit / groups, most));
}
double fill(int64_t groups, int64_t S, int T, int per_sm_256) {  // fraction of the wave's slots used
  return (double)(groups * S) / (double)((int64_t)std::min(32, per_sm_256 * kT / T) * sm_count());
}

Geo make_geo(int64_t N, int64_t C, int64_t HW, bool cl, int V, int per_sm_256) {
  Geo G{};
  G.C = C;
  G.HW = HW;
  int64_t groups, step;  // step: items a block covers per round
  if (!cl) {
    G.HWv = HW / V;
    G.items = N * G.HWv;
    int T = kT;
    while (T > 64 && G.items <= T / 2) T /= 2;  // short channels: 128 or 64 threads
    // 128 threads when that fills the wave better (C = 256 channels on 396 slots of 256 threads)
    if (T == kT && fill(C, chunks(C, G.items, T / 2, T / 2, per_sm_256), T / 2, per_sm_256) >
                       fill(C, chunks(C, G.items, T, T, per_sm_256), T, per_sm_256) + 0.05)
      T /= 2;
    G.threads = T;
    G.sn = T / G.HWv;
    G.si = T % G.HWv;
    groups = C;
    step = T;
  } else {
    G.Cv = C / V;
    G.items = N * HW;
    groups = (G.Cv + kT - 1) / kT;
    G.bx = (int)((G.Cv + groups - 1) / groups);
    G.by = kT / G.bx;
    G.by2 = 1;
    while (G.by2 < G.by) G.by2 <<= 1;
    G.threads = kT;
    step = G.by;
  }
  const int64_t S = chunks(groups, G.items, step, G.threads, per_sm_256);
  G.chunk = (G.items + S - 1) / S;
  G.S = (G.items + G.chunk - 1) / G.chunk;
  G.blocks = (unsigned)(groups * G.S);
  G.lpc = 1;
  while (G.lpc < 32 && (int64_t)G.lpc * 2 * C <= G.threads) G.lpc *= 2;
  return G;
}

// v2 handles what fits its grid (groups * S < 2^31 blocks; always true for real shapes).
bool fits(int64_t N, int64_t C, int64_t HW) { return C <= (int64_t(1) << 30) && N * HW > 0; }

// Vector width: 16 bytes of T, else 8, else 1 element (the layout's inner extent must be a
// multiple and every pointer aligned to it).
template <class T>
int vec_width(int64_t C, int64_t HW, bool cl, std::initializer_list<const void*> ptrs) {
  const int64_t inner = cl ? C : HW;
  for (int bytes : {16, 8}) {
    const int V = bytes / (int)sizeof(T);
    if (V < 2 || inner % V) continue;
    bool ok = true;
    for (const void* p : ptrs) ok = ok && aligned(p, (size_t)bytes);
    if (ok) return V;
  }
  return 1;
}

// Calls f(integral_constant V, integral_constant CL) for the chosen width and layout.
template <class T, class F>
void with_shape(int V, bool cl, F&& f) {
  constexpr int V16 = 16 / (int)sizeof(T), V8 = 8 / (int)sizeof(T);  // both > 1
  auto go = [&](auto cl_c) {
    if (V == V16) f(std::integral_constant<int, V16>{}, cl_c);
    else if (V == V8) f(std::integral_constant<int, V8>{}, cl_c);
    else f(std::integral_constant<int, 1>{}, cl_c);
  };
  if (cl) go(std::true_type{});
  else go(std::false_type{});
}

template <class T>
void forward(T* y, float* sm, float* si, float* rm, float* rv, const T* x, const T* r, const float* gamma,
             const float* beta, int64_t N, int64_t C, int64_t HW, bool cl0, float momentum, float eps, bool relu,
             bool training) {
  const bool cl = cl0 || HW == 1;  // [N, C] memory is channels-last
  const int Vw = vec_width<T>(C, HW, cl, {y, x, r});
  with_shape<T>(Vw, cl, [&](auto Vc, auto CLc) {
    constexpr int V = decltype(Vc)::value;
    constexpr bool CL = decltype(CLc)::value;
    cudaStream_t s = stream();
    const Geo G = make_geo(N, C, HW, CL, V, per_sm<T, V, CL>());
    FwdArgs<T> f{y, x, r, nullptr, rm, rv, gamma, beta, sm, si, eps, relu, G};
    std::unique_ptr<Scratch> coef;
    if (training) {
      Scratch part((size_t)(G.S * C) * sizeof(double2));
      coef = std::make_unique<Scratch>((size_t)(3 * C) * sizeof(float));
      StatsArgs<T> a{};
      a.part = part.as<double2>();
      a.x = x;
      a.ff = FwdFinal{coef->as<float>(), sm, si, rm, rv, gamma, beta, C, (double)N * (double)HW, momentum, eps};
      a.geo = G;
      stats_k<T, V, CL, false><<<G.blocks, G.threads, stats_smem<V, CL>(), s>>>(a);
      check_launch("batchNorm (statistics)");
      f.coef = coef->as<float>();
    }
    apply_fwd_k<T, V, CL><<<G.blocks, G.threads, 0, s>>>(f);
    check_launch(training ? "batchNorm (apply)" : "batchNorm (eval)");
  });
}

template <class T>
void backward(T* dx, T* dr, float* dgamma, float* dbeta, const T* dy, const T* y, const T* x, const float* gamma,
              const float* mean, const float* invstd, int64_t N, int64_t C, int64_t HW, bool cl0, bool training,
              bool relu) {
  const bool cl = cl0 || HW == 1;
  const int Vw = vec_width<T>(C, HW, cl, {dx, dr, dy, y, x});
  with_shape<T>(Vw, cl, [&](auto Vc, auto CLc) {
    constexpr int V = decltype(Vc)::value;
    constexpr bool CL = decltype(CLc)::value;
    cudaStream_t s = stream();
    const Geo G = make_geo(N, C, HW, CL, V, per_sm<T, V, CL>());
    const bool apply = training && dx;  // eval: dx = P g in the statistics pass
    Scratch part((size_t)(G.S * C) * sizeof(double2));
    Scratch coef(apply ? (size_t)(4 * C) * sizeof(float) : 0);
    StatsArgs<T> a{};
    a.part = part.as<double2>();
    a.x = x;
    a.dy = dy;
    a.y = y;
    a.g_out = dr;
    a.dx_out = training ? nullptr : dx;
    a.relu = relu;
    a.bf = BwdFinal{apply ? coef.as<float>() : nullptr, dgamma, dbeta, gamma, mean, invstd, C, (double)N * (double)HW,
                    training};
    a.geo = G;
    stats_k<T, V, CL, true><<<G.blocks, G.threads, stats_smem<V, CL>(), s>>>(a);
    check_launch("batchNorm backward (statistics)");
    if (!apply) return;
    BwdArgs<T> b{dx, dr, dy, y, x, coef.as<float>(), relu, G};
    apply_bwd_k<T, V, CL><<<G.blocks, G.threads, 0, s>>>(b);
    check_launch("batchNorm backward (apply)");
  });
}
}  // namespace v2

// ---- version selection ----
std::atomic<int> g_version{0};  // 0: not chosen yet

int env_version() {
  const char* e = std::getenv("RESNODE_CUDA_BN");
  if (!e || !*e) return 2;
  const std::string v(e);
  if (v == "v1" || v == "1") return 1;
  if (v == "v2" || v == "2") return 2;
  throw RnError("ERR_RN_ARG", cat("RESNODE_CUDA_BN must be v1 or v2 but is '", v, "'"));
}
int version() {
  int v = g_version.load(std::memory_order_relaxed);
  if (v == 0) {
    v = env_version();
    g_version.store(v, std::memory_order_relaxed);
  }
  return v;
}

// ---- dispatch (sizes are checked by the callers) ----
template <class T>
void forward_train(T* y, float* sm, float* si, float* rm, float* rv, const T* x, const T* r, const float* gamma,
                   const float* beta, int64_t N, int64_t C, int64_t HW, bool cl, float momentum, float eps, bool relu) {
  if (C <= 0 || N * HW <= 0) return;
  if (version() == 2 && v2::fits(N, C, HW))
    v2::forward<T>(y, sm, si, rm, rv, x, r, gamma, beta, N, C, HW, cl, momentum, eps, relu, true);
  else
    v1::forward_train<T>(y, sm, si, rm, rv, x, r, gamma, beta, N, C, HW, cl, momentum, eps, relu);
}

template <class T>
void forward_eval(T* y, float* sm, float* si, const T* x, const T* r, const float* gamma, const float* beta,
                  const float* rm, const float* rv, int64_t N, int64_t C, int64_t HW, bool cl, float eps, bool relu) {
  if (C <= 0) return;
  if (version() == 2 && v2::fits(N, C, HW))
    v2::forward<T>(y, sm, si, const_cast<float*>(rm), const_cast<float*>(rv), x, r, gamma, beta, N, C, HW, cl, 0.f, eps,
                   relu, false);
  else  // (also an empty batch: the saved statistics are still written)
    v1::forward_eval<T>(y, sm, si, x, r, gamma, beta, rm, rv, N, C, HW, cl, eps, relu);
}

template <class T>
void backward(T* dx, T* dr, float* dgamma, float* dbeta, const T* dy, const T* y, const T* x, const float* gamma,
              const float* mean, const float* invstd, int64_t N, int64_t C, int64_t HW, bool cl, bool training, bool relu) {
  if (C <= 0) return;
  if (N * HW <= 0) {
    cudaStream_t s = stream();
    if (dgamma) check(cudaMemsetAsync(dgamma, 0, (size_t)C * sizeof(float), s), "cudaMemsetAsync");
    if (dbeta) check(cudaMemsetAsync(dbeta, 0, (size_t)C * sizeof(float), s), "cudaMemsetAsync");
    return;
  }
  if (version() == 2 && v2::fits(N, C, HW))
    v2::backward<T>(dx, dr, dgamma, dbeta, dy, y, x, gamma, mean, invstd, N, C, HW, cl, training, relu);
  else
    v1::backward<T>(dx, dr, dgamma, dbeta, dy, y, x, gamma, mean, invstd, N, C, HW, cl, training, relu);
}
}  // namespace

int bn_add_relu_version() { return version(); }
void set_bn_add_relu_version(int v) {
  if (v < 0 || v > 2)
    throw RnError("ERR_RN_RANGE", cat("bn_add_relu (cuda): unknown kernel version ", v, " (0 = default, 1, 2)"),
                  ErrKind::Range);
  g_version.store(v == 0 ? env_version() : v, std::memory_order_relaxed);
}

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
