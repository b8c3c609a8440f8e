/**
 * The typed native surface and the loader. The user-facing API lives elsewhere (tensor.ts,
 * functional.ts); this file only knows how to find the addon and what it exports.
 *
 * Search order: RESNODE_ADDON (a path), a local build (build/Release, development), then the
 * prebuilt binary shipped in the package (prebuilds/<platform>-<arch>/). A failure names every
 * path tried and how to build from source.
 */
import * as fs from 'fs';
import * as path from 'path';
import { rnError } from './errors';

/** Opaque native handle (an External with a type tag). */
export type Handle = { readonly __brand: 'resnode-handle' };

/** What every native op returns for one output tensor. */
export interface NativeTensor {
  h: Handle;
  shape: number[];
  strides: number[];
  offset: number;
  dtype: number;
  device: number;
}
type N = NativeTensor;
type NH = Handle | null;

export interface MemStats {
  live: number;
  peak: number;
  cached: number;
  allocs: number;
}

export interface BuildInfo {
  version: string;
  cuda: boolean;
  cudaStatus: string;
  simd: string;
  blas: string;
  compiler: string;
  napiVersion: number;
  threads: number;
}

export interface Binding {
  fromBuffer(data: ArrayBufferView, shape: number[], dtype: number): N;
  empty(shape: number[], dtype: number, device: number): N;
  dispose(h: Handle): void;
  isLive(h: Handle): boolean;
  readSync(h: Handle): Float32Array | Int32Array | Uint8Array | BigInt64Array | Uint16Array;
  readAsync(h: Handle): Promise<Float32Array | Int32Array | Uint8Array | BigInt64Array | Uint16Array>;
  syncDevice(device?: number): void;
  view(h: Handle, shape: number[], strides: number[], offset: number): N;
  contiguous(h: Handle): N;
  toChannelsLast(h: Handle): N;
  copy_(dst: Handle, src: Handle): void;
  castTo(h: Handle, dtype: number): N;
  fill_(h: Handle, v: number): void;
  rand_(h: Handle, normal: boolean, seed: number, offset: number, a: number, b: number): void;
  unary(op: number, x: Handle): N;
  unaryBackward(op: number, dy: Handle, x: NH, y: NH): N;
  binary(op: number, a: Handle, b: Handle): N;
  scalar(op: number, x: Handle, s: number): N;
  axpy_(y: Handle, x: Handle, alpha: number): void;
  dropoutForward(x: Handle, p: number, seed: number, offset: number): N;
  dropoutBackward(dy: Handle, p: number, seed: number, offset: number): N;
  sum(x: Handle, dims: number[], keepdim: boolean, scale: number): N;
  maxDim(x: Handle, dim: number, keepdim: boolean): [N, N];
  matmul(a: Handle, b: Handle, transA: boolean, transB: boolean): N;
  conv2dForward(x: Handle, w: Handle, b: NH, params: number[]): N;
  conv2dBackwardData(dy: Handle, w: Handle, xShape: number[], channelsLast: boolean, params: number[], accumulate?: Handle | null): N;
  conv2dBackwardWeight(dy: Handle, x: Handle, wShape: number[], params: number[]): N;
  batchNormForward(x: Handle, w: NH, b: NH, rm: NH, rv: NH, training: boolean, momentum: number, eps: number): [N, N | null, N | null];
  batchNormBackward(dy: Handle, x: Handle, w: NH, mean: Handle, invstd: Handle, training: boolean, eps: number): [N, N, N];
  maxPool2dForward(x: Handle, params: number[]): [N, N];
  maxPool2dBackward(dy: Handle, idx: Handle, xShape: number[], params: number[]): N;
  avgPool2dForward(x: Handle, params: number[]): N;
  avgPool2dBackward(dy: Handle, xShape: number[], params: number[]): N;
  adaptiveAvgPool2dForward(x: Handle, outH: number, outW: number): N;
  adaptiveAvgPool2dBackward(dy: Handle, xShape: number[]): N;
  softmaxForward(x: Handle, dim: number, log: boolean): N;
  softmaxBackward(dy: Handle, y: Handle, dim: number, log: boolean): N;
  crossEntropyForward(x: Handle, target: Handle, reduction: number, smoothing: number, ignoreIndex: number): [N, N, N];
  crossEntropyBackward(dl: Handle, logp: Handle, target: Handle, count: Handle, reduction: number, smoothing: number, ignoreIndex: number): N;
  layerNormForward(x: Handle, d: number, w: NH, b: NH, eps: number): [N, N, N];
  layerNormBackward(dy: Handle, x: Handle, w: NH, mean: Handle, rstd: Handle, d: number): [N, N, N];
  memoryStats(device?: number): MemStats;
  emptyCache(): void;
  resetPeak(): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  pending(): number;
  profileStart(): void;
  profileStop(): ProfileRow[];
  profileSnapshot(): ProfileRow[];
  profileEnabled(): boolean;
  // optimisers (native/binding/ops_optim.cc): one call per parameter group, updates in place
  sgdStep(params: Handle[], grads: Handle[], bufs: NH[], init: boolean[], lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, maximize: boolean): void;
  adamwStep(params: Handle[], grads: Handle[], expAvgs: Handle[], expAvgSqs: Handle[], maxExpAvgSqs: Handle[] | null, steps: number[], lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, amsgrad: boolean, maximize: boolean): void;
  clipGradNorm(grads: Handle[], maxNorm: number, normType: number): N;
  emptyLike(h: Handle): N;
  // fused ops (native/binding/ops_fused.cc)
  /** saveMask: also return the ReLU bit mask (uint8) for backward to take instead of y; null where the kernels make none. */
  bnAddReluForward(x: Handle, r: NH, w: NH, b: NH, rm: NH, rv: NH, training: boolean, momentum: number, eps: number, saveMask?: boolean): [N, N, N, N | null];
  /** yOrMask: the forward's output, or the mask it returned. */
  bnAddReluBackward(dy: Handle, yOrMask: Handle, x: Handle, w: NH, mean: Handle, invstd: Handle, training: boolean, hasResidual: boolean): [N, N | null, N, N];
  /** Kernel version of bn_add_relu (1 portable, 2 AVX-512); an argument sets it (0 = best). */
  bnAddReluVersion(v?: number): number;
  /** conv algorithm selection for tests/benchmarks: 0 auto, 1 Winograd wherever it applies, 2 direct, 3 reference (im2col + BLAS) */
  convMode(mode?: number): number;
  /** Outputs of at least this many bytes use non-temporal stores; an argument sets it (< 0: default). */
  bnAddReluNtBytes(bytes?: number): number;
  /** Channels-last conv outputs of at least this many bytes use non-temporal stores (Winograd); an argument sets it (< 0: default). */
  conv2dNtBytes(bytes?: number): number;
  /** Memory bandwidth of this machine in GB/s (best of reps), measured on the CPU stream. */
  benchCopy(bytes: number, reps?: number): { copy: number; triad: number; triadNt: number; read: number; bytes: number; threads: number };
  /** Enqueue a read of a `bytes` buffer (evicts caches). */
  benchFlush(bytes: number): void;
  /** Hold the stream and stamp; benchEnd() stamps, releases, waits and returns the ms between. */
  benchBegin(): void;
  benchEnd(): number;
  buildInfo(): BuildInfo;
}

/** Op codes shared with native/cpu/kernels.h (enum order matters). */
export const Unary = { relu: 0, sigmoid: 1, tanh: 2, gelu: 3, geluTanh: 4, exp: 5, log: 6, neg: 7, sqrt: 8, abs: 9, square: 10, rsqrt: 11, reciprocal: 12 } as const;
export const BinaryOp = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, eq: 6, gt: 7, lt: 8, pow: 9 } as const;
export const ScalarOp = { add: 0, mul: 1, pow: 2, rsub: 3, rdiv: 4, max: 5, min: 6, eq: 7, gt: 8, lt: 9 } as const;

/** The package root: the nearest folder above this file whose package.json is resnode's. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'resnode') return dir;
    } catch {
      // keep walking up
    }
    const up = path.dirname(dir);
    if (up === dir) return path.resolve(__dirname, '..');
    dir = up;
  }
}

/** Paths the loader tries, in order. */
export function candidatePaths(): string[] {
  const root = packageRoot();
  const out: string[] = [];
  if (process.env.RESNODE_ADDON) out.push(path.resolve(process.env.RESNODE_ADDON));
  out.push(path.join(root, 'build', 'Release', 'resnode.node'));
  out.push(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'resnode.node'));
  return out;
}

let loaded: Binding | null = null;
let loadedFrom = '';

export function binding(): Binding {
  if (loaded) return loaded;
  const tried: string[] = [];
  for (const p of candidatePaths()) {
    if (!fs.existsSync(p)) {
      tried.push(`${p} (not found)`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      loaded = require(p) as Binding;
      loadedFrom = p;
      return loaded;
    } catch (e) {
      tried.push(`${p} (${(e as Error).message.split('\n')[0]})`);
      // a build that exists but does not load is an error, not a reason to run an older binary
      if (!p.includes(`${path.sep}prebuilds${path.sep}`)) break;
    }
  }
  throw rnError(
    'ERR_RN_LOAD',
    `resnode: could not load the native addon for ${process.platform}-${process.arch} (Node ${process.versions.node}, N-API ${process.versions.napi}).\n` +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      'Prebuilt binaries cover linux-x64 with glibc >= 2.34. To build from source: apt-get install cmake g++ libopenblas-pthread-dev, ' +
      'then in the resnode folder `npx cmake-js compile --out build` (or `npx node-gyp rebuild` with binding.gyp from a git checkout), ' +
      'or point RESNODE_ADDON at a built resnode.node.',
  );
}

/** Where the addon was loaded from ('' before the first load). */
export function bindingPath(): string {
  return loadedFrom;
}

/** One op name's totals from the native profiler (see lib/profiler.ts). */
export interface ProfileRow {
  name: string;
  /** binding calls charged to this name (JS thread) */
  calls: number;
  /** CPU time the JS thread spent inside those calls (checks, allocation, enqueue or GPU launch; not waits) */
  hostMs: number;
  /** CPU stream jobs charged to this name */
  jobs: number;
  /** time the CPU stream thread spent running them (kernels) */
  kernelMs: number;
}
