/**
 * Tensor: a JS handle on native storage plus shape/strides. Ops are queued on the device's
 * native stream and return at once; reads (`data()`, `dataSync()`, `item()`) wait for the queue.
 */
import { binding, Handle, NativeTensor } from './binding';
import { describe, invalidArg, rnError, rnTypeError, typeOf } from './errors';
import { track, keep, Scope, _handleCreated, _handleReleased } from './memory';
import type { GradNode } from './autograd';
import * as F from './functional';
import * as A from './autograd';
import { _take } from './random';

export type DType = 'float32' | 'int32' | 'uint8' | 'int64' | 'bfloat16' | 'float16';

// ---- the CUDA part of the native surface (native/binding/ops_cuda.cc) ----
// (Declared here rather than in binding.ts, which another change owns; it can move there as is.)
export interface CudaInfo {
  available: boolean;
  /** what is there, or why not (no driver / no device / a build without CUDA) */
  status: string;
  deviceCount: number;
  /** whether this process has created the device context */
  initialized: boolean;
  allowTF32: boolean;
  /** where cuDNN / cuBLAS are looked for, in order */
  librarySearch: string;
  convAlgorithmsCached: number;
}
export interface CudaDeviceProperties {
  index: number; name: string; major: number; minor: number; multiProcessorCount: number; warpSize: number;
  maxThreadsPerBlock: number; totalMemory: number; l2CacheSize: number; sharedMemoryPerBlock: number;
  clockRateKHz: number; memoryClockRateKHz: number; memoryBusWidth: number; driverVersion: number; runtimeVersion: number;
}
export interface CudaLibrary {
  name: 'cudnn' | 'cublas';
  loaded: boolean;
  /** cudnnGetVersion() (e.g. 90600), or cuBLAS's major version */
  version: number;
  /** the file that was loaded */
  path: string;
  /** why it could not be loaded (naming every path tried) */
  error: string;
}
type NH = Handle | null;
export interface CudaBinding {
  cudaInfo(): CudaInfo;
  cudaDeviceProperties(device?: number): CudaDeviceProperties;
  cudaEmptyCache(): void;
  cudaResetPeak(): void;
  cudaLibraries(): CudaLibrary[];
  cudaSynchronize(): void;
  cudaSetAllowTF32(on: boolean): void;
  toDevice(h: Handle, device: number): NativeTensor;
  // kernels wired into their ops by other changes (tests and benchmarks only)
  _cudaBnAddReluForward(x: Handle, r: NH, w: NH, b: NH, rm: NH, rv: NH, training: boolean, momentum: number, eps: number): [NativeTensor, NativeTensor, NativeTensor];
  _cudaBnAddReluBackward(dy: Handle, y: Handle, x: Handle, w: NH, mean: Handle, invstd: Handle, training: boolean, hasResidual: boolean): [NativeTensor, NativeTensor | null, NativeTensor, NativeTensor];
  _cudaSgdStep(params: Handle[], grads: Handle[], bufs: NH[], init: boolean[], lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, maximize: boolean): void;
  _cudaAdamwStep(params: Handle[], grads: Handle[], expAvgs: Handle[], expAvgSqs: Handle[], maxExpAvgSqs: Handle[] | null, steps: number[], lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, amsgrad: boolean, maximize: boolean): void;
}
/** @internal the native surface with its CUDA entry points */
export function cudaBinding(): CudaBinding {
  return binding() as unknown as CudaBinding;
}
/** @internal whether CUDA can run here (false for an addon built before the CUDA backend) */
export function cudaInfo(): CudaInfo {
  const b = binding() as unknown as Partial<CudaBinding>;
  if (typeof b.cudaInfo === 'function') return b.cudaInfo();
  const i = binding().buildInfo();
  return { available: i.cuda, status: i.cudaStatus, deviceCount: 0, initialized: false, allowTF32: false, librarySearch: '', convAlgorithmsCached: 0 };
}
/** @internal native device code */
export const deviceCode = (d: DeviceName): number => (d === 'cuda' ? 1 : 0);
export type DeviceName = 'cpu' | 'cuda';
export const DTYPES: readonly DType[] = ['float32', 'int32', 'uint8', 'int64', 'bfloat16', 'float16'];
export const dtypeCode = (d: DType): number => DTYPES.indexOf(d);

export type TypedData = Float32Array | Int32Array | Uint8Array | BigInt64Array | Uint16Array;
export type NestedArray = number | NestedArray[];

export interface TensorOptions {
  shape?: readonly number[];
  dtype?: DType;
  requiresGrad?: boolean;
  device?: DeviceName | string;
}

/**
 * The GC backstop for the handle count: a tensor that is collected without dispose() has its
 * native storage freed by the handle's finalizer; this keeps memory.stats().tensors honest too.
 */
const collected = new FinalizationRegistry<null>(() => _handleReleased());

export class Tensor {
  /** @internal native handle and layout; null once disposed */
  _n: NativeTensor | null;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  readonly device: DeviceName;
  requiresGrad = false;
  /** Accumulated gradient (a leaf's, after backward). */
  grad: Tensor | null = null;
  /** @internal the op that produced this tensor (null for leaves) */
  _node: GradNode | null = null;
  /** @internal */
  _kept = false;
  /** @internal */
  _scope: Scope | null = null;

  /** @internal use rn.tensor / rn.zeros / ops to make tensors */
  constructor(n: NativeTensor) {
    this._n = n;
    this.shape = Object.freeze(n.shape.slice());
    this.strides = Object.freeze(n.strides.slice());
    this.offset = n.offset;
    this.dtype = DTYPES[n.dtype];
    this.device = n.device === 1 ? 'cuda' : 'cpu';
    _handleCreated();
    collected.register(this, null, this);
    track(this);
  }

  /** @internal the native handle; throws ERR_RN_DISPOSED after dispose() */
  get h(): Handle {
    if (!this._n) throw rnError('ERR_RN_DISPOSED', `Tensor of shape [${this.shape.join(', ')}] is disposed (dispose() was called or its tidy scope ended)`);
    return this._n.h;
  }
  get isDisposed(): boolean {
    return this._n === null;
  }
  get ndim(): number {
    return this.shape.length;
  }
  dim(): number {
    return this.shape.length;
  }
  get numel(): number {
    let n = 1;
    for (const s of this.shape) n *= s;
    return n;
  }
  size(d?: number): number | readonly number[] {
    if (d === undefined) return this.shape;
    return this.shape[normDim(d, this.ndim, 'size')];
  }
  get isLeaf(): boolean {
    return this._node === null;
  }
  isContiguous(): boolean {
    let st = 1;
    for (let i = this.ndim - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== st) return false;
      st *= this.shape[i];
    }
    return true;
  }
  isChannelsLast(): boolean {
    if (this.ndim !== 4) return false;
    const [, C, H, W] = this.shape;
    const cl = [H * W * C, 1, W * C, C];
    return this.shape.every((s, i) => s === 1 || this.strides[i] === cl[i]);
  }

  /** Free the native memory now. Safe to call twice; queued ops that use it keep it alive. */
  dispose(): void {
    if (!this._n) return;
    binding().dispose(this._n.h);
    collected.unregister(this);
    this._n = null;
    _handleReleased();
    if (this._scope) {
      this._scope.tracked.delete(this);
      this._scope = null;
    }
    if (this.grad && this._kept) {
      this.grad.dispose();
      this.grad = null;
    }
  }
  /**
   * @internal Move this tensor's storage to another device in place (its gradient too), keeping
   * the object: what Module.to(device) needs, since optimisers and modules hold parameters by
   * identity. Not recorded for autograd (use it on leaves, before building a graph).
   */
  _moveTo_(device: DeviceName | string): this {
    const dev = checkDevice(device, 'to');
    if (dev === this.device) return this;
    this._setStorage_(cudaBinding().toDevice(this.h, deviceCode(dev)));
    if (this.grad) this.grad._moveTo_(dev);
    return this;
  }
  /**
   * @internal Convert a 4-D tensor's memory to channels-last in place (values, shape and object
   * unchanged; its gradient too): what Module.toChannelsLast() needs. Not recorded for autograd.
   */
  _toChannelsLast_(): this {
    if (this.ndim !== 4 || (this.isChannelsLast() && suggestsChannelsLast(this))) return this;
    // Already channels-last in memory but with contiguous strides on its size-1 dims (a 1x1
    // kernel): the same memory, restrided; otherwise a channels-last copy.
    this._setStorage_(this.isChannelsLast()
      ? binding().view(this.h, this.shape.slice(), channelsLastStrides(this.shape), this.offset)
      : binding().toChannelsLast(this.h));
    if (this.grad) this.grad._toChannelsLast_();
    return this;
  }
  /**
   * @internal Swap in another native tensor of the same shape and dtype (a copy on another device
   * or in another memory format), freeing the old storage; the JS object, and so every reference
   * to it (optimisers, modules), stays.
   */
  _setStorage_(n: NativeTensor): this {
    const old = this.h;  // throws ERR_RN_DISPOSED on a disposed tensor
    if (n.shape.join() !== this.shape.join() || DTYPES[n.dtype] !== this.dtype) {
      binding().dispose(n.h);
      throw rnError('ERR_RN_INTERNAL', `_setStorage_: replacement has shape [${n.shape.join(', ')}] ${DTYPES[n.dtype]} but the tensor has [${this.shape.join(', ')}] ${this.dtype}`);
    }
    binding().dispose(old);
    this._n = n;
    const self = this as unknown as { strides: readonly number[]; offset: number; device: DeviceName };
    self.strides = Object.freeze(n.strides.slice());
    self.offset = n.offset;
    self.device = n.device === 1 ? 'cuda' : 'cpu';
    return this;
  }
  /** Keep this tensor out of every tidy scope (returns this). */
  keep(): this {
    return keep(this);
  }

  // ---- read-back (waits for queued ops) ----
  /** Contiguous copy of the elements; resolves once queued ops that produce it have run. */
  data(): Promise<TypedData> {
    return binding().readAsync(this.h);
  }
  dataSync(): TypedData {
    return binding().readSync(this.h);
  }
  async item(): Promise<number> {
    this.checkScalar('item');
    return Number((await this.data())[0]);
  }
  itemSync(): number {
    this.checkScalar('itemSync');
    return Number(this.dataSync()[0]);
  }
  /** Nested JS arrays (blocking). */
  toArray(): NestedArray {
    const d = this.dataSync();
    const flat = Array.from(d as ArrayLike<number | bigint>, (v) => Number(v));
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.ndim) return flat[off];
      const n = this.shape[dim];
      let step = 1;
      for (let i = dim + 1; i < this.ndim; i++) step *= this.shape[i];
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(build(dim + 1, off + i * step));
      return out;
    };
    return build(0, 0);
  }
  private checkScalar(op: string): void {
    if (this.numel !== 1)
      throw rnError('ERR_RN_SHAPE', `${op}: a tensor with ${this.numel} elements (shape [${this.shape.join(', ')}]) cannot be converted to a number`);
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''}${this.isDisposed ? ', disposed' : ''})`;
  }

  // ---- autograd ----
  backward(grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    A.backward(this, grad, opts);
  }
  /** A tensor sharing storage with this one, outside the graph. */
  detach(): Tensor {
    return new Tensor(binding().view(this.h, this.shape.slice(), this.strides.slice(), this.offset));
  }
  requiresGrad_(v = true): this {
    if (v && this.dtype !== 'float32') throw rnTypeError('ERR_RN_DTYPE', `requiresGrad: only float32 tensors can require gradients, not ${this.dtype}`);
    if (!this.isLeaf && !v) throw rnError('ERR_RN_AUTOGRAD', 'requiresGrad_: cannot turn off gradients of a non-leaf tensor; use detach()');
    this.requiresGrad = v;
    return this;
  }

  // ---- views and layout ----
  reshape(shape: readonly number[]): Tensor { return F.reshape(this, shape); }
  view(shape: readonly number[]): Tensor { return F.reshape(this, shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return F.flatten(this, startDim, endDim); }
  permute(dims: readonly number[]): Tensor { return F.permute(this, dims); }
  transpose(d0: number, d1: number): Tensor { return F.transpose(this, d0, d1); }
  t(): Tensor { return F.transpose(this, 0, 1); }
  slice(dim: number, start: number, end?: number, step = 1): Tensor { return F.slice(this, dim, start, end, step); }
  squeeze(dim?: number): Tensor { return F.squeeze(this, dim); }
  unsqueeze(dim: number): Tensor { return F.unsqueeze(this, dim); }
  expand(shape: readonly number[]): Tensor { return F.expand(this, shape); }
  contiguous(): Tensor { return F.contiguous(this); }
  toChannelsLast(): Tensor { return F.toChannelsLast(this); }
  clone(): Tensor { return F.clone(this); }
  to(target: DType | DeviceName | string): Tensor { return F.to(this, target); }
  float(): Tensor { return F.to(this, 'float32'); }

  // ---- math ----
  add(o: Tensor | number): Tensor { return F.add(this, o); }
  sub(o: Tensor | number): Tensor { return F.sub(this, o); }
  mul(o: Tensor | number): Tensor { return F.mul(this, o); }
  div(o: Tensor | number): Tensor { return F.div(this, o); }
  neg(): Tensor { return F.neg(this); }
  pow(p: number): Tensor { return F.pow(this, p); }
  exp(): Tensor { return F.exp(this); }
  log(): Tensor { return F.log(this); }
  sqrt(): Tensor { return F.sqrt(this); }
  abs(): Tensor { return F.abs(this); }
  relu(): Tensor { return F.relu(this); }
  sigmoid(): Tensor { return F.sigmoid(this); }
  tanh(): Tensor { return F.tanh(this); }
  matmul(o: Tensor): Tensor { return F.matmul(this, o); }
  sum(dims?: number | readonly number[], keepdim = false): Tensor { return F.sum(this, dims, keepdim); }
  mean(dims?: number | readonly number[], keepdim = false): Tensor { return F.mean(this, dims, keepdim); }
  max(dim: number, keepdim = false): { values: Tensor; indices: Tensor } { return F.max(this, dim, keepdim); }
  argmax(dim: number, keepdim = false): Tensor { return F.argmax(this, dim, keepdim); }
  /** In-place y += alpha * x (no autograd; for optimisers and accumulation). */
  addInPlace(x: Tensor, alpha = 1): this {
    F.checkTensor(x, 'addInPlace', 'x');
    binding().axpy_(this.h, x.h, alpha);
    return this;
  }
  /** In-place copy from src (broadcast to this shape; no autograd). */
  copyFrom(src: Tensor): this {
    F.checkTensor(src, 'copyFrom', 'src');
    binding().copy_(this.h, src.h);
    return this;
  }
  /** In-place fill (no autograd). */
  fill(v: number): this {
    if (typeof v !== 'number') throw invalidArg('a number', 'fill(value)', v);
    binding().fill_(this.h, v);
    return this;
  }
}

/** Channels-last strides of a 4-D shape [N, C, H, W]: [C*H*W, 1, W*C, C]. */
export function channelsLastStrides(shape: readonly number[]): number[] {
  const [, C, H, W] = shape;
  return [H * W * C, 1, W * C, C];
}
/**
 * Whether a 4-D tensor's strides order its elements channels-last (strided views included, e.g. a
 * channels-last tensor sliced [:, :, ::2, ::2]): PyTorch's suggest_memory_format rule
 * (is_channels_last_strides_2d), which settles the shapes where isChannelsLast() and
 * isContiguous() both hold (C == 1 or H == W == 1, a 1x1 convolution's weight) by the strides,
 * defaulting to NCHW. What layout propagation (F.conv2d's weight rule, F.pad) looks at.
 */
export function suggestsChannelsLast(t: Tensor): boolean {
  if (t.ndim !== 4 || t.strides[1] === 0) return false;
  let min = 0;
  for (const d of [1, 3, 2, 0]) {
    const st = t.strides[d];
    if (st === 0 || st < min) return false;
    if (d === 0 && min === t.strides[1]) return false;
    min = st;
    if (t.shape[d] > 1) min *= t.shape[d];
  }
  return true;
}

export function normDim(d: number, nd: number, op: string): number {
  if (!Number.isInteger(d)) throw invalidArg('an integer', `${op}(dim)`, d, typeof d === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
  const n = Math.max(nd, 1);
  if (d < -n || d >= n) throw invalidArg(`a dimension in [${-n}, ${n - 1}]`, `${op}(dim)`, d, 'ERR_RN_RANGE');
  return d < 0 ? d + n : d;
}

// ---- creation ----
function checkShape(shape: unknown, op: string): number[] {
  if (!Array.isArray(shape)) throw invalidArg('an array of non-negative integers', `${op}(shape)`, shape);
  if (shape.length > 8) throw invalidArg('at most 8 dimensions', `${op}(shape)`, shape, 'ERR_RN_RANGE');
  let n = 1;
  for (const s of shape) {
    if (typeof s !== 'number') throw invalidArg('an array of non-negative integers', `${op}(shape)`, shape);
    if (!Number.isInteger(s) || s < 0) throw invalidArg('an array of non-negative integers', `${op}(shape)`, shape, 'ERR_RN_RANGE');
    n *= s;
  }
  if (n > 2 ** 48) {
    const exact = shape.reduce((a: bigint, b: number) => a * BigInt(b), 1n);
    throw Object.assign(new RangeError(`${op}: shape [${shape.join(', ')}] has ${exact} elements, more than can be allocated`), { code: 'ERR_RN_OOM' });
  }
  return shape.slice();
}

function checkDtype(d: unknown, op: string): DType {
  if (typeof d !== 'string' || !DTYPES.includes(d as DType)) throw invalidArg(`one of ${DTYPES.join(', ')}`, `${op}(dtype)`, d, 'ERR_RN_DTYPE');
  return d as DType;
}

export function checkDevice(d: unknown, op: string): DeviceName {
  if (d === 'cpu') return 'cpu';
  if (d === 'cuda' || (typeof d === 'string' && /^cuda:\d+$/.test(d))) {
    const c = cudaInfo();
    if (!c.available)
      throw rnError('ERR_RN_NO_CUDA', `${op}: device "${d}" is not available: ${c.status}` +
        (c.librarySearch ? `. cuDNN 9 and cuBLAS are loaded at first use from ${c.librarySearch}` : ''));
    const index = d === 'cuda' ? 0 : Number((d as string).slice(5));
    if (index !== 0)
      throw rnError('ERR_RN_DEVICE', `${op}: device "${d}" is not supported: resnode runs on one GPU, cuda:0 (${c.deviceCount} visible; pick one with CUDA_VISIBLE_DEVICES)`);
    return 'cuda';
  }
  throw invalidArg('"cpu" or "cuda"', `${op}(device)`, d, 'ERR_RN_DEVICE');
}

function inferShape(data: NestedArray, op: string): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return checkShape(shape, op);
}

function flattenNested(data: NestedArray, shape: number[], out: number[], dim = 0, op = 'tensor'): void {
  if (dim === shape.length) {
    if (typeof data !== 'number') throw invalidArg('numbers in a rectangular nested array', `${op}(data)`, data);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim])
    throw rnTypeError('ERR_RN_SHAPE', `${op}: nested array is not rectangular: expected ${shape[dim]} entries at depth ${dim} but received ${describe(data)}`);
  for (const x of data) flattenNested(x, shape, out, dim + 1, op);
}

const CTORS: Record<DType, new (n: number | ArrayLike<number>) => ArrayBufferView> = {
  float32: Float32Array,
  int32: Int32Array,
  uint8: Uint8Array,
  int64: BigInt64Array as unknown as new (n: number | ArrayLike<number>) => ArrayBufferView,
  bfloat16: Uint16Array,
  float16: Uint16Array,
};

// By tag, not instanceof: arrays made by the addon or in another realm (vm, jest) are still ours.
function dtypeOfArray(a: ArrayBufferView): DType | null {
  switch (Object.prototype.toString.call(a)) {
    case '[object Float32Array]': return 'float32';
    case '[object Int32Array]': return 'int32';
    case '[object Uint8Array]': return 'uint8';
    case '[object BigInt64Array]': return 'int64';
  }
  return null;
}

/** Create a tensor from a TypedArray (copied), a nested array or a number. */
export function tensor(data: ArrayBufferView | NestedArray, opts: TensorOptions = {}): Tensor {
  if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', 'tensor(options)', opts);
  const device = opts.device !== undefined ? checkDevice(opts.device, 'tensor') : 'cpu';
  let t: Tensor;
  if (ArrayBuffer.isView(data)) {
    const fromArr = dtypeOfArray(data);
    const dtype = opts.dtype !== undefined ? checkDtype(opts.dtype, 'tensor') : fromArr;
    if (!dtype) throw invalidArg('a Float32Array, Int32Array, Uint8Array or BigInt64Array', 'tensor(data)', data);
    const len = (data as unknown as { length: number }).length;
    const shape = opts.shape !== undefined ? checkShape(opts.shape, 'tensor') : [len];
    let arr = data;
    if (fromArr !== dtype) {
      if (dtype === 'int64') arr = BigInt64Array.from(Array.from(data as unknown as ArrayLike<number>, (v) => BigInt(Math.trunc(Number(v)))));
      else arr = new CTORS[dtype](data as unknown as ArrayLike<number>);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== len)
      throw rnError('ERR_RN_SHAPE', `tensor: data has ${len} elements but shape [${shape.join(', ')}] needs ${n}`);
    t = new Tensor(binding().fromBuffer(arr, shape, dtypeCode(dtype)));
  } else if (typeof data === 'number' || Array.isArray(data)) {
    const shape = inferShape(data, 'tensor');
    const flat: number[] = [];
    flattenNested(data, shape, flat);
    const dtype = opts.dtype !== undefined ? checkDtype(opts.dtype, 'tensor') : 'float32';
    const finalShape = opts.shape !== undefined ? checkShape(opts.shape, 'tensor') : shape;
    const arr = dtype === 'int64' ? BigInt64Array.from(flat, (v) => BigInt(Math.trunc(v))) : new CTORS[dtype](flat);
    if (finalShape.reduce((a, b) => a * b, 1) !== flat.length)
      throw rnError('ERR_RN_SHAPE', `tensor: data has ${flat.length} elements but shape [${finalShape.join(', ')}] needs ${finalShape.reduce((a, b) => a * b, 1)}`);
    t = new Tensor(binding().fromBuffer(arr, finalShape, dtypeCode(dtype)));
  } else {
    throw invalidArg('a TypedArray, a (nested) array of numbers or a number', 'tensor(data)', data);
  }
  if (device !== 'cpu') t._moveTo_(device);  // built on the CPU, then uploaded
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

function make(op: string, shape: readonly number[], opts: TensorOptions): Tensor {
  if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', `${op}(options)`, opts);
  const s = checkShape(shape, op);
  const dtype = opts.dtype !== undefined ? checkDtype(opts.dtype, op) : 'float32';
  const device = opts.device !== undefined ? checkDevice(opts.device, op) : 'cpu';
  return new Tensor(binding().empty(s, dtypeCode(dtype), deviceCode(device)));
}
function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Uninitialised memory (contents are whatever the allocator had). */
export function empty(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return finish(make('empty', shape, opts), opts);
}
function filled(op: string, shape: readonly number[], value: number, opts: TensorOptions): Tensor {
  if (typeof value !== 'number') throw invalidArg('a number', `${op}(value)`, value);
  const t = make(op, shape, opts);
  binding().fill_(t.h, value);
  return finish(t, opts);
}
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  return filled('full', shape, value, opts);
}
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled('zeros', shape, 0, opts);
}
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, opts);
}
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device });
}
export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, { dtype: t.dtype, device: t.device });
}
/** Uniform in [low, high), from the seeded generator. */
/** Options of rand/randn: an object, float32 only, numeric distribution parameters. */
function randOpts(op: string, opts: unknown, keys: [string, string]): void {
  if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', `${op}(options)`, opts);
  const o = opts as Record<string, unknown>;
  if (o.dtype !== undefined && o.dtype !== 'float32') throw invalidArg('"float32" (random tensors are float32)', `${op}(dtype)`, o.dtype, 'ERR_RN_DTYPE');
  for (const k of keys) if (o[k] !== undefined && typeof o[k] !== 'number') throw invalidArg('a number', `${op}(${k})`, o[k]);
}
export function rand(shape: readonly number[], opts: TensorOptions & { low?: number; high?: number } = {}): Tensor {
  randOpts('rand', opts, ['low', 'high']);
  const t = make('rand', shape, { ...opts, dtype: 'float32' });
  const [seed, off] = _take(t.numel);
  binding().rand_(t.h, false, seed, off, opts.low ?? 0, opts.high ?? 1);
  return finish(t, opts);
}
/** Normal(mean, std), from the seeded generator. */
export function randn(shape: readonly number[], opts: TensorOptions & { mean?: number; std?: number } = {}): Tensor {
  randOpts('randn', opts, ['mean', 'std']);
  const t = make('randn', shape, { ...opts, dtype: 'float32' });
  const [seed, off] = _take(t.numel);
  binding().rand_(t.h, true, seed, off, opts.mean ?? 0, opts.std ?? 1);
  return finish(t, opts);
}
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  for (const [n, v] of [['start', start], ['end', end], ['step', step]] as const)
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArg('a finite number', `arange(${n})`, v);
  if (step === 0) throw invalidArg('a non-zero number', 'arange(step)', step, 'ERR_RN_RANGE');
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > 2 ** 31) throw invalidArg('a range of at most 2^31 elements', 'arange(end)', end, 'ERR_RN_RANGE');
  const dtype = opts.dtype ?? 'float32';
  const arr = new CTORS[checkDtype(dtype, 'arange')](n) as unknown as { [i: number]: number | bigint };
  for (let i = 0; i < n; i++) arr[i] = dtype === 'int64' ? BigInt(start + i * step) : start + i * step;
  return tensor(arr as unknown as ArrayBufferView, { ...opts, shape: [n] });
}

/** @internal wrap a native result */
export function wrap(n: NativeTensor): Tensor {
  return new Tensor(n);
}

export { typeOf };
