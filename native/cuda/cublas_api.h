// cuBLAS (12 or 13), as resnode uses it: the project's own declarations of the few C API
// functions and enum values behind matmul / linear, from NVIDIA's cuBLAS documentation
// (cublas_api.h, library_types.h), and a loader that dlopen()s libcublas.so.13 or .12 the first
// time a GEMM runs. native/cuda/abi_check.cc checks these against the real headers.
#pragma once
#include <cstddef>
#include <cstdint>

struct cublasContext;
struct CUstream_st;

namespace rn {
namespace blas {

using Handle = cublasContext*;  // cublasHandle_t
using Stream = CUstream_st*;    // cudaStream_t

// cublasStatus_t
enum Status : int {
  STATUS_SUCCESS = 0,
  STATUS_NOT_INITIALIZED = 1,
  STATUS_ALLOC_FAILED = 3,
  STATUS_INVALID_VALUE = 7,
  STATUS_ARCH_MISMATCH = 8,
  STATUS_MAPPING_ERROR = 11,
  STATUS_EXECUTION_FAILED = 13,
  STATUS_INTERNAL_ERROR = 14,
  STATUS_NOT_SUPPORTED = 15,
  STATUS_LICENSE_ERROR = 16,
};
// cublasOperation_t
enum Operation : int { OP_N = 0, OP_T = 1 };
// cublasMath_t
enum Math : int { DEFAULT_MATH = 0, PEDANTIC_MATH = 2, TF32_TENSOR_OP_MATH = 3 };
// cublasComputeType_t
enum ComputeType : int { COMPUTE_32F = 68, COMPUTE_32F_PEDANTIC = 69, COMPUTE_32F_FAST_TF32 = 77 };
// cublasGemmAlgo_t
enum GemmAlgo : int { GEMM_DEFAULT = -1 };
// cudaDataType (library_types.h)
enum DataType : int { R_32F = 0, R_16F = 2, R_16BF = 14 };

#define RN_CUBLAS_FUNCS(X)                                                                                \
  X(cublasCreate_v2, Status, (Handle * handle))                                                           \
  X(cublasDestroy_v2, Status, (Handle handle))                                                            \
  X(cublasGetVersion_v2, Status, (Handle handle, int* version))                                           \
  X(cublasSetStream_v2, Status, (Handle handle, Stream stream))                                           \
  X(cublasSetWorkspace_v2, Status, (Handle handle, void* workspace, size_t bytes))                        \
  X(cublasSetMathMode, Status, (Handle handle, Math mode))                                                \
  X(cublasGemmStridedBatchedEx, Status,                                                                   \
    (Handle handle, Operation transa, Operation transb, int m, int n, int k, const void* alpha, const void* A, \
     DataType Atype, int lda, long long strideA, const void* B, DataType Btype, int ldb, long long strideB,  \
     const void* beta, void* C, DataType Ctype, int ldc, long long strideC, int batchCount,                 \
     ComputeType computeType, GemmAlgo algo))

#define RN_CUBLAS_OPTIONAL_FUNCS(X) X(cublasGetStatusString, const char*, (Status status))

#define RN_BLAS_PFN(name, ret, args) using name##_t = ret(*) args;
RN_CUBLAS_FUNCS(RN_BLAS_PFN)
RN_CUBLAS_OPTIONAL_FUNCS(RN_BLAS_PFN)
#undef RN_BLAS_PFN

struct Api {
#define RN_BLAS_FIELD(name, ret, args) name##_t name = nullptr;
  RN_CUBLAS_FUNCS(RN_BLAS_FIELD)
  RN_CUBLAS_OPTIONAL_FUNCS(RN_BLAS_FIELD)
#undef RN_BLAS_FIELD
};

// The loaded API (libcublas.so.13, else .12); throws ERR_RN_NO_CUDA naming every path tried.
const Api& api();
const char* status_name(Status s);

}  // namespace blas
}  // namespace rn
