/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with optional amsgrad and maximize —
 * torch.optim.AdamW of PyTorch 1.13, update for update:
 *
 *     step += 1;  g = maximize ? -grad : grad
 *     p *= 1 - lr * weightDecay
 *     m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
 *     vmax = max(vmax, v)                                    (amsgrad: the denominator uses vmax)
 *     p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 *
 * One native call per parameter group per step; the bias corrections are computed natively in
 * double from each parameter's step count (as torch does with Python floats).
 */
import { binding } from '../binding';
import { invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { Optimizer, ParamGroup, ParamsInput, checkBool, checkNumber, stateLike } from './optimizer';

export interface AdamWOptions {
  /** learning rate (default 1e-3) */
  lr?: number;
  /** coefficients of the running averages of the gradient and its square (default [0.9, 0.999]) */
  betas?: [number, number];
  /** added to the denominator (default 1e-8) */
  eps?: number;
  /** decoupled weight decay coefficient (default 1e-2) */
  weightDecay?: number;
  /** AMSGrad variant (default false) */
  amsgrad?: boolean;
  /** maximise the objective instead (default false) */
  maximize?: boolean;
}

export class AdamW extends Optimizer {
  protected readonly savesStep = true;

  constructor(params: ParamsInput, options: AdamWOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArg('an options object', 'AdamW(options)', options);
    const betas = options.betas ?? [0.9, 0.999];
    const defaults = {
      lr: options.lr ?? 1e-3,
      betas: Array.isArray(betas) ? betas.slice() : (betas as unknown as number[]),
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 1e-2,
      amsgrad: options.amsgrad ?? false,
      maximize: options.maximize ?? false,
    };
    checkAdamW(defaults as unknown as ParamGroup, (k) => `AdamW(${k})`);
    super(params, defaults, 'AdamW');
  }

  protected checkGroup(g: ParamGroup, where: (key: string) => string): void {
    checkAdamW(g, where);
  }

  protected stepGroup(g: ParamGroup, params: Tensor[]): void {
    const amsgrad = g.amsgrad as boolean;
    const [beta1, beta2] = g.betas as number[];
    const m: Tensor[] = [];
    const v: Tensor[] = [];
    const vmax: Tensor[] = [];
    const steps: number[] = [];
    for (const p of params) {
      const s = this.stateOf(p);
      const t = s.tensors;
      if (!t.exp_avg) t.exp_avg = stateLike(p, 0);
      if (!t.exp_avg_sq) t.exp_avg_sq = stateLike(p, 0);
      if (amsgrad && !t.max_exp_avg_sq) t.max_exp_avg_sq = stateLike(p, 0);
      s.step += 1;
      m.push(t.exp_avg);
      v.push(t.exp_avg_sq);
      if (amsgrad) vmax.push(t.max_exp_avg_sq);
      steps.push(s.step);
    }
    try {
      binding().adamwStep(
        params.map((p) => p.h),
        params.map((p) => p.grad!.h),
        m.map((t) => t.h),
        v.map((t) => t.h),
        amsgrad ? vmax.map((t) => t.h) : null,
        steps,
        g.lr,
        beta1,
        beta2,
        g.eps as number,
        g.weightDecay as number,
        amsgrad,
        g.maximize as boolean,
      );
    } catch (e) {
      // nothing was enqueued: undo the step counts (new state tensors are zeros, as on a first step)
      for (const p of params) this.stateOf(p).step -= 1;
      throw e;
    }
  }
}

function checkAdamW(g: ParamGroup, where: (key: string) => string): void {
  checkNumber(g.lr, where('lr'), 'a non-negative number', (x) => x >= 0 && Number.isFinite(x));
  const b = g.betas;
  if (!Array.isArray(b) || b.length !== 2 || b.some((x) => typeof x !== 'number' || Number.isNaN(x)))
    throw invalidArg('a pair of numbers [beta1, beta2]', where('betas'), b);
  b.forEach((x: number, i: number) => checkNumber(x, where(`betas[${i}]`), 'a number in [0, 1)', (y) => y >= 0 && y < 1));
  checkNumber(g.eps, where('eps'), 'a non-negative number', (x) => x >= 0 && Number.isFinite(x));
  checkNumber(g.weightDecay, where('weightDecay'), 'a non-negative number', (x) => x >= 0 && Number.isFinite(x));
  checkBool(g.amsgrad, where('amsgrad'));
  checkBool(g.maximize, where('maximize'));
}
