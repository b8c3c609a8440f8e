// Built when CUDA is off: the addon loads everywhere and every CUDA entry says why it cannot run.
#include "../core/tensor.h"

namespace rn {

const char* cuda_status(bool* available) {
  *available = false;
  return "built without CUDA (nvcc was not found when this binary was built)";
}
void* cuda_alloc(size_t) { throw RnError("ERR_RN_NO_CUDA", "cuda: this build of resnode has no CUDA support"); }
void cuda_free(void*, size_t) {}
MemStats cuda_memory_stats() { return {0, 0, 0, 0}; }
void cuda_empty_cache() {}
void cuda_reset_peak() {}

}  // namespace rn
