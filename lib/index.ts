/**
 * resnode — residual networks for Node.js.
 *
 *   import * as rn from 'resnode';
 *   rn.manualSeed(0);
 *   const x = rn.randn([2, 3, 32, 32]);
 */
import * as F from './functional';
import * as memory from './memory';
import { binding, bindingPath, BuildInfo } from './binding';
import { invalidArg } from './errors';

export { Tensor, tensor, zeros, ones, full, empty, rand, randn, arange, zerosLike, onesLike } from './tensor';
export type { DType, DeviceName, TensorOptions, TypedData, NestedArray } from './tensor';
export { noGrad, enableGrad, isGradEnabled, detectAnomaly, isAnomalyEnabled } from './autograd';
export { manualSeed, getRngState, setRngState } from './random';
export type { RngState } from './random';
export { tidy, keep } from './memory';
export type { RnError, ErrorCode } from './errors';
export { F, memory };
export * as nn from './nn';
export { setFusion, getFusion } from './fusion';
export * as models from './models';
export * as io from './io';
export * as probe from './probe';
export * as data from './data';
export * as optim from './optim';
export {
  add, sub, mul, div, neg, pow, exp, log, sqrt, abs, sum, mean, max, argmax, eq, matmul, cat, split, reshape, permute,
  transpose, flatten, squeeze, unsqueeze, slice, expand, contiguous, clone,
} from './functional';

/** Set the number of CPU threads used by kernels and OpenBLAS (waits for queued work first). */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw invalidArg('a positive integer', 'setNumThreads(n)', n, typeof n === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
  binding().setNumThreads(n);
}
export function getNumThreads(): number {
  return binding().getNumThreads();
}
/** Block until every queued op on the device has run (rethrows a deferred op error). */
export function sync(): void {
  binding().syncDevice(0);
}
/** Build flags of the loaded addon, and where it was loaded from. */
export function buildInfo(): BuildInfo & { path: string } {
  const b = binding().buildInfo();
  return { ...b, path: bindingPath() };
}
export const cuda = {
  isAvailable(): boolean {
    return binding().buildInfo().cuda;
  },
  status(): string {
    return binding().buildInfo().cudaStatus;
  },
};
