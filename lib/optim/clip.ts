/**
 * Gradient clipping by global norm — torch.nn.utils.clip_grad_norm_ of PyTorch 1.13:
 *
 *     total = norm_p([norm_p(g) for g in grads])        (p = Infinity: max |g|)
 *     g *= min(1, maxNorm / (total + 1e-6))             in place, for every gradient
 *
 * One native call for all gradients: the norm (double accumulation over fixed blocks, so the
 * result does not depend on the thread count) and the scaling run on the stream; nothing blocks.
 */
import { binding } from '../binding';
import { invalidArg, rnError } from '../errors';
import { Tensor, wrap, tensor } from '../tensor';

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
  if (opts.errorIfNonfinite) {
    const total = wrap(binding().clipGradNorm(handles, Infinity, p));
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
  return wrap(binding().clipGradNorm(handles, maxNorm, p));
}
