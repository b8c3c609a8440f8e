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
import { invalidArg, rnError } from './errors';
import { cudaBinding, cudaInfo, CudaDeviceProperties, CudaLibrary } from './tensor';

export { Tensor, tensor, zeros, ones, full, empty, rand, randn, arange, zerosLike, onesLike } from './tensor';
export type { DType, DeviceName, TensorOptions, TypedData, NestedArray, CudaDeviceProperties, CudaLibrary, CudaInfo } from './tensor';
export { noGrad, enableGrad, isGradEnabled, detectAnomaly, isAnomalyEnabled } from './autograd';
export { manualSeed, getRngState, setRngState } from './random';
export type { RngState } from './random';
export { tidy, keep } from './memory';
export type { RnError, ErrorCode } from './errors';
export { F, memory };
export * as nn from './nn';
export { setFusion, getFusion } from './fusion';
export { autocast, isAutocastEnabled, getAutocastDtype } from './autocast';
export type { AutocastDtype, AutocastDtypeName, AutocastOptions } from './autocast';
export * as models from './models';
export * as io from './io';
export * as probe from './probe';
export * as profiler from './profiler';
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
/** Block until every queued op has run, on the CPU and on the GPU when one is in use (rethrows a deferred op error). */
export function sync(): void {
  binding().syncDevice(0);
  if (cudaInfo().initialized) cudaBinding().cudaSynchronize();
}
/** Build flags of the loaded addon, and where it was loaded from. */
export function buildInfo(): BuildInfo & { path: string } {
  const b = binding().buildInfo();
  return { ...b, path: bindingPath() };
}
function requireCuda(op: string): void {
  const c = cudaInfo();
  if (!c.available) throw rnError('ERR_RN_NO_CUDA', `${op}: CUDA is not available: ${c.status}`);
}
/**
 * The GPU: `rn.cuda.isAvailable()` (a driver and a device; cuDNN / cuBLAS are loaded at the first
 * convolution / matmul, see `libraries()`), device properties, the caching allocator's cache
 * (its numbers: `rn.memory.stats('cuda')`), TF32, and a full synchronisation. Tensors move with
 * `t.to('cuda')` / `t.to('cpu')`; resnode uses one device, cuda:0.
 */
export const cuda = {
  /** A usable CUDA device and driver (false in a build without CUDA). */
  isAvailable(): boolean {
    return cudaInfo().available;
  },
  /** One line: the device, driver and runtime, or why CUDA is not available (what was searched). */
  status(): string {
    return cudaInfo().status;
  },
  /** Devices the driver sees (resnode uses cuda:0). */
  deviceCount(): number {
    return cudaInfo().deviceCount;
  },
  /** Properties of a device (default cuda:0). */
  properties(device = 0): CudaDeviceProperties {
    if (typeof device !== 'number' || !Number.isInteger(device) || device < 0) throw invalidArg('a non-negative integer', 'cuda.properties(device)', device, typeof device === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
    requireCuda('cuda.properties');
    return cudaBinding().cudaDeviceProperties(device);
  },
  /** cuDNN and cuBLAS: loads them if not yet loaded and says what was found (never throws). */
  libraries(): CudaLibrary[] {
    if (typeof cudaBinding().cudaLibraries !== 'function') return [];
    return cudaBinding().cudaLibraries();
  },
  /** Return cached device blocks (and pinned host buffers) to the driver. */
  emptyCache(): void {
    if (cudaInfo().initialized) cudaBinding().cudaEmptyCache();
  },
  /** Allocator statistics of the device (bytes), as rn.memory.stats('cuda'). */
  memoryStats(): memory.MemoryStats {
    return memory.stats('cuda');
  },
  resetPeakMemoryStats(): void {
    if (cudaInfo().initialized) cudaBinding().cudaResetPeak();
  },
  /** Wait for every queued GPU op (rethrows the first error of one). */
  synchronize(): void {
    if (cudaInfo().initialized) cudaBinding().cudaSynchronize();
  },
  /**
   * Let float32 convolutions and matmuls use TF32 tensor cores (off by default: float32 results
   * then match the CPU to ~1e-6; PyTorch's default is on for convolutions).
   */
  setAllowTF32(on: boolean): void {
    if (typeof on !== 'boolean') throw invalidArg('a boolean', 'cuda.setAllowTF32(enabled)', on);
    cudaBinding().cudaSetAllowTF32(on);
  },
  getAllowTF32(): boolean {
    return cudaInfo().allowTF32;
  },
  /** Details for diagnostics: availability, status, library search order, cached conv algorithms. */
  info() {
    return cudaInfo();
  },
};
