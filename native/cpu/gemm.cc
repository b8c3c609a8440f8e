// GEMM through OpenBLAS (linked statically, single-threaded). Products are split into blocks of
// rows (or columns when there are few rows) run on our thread pool, one cblas_sgemm per block.
#include <algorithm>
#include "kernels.h"
#include "../core/parallel.h"

extern "C" {
// Declared here instead of including cblas.h: the values are fixed by the CBLAS standard.
enum { RnCblasRowMajor = 101, RnCblasNoTrans = 111, RnCblasTrans = 112 };
void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc);
}

namespace rn {
namespace cpu {

namespace {
// One single-threaded product on a sub-block.
void sgemm1(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool tA, bool tB, int64_t lda,
            int64_t ldb, int64_t ldc, float alpha, float beta) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // OpenBLAS leaves C untouched for K == 0; the math says C = beta * C
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(RnCblasRowMajor, tA ? RnCblasTrans : RnCblasNoTrans, tB ? RnCblasTrans : RnCblasNoTrans, (int)M, (int)N,
              (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
}  // namespace

void gemm_ld(float* C, const float* A, const float* B, int64_t M, int64_t N, int64_t K, bool tA, bool tB, int64_t lda,
             int64_t ldb, int64_t ldc, float alpha, float beta) {
  if (M == 0 || N == 0) return;
  const int nt = num_threads();
  const double flops = 2.0 * M * N * K;
  if (nt <= 1 || flops < 2e6) {
    sgemm1(C, A, B, M, N, K, tA, tB, lda, ldb, ldc, alpha, beta);
    return;
  }
  // split rows of C (A's rows) when there are enough, else columns (B's columns)
  if (M >= N || M >= 64 * nt) {
    const int64_t blk = std::max<int64_t>(16, (M + nt - 1) / nt);
    parallel_for((M + blk - 1) / blk, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++) {
        int64_t r0 = b * blk, r1 = std::min(M, r0 + blk);
        const float* a = tA ? A + r0 : A + r0 * lda;
        sgemm1(C + r0 * ldc, a, B, r1 - r0, N, K, tA, tB, lda, ldb, ldc, alpha, beta);
      }
    });
  } else {
    const int64_t blk = std::max<int64_t>(16, ((N + nt - 1) / nt + 15) / 16 * 16);
    parallel_for((N + blk - 1) / blk, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++) {
        int64_t c0 = b * blk, c1 = std::min(N, c0 + blk);
        const float* bb = tB ? B + c0 * ldb : B + c0;
        sgemm1(C + c0, A, bb, M, c1 - c0, K, tA, tB, lda, ldb, ldc, alpha, beta);
      }
    });
  }
}

void gemm(float* C, const float* A, const float* B, int64_t batch, int64_t M, int64_t N, int64_t K, bool transA,
          bool transB, float alpha, float beta, int64_t strideA, int64_t strideB, int64_t strideC) {
  if (M == 0 || N == 0) return;
  const int64_t lda = transA ? M : K, ldb = transB ? K : N;
  // many small products: one per thread; few large ones: split each
  if (batch >= 2 * num_threads() && 2.0 * M * N * K < 4e7) {
    parallel_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++)
        sgemm1(C + b * strideC, A + b * strideA, B + b * strideB, M, N, K, transA, transB, lda, ldb, N, alpha, beta);
    });
    return;
  }
  for (int64_t b = 0; b < batch; b++)
    gemm_ld(C + b * strideC, A + b * strideA, B + b * strideB, M, N, K, transA, transB, lda, ldb, N, alpha, beta);
}

}  // namespace cpu
}  // namespace rn
