/**
 * The switch between fused kernels and the unfused op sequences they replace
 * (`rn.setFusion(false)` / `rn.getFusion()`). With fusion off, `F.batchNormAddRelu` runs
 * `relu(add(batchNorm2d(x), residual))` and `F.batchNormRelu` runs `relu(batchNorm2d(x))` with the
 * ordinary ops, so the two can be compared (results agree to float32 rounding, ~1e-6 relative).
 * The flag is read when an op is called; a graph already recorded keeps the kernels it used.
 */
import { invalidArg } from './errors';

let enabled = true;

/** Turn fused kernels on (the default) or off. */
export function setFusion(on: boolean): void {
  if (typeof on !== 'boolean') throw invalidArg('a boolean', 'setFusion(enabled)', on);
  enabled = on;
}

/** Whether fused kernels are used. */
export function getFusion(): boolean {
  return enabled;
}
