#include "ops.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {
namespace {

cpu::ConvParams params(const Shape& xs, const Shape& ws, const Conv2dArgs& a, const char* op) {
  if (a.sh <= 0 || a.sw <= 0) throw_range(cat(op, ": expected positive stride but received [", a.sh, ", ", a.sw, "]"));
  if (a.dh <= 0 || a.dw <= 0) throw_range(cat(op, ": expected positive dilation but received [", a.dh, ", ", a.dw, "]"));
  if (a.ph < 0 || a.pw < 0) throw_range(cat(op, ": expected non-negative padding but received [", a.ph, ", ", a.pw, "]"));
  if (a.groups <= 0) throw_range(cat(op, ": expected positive groups but received ", a.groups));
  // far beyond any real network, and small enough that no size arithmetic below can overflow
  constexpr int64_t kMax = int64_t(1) << 31;
  if (a.sh > kMax || a.sw > kMax || a.ph > kMax || a.pw > kMax || a.dh > kMax || a.dw > kMax || a.groups > kMax)
    throw_range(cat(op, ": stride [", a.sh, ", ", a.sw, "], padding [", a.ph, ", ", a.pw, "], dilation [", a.dh, ", ", a.dw,
                    "] and groups ", a.groups, " must each be at most 2^31"));
  if (xs.size() != 4) throw_shape(cat(op, ": expected a 4-D input [N, C, H, W] but received shape ", shape_str(xs)));
  if (ws.size() != 4) throw_shape(cat(op, ": expected a 4-D weight [K, C/groups, R, S] but received shape ", shape_str(ws)));
  cpu::ConvParams p{};
  p.N = xs[0]; p.C = xs[1]; p.H = xs[2]; p.W = xs[3];
  p.K = ws[0]; p.R = ws[2]; p.S = ws[3];
  p.sh = a.sh; p.sw = a.sw; p.ph = a.ph; p.pw = a.pw; p.dh = a.dh; p.dw = a.dw; p.groups = a.groups;
  if (p.C % a.groups || p.K % a.groups)
    throw_shape(cat(op, ": groups ", a.groups, " must divide input channels ", p.C, " and output channels ", p.K));
  if (ws[1] * a.groups != p.C)
    throw_shape(cat(op, ": input has ", p.C, " channels but weight ", shape_str(ws), " expects ", ws[1] * a.groups,
                    a.groups > 1 ? cat(" (groups = ", a.groups, ")") : std::string()));
  if (p.R <= 0 || p.S <= 0) throw_shape(cat(op, ": weight ", shape_str(ws), " has an empty kernel (expected R, S >= 1)"));
  int64_t eh = (p.R - 1) * p.dh + 1, ew = (p.S - 1) * p.dw + 1;
  p.P = (p.H + 2 * p.ph - eh) / p.sh + 1;
  p.Q = (p.W + 2 * p.pw - ew) / p.sw + 1;
  if (p.H + 2 * p.ph < eh || p.W + 2 * p.pw < ew || p.P <= 0 || p.Q <= 0)
    throw_shape(cat(op, ": input ", shape_str(xs), " with padding [", p.ph, ", ", p.pw, "] is smaller than the kernel [",
                    eh, ", ", ew, "] (dilated)"));
  return p;
}
}  // namespace

Tensor conv2d_forward(const Tensor& x0, const Tensor& w0, const Tensor* bias, const Conv2dArgs& a) {
  // float32, or bfloat16 / float16 storage on CUDA (tensor cores, f32 accumulation); y has x's dtype
  const DType dt = check_float_storage(x0, "conv2d", "input");
  check_float_storage(w0, "conv2d", "weight");
  check_device(x0, w0, "conv2d", "input", "weight");
  check_same_dtype(x0, w0, "conv2d", "input", "weight");
  cpu::ConvParams p = params(x0.shape, w0.shape, a, "conv2d");
  Tensor b;
  if (bias) {
    check_f32(*bias, "conv2d", "bias");
    check_device(x0, *bias, "conv2d", "input", "bias");
    if (dt != DType::F32)  // the CUDA bias kernel is float32 (F.conv2d adds a half bias as a separate op)
      throw RnError("ERR_RN_DTYPE", cat("conv2d: a bias needs a float32 input (input is ", dtype_name(dt), ")"), ErrKind::Type);
    if (bias->dim() != 1 || bias->shape[0] != p.K)
      throw_shape(cat("conv2d: bias has shape ", shape_str(bias->shape), " but the weight has ", p.K, " output channels"));
    b = contiguous(*bias);
  }
  p.channels_last = x0.is_channels_last() && !x0.is_contiguous();
  Tensor x = p.channels_last ? x0 : contiguous(x0), w = contiguous(w0);
  Shape ys{p.N, p.K, p.P, p.Q};
  Tensor y = p.channels_last ? empty_channels_last(ys, dt, x.device()) : rn::empty(ys, dt, x.device());
  // Empty batch or no output channels: nothing to compute (the kernels divide by these sizes).
  if (y.numel() == 0) return y;
  if (x.device() == Device::CUDA) {  // cuDNN
    if (p.C == 0) {
      fill_(y, 0.0);
      if (b.storage) cuda::add_channel_bias(y.f32(), b.f32(), p.N, p.K, p.P * p.Q, p.channels_last);
      return y;
    }
    cuda::conv2d_forward(y.raw(), x.raw(), w.raw(), b.storage ? b.f32() : nullptr, p, dt);
    return y;
  }
  if (p.C == 0) {  // an empty sum per output: y = bias (or 0)
    enqueue(x.device(), [y, b, p] {
      float* o = y.f32();
      const float* bb = b.storage ? b.f32() : nullptr;
      const int64_t PQ = p.P * p.Q;
      for (int64_t n = 0; n < p.N; n++)
        for (int64_t k = 0; k < p.K; k++)
          for (int64_t i = 0; i < PQ; i++) o[p.channels_last ? (n * PQ + i) * p.K + k : (n * p.K + k) * PQ + i] = bb ? bb[k] : 0.f;
    });
    return y;
  }
  enqueue(x.device(), [y, x, w, b, p] { cpu::conv2d_forward(y.f32(), x.f32(), w.f32(), b.storage ? b.f32() : nullptr, p); });
  return y;
}

Tensor conv2d_backward_data(const Tensor& dy0, const Tensor& w0, const Shape& xs, bool cl, const Conv2dArgs& a,
                            const Tensor* acc) {
  const DType dt = check_float_storage(dy0, "conv2d backward", "grad");
  check_float_storage(w0, "conv2d backward", "weight");
  check_device(dy0, w0, "conv2d backward", "grad", "weight");
  check_same_dtype(dy0, w0, "conv2d backward", "grad", "weight");
  cpu::ConvParams p = params(xs, w0.shape, a, "conv2d backward");
  Shape ys{p.N, p.K, p.P, p.Q};
  RN_CHECK_SHAPE(dy0.shape == ys, "conv2d backward: grad has shape ", shape_str(dy0.shape), " but the output was ", shape_str(ys));
  p.channels_last = cl;
  Tensor dy = cl ? to_channels_last(dy0) : contiguous(dy0), w = contiguous(w0);
  if (acc) {
    const char* op = "conv2d backward";
    check_live(*acc, op, "accumulate");
    check_device(*acc, dy, op, "accumulate", "grad");
    check_same_dtype(*acc, dy, op, "accumulate", "grad");
    RN_CHECK_SHAPE(acc->shape == xs, op, ": accumulate has shape ", shape_str(acc->shape), " but the input was ", shape_str(xs));
    if (!(cl ? acc->is_channels_last() : acc->is_contiguous()))
      throw RnError("ERR_RN_ARG", cat(op, ": accumulate must be dense in the ", cl ? "channels-last" : "contiguous", " layout"));
    if (dy.numel() == 0 || w.numel() == 0 || acc->numel() == 0) return *acc;
    if (dy.device() == Device::CUDA || dt != DType::F32 || !cpu::conv2d_backward_data_accumulates(p)) {
      // no accumulating kernel for this case: a separate result (from the caching allocator), added
      Tensor dx = conv2d_backward_data(dy, w, xs, cl, a);
      axpy_(*acc, dx, 1.f);
      return *acc;
    }
    Tensor dx = *acc;
    enqueue(dy.device(), [dx, dy, w, p] { cpu::conv2d_backward_data(dx.f32(), dy.f32(), w.f32(), p, true); });
    return dx;
  }
  Tensor dx = cl ? empty_channels_last(xs, dt, dy.device()) : rn::empty(xs, dt, dy.device());
  if (dx.numel() == 0) return dx;
  if (dy.numel() == 0 || w.numel() == 0) {  // no output channels: the gradient is 0
    fill_(dx, 0.0);
    return dx;
  }
  if (dy.device() == Device::CUDA) {
    cuda::conv2d_backward_data(dx.raw(), dy.raw(), w.raw(), p, dt);
    return dx;
  }
  enqueue(dy.device(), [dx, dy, w, p] { cpu::conv2d_backward_data(dx.f32(), dy.f32(), w.f32(), p); });
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& dy0, const Tensor& x0, const Shape& ws, const Conv2dArgs& a) {
  const DType dt = check_float_storage(dy0, "conv2d backward", "grad");
  check_float_storage(x0, "conv2d backward", "input");
  check_device(dy0, x0, "conv2d backward", "grad", "input");
  check_same_dtype(dy0, x0, "conv2d backward", "grad", "input");
  cpu::ConvParams p = params(x0.shape, ws, a, "conv2d backward");
  Shape ys{p.N, p.K, p.P, p.Q};
  RN_CHECK_SHAPE(dy0.shape == ys, "conv2d backward: grad has shape ", shape_str(dy0.shape), " but the output was ", shape_str(ys));
  p.channels_last = x0.is_channels_last() && !x0.is_contiguous();
  Tensor x = p.channels_last ? x0 : contiguous(x0);
  Tensor dy = p.channels_last ? to_channels_last(dy0) : contiguous(dy0);
  Tensor dw = rn::empty(ws, dt, x.device());
  if (dw.numel() == 0) return dw;
  if (dy.numel() == 0 || x.numel() == 0) {  // empty batch: the gradient is 0
    fill_(dw, 0.0);
    return dw;
  }
  if (x.device() == Device::CUDA) {
    cuda::conv2d_backward_weight(dw.raw(), dy.raw(), x.raw(), p, dt);
    return dw;
  }
  enqueue(x.device(), [dw, dy, x, p] { cpu::conv2d_backward_weight(dw.f32(), dy.f32(), x.f32(), p); });
  return dw;
}

}  // namespace ops
}  // namespace rn
