// GEMM through OpenBLAS (linked statically). Row-major wrapper over cblas_sgemm; the batch loop
// stays outside so OpenBLAS threads each product.
#include "kernels.h"

extern "C" {
// Declared here instead of including cblas.h: the values are fixed by the CBLAS standard.
enum { RnCblasRowMajor = 101, RnCblasNoTrans = 111, RnCblasTrans = 112 };
void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc);
}

namespace rn {
namespace cpu {

void gemm(float* C, const float* A, const float* B, int64_t batch, int64_t M, int64_t N, int64_t K, bool transA,
          bool transB, float alpha, float beta, int64_t strideA, int64_t strideB, int64_t strideC) {
  if (M == 0 || N == 0) return;
  const int lda = (int)(transA ? M : K), ldb = (int)(transB ? K : N);
  for (int64_t b = 0; b < batch; b++) {
    if (K == 0) {  // OpenBLAS leaves C untouched for K == 0; the math says C = beta * C
      float* c = C + b * strideC;
      for (int64_t i = 0; i < M * N; i++) c[i] = beta == 0.f ? 0.f : beta * c[i];
      continue;
    }
    cblas_sgemm(RnCblasRowMajor, transA ? RnCblasTrans : RnCblasNoTrans, transB ? RnCblasTrans : RnCblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A + b * strideA, lda, B + b * strideB, ldb, beta, C + b * strideC,
                (int)N);
  }
}

void gemm_ld(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool transA, bool transB,
             int64_t lda, int64_t ldb, int64_t ldc, float alpha, float beta) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(RnCblasRowMajor, transA ? RnCblasTrans : RnCblasNoTrans, transB ? RnCblasTrans : RnCblasNoTrans, (int)M,
              (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

}  // namespace cpu
}  // namespace rn
