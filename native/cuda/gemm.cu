// GEMM through cuBLAS (loaded with dlopen at the first product: cublas_api.h).
//
// Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T: cuBLAS gets B
// first, A second, m = N and n = M, and the leading dimensions of the row-major storage. One
// cublasGemmStridedBatchedEx call covers single, batched and broadcast (stride 0) products and
// the storage types float32 / bfloat16 / float16 with float32 accumulation. Float32 uses
// CUBLAS_COMPUTE_32F (exact float32 products, as the CPU) unless TF32 is allowed
// (rn.cuda.setAllowTF32(true): CUBLAS_COMPUTE_32F_FAST_TF32). The handle runs on the device
// stream with a 32 MiB workspace from the caching allocator.
#include <mutex>
#include "cuda_common.h"
#include "cublas_api.h"

namespace rn {
namespace cuda {
namespace {
struct Blas {
  blas::Handle h = nullptr;
  std::shared_ptr<Storage> workspace;
  std::mutex m;  // cuBLAS handles are not thread-safe; ops may come from worker threads too
};
Blas& handle() {
  static std::once_flag once;
  static Blas* b = new Blas();
  std::call_once(once, [] {
    const blas::Api& api = blas::api();
    blas::Handle h = nullptr;
    blas::Status st = api.cublasCreate_v2(&h);
    if (st != blas::STATUS_SUCCESS)
      throw RnError("ERR_RN_INTERNAL", cat("cuda: cublasCreate failed: ", blas::status_name(st)));
    st = api.cublasSetStream_v2(h, reinterpret_cast<blas::Stream>(stream()));
    if (st != blas::STATUS_SUCCESS)
      throw RnError("ERR_RN_INTERNAL", cat("cuda: cublasSetStream failed: ", blas::status_name(st)));
    const size_t ws = size_t(32) << 20;
    b->workspace = alloc_storage(ws, Device::CUDA);
    st = api.cublasSetWorkspace_v2(h, b->workspace->data, ws);
    if (st != blas::STATUS_SUCCESS)
      throw RnError("ERR_RN_INTERNAL", cat("cuda: cublasSetWorkspace failed: ", blas::status_name(st)));
    b->h = h;
  });
  return *b;
}
blas::DataType dtype_of(DType dt) {
  switch (dt) {
    case DType::F32: return blas::R_32F;
    case DType::BF16: return blas::R_16BF;
    case DType::F16: return blas::R_16F;
    default: throw RnError("ERR_RN_DTYPE", cat("matmul: ", dtype_name(dt), " is not supported on cuda"), ErrKind::Type);
  }
}
}  // namespace

void gemm(void* C, const void* A, const void* B, DType dt, int64_t batch, int64_t M, int64_t N, int64_t K, bool tA,
          bool tB, float alpha, float beta, int64_t sA, int64_t sB, int64_t sC) {
  if (M == 0 || N == 0 || batch == 0) return;
  const size_t es = dtype_size(dt);
  if (K == 0) {  // C = beta * C; beta is 0 in every caller
    if (beta != 0.f) throw RnError("ERR_RN_INTERNAL", "matmul: K == 0 with beta != 0 is not supported on cuda");
    for (int64_t b = 0; b < batch; b++)
      check(cudaMemsetAsync(static_cast<char*>(C) + b * sC * es, 0, (size_t)(M * N) * es, stream()), "cudaMemsetAsync");
    return;
  }
  const int64_t lim = 2147483647;
  if (M > lim || N > lim || K > lim || batch > lim)
    throw RnError("ERR_RN_RANGE", cat("matmul: sizes [", batch, ", ", M, ", ", N, ", ", K, "] exceed cuBLAS's 32-bit limits"),
                  ErrKind::Range);
  const blas::DataType t = dtype_of(dt);
  const int64_t lda = tA ? M : K, ldb = tB ? K : N;
  const blas::ComputeType ct = dt == DType::F32 && allow_tf32() ? blas::COMPUTE_32F_FAST_TF32 : blas::COMPUTE_32F;
  Blas& b = handle();
  const blas::Api& api = blas::api();
  std::lock_guard<std::mutex> l(b.m);
  blas::Status st = api.cublasGemmStridedBatchedEx(
      b.h, tB ? blas::OP_T : blas::OP_N, tA ? blas::OP_T : blas::OP_N, (int)N, (int)M, (int)K, &alpha, B, t, (int)ldb,
      (long long)sB, A, t, (int)lda, (long long)sA, &beta, C, t, (int)N, (long long)sC, (int)batch, ct, blas::GEMM_DEFAULT);
  if (st != blas::STATUS_SUCCESS)
    throw RnError("ERR_RN_INTERNAL", cat("matmul: cublasGemmStridedBatchedEx failed: ", blas::status_name(st), " (M=", M,
                                         " N=", N, " K=", K, " batch=", batch, ")"));
}

}  // namespace cuda
}  // namespace rn
