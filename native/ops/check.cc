#include "ops.h"
#include "../core/stream.h"

namespace rn {
namespace ops {

void check_live(const Tensor& t, const char* op, const char* name) {
  if (!t.storage) throw RnError("ERR_RN_DISPOSED", cat(op, ": ", name, " is a disposed tensor"));
}
void check_f32(const Tensor& t, const char* op, const char* name) {
  check_live(t, op, name);
  if (t.dtype != DType::F32)
    throw RnError("ERR_RN_DTYPE", cat(op, ": expected ", name, " of dtype float32 but received ", dtype_name(t.dtype)),
                  ErrKind::Type);
}
DType check_float_storage(const Tensor& t, const char* op, const char* name) {
  check_live(t, op, name);
  const bool half = t.dtype == DType::BF16 || t.dtype == DType::F16;
  if (t.dtype != DType::F32 && !(half && t.device() == Device::CUDA))
    throw RnError("ERR_RN_DTYPE",
                  cat(op, ": expected ", name, " of dtype float32", t.device() == Device::CUDA ? ", bfloat16 or float16" : "",
                      " but received ", dtype_name(t.dtype)),
                  ErrKind::Type);
  return t.dtype;
}
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op, const char* na, const char* nb) {
  if (a.dtype != b.dtype)
    throw RnError("ERR_RN_DTYPE", cat(op, ": ", na, " is ", dtype_name(a.dtype), " but ", nb, " is ", dtype_name(b.dtype)),
                  ErrKind::Type);
}
void check_device(const Tensor& a, const Tensor& b, const char* op, const char* na, const char* nb) {
  if (a.device() != b.device())
    throw RnError("ERR_RN_DEVICE", cat(op, ": ", na, " is on ", device_name(a.device()), " but ", nb, " is on ",
                                       device_name(b.device()), " (move both to one device with .to())"));
}
void require_cpu(const Tensor& t, const char* op) {
  if (t.device() != Device::CPU)
    throw RnError("ERR_RN_NO_CUDA", cat(op, ": not implemented for cuda tensors yet (move them with .to('cpu'))"));
}
uint64_t enqueue(Device dev, std::function<void()> fn) {
  // CPU kernels only: CUDA ops launch on the device stream from the calling thread (cuda/backend.h).
  // A CUDA tensor reaching here is a dispatch bug; refuse rather than let a CPU kernel touch device memory.
  if (dev != Device::CPU) throw RnError("ERR_RN_INTERNAL", "internal: a CPU kernel was queued for a cuda tensor");
  return stream_for(dev).enqueue(std::move(fn));
}

}  // namespace ops
}  // namespace rn
