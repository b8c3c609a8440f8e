#include "ops.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {

Tensor matmul(const Tensor& a0, const Tensor& b0, bool ta, bool tb) {
  // float32, or bfloat16 / float16 storage on CUDA (cuBLAS, f32 accumulation); y has a's dtype
  const DType dt = check_float_storage(a0, "matmul", "input");
  check_float_storage(b0, "matmul", "other");
  check_device(a0, b0, "matmul", "input", "other");
  check_same_dtype(a0, b0, "matmul", "input", "other");
  if (a0.dim() < 2 || b0.dim() < 2 || a0.dim() > 3 || b0.dim() > 3)
    throw_shape(cat("matmul: expected 2-D or 3-D operands but received ", shape_str(a0.shape), " and ", shape_str(b0.shape)));
  Tensor a = contiguous(a0), b = contiguous(b0);
  int64_t ar = a.shape[a.dim() - 2], ac = a.shape[a.dim() - 1];
  int64_t br = b.shape[b.dim() - 2], bc = b.shape[b.dim() - 1];
  int64_t M = ta ? ac : ar, K = ta ? ar : ac, Kb = tb ? bc : br, N = tb ? br : bc;
  if (K != Kb)
    throw_shape(cat("matmul: input ", shape_str(a0.shape), (ta ? " (transposed)" : ""), " and other ", shape_str(b0.shape),
                    (tb ? " (transposed)" : ""), " have inner sizes ", K, " and ", Kb));
  int64_t ba = a.dim() == 3 ? a.shape[0] : 1, bb = b.dim() == 3 ? b.shape[0] : 1;
  if (ba != bb && ba != 1 && bb != 1)
    throw_shape(cat("matmul: batch sizes ", ba, " and ", bb, " of ", shape_str(a0.shape), " and ", shape_str(b0.shape), " differ"));
  int64_t B = std::max(ba, bb);
  // [B, M, K] x [K, N] with an untransposed a folds into one [B*M, K] x [K, N] product.
  bool fold = b.dim() == 2 && !ta && a.dim() == 3;
  Shape os = (a.dim() == 3 || b.dim() == 3) ? Shape{B, M, N} : Shape{M, N};
  Tensor y = rn::empty(os, dt, a.device());
  int64_t sA = ba == 1 ? 0 : M * K, sB = bb == 1 ? 0 : K * N;
  if (a.device() == Device::CUDA) {  // cuBLAS (one strided-batched call)
    if (fold) cuda::gemm(y.raw(), a.raw(), b.raw(), dt, 1, B * M, N, K, false, tb, 1.f, 0.f, 0, 0, 0);
    else cuda::gemm(y.raw(), a.raw(), b.raw(), dt, B, M, N, K, ta, tb, 1.f, 0.f, sA, sB, M * N);
    return y;
  }
  enqueue(a.device(), [=] {
    if (fold) cpu::gemm(y.f32(), a.f32(), b.f32(), 1, B * M, N, K, false, tb, 1.f, 0.f, 0, 0, 0);
    else cpu::gemm(y.f32(), a.f32(), b.f32(), B, M, N, K, ta, tb, 1.f, 0.f, sA, sB, M * N);
  });
  return y;
}

}  // namespace ops
}  // namespace rn
