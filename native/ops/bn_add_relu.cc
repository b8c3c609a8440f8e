// Checks, layout and dispatch for the fused BatchNorm2d (+ add) + ReLU op: CPU tensors enqueue
// cpu/bn_add_relu.cc on the CPU stream; CUDA tensors launch cuda/bn_add_relu.cu (which also takes
// bfloat16 / float16 activations; statistics and parameters stay float32).
#include "bn_add_relu.h"
#include "../cpu/bn_add_relu.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {
namespace {
void check_vec(const Tensor* t, int64_t C, const Tensor& x, const char* op, const char* name) {
  if (!t) return;
  check_f32(*t, op, name);
  check_device(x, *t, op, "input", name);
  if (t->dim() != 1 || t->shape[0] != C || !t->is_contiguous())
    throw_shape(cat(op, ": input has ", C, " channels but ", name, " has shape ", shape_str(t->shape)));
}
// Activations: float32 (CPU and CUDA), bfloat16 / float16 on CUDA (check.cc).
void check_act(const Tensor& t, const char* op, const char* name) { check_float_storage(t, op, name); }
void check_input(const Tensor& x, const char* op) {
  check_act(x, op, "input");
  if (x.dim() < 2 || x.dim() > 4)
    throw_shape(cat(op, ": expected a 2-D, 3-D or 4-D input [N, C, ...] but received shape ", shape_str(x.shape)));
}
int64_t spatial(const Tensor& x) {
  int64_t hw = 1;
  for (int64_t i = 2; i < x.dim(); i++) hw *= x.shape[i];
  return hw;
}
// Dense memory in the chosen layout (a no-op when t already has it).
Tensor in_layout(const Tensor& t, bool cl) { return cl ? to_channels_last(t) : contiguous(t); }
const float* ptr(const Tensor& t) { return t.storage ? t.f32() : nullptr; }
float* mptr(const Tensor& t) { return t.storage ? t.f32() : nullptr; }
void* raw(const Tensor& t) { return t.storage ? t.raw() : nullptr; }
}  // namespace

std::tuple<Tensor, Tensor, Tensor, Tensor> bn_add_relu_forward(const Tensor& x0, const Tensor* res, const Tensor* gamma,
                                                               const Tensor* beta, const Tensor* rm, const Tensor* rv,
                                                               bool training, float momentum, float eps, bool save_mask) {
  const char* op = res ? "batchNormAddRelu" : "batchNormRelu";
  check_input(x0, op);
  const int64_t N = x0.shape[0], C = x0.shape[1], HW = spatial(x0);
  if (res) {
    check_act(*res, op, "residual");
    check_device(x0, *res, op, "input", "residual");
    check_same_dtype(x0, *res, op, "input", "residual");
    RN_CHECK_SHAPE(res->shape == x0.shape, op, ": residual has shape ", shape_str(res->shape), " but input has shape ",
                   shape_str(x0.shape));
  }
  check_vec(gamma, C, x0, op, "weight");
  check_vec(beta, C, x0, op, "bias");
  check_vec(rm, C, x0, op, "running_mean");
  check_vec(rv, C, x0, op, "running_var");
  if (!(eps > 0.f)) throw_range(cat("Expected a positive number for ", op, "(eps) but received ", eps));
  if (!training && (!rm || !rv)) throw_arg(cat(op, ": eval mode needs running_mean and running_var"));
  if (training && N * HW <= 1)
    throw_shape(cat(op, ": expected more than 1 value per channel when training, got input shape ", shape_str(x0.shape)));
  const bool cl = x0.is_channels_last() && !x0.is_contiguous();
  Tensor x = in_layout(x0, cl);
  Tensor r = res ? in_layout(*res, cl) : Tensor();
  Tensor y = empty_strided_like(x, x.dtype);
  Tensor sm = rn::empty({C}, DType::F32, x.device()), si = rn::empty({C}, DType::F32, x.device());
  Tensor g = gamma ? *gamma : Tensor(), b = beta ? *beta : Tensor();
  Tensor m = rm ? *rm : Tensor(), v = rv ? *rv : Tensor();
  if (x.device() == Device::CUDA) {
    if (training)
      cuda::bn_add_relu_forward_train(y.raw(), sm.f32(), si.f32(), mptr(m), mptr(v), x.raw(), raw(r), ptr(g), ptr(b), N, C,
                                      HW, cl, momentum, eps, x.dtype);
    else
      cuda::bn_add_relu_forward_eval(y.raw(), sm.f32(), si.f32(), x.raw(), raw(r), ptr(g), ptr(b), m.f32(), v.f32(), N, C,
                                     HW, cl, eps, x.dtype);
    return {y, sm, si, Tensor()};
  }
  Tensor bits = save_mask && cpu::bn_add_relu_makes_masks()
                    ? rn::empty({cpu::bn_add_relu_mask_bytes(x.numel())}, DType::U8, x.device())
                    : Tensor();
  enqueue(x.device(), [=] {
    uint8_t* bp = bits.storage ? reinterpret_cast<uint8_t*>(bits.raw()) : nullptr;
    if (training)
      cpu::bn_add_relu_forward_train(y.f32(), sm.f32(), si.f32(), mptr(m), mptr(v), x.f32(), ptr(r), ptr(g), ptr(b), N,
                                     C, HW, cl, momentum, eps, bp);
    else
      cpu::bn_add_relu_forward_eval(y.f32(), sm.f32(), si.f32(), x.f32(), ptr(r), ptr(g), ptr(b), m.f32(), v.f32(), N,
                                    C, HW, cl, eps, bp);
  });
  return {y, sm, si, bits};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> bn_add_relu_backward(const Tensor& dy0, const Tensor& y0, const Tensor& x0,
                                                                const Tensor* gamma, const Tensor& sm,
                                                                const Tensor& si, bool training, bool has_res) {
  const char* op = has_res ? "batchNormAddRelu backward" : "batchNormRelu backward";
  check_input(x0, op);
  check_act(dy0, op, "grad");
  check_device(dy0, x0, op, "grad", "input");
  check_device(y0, x0, op, "output", "input");
  check_same_dtype(dy0, x0, op, "grad", "input");
  RN_CHECK_SHAPE(dy0.shape == x0.shape, op, ": grad has shape ", shape_str(dy0.shape), " but input has shape ",
                 shape_str(x0.shape));
  // y0: the forward's output, or the ReLU bit mask it saved instead (uint8, CPU)
  const bool bits = y0.dtype == DType::U8;
  if (bits) {
    const int64_t want = cpu::bn_add_relu_mask_bytes(x0.numel());
    if (y0.dim() != 1 || y0.shape[0] != want || !y0.is_contiguous() || y0.device() != Device::CPU)
      throw_shape(cat(op, ": expected a ReLU mask of ", want, " bytes for input shape ", shape_str(x0.shape),
                      " but received shape ", shape_str(y0.shape)));
  } else {
    check_act(y0, op, "output");
    check_same_dtype(y0, x0, op, "output", "input");
    RN_CHECK_SHAPE(y0.shape == x0.shape, op, ": output has shape ", shape_str(y0.shape), " but input has shape ",
                   shape_str(x0.shape));
  }
  const int64_t N = x0.shape[0], C = x0.shape[1], HW = spatial(x0);
  check_vec(gamma, C, x0, op, "weight");
  check_vec(&sm, C, x0, op, "saved mean");
  check_vec(&si, C, x0, op, "saved invstd");
  // the forward computed in the layout of its output, which is x's (y = empty_strided_like(x))
  const Tensor& lay = bits ? x0 : y0;
  const bool cl = lay.is_channels_last() && !lay.is_contiguous();
  Tensor y = bits ? y0 : in_layout(y0, cl), x = in_layout(x0, cl), dy = in_layout(dy0, cl);
  Tensor dx = empty_strided_like(x, x.dtype);
  Tensor dr = has_res ? empty_strided_like(x, x.dtype) : Tensor();
  Tensor dg = rn::empty({C}, DType::F32, x.device()), db = rn::empty({C}, DType::F32, x.device());
  Tensor g = gamma ? *gamma : Tensor();
  Tensor m = sm, s = si;
  if (x.device() == Device::CUDA) {
    cuda::bn_add_relu_backward(dx.raw(), raw(dr), dg.f32(), db.f32(), dy.raw(), y.raw(), x.raw(), ptr(g), m.f32(), s.f32(),
                               N, C, HW, cl, training, x.dtype);
    return {dx, dr, dg, db};
  }
  enqueue(x.device(), [=] {
    const uint8_t* bp = bits ? reinterpret_cast<const uint8_t*>(y.raw()) : nullptr;
    cpu::bn_add_relu_backward(dx.f32(), mptr(dr), dg.f32(), db.f32(), dy.f32(), bits ? nullptr : y.f32(), x.f32(),
                              ptr(g), m.f32(), s.f32(), N, C, HW, cl, training, bp);
  });
  return {dx, dr, dg, db};
}

}  // namespace ops
}  // namespace rn
