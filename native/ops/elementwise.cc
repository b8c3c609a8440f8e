#include "ops.h"
#include "../core/profile.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {
namespace {
const char* unary_name(cpu::Unary op) {
  static const char* n[] = {"relu", "sigmoid", "tanh", "gelu", "gelu", "exp", "log", "neg", "sqrt", "abs", "square", "rsqrt", "reciprocal"};
  return n[(int)op];
}
const char* binary_name(cpu::Binary op) {
  static const char* n[] = {"add", "sub", "mul", "div", "maximum", "minimum", "eq", "gt", "lt", "pow"};
  return n[(int)op];
}
// Output keeps a dense input's memory format (channels-last stays channels-last).
Tensor out_like(const Tensor& x) { return empty_strided_like(x, DType::F32); }
bool same_layout(const Tensor& a, const Tensor& b) { return a.shape == b.shape && a.strides == b.strides; }
Tensor dense(const Tensor& x) { return x.is_contiguous() || x.is_channels_last() ? x : contiguous(x); }
}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t nd = std::max(a.size(), b.size());
  Shape out(nd);
  for (size_t i = 0; i < nd; i++) {
    int64_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
    int64_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
    if (da != db && da != 1 && db != 1)
      throw_shape(cat(op, ": shapes ", shape_str(a), " and ", shape_str(b), " cannot be broadcast together"));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor unary(cpu::Unary op, const Tensor& x0) {
  const char* name = unary_name(op);
  if (profile::enabled()) profile::set_current(name);
  check_f32(x0, name, "input");
  Tensor x = dense(x0), y = out_like(x);
  if (x.device() == Device::CUDA) {
    cuda::unary_forward(y.f32(), x.f32(), x.numel(), op);
    return y;
  }
  enqueue(x.device(), [x, y, op] { cpu::unary_forward(y.f32(), x.f32(), x.numel(), op); });
  return y;
}

Tensor unary_backward(cpu::Unary op, const Tensor& dy0, const Tensor& x0, const Tensor& y0) {
  const char* name = unary_name(op);
  check_f32(dy0, name, "grad");
  // x and y are optional (empty Tensors); given ones must match the gradient exactly
  if (x0.storage) {
    check_f32(x0, name, "input");
    check_device(dy0, x0, name, "grad", "input");
    RN_CHECK_SHAPE(x0.shape == dy0.shape, name, " backward: grad has shape ", shape_str(dy0.shape), " but input has ", shape_str(x0.shape));
  }
  if (y0.storage) {
    check_f32(y0, name, "output");
    check_device(dy0, y0, name, "grad", "output");
    RN_CHECK_SHAPE(y0.shape == dy0.shape, name, " backward: grad has shape ", shape_str(dy0.shape), " but output has ", shape_str(y0.shape));
  }
  Tensor dy = dense(dy0);
  Tensor x = x0.storage ? dense(x0) : x0, y = y0.storage ? dense(y0) : y0;
  // The kernel walks all three flat: give them one layout.
  auto align = [&](Tensor& t) { if (t.storage && !same_layout(t, dy)) { dy = contiguous(dy); t = contiguous(t); } };
  align(x); align(y); align(x);
  // Each rule reads exactly one saved tensor (neg none): the one it reads must be there, or the
  // kernel would dereference a null pointer (the native entry point takes null for both).
  const bool needs_x = op == cpu::Unary::Gelu || op == cpu::Unary::GeluTanh || op == cpu::Unary::Log ||
                       op == cpu::Unary::Abs || op == cpu::Unary::Square;
  const bool needs_y = !needs_x && op != cpu::Unary::Neg;
  if (needs_x && !x.storage) throw_arg(cat(name, " backward: needs the forward input (received null)"));
  if (needs_y && !y.storage) throw_arg(cat(name, " backward: needs the forward output (received null)"));
  const Tensor& ref = x.storage ? x : y.storage ? y : dy;
  RN_CHECK_SHAPE(ref.shape == dy.shape, name, " backward: grad has shape ", shape_str(dy.shape), " but input has ", shape_str(ref.shape));
  Tensor dx = out_like(dy);
  if (dy.device() == Device::CUDA) {
    cuda::unary_backward(dx.f32(), dy.f32(), x.storage ? x.f32() : nullptr, y.storage ? y.f32() : nullptr, dy.numel(), op);
    return dx;
  }
  enqueue(dy.device(), [dx, dy, x, y, op] {
    cpu::unary_backward(dx.f32(), dy.f32(), x.storage ? x.f32() : nullptr, y.storage ? y.f32() : nullptr, dy.numel(), op);
  });
  return dx;
}

Tensor binary(cpu::Binary op, const Tensor& a0, const Tensor& b0) {
  const char* name = binary_name(op);
  if (profile::enabled()) profile::set_current(name);
  check_f32(a0, name, "input");
  check_f32(b0, name, "other");
  check_device(a0, b0, name, "input", "other");
  Shape shape = broadcast_shapes(a0.shape, b0.shape, name);
  const bool on_cuda = a0.device() == Device::CUDA;
  Tensor a = a0, b = b0;
  // Same-layout dense operands (e.g. both channels-last): one flat pass, output in that layout.
  if (a.shape == b.shape && same_layout(a, b) && (a.is_contiguous() || a.is_channels_last())) {
    Tensor y = out_like(a);
    Shape flat{a.numel()}, st{1};
    if (on_cuda) {
      cuda::binary_forward(y.f32(), a.f32(), b.f32(), flat, st, st, op);
      return y;
    }
    enqueue(a.device(), [y, a, b, op, flat, st] { cpu::binary_forward(y.f32(), a.f32(), b.f32(), flat, st, st, op); });
    return y;
  }
  Tensor y = rn::empty(shape, DType::F32, a.device());
  auto bstrides = [&](const Tensor& t) {
    Shape s(shape.size(), 0);
    size_t off = shape.size() - t.shape.size();
    for (size_t i = 0; i < t.shape.size(); i++) s[off + i] = t.shape[i] == 1 ? 0 : t.strides[i];
    return s;
  };
  Shape sa = bstrides(a), sb = bstrides(b);
  if (on_cuda) {
    cuda::binary_forward(y.f32(), a.f32(), b.f32(), shape, sa, sb, op);
    return y;
  }
  enqueue(a.device(), [y, a, b, op, shape, sa, sb] { cpu::binary_forward(y.f32(), a.f32(), b.f32(), shape, sa, sb, op); });
  return y;
}

Tensor scalar(cpu::ScalarOp op, const Tensor& x0, float s) {
  check_f32(x0, "scalar op", "input");
  Tensor x = dense(x0), y = out_like(x);
  if (x.device() == Device::CUDA) {
    cuda::scalar_forward(y.f32(), x.f32(), s, x.numel(), op);
    return y;
  }
  enqueue(x.device(), [x, y, op, s] { cpu::scalar_forward(y.f32(), x.f32(), s, x.numel(), op); });
  return y;
}

void axpy_(const Tensor& y, const Tensor& x0, float alpha) {
  check_f32(y, "add_", "self");
  check_f32(x0, "add_", "other");
  check_device(y, x0, "add_", "self", "other");
  RN_CHECK_SHAPE(y.shape == x0.shape, "add_: self has shape ", shape_str(y.shape), " but other has ", shape_str(x0.shape));
  if (!(y.is_contiguous() || y.is_channels_last())) throw_shape("add_: self must be dense");
  Tensor x = x0;
  if (!same_layout(x, y)) {  // bring other into self's layout
    Tensor t = empty_strided_like(y, DType::F32);
    copy_(t, x0);
    x = t;
  }
  Tensor yy = y;
  if (y.device() == Device::CUDA) {
    cuda::axpy(yy.f32(), x.f32(), alpha, yy.numel());
    return;
  }
  enqueue(y.device(), [yy, x, alpha] { cpu::axpy(yy.f32(), x.f32(), alpha, yy.numel()); });
}

Tensor dropout_forward(const Tensor& x0, float p, uint64_t seed, uint64_t offset) {
  check_f32(x0, "dropout", "input");
  if (!(p >= 0.f && p <= 1.f)) throw_range(cat("Expected a probability in [0, 1] for dropout(p) but received ", p));
  Tensor x = contiguous(x0), y = rn::empty(x.shape, DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::dropout_forward(y.f32(), x.f32(), x.numel(), p, seed, offset);
    return y;
  }
  enqueue(x.device(), [x, y, p, seed, offset] { cpu::dropout_forward(y.f32(), x.f32(), x.numel(), p, seed, offset); });
  return y;
}

Tensor dropout_backward(const Tensor& dy0, float p, uint64_t seed, uint64_t offset) {
  check_f32(dy0, "dropout", "grad");
  if (!(p >= 0.f && p <= 1.f)) throw_range(cat("Expected a probability in [0, 1] for dropout(p) but received ", p));
  Tensor dy = contiguous(dy0), dx = rn::empty(dy.shape, DType::F32, dy.device());
  if (dy.device() == Device::CUDA) {  // the same mask and scale: backward is the forward on dy
    cuda::dropout_forward(dx.f32(), dy.f32(), dy.numel(), p, seed, offset);
    return dx;
  }
  enqueue(dy.device(), [dx, dy, p, seed, offset] { cpu::dropout_backward(dx.f32(), dy.f32(), dy.numel(), p, seed, offset); });
  return dx;
}

}  // namespace ops
}  // namespace rn
