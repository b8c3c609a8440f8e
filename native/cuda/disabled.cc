// Built when CUDA is off (no nvcc at build time): the addon loads everywhere and every CUDA entry
// says why it cannot run. CUDA tensors cannot be created in such a build (cuda_alloc throws), so
// the kernel entries below are unreachable through the ops; they exist so that native/ops and
// native/binding compile and link the same way in both builds (candle's dummy backend).
#include "backend.h"

namespace rn {
namespace {
const char* kWhy = "built without CUDA (nvcc was not found when this binary was built)";
[[noreturn]] void no_cuda(const char* op) {
  throw RnError("ERR_RN_NO_CUDA", cat(op, ": CUDA is not available: this build of resnode has no CUDA support (", kWhy,
                                      "); rebuild with nvcc on the PATH"));
}
}  // namespace

const char* cuda_status(bool* available) {
  *available = false;
  return kWhy;
}
void* cuda_alloc(size_t) { no_cuda("cuda"); }
void cuda_free(void*, size_t) {}
MemStats cuda_memory_stats() { return {0, 0, 0, 0}; }
void cuda_empty_cache() {}
void cuda_reset_peak() {}

namespace cuda {
bool available() { return false; }
std::string status() { return kWhy; }
int device_count() { return 0; }
DeviceProps properties(int) { no_cuda("cuda.properties"); }
bool initialized() { return false; }
void synchronize() {}
void on_env_cleanup() {}
[[noreturn]] void throw_unavailable(const char* op) { no_cuda(op); }
std::string library_search_description(bool) { return "none (built without CUDA)"; }
void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }
LibraryInfo cudnn_info() { return {"cudnn", false, 0, "", kWhy}; }
LibraryInfo cublas_info() { return {"cublas", false, 0, "", kWhy}; }
void upload(void*, const void*, size_t) { no_cuda("to"); }
uint64_t enqueue_download(void*, const void*, size_t, Device, std::shared_ptr<void>) { no_cuda("to"); }

#define RN_NO_CUDA(name, params) \
  void name params { no_cuda(#name); }
RN_NO_CUDA(copy_strided, (void*, const void*, int64_t, const std::vector<int64_t>&, const std::vector<int64_t>&,
                          const std::vector<int64_t>&))
RN_NO_CUDA(cast, (void*, DType, const void*, DType, int64_t))
RN_NO_CUDA(fill, (void*, DType, double, const std::vector<int64_t>&, const std::vector<int64_t>&))
RN_NO_CUDA(rand_uniform, (float*, int64_t, uint64_t, uint64_t, float, float))
RN_NO_CUDA(rand_normal, (float*, int64_t, uint64_t, uint64_t, float, float))
RN_NO_CUDA(unary_forward, (float*, const float*, int64_t, cpu::Unary))
RN_NO_CUDA(unary_backward, (float*, const float*, const float*, const float*, int64_t, cpu::Unary))
RN_NO_CUDA(scalar_forward, (float*, const float*, float, int64_t, cpu::ScalarOp))
RN_NO_CUDA(binary_forward, (float*, const float*, const float*, const std::vector<int64_t>&, const std::vector<int64_t>&,
                            const std::vector<int64_t>&, cpu::Binary))
RN_NO_CUDA(axpy, (float*, const float*, float, int64_t))
RN_NO_CUDA(dropout_forward, (float*, const float*, int64_t, float, uint64_t, uint64_t))
RN_NO_CUDA(add_channel_bias, (float*, const float*, int64_t, int64_t, int64_t, bool))
RN_NO_CUDA(sum_dim, (float*, const float*, int64_t, int64_t, int64_t, float))
RN_NO_CUDA(max_dim, (float*, int32_t*, const float*, int64_t, int64_t, int64_t))
RN_NO_CUDA(gemm, (void*, const void*, const void*, DType, int64_t, int64_t, int64_t, int64_t, bool, bool, float, float,
                  int64_t, int64_t, int64_t))
RN_NO_CUDA(conv2d_forward, (void*, const void*, const void*, const float*, const cpu::ConvParams&, DType))
RN_NO_CUDA(conv2d_backward_data, (void*, const void*, const void*, const cpu::ConvParams&, DType))
RN_NO_CUDA(conv2d_backward_weight, (void*, const void*, const void*, const cpu::ConvParams&, DType))
size_t conv_cache_size() { return 0; }
RN_NO_CUDA(batchnorm_forward_train, (float*, float*, float*, float*, float*, const float*, const float*, const float*,
                                     int64_t, int64_t, int64_t, bool, float, float))
RN_NO_CUDA(batchnorm_forward_eval, (float*, const float*, const float*, const float*, const float*, const float*, int64_t,
                                    int64_t, int64_t, bool, float))
RN_NO_CUDA(batchnorm_backward, (float*, float*, float*, const float*, const float*, const float*, const float*,
                                const float*, int64_t, int64_t, int64_t, bool))
RN_NO_CUDA(batchnorm_backward_eval, (float*, float*, float*, const float*, const float*, const float*, const float*,
                                     const float*, int64_t, int64_t, int64_t, bool, float))
RN_NO_CUDA(bn_add_relu_forward_train, (void*, float*, float*, float*, float*, const void*, const void*, const float*,
                                       const float*, int64_t, int64_t, int64_t, bool, float, float, DType))
RN_NO_CUDA(bn_add_relu_forward_eval, (void*, float*, float*, const void*, const void*, const float*, const float*,
                                      const float*, const float*, int64_t, int64_t, int64_t, bool, float, DType))
RN_NO_CUDA(bn_add_relu_backward, (void*, void*, float*, float*, const void*, const void*, const void*, const float*,
                                  const float*, const float*, int64_t, int64_t, int64_t, bool, bool, DType))
int bn_add_relu_version() { return 0; }
RN_NO_CUDA(set_bn_add_relu_version, (int))
RN_NO_CUDA(timer_begin, (double))
double timer_end() { no_cuda("timer_end"); }
RN_NO_CUDA(maxpool2d_forward, (float*, int32_t*, const float*, const cpu::PoolParams&))
RN_NO_CUDA(maxpool2d_backward, (float*, const float*, const int32_t*, const cpu::PoolParams&))
RN_NO_CUDA(avgpool2d_forward, (float*, const float*, const cpu::PoolParams&))
RN_NO_CUDA(avgpool2d_backward, (float*, const float*, const cpu::PoolParams&))
RN_NO_CUDA(adaptive_avgpool2d_forward, (float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t))
RN_NO_CUDA(adaptive_avgpool2d_backward, (float*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t))
RN_NO_CUDA(softmax_forward, (float*, const float*, int64_t, int64_t, int64_t, bool))
RN_NO_CUDA(softmax_backward, (float*, const float*, const float*, int64_t, int64_t, int64_t, bool))
RN_NO_CUDA(cross_entropy_forward, (float*, float*, int64_t*, const float*, const int32_t*, int64_t, int64_t, int64_t, float,
                                   int32_t))
RN_NO_CUDA(cross_entropy_reduce, (float*, const float*, const int64_t*, int64_t, int))
RN_NO_CUDA(cross_entropy_backward, (float*, const float*, bool, int, const int64_t*, const float*, const int32_t*, int64_t,
                                    int64_t, int64_t, float, int32_t))
RN_NO_CUDA(layernorm_forward, (float*, float*, float*, const float*, const float*, const float*, int64_t, int64_t, float))
RN_NO_CUDA(layernorm_backward, (float*, float*, float*, const float*, const float*, const float*, const float*,
                                const float*, int64_t, int64_t))
RN_NO_CUDA(sgd_step_multi, (const cpu::SgdTensor*, int64_t, const cpu::SgdHyper&))
RN_NO_CUDA(adamw_step_multi, (const cpu::AdamwTensor*, int64_t, const cpu::AdamwHyper&))
#undef RN_NO_CUDA
}  // namespace cuda
}  // namespace rn
