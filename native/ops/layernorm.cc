#include "ops.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {

std::tuple<Tensor, Tensor, Tensor> layernorm_forward(const Tensor& x0, int64_t D, const Tensor* gamma,
                                                     const Tensor* beta, float eps) {
  check_f32(x0, "layerNorm", "input");
  int64_t n = x0.numel();
  if (D <= 0 || n % D) throw_shape(cat("layerNorm: normalized size ", D, " does not divide input shape ", shape_str(x0.shape)));
  for (const Tensor* t : {gamma, beta})
    if (t) {
      check_f32(*t, "layerNorm", t == gamma ? "weight" : "bias");
      check_device(x0, *t, "layerNorm", "input", t == gamma ? "weight" : "bias");
      RN_CHECK_SHAPE(t->numel() == D, "layerNorm: ", (t == gamma ? "weight" : "bias"), " has shape ", shape_str(t->shape),
                     " but the normalized size is ", D);
    }
  if (!(eps > 0.f)) throw_range(cat("Expected a positive number for layerNorm(eps) but received ", eps));
  Tensor x = contiguous(x0), y = rn::empty(x.shape, DType::F32, x.device());
  int64_t rows = n / D;
  Tensor m = rn::empty({rows}, DType::F32, x.device()), r = rn::empty({rows}, DType::F32, x.device());
  Tensor g = gamma ? contiguous(*gamma) : Tensor(), b = beta ? contiguous(*beta) : Tensor();
  if (x.device() == Device::CUDA) {
    cuda::layernorm_forward(y.f32(), m.f32(), r.f32(), x.f32(), g.storage ? g.f32() : nullptr, b.storage ? b.f32() : nullptr,
                            rows, D, eps);
    return {y, m, r};
  }
  enqueue(x.device(), [=] {
    cpu::layernorm_forward(y.f32(), m.f32(), r.f32(), x.f32(), g.storage ? g.f32() : nullptr, b.storage ? b.f32() : nullptr, rows, D, eps);
  });
  return {y, m, r};
}

std::tuple<Tensor, Tensor, Tensor> layernorm_backward(const Tensor& dy0, const Tensor& x0, const Tensor* gamma,
                                                      const Tensor& mean, const Tensor& rstd, int64_t D) {
  check_f32(dy0, "layerNorm backward", "grad");
  check_f32(x0, "layerNorm backward", "input");
  check_device(dy0, x0, "layerNorm backward", "grad", "input");
  RN_CHECK_SHAPE(dy0.shape == x0.shape, "layerNorm backward: grad ", shape_str(dy0.shape), " vs input ", shape_str(x0.shape));
  int64_t n = x0.numel();
  if (D <= 0 || n % D) throw_shape(cat("layerNorm backward: normalized size ", D, " does not divide ", shape_str(x0.shape)));
  int64_t rows = n / D;
  check_f32(mean, "layerNorm backward", "mean");
  check_f32(rstd, "layerNorm backward", "rstd");
  check_device(x0, mean, "layerNorm backward", "input", "mean");
  check_device(x0, rstd, "layerNorm backward", "input", "rstd");
  RN_CHECK_SHAPE(mean.numel() == rows && rstd.numel() == rows, "layerNorm backward: saved statistics do not match the input");
  if (gamma) {
    check_f32(*gamma, "layerNorm backward", "weight");
    check_device(x0, *gamma, "layerNorm backward", "input", "weight");
    RN_CHECK_SHAPE(gamma->numel() == D, "layerNorm backward: weight has shape ", shape_str(gamma->shape), " but the normalized size is ", D);
  }
  Tensor dy = contiguous(dy0), x = contiguous(x0), dx = rn::empty(x.shape, DType::F32, x.device());
  Tensor g = gamma ? contiguous(*gamma) : Tensor();
  Tensor dg = rn::empty({D}, DType::F32, x.device()), db = rn::empty({D}, DType::F32, x.device());
  Tensor m = contiguous(mean), r = contiguous(rstd);
  if (x.device() == Device::CUDA) {
    cuda::layernorm_backward(dx.f32(), dg.f32(), db.f32(), dy.f32(), x.f32(), g.storage ? g.f32() : nullptr, m.f32(), r.f32(),
                             rows, D);
    return {dx, dg, db};
  }
  enqueue(x.device(), [=] {
    cpu::layernorm_backward(dx.f32(), dg.f32(), db.f32(), dy.f32(), x.f32(), g.storage ? g.f32() : nullptr, m.f32(), r.f32(), rows, D);
  });
  return {dx, dg, db};
}

}  // namespace ops
}  // namespace rn
