// cuDNN 9, as resnode uses it: the project's own declarations of the C API functions and enum
// values it calls, written from NVIDIA's documentation (cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h
// of cuDNN 9), and a loader that dlopen()s libcudnn.so.9 the first time a convolution runs. No
// cuDNN header or library is needed to build; native/cuda/abi_check.cc compiles these
// declarations against the real headers where they exist and static_asserts that every enum value
// and function type agrees.
//
// The legacy convolution API (cudnnConvolutionForward & co., "deprecated" in cuDNN 9 but shipped
// in libcudnn_cnn.so.9 and exported by the libcudnn.so.9 shim) is used: descriptor-based, with
// cudnnFind*AlgorithmEx for the algorithm search.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

// Opaque types, declared with the tags NVIDIA's headers use so both can be included together.
struct cudnnContext;
struct cudnnTensorStruct;
struct cudnnFilterStruct;
struct cudnnConvolutionStruct;
struct CUstream_st;

namespace rn {
namespace dnn {

using Handle = cudnnContext*;                // cudnnHandle_t
using TensorDesc = cudnnTensorStruct*;       // cudnnTensorDescriptor_t
using FilterDesc = cudnnFilterStruct*;       // cudnnFilterDescriptor_t
using ConvDesc = cudnnConvolutionStruct*;    // cudnnConvolutionDescriptor_t
using Stream = CUstream_st*;                 // cudaStream_t

// cudnnStatus_t (cuDNN 9 numbering: categories of 1000)
enum Status : int {
  STATUS_SUCCESS = 0,
  STATUS_NOT_INITIALIZED = 1001,
  STATUS_SUBLIBRARY_VERSION_MISMATCH = 1002,
  STATUS_SUBLIBRARY_LOADING_FAILED = 1008,
  STATUS_BAD_PARAM = 2000,
  STATUS_NOT_SUPPORTED = 3000,
  STATUS_INTERNAL_ERROR = 4000,
  STATUS_EXECUTION_FAILED = 5000,
};
// cudnnDataType_t
enum DataType : int { DATA_FLOAT = 0, DATA_DOUBLE = 1, DATA_HALF = 2, DATA_BFLOAT16 = 9 };
// cudnnTensorFormat_t
enum TensorFormat : int { TENSOR_NCHW = 0, TENSOR_NHWC = 1 };
// cudnnConvolutionMode_t
enum ConvMode : int { CONVOLUTION = 0, CROSS_CORRELATION = 1 };
// cudnnMathType_t
enum MathType : int { DEFAULT_MATH = 0, TENSOR_OP_MATH = 1, TENSOR_OP_MATH_ALLOW_CONVERSION = 2, FMA_MATH = 3 };
// cudnnDeterminism_t
enum Determinism : int { NON_DETERMINISTIC = 0, DETERMINISTIC = 1 };
// cudnnConvolutionFwdAlgo_t / BwdDataAlgo_t / BwdFilterAlgo_t (only the counts are used by name)
enum FwdAlgo : int { FWD_ALGO_IMPLICIT_GEMM = 0, FWD_ALGO_COUNT = 8 };
enum BwdDataAlgo : int { BWD_DATA_ALGO_0 = 0, BWD_DATA_ALGO_1 = 1, BWD_DATA_ALGO_COUNT = 6 };
enum BwdFilterAlgo : int { BWD_FILTER_ALGO_0 = 0, BWD_FILTER_ALGO_1 = 1, BWD_FILTER_ALGO_COUNT = 7 };

// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t
template <class Algo>
struct AlgoPerf {
  Algo algo;
  Status status;
  float time;
  size_t memory;
  Determinism determinism;
  MathType mathType;
  int reserved[3];
};
using FwdAlgoPerf = AlgoPerf<FwdAlgo>;
using BwdDataAlgoPerf = AlgoPerf<BwdDataAlgo>;
using BwdFilterAlgoPerf = AlgoPerf<BwdFilterAlgo>;

// X(name, return type, parameter list): every function resnode calls. `optional` ones may be
// missing from the library (older 9.x); the rest must resolve or loading fails.
#define RN_CUDNN_FUNCS(X)                                                                                           \
  X(cudnnGetVersion, size_t, (void))                                                                                \
  X(cudnnGetErrorString, const char*, (Status status))                                                              \
  X(cudnnCreate, Status, (Handle * handle))                                                                         \
  X(cudnnDestroy, Status, (Handle handle))                                                                          \
  X(cudnnSetStream, Status, (Handle handle, Stream stream))                                                         \
  X(cudnnCreateTensorDescriptor, Status, (TensorDesc * desc))                                                       \
  X(cudnnSetTensor4dDescriptor, Status, (TensorDesc desc, TensorFormat format, DataType dt, int n, int c, int h, int w)) \
  X(cudnnSetTensor4dDescriptorEx, Status,                                                                           \
    (TensorDesc desc, DataType dt, int n, int c, int h, int w, int ns, int cs, int hs, int ws))                     \
  X(cudnnDestroyTensorDescriptor, Status, (TensorDesc desc))                                                        \
  X(cudnnCreateFilterDescriptor, Status, (FilterDesc * desc))                                                       \
  X(cudnnSetFilter4dDescriptor, Status, (FilterDesc desc, DataType dt, TensorFormat format, int k, int c, int h, int w)) \
  X(cudnnDestroyFilterDescriptor, Status, (FilterDesc desc))                                                        \
  X(cudnnCreateConvolutionDescriptor, Status, (ConvDesc * desc))                                                    \
  X(cudnnSetConvolution2dDescriptor, Status,                                                                        \
    (ConvDesc desc, int pad_h, int pad_w, int u, int v, int dil_h, int dil_w, ConvMode mode, DataType compute))     \
  X(cudnnSetConvolutionGroupCount, Status, (ConvDesc desc, int groups))                                             \
  X(cudnnSetConvolutionMathType, Status, (ConvDesc desc, MathType math))                                            \
  X(cudnnDestroyConvolutionDescriptor, Status, (ConvDesc desc))                                                     \
  X(cudnnFindConvolutionForwardAlgorithmEx, Status,                                                                 \
    (Handle h, TensorDesc xd, const void* x, FilterDesc wd, const void* w, ConvDesc cd, TensorDesc yd, void* y,     \
     int requested, int* returned, FwdAlgoPerf* perf, void* ws, size_t ws_bytes))                                  \
  X(cudnnFindConvolutionBackwardDataAlgorithmEx, Status,                                                            \
    (Handle h, FilterDesc wd, const void* w, TensorDesc dyd, const void* dy, ConvDesc cd, TensorDesc dxd, void* dx, \
     int requested, int* returned, BwdDataAlgoPerf* perf, void* ws, size_t ws_bytes))                              \
  X(cudnnFindConvolutionBackwardFilterAlgorithmEx, Status,                                                          \
    (Handle h, TensorDesc xd, const void* x, TensorDesc dyd, const void* dy, ConvDesc cd, FilterDesc dwd, void* dw, \
     int requested, int* returned, BwdFilterAlgoPerf* perf, void* ws, size_t ws_bytes))                             \
  X(cudnnGetConvolutionForwardAlgorithm_v7, Status,                                                                 \
    (Handle h, TensorDesc xd, FilterDesc wd, ConvDesc cd, TensorDesc yd, int requested, int* returned,              \
     FwdAlgoPerf* perf))                                                                                            \
  X(cudnnGetConvolutionBackwardDataAlgorithm_v7, Status,                                                            \
    (Handle h, FilterDesc wd, TensorDesc dyd, ConvDesc cd, TensorDesc dxd, int requested, int* returned,            \
     BwdDataAlgoPerf* perf))                                                                                        \
  X(cudnnGetConvolutionBackwardFilterAlgorithm_v7, Status,                                                          \
    (Handle h, TensorDesc xd, TensorDesc dyd, ConvDesc cd, FilterDesc dwd, int requested, int* returned,            \
     BwdFilterAlgoPerf* perf))                                                                                      \
  X(cudnnGetConvolutionForwardWorkspaceSize, Status,                                                                \
    (Handle h, TensorDesc xd, FilterDesc wd, ConvDesc cd, TensorDesc yd, FwdAlgo algo, size_t* bytes))              \
  X(cudnnGetConvolutionBackwardDataWorkspaceSize, Status,                                                           \
    (Handle h, FilterDesc wd, TensorDesc dyd, ConvDesc cd, TensorDesc dxd, BwdDataAlgo algo, size_t* bytes))        \
  X(cudnnGetConvolutionBackwardFilterWorkspaceSize, Status,                                                         \
    (Handle h, TensorDesc xd, TensorDesc dyd, ConvDesc cd, FilterDesc dwd, BwdFilterAlgo algo, size_t* bytes))      \
  X(cudnnConvolutionForward, Status,                                                                                \
    (Handle h, const void* alpha, TensorDesc xd, const void* x, FilterDesc wd, const void* w, ConvDesc cd,          \
     FwdAlgo algo, void* ws, size_t ws_bytes, const void* beta, TensorDesc yd, void* y))                            \
  X(cudnnConvolutionBackwardData, Status,                                                                           \
    (Handle h, const void* alpha, FilterDesc wd, const void* w, TensorDesc dyd, const void* dy, ConvDesc cd,        \
     BwdDataAlgo algo, void* ws, size_t ws_bytes, const void* beta, TensorDesc dxd, void* dx))                      \
  X(cudnnConvolutionBackwardFilter, Status,                                                                         \
    (Handle h, const void* alpha, TensorDesc xd, const void* x, TensorDesc dyd, const void* dy, ConvDesc cd,        \
     BwdFilterAlgo algo, void* ws, size_t ws_bytes, const void* beta, FilterDesc dwd, void* dw))

#define RN_CUDNN_OPTIONAL_FUNCS(X) X(cudnnGetLastErrorString, void, (char* message, size_t max_size))

#define RN_DNN_PFN(name, ret, args) using name##_t = ret(*) args;
RN_CUDNN_FUNCS(RN_DNN_PFN)
RN_CUDNN_OPTIONAL_FUNCS(RN_DNN_PFN)
#undef RN_DNN_PFN

struct Api {
#define RN_DNN_FIELD(name, ret, args) name##_t name = nullptr;
  RN_CUDNN_FUNCS(RN_DNN_FIELD)
  RN_CUDNN_OPTIONAL_FUNCS(RN_DNN_FIELD)
#undef RN_DNN_FIELD
};

// The loaded API; throws ERR_RN_NO_CUDA naming every path tried when libcudnn.so.9 (or one of the
// functions above) cannot be loaded. Thread-safe; loads once (a failure is remembered).
const Api& api();
// "cudnnConvolutionForward: CUDNN_STATUS_... (message)" for a failed call.
std::string error_text(const char* fn, Status s);

}  // namespace dnn
}  // namespace rn
