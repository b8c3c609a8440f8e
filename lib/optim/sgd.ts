/**
 * SGD with momentum, dampening, Nesterov momentum, (coupled) weight decay and maximize —
 * torch.optim.SGD of PyTorch 1.13, update for update:
 *
 *     d_p = (maximize ? -grad : grad) + weightDecay * p
 *     buf = first step ? d_p : momentum * buf + (1 - dampening) * d_p        (momentum != 0)
 *     d_p = nesterov ? d_p + momentum * buf : buf                             (momentum != 0)
 *     p  -= lr * d_p
 *
 * One native call per parameter group per step (a fused, vectorised pass over each parameter,
 * its gradient and its momentum buffer, enqueued on the stream).
 */
import { binding } from '../binding';
import { invalidArg } from '../errors';
import { Tensor } from '../tensor';
import { Optimizer, ParamGroup, ParamsInput, checkBool, checkNumber, stateLike } from './optimizer';

export interface SGDOptions {
  /** learning rate (required, >= 0) */
  lr: number;
  /** momentum factor (default 0) */
  momentum?: number;
  /** dampening for momentum (default 0) */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0) */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0) */
  nesterov?: boolean;
  /** maximise the objective instead (default false) */
  maximize?: boolean;
}

export class SGD extends Optimizer {
  constructor(params: ParamsInput, options: SGDOptions) {
    if (options === null || typeof options !== 'object') throw invalidArg('an options object { lr, ... }', 'SGD(options)', options);
    const defaults = {
      lr: options.lr,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
      maximize: options.maximize ?? false,
    };
    checkSgd(defaults as unknown as ParamGroup, (k) => `SGD(${k})`);
    super(params, defaults, 'SGD');
  }

  protected checkGroup(g: ParamGroup, where: (key: string) => string): void {
    checkSgd(g, where);
  }

  protected stepGroup(g: ParamGroup, params: Tensor[]): void {
    const momentum = g.momentum as number;
    const bufs: (Tensor | null)[] = [];
    const init: boolean[] = [];
    for (const p of params) {
      const s = this.stateOf(p);
      s.step += 1;
      if (momentum === 0) {
        bufs.push(s.tensors.momentum_buffer ?? null);
        init.push(false);
        continue;
      }
      let buf = s.tensors.momentum_buffer;
      const fresh = !buf;
      if (!buf) buf = s.tensors.momentum_buffer = stateLike(p);  // filled with d_p by the kernel
      bufs.push(buf);
      init.push(fresh);
    }
    try {
      binding().sgdStep(
        params.map((p) => p.h),
        params.map((p) => p.grad!.h),
        bufs.map((b) => (b ? b.h : null)),
        init,
        g.lr,
        momentum,
        g.dampening as number,
        g.weightDecay as number,
        g.nesterov as boolean,
        g.maximize as boolean,
      );
    } catch (e) {
      // nothing was enqueued: undo this step's bookkeeping (fresh buffers were never filled)
      params.forEach((p, i) => {
        const s = this.stateOf(p);
        s.step -= 1;
        if (init[i]) {
          s.tensors.momentum_buffer.dispose();
          delete s.tensors.momentum_buffer;
        }
      });
      throw e;
    }
  }
}

function checkSgd(g: ParamGroup, where: (key: string) => string): void {
  checkNumber(g.lr, where('lr'), 'a non-negative number', (x) => x >= 0 && Number.isFinite(x));
  checkNumber(g.momentum, where('momentum'), 'a non-negative number', (x) => x >= 0 && Number.isFinite(x));
  checkNumber(g.dampening, where('dampening'), 'a finite number', Number.isFinite);
  checkNumber(g.weightDecay, where('weightDecay'), 'a non-negative number', (x) => x >= 0 && Number.isFinite(x));
  checkBool(g.nesterov, where('nesterov'));
  checkBool(g.maximize, where('maximize'));
  if (g.nesterov && ((g.momentum as number) <= 0 || g.dampening !== 0))
    throw invalidArg(`momentum > 0 and dampening 0 (Nesterov momentum; momentum is ${g.momentum}, dampening ${g.dampening})`, where('nesterov'), true, 'ERR_RN_RANGE');
}
