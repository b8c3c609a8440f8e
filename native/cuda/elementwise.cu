// Elementwise CUDA kernels: unary / binary (broadcast) / scalar ops and their backward, copies
// between any two strided views, dtype casts, fills, the counter-based random numbers and dropout.
//
// Every formula is the CPU's (native/cpu/elementwise.cc) written for the device, so results agree
// to float32 rounding of the math functions (expf, tanhf, erff: a few ulp). Random numbers and
// dropout masks are bit-identical: the generator is splitmix64 on (seed, offset + i), integer
// only, the same code on both sides, and the scaling avoids contraction into an FMA (__fmul_rn /
// __fadd_rn) as the CPU's baseline build does not contract either.
//
// N-d kernels walk a collapsed shape: dims that are contiguous in every operand are merged and
// size-1 dims dropped on the host, so most launches are 1-d or 2-d.
#include <cmath>
#include <cstring>
#include <vector>
#include "cuda_common.h"

namespace rn {
namespace cuda {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;

// ---- N-d descriptors ----
struct Nd {
  int nd;
  int64_t shape[kMaxDims];
  int64_t st[3][kMaxDims];  // strides of up to three operands
};

// Collapse `shape` for k operands with the given strides: drop size-1 dims, merge dim i into
// i+1 when every operand has stride[i] == stride[i+1] * shape[i+1].
Nd collapse(const std::vector<int64_t>& shape, std::initializer_list<const std::vector<int64_t>*> strides) {
  Nd d{};
  const int k = (int)strides.size();
  std::vector<int64_t> sh;
  std::vector<std::vector<int64_t>> st(k);
  for (size_t i = 0; i < shape.size(); i++) {
    if (shape[i] == 1) continue;
    sh.push_back(shape[i]);
    int j = 0;
    for (auto* s : strides) st[j++].push_back((*s)[i]);
  }
  // merge from the innermost dim outwards
  std::vector<int64_t> msh;
  std::vector<std::vector<int64_t>> mst(k);
  for (int i = (int)sh.size() - 1; i >= 0; i--) {
    bool merge = !msh.empty();
    for (int j = 0; j < k && merge; j++)
      if (st[j][i] != mst[j].back() * msh.back()) merge = false;
    if (merge) {
      msh.back() *= sh[i];
    } else {
      msh.push_back(sh[i]);
      for (int j = 0; j < k; j++) mst[j].push_back(st[j][i]);
    }
  }
  d.nd = (int)msh.size();
  for (int i = 0; i < d.nd; i++) {  // back to outermost-first order
    d.shape[i] = msh[d.nd - 1 - i];
    for (int j = 0; j < k; j++) d.st[j][i] = mst[j][d.nd - 1 - i];
  }
  return d;
}

template <int K>
__device__ __forceinline__ void nd_offsets(const Nd& d, int64_t i, int64_t (&off)[K]) {
  for (int j = 0; j < K; j++) off[j] = 0;
  for (int k = d.nd - 1; k >= 0; k--) {
    int64_t s = d.shape[k];
    int64_t idx = i % s;
    i /= s;
    for (int j = 0; j < K; j++) off[j] += idx * d.st[j][k];
  }
}

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

// ---- copies ----
template <class E>
__global__ void copy_nd_k(E* __restrict__ dst, const E* __restrict__ src, Nd d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t off[2];
    nd_offsets<2>(d, i, off);
    dst[off[0]] = src[off[1]];
  }
}

// ---- math, as native/cpu/elementwise.cc ----
__device__ __forceinline__ float unary1(float v, cpu::Unary op) {
  switch (op) {
    case cpu::Unary::Relu: return v <= 0.f ? 0.f : v;  // NaN stays NaN, as on the cpu
    case cpu::Unary::Sigmoid: return 1.f / (1.f + expf(-v));
    case cpu::Unary::Tanh: return tanhf(v);
    case cpu::Unary::Gelu: return 0.5f * v * (1.f + erff(v * kInvSqrt2));
    case cpu::Unary::GeluTanh: return 0.5f * v * (1.f + tanhf(kSqrt2OverPi * (v + 0.044715f * v * v * v)));
    case cpu::Unary::Exp: return expf(v);
    case cpu::Unary::Log: return logf(v);
    case cpu::Unary::Neg: return -v;
    case cpu::Unary::Sqrt: return sqrtf(v);
    case cpu::Unary::Abs: return fabsf(v);
    case cpu::Unary::Square: return v * v;
    case cpu::Unary::Rsqrt: return 1.f / sqrtf(v);
    case cpu::Unary::Reciprocal: return 1.f / v;
  }
  return v;
}
__device__ __forceinline__ float unary_grad(float g, float x, float y, cpu::Unary op) {
  switch (op) {
    case cpu::Unary::Relu: return y > 0.f ? g : 0.f;
    case cpu::Unary::Sigmoid: return g * y * (1.f - y);
    case cpu::Unary::Tanh: return g * (1.f - y * y);
    case cpu::Unary::Gelu: return g * (0.5f * (1.f + erff(x * kInvSqrt2)) + x * kInvSqrt2Pi * expf(-0.5f * x * x));
    case cpu::Unary::GeluTanh: {
      float u = kSqrt2OverPi * (x + 0.044715f * x * x * x);
      float t = tanhf(u);
      float du = kSqrt2OverPi * (1.f + 3.f * 0.044715f * x * x);
      return g * (0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * du);
    }
    case cpu::Unary::Exp: return g * y;
    case cpu::Unary::Log: return g / x;
    case cpu::Unary::Neg: return -g;
    case cpu::Unary::Sqrt: return g * 0.5f / y;
    case cpu::Unary::Abs: return x > 0.f ? g : (x < 0.f ? -g : 0.f);
    case cpu::Unary::Square: return g * 2.f * x;
    case cpu::Unary::Rsqrt: return g * -0.5f * y * y * y;
    case cpu::Unary::Reciprocal: return g * -y * y;
  }
  return g;
}
__device__ __forceinline__ float binary1(float a, float b, cpu::Binary op) {
  switch (op) {
    case cpu::Binary::Add: return a + b;
    case cpu::Binary::Sub: return a - b;
    case cpu::Binary::Mul: return a * b;
    case cpu::Binary::Div: return a / b;
    case cpu::Binary::Max: return a > b || isnan(a) ? a : b;
    case cpu::Binary::Min: return a < b || isnan(a) ? a : b;
    case cpu::Binary::Eq: return a == b ? 1.f : 0.f;
    case cpu::Binary::Gt: return a > b ? 1.f : 0.f;
    case cpu::Binary::Lt: return a < b ? 1.f : 0.f;
    case cpu::Binary::Pow: return powf(a, b);
  }
  return 0.f;
}
__device__ __forceinline__ float scalar1(float x, float s, cpu::ScalarOp op) {
  switch (op) {
    case cpu::ScalarOp::Add: return x + s;
    case cpu::ScalarOp::Mul: return x * s;
    case cpu::ScalarOp::Pow: return s == 2.f ? x * x : powf(x, s);
    case cpu::ScalarOp::Rsub: return s - x;
    case cpu::ScalarOp::Rdiv: return s / x;
    case cpu::ScalarOp::Max: return x > s || isnan(x) ? x : s;
    case cpu::ScalarOp::Min: return x < s || isnan(x) ? x : s;
    case cpu::ScalarOp::Eq: return x == s ? 1.f : 0.f;
    case cpu::ScalarOp::Gt: return x > s ? 1.f : 0.f;
    case cpu::ScalarOp::Lt: return x < s ? 1.f : 0.f;
  }
  return x;
}

// splitmix64, exactly as native/cpu/elementwise.cc
__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
__device__ __forceinline__ uint64_t rand64(uint64_t seed, uint64_t i) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (i * 0xd1b54a32d192ed03ULL));
}
__device__ __forceinline__ float u01(uint64_t h) { return (float)(h >> 40) * (1.0f / 16777216.0f); }

#define RN_GRID_LOOP(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void unary_k(float* __restrict__ out, const float* __restrict__ x, int64_t n, cpu::Unary op) {
  RN_GRID_LOOP(i, n) out[i] = unary1(x[i], op);
}
__global__ void unary_bwd_k(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ x,
                            const float* __restrict__ y, int64_t n, cpu::Unary op) {
  RN_GRID_LOOP(i, n) dx[i] = unary_grad(dy[i], x ? x[i] : 0.f, y ? y[i] : 0.f, op);
}
__global__ void scalar_k(float* __restrict__ out, const float* __restrict__ x, float s, int64_t n, cpu::ScalarOp op) {
  RN_GRID_LOOP(i, n) out[i] = scalar1(x[i], s, op);
}
__global__ void binary_flat_k(float* __restrict__ out, const float* __restrict__ a, const float* __restrict__ b, int64_t n,
                              cpu::Binary op) {
  RN_GRID_LOOP(i, n) out[i] = binary1(a[i], b[i], op);
}
__global__ void binary_nd_k(float* __restrict__ out, const float* __restrict__ a, const float* __restrict__ b, Nd d,
                            int64_t n, cpu::Binary op) {
  RN_GRID_LOOP(i, n) {
    int64_t off[3];
    nd_offsets<3>(d, i, off);
    out[off[0]] = binary1(a[off[1]], b[off[2]], op);
  }
}
__global__ void axpy_k(float* __restrict__ y, const float* __restrict__ x, float alpha, int64_t n) {
  RN_GRID_LOOP(i, n) y[i] += alpha * x[i];
}
__global__ void dropout_k(float* __restrict__ out, const float* __restrict__ x, int64_t n, float p, float scale,
                          uint64_t seed, uint64_t offset) {
  RN_GRID_LOOP(i, n) out[i] = u01(rand64(seed, offset + (uint64_t)i)) >= p ? x[i] * scale : 0.f;
}
__global__ void rand_uniform_k(float* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  RN_GRID_LOOP(i, n) out[i] = __fadd_rn(lo, __fmul_rn(hi - lo, u01(rand64(seed, offset + (uint64_t)i))));
}
__global__ void rand_normal_k(float* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset, float mean, float sd) {
  RN_GRID_LOOP(i, n) {
    uint64_t h = rand64(seed, offset + (uint64_t)i);
    double u1 = ((double)(h >> 32) + 1.0) * (1.0 / 4294967297.0);
    double u2 = (double)(h & 0xffffffffULL) * (1.0 / 4294967296.0);
    out[i] = __fadd_rn(mean, __fmul_rn(sd, (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2))));
  }
}
__global__ void channel_bias_k(float* __restrict__ y, const float* __restrict__ b, int64_t n, int64_t C, int64_t HW,
                               bool cl) {
  RN_GRID_LOOP(i, n) y[i] += b[cl ? i % C : (i / HW) % C];
}

// ---- casts: every pair of dtypes, through double like cpu::cast ----
template <class T> __device__ __forceinline__ double ld_d(const T* p, int64_t i) { return (double)p[i]; }
template <> __device__ __forceinline__ double ld_d<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) {
  return (double)__bfloat162float(p[i]);
}
template <> __device__ __forceinline__ double ld_d<__half>(const __half* p, int64_t i) { return (double)__half2float(p[i]); }
template <class T> __device__ __forceinline__ void st_d(T* p, int64_t i, double v) { p[i] = (T)v; }
template <> __device__ __forceinline__ void st_d<__nv_bfloat16>(__nv_bfloat16* p, int64_t i, double v) {
  p[i] = __float2bfloat16_rn((float)v);
}
template <> __device__ __forceinline__ void st_d<__half>(__half* p, int64_t i, double v) { p[i] = __float2half_rn((float)v); }

template <class D, class S>
__global__ void cast_k(D* __restrict__ dst, const S* __restrict__ src, int64_t n) {
  RN_GRID_LOOP(i, n) st_d<D>(dst, i, ld_d<S>(src, i));
}
// float -> bfloat16/half without the double step (one rounding, what autocast wants)
template <class D>
__global__ void cast_from_f32_k(D* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  RN_GRID_LOOP(i, n) dst[i] = from_f<D>(src[i]);
}

template <class F>
void dispatch_all(DType dt, F&& f) {
  switch (dt) {
    case DType::F32: f(float{}); return;
    case DType::I32: f(int32_t{}); return;
    case DType::U8: f(uint8_t{}); return;
    case DType::I64: f((long long)0); return;
    case DType::BF16: f(__nv_bfloat16{}); return;
    case DType::F16: f(__half{}); return;
  }
  throw RnError("ERR_RN_DTYPE", cat("cast: unknown dtype code ", (int)dt), ErrKind::Type);
}

template <class E>
__global__ void fill_nd_k(E* __restrict__ dst, E v, Nd d, int64_t n) {
  RN_GRID_LOOP(i, n) {
    int64_t off[1];
    nd_offsets<1>(d, i, off);
    dst[off[0]] = v;
  }
}
template <class E>
void fill_bits(void* dst, E v, const Nd& d, int64_t n) {
  fill_nd_k<E><<<grid_for(n), kThreads, 0, stream()>>>(static_cast<E*>(dst), v, d, n);
  check_launch("fill");
}
}  // namespace

void copy_strided(void* dst, const void* src, int64_t es, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& sd, const std::vector<int64_t>& ss) {
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  Nd d = collapse(shape, {&sd, &ss});
  cudaStream_t s = stream();
  if (d.nd == 0 || (d.nd == 1 && d.st[0][0] == 1 && d.st[1][0] == 1)) {
    check(cudaMemcpyAsync(dst, src, (size_t)n * es, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync (copy)");
    return;
  }
  const unsigned g = grid_for(n);
  switch (es) {
    case 1: copy_nd_k<uint8_t><<<g, kThreads, 0, s>>>((uint8_t*)dst, (const uint8_t*)src, d, n); break;
    case 2: copy_nd_k<uint16_t><<<g, kThreads, 0, s>>>((uint16_t*)dst, (const uint16_t*)src, d, n); break;
    case 4: copy_nd_k<uint32_t><<<g, kThreads, 0, s>>>((uint32_t*)dst, (const uint32_t*)src, d, n); break;
    case 8: copy_nd_k<uint64_t><<<g, kThreads, 0, s>>>((uint64_t*)dst, (const uint64_t*)src, d, n); break;
    default: throw RnError("ERR_RN_INTERNAL", cat("copy: element size ", es, " is not supported on cuda"));
  }
  check_launch("copy");
}

void cast(void* dst, DType ddt, const void* src, DType sdt, int64_t n) {
  if (n == 0) return;
  cudaStream_t s = stream();
  const unsigned g = grid_for(n);
  if (sdt == DType::F32 && (ddt == DType::BF16 || ddt == DType::F16)) {
    if (ddt == DType::BF16) cast_from_f32_k<<<g, kThreads, 0, s>>>((__nv_bfloat16*)dst, (const float*)src, n);
    else cast_from_f32_k<<<g, kThreads, 0, s>>>((__half*)dst, (const float*)src, n);
    check_launch("cast");
    return;
  }
  dispatch_all(ddt, [&](auto d) {
    using D = decltype(d);
    dispatch_all(sdt, [&](auto sv) {
      using S = decltype(sv);
      cast_k<D, S><<<g, kThreads, 0, s>>>(static_cast<D*>(dst), static_cast<const S*>(src), n);
    });
  });
  check_launch("cast");
}

void fill(void* dst, DType dt, double v, const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  Nd d = collapse(shape, {&strides});
  switch (dt) {
    case DType::F32: { float x = (float)v; uint32_t b; std::memcpy(&b, &x, 4); fill_bits<uint32_t>(dst, b, d, n); break; }
    case DType::I32: { int32_t x = (int32_t)v; uint32_t b; std::memcpy(&b, &x, 4); fill_bits<uint32_t>(dst, b, d, n); break; }
    case DType::U8: fill_bits<uint8_t>(dst, (uint8_t)v, d, n); break;
    case DType::I64: { int64_t x = (int64_t)v; uint64_t b; std::memcpy(&b, &x, 8); fill_bits<uint64_t>(dst, b, d, n); break; }
    case DType::BF16: {
      __nv_bfloat16 x = __float2bfloat16_rn((float)v);
      uint16_t b; std::memcpy(&b, &x, 2); fill_bits<uint16_t>(dst, b, d, n); break;
    }
    case DType::F16: {
      __half x = __float2half_rn((float)v);
      uint16_t b; std::memcpy(&b, &x, 2); fill_bits<uint16_t>(dst, b, d, n); break;
    }
  }
}

void rand_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  if (n == 0) return;
  rand_uniform_k<<<grid_for(n), kThreads, 0, stream()>>>(out, n, seed, offset, lo, hi);
  check_launch("rand");
}
void rand_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float sd) {
  if (n == 0) return;
  rand_normal_k<<<grid_for(n), kThreads, 0, stream()>>>(out, n, seed, offset, mean, sd);
  check_launch("randn");
}

void unary_forward(float* out, const float* x, int64_t n, cpu::Unary op) {
  if (n == 0) return;
  unary_k<<<grid_for(n), kThreads, 0, stream()>>>(out, x, n, op);
  check_launch("unary");
}
void unary_backward(float* dx, const float* dy, const float* x, const float* y, int64_t n, cpu::Unary op) {
  if (n == 0) return;
  unary_bwd_k<<<grid_for(n), kThreads, 0, stream()>>>(dx, dy, x, y, n, op);
  check_launch("unary backward");
}
void scalar_forward(float* out, const float* x, float s, int64_t n, cpu::ScalarOp op) {
  if (n == 0) return;
  scalar_k<<<grid_for(n), kThreads, 0, stream()>>>(out, x, s, n, op);
  check_launch("scalar op");
}
void binary_forward(float* out, const float* a, const float* b, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, cpu::Binary op) {
  const int64_t n = numel_of(shape);
  if (n == 0) return;
  std::vector<int64_t> so = contiguous_strides(shape);
  Nd d = collapse(shape, {&so, &sa, &sb});
  if (d.nd == 0 || (d.nd == 1 && d.st[1][0] == 1 && d.st[2][0] == 1)) {
    binary_flat_k<<<grid_for(n), kThreads, 0, stream()>>>(out, a, b, n, op);
  } else {
    binary_nd_k<<<grid_for(n), kThreads, 0, stream()>>>(out, a, b, d, n, op);
  }
  check_launch("binary op");
}
void axpy(float* y, const float* x, float alpha, int64_t n) {
  if (n == 0) return;
  axpy_k<<<grid_for(n), kThreads, 0, stream()>>>(y, x, alpha, n);
  check_launch("add_");
}
void dropout_forward(float* out, const float* x, int64_t n, float p, uint64_t seed, uint64_t offset) {
  if (n == 0) return;
  const float scale = p < 1.f ? 1.f / (1.f - p) : 0.f;
  dropout_k<<<grid_for(n), kThreads, 0, stream()>>>(out, x, n, p, scale, seed, offset);
  check_launch("dropout");
}
void add_channel_bias(float* y, const float* b, int64_t N, int64_t C, int64_t HW, bool cl) {
  const int64_t n = N * C * HW;
  if (n == 0) return;
  channel_bias_k<<<grid_for(n), kThreads, 0, stream()>>>(y, b, n, C, HW, cl);
  check_launch("conv2d bias");
}

}  // namespace cuda
}  // namespace rn
