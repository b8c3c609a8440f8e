/**
 * Forward hooks without touching Module: `withForwardHooks` wraps the `forward` of selected
 * module instances for the duration of one function call, then restores them. Used by
 * `summary` (record output shapes) and `rn.probe` (tap block inputs and outputs).
 */
import { Tensor } from '../tensor';
import { Module } from './module';

/** Around-hook: call `next(args)` (possibly with replaced args) and return its result. */
export type AroundHook = (name: string, module: Module, args: Tensor[], next: (args: Tensor[]) => Tensor) => Tensor;

export function withForwardHooks<R>(model: Module, select: (name: string, m: Module) => boolean, hook: AroundHook, fn: () => R): R {
  const restore: (() => void)[] = [];
  const seen = new Set<Module>();
  try {
    for (const [name, m] of model.namedModules()) {
      if (seen.has(m) || !select(name, m)) continue;
      seen.add(m);
      const own = Object.prototype.hasOwnProperty.call(m, 'forward');
      const orig = m.forward;
      const next = (args: Tensor[]) => orig.apply(m, args);
      m.forward = (...args: Tensor[]) => hook(name, m, args, next);
      restore.push(() => {
        if (own) m.forward = orig;
        else delete (m as unknown as { forward?: unknown }).forward;
      });
    }
    return fn();
  } finally {
    for (const r of restore.reverse()) r();
  }
}
