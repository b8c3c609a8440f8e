// Dispatch for the optimiser ops: check every tensor of a parameter group (dtype, device, shape,
// memory layout), bring gradients into their parameter's layout when they differ, then enqueue
// one multi-tensor kernel call (cpu/optim.cc) for the whole group.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include "optim.h"
#include "../cuda/backend.h"

namespace rn {
namespace ops {
namespace {

// Non-overlapping and dense: some permutation of the dims (ignoring size-1 dims) has contiguous
// strides, so the elements fill [offset, offset + numel) and a flat loop visits each once.
bool dense_span(const Tensor& t) {
  std::vector<std::pair<int64_t, int64_t>> d;  // (stride, size)
  for (size_t i = 0; i < t.shape.size(); i++)
    if (t.shape[i] != 1) d.push_back({t.strides[i], t.shape[i]});
  std::sort(d.begin(), d.end());
  int64_t expect = 1;
  for (auto& [st, sz] : d) {
    if (sz == 0) return true;
    if (st != expect) return false;
    expect *= sz;
  }
  return true;
}
// Same element order in memory (strides equal on every dim of size > 1).
bool same_order(const Tensor& a, const Tensor& b) {
  if (a.shape != b.shape) return false;
  for (size_t i = 0; i < a.shape.size(); i++)
    if (a.shape[i] != 1 && a.strides[i] != b.strides[i]) return false;
  return true;
}
std::string nth(const char* name, size_t i) { return cat(name, "[", i, "]"); }

void check_count(size_t n, size_t want, const char* op, const char* name) {
  if (n != want) throw_arg(cat(op, ": expected ", want, " ", name, " (one per parameter) but received ", n));
}
void check_hyper(bool ok, const char* op, const char* name, const char* what, double v) {
  if (!ok) throw_range(cat("Expected ", what, " for ", op, "(", name, ") but received ", v, " of type number"));
}

// A parameter: float32 (CPU or CUDA), dense in memory.
void check_param(const Tensor& p, const char* op, size_t i) {
  std::string n = nth("params", i);
  check_f32(p, op, n.c_str());
  if (!dense_span(p))
    throw_shape(cat(op, ": ", n, " of shape ", shape_str(p.shape), " is not dense in memory (strides ", shape_str(p.strides),
                    "); optimisers update parameters in place and need a contiguous or channels-last tensor"));
}
// The gradient of params[i], in the parameter's layout (a copy is enqueued when it differs).
Tensor grad_for(const Tensor& p, const Tensor& g, const char* op, size_t i) {
  std::string n = nth("grads", i);
  check_f32(g, op, n.c_str());
  check_device(p, g, op, nth("params", i).c_str(), n.c_str());
  RN_CHECK_SHAPE(g.shape == p.shape, op, ": ", n, " has shape ", shape_str(g.shape), " but params[", i, "] has shape ",
                 shape_str(p.shape));
  if (same_order(g, p)) return g;
  Tensor t = empty_strided_like(p, DType::F32);
  t.strides = p.strides;  // exactly the parameter's order, even for exotic dense layouts
  copy_(t, g);
  return t;
}
// A state tensor of params[i]: same shape and memory order as the parameter.
void check_state(const Tensor& p, const Tensor& s, const char* op, const char* name, size_t i) {
  std::string n = nth(name, i);
  check_f32(s, op, n.c_str());
  check_device(p, s, op, nth("params", i).c_str(), n.c_str());
  RN_CHECK_SHAPE(s.shape == p.shape, op, ": ", n, " has shape ", shape_str(s.shape), " but params[", i, "] has shape ",
                 shape_str(p.shape));
  if (!same_order(s, p))
    throw_shape(cat(op, ": ", n, " has strides ", shape_str(s.strides), " but params[", i, "] has strides ", shape_str(p.strides),
                    " (state must share the parameter's memory layout)"));
}
}  // namespace

Tensor empty_like(const Tensor& t) {
  check_live(t, "emptyLike", "tensor");
  Tensor out = empty_strided_like(t, t.dtype);
  if (dense_span(t) && !t.is_contiguous() && !t.is_channels_last()) {
    // keep an unusual dense order too (e.g. a transposed parameter): same strides, offset 0
    out = rn::empty(t.shape, t.dtype, t.device());
    out.strides = t.strides;
  }
  return out;
}

void sgd_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& bufs,
               const std::vector<bool>& init, const SgdArgs& a) {
  const char* op = "sgd_step";
  const size_t n = params.size();
  check_count(grads.size(), n, op, "grads");
  check_count(bufs.size(), n, op, "momentum buffers");
  check_count(init.size(), n, op, "init flags");
  check_hyper(a.lr >= 0 && std::isfinite(a.lr), op, "lr", "a non-negative number", a.lr);
  check_hyper(a.momentum >= 0 && std::isfinite(a.momentum), op, "momentum", "a non-negative number", a.momentum);
  check_hyper(std::isfinite(a.dampening), op, "dampening", "a finite number", a.dampening);
  check_hyper(a.weight_decay >= 0 && std::isfinite(a.weight_decay), op, "weightDecay", "a non-negative number", a.weight_decay);
  if (a.nesterov && (a.momentum <= 0 || a.dampening != 0))
    throw_range(cat(op, ": Nesterov momentum requires a momentum > 0 and zero dampening (momentum ", a.momentum, ", dampening ",
                    a.dampening, ")"));
  std::vector<Tensor> P(n), G(n), M(n);
  for (size_t i = 0; i < n; i++) {
    check_param(params[i], op, i);
    if (i) check_device(params[0], params[i], op, "params[0]", nth("params", i).c_str());
    G[i] = grad_for(params[i], grads[i], op, i);
    P[i] = params[i];
    if (a.momentum != 0) {
      if (!bufs[i].storage) throw_arg(cat(op, ": momentum ", a.momentum, " needs momentum buffers[", i, "]"));
      check_state(params[i], bufs[i], op, "momentum buffers", i);
      M[i] = bufs[i];
    }
  }
  if (n == 0) return;
  cpu::SgdHyper h{(float)a.lr, (float)a.momentum, (float)(1.0 - a.dampening), (float)a.weight_decay, a.nesterov, a.maximize};
  std::vector<bool> fresh = init;
  auto run = [P, G, M, fresh, h](bool on_cuda) {
    std::vector<cpu::SgdTensor> ts(P.size());
    for (size_t i = 0; i < P.size(); i++)
      ts[i] = {P[i].f32(), M[i].storage ? M[i].f32() : nullptr, G[i].f32(), P[i].numel(), (bool)fresh[i]};
    if (on_cuda) cuda::sgd_step_multi(ts.data(), (int64_t)ts.size(), h);  // launched on the device stream, in order
    else cpu::sgd_step_multi(ts.data(), (int64_t)ts.size(), h);
  };
  if (P[0].device() == Device::CUDA) run(true);
  else enqueue(P[0].device(), [run] { run(false); });
}

void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const std::vector<Tensor>& exp_avgs,
                 const std::vector<Tensor>& exp_avg_sqs, const std::vector<Tensor>& max_exp_avg_sqs,
                 const std::vector<double>& steps, const AdamwArgs& a) {
  const char* op = "adamw_step";
  const size_t n = params.size();
  check_count(grads.size(), n, op, "grads");
  check_count(exp_avgs.size(), n, op, "exp_avg tensors");
  check_count(exp_avg_sqs.size(), n, op, "exp_avg_sq tensors");
  if (a.amsgrad) check_count(max_exp_avg_sqs.size(), n, op, "max_exp_avg_sq tensors");
  check_count(steps.size(), n, op, "step counts");
  check_hyper(a.lr >= 0 && std::isfinite(a.lr), op, "lr", "a non-negative number", a.lr);
  check_hyper(a.beta1 >= 0 && a.beta1 < 1, op, "beta1", "a number in [0, 1)", a.beta1);
  check_hyper(a.beta2 >= 0 && a.beta2 < 1, op, "beta2", "a number in [0, 1)", a.beta2);
  check_hyper(a.eps >= 0 && std::isfinite(a.eps), op, "eps", "a non-negative number", a.eps);
  check_hyper(a.weight_decay >= 0 && std::isfinite(a.weight_decay), op, "weightDecay", "a non-negative number", a.weight_decay);
  std::vector<Tensor> P(n), G(n), M(n), V(n), VM(n);
  std::vector<cpu::AdamwTensor> ts(n);
  for (size_t i = 0; i < n; i++) {
    check_param(params[i], op, i);
    if (i) check_device(params[0], params[i], op, "params[0]", nth("params", i).c_str());
    G[i] = grad_for(params[i], grads[i], op, i);
    P[i] = params[i];
    check_state(params[i], exp_avgs[i], op, "exp_avg", i);
    check_state(params[i], exp_avg_sqs[i], op, "exp_avg_sq", i);
    M[i] = exp_avgs[i];
    V[i] = exp_avg_sqs[i];
    if (a.amsgrad) {
      check_state(params[i], max_exp_avg_sqs[i], op, "max_exp_avg_sq", i);
      VM[i] = max_exp_avg_sqs[i];
    }
    const double step = steps[i];
    if (!(step >= 1 && std::floor(step) == step && step <= 9007199254740991.0))
      throw_range(cat("Expected a positive integer for ", op, "(steps[", i, "]) but received ", step, " of type number"));
    // torch: bias_correction1 = 1 - beta1 ** step; step_size = lr / bias_correction1;
    //        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)   (Python floats = double)
    const double bc1 = 1.0 - std::pow(a.beta1, step), bc2 = 1.0 - std::pow(a.beta2, step);
    ts[i].step_size = (float)(a.lr / bc1);
    ts[i].bias_correction2_sqrt = (float)std::sqrt(bc2);
  }
  if (n == 0) return;
  cpu::AdamwHyper h{(float)(1.0 - a.lr * a.weight_decay), (float)a.beta1, (float)a.beta2, (float)(1.0 - a.beta1),
                    (float)(1.0 - a.beta2), (float)a.eps, a.amsgrad, a.maximize};
  auto run = [P, G, M, V, VM, ts, h](bool on_cuda) mutable {
    for (size_t i = 0; i < P.size(); i++) {
      ts[i].param = P[i].f32();
      ts[i].exp_avg = M[i].f32();
      ts[i].exp_avg_sq = V[i].f32();
      ts[i].max_exp_avg_sq = VM[i].storage ? VM[i].f32() : nullptr;
      ts[i].grad = G[i].f32();
      ts[i].n = P[i].numel();
    }
    if (on_cuda) cuda::adamw_step_multi(ts.data(), (int64_t)ts.size(), h);  // launched on the device stream, in order
    else cpu::adamw_step_multi(ts.data(), (int64_t)ts.size(), h);
  };
  if (P[0].device() == Device::CUDA) run(true);
  else enqueue(P[0].device(), [run]() mutable { run(false); });
}

Tensor clip_grad_norm_(const std::vector<Tensor>& grads, double max_norm, double norm_type) {
  const char* op = "clip_grad_norm";
  if (std::isnan(max_norm) || max_norm < 0)
    throw_range(cat("Expected a non-negative number for ", op, "(maxNorm) but received ", max_norm, " of type number"));
  if (!(norm_type > 0))  // also rejects NaN
    throw_range(cat("Expected a positive number or Infinity for ", op, "(normType) but received ", norm_type, " of type number"));
  const size_t n = grads.size();
  for (size_t i = 0; i < n; i++) {
    std::string nm = nth("grads", i);
    check_f32(grads[i], op, nm.c_str());
    require_cpu(grads[i], op);
    if (i) check_device(grads[0], grads[i], op, "grads[0]", nm.c_str());
    if (!dense_span(grads[i]))
      throw_shape(cat(op, ": ", nm, " of shape ", shape_str(grads[i].shape), " is not dense in memory (strides ",
                      shape_str(grads[i].strides), ")"));
  }
  Tensor total = rn::empty({}, DType::F32, n ? grads[0].device() : Device::CPU);
  std::vector<Tensor> G = grads;
  const float maxf = (float)max_norm;
  enqueue(total.device(), [G, total, maxf, norm_type] {
    const size_t k = G.size();
    std::vector<const float*> xs(k);
    std::vector<float*> ws(k);
    std::vector<int64_t> ns(k);
    for (size_t i = 0; i < k; i++) {
      ws[i] = G[i].f32();
      xs[i] = ws[i];
      ns[i] = G[i].numel();
    }
    std::vector<double> s(k);
    cpu::abs_pow_sum_multi(s.data(), xs.data(), ns.data(), (int64_t)k, norm_type);
    // torch: total = norm(stack([norm(g, p) for g in grads]), p), each norm a float32 tensor
    const bool inf = std::isinf(norm_type);
    float tot;
    if (inf) {
      tot = 0.f;
      for (double v : s) {
        float f = (float)v;
        if (std::isnan(tot)) break;
        if (std::isnan(f) || f > tot) tot = f;
      }
    } else {
      auto root = [&](double v) { return norm_type == 2.0 ? std::sqrt(v) : norm_type == 1.0 ? v : std::pow(v, 1.0 / norm_type); };
      double acc = 0.0;
      for (double v : s) {
        double f = (double)(float)root(v);
        acc += norm_type == 2.0 ? f * f : norm_type == 1.0 ? f : std::pow(f, norm_type);
      }
      tot = (float)root(acc);
    }
    *total.f32() = tot;
    if (std::isinf(maxf)) return;  // norm only (never scales, even by inf / inf)
    // clip_coef = max_norm / (total + 1e-6), clamped to 1 (NaN stays NaN, as torch.clamp)
    float coef = maxf / (tot + 1e-6f);
    if (coef > 1.f) coef = 1.f;
    if (coef != 1.f) cpu::scale_multi(ws.data(), ns.data(), (int64_t)k, coef);  // x * 1 == x: skipping is exact
  });
  return total;
}

}  // namespace ops
}  // namespace rn
