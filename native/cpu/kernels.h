// CPU kernels: plain functions on raw pointers, outputs first, then const inputs, then sizes
// (llm.c's convention). Shapes are checked by the dispatchers in native/ops/ before these run.
#pragma once
#include <cstdint>
#include <vector>

namespace rn {
namespace cpu {

// ---- elementwise (elementwise.cc) ----
enum class Unary : int32_t { Relu = 0, Sigmoid, Tanh, Gelu, GeluTanh, Exp, Log, Neg, Sqrt, Abs, Square, Rsqrt, Reciprocal };
enum class Binary : int32_t { Add = 0, Sub, Mul, Div, Max, Min, Eq, Gt, Lt, Pow };
// Scalar ops: out = x OP s (Rsub: s - x, Rdiv: s / x)
enum class ScalarOp : int32_t { Add = 0, Mul, Pow, Rsub, Rdiv, Max, Min, Eq, Gt, Lt };

void unary_forward(float* out, const float* x, int64_t n, Unary op);
// Backward of unary ops; `x` is the forward input, `y` the forward output (each rule uses the
// cheaper one; relu/sigmoid/tanh/exp/sqrt use y).
void unary_backward(float* dx, const float* dy, const float* x, const float* y, int64_t n, Unary op);
void scalar_forward(float* out, const float* x, float s, int64_t n, ScalarOp op);
// out[i] = a[ia] OP b[ib] over an N-d broadcast (strides 0 on broadcast dims), out contiguous.
void binary_forward(float* out, const float* a, const float* b, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, Binary op);
// y += alpha * x (contiguous, same size)
void axpy(float* y, const float* x, float alpha, int64_t n);
void fill_f32(float* out, float v, int64_t n);
// Strided N-d copy between any two views of the same element size (also broadcasts: stride 0).
void copy_strided(void* dst, const void* src, int64_t esize, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& sdst, const std::vector<int64_t>& ssrc);
// Dtype conversion of contiguous data; codes follow rn::DType.
void cast(void* dst, int32_t dst_dt, const void* src, int32_t src_dt, int64_t n);
// Counter-based random numbers: value i depends only on (seed, offset + i) — reproducible for any
// thread count, and a generator's state is just (seed, offset).
void rand_uniform(float* out, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi);
void rand_normal(float* out, int64_t n, uint64_t seed, uint64_t offset, float mean, float std);
// Dropout: keep with probability 1-p, scale kept values by 1/(1-p); the mask is recomputed from
// (seed, offset) in backward, so nothing of input size is saved.
void dropout_forward(float* out, const float* x, int64_t n, float p, uint64_t seed, uint64_t offset);
void dropout_backward(float* dx, const float* dy, int64_t n, float p, uint64_t seed, uint64_t offset);

// ---- reductions (reduce.cc) ----
// x viewed as [outer, r, inner]: out[o, i] = sum_r x[o, r, i] (or mean, max, argmax)
void sum_dim(float* out, const float* x, int64_t outer, int64_t r, int64_t inner, float scale);
void max_dim(float* out, int32_t* idx, const float* x, int64_t outer, int64_t r, int64_t inner);

// ---- GEMM (gemm.cc): C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], row-major ----
void gemm(float* C, const float* A, const float* B, int64_t batch, int64_t M, int64_t N, int64_t K,
          bool transA, bool transB, float alpha, float beta, int64_t strideA, int64_t strideB, int64_t strideC);
// Single product with explicit leading dimensions (sub-blocks of larger row-major matrices).
void gemm_ld(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA, bool transB,
             int64_t lda, int64_t ldb, int64_t ldc, float alpha, float beta);

// ---- conv2d (conv2d.cc) ----
struct ConvParams {
  int64_t N, C, H, W;      // input
  int64_t K, R, S;         // output channels, kernel height, width
  int64_t P, Q;            // output height, width
  int64_t sh, sw, ph, pw, dh, dw, groups;
  bool channels_last;      // x and y in NHWC memory
};
// Which convolution algorithms run (RESNODE_CONV=reference|direct|winograd, or the binding's
// convMode for tests): Auto picks per shape; Winograd forces it wherever it applies; Direct never
// uses it; Reference is im2col + BLAS only.
enum class ConvMode { Auto = 0, Winograd = 1, Direct = 2, Reference = 3 };
ConvMode conv_mode();
void set_conv_mode(ConvMode m);
// Channels-last outputs of at least this many bytes (default: one core's L2 here) are written
// with non-temporal stores where the kernel can (whole 16-channel blocks, not accumulated): they leave
// the cache before the next op reads them anyway, and streaming skips the read-for-ownership of
// every output line. Caches flushed, 16ch 32x32 N128 forward 1.66 -> 1.38 ms; ResNet-56 training
// step 322 -> 305 ms. < 0 restores the default.
constexpr int64_t kConvNtBytesDefault = int64_t(2) << 20;
int64_t conv2d_nt_bytes();
void set_conv2d_nt_bytes(int64_t bytes);
void conv2d_forward(float* y, const float* x, const float* w, const float* bias, const ConvParams& p);
// accumulate: dx += dconv (a gradient already there, e.g. from a residual shortcut) instead of dx =
void conv2d_backward_data(float* dx, const float* dy, const float* w, const ConvParams& p, bool accumulate = false);
// whether accumulate runs in the kernel (else conv2d_backward_data computes aside and adds)
bool conv2d_backward_data_accumulates(const ConvParams& p);
void conv2d_backward_weight(float* dw, const float* dy, const float* x, const ConvParams& p);

// ---- batch norm (batchnorm.cc), x as [N, C, HW] or channels-last [N, HW, C] ----
void batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, int64_t N, int64_t C,
                             int64_t HW, bool cl, float momentum, float eps);
void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* mean,
                            const float* var, int64_t N, int64_t C, int64_t HW, bool cl, float eps);
// training-mode backward (batch statistics); dx may be null when not needed
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_invstd, int64_t N, int64_t C, int64_t HW, bool cl);
// eval-mode backward: dx = dy * gamma * invstd(running var)
void batchnorm_backward_eval(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                             const float* gamma, const float* mean, const float* var, int64_t N, int64_t C,
                             int64_t HW, bool cl, float eps);

// ---- pooling (pool.cc), NCHW ----
struct PoolParams { int64_t N, C, H, W, P, Q, kh, kw, sh, sw, ph, pw; bool count_include_pad; };
void maxpool2d_forward(float* y, int32_t* idx, const float* x, const PoolParams& p);
void maxpool2d_backward(float* dx, const float* dy, const int32_t* idx, const PoolParams& p);
// channels-last [N, H, W, C] memory (y and idx [N, P, Q, C]); idx is the same plane index h*W + w
void maxpool2d_forward_cl(float* y, int32_t* idx, const float* x, const PoolParams& p);
void maxpool2d_backward_cl(float* dx, const float* dy, const int32_t* idx, const PoolParams& p);
void avgpool2d_forward(float* y, const float* x, const PoolParams& p);
void avgpool2d_backward(float* dx, const float* dy, const PoolParams& p);
void adaptive_avgpool2d_forward(float* y, const float* x, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q);
void adaptive_avgpool2d_backward(float* dx, const float* dy, int64_t NC, int64_t H, int64_t W, int64_t P, int64_t Q);

// ---- softmax family (softmax.cc), x as [outer, C, inner] over dim C ----
void softmax_forward(float* y, const float* x, int64_t outer, int64_t C, int64_t inner, bool log);
void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t C, int64_t inner, bool log);
// Cross entropy over logits [N, C] (class dim 1, spatial dims flattened into `inner`).
// Writes the per-sample losses and the log-softmax (saved for backward); returns the count of
// non-ignored targets through *count. Throws on a target out of range.
void cross_entropy_forward(float* losses, float* logp, int64_t* count, const float* x, const int32_t* target,
                           int64_t N, int64_t C, int64_t inner, float smoothing, int32_t ignore_index);
void cross_entropy_backward(float* dx, const float* dloss, bool per_sample, float scale, const float* logp,
                            const int32_t* target, int64_t N, int64_t C, int64_t inner, float smoothing,
                            int32_t ignore_index);

// ---- layer norm (layernorm.cc), x as [rows, D] ----
void layernorm_forward(float* y, float* save_mean, float* save_rstd, const float* x, const float* gamma,
                       const float* beta, int64_t rows, int64_t D, float eps);
void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                        const float* save_mean, const float* save_rstd, int64_t rows, int64_t D);

}  // namespace cpu
}  // namespace rn
