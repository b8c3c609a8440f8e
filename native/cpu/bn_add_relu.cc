// Fused BatchNorm2d (+ residual add) + ReLU on the CPU: y = max(0, bn(x) [+ r]).
//
// Why fuse: the unfused sequence bn -> add -> relu makes 3 full passes over activations in the
// forward (bn: 2-3 reads of x + 1 write, add: 2 reads + 1 write, relu: 1 read + 1 write) and as
// many in the backward. Everything here is memory-bound, so the time is the bytes moved:
//
//   forward, training   pass 1  read x                      -> per-channel statistics
//                       pass 2  read x, r; write y [+ m]    (x twice + r + y = 4 tensors)
//   forward, eval       one pass read x, r; write y [+ m]   (3 tensors)
//   backward, training  pass 1  read dy, m, x; write g = dy * m -> sums of g, g * (x - mean)
//                               (g is dr, the residual's gradient; without one, nothing is written)
//                       pass 2  read g, x; write dx  (without a residual: read dy, m, x)
//                       (6 tensors with the residual, 5 without, + the bits twice)
//   backward, eval      one pass read dy, m, x; write dr, dx  (sums for dgamma/dbeta on the way)
//
// m is the ReLU mask. v2 (AVX-512) saves it as bits, 1/32 of y's bytes, written by the forward
// as it stores y (an n-element tensor costs n/8 bytes more memory while its graph lives). v1, and
// callers that pass no bit buffer, recompute it as y > 0 from the saved output (exactly the mask
// torch.relu's backward uses); then the backward reads y in pass 1 and, without a residual, writes
// g into dx and reads it back in pass 2 (7 tensors either way: three read streams measured ~20%
// slower than two for the same bytes). Nothing else of input size is saved besides x (BN's input,
// which any BN backward needs); per channel: mean and invstd.
//
// Numerics. Statistics are shifted sums: d = x - K_c with K_c = the channel's first element (a
// sample of the data, so |mean - K| is of the order of the std and E[d^2] - E[d]^2 does not cancel
// catastrophically even for inputs like 1000 + N(0, 1)). Each lane sums at most kFold terms in
// float (relative error <= kFold * 2^-24 ~ 4e-6 in the worst case, ~5e-7 typically), and those
// partials are folded into double; parts are combined in double in a fixed order. Welford's update
// needs a division per element; these sums need one subtract and one FMA per element, and the
// part layout (below) does not depend on the thread count, so results are bitwise reproducible
// for any number of threads. The normalisation uses (x - mean) * A + beta rather than
// x * A + (beta - mean * A), which would lose digits when |mean| >> std.
//
// Layouts. NCHW is a stream of N * C rows of HW elements, channel = row % C: the row kernels
// broadcast the row's per-channel coefficients and reduce their register accumulators into the
// channel's sums at the end of each row, with masked tails for any HW (7x7, 9x11, ...).
// Channels-last (and NCHW with HW == 1, the same memory) repeats the C channels every pixel: the
// pattern kernels process `ng` groups of L lanes with per-lane coefficient arrays and a tail of
// fewer than L elements, L = lcm(C, 16) (C = 3 -> 48 lanes = 16 pixels; C = 64 -> 64), or C itself
// when that would exceed kMaxPattern lanes.
// The element range is cut into at most kMaxParts parts of >= kPartElems elements (a function of
// the shape only), handed to the thread pool one at a time, each with its own partial sums. Second
// passes walk the parts in reverse, so they start on the data the first pass touched last (still
// in L3).
//
// Versions (llm.c style; the bench compares them): v1 = portable code under RN_VEC (plain loops
// and 16-lane GCC vector types, which each clone lowers to AVX-512 / AVX2 / SSE2); v2 = AVX-512
// intrinsics with register accumulators, masked tails instead of scalar loops, and non-temporal
// stores for outputs of at
// least nt_bytes (16 MiB by default: such outputs do not fit in cache, and streaming them avoids
// the read-for-ownership that a normal store pays).
#include "bn_add_relu.h"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>
#include "../core/error.h"
#include "../core/parallel.h"
#include "../core/simd.h"
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RN_BN_X86 1
#endif

namespace rn {
namespace cpu {
namespace {

constexpr int64_t kFold = 64;              // float terms per lane before folding into double
constexpr int64_t kPartElems = 1 << 16;    // minimum elements per part
constexpr int64_t kMaxParts = 64;
constexpr int64_t kMaxPattern = 2048;      // longest lcm pattern (lanes) before falling back
constexpr int64_t kDefaultNtBytes = int64_t(16) << 20;

std::atomic<int> g_version{0};
// p + o, keeping null pointers null (optional operands)
template <class T>
inline T* off(T* p, int64_t o) { return p ? p + o : p; }
std::atomic<int64_t> g_nt_bytes{kDefaultNtBytes};

// The ReLU mask as the backward reads it: the saved output (y > 0), or the bit mask the v2 forward
// saved instead (bit b0 + e of bits = output element e > 0). `+ o` moves both by o elements, so the
// kernels offset it like a pointer.
struct YSrc {
  const float* y = nullptr;
  const uint8_t* bits = nullptr;
  int64_t b0 = 0;
  YSrc operator+(int64_t o) const { return {y ? y + o : nullptr, bits, b0 + o}; }
};
// The bits of elements [j, j + 16) (the mask buffer has 4 bytes of slack past its last bit).
inline uint32_t get_bits16(const YSrc& s, int64_t j) {
  const int64_t b = s.b0 + j;
  uint32_t w;
  std::memcpy(&w, s.bits + (b >> 3), 4);
  return (w >> (b & 7)) & 0xFFFFu;
}
// Where the forward writes the bits (p null: it does not). A vector starting at a multiple of 16
// elements stores its 16-bit word (bits past n are 0; elements later in the word are written later
// by the same thread). Elsewhere (NCHW rows of HW % 16 != 0, patterns of L % 16 != 0) the bits are
// ORed into the part's byte range, zeroed first, touching only the bytes of the n bits written:
// parts start at multiples of 16 elements, so two threads never write one byte.
struct BitsOut {
  uint8_t* p = nullptr;
  int64_t b0 = 0;
  BitsOut operator+(int64_t o) const { return {p, b0 + o}; }
};
inline void put_bits(const BitsOut& bo, int64_t j, uint32_t k, int64_t n) {
  const int64_t b = bo.b0 + j;
  uint8_t* q = bo.p + (b >> 3);
  if ((b & 15) == 0) {
    const uint16_t v = (uint16_t)k;
    std::memcpy(q, &v, 2);
    return;
  }
  const int sh = (int)(b & 7);
  const uint32_t v = k << sh;
  const int64_t nb = (sh + n + 7) >> 3;
  q[0] |= (uint8_t)v;
  if (nb > 1) q[1] |= (uint8_t)(v >> 8);
  if (nb > 2) q[2] |= (uint8_t)(v >> 16);
}

// ------------------------------------------------------------------------------------------------
// Kernel table. All kernels take pointers at the block's first element, coefficient arrays of L
// lanes, `ng` groups of L elements and then `tail` (< L) elements using lanes [0, tail).
// Sums are added into s1[L], s2[L] (double); `acc` is float scratch of 2 * L.
struct Kern {
  // s1 += d, s2 += d^2 with d = x - K
  void (*stats)(double* s1, double* s2, float* acc, const float* x, const float* K, int64_t L, int64_t ng,
                int64_t tail);
  // y = max(0, (x - M) * A + Bt [+ r])
  // [bo: the ReLU bits of y]
  void (*fwd)(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt, int64_t L,
              int64_t ng, int64_t tail, bool nt, BitsOut bo);
  // g = y > 0 ? dy : 0 (the mask from YSrc); [g_out = g]; [dx_out = g * P]; s1 += g; s2 += g * (x - M)
  void (*bsum)(double* s1, double* s2, float* acc, float* g_out, float* dx_out, const float* dy, YSrc y,
               const float* x, const float* M, const float* P, int64_t L, int64_t ng, int64_t tail, bool nt);
  // g = g_in ? g_in : (y > 0 ? dy : 0); dx = P * g + Q * (x - M) + R
  void (*bapply)(float* dx, const float* g_in, const float* dy, YSrc y, const float* x, const float* M,
                 const float* P, const float* Q, const float* R, int64_t L, int64_t ng, int64_t tail, bool nt);
  // The same four for NCHW rows: pointers at element 0 of the tensor, elements [e0, e1) of the
  // stream of N * C rows of HW (channel = row % C), per-channel coefficient arrays, and sums
  // added into per-channel s1[C], s2[C].
  void (*stats_rows)(double* s1, double* s2, const float* x, const float* K, int64_t e0, int64_t e1, int64_t HW,
                     int64_t C);
  void (*fwd_rows)(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                   int64_t e0, int64_t e1, int64_t HW, int64_t C, bool nt, BitsOut bo);
  void (*bsum_rows)(double* s1, double* s2, float* g_out, float* dx_out, const float* dy, YSrc y,
                    const float* x, const float* M, const float* P, int64_t e0, int64_t e1, int64_t HW, int64_t C,
                    bool nt);
  void (*bapply_rows)(float* dx, const float* g_in, const float* dy, YSrc y, const float* x, const float* M,
                      const float* P, const float* Q, const float* R, int64_t e0, int64_t e1, int64_t HW, int64_t C,
                      bool nt);
};
// Row loops below: `for each (part of a) row [rb, re) of channel c within [e0, e1)`.

// ---- v1: portable loops, vectorised by GCC per ISA (RN_VEC) ------------------------------------
// L == 16 (a 16-lane pattern: C = 1, 2, 4, 8, 16): one 16-lane GCC vector per step, which each
// RN_VEC clone lowers to its ISA (1 zmm, 2 ymm or 4 xmm); plain loops over 16 lanes get vectorised
// the wrong way round (across steps) by GCC 12.
// (the helpers are inlined into each clone, so the vector-ABI note GCC gives for them is moot)
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v16f __attribute__((vector_size(64)));
__attribute__((always_inline)) inline v16f ld16(const float* p) {
  v16f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void st16(float* p, const v16f& v) { std::memcpy(p, &v, sizeof v); }
__attribute__((always_inline)) inline v16f relu16(const v16f& z) { return z <= 0.f ? v16f{} : z; }  // NaN stays NaN
__attribute__((always_inline)) inline v16f mask16(const v16f& y, const v16f& dy) { return y > 0.f ? dy : v16f{}; }

RN_VEC void stats_v1_16(double* s1, double* s2, const float* x, const float* K, int64_t n, int64_t tail) {
  const v16f k = ld16(K);
  int64_t i = 0;
  while (i < n) {
    const int64_t ie = std::min(n, i + kFold * 16);
    v16f a1 = {}, a2 = {};
    for (; i < ie; i += 16) {
      v16f d = ld16(x + i) - k;
      a1 += d;
      a2 += d * d;
    }
    for (int j = 0; j < 16; j++) { s1[j] += a1[j]; s2[j] += a2[j]; }
  }
  for (int64_t j = 0; j < tail; j++) {
    float d = x[n + j] - K[j];
    s1[j] += d;
    s2[j] += d * d;
  }
}
RN_VEC void fwd_v1_16(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                      int64_t n, int64_t tail) {
  const v16f m = ld16(M), a = ld16(A), b = ld16(Bt);
  if (r)
    for (int64_t i = 0; i < n; i += 16) st16(y + i, relu16((ld16(x + i) - m) * a + b + ld16(r + i)));
  else
    for (int64_t i = 0; i < n; i += 16) st16(y + i, relu16((ld16(x + i) - m) * a + b));
  for (int64_t j = 0; j < tail; j++) {
    float z = (x[n + j] - M[j]) * A[j] + Bt[j] + (r ? r[n + j] : 0.f);
    y[n + j] = z <= 0.f ? 0.f : z;
  }
}
RN_VEC void bsum_v1_16(double* s1, double* s2, float* g_out, float* dx_out, const float* dy, const float* y,
                       const float* x, const float* M, const float* P, int64_t n, int64_t tail) {
  const v16f m = ld16(M), p = ld16(P);
  int64_t i = 0;
  while (i < n) {
    const int64_t ie = std::min(n, i + kFold * 16);
    v16f a1 = {}, a2 = {};
    for (; i < ie; i += 16) {
      v16f g = mask16(ld16(y + i), ld16(dy + i));
      if (g_out) st16(g_out + i, g);
      if (dx_out) st16(dx_out + i, g * p);
      a1 += g;
      a2 += g * (ld16(x + i) - m);
    }
    for (int j = 0; j < 16; j++) { s1[j] += a1[j]; s2[j] += a2[j]; }
  }
  for (int64_t j = 0; j < tail; j++) {
    const int64_t e = n + j;
    float gg = y[e] > 0.f ? dy[e] : 0.f;
    if (g_out) g_out[e] = gg;
    if (dx_out) dx_out[e] = gg * P[j];
    s1[j] += gg;
    s2[j] += gg * (x[e] - M[j]);
  }
}
RN_VEC void bapply_v1_16(float* dx, const float* g_in, const float* dy, const float* y, const float* x,
                         const float* M, const float* P, const float* Q, const float* R, int64_t n, int64_t tail) {
  const v16f m = ld16(M), p = ld16(P), q = ld16(Q), r = ld16(R);
  if (g_in)
    for (int64_t i = 0; i < n; i += 16) st16(dx + i, p * ld16(g_in + i) + (q * (ld16(x + i) - m) + r));
  else
    for (int64_t i = 0; i < n; i += 16)
      st16(dx + i, p * mask16(ld16(y + i), ld16(dy + i)) + (q * (ld16(x + i) - m) + r));
  for (int64_t j = 0; j < tail; j++) {
    const int64_t e = n + j;
    float gg = g_in ? g_in[e] : (y[e] > 0.f ? dy[e] : 0.f);
    dx[e] = P[j] * gg + (Q[j] * (x[e] - M[j]) + R[j]);
  }
}

// 2-4 vector patterns (channels-last C = 32, 3/6/12/24/48, 64): GCC-vector accumulators and
// coefficients in registers. Default-target templates, always inlined into each RN_VEC clone.
#define RN_INL __attribute__((always_inline)) inline
template <int NV>
RN_INL void stats_pat_v1(double* s1, double* s2, const float* x, const float* K, int64_t ng, int64_t tail) {
  constexpr int64_t L = 16 * NV;
  v16f k[NV], a1[NV], a2[NV];
  for (int v = 0; v < NV; v++) k[v] = ld16(K + 16 * v);
  int64_t g = 0;
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    for (int v = 0; v < NV; v++) a1[v] = a2[v] = v16f{};
    for (; g < ge; g++)
      for (int v = 0; v < NV; v++) {
        v16f d = ld16(x + g * L + 16 * v) - k[v];
        a1[v] += d;
        a2[v] += d * d;
      }
    for (int v = 0; v < NV; v++)
      for (int j = 0; j < 16; j++) {
        s1[16 * v + j] += a1[v][j];
        s2[16 * v + j] += a2[v][j];
      }
  }
  const float* xp = x + ng * L;
  for (int64_t j = 0; j < tail; j++) {
    float d = xp[j] - K[j];
    s1[j] += d;
    s2[j] += d * d;
  }
}
template <int NV>
RN_INL void fwd_pat_v1(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                       int64_t ng, int64_t tail) {
  constexpr int64_t L = 16 * NV;
  v16f m[NV], a[NV], b[NV];
  for (int v = 0; v < NV; v++) {
    m[v] = ld16(M + 16 * v);
    a[v] = ld16(A + 16 * v);
    b[v] = ld16(Bt + 16 * v);
  }
  if (r)
    for (int64_t g = 0; g < ng; g++)
      for (int v = 0; v < NV; v++) {
        const int64_t o = g * L + 16 * v;
        st16(y + o, relu16((ld16(x + o) - m[v]) * a[v] + b[v] + ld16(r + o)));
      }
  else
    for (int64_t g = 0; g < ng; g++)
      for (int v = 0; v < NV; v++) {
        const int64_t o = g * L + 16 * v;
        st16(y + o, relu16((ld16(x + o) - m[v]) * a[v] + b[v]));
      }
  const int64_t o = ng * L;
  for (int64_t j = 0; j < tail; j++) {
    float z = (x[o + j] - M[j]) * A[j] + Bt[j] + (r ? r[o + j] : 0.f);
    y[o + j] = z > 0.f ? z : 0.f;
  }
}
template <int NV>
RN_INL void bsum_pat_v1(double* s1, double* s2, float* g_out, float* dx_out, const float* dy, const float* y,
                        const float* x, const float* M, const float* P, int64_t ng, int64_t tail) {
  constexpr int64_t L = 16 * NV;
  v16f m[NV], p[NV], a1[NV], a2[NV];
  for (int v = 0; v < NV; v++) {
    m[v] = ld16(M + 16 * v);
    p[v] = ld16(P + 16 * v);
  }
  int64_t g = 0;
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    for (int v = 0; v < NV; v++) a1[v] = a2[v] = v16f{};
    for (; g < ge; g++)
      for (int v = 0; v < NV; v++) {
        const int64_t o = g * L + 16 * v;
        v16f gg = mask16(ld16(y + o), ld16(dy + o));
        if (g_out) st16(g_out + o, gg);
        if (dx_out) st16(dx_out + o, gg * p[v]);
        a1[v] += gg;
        a2[v] += gg * (ld16(x + o) - m[v]);
      }
    for (int v = 0; v < NV; v++)
      for (int j = 0; j < 16; j++) {
        s1[16 * v + j] += a1[v][j];
        s2[16 * v + j] += a2[v][j];
      }
  }
  const int64_t o = ng * L;
  for (int64_t j = 0; j < tail; j++) {
    const int64_t e = o + j;
    float gg = y[e] > 0.f ? dy[e] : 0.f;
    if (g_out) g_out[e] = gg;
    if (dx_out) dx_out[e] = gg * P[j];
    s1[j] += gg;
    s2[j] += gg * (x[e] - M[j]);
  }
}
template <int NV>
RN_INL void bapply_pat_v1(float* dx, const float* g_in, const float* dy, const float* y, const float* x, const float* M,
                          const float* P, const float* Q, const float* R, int64_t ng, int64_t tail) {
  constexpr int64_t L = 16 * NV;
  v16f m[NV], p[NV], q[NV], r[NV];
  for (int v = 0; v < NV; v++) {
    m[v] = ld16(M + 16 * v);
    p[v] = ld16(P + 16 * v);
    q[v] = ld16(Q + 16 * v);
    r[v] = ld16(R + 16 * v);
  }
  for (int64_t g = 0; g < ng; g++)
    for (int v = 0; v < NV; v++) {
      const int64_t o = g * L + 16 * v;
      const v16f gg = g_in ? ld16(g_in + o) : mask16(ld16(y + o), ld16(dy + o));
      st16(dx + o, p[v] * gg + (q[v] * (ld16(x + o) - m[v]) + r[v]));
    }
  const int64_t o = ng * L;
  for (int64_t j = 0; j < tail; j++) {
    const int64_t e = o + j;
    float gg = g_in ? g_in[e] : (y[e] > 0.f ? dy[e] : 0.f);
    dx[e] = P[j] * gg + (Q[j] * (x[e] - M[j]) + R[j]);
  }
}
#define RN_PAT_V1(F, ...)                             \
  do {                                               \
    if (L == 32) return F<2>(__VA_ARGS__);           \
    if (L == 48) return F<3>(__VA_ARGS__);           \
    if (L == 64) return F<4>(__VA_ARGS__);           \
  } while (0)

RN_VEC void stats_v1(double* s1, double* s2, float* acc, const float* x, const float* K, int64_t L, int64_t ng,
                     int64_t tail) {
  if (L == 16) return stats_v1_16(s1, s2, x, K, ng * 16, tail);
  RN_PAT_V1(stats_pat_v1, s1, s2, x, K, ng, tail);
  float* __restrict a1 = acc;
  float* __restrict a2 = acc + L;
  const float* __restrict k = K;
  int64_t g = 0;
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    for (int64_t j = 0; j < L; j++) a1[j] = a2[j] = 0.f;
    for (; g < ge; g++) {
      const float* __restrict xp = x + g * L;
      for (int64_t j = 0; j < L; j++) {
        float d = xp[j] - k[j];
        a1[j] += d;
        a2[j] += d * d;
      }
    }
    for (int64_t j = 0; j < L; j++) { s1[j] += a1[j]; s2[j] += a2[j]; }
  }
  const float* xp = x + ng * L;
  for (int64_t j = 0; j < tail; j++) {
    float d = xp[j] - k[j];
    s1[j] += d;
    s2[j] += d * d;
  }
}

RN_VEC void fwd_v1(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                   int64_t L, int64_t ng, int64_t tail, bool) {
  if (L == 16) return fwd_v1_16(y, x, r, M, A, Bt, ng * 16, tail);
  RN_PAT_V1(fwd_pat_v1, y, x, r, M, A, Bt, ng, tail);
  for (int64_t g = 0; g <= ng; g++) {
    const int64_t n = g < ng ? L : tail, o = g * L;
    float* __restrict yp = y + o;
    const float* __restrict xp = x + o;
    if (r) {
      const float* __restrict rp = r + o;
      for (int64_t j = 0; j < n; j++) {
        float z = (xp[j] - M[j]) * A[j] + Bt[j] + rp[j];
        yp[j] = z <= 0.f ? 0.f : z;
      }
    } else {
      for (int64_t j = 0; j < n; j++) {
        float z = (xp[j] - M[j]) * A[j] + Bt[j];
        yp[j] = z <= 0.f ? 0.f : z;
      }
    }
  }
}

RN_VEC void bsum_v1(double* s1, double* s2, float* acc, float* g_out, float* dx_out, const float* dy, const float* y,
                    const float* x, const float* M, const float* P, int64_t L, int64_t ng, int64_t tail, bool) {
  if (L == 16) return bsum_v1_16(s1, s2, g_out, dx_out, dy, y, x, M, P, ng * 16, tail);
  RN_PAT_V1(bsum_pat_v1, s1, s2, g_out, dx_out, dy, y, x, M, P, ng, tail);
  float* __restrict a1 = acc;
  float* __restrict a2 = acc + L;
  int64_t g = 0;
  auto row = [&](float* __restrict b1, float* __restrict b2, int64_t o, int64_t n) {
    const float* __restrict dyp = dy + o;
    const float* __restrict yp = y + o;
    const float* __restrict xp = x + o;
    if (g_out && dx_out) {
      float* __restrict gp = g_out + o;
      float* __restrict dp = dx_out + o;
      for (int64_t j = 0; j < n; j++) {
        float gg = yp[j] > 0.f ? dyp[j] : 0.f;
        gp[j] = gg;
        dp[j] = gg * P[j];
        b1[j] += gg;
        b2[j] += gg * (xp[j] - M[j]);
      }
    } else if (g_out) {
      float* __restrict gp = g_out + o;
      for (int64_t j = 0; j < n; j++) {
        float gg = yp[j] > 0.f ? dyp[j] : 0.f;
        gp[j] = gg;
        b1[j] += gg;
        b2[j] += gg * (xp[j] - M[j]);
      }
    } else if (dx_out) {
      float* __restrict dp = dx_out + o;
      for (int64_t j = 0; j < n; j++) {
        float gg = yp[j] > 0.f ? dyp[j] : 0.f;
        dp[j] = gg * P[j];
        b1[j] += gg;
        b2[j] += gg * (xp[j] - M[j]);
      }
    } else {
      for (int64_t j = 0; j < n; j++) {
        float gg = yp[j] > 0.f ? dyp[j] : 0.f;
        b1[j] += gg;
        b2[j] += gg * (xp[j] - M[j]);
      }
    }
  };
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    for (int64_t j = 0; j < L; j++) a1[j] = a2[j] = 0.f;
    for (; g < ge; g++) row(a1, a2, g * L, L);
    for (int64_t j = 0; j < L; j++) { s1[j] += a1[j]; s2[j] += a2[j]; }
  }
  if (tail) {
    for (int64_t j = 0; j < tail; j++) a1[j] = a2[j] = 0.f;
    row(a1, a2, ng * L, tail);
    for (int64_t j = 0; j < tail; j++) { s1[j] += a1[j]; s2[j] += a2[j]; }
  }
}

RN_VEC void bapply_v1(float* dx, const float* g_in, const float* dy, const float* y, const float* x, const float* M,
                      const float* P, const float* Q, const float* R, int64_t L, int64_t ng, int64_t tail, bool) {
  if (L == 16) return bapply_v1_16(dx, g_in, dy, y, x, M, P, Q, R, ng * 16, tail);
  RN_PAT_V1(bapply_pat_v1, dx, g_in, dy, y, x, M, P, Q, R, ng, tail);
  for (int64_t g = 0; g <= ng; g++) {
    const int64_t n = g < ng ? L : tail, o = g * L;
    float* dp = dx + o;  // may be g_in itself (updated in place): no __restrict on these two
    const float* __restrict xp = x + o;
    if (g_in) {
      const float* gp = g_in + o;
      for (int64_t j = 0; j < n; j++) dp[j] = P[j] * gp[j] + (Q[j] * (xp[j] - M[j]) + R[j]);
    } else {
      const float* __restrict dyp = dy + o;
      const float* __restrict yp = y + o;
      for (int64_t j = 0; j < n; j++) {
        float gg = yp[j] > 0.f ? dyp[j] : 0.f;
        dp[j] = P[j] * gg + (Q[j] * (xp[j] - M[j]) + R[j]);
      }
    }
  }
}

// rows (NCHW): one scalar coefficient per row, broadcast into 16-lane GCC vectors
RN_VEC void stats_rows_v1(double* s1, double* s2, const float* x, const float* K, int64_t e0, int64_t e1, int64_t HW,
                          int64_t C) {
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const float k = K[c];
    const v16f kv = v16f{} + k;
    double t1 = 0, t2 = 0;
    int64_t e = rb;
    while (e + 16 <= re) {
      const int64_t fe = e + std::min((re - e) & ~int64_t(15), kFold * 16);
      v16f a1 = {}, a2 = {};
      for (; e < fe; e += 16) {
        v16f d = ld16(x + e) - kv;
        a1 += d;
        a2 += d * d;
      }
      for (int j = 0; j < 16; j++) { t1 += a1[j]; t2 += a2[j]; }
    }
    for (; e < re; e++) {
      float d = x[e] - k;
      t1 += d;
      t2 += d * d;
    }
    s1[c] += t1;
    s2[c] += t2;
  }
}
RN_VEC void fwd_rows_v1(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                        int64_t e0, int64_t e1, int64_t HW, int64_t C, bool) {
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const float m = M[c], a = A[c], b = Bt[c];
    int64_t e = rb;
    if (r)
      for (; e + 16 <= re; e += 16) st16(y + e, relu16((ld16(x + e) - m) * a + b + ld16(r + e)));
    else
      for (; e + 16 <= re; e += 16) st16(y + e, relu16((ld16(x + e) - m) * a + b));
    for (; e < re; e++) {
      float z = (x[e] - m) * a + b + (r ? r[e] : 0.f);
      y[e] = z <= 0.f ? 0.f : z;
    }
  }
}
RN_VEC void bsum_rows_v1(double* s1, double* s2, float* g_out, float* dx_out, const float* dy, const float* y,
                         const float* x, const float* M, const float* P, int64_t e0, int64_t e1, int64_t HW, int64_t C,
                         bool) {
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const float m = M[c], p = P[c];
    double t1 = 0, t2 = 0;
    int64_t e = rb;
    while (e + 16 <= re) {
      const int64_t fe = e + std::min((re - e) & ~int64_t(15), kFold * 16);
      v16f a1 = {}, a2 = {};
      for (; e < fe; e += 16) {
        v16f g = mask16(ld16(y + e), ld16(dy + e));
        if (g_out) st16(g_out + e, g);
        if (dx_out) st16(dx_out + e, g * p);
        a1 += g;
        a2 += g * (ld16(x + e) - m);
      }
      for (int j = 0; j < 16; j++) { t1 += a1[j]; t2 += a2[j]; }
    }
    for (; e < re; e++) {
      float gg = y[e] > 0.f ? dy[e] : 0.f;
      if (g_out) g_out[e] = gg;
      if (dx_out) dx_out[e] = gg * p;
      t1 += gg;
      t2 += gg * (x[e] - m);
    }
    s1[c] += t1;
    s2[c] += t2;
  }
}
RN_VEC void bapply_rows_v1(float* dx, const float* g_in, const float* dy, const float* y, const float* x,
                           const float* M, const float* P, const float* Q, const float* R, int64_t e0, int64_t e1,
                           int64_t HW, int64_t C, bool) {
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const float m = M[c], p = P[c], q = Q[c], rr = R[c];
    int64_t e = rb;
    if (g_in)
      for (; e + 16 <= re; e += 16) st16(dx + e, p * ld16(g_in + e) + (q * (ld16(x + e) - m) + rr));
    else
      for (; e + 16 <= re; e += 16) st16(dx + e, p * mask16(ld16(y + e), ld16(dy + e)) + (q * (ld16(x + e) - m) + rr));
    for (; e < re; e++) {
      float gg = g_in ? g_in[e] : (y[e] > 0.f ? dy[e] : 0.f);
      dx[e] = p * gg + (q * (x[e] - m) + rr);
    }
  }
}

// v1 reads the mask from y only (the forward writes bits only on v2, and backward from bits runs v2)
const Kern kV1 = {
    stats_v1,
    [](float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt, int64_t L, int64_t ng,
       int64_t tail, bool nt, BitsOut) { fwd_v1(y, x, r, M, A, Bt, L, ng, tail, nt); },
    [](double* s1, double* s2, float* acc, float* g_out, float* dx_out, const float* dy, YSrc y, const float* x,
       const float* M, const float* P, int64_t L, int64_t ng, int64_t tail, bool nt) {
      bsum_v1(s1, s2, acc, g_out, dx_out, dy, y.y, x, M, P, L, ng, tail, nt);
    },
    [](float* dx, const float* g_in, const float* dy, YSrc y, const float* x, const float* M, const float* P,
       const float* Q, const float* R, int64_t L, int64_t ng, int64_t tail, bool nt) {
      bapply_v1(dx, g_in, dy, y.y, x, M, P, Q, R, L, ng, tail, nt);
    },
    stats_rows_v1,
    [](float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt, int64_t e0, int64_t e1,
       int64_t HW, int64_t C, bool nt, BitsOut) { fwd_rows_v1(y, x, r, M, A, Bt, e0, e1, HW, C, nt); },
    [](double* s1, double* s2, float* g_out, float* dx_out, const float* dy, YSrc y, const float* x, const float* M,
       const float* P, int64_t e0, int64_t e1, int64_t HW, int64_t C, bool nt) {
      bsum_rows_v1(s1, s2, g_out, dx_out, dy, y.y, x, M, P, e0, e1, HW, C, nt);
    },
    [](float* dx, const float* g_in, const float* dy, YSrc y, const float* x, const float* M, const float* P,
       const float* Q, const float* R, int64_t e0, int64_t e1, int64_t HW, int64_t C, bool nt) {
      bapply_rows_v1(dx, g_in, dy, y.y, x, M, P, Q, R, e0, e1, HW, C, nt);
    }};

// ---- v2: AVX-512 intrinsics ----------------------------------------------------------------------
#ifdef RN_BN_X86
// GCC 12 warns inside its own headers about the undefined vectors of masked intrinsics (false positive)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define RN_AVX512 __attribute__((target("avx512f,avx512dq")))
#define RN_AVX512_INL __attribute__((target("avx512f,avx512dq"), always_inline)) inline

// relu that keeps NaN (max_ps would return its second operand, 0, for a NaN) and maps -0 to +0,
// exactly as the scalar `z <= 0 ? 0 : z`
RN_AVX512_INL __m512 relu512(__m512 v, __m512 z) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, z, _CMP_LE_OQ), v, z); }
RN_AVX512_INL __mmask16 tmask(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }
RN_AVX512_INL __mmask8 tmask8(int64_t n) { return n >= 8 ? (__mmask8)0xFF : n <= 0 ? (__mmask8)0 : (__mmask8)((1u << n) - 1u); }

// s[0..n) += v[0..n) in double (n <= 16)
RN_AVX512_INL void fold16(double* s, __m512 v, int64_t n = 16) {
  __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
  if (n >= 16) {
    _mm512_storeu_pd(s, _mm512_add_pd(_mm512_loadu_pd(s), lo));
    _mm512_storeu_pd(s + 8, _mm512_add_pd(_mm512_loadu_pd(s + 8), hi));
    return;
  }
  const __mmask8 ml = tmask8(n), mh = tmask8(n - 8);
  _mm512_mask_storeu_pd(s, ml, _mm512_add_pd(_mm512_maskz_loadu_pd(ml, s), lo));
  if (mh) _mm512_mask_storeu_pd(s + 8, mh, _mm512_add_pd(_mm512_maskz_loadu_pd(mh, s + 8), hi));
}
RN_AVX512_INL void fold_arr(double* s, const float* a, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) fold16(s + j, _mm512_loadu_ps(a + j));
  if (j < n) fold16(s + j, _mm512_maskz_loadu_ps(tmask(n - j), a + j), n - j);
}
template <bool NT>
RN_AVX512_INL void st(float* p, __m512 v) {
  if (NT) _mm512_stream_ps(p, v);
  else _mm512_storeu_ps(p, v);
}

// ---- statistics
RN_AVX512_INL void stats_row512(float* a1, float* a2, const float* x, const float* K, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(K + j));
    _mm512_storeu_ps(a1 + j, _mm512_add_ps(_mm512_loadu_ps(a1 + j), d));
    _mm512_storeu_ps(a2 + j, _mm512_fmadd_ps(d, d, _mm512_loadu_ps(a2 + j)));
  }
  if (j < n) {
    const __mmask16 m = tmask(n - j);
    __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + j), _mm512_maskz_loadu_ps(m, K + j));
    _mm512_mask_storeu_ps(a1 + j, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a1 + j), d));
    _mm512_mask_storeu_ps(a2 + j, m, _mm512_fmadd_ps(d, d, _mm512_maskz_loadu_ps(m, a2 + j)));
  }
}
// Patterns of 2-4 vectors (channels-last C = 32, 3/6/12/24/48, 64): accumulators and
// coefficients stay in registers (the generic-L code keeps them in L1 arrays, whose
// store-to-load latency made the channels-last statistics pass twice as slow as NCHW's)
template <int NV>
RN_AVX512 void stats_pat_v2(double* s1, double* s2, const float* x, const float* K, int64_t ng, int64_t tail) {
  constexpr int64_t L = 16 * NV;
  __m512 k[NV], a1[NV], a2[NV];
  for (int v = 0; v < NV; v++) k[v] = _mm512_loadu_ps(K + 16 * v);
  int64_t g = 0;
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    for (int v = 0; v < NV; v++) a1[v] = a2[v] = _mm512_setzero_ps();
    for (; g < ge; g++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) {
        const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + g * L + 16 * v), k[v]);
        a1[v] = _mm512_add_ps(a1[v], d);
        a2[v] = _mm512_fmadd_ps(d, d, a2[v]);
      }
    for (int v = 0; v < NV; v++) {
      fold16(s1 + 16 * v, a1[v]);
      fold16(s2 + 16 * v, a2[v]);
    }
  }
  const float* xp = x + ng * L;
  for (int64_t j = 0; j < tail; j += 16) {
    const int64_t n = std::min<int64_t>(16, tail - j);
    const __mmask16 m = tmask(n);
    const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, xp + j), _mm512_loadu_ps(K + j));
    fold16(s1 + j, d, n);
    fold16(s2 + j, _mm512_mul_ps(d, d), n);
  }
}
RN_AVX512 void stats_v2(double* s1, double* s2, float* acc, const float* x, const float* K, int64_t L, int64_t ng,
                        int64_t tail) {
  const __m512 z = _mm512_setzero_ps();
  if (L == 16) {  // one channel pattern in registers, two accumulator pairs to hide add latency
    const __m512 k = _mm512_loadu_ps(K);
    const int64_t n = ng * 16;
    int64_t i = 0;
    while (i < n) {
      const int64_t ie = std::min(n, i + kFold * 32);
      __m512 a1 = z, a2 = z, b1 = z, b2 = z;
      for (; i + 32 <= ie; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), k);
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), k);
        a1 = _mm512_add_ps(a1, d0);
        a2 = _mm512_fmadd_ps(d0, d0, a2);
        b1 = _mm512_add_ps(b1, d1);
        b2 = _mm512_fmadd_ps(d1, d1, b2);
      }
      if (i < ie) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), k);
        a1 = _mm512_add_ps(a1, d0);
        a2 = _mm512_fmadd_ps(d0, d0, a2);
        i += 16;
      }
      fold16(s1, _mm512_add_ps(a1, b1));
      fold16(s2, _mm512_add_ps(a2, b2));
    }
    if (tail) {
      const __mmask16 m = tmask(tail);
      __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + n), k);
      fold16(s1, d);
      fold16(s2, _mm512_mul_ps(d, d));
    }
    return;
  }
  if (L == 32) return stats_pat_v2<2>(s1, s2, x, K, ng, tail);
  if (L == 48) return stats_pat_v2<3>(s1, s2, x, K, ng, tail);
  if (L == 64) return stats_pat_v2<4>(s1, s2, x, K, ng, tail);
  float* a1 = acc;
  float* a2 = acc + L;
  int64_t g = 0;
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    std::memset(acc, 0, sizeof(float) * 2 * L);
    for (; g < ge; g++) stats_row512(a1, a2, x + g * L, K, L);
    fold_arr(s1, a1, L);
    fold_arr(s2, a2, L);
  }
  if (tail) {
    std::memset(acc, 0, sizeof(float) * 2 * L);
    stats_row512(a1, a2, x + ng * L, K, tail);
    fold_arr(s1, a1, tail);
    fold_arr(s2, a2, tail);
  }
}

// ---- forward apply
// The ReLU bits of consecutive vectors v (the output, or z before the relu: v > 0 either way) from
// element j0 on. A run that starts at a multiple of 16 elements collects 4 words and stores 8 bytes
// at a time: a 2-byte store per vector took a second store-buffer entry per 64-byte line of y,
// halving the stores in flight, and cost ~25% of the forward inside a network. Other runs OR their
// bits in per vector (put_bits). n < 16 only for a run's last vector; flush() after the last.
class BitRun {
 public:
  BitRun(const BitsOut& bo, int64_t j0) : bo_(bo), j_(j0), aligned_(bo.p && ((bo.b0 + j0) & 15) == 0) {
    if (aligned_) q_ = bo.p + ((bo.b0 + j0) >> 3);
  }
  RN_AVX512_INL void add(__m512 v, __mmask16 k = 0xFFFF, int64_t n = 16) {
    if (!bo_.p) return;
    const uint32_t b = _mm512_mask_cmp_ps_mask(k, v, _mm512_setzero_ps(), _CMP_GT_OQ);
    if (!aligned_) {
      put_bits(bo_, j_, b, n);
      j_ += n;
      return;
    }
    w_ |= (uint64_t)b << (16 * cnt_);
    if (++cnt_ == 4) {
      std::memcpy(q_, &w_, 8);
      q_ += 8;
      w_ = 0;
      cnt_ = 0;
    }
  }
  void flush() {
    if (aligned_ && cnt_) std::memcpy(q_, &w_, 2 * (size_t)cnt_);
    cnt_ = 0;
    w_ = 0;
  }

 private:
  BitsOut bo_;
  int64_t j_;
  bool aligned_;
  uint8_t* q_ = nullptr;
  uint64_t w_ = 0;
  int cnt_ = 0;
};
template <bool HAS_R, bool NT>
RN_AVX512_INL void fwd_row512(float* y, const float* x, const float* r, const float* M, const float* A,
                              const float* Bt, int64_t n, BitsOut bo) {
  const __m512 z = _mm512_setzero_ps();
  BitRun br(bo, 0);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), _mm512_loadu_ps(M + j)), _mm512_loadu_ps(A + j),
                               _mm512_loadu_ps(Bt + j));
    if (HAS_R) v = _mm512_add_ps(v, _mm512_loadu_ps(r + j));
    st<NT>(y + j, relu512(v, z));
    br.add(v);
  }
  if (j < n) {
    const __mmask16 m = tmask(n - j);
    __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), _mm512_maskz_loadu_ps(m, M + j)),
                               _mm512_maskz_loadu_ps(m, A + j), _mm512_maskz_loadu_ps(m, Bt + j));
    if (HAS_R) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, r + j));
    _mm512_mask_storeu_ps(y + j, m, relu512(v, z));
    br.add(v, m, n - j);
  }
  br.flush();
}
template <int NV, bool HAS_R, bool NT>
RN_AVX512 void fwd_pat_v2(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                          int64_t ng, int64_t tail, BitsOut bo) {
  constexpr int64_t L = 16 * NV;
  const __m512 z = _mm512_setzero_ps();
  __m512 m[NV], a[NV], b[NV];
  for (int v = 0; v < NV; v++) {
    m[v] = _mm512_loadu_ps(M + 16 * v);
    a[v] = _mm512_loadu_ps(A + 16 * v);
    b[v] = _mm512_loadu_ps(Bt + 16 * v);
  }
  BitRun br(bo, 0);
  for (int64_t g = 0; g < ng; g++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      const int64_t o = g * L + 16 * v;
      __m512 t = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x + o), m[v]), a[v], b[v]);
      if (HAS_R) t = _mm512_add_ps(t, _mm512_loadu_ps(r + o));
      st<NT>(y + o, relu512(t, z));
      br.add(t);
    }
  br.flush();
  if (tail) fwd_row512<HAS_R, false>(y + ng * L, x + ng * L, off(r, ng * L), M, A, Bt, tail, bo + ng * L);
}
template <bool HAS_R, bool NT>
RN_AVX512 void fwd_v2t(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                       int64_t L, int64_t ng, int64_t tail, BitsOut bo) {
  if (L == 32) return fwd_pat_v2<2, HAS_R, NT>(y, x, r, M, A, Bt, ng, tail, bo);
  if (L == 48) return fwd_pat_v2<3, HAS_R, NT>(y, x, r, M, A, Bt, ng, tail, bo);
  if (L == 64) return fwd_pat_v2<4, HAS_R, NT>(y, x, r, M, A, Bt, ng, tail, bo);
  if (L == 16) {  // one channel: coefficients stay in registers
    const __m512 z = _mm512_setzero_ps(), m = _mm512_loadu_ps(M), a = _mm512_loadu_ps(A), b = _mm512_loadu_ps(Bt);
    const int64_t n = ng * 16;
    BitRun br(bo, 0);
    for (int64_t i = 0; i < n; i += 16) {
      __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), m), a, b);
      if (HAS_R) v = _mm512_add_ps(v, _mm512_loadu_ps(r + i));
      st<NT>(y + i, relu512(v, z));
      br.add(v);
    }
    br.flush();
    if (tail) fwd_row512<HAS_R, false>(y + n, x + n, off(r, n), M, A, Bt, tail, bo + n);
    return;
  }
  for (int64_t g = 0; g < ng; g++)
    fwd_row512<HAS_R, NT>(y + g * L, x + g * L, off(r, g * L), M, A, Bt, L, bo + g * L);
  if (tail) fwd_row512<HAS_R, false>(y + ng * L, x + ng * L, off(r, ng * L), M, A, Bt, tail, bo + ng * L);
}
bool nt_ok(const float* p, int64_t L, bool nt) { return nt && ((uintptr_t)p & 63) == 0 && L % 16 == 0; }
RN_AVX512 void fwd_v2(float* y, const float* x, const float* r, const float* M, const float* A, const float* Bt,
                      int64_t L, int64_t ng, int64_t tail, bool nt, BitsOut bo) {
  const bool n = nt_ok(y, L, nt);
  if (r) (n ? fwd_v2t<true, true> : fwd_v2t<true, false>)(y, x, r, M, A, Bt, L, ng, tail, bo);
  else (n ? fwd_v2t<false, true> : fwd_v2t<false, false>)(y, x, r, M, A, Bt, L, ng, tail, bo);
}

// ---- backward sums (pass 1)
// y > 0 for elements [j, j + 16) [within k], from the output or from the saved bits
RN_AVX512_INL __mmask16 pos_full(const YSrc& y, int64_t j) {
  if (y.bits) return (__mmask16)get_bits16(y, j);
  return _mm512_cmp_ps_mask(_mm512_loadu_ps(y.y + j), _mm512_setzero_ps(), _CMP_GT_OQ);
}
RN_AVX512_INL __mmask16 pos_masked(const YSrc& y, int64_t j, __mmask16 k) {
  if (y.bits) return (__mmask16)get_bits16(y, j) & k;
  return _mm512_mask_cmp_ps_mask(k, _mm512_maskz_loadu_ps(k, y.y + j), _mm512_setzero_ps(), _CMP_GT_OQ);
}
template <bool G, bool DX, bool NT>
RN_AVX512_INL void bsum_vec(__m512& a1, __m512& a2, float* g_out, float* dx_out, const float* dy, YSrc y,
                            const float* x, __m512 m, __m512 p, int64_t j) {
  const __mmask16 pos = pos_full(y, j);
  const __m512 g = _mm512_maskz_mov_ps(pos, _mm512_loadu_ps(dy + j));
  if (G) st<NT>(g_out + j, g);
  if (DX) st<NT>(dx_out + j, _mm512_mul_ps(g, p));
  a1 = _mm512_add_ps(a1, g);
  a2 = _mm512_fmadd_ps(g, _mm512_sub_ps(_mm512_loadu_ps(x + j), m), a2);
}
template <bool G, bool DX>
RN_AVX512_INL void bsum_masked(__m512& a1, __m512& a2, float* g_out, float* dx_out, const float* dy, YSrc y,
                               const float* x, __m512 m, __m512 p, int64_t j, __mmask16 k) {
  const __mmask16 pos = pos_masked(y, j, k);
  const __m512 g = _mm512_maskz_loadu_ps(pos, dy + j);
  if (G) _mm512_mask_storeu_ps(g_out + j, k, g);
  if (DX) _mm512_mask_storeu_ps(dx_out + j, k, _mm512_mul_ps(g, p));
  a1 = _mm512_add_ps(a1, g);
  a2 = _mm512_fmadd_ps(g, _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + j), m), a2);
}
template <bool G, bool DX, bool NT>
RN_AVX512_INL void bsum_row512(float* a1p, float* a2p, float* g_out, float* dx_out, const float* dy, YSrc y,
                               const float* x, const float* M, const float* P, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 a1 = _mm512_loadu_ps(a1p + j), a2 = _mm512_loadu_ps(a2p + j);
    bsum_vec<G, DX, NT>(a1, a2, g_out, dx_out, dy, y, x, _mm512_loadu_ps(M + j), _mm512_loadu_ps(P + j), j);
    _mm512_storeu_ps(a1p + j, a1);
    _mm512_storeu_ps(a2p + j, a2);
  }
  if (j < n) {
    const __mmask16 k = tmask(n - j);
    __m512 a1 = _mm512_maskz_loadu_ps(k, a1p + j), a2 = _mm512_maskz_loadu_ps(k, a2p + j);
    bsum_masked<G, DX>(a1, a2, g_out, dx_out, dy, y, x, _mm512_maskz_loadu_ps(k, M + j),
                       _mm512_maskz_loadu_ps(k, P + j), j, k);
    _mm512_mask_storeu_ps(a1p + j, k, a1);
    _mm512_mask_storeu_ps(a2p + j, k, a2);
  }
}
template <int NV, bool G, bool DX, bool NT>
RN_AVX512 void bsum_pat_v2(double* s1, double* s2, float* g_out, float* dx_out, const float* dy, YSrc y,
                           const float* x, const float* M, const float* P, int64_t ng, int64_t tail) {
  constexpr int64_t L = 16 * NV;
  __m512 m[NV], p[NV], a1[NV], a2[NV];
  for (int v = 0; v < NV; v++) {
    m[v] = _mm512_loadu_ps(M + 16 * v);
    p[v] = _mm512_loadu_ps(P + 16 * v);
  }
  int64_t g = 0;
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    for (int v = 0; v < NV; v++) a1[v] = a2[v] = _mm512_setzero_ps();
    for (; g < ge; g++)
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) bsum_vec<G, DX, NT>(a1[v], a2[v], g_out, dx_out, dy, y, x, m[v], p[v], g * L + 16 * v);
    for (int v = 0; v < NV; v++) {
      fold16(s1 + 16 * v, a1[v]);
      fold16(s2 + 16 * v, a2[v]);
    }
  }
  const int64_t o = ng * L;
  for (int64_t j = 0; j < tail; j += 16) {
    const int64_t n = std::min<int64_t>(16, tail - j);
    __m512 b1 = _mm512_setzero_ps(), b2 = b1;
    bsum_masked<G, DX>(b1, b2, off(g_out, o), off(dx_out, o), dy + o, y + o, x + o, _mm512_loadu_ps(M + j),
                       _mm512_loadu_ps(P + j), j, tmask(n));
    fold16(s1 + j, b1, n);
    fold16(s2 + j, b2, n);
  }
}
template <bool G, bool DX, bool NT>
RN_AVX512 void bsum_v2t(double* s1, double* s2, float* acc, float* g_out, float* dx_out, const float* dy,
                        YSrc y, const float* x, const float* M, const float* P, int64_t L, int64_t ng,
                        int64_t tail) {
  if (L == 32) return bsum_pat_v2<2, G, DX, NT>(s1, s2, g_out, dx_out, dy, y, x, M, P, ng, tail);
  if (L == 48) return bsum_pat_v2<3, G, DX, NT>(s1, s2, g_out, dx_out, dy, y, x, M, P, ng, tail);
  if (L == 64) return bsum_pat_v2<4, G, DX, NT>(s1, s2, g_out, dx_out, dy, y, x, M, P, ng, tail);
  const __m512 z = _mm512_setzero_ps();
  if (L == 16) {
    const __m512 m = _mm512_loadu_ps(M), p = _mm512_loadu_ps(P);
    const int64_t n = ng * 16;
    int64_t i = 0;
    while (i < n) {
      const int64_t ie = std::min(n, i + kFold * 32);
      __m512 a1 = z, a2 = z, b1 = z, b2 = z;
      for (; i + 32 <= ie; i += 32) {
        bsum_vec<G, DX, NT>(a1, a2, g_out, dx_out, dy, y, x, m, p, i);
        bsum_vec<G, DX, NT>(b1, b2, g_out, dx_out, dy, y, x, m, p, i + 16);
      }
      if (i < ie) {
        bsum_vec<G, DX, NT>(a1, a2, g_out, dx_out, dy, y, x, m, p, i);
        i += 16;
      }
      fold16(s1, _mm512_add_ps(a1, b1));
      fold16(s2, _mm512_add_ps(a2, b2));
    }
    if (tail) {
      __m512 a1 = z, a2 = z;
      bsum_masked<G, DX>(a1, a2, g_out, dx_out, dy, y, x, m, p, n, tmask(tail));
      fold16(s1, a1);
      fold16(s2, a2);
    }
    return;
  }
  float* a1 = acc;
  float* a2 = acc + L;
  int64_t g = 0;
  while (g < ng) {
    const int64_t ge = std::min(ng, g + kFold);
    std::memset(acc, 0, sizeof(float) * 2 * L);
    for (; g < ge; g++) {
      const int64_t o = g * L;
      bsum_row512<G, DX, NT>(a1, a2, off(g_out, o), off(dx_out, o), dy + o, y + o, x + o, M, P, L);
    }
    fold_arr(s1, a1, L);
    fold_arr(s2, a2, L);
  }
  if (tail) {
    const int64_t o = ng * L;
    std::memset(acc, 0, sizeof(float) * 2 * L);
    bsum_row512<G, DX, false>(a1, a2, off(g_out, o), off(dx_out, o), dy + o, y + o, x + o, M, P, tail);
    fold_arr(s1, a1, tail);
    fold_arr(s2, a2, tail);
  }
}
RN_AVX512 void bsum_v2(double* s1, double* s2, float* acc, float* g_out, float* dx_out, const float* dy,
                       YSrc y, const float* x, const float* M, const float* P, int64_t L, int64_t ng,
                       int64_t tail, bool nt) {
  const bool n = nt_ok(g_out ? g_out : dx_out, L, nt) && (!g_out || !dx_out || nt_ok(dx_out, L, nt));
#define RN_BSUM(G, DX) (n ? bsum_v2t<G, DX, true> : bsum_v2t<G, DX, false>)(s1, s2, acc, g_out, dx_out, dy, y, x, M, P, L, ng, tail)
  if (g_out && dx_out) RN_BSUM(true, true);
  else if (g_out) RN_BSUM(true, false);
  else if (dx_out) RN_BSUM(false, true);
  else RN_BSUM(false, false);
#undef RN_BSUM
}

// ---- backward apply (pass 2)
template <bool GIN>
RN_AVX512_INL __m512 bapply_one(const float* g_in, const float* dy, YSrc y, const float* x, __m512 m,
                                __m512 p, __m512 q, __m512 r, int64_t j, __mmask16 k) {
  __m512 g;
  if (GIN) {
    g = _mm512_maskz_loadu_ps(k, g_in + j);
  } else {
    const __mmask16 pos = pos_masked(y, j, k);
    g = _mm512_maskz_loadu_ps(pos, dy + j);
  }
  return _mm512_fmadd_ps(p, g, _mm512_fmadd_ps(q, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), m), r));
}
template <bool GIN, bool NT>
RN_AVX512_INL __m512 bapply_full(const float* g_in, const float* dy, YSrc y, const float* x, __m512 m,
                                 __m512 p, __m512 q, __m512 r, int64_t j) {
  __m512 g;
  if (GIN) {
    g = _mm512_loadu_ps(g_in + j);
  } else {
    const __mmask16 pos = pos_full(y, j);
    g = _mm512_maskz_mov_ps(pos, _mm512_loadu_ps(dy + j));
  }
  return _mm512_fmadd_ps(p, g, _mm512_fmadd_ps(q, _mm512_sub_ps(_mm512_loadu_ps(x + j), m), r));
}
template <int NV, bool GIN, bool NT>
RN_AVX512 void bapply_pat_v2(float* dx, const float* g_in, const float* dy, YSrc y, const float* x,
                             const float* M, const float* P, const float* Q, const float* R, int64_t ng, int64_t tail) {
  constexpr int64_t L = 16 * NV;
  __m512 m[NV], p[NV], q[NV], r[NV];
  for (int v = 0; v < NV; v++) {
    m[v] = _mm512_loadu_ps(M + 16 * v);
    p[v] = _mm512_loadu_ps(P + 16 * v);
    q[v] = _mm512_loadu_ps(Q + 16 * v);
    r[v] = _mm512_loadu_ps(R + 16 * v);
  }
  for (int64_t g = 0; g < ng; g++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      const int64_t o = g * L + 16 * v;
      st<NT>(dx + o, bapply_full<GIN, NT>(g_in, dy, y, x, m[v], p[v], q[v], r[v], o));
    }
  const int64_t o = ng * L;
  for (int64_t j = 0; j < tail; j += 16) {
    const __mmask16 k = tmask(tail - j);
    _mm512_mask_storeu_ps(dx + o + j, k,
                          bapply_one<GIN>(off(g_in, o), dy + o, y + o, x + o, _mm512_loadu_ps(M + j),
                                          _mm512_loadu_ps(P + j), _mm512_loadu_ps(Q + j), _mm512_loadu_ps(R + j), j, k));
  }
}
template <bool GIN, bool NT>
RN_AVX512 void bapply_v2t(float* dx, const float* g_in, const float* dy, YSrc y, const float* x,
                          const float* M, const float* P, const float* Q, const float* R, int64_t L, int64_t ng,
                          int64_t tail) {
  if (L == 32) return bapply_pat_v2<2, GIN, NT>(dx, g_in, dy, y, x, M, P, Q, R, ng, tail);
  if (L == 48) return bapply_pat_v2<3, GIN, NT>(dx, g_in, dy, y, x, M, P, Q, R, ng, tail);
  if (L == 64) return bapply_pat_v2<4, GIN, NT>(dx, g_in, dy, y, x, M, P, Q, R, ng, tail);
  if (L == 16) {
    const __m512 m = _mm512_loadu_ps(M), p = _mm512_loadu_ps(P), q = _mm512_loadu_ps(Q), r = _mm512_loadu_ps(R);
    const int64_t n = ng * 16;
    for (int64_t i = 0; i < n; i += 16) st<NT>(dx + i, bapply_full<GIN, NT>(g_in, dy, y, x, m, p, q, r, i));
    if (tail) {
      const __mmask16 k = tmask(tail);
      _mm512_mask_storeu_ps(dx + n, k, bapply_one<GIN>(g_in, dy, y, x, m, p, q, r, n, k));
    }
    return;
  }
  for (int64_t g = 0; g <= ng; g++) {
    const int64_t len = g < ng ? L : tail, o = g * L;
    int64_t j = 0;
    for (; j + 16 <= len; j += 16) {
      __m512 v = bapply_full<GIN, NT>(off(g_in, o), dy + o, y + o, x + o, _mm512_loadu_ps(M + j), _mm512_loadu_ps(P + j),
                                      _mm512_loadu_ps(Q + j), _mm512_loadu_ps(R + j), j);
      if (g < ng) st<NT>(dx + o + j, v);
      else _mm512_storeu_ps(dx + o + j, v);
    }
    if (j < len) {
      const __mmask16 k = tmask(len - j);
      __m512 v = bapply_one<GIN>(off(g_in, o), dy + o, y + o, x + o, _mm512_maskz_loadu_ps(k, M + j),
                                 _mm512_maskz_loadu_ps(k, P + j), _mm512_maskz_loadu_ps(k, Q + j),
                                 _mm512_maskz_loadu_ps(k, R + j), j, k);
      _mm512_mask_storeu_ps(dx + o + j, k, v);
    }
  }
}
RN_AVX512 void bapply_v2(float* dx, const float* g_in, const float* dy, YSrc y, const float* x,
                         const float* M, const float* P, const float* Q, const float* R, int64_t L, int64_t ng,
                         int64_t tail, bool nt) {
  const bool n = nt_ok(dx, L, nt);
  if (g_in) (n ? bapply_v2t<true, true> : bapply_v2t<true, false>)(dx, g_in, dy, y, x, M, P, Q, R, L, ng, tail);
  else (n ? bapply_v2t<false, true> : bapply_v2t<false, false>)(dx, g_in, dy, y, x, M, P, Q, R, L, ng, tail);
}

// ---- v2 rows (NCHW): the channel's coefficients broadcast per row, register accumulators
// reduced into the channel's double sums at the end of each row (and every kFold steps)
RN_AVX512_INL double hsum_pd(__m512 v) {
  return _mm512_reduce_add_pd(
      _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1))));
}
inline bool aligned64(const void* p) { return ((uintptr_t)p & 63) == 0; }

RN_AVX512 void stats_rows_v2(double* s1, double* s2, const float* x, const float* K, int64_t e0, int64_t e1,
                             int64_t HW, int64_t C) {
  const __m512 z = _mm512_setzero_ps();
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const __m512 k = _mm512_set1_ps(K[c]);
    double t1 = 0, t2 = 0;
    int64_t e = rb;
    while (e < re) {
      const int64_t fe = std::min(re, e + kFold * 32);
      __m512 a1 = z, a2 = z, b1 = z, b2 = z;
      for (; e + 32 <= fe; e += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + e), k);
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + e + 16), k);
        a1 = _mm512_add_ps(a1, d0);
        a2 = _mm512_fmadd_ps(d0, d0, a2);
        b1 = _mm512_add_ps(b1, d1);
        b2 = _mm512_fmadd_ps(d1, d1, b2);
      }
      if (e + 16 <= fe) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + e), k);
        a1 = _mm512_add_ps(a1, d0);
        a2 = _mm512_fmadd_ps(d0, d0, a2);
        e += 16;
      }
      if (e < fe) {
        const __mmask16 m = tmask(fe - e);
        __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + e), k);
        b1 = _mm512_add_ps(b1, d);
        b2 = _mm512_fmadd_ps(d, d, b2);
        e = fe;
      }
      t1 += hsum_pd(_mm512_add_ps(a1, b1));
      t2 += hsum_pd(_mm512_add_ps(a2, b2));
    }
    s1[c] += t1;
    s2[c] += t2;
  }
}

template <bool HAS_R>
RN_AVX512 void fwd_rows_v2t(float* y, const float* x, const float* r, const float* M, const float* A,
                            const float* Bt, int64_t e0, int64_t e1, int64_t HW, int64_t C, bool nt, BitsOut bo) {
  const __m512 z = _mm512_setzero_ps();
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const __m512 m = _mm512_set1_ps(M[c]), a = _mm512_set1_ps(A[c]), b = _mm512_set1_ps(Bt[c]);
    int64_t e = rb;
    const int64_t e16 = rb + ((re - rb) & ~int64_t(15));
    BitRun br(bo, rb);
#define RN_FWD_V(LOAD, MASK)                                                                   \
  __m512 v = _mm512_fmadd_ps(_mm512_sub_ps(LOAD(MASK, x + e), m), a, b);                        \
  if (HAS_R) v = _mm512_add_ps(v, LOAD(MASK, r + e));                                          \
  v = relu512(v, z);
#define RN_LD(M_, P_) _mm512_loadu_ps(P_)
#define RN_LDM(M_, P_) _mm512_maskz_loadu_ps(M_, P_)
    if (nt && aligned64(y + e))
      for (; e < e16; e += 16) {
        RN_FWD_V(RN_LD, 0)
        _mm512_stream_ps(y + e, v);
        br.add(v);
      }
    else
      for (; e < e16; e += 16) {
        RN_FWD_V(RN_LD, 0)
        _mm512_storeu_ps(y + e, v);
        br.add(v);
      }
    if (e < re) {
      const __mmask16 k = tmask(re - e);
      RN_FWD_V(RN_LDM, k)
      _mm512_mask_storeu_ps(y + e, k, v);
      br.add(v, k, re - e);
    }
    br.flush();
#undef RN_FWD_V
  }
}
RN_AVX512 void fwd_rows_v2(float* y, const float* x, const float* r, const float* M, const float* A,
                           const float* Bt, int64_t e0, int64_t e1, int64_t HW, int64_t C, bool nt, BitsOut bo) {
  if (r) fwd_rows_v2t<true>(y, x, r, M, A, Bt, e0, e1, HW, C, nt, bo);
  else fwd_rows_v2t<false>(y, x, r, M, A, Bt, e0, e1, HW, C, nt, bo);
}

template <bool G, bool DX>
RN_AVX512 void bsum_rows_v2t(double* s1, double* s2, float* g_out, float* dx_out, const float* dy, YSrc y,
                             const float* x, const float* M, const float* P, int64_t e0, int64_t e1, int64_t HW,
                             int64_t C, bool nt) {
  const __m512 z = _mm512_setzero_ps();
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const __m512 m = _mm512_set1_ps(M[c]), p = _mm512_set1_ps(P[c]);
    const bool ntr = nt && (!G || aligned64(g_out + rb)) && (!DX || aligned64(dx_out + rb));
    double t1 = 0, t2 = 0;
    int64_t e = rb;
    while (e < re) {
      const int64_t fe = std::min(re, e + kFold * 32);
      __m512 a1 = z, a2 = z, b1 = z, b2 = z;
      if (ntr)
        for (; e + 32 <= fe; e += 32) {
          bsum_vec<G, DX, true>(a1, a2, g_out, dx_out, dy, y, x, m, p, e);
          bsum_vec<G, DX, true>(b1, b2, g_out, dx_out, dy, y, x, m, p, e + 16);
        }
      else
        for (; e + 32 <= fe; e += 32) {
          bsum_vec<G, DX, false>(a1, a2, g_out, dx_out, dy, y, x, m, p, e);
          bsum_vec<G, DX, false>(b1, b2, g_out, dx_out, dy, y, x, m, p, e + 16);
        }
      if (e + 16 <= fe) {
        bsum_vec<G, DX, false>(a1, a2, g_out, dx_out, dy, y, x, m, p, e);
        e += 16;
      }
      if (e < fe) {
        bsum_masked<G, DX>(b1, b2, g_out, dx_out, dy, y, x, m, p, e, tmask(fe - e));
        e = fe;
      }
      t1 += hsum_pd(_mm512_add_ps(a1, b1));
      t2 += hsum_pd(_mm512_add_ps(a2, b2));
    }
    s1[c] += t1;
    s2[c] += t2;
  }
}
RN_AVX512 void bsum_rows_v2(double* s1, double* s2, float* g_out, float* dx_out, const float* dy, YSrc y,
                            const float* x, const float* M, const float* P, int64_t e0, int64_t e1, int64_t HW,
                            int64_t C, bool nt) {
#define RN_BSR(G, DX) bsum_rows_v2t<G, DX>(s1, s2, g_out, dx_out, dy, y, x, M, P, e0, e1, HW, C, nt)
  if (g_out && dx_out) RN_BSR(true, true);
  else if (g_out) RN_BSR(true, false);
  else if (dx_out) RN_BSR(false, true);
  else RN_BSR(false, false);
#undef RN_BSR
}

template <bool GIN>
RN_AVX512 void bapply_rows_v2t(float* dx, const float* g_in, const float* dy, YSrc y, const float* x,
                               const float* M, const float* P, const float* Q, const float* R, int64_t e0, int64_t e1,
                               int64_t HW, int64_t C, bool nt) {
  int64_t row_ = e0 / HW, c = row_ % C;
  for (int64_t rb = e0, re; rb < e1; rb = re, row_++, c = (c + 1 == C ? 0 : c + 1)) {
    re = std::min((row_ + 1) * HW, e1);
    const __m512 m = _mm512_set1_ps(M[c]), p = _mm512_set1_ps(P[c]), q = _mm512_set1_ps(Q[c]),
                 rr = _mm512_set1_ps(R[c]);
    int64_t e = rb;
    const int64_t e16 = rb + ((re - rb) & ~int64_t(15));
    if (nt && aligned64(dx + e))
      for (; e < e16; e += 16) _mm512_stream_ps(dx + e, bapply_full<GIN, true>(g_in, dy, y, x, m, p, q, rr, e));
    else
      for (; e < e16; e += 16) _mm512_storeu_ps(dx + e, bapply_full<GIN, false>(g_in, dy, y, x, m, p, q, rr, e));
    if (e < re) {
      const __mmask16 k = tmask(re - e);
      _mm512_mask_storeu_ps(dx + e, k, bapply_one<GIN>(g_in, dy, y, x, m, p, q, rr, e, k));
    }
  }
}
RN_AVX512 void bapply_rows_v2(float* dx, const float* g_in, const float* dy, YSrc y, const float* x,
                              const float* M, const float* P, const float* Q, const float* R, int64_t e0, int64_t e1,
                              int64_t HW, int64_t C, bool nt) {
  if (g_in) bapply_rows_v2t<true>(dx, g_in, dy, y, x, M, P, Q, R, e0, e1, HW, C, nt);
  else bapply_rows_v2t<false>(dx, g_in, dy, y, x, M, P, Q, R, e0, e1, HW, C, nt);
}

const Kern kV2 = {stats_v2,      fwd_v2,      bsum_v2,      bapply_v2,
                  stats_rows_v2, fwd_rows_v2, bsum_rows_v2, bapply_rows_v2};

bool have_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}
#else
bool have_avx512() { return false; }
#endif

const Kern& kern() {
#ifdef RN_BN_X86
  if (bn_add_relu_version() == 2) return kV2;
#endif
  return kV1;
}
// The kernels for a call: bits are made and read by v2 only (whatever the version is now: a mask
// made by v2 stays readable after a switch to v1).
const Kern& kern(bool bits) {
#ifdef RN_BN_X86
  if (bits) return kV2;
#endif
  return kern();
}

// ------------------------------------------------------------------------------------------------
// The walk over the element stream (see the top comment).
struct Walk {
  int64_t C = 0, HW = 0, E = 0;
  bool rows = false;            // NCHW rows of HW (else a periodic pattern of L lanes)
  int64_t L = 16;               // pattern mode: lanes per group
  std::vector<int32_t> ch;      // pattern mode: channel of lane j
  int64_t G = 0, tail = 0;      // pattern mode: full groups and the remainder
  int64_t P = 1;                // parts
  std::vector<int64_t> bounds;  // rows mode: part p is elements [bounds[p], bounds[p + 1])
  // pattern mode: part p is `ng` groups from element e0, then `t` tail elements
  void block(int64_t p, int64_t& e0, int64_t& ng, int64_t& t) const {
    const int64_t g0 = G * p / P, g1 = G * (p + 1) / P;
    e0 = g0 * L;
    ng = g1 - g0;
    t = p == P - 1 ? tail : 0;
  }
};

// bits: ReLU bits are written, so parts must start at multiples of 16 elements (a long pattern of
// L = C lanes, C not a multiple of 16, then runs as one part).
Walk make_walk(int64_t N, int64_t C, int64_t HW, bool cl, bool bits = false) {
  Walk w;
  w.C = C;
  w.HW = HW;
  w.E = N * C * HW;
  w.rows = !(cl || HW == 1);  // else the channel index varies fastest
  w.P = std::max<int64_t>(1, std::min<int64_t>(kMaxParts, w.E / kPartElems));
  if (w.rows) {
    w.bounds.resize(w.P + 1);
    for (int64_t p = 0; p < w.P; p++) w.bounds[p] = (w.E * p / w.P) & ~int64_t(15);
    w.bounds[w.P] = w.E;
    return w;
  }
  int64_t L = C / std::gcd<int64_t>(C, 16) * 16;
  if (L > kMaxPattern) L = C;
  w.L = L;
  w.ch.resize(L);
  for (int64_t j = 0; j < L; j++) w.ch[j] = (int32_t)(j % C);
  w.G = w.E / L;
  w.tail = w.E % L;
  w.P = std::max<int64_t>(1, std::min(w.P, w.G));
  if (bits && L % 16) w.P = 1;
  return w;
}

// Per-channel vectors expanded to the pattern's lanes, one block of L per vector.
template <int NV>
std::vector<float> lanes_of(const Walk& w, const float* const (&chv)[NV]) {
  if (w.rows) return {};
  std::vector<float> out(NV * w.L);
  for (int i = 0; i < NV; i++)
    for (int64_t j = 0; j < w.L; j++) out[i * w.L + j] = chv[i][w.ch[j]];
  return out;
}

// Parts are handed out one at a time from a shared counter (parallel_for's own chunks are
// P / (4 * threads) parts, so a thread that the OS preempts would hold up several parts); in
// reverse order when asked. A fence after each thread's streaming stores.
template <class F>
void run_parts(const Walk& w, bool reverse, bool nt, F&& f) {
  std::atomic<int64_t> next{0};
  const int64_t workers = std::min<int64_t>(w.P, num_threads());
  parallel_for(workers, 1, [&](int64_t, int64_t) {
    for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < w.P;) f(reverse ? w.P - 1 - i : i);
    if (nt) std::atomic_thread_fence(std::memory_order_seq_cst);
  });
}

// Per-channel double sums over all parts, combined in part order (deterministic for any thread
// count). rows(s1, s2, e0, e1) adds into per-channel arrays; pattern(s1, s2, acc, e0, ng, t) adds
// into per-lane arrays, which are then mapped to channels.
template <class RowsF, class PatF>
void channel_sums(const Walk& w, bool nt, std::vector<double>& S1, std::vector<double>& S2, RowsF&& rows,
                  PatF&& pattern) {
  const int64_t C = w.C;
  std::vector<double> part((size_t)(w.P * 2 * C), 0.0);
  run_parts(w, false, nt, [&](int64_t p) {
    double* ps = part.data() + p * 2 * C;
    if (w.rows) {
      rows(ps, ps + C, w.bounds[p], w.bounds[p + 1]);
      return;
    }
    int64_t e0, ng, t;
    w.block(p, e0, ng, t);
    std::vector<float> acc(2 * w.L);
    std::vector<double> ls(2 * w.L, 0.0);
    pattern(ls.data(), ls.data() + w.L, acc.data(), e0, ng, t);
    for (int64_t j = 0; j < w.L; j++) {
      ps[w.ch[j]] += ls[j];
      ps[C + w.ch[j]] += ls[w.L + j];
    }
  });
  S1.assign(C, 0.0);
  S2.assign(C, 0.0);
  for (int64_t p = 0; p < w.P; p++)
    for (int64_t c = 0; c < C; c++) {
      S1[c] += part[p * 2 * C + c];
      S2[c] += part[p * 2 * C + C + c];
    }
}

bool use_nt(int64_t elems) {
  return bn_add_relu_version() == 2 && g_nt_bytes.load() >= 0 && elems * (int64_t)sizeof(float) >= g_nt_bytes.load();
}

// y = max(0, (x - mean) * A + beta [+ r]) over the stream, parts in reverse order; [bits: y > 0]
void apply_forward(const Walk& w, float* y, const float* x, const float* r, const float* mean, const float* A,
                   const float* Bt, uint8_t* bits) {
  const Kern& k = kern(bits != nullptr);
  const bool nt = use_nt(w.E);
  const float* const chv[3] = {mean, A, Bt};
  const std::vector<float> lanes = lanes_of<3>(w, chv);
  run_parts(w, true, nt, [&](int64_t p) {
    int64_t e0, e1, ng = 0, t = 0;
    if (w.rows) {
      e0 = w.bounds[p], e1 = w.bounds[p + 1];
    } else {
      w.block(p, e0, ng, t);
      e1 = e0 + ng * w.L + t;
    }
    if (bits && (w.rows ? w.HW : w.L) % 16)  // unaligned vectors OR their bits in (put_bits)
      std::memset(bits + (e0 >> 3), 0, (size_t)(((e1 + 7) >> 3) - (e0 >> 3)));
    if (w.rows) return k.fwd_rows(y, x, r, mean, A, Bt, e0, e1, w.HW, w.C, nt, BitsOut{bits, 0});
    const float* lp = lanes.data();
    k.fwd(y + e0, x + e0, off(r, e0), lp, lp + w.L, lp + 2 * w.L, w.L, ng, t, nt, BitsOut{bits, e0});
  });
}

}  // namespace

// ------------------------------------------------------------------------------------------------
int bn_add_relu_best_version() { return have_avx512() ? 2 : 1; }
int bn_add_relu_version() {
  const int v = g_version.load();
  return v == 0 ? bn_add_relu_best_version() : v;
}
void set_bn_add_relu_version(int v) {
  if (v < 0 || v > 2) throw RnError("ERR_RN_RANGE", cat("bn_add_relu: unknown kernel version ", v, " (0 = best, 1, 2)"), ErrKind::Range);
  if (v == 2 && !have_avx512())
    throw RnError("ERR_RN_RANGE", "bn_add_relu: kernel version 2 needs AVX-512 (F and DQ), which this CPU lacks", ErrKind::Range);
  g_version.store(v);
}
int64_t bn_add_relu_nt_bytes() { return g_nt_bytes.load(); }
bool bn_add_relu_makes_masks() { return bn_add_relu_version() == 2; }
int64_t bn_add_relu_mask_bytes(int64_t elems) { return (elems + 7) / 8 + 4; }
void set_bn_add_relu_nt_bytes(int64_t bytes) { g_nt_bytes.store(bytes < 0 ? kDefaultNtBytes : bytes); }

void bn_add_relu_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                               float* running_var, const float* x, const float* r, const float* gamma,
                               const float* beta, int64_t N, int64_t C, int64_t HW, bool cl, float momentum,
                               float eps, uint8_t* relu_bits) {
  if (C <= 0 || N * HW <= 0) return;
  const Walk w = make_walk(N, C, HW, cl, relu_bits != nullptr);
  const Kern& k = kern();
  // pass 1: shifted sums, K_c = the channel's first element (n = 0, hw = 0) in either layout
  std::vector<float> K(C);
  for (int64_t c = 0; c < C; c++) K[c] = x[cl ? c : c * HW];
  std::vector<double> S1, S2;
  const float* const chv[1] = {K.data()};
  const std::vector<float> lanes = lanes_of<1>(w, chv);
  channel_sums(
      w, false, S1, S2,
      [&](double* s1, double* s2, int64_t e0, int64_t e1) { k.stats_rows(s1, s2, x, K.data(), e0, e1, HW, C); },
      [&](double* s1, double* s2, float* acc, int64_t e0, int64_t ng, int64_t t) {
        k.stats(s1, s2, acc, x + e0, lanes.data(), w.L, ng, t);
      });
  const double M = (double)N * (double)HW;
  std::vector<float> mean(C), A(C), Bt(C);
  for (int64_t c = 0; c < C; c++) {
    const double m1 = S1[c] / M;
    const double var = std::max(0.0, S2[c] / M - m1 * m1);
    const float mu = (float)((double)K[c] + m1);
    const float invstd = (float)(1.0 / std::sqrt(var + (double)eps));
    mean[c] = mu;
    save_mean[c] = mu;
    save_invstd[c] = invstd;
    A[c] = (gamma ? gamma[c] : 1.f) * invstd;
    Bt[c] = beta ? beta[c] : 0.f;
    if (running_mean) running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mu;
    if (running_var) {
      const double unbiased = M > 1 ? var * M / (M - 1) : var;
      running_var[c] = (1.f - momentum) * running_var[c] + momentum * (float)unbiased;
    }
  }
  // pass 2: normalise + add + relu
  apply_forward(w, y, x, r, mean.data(), A.data(), Bt.data(), relu_bits);
}

void bn_add_relu_forward_eval(float* y, float* save_mean, float* save_invstd, const float* x, const float* r,
                              const float* gamma, const float* beta, const float* running_mean,
                              const float* running_var, int64_t N, int64_t C, int64_t HW, bool cl, float eps,
                              uint8_t* relu_bits) {
  if (C <= 0) return;
  std::vector<float> A(C), Bt(C);
  for (int64_t c = 0; c < C; c++) {
    const float invstd = 1.f / std::sqrt(running_var[c] + eps);  // as batchnorm_forward_eval
    save_mean[c] = running_mean[c];
    save_invstd[c] = invstd;
    A[c] = (gamma ? gamma[c] : 1.f) * invstd;
    Bt[c] = beta ? beta[c] : 0.f;
  }
  if (N * HW <= 0) return;
  const Walk w = make_walk(N, C, HW, cl, relu_bits != nullptr);
  apply_forward(w, y, x, r, running_mean, A.data(), Bt.data(), relu_bits);
}

void bn_add_relu_backward(float* dx, float* dr, float* dgamma, float* dbeta, const float* dy, const float* y,
                          const float* x, const float* gamma, const float* save_mean, const float* save_invstd,
                          int64_t N, int64_t C, int64_t HW, bool cl, bool training, const uint8_t* relu_bits) {
  if (C <= 0) return;
  if (N * HW <= 0) {
    std::fill(dgamma, dgamma + C, 0.f);
    std::fill(dbeta, dbeta + C, 0.f);
    return;
  }
  const Walk w = make_walk(N, C, HW, cl);
  const Kern& k = kern(relu_bits != nullptr);
  const bool nt = use_nt(w.E);
  const YSrc ys{relu_bits ? nullptr : y, relu_bits, 0};
  std::vector<float> P(C);
  for (int64_t c = 0; c < C; c++) P[c] = (gamma ? gamma[c] : 1.f) * save_invstd[c];
  // pass 1: g = dy * (y > 0) [-> dr], sums of g and g * (x - mean) [eval: dx = g * P too]
  float* dx1 = training ? nullptr : dx;
  // g = dy * mask goes to dr; without a residual (training, mask from y) it goes to dx, which
  // pass 2 then overwrites in place: pass 2 reads 2 streams (g, x) instead of 3 (dy, y, x), same
  // bytes. With the bit mask pass 2 re-reads dy and the bits instead: a full write saved.
  float* gbuf = dr ? dr : (training && !relu_bits ? dx : nullptr);
  std::vector<double> S1, S2;
  const float* const chv[2] = {save_mean, P.data()};
  const std::vector<float> lanes = lanes_of<2>(w, chv);
  channel_sums(
      w, nt, S1, S2,
      [&](double* s1, double* s2, int64_t e0, int64_t e1) {
        k.bsum_rows(s1, s2, gbuf, dx1, dy, ys, x, save_mean, P.data(), e0, e1, HW, C, nt);
      },
      [&](double* s1, double* s2, float* acc, int64_t e0, int64_t ng, int64_t t) {
        const float* lp = lanes.data();
        k.bsum(s1, s2, acc, off(gbuf, e0), off(dx1, e0), dy + e0, ys + e0, x + e0, lp, lp + w.L, w.L, ng, t, nt);
      });
  const double M = (double)N * (double)HW;
  std::vector<float> Q(C), R(C);
  for (int64_t c = 0; c < C; c++) {
    dbeta[c] = (float)S1[c];
    dgamma[c] = (float)(S2[c] * save_invstd[c]);
    // dx = P * (g - mean(g) - xhat * mean(g * xhat)), xhat = (x - mean) * invstd
    const double is = save_invstd[c];
    Q[c] = (float)(-(double)P[c] * is * is * S2[c] / M);
    R[c] = (float)(-(double)P[c] * S1[c] / M);
  }
  if (!training) return;
  // pass 2 (reverse order: the last parts of pass 1 are still in cache)
  const float* const chv2[4] = {save_mean, P.data(), Q.data(), R.data()};
  const std::vector<float> lanes2 = lanes_of<4>(w, chv2);
  run_parts(w, true, nt, [&](int64_t p) {
    if (w.rows)
      return k.bapply_rows(dx, gbuf, dy, ys, x, save_mean, P.data(), Q.data(), R.data(), w.bounds[p], w.bounds[p + 1], HW,
                           C, nt);
    int64_t e0, ng, t;
    w.block(p, e0, ng, t);
    const float* lp = lanes2.data();
    k.bapply(dx + e0, off(gbuf, e0), dy + e0, ys + e0, x + e0, lp, lp + w.L, lp + 2 * w.L, lp + 3 * w.L, w.L, ng, t, nt);
  });
}

}  // namespace cpu
}  // namespace rn
