#include "ops.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {
namespace {
void check_vec(const Tensor* t, int64_t C, const Tensor& x, const char* name) {
  if (!t) return;
  check_f32(*t, "batchNorm2d", name);
  check_device(x, *t, "batchNorm2d", "input", name);
  if (t->dim() != 1 || t->shape[0] != C || !t->is_contiguous())
    throw_shape(cat("batchNorm2d: input has ", C, " channels but ", name, " has shape ", shape_str(t->shape)));
}
}  // namespace

std::tuple<Tensor, Tensor, Tensor> batchnorm_forward(const Tensor& x0, const Tensor* gamma, const Tensor* beta,
                                                     const Tensor* rm, const Tensor* rv, bool training,
                                                     float momentum, float eps) {
  check_f32(x0, "batchNorm2d", "input");
  if (x0.dim() < 2 || x0.dim() > 4)
    throw_shape(cat("batchNorm2d: expected a 2-D, 3-D or 4-D input [N, C, ...] but received shape ", shape_str(x0.shape)));
  const int64_t N = x0.shape[0], C = x0.shape[1];
  int64_t HW = 1;
  for (int64_t i = 2; i < x0.dim(); i++) HW *= x0.shape[i];
  check_vec(gamma, C, x0, "weight");
  check_vec(beta, C, x0, "bias");
  check_vec(rm, C, x0, "running_mean");
  check_vec(rv, C, x0, "running_var");
  if (!(eps > 0.f)) throw_range(cat("Expected a positive number for batchNorm2d(eps) but received ", eps));
  if (!training && (!rm || !rv)) throw_arg("batchNorm2d: eval mode needs running_mean and running_var");
  if (training && N * HW <= 1)
    throw_shape(cat("batchNorm2d: expected more than 1 value per channel when training, got input shape ", shape_str(x0.shape)));
  bool cl = x0.is_channels_last() && !x0.is_contiguous();
  Tensor x = cl ? x0 : contiguous(x0);
  Tensor y = empty_strided_like(x, DType::F32);
  Tensor g = gamma ? *gamma : Tensor(), b = beta ? *beta : Tensor();
  Tensor m = rm ? *rm : Tensor(), v = rv ? *rv : Tensor();
  const bool on_cuda = x.device() == Device::CUDA;
  if (!training) {
    if (on_cuda) {
      cuda::batchnorm_forward_eval(y.f32(), x.f32(), g.storage ? g.f32() : nullptr, b.storage ? b.f32() : nullptr, m.f32(),
                                   v.f32(), N, C, HW, cl, eps);
      return {y, Tensor(), Tensor()};
    }
    enqueue(x.device(), [=] {
      cpu::batchnorm_forward_eval(y.f32(), x.f32(), g.storage ? g.f32() : nullptr, b.storage ? b.f32() : nullptr,
                                  m.f32(), v.f32(), N, C, HW, cl, eps);
    });
    return {y, Tensor(), Tensor()};
  }
  Tensor sm = rn::empty({C}, DType::F32, x.device()), si = rn::empty({C}, DType::F32, x.device());
  if (on_cuda) {
    cuda::batchnorm_forward_train(y.f32(), sm.f32(), si.f32(), m.storage ? m.f32() : nullptr, v.storage ? v.f32() : nullptr,
                                  x.f32(), g.storage ? g.f32() : nullptr, b.storage ? b.f32() : nullptr, N, C, HW, cl,
                                  momentum, eps);
    return {y, sm, si};
  }
  enqueue(x.device(), [=] {
    cpu::batchnorm_forward_train(y.f32(), sm.f32(), si.f32(), m.storage ? m.f32() : nullptr,
                                 v.storage ? v.f32() : nullptr, x.f32(), g.storage ? g.f32() : nullptr,
                                 b.storage ? b.f32() : nullptr, N, C, HW, cl, momentum, eps);
  });
  return {y, sm, si};
}

std::tuple<Tensor, Tensor, Tensor> batchnorm_backward(const Tensor& dy0, const Tensor& x0, const Tensor* gamma,
                                                      const Tensor& sm, const Tensor& si, bool training, float eps) {
  check_f32(dy0, "batchNorm2d backward", "grad");
  check_f32(x0, "batchNorm2d backward", "input");
  check_device(dy0, x0, "batchNorm2d backward", "grad", "input");
  RN_CHECK_SHAPE(dy0.shape == x0.shape, "batchNorm2d backward: grad has shape ", shape_str(dy0.shape), " but input has ", shape_str(x0.shape));
  if (x0.dim() < 2) throw_shape(cat("batchNorm2d backward: input shape ", shape_str(x0.shape)));
  const int64_t N = x0.shape[0], C = x0.shape[1];
  int64_t HW = 1;
  for (int64_t i = 2; i < x0.dim(); i++) HW *= x0.shape[i];
  check_vec(gamma, C, x0, "weight");
  check_vec(&sm, C, x0, "saved mean");
  check_vec(&si, C, x0, "saved invstd");
  bool cl = x0.is_channels_last() && !x0.is_contiguous();
  Tensor x = cl ? x0 : contiguous(x0);
  Tensor dy = cl ? to_channels_last(dy0) : contiguous(dy0);
  Tensor dx = empty_strided_like(x, DType::F32);
  Tensor dg = rn::empty({C}, DType::F32, x.device()), db = rn::empty({C}, DType::F32, x.device());
  Tensor g = gamma ? *gamma : Tensor();
  Tensor m = sm, s = si;
  if (x.device() == Device::CUDA) {
    if (training)
      cuda::batchnorm_backward(dx.f32(), dg.f32(), db.f32(), dy.f32(), x.f32(), g.storage ? g.f32() : nullptr, m.f32(),
                               s.f32(), N, C, HW, cl);
    else
      cuda::batchnorm_backward_eval(dx.f32(), dg.f32(), db.f32(), dy.f32(), x.f32(), g.storage ? g.f32() : nullptr,
                                    m.f32(), s.f32(), N, C, HW, cl, eps);
    return {dx, dg, db};
  }
  enqueue(x.device(), [=] {
    if (training)
      cpu::batchnorm_backward(dx.f32(), dg.f32(), db.f32(), dy.f32(), x.f32(), g.storage ? g.f32() : nullptr, m.f32(),
                              s.f32(), N, C, HW, cl);
    else
      cpu::batchnorm_backward_eval(dx.f32(), dg.f32(), db.f32(), dy.f32(), x.f32(), g.storage ? g.f32() : nullptr,
                                   m.f32(), s.f32(), N, C, HW, cl, eps);
  });
  return {dx, dg, db};
}

}  // namespace ops
}  // namespace rn
