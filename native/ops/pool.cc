#include "ops.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {
namespace {
cpu::PoolParams params(const Shape& xs, const Pool2dArgs& a, const char* op) {
  if (xs.size() != 4) throw_shape(cat(op, ": expected a 4-D input [N, C, H, W] but received shape ", shape_str(xs)));
  if (a.kh <= 0 || a.kw <= 0) throw_range(cat(op, ": expected a positive kernel size but received [", a.kh, ", ", a.kw, "]"));
  if (a.sh <= 0 || a.sw <= 0) throw_range(cat(op, ": expected a positive stride but received [", a.sh, ", ", a.sw, "]"));
  if (a.ph < 0 || a.pw < 0 || a.ph * 2 > a.kh || a.pw * 2 > a.kw)
    throw_range(cat(op, ": padding [", a.ph, ", ", a.pw, "] must be non-negative and at most half the kernel [", a.kh, ", ", a.kw, "]"));
  cpu::PoolParams p{};
  p.N = xs[0]; p.C = xs[1]; p.H = xs[2]; p.W = xs[3];
  p.kh = a.kh; p.kw = a.kw; p.sh = a.sh; p.sw = a.sw; p.ph = a.ph; p.pw = a.pw;
  p.count_include_pad = a.count_include_pad;
  auto out = [&](int64_t in, int64_t k, int64_t s, int64_t pd) {
    int64_t num = in + 2 * pd - k;
    if (num < 0) return (int64_t)0;
    int64_t o = (a.ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (a.ceil_mode && (o - 1) * s >= in + pd) o--;  // last window must start inside the input
    return o;
  };
  p.P = out(p.H, p.kh, p.sh, p.ph);
  p.Q = out(p.W, p.kw, p.sw, p.pw);
  if (p.P <= 0 || p.Q <= 0)
    throw_shape(cat(op, ": input ", shape_str(xs), " is smaller than the kernel [", a.kh, ", ", a.kw, "]"));
  return p;
}
}  // namespace

std::pair<Tensor, Tensor> maxpool2d_forward(const Tensor& x0, const Pool2dArgs& a) {
  check_f32(x0, "maxPool2d", "input");
  auto p = params(x0.shape, a, "maxPool2d");
  // a dense channels-last input stays so on the CPU (output and indices channels-last too; the
  // kernel has channels in SIMD lanes): no layout round trip, ~16x faster on a ResNet stem
  if (x0.device() == Device::CPU && x0.is_channels_last() && !x0.is_contiguous()) {
    Shape ys{p.N, p.C, p.P, p.Q};
    Tensor x = x0, y = empty_channels_last(ys, DType::F32, x.device()), idx = empty_channels_last(ys, DType::I32, x.device());
    enqueue(x.device(), [=] { cpu::maxpool2d_forward_cl(y.f32(), idx.data<int32_t>(), x.f32(), p); });
    return {y, idx};
  }
  Tensor x = contiguous(x0);
  Tensor y = rn::empty({p.N, p.C, p.P, p.Q}, DType::F32, x.device()), idx = rn::empty({p.N, p.C, p.P, p.Q}, DType::I32, x.device());
  if (x.device() == Device::CUDA) cuda::maxpool2d_forward(y.f32(), idx.data<int32_t>(), x.f32(), p);
  else enqueue(x.device(), [=] { cpu::maxpool2d_forward(y.f32(), idx.data<int32_t>(), x.f32(), p); });
  return {y, idx};
}

Tensor maxpool2d_backward(const Tensor& dy0, const Tensor& idx, const Shape& xs, const Pool2dArgs& a) {
  check_f32(dy0, "maxPool2d backward", "grad");
  check_live(idx, "maxPool2d backward", "indices");
  check_device(dy0, idx, "maxPool2d backward", "grad", "indices");
  auto p = params(xs, a, "maxPool2d backward");
  Shape ys{p.N, p.C, p.P, p.Q};
  RN_CHECK_SHAPE(dy0.shape == ys && idx.shape == ys && idx.dtype == DType::I32, "maxPool2d backward: grad ",
                 shape_str(dy0.shape), " / indices ", shape_str(idx.shape), " do not match output ", shape_str(ys));
  // indices in channels-last memory come from the channels-last forward: backward stays so
  if (idx.device() == Device::CPU && idx.is_channels_last() && !idx.is_contiguous()) {
    Tensor dy = to_channels_last(dy0), id = idx, dx = empty_channels_last(xs, DType::F32, dy.device());
    enqueue(dy.device(), [=] { cpu::maxpool2d_backward_cl(dx.f32(), dy.f32(), id.data<int32_t>(), p); });
    return dx;
  }
  Tensor dy = contiguous(dy0), id = contiguous(idx), dx = rn::empty(xs, DType::F32, dy.device());
  if (dy.device() == Device::CUDA) cuda::maxpool2d_backward(dx.f32(), dy.f32(), id.data<int32_t>(), p);
  else enqueue(dy.device(), [=] { cpu::maxpool2d_backward(dx.f32(), dy.f32(), id.data<int32_t>(), p); });
  return dx;
}

Tensor avgpool2d_forward(const Tensor& x0, const Pool2dArgs& a) {
  check_f32(x0, "avgPool2d", "input");
  auto p = params(x0.shape, a, "avgPool2d");
  Tensor x = contiguous(x0), y = rn::empty({p.N, p.C, p.P, p.Q}, DType::F32, x.device());
  if (x.device() == Device::CUDA) cuda::avgpool2d_forward(y.f32(), x.f32(), p);
  else enqueue(x.device(), [=] { cpu::avgpool2d_forward(y.f32(), x.f32(), p); });
  return y;
}

Tensor avgpool2d_backward(const Tensor& dy0, const Shape& xs, const Pool2dArgs& a) {
  check_f32(dy0, "avgPool2d backward", "grad");
  auto p = params(xs, a, "avgPool2d backward");
  Shape ys{p.N, p.C, p.P, p.Q};
  RN_CHECK_SHAPE(dy0.shape == ys, "avgPool2d backward: grad ", shape_str(dy0.shape), " does not match output ", shape_str(ys));
  Tensor dy = contiguous(dy0), dx = rn::empty(xs, DType::F32, dy.device());
  if (dy.device() == Device::CUDA) cuda::avgpool2d_backward(dx.f32(), dy.f32(), p);
  else enqueue(dy.device(), [=] { cpu::avgpool2d_backward(dx.f32(), dy.f32(), p); });
  return dx;
}

Tensor adaptive_avgpool2d_forward(const Tensor& x0, int64_t P, int64_t Q) {
  check_f32(x0, "adaptiveAvgPool2d", "input");
  if (x0.dim() != 4) throw_shape(cat("adaptiveAvgPool2d: expected a 4-D input [N, C, H, W] but received shape ", shape_str(x0.shape)));
  if (P <= 0 || Q <= 0) throw_range(cat("Expected positive integers for adaptiveAvgPool2d(outputSize) but received [", P, ", ", Q, "]"));
  if (x0.shape[2] <= 0 || x0.shape[3] <= 0) throw_shape(cat("adaptiveAvgPool2d: input ", shape_str(x0.shape), " has an empty plane"));
  Tensor x = contiguous(x0);
  int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  Tensor y = rn::empty({N, C, P, Q}, DType::F32, x.device());
  if (x.device() == Device::CUDA) cuda::adaptive_avgpool2d_forward(y.f32(), x.f32(), N * C, H, W, P, Q);
  else enqueue(x.device(), [=] { cpu::adaptive_avgpool2d_forward(y.f32(), x.f32(), N * C, H, W, P, Q); });
  return y;
}

Tensor adaptive_avgpool2d_backward(const Tensor& dy0, const Shape& xs) {
  check_f32(dy0, "adaptiveAvgPool2d backward", "grad");
  if (xs.size() != 4 || dy0.dim() != 4 || dy0.shape[0] != xs[0] || dy0.shape[1] != xs[1])
    throw_shape(cat("adaptiveAvgPool2d backward: grad ", shape_str(dy0.shape), " does not match input ", shape_str(xs)));
  Tensor dy = contiguous(dy0), dx = rn::empty(xs, DType::F32, dy.device());
  int64_t P = dy.shape[2], Q = dy.shape[3];
  if (dy.device() == Device::CUDA) cuda::adaptive_avgpool2d_backward(dx.f32(), dy.f32(), xs[0] * xs[1], xs[2], xs[3], P, Q);
  else enqueue(dy.device(), [=] { cpu::adaptive_avgpool2d_backward(dx.f32(), dy.f32(), xs[0] * xs[1], xs[2], xs[3], P, Q); });
  return dx;
}

}  // namespace ops
}  // namespace rn
