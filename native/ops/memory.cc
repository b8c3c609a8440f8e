// Creation, views, copies, casts, fills and reads.
#include <cstring>
#include "ops.h"
#include "../core/stream.h"
#include "../cuda/backend.h"

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
  if (t.device() == Device::CUDA) {  // gather a strided view on the device, then one copy down
    Tensor src = contiguous(t);
    return cuda::enqueue_download(dst, src.raw(), (size_t)src.numel() * dtype_size(src.dtype), Device::CUDA);
  }
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
void sync(Device dev) {
  if (dev == Device::CUDA) {  // the host Stream's jobs, then the GPU queue itself
    wait(dev, stream_for(dev).enqueue([] { cuda::synchronize(); }));
    return;
  }
  wait(dev, stream_for(dev).last_seq());
}

Tensor to_device(const Tensor& t, Device dev) {
  check_live(t, "to", "tensor");
  if (t.device() == dev) return t;
  const bool cl = t.is_channels_last() && !t.is_contiguous();
  Tensor src = cl ? t : contiguous(t);
  Tensor out = cl ? empty_channels_last(t.shape, t.dtype, dev) : rn::empty(t.shape, t.dtype, dev);
  const size_t bytes = (size_t)t.numel() * dtype_size(t.dtype);
  if (dev == Device::CUDA) {
    wait(Device::CPU, stream_for(Device::CPU).last_seq());  // the source must be computed: reads synchronise
    cuda::upload(out.raw(), src.raw(), bytes);
  } else {
    cuda::enqueue_download(out.raw(), src.raw(), bytes, Device::CPU, out.storage);
  }
  return out;
}

Tensor view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  check_live(t, "view", "tensor");
  if (shape.size() != strides.size())
    throw_shape(cat("view: shape ", shape_str(shape), " and strides ", shape_str(strides), " differ in length"));
  int64_t n = checked_numel(shape, "view");
  // The view must stay inside the storage: lowest and highest element addressed.
  // Overflow-checked: sizes and strides up to 2^53 could wrap an int64 product back into range.
  int64_t lo = offset, hi = offset;
  bool wrapped = false;
  if (n > 0)
    for (size_t i = 0; i < shape.size(); i++) {
      int64_t ext = 0;
      wrapped |= __builtin_mul_overflow(shape[i] - 1, strides[i], &ext);
      wrapped |= ext < 0 ? __builtin_add_overflow(lo, ext, &lo) : __builtin_add_overflow(hi, ext, &hi);
    }
  int64_t cap = (int64_t)(t.storage->bytes / dtype_size(t.dtype));
  if (offset < 0 || (n > 0 && (wrapped || lo < 0 || hi >= cap)))
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
  if (dst.dtype != src.dtype)
    throw RnError("ERR_RN_DTYPE", cat("copy: destination is ", dtype_name(dst.dtype), " but source is ", dtype_name(src.dtype)), ErrKind::Type);
  // A broadcast (stride-0) destination would store several elements to one address, from several
  // threads at once: refuse it (torch does too) instead of keeping an arbitrary one.
  for (size_t i = 0; i < dst.shape.size(); i++)
    if (dst.strides[i] == 0 && dst.shape[i] > 1)
      throw RnError("ERR_RN_ARG", cat("copy: destination of shape ", shape_str(dst.shape), " and strides ", shape_str(dst.strides),
                                      " is a broadcast view (several elements share one memory location); write to a contiguous tensor"),
                    ErrKind::Type);
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
  if (dst.device() == Device::CUDA) {
    cuda::copy_strided(d.raw(), s.raw(), (int64_t)dtype_size(d.dtype), d.shape, d.strides, ss);
    return;
  }
  enqueue(dst.device(), [d, s, ss] {
    cpu::copy_strided(d.raw(), s.raw(), (int64_t)dtype_size(d.dtype), d.shape, d.strides, ss);
  });
}

Tensor cast(const Tensor& t, DType dt) {
  check_live(t, "cast", "tensor");
  // A dense channels-last tensor keeps its memory format (as PyTorch's .to(dtype)): both sides
  // have the same element order, so the flat conversion is still right.
  const bool cl = t.is_channels_last() && !t.is_contiguous();
  auto out_like = [&](DType d) { return cl ? empty_channels_last(t.shape, d, t.device()) : rn::empty(t.shape, d, t.device()); };
  if (t.device() == Device::CUDA) {  // every pair of dtypes, bfloat16 and float16 included
    Tensor src = cl ? t : contiguous(t);
    if (dt == t.dtype) return src;
    Tensor out = out_like(dt);
    cuda::cast(out.raw(), dt, src.raw(), src.dtype, src.numel());
    return out;
  }
  if (dt == DType::BF16 || dt == DType::F16 || t.dtype == DType::BF16 || t.dtype == DType::F16)
    throw RnError("ERR_RN_DTYPE", cat("cast: ", dtype_name(t.dtype), " -> ", dtype_name(dt), " is not supported on cpu"), ErrKind::Type);
  Tensor src = cl ? t : contiguous(t);
  if (dt == t.dtype) return src;
  Tensor out = out_like(dt);
  enqueue(t.device(), [out, src] {
    cpu::cast(out.raw(), (int32_t)out.dtype, src.raw(), (int32_t)src.dtype, src.numel());
  });
  return out;
}

void fill_(const Tensor& t, double v) {
  check_live(t, "fill", "tensor");
  if (t.device() == Device::CUDA) {
    cuda::fill(t.raw(), t.dtype, v, t.shape, t.strides);
    return;
  }
  Tensor d = t;
  if (t.dtype == DType::F32 && (t.is_contiguous() || t.is_channels_last())) {  // dense: one flat pass
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
  if (!t.is_contiguous()) throw_shape("rand: tensor must be contiguous");
  Tensor d = t;
  if (t.device() == Device::CUDA) {  // the CPU's generator: the same numbers for the same (seed, offset)
    if (normal) cuda::rand_normal(d.f32(), d.numel(), seed, offset, a, b);
    else cuda::rand_uniform(d.f32(), d.numel(), seed, offset, a, b);
    return;
  }
  enqueue(t.device(), [d, normal, seed, offset, a, b] {
    if (normal) cpu::rand_normal(d.f32(), d.numel(), seed, offset, a, b);
    else cpu::rand_uniform(d.f32(), d.numel(), seed, offset, a, b);
  });
}

}  // namespace ops
}  // namespace rn
