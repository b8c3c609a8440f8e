// Elementwise kernels: unary/binary/scalar ops, copies and casts, fills and random numbers.
// Flat loops are written so the compiler vectorises them (RN_VEC clones per ISA); N-d loops walk
// the innermost dimension contiguously and are split across threads by outer index.
#include <cmath>
#include <cstring>
#include <algorithm>
#include "kernels.h"
#include "../core/parallel.h"
#include "../core/simd.h"
#include "../core/tensor.h"

namespace rn {

const char* simd_level() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
  return "baseline";
}

namespace cpu {
namespace {
constexpr int64_t kGrain = 1 << 15;
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;

// relu keeps NaN (as torch does): a NaN must not turn into a plausible 0 downstream
RN_VEC void relu_k(float* o, const float* x, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = x[i] <= 0.f ? 0.f : x[i]; }
RN_VEC void relu_bwd_k(float* dx, const float* dy, const float* y, int64_t n) { for (int64_t i = 0; i < n; i++) dx[i] = y[i] > 0.f ? dy[i] : 0.f; }
RN_VEC void axpy_k(float* y, const float* x, float a, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] += a * x[i]; }
RN_VEC void fill_k(float* o, float v, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = v; }
RN_VEC void add_k(float* o, const float* a, const float* b, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = a[i] + b[i]; }
RN_VEC void sub_k(float* o, const float* a, const float* b, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = a[i] - b[i]; }
RN_VEC void mul_k(float* o, const float* a, const float* b, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = a[i] * b[i]; }
RN_VEC void div_k(float* o, const float* a, const float* b, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = a[i] / b[i]; }
RN_VEC void sadd_k(float* o, const float* x, float s, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = x[i] + s; }
RN_VEC void smul_k(float* o, const float* x, float s, int64_t n) { for (int64_t i = 0; i < n; i++) o[i] = x[i] * s; }

inline float unary1(float v, Unary op) {
  switch (op) {
    case Unary::Relu: return v <= 0.f ? 0.f : v;
    case Unary::Sigmoid: return 1.f / (1.f + std::exp(-v));
    case Unary::Tanh: return std::tanh(v);
    case Unary::Gelu: return 0.5f * v * (1.f + std::erf(v * kInvSqrt2));
    case Unary::GeluTanh: return 0.5f * v * (1.f + std::tanh(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
    case Unary::Exp: return std::exp(v);
    case Unary::Log: return std::log(v);
    case Unary::Neg: return -v;
    case Unary::Sqrt: return std::sqrt(v);
    case Unary::Abs: return std::fabs(v);
    case Unary::Square: return v * v;
    case Unary::Rsqrt: return 1.f / std::sqrt(v);
    case Unary::Reciprocal: return 1.f / v;
  }
  return v;
}
inline float unary_grad(float g, float x, float y, Unary op) {
  switch (op) {
    case Unary::Relu: return y > 0.f ? g : 0.f;
    case Unary::Sigmoid: return g * y * (1.f - y);
    case Unary::Tanh: return g * (1.f - y * y);
    case Unary::Gelu: return g * (0.5f * (1.f + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x));
    case Unary::GeluTanh: {
      float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
      float t = std::tanh(u);
      float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * x * x);
      return g * (0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du);
    }
    case Unary::Exp: return g * y;
    case Unary::Log: return g / x;
    case Unary::Neg: return -g;
    case Unary::Sqrt: return g * 0.5f / y;
    case Unary::Abs: return x > 0.f ? g : (x < 0.f ? -g : 0.f);
    case Unary::Square: return g * 2.f * x;
    case Unary::Rsqrt: return g * -0.5f * y * y * y;
    case Unary::Reciprocal: return g * -y * y;
  }
  return g;
}
inline float binary1(float a, float b, Binary op) {
  switch (op) {
    case Binary::Add: return a + b;
    case Binary::Sub: return a - b;
    case Binary::Mul: return a * b;
    case Binary::Div: return a / b;
    case Binary::Max: return a > b || std::isnan(a) ? a : b;
    case Binary::Min: return a < b || std::isnan(a) ? a : b;
    case Binary::Eq: return a == b ? 1.f : 0.f;
    case Binary::Gt: return a > b ? 1.f : 0.f;
    case Binary::Lt: return a < b ? 1.f : 0.f;
    case Binary::Pow: return std::pow(a, b);
  }
  return 0.f;
}
inline float scalar1(float x, float s, ScalarOp op) {
  switch (op) {
    case ScalarOp::Add: return x + s;
    case ScalarOp::Mul: return x * s;
    case ScalarOp::Pow: return s == 2.f ? x * x : std::pow(x, s);
    case ScalarOp::Rsub: return s - x;
    case ScalarOp::Rdiv: return s / x;
    case ScalarOp::Max: return x > s || std::isnan(x) ? x : s;
    case ScalarOp::Min: return x < s || std::isnan(x) ? x : s;
    case ScalarOp::Eq: return x == s ? 1.f : 0.f;
    case ScalarOp::Gt: return x > s ? 1.f : 0.f;
    case ScalarOp::Lt: return x < s ? 1.f : 0.f;
  }
  return x;
}

// splitmix64: a strong 64-bit mixer; hashing (seed, counter) gives independent streams.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline uint64_t rand64(uint64_t seed, uint64_t i) { return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (i * 0xd1b54a32d192ed03ULL)); }
inline float u01(uint64_t h) { return (float)(h >> 40) * (1.0f / 16777216.0f); }  // [0, 1)
}  // namespace

void unary_forward(float* out, const float* x, int64_t n, Unary op) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (op == Unary::Relu) { relu_k(out + b, x + b, e - b); return; }
    for (int64_t i = b; i < e; i++) out[i] = unary1(x[i], op);
  });
}

void unary_backward(float* dx, const float* dy, const float* x, const float* y, int64_t n, Unary op) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (op == Unary::Relu) { relu_bwd_k(dx + b, dy + b, y + b, e - b); return; }
    for (int64_t i = b; i < e; i++) dx[i] = unary_grad(dy[i], x ? x[i] : 0.f, y ? y[i] : 0.f, op);
  });
}

void scalar_forward(float* out, const float* x, float s, int64_t n, ScalarOp op) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    if (op == ScalarOp::Add) { sadd_k(out + b, x + b, s, e - b); return; }
    if (op == ScalarOp::Mul) { smul_k(out + b, x + b, s, e - b); return; }
    for (int64_t i = b; i < e; i++) out[i] = scalar1(x[i], s, op);
  });
}

void binary_forward(float* out, const float* a, const float* b, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, Binary op) {
  const int64_t nd = (int64_t)shape.size();
  int64_t n = 1;
  for (auto s : shape) n *= s;
  if (n == 0) return;
  // Flat fast path: both operands dense with the output's layout.
  auto cs = contiguous_strides(shape);
  bool flat = true;
  for (int64_t d = 0; d < nd; d++)
    if (shape[d] != 1 && (sa[d] != cs[d] || sb[d] != cs[d])) flat = false;
  if (flat) {
    parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
      switch (op) {
        case Binary::Add: add_k(out + lo, a + lo, b + lo, hi - lo); break;
        case Binary::Sub: sub_k(out + lo, a + lo, b + lo, hi - lo); break;
        case Binary::Mul: mul_k(out + lo, a + lo, b + lo, hi - lo); break;
        case Binary::Div: div_k(out + lo, a + lo, b + lo, hi - lo); break;
        default: for (int64_t i = lo; i < hi; i++) out[i] = binary1(a[i], b[i], op);
      }
    });
    return;
  }
  // General broadcast: walk rows of the innermost dimension.
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t rows = n / inner;
  const int64_t ia = nd ? sa[nd - 1] : 0, ib = nd ? sb[nd - 1] : 0;
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      int64_t rem = r, oa = 0, ob = 0;
      for (int64_t d = nd - 2; d >= 0; d--) {
        int64_t i = rem % shape[d];
        rem /= shape[d];
        oa += i * sa[d];
        ob += i * sb[d];
      }
      float* o = out + r * inner;
      const float* pa = a + oa;
      const float* pb = b + ob;
      if (ib == 0 && ia == 1 && op == Binary::Add) { sadd_k(o, pa, pb[0], inner); continue; }
      if (ib == 0 && ia == 1 && op == Binary::Mul) { smul_k(o, pa, pb[0], inner); continue; }
      for (int64_t i = 0; i < inner; i++) o[i] = binary1(pa[i * ia], pb[i * ib], op);
    }
  });
}

void axpy(float* y, const float* x, float alpha, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { axpy_k(y + b, x + b, alpha, e - b); });
}

void fill_f32(float* out, float v, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { fill_k(out + b, v, e - b); });
}

namespace {
// Dims of size 1 dropped and neighbours that are contiguous in both tensors merged, so a copy
// between two views walks as few (and as long) rows as possible.
void coalesce(std::vector<int64_t>& shape, std::vector<int64_t>& sd, std::vector<int64_t>& ss) {
  std::vector<int64_t> sh, d, s;
  for (size_t k = 0; k < shape.size(); k++) {
    if (shape[k] == 1) continue;
    if (!sh.empty() && d.back() == sd[k] * shape[k] && s.back() == ss[k] * shape[k]) {
      sh.back() *= shape[k];
      d.back() = sd[k];
      s.back() = ss[k];
      continue;
    }
    sh.push_back(shape[k]); d.push_back(sd[k]); s.push_back(ss[k]);
  }
  if (sh.empty()) { sh.push_back(1); d.push_back(1); s.push_back(1); }
  shape.swap(sh); sd.swap(d); ss.swap(s);
}
template <class T>
inline void copy_row(T* d, int64_t dd, const T* s, int64_t ds, int64_t n) {
  if (dd == 1 && ds == 1) { std::memcpy(d, s, n * sizeof(T)); return; }
  for (int64_t i = 0; i < n; i++) d[i * dd] = s[i * ds];  // constant strides: the compiler vectorises
}
// When the source is contiguous along one dim (a) and the destination along another (b) — a
// transpose, e.g. NCHW <-> NHWC — row-by-row copying writes (or reads) one element per cache
// line. Copy 32x32 tiles of (a, b) instead, for every index of the other dims. Returns false when
// the pattern does not apply.
template <class T>
bool copy_transposed(T* d, const T* s, const std::vector<int64_t>& shape, const std::vector<int64_t>& sd,
                     const std::vector<int64_t>& ss) {
  const int64_t nd = (int64_t)shape.size();
  int64_t a = -1, b = -1;
  for (int64_t k = 0; k < nd; k++) {
    if (ss[k] == 1) a = k;
    if (sd[k] == 1) b = k;
  }
  if (a < 0 || b < 0 || a == b || shape[a] < 8 || shape[b] < 8) return false;
  std::vector<int64_t> os, osd, oss;  // the other dims
  for (int64_t k = 0; k < nd; k++)
    if (k != a && k != b) { os.push_back(shape[k]); osd.push_back(sd[k]); oss.push_back(ss[k]); }
  int64_t outer = 1;
  for (auto v : os) outer *= v;
  constexpr int64_t kT = 32;
  const int64_t A = shape[a], B = shape[b], sda = sd[a], ssb = ss[b], ta = (A + kT - 1) / kT;
  parallel_for(outer * ta, 1, [&](int64_t w0, int64_t w1) {
    for (int64_t w = w0; w < w1; w++) {
      int64_t o = w / ta, od = 0, osrc = 0;
      const int64_t i0 = (w % ta) * kT, i1 = std::min(A, i0 + kT);
      for (int64_t k = (int64_t)os.size() - 1; k >= 0; k--) {
        const int64_t i = o % os[k];
        o /= os[k];
        od += i * osd[k];
        osrc += i * oss[k];
      }
      for (int64_t j0 = 0; j0 < B; j0 += kT) {
        const int64_t j1 = std::min(B, j0 + kT);
        for (int64_t i = i0; i < i1; i++) {
          T* dp = d + od + i * sda;
          const T* sp = s + osrc + i;
          for (int64_t j = j0; j < j1; j++) dp[j] = sp[j * ssb];
        }
      }
    }
  });
  return true;
}
}  // namespace

namespace {
// The copy for one element type (dims already merged): tiles for a layout change, else rows.
template <class T>
void copy_strided_t(T* d, const T* s, const std::vector<int64_t>& shape, const std::vector<int64_t>& sd,
                    const std::vector<int64_t>& ss, int64_t n) {
  if (copy_transposed(d, s, shape, sd, ss)) return;  // NCHW <-> NHWC: both sides move whole cache lines
  const int64_t nd = (int64_t)shape.size();
  const int64_t inner = shape[nd - 1], idd = sd[nd - 1], iss = ss[nd - 1];
  const int64_t rows = n / inner;
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    // the multi-index of row r0, then stepped like an odometer (no division per row)
    std::vector<int64_t> idx(nd, 0);
    int64_t od = 0, os = 0;
    for (int64_t k = nd - 2, rem = r0; k >= 0; k--) {
      idx[k] = rem % shape[k];
      rem /= shape[k];
      od += idx[k] * sd[k];
      os += idx[k] * ss[k];
    }
    for (int64_t r = r0; r < r1; r++) {
      copy_row(d + od, idd, s + os, iss, inner);
      for (int64_t k = nd - 2; k >= 0; k--) {
        od += sd[k];
        os += ss[k];
        if (++idx[k] < shape[k]) break;
        od -= sd[k] * shape[k];
        os -= ss[k] * shape[k];
        idx[k] = 0;
      }
    }
  });
}
}  // namespace

void copy_strided(void* dst, const void* src, int64_t es, const std::vector<int64_t>& shape0,
                  const std::vector<int64_t>& sd0, const std::vector<int64_t>& ss0) {
  int64_t n = 1;
  for (auto v : shape0) n *= v;
  if (n == 0) return;
  std::vector<int64_t> shape = shape0, sd = sd0, ss = ss0;
  coalesce(shape, sd, ss);
  switch (es) {
    case 4: copy_strided_t(static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(src), shape, sd, ss, n); break;
    case 2: copy_strided_t(static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src), shape, sd, ss, n); break;
    case 8: copy_strided_t(static_cast<uint64_t*>(dst), static_cast<const uint64_t*>(src), shape, sd, ss, n); break;
    default: copy_strided_t(static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src), shape, sd, ss, n); break;
  }
}

namespace {
template <class T> double load(const void* p, int64_t i) { return (double)static_cast<const T*>(p)[i]; }
double load_any(const void* p, int32_t dt, int64_t i) {
  switch ((DType)dt) {
    case DType::F32: return load<float>(p, i);
    case DType::I32: return load<int32_t>(p, i);
    case DType::U8: return load<uint8_t>(p, i);
    case DType::I64: return load<int64_t>(p, i);
    default: return 0;
  }
}
void store_any(void* p, int32_t dt, int64_t i, double v) {
  switch ((DType)dt) {
    case DType::F32: static_cast<float*>(p)[i] = (float)v; break;
    case DType::I32: static_cast<int32_t*>(p)[i] = (int32_t)v; break;
    case DType::U8: static_cast<uint8_t*>(p)[i] = (uint8_t)v; break;
    case DType::I64: static_cast<int64_t*>(p)[i] = (int64_t)v; break;
    default: break;
  }
}
}  // namespace

void cast(void* dst, int32_t ddt, const void* src, int32_t sdt, int64_t n) {
  if ((DType)ddt == DType::F32 && (DType)sdt == DType::U8) {
    auto* o = static_cast<float*>(dst);
    auto* x = static_cast<const uint8_t*>(src);
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; i++) o[i] = x[i]; });
    return;
  }
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) store_any(dst, ddt, i, load_any(src, sdt, i));
  });
}

void rand_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] = lo + (hi - lo) * u01(rand64(seed, offset + i));
  });
}

void rand_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  // Box-Muller on one 64-bit draw per element (two 32-bit halves), so element i is independent.
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      uint64_t h = rand64(seed, offset + i);
      double u1 = ((double)(h >> 32) + 1.0) * (1.0 / 4294967297.0);  // (0, 1)
      double u2 = (double)(h & 0xffffffffULL) * (1.0 / 4294967296.0);
      out[i] = mean + std * (float)(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
  });
}

void dropout_forward(float* out, const float* x, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) out[i] = u01(rand64(seed, offset + i)) >= p ? x[i] * scale : 0.f;
  });
}

void dropout_backward(float* dx, const float* dy, int64_t n, float p, uint64_t seed, uint64_t offset) {
  dropout_forward(dx, dy, n, p, seed, offset);  // same mask, same scale
}

}  // namespace cpu
}  // namespace rn
