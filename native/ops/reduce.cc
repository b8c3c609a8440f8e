#include <algorithm>
#include "ops.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {

Tensor sum(const Tensor& x0, std::vector<int64_t> dims, bool keepdim, float scale) {
  check_f32(x0, "sum", "input");
  const int64_t nd = x0.dim();
  for (auto& d : dims) {
    if (d < -nd || d >= std::max<int64_t>(nd, 1)) throw_range(cat("sum: dim ", d, " is out of range for a tensor of ", nd, " dimensions"));
    if (d < 0) d += nd;
  }
  std::sort(dims.begin(), dims.end());
  dims.erase(std::unique(dims.begin(), dims.end()), dims.end());
  if (nd == 0) dims.clear();
  Tensor x = contiguous(x0);
  // Collapse the reduced dims one at a time, innermost first, as [outer, r, inner].
  Shape shape = x.shape;
  Tensor cur = x;
  float sc = scale;
  for (auto it = dims.rbegin(); it != dims.rend(); ++it) {
    int64_t d = *it;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < d; i++) outer *= shape[i];
    for (int64_t i = d + 1; i < (int64_t)shape.size(); i++) inner *= shape[i];
    int64_t r = shape[d];
    shape[d] = 1;
    Tensor out = rn::empty(shape, DType::F32, x.device());
    float s = sc;
    sc = 1.f;  // apply the scale once
    Tensor in = cur;
    if (x.device() == Device::CUDA) cuda::sum_dim(out.f32(), in.f32(), outer, r, inner, s);
    else enqueue(x.device(), [out, in, outer, r, inner, s] { cpu::sum_dim(out.f32(), in.f32(), outer, r, inner, s); });
    cur = out;
  }
  if (dims.empty()) cur = scalar(cpu::ScalarOp::Mul, cur, sc);  // always a fresh tensor
  if (!keepdim) {
    Shape ks;
    for (int64_t i = 0; i < (int64_t)shape.size(); i++)
      if (!std::binary_search(dims.begin(), dims.end(), i)) ks.push_back(shape[i]);
    cur.shape = ks;
    cur.strides = contiguous_strides(ks);
  }
  return cur;
}

std::pair<Tensor, Tensor> max_dim(const Tensor& x0, int64_t dim, bool keepdim) {
  check_f32(x0, "max", "input");
  const int64_t nd = x0.dim();
  if (nd == 0 || dim < -nd || dim >= nd) throw_range(cat("max: dim ", dim, " is out of range for a tensor of ", nd, " dimensions"));
  if (dim < 0) dim += nd;
  if (x0.shape[dim] == 0) throw_shape(cat("max: cannot reduce an empty dimension of shape ", shape_str(x0.shape)));
  Tensor x = contiguous(x0);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < dim; i++) outer *= x.shape[i];
  for (int64_t i = dim + 1; i < nd; i++) inner *= x.shape[i];
  Shape os = x.shape;
  if (keepdim) os[dim] = 1; else os.erase(os.begin() + dim);
  Tensor v = rn::empty(os, DType::F32, x.device()), idx = rn::empty(os, DType::I32, x.device());
  int64_t r = x.shape[dim];
  if (x.device() == Device::CUDA) {
    cuda::max_dim(v.f32(), idx.data<int32_t>(), x.f32(), outer, r, inner);
    return {v, idx};
  }
  enqueue(x.device(), [v, idx, x, outer, r, inner] { cpu::max_dim(v.f32(), idx.data<int32_t>(), x.f32(), outer, r, inner); });
  return {v, idx};
}

}  // namespace ops
}  // namespace rn
