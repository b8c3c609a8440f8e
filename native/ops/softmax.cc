#include "ops.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {
namespace {
void split(const Shape& s, int64_t dim, int64_t& outer, int64_t& C, int64_t& inner) {
  outer = 1; inner = 1;
  for (int64_t i = 0; i < dim; i++) outer *= s[i];
  for (int64_t i = dim + 1; i < (int64_t)s.size(); i++) inner *= s[i];
  C = s[dim];
}
int64_t norm_dim(int64_t dim, int64_t nd, const char* op) {
  if (nd == 0 || dim < -nd || dim >= nd) throw_range(cat(op, ": dim ", dim, " is out of range for a tensor of ", nd, " dimensions"));
  return dim < 0 ? dim + nd : dim;
}
}  // namespace

Tensor softmax_forward(const Tensor& x0, int64_t dim, bool log) {
  const char* op = log ? "logSoftmax" : "softmax";
  check_f32(x0, op, "input");
  dim = norm_dim(dim, x0.dim(), op);
  Tensor x = contiguous(x0), y = rn::empty(x.shape, DType::F32, x.device());
  int64_t o, c, i;
  split(x.shape, dim, o, c, i);
  if (x.device() == Device::CUDA) cuda::softmax_forward(y.f32(), x.f32(), o, c, i, log);
  else enqueue(x.device(), [=] { cpu::softmax_forward(y.f32(), x.f32(), o, c, i, log); });
  return y;
}

Tensor softmax_backward(const Tensor& dy0, const Tensor& y0, int64_t dim, bool log) {
  const char* op = log ? "logSoftmax backward" : "softmax backward";
  check_f32(dy0, op, "grad");
  check_f32(y0, op, "output");
  check_device(dy0, y0, op, "grad", "output");
  RN_CHECK_SHAPE(dy0.shape == y0.shape, op, ": grad ", shape_str(dy0.shape), " vs output ", shape_str(y0.shape));
  dim = norm_dim(dim, y0.dim(), op);
  Tensor dy = contiguous(dy0), y = contiguous(y0), dx = rn::empty(y.shape, DType::F32, y.device());
  int64_t o, c, i;
  split(y.shape, dim, o, c, i);
  if (y.device() == Device::CUDA) cuda::softmax_backward(dx.f32(), dy.f32(), y.f32(), o, c, i, log);
  else enqueue(y.device(), [=] { cpu::softmax_backward(dx.f32(), dy.f32(), y.f32(), o, c, i, log); });
  return dx;
}

std::tuple<Tensor, Tensor, Tensor> cross_entropy_forward(const Tensor& x0, const Tensor& t0, int reduction,
                                                         float smoothing, int32_t ignore_index) {
  check_f32(x0, "crossEntropy", "input");
  check_live(t0, "crossEntropy", "target");
  check_device(x0, t0, "crossEntropy", "input", "target");
  if (t0.dtype != DType::I32)
    throw RnError("ERR_RN_DTYPE", cat("crossEntropy: expected target of dtype int32 (class indices) but received ", dtype_name(t0.dtype)), ErrKind::Type);
  if (x0.dim() < 2) throw_shape(cat("crossEntropy: expected input [N, C, ...] but received shape ", shape_str(x0.shape)));
  Shape ts(x0.shape);
  ts.erase(ts.begin() + 1);
  if (t0.shape != ts)
    throw_shape(cat("crossEntropy: input ", shape_str(x0.shape), " needs target of shape ", shape_str(ts), " but received ", shape_str(t0.shape)));
  if (!(smoothing >= 0.f && smoothing <= 1.f)) throw_range(cat("Expected a number in [0, 1] for crossEntropy(labelSmoothing) but received ", smoothing));
  if (reduction < 0 || reduction > 2) throw_range(cat("crossEntropy: unknown reduction ", reduction));
  Tensor x = contiguous(x0), t = contiguous(t0);
  int64_t N = x.shape[0], C = x.shape[1], inner = 1;
  for (int64_t i = 2; i < x.dim(); i++) inner *= x.shape[i];
  if (C == 0) throw_shape("crossEntropy: input has 0 classes");
  Tensor losses = rn::empty(ts, DType::F32, x.device());
  Tensor logp = rn::empty(x.shape, DType::F32, x.device());
  Tensor count = rn::empty({1}, DType::I64, x.device());
  if (x.device() == Device::CUDA) {
    cuda::cross_entropy_forward(losses.f32(), logp.f32(), count.data<int64_t>(), x.f32(), t.data<int32_t>(), N, C, inner,
                                smoothing, ignore_index);
    if (reduction == 0) return {losses, logp, count};
    Tensor out = rn::empty({}, DType::F32, x.device());
    cuda::cross_entropy_reduce(out.f32(), losses.f32(), count.data<int64_t>(), N * inner, reduction);
    return {out, logp, count};
  }
  enqueue(x.device(), [=] {
    cpu::cross_entropy_forward(losses.f32(), logp.f32(), count.data<int64_t>(), x.f32(), t.data<int32_t>(), N, C, inner, smoothing, ignore_index);
  });
  if (reduction == 0) return {losses, logp, count};
  Tensor out = rn::empty({}, DType::F32, x.device());
  int64_t total = N * inner;
  enqueue(x.device(), [=] {
    double s = 0;
    const float* l = losses.f32();
    for (int64_t k = 0; k < total; k++) s += l[k];
    int64_t c = *count.data<int64_t>();
    // mean over non-ignored targets (PyTorch gives NaN when all are ignored: 0/0)
    *out.f32() = reduction == 1 ? (float)(s / (double)c) : (float)s;
  });
  return {out, logp, count};
}

Tensor cross_entropy_backward(const Tensor& dl0, const Tensor& logp, const Tensor& t0, const Tensor& count,
                              int reduction, float smoothing, int32_t ignore_index) {
  check_f32(dl0, "crossEntropy backward", "grad");
  check_f32(logp, "crossEntropy backward", "saved log-probabilities");
  check_live(t0, "crossEntropy backward", "target");
  check_live(count, "crossEntropy backward", "count");
  check_device(dl0, logp, "crossEntropy backward", "grad", "saved log-probabilities");
  check_device(t0, logp, "crossEntropy backward", "target", "saved log-probabilities");
  check_device(count, logp, "crossEntropy backward", "count", "saved log-probabilities");
  // the native entry point takes any tensors: check everything the kernel will index
  if (logp.dim() < 2) throw_shape(cat("crossEntropy backward: expected saved log-probabilities [N, C, ...] but received shape ", shape_str(logp.shape)));
  if (t0.dtype != DType::I32)
    throw RnError("ERR_RN_DTYPE", cat("crossEntropy backward: expected target of dtype int32 but received ", dtype_name(t0.dtype)), ErrKind::Type);
  if (count.dtype != DType::I64 || count.numel() != 1)
    throw RnError("ERR_RN_DTYPE", cat("crossEntropy backward: expected count as one int64 but received ", dtype_name(count.dtype), " ", shape_str(count.shape)), ErrKind::Type);
  {
    Shape ts(logp.shape);
    ts.erase(ts.begin() + 1);
    RN_CHECK_SHAPE(t0.shape == ts, "crossEntropy backward: saved log-probabilities ", shape_str(logp.shape), " need target of shape ",
                   shape_str(ts), " but received ", shape_str(t0.shape));
  }
  if (!(smoothing >= 0.f && smoothing <= 1.f)) throw_range(cat("Expected a number in [0, 1] for crossEntropy(labelSmoothing) but received ", smoothing));
  if (reduction < 0 || reduction > 2) throw_range(cat("crossEntropy backward: unknown reduction ", reduction));
  int64_t N = logp.shape[0], C = logp.shape[1], inner = 1;
  for (int64_t i = 2; i < logp.dim(); i++) inner *= logp.shape[i];
  bool per_sample = reduction == 0;
  if (per_sample) RN_CHECK_SHAPE(dl0.shape == t0.shape, "crossEntropy backward: grad ", shape_str(dl0.shape), " vs target ", shape_str(t0.shape));
  else RN_CHECK_SHAPE(dl0.numel() == 1, "crossEntropy backward: expected a scalar grad but received ", shape_str(dl0.shape));
  Tensor dl = contiguous(dl0), dx = rn::empty(logp.shape, DType::F32, logp.device());
  Tensor lp = contiguous(logp), t = contiguous(t0), cnt = contiguous(count);
  if (logp.device() == Device::CUDA) {
    cuda::cross_entropy_backward(dx.f32(), dl.f32(), per_sample, reduction, cnt.data<int64_t>(), lp.f32(), t.data<int32_t>(),
                                 N, C, inner, smoothing, ignore_index);
    return dx;
  }
  enqueue(logp.device(), [=] {
    float scale = reduction == 1 ? 1.f / (float)*cnt.data<int64_t>() : 1.f;
    cpu::cross_entropy_backward(dx.f32(), dl.f32(), per_sample, scale, lp.f32(), t.data<int32_t>(), N, C, inner, smoothing, ignore_index);
  });
  return dx;
}

}  // namespace ops
}  // namespace rn
