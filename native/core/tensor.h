// Storage, dtype, device and the strided Tensor view used by every op.
// A Tensor is a cheap value: a shared_ptr to Storage plus shape/strides/offset (in elements).
// Views share storage; an op enqueued on a stream holds Tensors by value, so storage stays alive
// until the op has run even if JS disposed its handle.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>
#include <string>
#include "error.h"

namespace rn {

enum class DType : int32_t { F32 = 0, I32 = 1, U8 = 2, I64 = 3, BF16 = 4, F16 = 5 };
enum class Device : int32_t { CPU = 0, CUDA = 1 };

size_t dtype_size(DType d);
const char* dtype_name(DType d);
const char* device_name(Device d);

// Raw bytes on one device, from the caching allocator of that device.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  Storage() = default;
};

std::shared_ptr<Storage> alloc_storage(size_t bytes, Device dev);

constexpr int kMaxDims = 8;

struct Tensor {
  std::shared_ptr<Storage> storage;
  DType dtype = DType::F32;
  std::vector<int64_t> shape, strides;
  int64_t offset = 0;

  Device device() const { return storage ? storage->device : Device::CPU; }
  int64_t dim() const { return (int64_t)shape.size(); }
  int64_t numel() const;
  bool is_contiguous() const;
  // Dense NHWC memory for a 4-D logical NCHW tensor (PyTorch's channels_last).
  bool is_channels_last() const;
  template <class T> T* data() const { return reinterpret_cast<T*>(storage->data) + offset; }
  float* f32() const { return data<float>(); }
  // Byte pointer to the first element (offset is in elements of dtype).
  char* raw() const { return static_cast<char*>(storage->data) + offset * (int64_t)dtype_size(dtype); }
};

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);
std::vector<int64_t> channels_last_strides(const std::vector<int64_t>& shape);
// Checked product of sizes: throws ERR_RN_RANGE on negative sizes and ERR_RN_OOM on overflow.
int64_t checked_numel(const std::vector<int64_t>& shape, const char* what);
Tensor empty(const std::vector<int64_t>& shape, DType dt, Device dev);
Tensor empty_strided_like(const Tensor& t, DType dt);  // same shape and memory format
Tensor empty_channels_last(const std::vector<int64_t>& shape, DType dt, Device dev);

// Memory statistics of a device's allocator (bytes).
struct MemStats { int64_t live, peak, cached, allocs; };
MemStats memory_stats(Device dev);
void empty_cache(Device dev);
void reset_peak(Device dev);

}  // namespace rn
