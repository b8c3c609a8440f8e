// ABI check: compiles the project's own cuDNN / cuBLAS declarations (cudnn_api.h, cublas_api.h)
// against NVIDIA's real headers and static_asserts that they agree: every enum value, every
// struct layout, and the exact type of every function resnode resolves with dlsym. Built only
// where the headers are found (CMake: RESNODE_CUDNN_INCLUDE / RESNODE_CUBLAS_INCLUDE, e.g. the
// Python wheels' nvidia/cudnn/include and nvidia/cu13/include); compiling is the check, nothing
// runs. A wrong declaration is a compile error naming it.
#include <cstddef>
#include <type_traits>

#include <cudnn.h>
#if __has_include(<cublas_v2.h>)
#include <cublas_v2.h>
#else
#define CUBLASAPI
#include <cublas_api.h>
#endif
#include <library_types.h>

#include "cudnn_api.h"
#include "cublas_api.h"

namespace {

// Map a type written with the project's declarations to the type NVIDIA's headers use.
template <class T> struct Real { using type = T; };
template <class T> using real_t = typename Real<T>::type;
template <class T> struct Real<T*> { using type = real_t<T>*; };
template <class T> struct Real<const T> { using type = const real_t<T>; };
template <class R, class... A> struct Real<R (*)(A...)> { using type = real_t<R> (*)(real_t<A>...); };

#define RN_MAP(mine, theirs)                                                   \
  template <> struct Real<mine> { using type = theirs; };                     \
  static_assert(sizeof(mine) == sizeof(theirs), "size of " #mine " differs from " #theirs);

// ---- cuDNN ----
RN_MAP(rn::dnn::Status, cudnnStatus_t)
RN_MAP(rn::dnn::DataType, cudnnDataType_t)
RN_MAP(rn::dnn::TensorFormat, cudnnTensorFormat_t)
RN_MAP(rn::dnn::ConvMode, cudnnConvolutionMode_t)
RN_MAP(rn::dnn::MathType, cudnnMathType_t)
RN_MAP(rn::dnn::Determinism, cudnnDeterminism_t)
RN_MAP(rn::dnn::FwdAlgo, cudnnConvolutionFwdAlgo_t)
RN_MAP(rn::dnn::BwdDataAlgo, cudnnConvolutionBwdDataAlgo_t)
RN_MAP(rn::dnn::BwdFilterAlgo, cudnnConvolutionBwdFilterAlgo_t)
RN_MAP(rn::dnn::FwdAlgoPerf, cudnnConvolutionFwdAlgoPerf_t)
RN_MAP(rn::dnn::BwdDataAlgoPerf, cudnnConvolutionBwdDataAlgoPerf_t)
RN_MAP(rn::dnn::BwdFilterAlgoPerf, cudnnConvolutionBwdFilterAlgoPerf_t)

static_assert(std::is_same<rn::dnn::Handle, cudnnHandle_t>::value, "cudnnHandle_t");
static_assert(std::is_same<rn::dnn::TensorDesc, cudnnTensorDescriptor_t>::value, "cudnnTensorDescriptor_t");
static_assert(std::is_same<rn::dnn::FilterDesc, cudnnFilterDescriptor_t>::value, "cudnnFilterDescriptor_t");
static_assert(std::is_same<rn::dnn::ConvDesc, cudnnConvolutionDescriptor_t>::value, "cudnnConvolutionDescriptor_t");
static_assert(std::is_same<rn::dnn::Stream, cudaStream_t>::value, "cudaStream_t");

#define RN_EQ(mine, theirs) static_assert((long long)(mine) == (long long)(theirs), #mine " != " #theirs);
RN_EQ(rn::dnn::STATUS_SUCCESS, CUDNN_STATUS_SUCCESS)
RN_EQ(rn::dnn::STATUS_NOT_INITIALIZED, CUDNN_STATUS_NOT_INITIALIZED)
RN_EQ(rn::dnn::STATUS_SUBLIBRARY_VERSION_MISMATCH, CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
RN_EQ(rn::dnn::STATUS_SUBLIBRARY_LOADING_FAILED, CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
RN_EQ(rn::dnn::STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM)
RN_EQ(rn::dnn::STATUS_NOT_SUPPORTED, CUDNN_STATUS_NOT_SUPPORTED)
RN_EQ(rn::dnn::STATUS_INTERNAL_ERROR, CUDNN_STATUS_INTERNAL_ERROR)
RN_EQ(rn::dnn::STATUS_EXECUTION_FAILED, CUDNN_STATUS_EXECUTION_FAILED)
RN_EQ(rn::dnn::DATA_FLOAT, CUDNN_DATA_FLOAT)
RN_EQ(rn::dnn::DATA_DOUBLE, CUDNN_DATA_DOUBLE)
RN_EQ(rn::dnn::DATA_HALF, CUDNN_DATA_HALF)
RN_EQ(rn::dnn::DATA_BFLOAT16, CUDNN_DATA_BFLOAT16)
RN_EQ(rn::dnn::TENSOR_NCHW, CUDNN_TENSOR_NCHW)
RN_EQ(rn::dnn::TENSOR_NHWC, CUDNN_TENSOR_NHWC)
RN_EQ(rn::dnn::CONVOLUTION, CUDNN_CONVOLUTION)
RN_EQ(rn::dnn::CROSS_CORRELATION, CUDNN_CROSS_CORRELATION)
RN_EQ(rn::dnn::DEFAULT_MATH, CUDNN_DEFAULT_MATH)
RN_EQ(rn::dnn::TENSOR_OP_MATH, CUDNN_TENSOR_OP_MATH)
RN_EQ(rn::dnn::TENSOR_OP_MATH_ALLOW_CONVERSION, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
RN_EQ(rn::dnn::FMA_MATH, CUDNN_FMA_MATH)
RN_EQ(rn::dnn::NON_DETERMINISTIC, CUDNN_NON_DETERMINISTIC)
RN_EQ(rn::dnn::DETERMINISTIC, CUDNN_DETERMINISTIC)
RN_EQ(rn::dnn::FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM)
RN_EQ(rn::dnn::FWD_ALGO_COUNT, CUDNN_CONVOLUTION_FWD_ALGO_COUNT)
RN_EQ(rn::dnn::BWD_DATA_ALGO_0, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0)
RN_EQ(rn::dnn::BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1)
RN_EQ(rn::dnn::BWD_DATA_ALGO_COUNT, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT)
RN_EQ(rn::dnn::BWD_FILTER_ALGO_0, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0)
RN_EQ(rn::dnn::BWD_FILTER_ALGO_1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1)
RN_EQ(rn::dnn::BWD_FILTER_ALGO_COUNT, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT)

// struct layouts, field by field
#define RN_FIELD(mine, theirs, f)                                                                 \
  static_assert(offsetof(mine, f) == offsetof(theirs, f), "offset of " #mine "::" #f);             \
  static_assert(sizeof(((mine*)nullptr)->f) == sizeof(((theirs*)nullptr)->f), "size of " #mine "::" #f);
#define RN_PERF(mine, theirs)                                                                     \
  static_assert(alignof(mine) == alignof(theirs), "alignment of " #mine);                       \
  RN_FIELD(mine, theirs, algo) RN_FIELD(mine, theirs, status) RN_FIELD(mine, theirs, time)        \
  RN_FIELD(mine, theirs, memory) RN_FIELD(mine, theirs, determinism) RN_FIELD(mine, theirs, mathType) \
  RN_FIELD(mine, theirs, reserved)
RN_PERF(rn::dnn::FwdAlgoPerf, cudnnConvolutionFwdAlgoPerf_t)
RN_PERF(rn::dnn::BwdDataAlgoPerf, cudnnConvolutionBwdDataAlgoPerf_t)
RN_PERF(rn::dnn::BwdFilterAlgoPerf, cudnnConvolutionBwdFilterAlgoPerf_t)

// every function: the real one must convert to our pointer type with the real types substituted
// (an exact match: function pointers do not convert between signatures; it also picks the C
// function where a header adds C++ overloads)
#define RN_DNN_FN(name, ret, args) \
  [[maybe_unused]] constexpr real_t<rn::dnn::name##_t> check_##name = &::name;
RN_CUDNN_FUNCS(RN_DNN_FN)
RN_CUDNN_OPTIONAL_FUNCS(RN_DNN_FN)

// ---- cuBLAS ----
RN_MAP(rn::blas::Status, cublasStatus_t)
RN_MAP(rn::blas::Operation, cublasOperation_t)
RN_MAP(rn::blas::Math, cublasMath_t)
RN_MAP(rn::blas::ComputeType, cublasComputeType_t)
RN_MAP(rn::blas::GemmAlgo, cublasGemmAlgo_t)
RN_MAP(rn::blas::DataType, cudaDataType)
static_assert(std::is_same<rn::blas::Handle, cublasHandle_t>::value, "cublasHandle_t");
static_assert(std::is_same<rn::blas::Stream, cudaStream_t>::value, "cudaStream_t");

RN_EQ(rn::blas::STATUS_SUCCESS, CUBLAS_STATUS_SUCCESS)
RN_EQ(rn::blas::STATUS_NOT_INITIALIZED, CUBLAS_STATUS_NOT_INITIALIZED)
RN_EQ(rn::blas::STATUS_ALLOC_FAILED, CUBLAS_STATUS_ALLOC_FAILED)
RN_EQ(rn::blas::STATUS_INVALID_VALUE, CUBLAS_STATUS_INVALID_VALUE)
RN_EQ(rn::blas::STATUS_ARCH_MISMATCH, CUBLAS_STATUS_ARCH_MISMATCH)
RN_EQ(rn::blas::STATUS_MAPPING_ERROR, CUBLAS_STATUS_MAPPING_ERROR)
RN_EQ(rn::blas::STATUS_EXECUTION_FAILED, CUBLAS_STATUS_EXECUTION_FAILED)
RN_EQ(rn::blas::STATUS_INTERNAL_ERROR, CUBLAS_STATUS_INTERNAL_ERROR)
RN_EQ(rn::blas::STATUS_NOT_SUPPORTED, CUBLAS_STATUS_NOT_SUPPORTED)
RN_EQ(rn::blas::STATUS_LICENSE_ERROR, CUBLAS_STATUS_LICENSE_ERROR)
RN_EQ(rn::blas::OP_N, CUBLAS_OP_N)
RN_EQ(rn::blas::OP_T, CUBLAS_OP_T)
RN_EQ(rn::blas::DEFAULT_MATH, CUBLAS_DEFAULT_MATH)
RN_EQ(rn::blas::PEDANTIC_MATH, CUBLAS_PEDANTIC_MATH)
RN_EQ(rn::blas::TF32_TENSOR_OP_MATH, CUBLAS_TF32_TENSOR_OP_MATH)
RN_EQ(rn::blas::COMPUTE_32F, CUBLAS_COMPUTE_32F)
RN_EQ(rn::blas::COMPUTE_32F_PEDANTIC, CUBLAS_COMPUTE_32F_PEDANTIC)
RN_EQ(rn::blas::COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_TF32)
RN_EQ(rn::blas::GEMM_DEFAULT, CUBLAS_GEMM_DEFAULT)
RN_EQ(rn::blas::R_32F, CUDA_R_32F)
RN_EQ(rn::blas::R_16F, CUDA_R_16F)
RN_EQ(rn::blas::R_16BF, CUDA_R_16BF)

#define RN_BLAS_FN(name, ret, args) \
  [[maybe_unused]] constexpr real_t<rn::blas::name##_t> check_##name = &::name;
RN_CUBLAS_FUNCS(RN_BLAS_FN)
RN_CUBLAS_OPTIONAL_FUNCS(RN_BLAS_FN)

}  // namespace

// Something for the object file to hold, so the build step that compiles this is never empty.
extern "C" int resnode_abi_check_passed() { return CUDNN_MAJOR * 100 + CUBLAS_VER_MAJOR; }
