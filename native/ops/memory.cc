// Creation, views, copies, casts, fills and reads.
#include <cstring>
#include "ops.h"
#include "../core/stream.h"

namespace rn {
namespace ops {

Tensor empty(const Shape& shape, DType dt, Device dev) { return rn::empty(shape, dt, dev); }

Tensor from_host(const void* src, size_t bytes, const Shape& shape, DType dt) {
  int64_t n = checked_numel(shape, "tensor");
  if ((size_t)n * dtype_size(dt) != bytes)
    throw_shape(cat("tensor: data has ", bytes / dtype_size(dt), " elements but shape ", shape_str(shape), " needs ", n));
  Tensor t = rn::empty(shape, dt, Device::CPU);
  // Fresh storage no queued op can touch yet: copy synchronously, the JS buffer may change later.
  if (bytes) std::memcpy(t.storage->data, src, bytes);
  return t;
}

uint64_t enqueue_read(const Tensor& t, void* dst) {
  check_live(t, "read", "tensor");
  require_cpu(t, "read");
  Tensor src = t;
  return enqueue(t.device(), [src, dst] {
    size_t es = dtype_size(src.dtype);
    if (src.is_contiguous()) std::memcpy(dst, src.raw(), (size_t)src.numel() * es);
    else cpu::copy_strided(dst, src.raw(), es, src.shape, contiguous_strides(src.shape), src.strides);
  });
}

void wait(Device dev, uint64_t seq) {
  stream_for(dev).wait(seq);
  stream_for(dev).check_error();
}
void sync(Device dev) { wait(dev, stream_for(dev).last_seq()); }

Tensor view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  check_live(t, "view", "tensor");
  if (shape.size() != strides.size())
    throw_shape(cat("view: shape ", shape_str(shape), " and strides ", shape_str(strides), " differ in length"));
  int64_t n = checked_numel(shape, "view");
  // The view must stay inside the storage: lowest and highest element addressed.
  int64_t lo = offset, hi = offset;
  if (n > 0)
    for (size_t i = 0; i < shape.size(); i++) {
      int64_t ext = (shape[i] - 1) * strides[i];
      if (ext < 0) lo += ext; else hi += ext;
    }
  int64_t cap = (int64_t)(t.storage->bytes / dtype_size(t.dtype));
  if (offset < 0 || (n > 0 && (lo < 0 || hi >= cap)))
    throw_range(cat("view: shape ", shape_str(shape), " with strides ", shape_str(strides), " at offset ", offset,
                    " reaches outside a storage of ", cap, " elements"));
  Tensor v = t;
  v.shape = shape;
  v.strides = strides;
  v.offset = offset;
  return v;
}

Tensor contiguous(const Tensor& t) {
  check_live(t, "contiguous", "tensor");
  if (t.is_contiguous()) return t;
  Tensor out = rn::empty(t.shape, t.dtype, t.device());
  copy_(out, t);
  return out;
}

Tensor to_channels_last(const Tensor& t) {
  check_live(t, "toChannelsLast", "tensor");
  if (t.dim() != 4) throw_shape(cat("toChannelsLast: expected a 4-D tensor but received shape ", shape_str(t.shape)));
  if (t.is_channels_last()) return t;
  Tensor out = empty_channels_last(t.shape, t.dtype, t.device());
  copy_(out, t);
  return out;
}

void copy_(const Tensor& dst, const Tensor& src) {
  check_live(dst, "copy", "destination");
  check_live(src, "copy", "source");
  check_device(dst, src, "copy", "destination", "source");
  require_cpu(dst, "copy");
  if (dst.dtype != src.dtype)
    throw RnError("ERR_RN_DTYPE", cat("copy: destination is ", dtype_name(dst.dtype), " but source is ", dtype_name(src.dtype)), ErrKind::Type);
  // Broadcast src to dst's shape (right-aligned, size-1 dims get stride 0).
  const size_t nd = dst.shape.size();
  if (src.shape.size() > nd)
    throw_shape(cat("copy: source shape ", shape_str(src.shape), " cannot be broadcast to ", shape_str(dst.shape)));
  Shape ss(nd, 0);
  for (size_t i = 0; i < src.shape.size(); i++) {
    size_t d = nd - src.shape.size() + i;
    if (src.shape[i] == dst.shape[d]) ss[d] = src.strides[i];
    else if (src.shape[i] == 1) ss[d] = 0;
    else throw_shape(cat("copy: source shape ", shape_str(src.shape), " cannot be broadcast to ", shape_str(dst.shape)));
  }
  Tensor d = dst, s = src;
  enqueue(dst.device(), [d, s, ss] {
    cpu::copy_strided(d.raw(), s.raw(), (int64_t)dtype_size(d.dtype), d.shape, d.strides, ss);
  });
}

Tensor cast(const Tensor& t, DType dt) {
  check_live(t, "cast", "tensor");
  require_cpu(t, "cast");
  if (dt == DType::BF16 || dt == DType::F16 || t.dtype == DType::BF16 || t.dtype == DType::F16)
    throw RnError("ERR_RN_DTYPE", cat("cast: ", dtype_name(t.dtype), " -> ", dtype_name(dt), " is not supported on cpu"), ErrKind::Type);
  Tensor src = contiguous(t);
  if (dt == t.dtype) return src;
  Tensor out = rn::empty(t.shape, dt, t.device());
  enqueue(t.device(), [out, src] {
    cpu::cast(out.raw(), (int32_t)out.dtype, src.raw(), (int32_t)src.dtype, src.numel());
  });
  return out;
}

void fill_(const Tensor& t, double v) {
  check_live(t, "fill", "tensor");
  require_cpu(t, "fill");
  Tensor d = t;
  if (t.dtype == DType::F32 && t.is_contiguous()) {
    enqueue(t.device(), [d, v] { cpu::fill_f32(d.f32(), (float)v, d.numel()); });
    return;
  }
  // other dtypes / strided views: fill one element and broadcast-copy it
  Tensor one = rn::empty({}, t.dtype, t.device());
  double vv = v;
  switch (t.dtype) {
    case DType::F32: *one.data<float>() = (float)vv; break;
    case DType::I32: *one.data<int32_t>() = (int32_t)vv; break;
    case DType::U8: *one.data<uint8_t>() = (uint8_t)vv; break;
    case DType::I64: *one.data<int64_t>() = (int64_t)vv; break;
    default: throw RnError("ERR_RN_DTYPE", cat("fill: ", dtype_name(t.dtype), " is not supported on cpu"), ErrKind::Type);
  }
  copy_(t, one);
}

void rand_(const Tensor& t, bool normal, uint64_t seed, uint64_t offset, float a, float b) {
  check_f32(t, "rand", "tensor");
  require_cpu(t, "rand");
  if (!t.is_contiguous()) throw_shape("rand: tensor must be contiguous");
  Tensor d = t;
  enqueue(t.device(), [d, normal, seed, offset, a, b] {
    if (normal) cpu::rand_normal(d.f32(), d.numel(), seed, offset, a, b);
    else cpu::rand_uniform(d.f32(), d.numel(), seed, offset, a, b);
  });
}

}  // namespace ops
}  // namespace rn
