/**
 * Gradient clipping by global norm — torch.nn.utils.clip_grad_norm_ of PyTorch 1.13:
 *
 *     total = norm_p([norm_p(g) for g in grads])        (p = Infinity: max |g|)
 *     g *= min(1, maxNorm / (total + 1e-6))             in place, for every gradient
 *
 * On the CPU: one native call for all gradients: the norm (double accumulation over fixed
 * blocks, so the result does not depend on the thread count) and the scaling run on the stream;
 * nothing blocks. On CUDA: the same computation composed from device reductions and elementwise
 * ops (clipComposed; no fused kernel yet), also without a read-back.
 */
import { binding, ScalarOp } from '../binding';
import { invalidArg, rnError } from '../errors';
import { Tensor, wrap, tensor } from '../tensor';
import * as F from '../functional';
import { noGrad } from '../autograd';
import { tidy, keep } from '../memory';

export interface ClipGradNormOptions {
  /**
   * Throw ERR_RN_NAN (and leave the gradients untouched) when the total norm is NaN or
   * infinite. This needs the norm on the JS side, so it waits for the queued work (one
   * blocking read); off by default, as in torch.
   */
  errorIfNonfinite?: boolean;
}

/**
 * Clip the gradients of `params` (those with a gradient) to a global norm of at most `maxNorm`,
 * in place, and return the total norm before clipping as a 0-d float32 Tensor, as torch does
 * (read it with `await n.item()` / `n.itemSync()`; the caller owns it: dispose it or let a tidy
 * scope do so). `normType` is any p > 0, or Infinity / 'inf' for the max norm. With no
 * gradients at all the result is 0 and nothing changes.
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, normType: number | 'inf' = 2, opts: ClipGradNormOptions = {}): Tensor {
  const list = params instanceof Tensor ? [params] : params !== null && params !== undefined && typeof (params as Iterable<Tensor>)[Symbol.iterator] === 'function' ? [...params] : null;
  if (!list) throw invalidArg('a Tensor or an iterable of Tensors', 'clipGradNorm(params)', params);
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw invalidArg('a Tensor', `clipGradNorm(params[${i}])`, p);
  });
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw invalidArg('a non-negative number', 'clipGradNorm(maxNorm)', maxNorm);
  if (maxNorm < 0) throw invalidArg('a non-negative number', 'clipGradNorm(maxNorm)', maxNorm, 'ERR_RN_RANGE');
  const p = normType === 'inf' ? Infinity : normType;
  if (typeof p !== 'number' || Number.isNaN(p)) throw invalidArg('a positive number or Infinity', 'clipGradNorm(normType)', normType);
  if (!(p > 0)) throw invalidArg('a positive number or Infinity', 'clipGradNorm(normType)', normType, 'ERR_RN_RANGE');
  if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', 'clipGradNorm(options)', opts);
  const grads = list.map((t) => t.grad).filter((g): g is Tensor => g !== null && !g.isDisposed);
  if (grads.length === 0) return tensor(Float32Array.of(0), { shape: [] });
  const handles = grads.map((g) => g.h);
  const norm = (max: number) => (grads[0].device === 'cuda' ? clipComposed(grads, max, p, max !== Infinity) : wrap(binding().clipGradNorm(handles, max, p)));
  if (opts.errorIfNonfinite) {
    const total = norm(Infinity);
    const v = total.itemSync();
    if (!Number.isFinite(v)) {
      total.dispose();
      throw rnError(
        'ERR_RN_NAN',
        `clipGradNorm: the total norm of order ${p} of the gradients is ${v}, so they cannot be clipped (errorIfNonfinite is set; the gradients were left unchanged)`,
      );
    }
    if (maxNorm === Infinity) return total;
    total.dispose();
  }
  return norm(maxNorm);
}

/**
 * @internal clipGradNorm from device ops: per-gradient norms (max |g| for p = Infinity, else
 * (sum |g|^p)^(1/p)), their norm, and g *= min(1, maxNorm / (total + 1e-6)) written back into each
 * gradient (scale = false: the norm only). What runs for CUDA gradients; exported so the CPU tests
 * can hold it to the fused kernel.
 */
export function clipComposed(grads: readonly Tensor[], maxNorm: number, p: number, scale = true): Tensor {
  return noGrad(() =>
    tidy(() => {
      const pnorm = (a: Tensor) =>
        p === Infinity ? F.max(a, 0).values : p === 1 ? F.sum(a) : p === 2 ? F.pow(F.sum(F.mul(a, a)), 0.5) : F.pow(F.sum(F.pow(a, p)), 1 / p);
      const norms = grads.filter((g) => g.numel > 0).map((g) => F.reshape(pnorm(F.abs(F.reshape(F.contiguous(g), [-1]))), [1]));
      if (norms.length === 0) return keep(F.mul(F.sum(F.reshape(grads[0], [-1])), 0));
      const total = F.reshape(pnorm(F.cat(norms, 0)), []);
      if (!scale) return keep(total);
      // coef = min(maxNorm / (total + 1e-6), 1), kept on the device (no read-back)
      const ratio = F.mul(F.pow(F.add(total, 1e-6), -1), maxNorm);
      const coef = wrap(binding().scalar(ScalarOp.min, ratio.h, 1));
      for (const g of grads) if (g.numel > 0) binding().copy_(g.h, F.mul(g, coef).h);
      return keep(total);
    }),
  );
}
