/**
 * Functional ops (`rn.F`): validate arguments (exact messages, stable codes), call the native
 * op, record the autograd node. Backward rules live in grad_rules.ts, one entry per op name.
 */
import { binding, BinaryOp, Handle, NativeTensor, ScalarOp, Unary } from './binding';
import { invalidArg, rnError } from './errors';
import { needsGrad, record } from './autograd';
import { Tensor, wrap, normDim, DType, DTYPES, dtypeCode, checkDevice, cudaBinding, deviceCode, suggestsChannelsLast, channelsLastStrides } from './tensor';
import { _take } from './random';
import { autocastOp } from './autocast';

const B = () => binding();
const W = (n: NativeTensor) => wrap(n);

// ---- argument checks ----
export function checkTensor(v: unknown, op: string, name: string): Tensor {
  if (!(v instanceof Tensor)) throw invalidArg('a Tensor', `${op}(${name})`, v);
  if (v.isDisposed) throw rnError('ERR_RN_DISPOSED', `${op}: ${name} is a disposed tensor (shape [${v.shape.join(', ')}])`);
  return v;
}
const HALF = (d: DType) => d === 'bfloat16' || d === 'float16';
/**
 * A floating tensor: float32, or bfloat16 / float16 storage on CUDA (mixed precision, see
 * autocast.ts: an op whose kernels are float32-only computes in float32 between casts).
 */
function checkFloat(v: unknown, op: string, name: string): Tensor {
  const t = checkTensor(v, op, name);
  if (t.dtype !== 'float32' && !(HALF(t.dtype) && t.device === 'cuda'))
    throw Object.assign(new TypeError(`${op}: expected ${name} of dtype float32${t.device === 'cuda' ? ', bfloat16 or float16' : ''} but received ${t.dtype}`), { code: 'ERR_RN_DTYPE' });
  return t;
}
function optTensor(v: unknown, op: string, name: string): Tensor | null {
  if (v === null || v === undefined) return null;
  return checkFloat(v, op, name);
}
function num(v: unknown, op: string, name: string): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw invalidArg('a number', `${op}(${name})`, v);
  return v;
}
function int(v: unknown, op: string, name: string, min = -Infinity): number {
  if (typeof v !== 'number') throw invalidArg('an integer', `${op}(${name})`, v);
  if (!Number.isInteger(v) || v < min) throw invalidArg(min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : 'an integer', `${op}(${name})`, v, 'ERR_RN_RANGE');
  return v;
}
function pair(v: unknown, op: string, name: string, min: number): [number, number] {
  if (Array.isArray(v)) {
    if (v.length !== 2) throw invalidArg('a number or a pair of integers', `${op}(${name})`, v, 'ERR_RN_RANGE');
    return [int(v[0], op, name, min), int(v[1], op, name, min)];
  }
  const x = int(v, op, name, min);
  return [x, x];
}
function dimsArg(d: unknown, nd: number, op: string): number[] {
  if (d === undefined || d === null) return Array.from({ length: nd }, (_, i) => i);
  const arr = Array.isArray(d) ? d : [d];
  const out = arr.map((x) => normDim(x as number, nd, op));
  // as torch: a repeated dim is an error (mean would otherwise divide by its size twice)
  if (new Set(out).size !== out.length) throw invalidArg('distinct dimensions', `${op}(dims)`, d, 'ERR_RN_RANGE');
  return out;
}
const h = (t: Tensor | null): Handle | null => (t ? t.h : null);
/** A separate handle on t's storage, kept by the graph node (so disposing t is safe). */
const save = (t: Tensor): Tensor => t.detach();

// ---- layout / views (no kernel, or a copy) ----
export function contiguous(x: Tensor): Tensor {
  checkTensor(x, 'contiguous', 'input');
  const y = W(B().contiguous(x.h));
  return record('identity', [x], y);
}
export function toChannelsLast(x: Tensor): Tensor {
  checkTensor(x, 'toChannelsLast', 'input');
  return record('identity', [x], W(B().toChannelsLast(x.h)));
}
export function clone(x: Tensor): Tensor {
  checkTensor(x, 'clone', 'input');
  // PyTorch's preserve_format: a channels-last tensor's copy is channels-last
  const y = emptyLayoutOf(x, x.shape.slice());
  B().copy_(y.h, x.h);
  return record('identity', [x], y);
}
/** Same-size float32 ones (internal, for the implicit backward seed). */
export function onesLikeF(x: Tensor): Tensor {
  const y = W(B().empty(x.shape.slice(), 0, deviceCode(x.device)));
  B().fill_(y.h, 1);
  return y;
}
/**
 * A copy in another dtype or on another device (x itself when nothing changes). Casts between
 * floating dtypes (float32, bfloat16, float16: CUDA) are recorded for autograd, the gradient being
 * cast back (mixed precision, see autocast.ts); device moves are not recorded.
 */
export function to(x: Tensor, target: string): Tensor {
  checkTensor(x, 'to', 'input');
  if (DTYPES.includes(target as DType)) {
    if (target === x.dtype) return x;
    const y = W(B().castTo(x.h, dtypeCode(target as DType)));
    // float -> float casts are differentiable (the gradient is cast back): mixed precision
    const floats = (d: DType) => d === 'float32' || HALF(d);
    return floats(x.dtype) && floats(target as DType) ? record('cast', [x], y, { from: x.dtype }) : y;
  }
  const dev = checkDevice(target, 'to');
  if (dev === x.device) return x;
  // A copy on the other device (same dtype, same memory format when dense). Not recorded for
  // autograd: move parameters (Module.to) and inputs before building the graph.
  return W(cudaBinding().toDevice(x.h, deviceCode(dev)));
}

function viewOf(x: Tensor, shape: number[], strides: number[], offset: number): Tensor {
  return W(B().view(x.h, shape, strides, offset));
}
/** @internal An uninitialised tensor of `shape`, dtype and device of x, channels-last where x's layout is. */
export function emptyLayoutOf(x: Tensor, shape: number[]): Tensor {
  const y = W(B().empty(shape, dtypeCode(x.dtype), deviceCode(x.device)));
  if (shape.length !== 4 || !suggestsChannelsLast(x)) return y;
  const v = viewOf(y, shape, channelsLastStrides(shape), 0);  // NHWC memory seen as [N, C, H, W]
  y.dispose();
  return v;
}
function contiguousStrides(shape: readonly number[]): number[] {
  const st = new Array(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= Math.max(shape[i], 1);
  }
  return st;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, 'reshape', 'input');
  if (!Array.isArray(shape)) throw invalidArg('an array of integers', 'reshape(shape)', shape);
  const n = x.numel;
  let infer = -1;
  let known = 1;
  const s = shape.map((v, i) => {
    if (v === -1 && infer < 0) {
      infer = i;
      return -1;
    }
    int(v, 'reshape', 'shape', 0);
    known *= v;
    return v;
  });
  if (infer >= 0) {
    if (known === 0 || n % known) throw rnError('ERR_RN_SHAPE', `reshape: shape [${shape.join(', ')}] is invalid for input of size ${n}`);
    s[infer] = n / known;
  } else if (known !== n) throw rnError('ERR_RN_SHAPE', `reshape: shape [${shape.join(', ')}] is invalid for input of size ${n} (shape [${x.shape.join(', ')}])`);
  const src = x.isContiguous() ? x : W(B().contiguous(x.h));
  const y = viewOf(src, s, contiguousStrides(s), src.offset);
  if (src !== x) src.dispose();
  return record('reshape', [x], y, { shape: x.shape.slice() });
}
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  checkTensor(x, 'flatten', 'input');
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, 'flatten');
  const e = normDim(endDim, x.ndim, 'flatten');
  if (e < s) throw invalidArg(`an end dimension >= ${s}`, 'flatten(endDim)', endDim, 'ERR_RN_RANGE');
  const shape = [...x.shape.slice(0, s), x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}
export function squeeze(x: Tensor, dim?: number): Tensor {
  checkTensor(x, 'squeeze', 'input');
  if (dim === undefined) return reshape(x, x.shape.filter((s) => s !== 1));
  const d = normDim(dim, x.ndim, 'squeeze');
  if (x.shape[d] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== d));
}
export function unsqueeze(x: Tensor, dim: number): Tensor {
  checkTensor(x, 'unsqueeze', 'input');
  const d = normDim(dim, x.ndim + 1, 'unsqueeze');
  const s = x.shape.slice();
  s.splice(d, 0, 1);
  return reshape(x, s);
}
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor(x, 'permute', 'input');
  if (!Array.isArray(dims) || dims.length !== x.ndim) throw invalidArg(`an array of ${x.ndim} dimensions`, 'permute(dims)', dims);
  const d = dims.map((v) => normDim(v, x.ndim, 'permute'));
  if (new Set(d).size !== d.length) throw invalidArg('a permutation of the dimensions', 'permute(dims)', dims, 'ERR_RN_RANGE');
  const y = viewOf(x, d.map((i) => x.shape[i]), d.map((i) => x.strides[i]), x.offset);
  return record('permute', [x], y, { dims: d });
}
export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  checkTensor(x, 'transpose', 'input');
  const a = normDim(d0, x.ndim, 'transpose');
  const b = normDim(d1, x.ndim, 'transpose');
  const p = x.shape.map((_, i) => i);
  [p[a], p[b]] = [p[b], p[a]];
  return permute(x, p);
}
/** x[start:end:step] along dim (a view). */
export function slice(x: Tensor, dim: number, start: number, end?: number, step = 1): Tensor {
  checkTensor(x, 'slice', 'input');
  const d = normDim(dim, x.ndim, 'slice');
  const n = x.shape[d];
  int(start, 'slice', 'start');
  if (end !== undefined) int(end, 'slice', 'end');
  int(step, 'slice', 'step', 1);
  const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clampIdx(start);
  const e = Math.max(s, clampIdx(end ?? n));
  const len = Math.ceil((e - s) / step);
  const shape = x.shape.slice();
  shape[d] = len;
  const strides = x.strides.slice();
  strides[d] = x.strides[d] * step;
  const y = viewOf(x, shape, strides, x.offset + (len > 0 ? s * x.strides[d] : 0));
  return record('slice', [x], y, { dim: d, start: s, step, shape: x.shape.slice() });
}
/** Broadcast view (stride 0 on expanded dims). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor(x, 'expand', 'input');
  if (!Array.isArray(shape) || shape.length < x.ndim) throw invalidArg(`an array of at least ${x.ndim} sizes`, 'expand(shape)', shape);
  const off = shape.length - x.ndim;
  const st: number[] = [];
  const out = shape.map((s, i) => {
    const src = i - off;
    if (src < 0) {
      st.push(0);
      return int(s, 'expand', 'shape', 0);
    }
    const xs = x.shape[src];
    const want = s === -1 ? xs : int(s, 'expand', 'shape', 0);
    if (xs === want) st.push(x.strides[src]);
    else if (xs === 1) st.push(0);
    else throw rnError('ERR_RN_SHAPE', `expand: cannot expand shape [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
    return want;
  });
  return record('expand', [x], viewOf(x, out, st, x.offset), { shape: x.shape.slice() });
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw invalidArg('a non-empty array of Tensors', 'cat(tensors)', tensors);
  tensors.forEach((t, i) => checkTensor(t, 'cat', `tensors[${i}]`));
  const ac = autocastOp('cat', tensors, (...ts) => cat(ts, dim));
  if (ac) return ac;
  const first = tensors[0];
  const d = normDim(dim, first.ndim, 'cat');
  let total = 0;
  for (const [i, t] of (tensors as Tensor[]).entries()) {
    if (t.ndim !== first.ndim || t.shape.some((s: number, k: number) => k !== d && s !== first.shape[k]) || t.dtype !== first.dtype)
      throw rnError('ERR_RN_SHAPE', `cat: tensors[${i}] has shape [${t.shape.join(', ')}] (${t.dtype}) but tensors[0] has [${first.shape.join(', ')}] (${first.dtype}); sizes must match except in dim ${d}`);
    total += t.shape[d];
  }
  const shape = first.shape.slice();
  shape[d] = total;
  const y = W(B().empty(shape, dtypeCode(first.dtype), deviceCode(first.device)));
  const st = contiguousStrides(shape);
  let off = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const s = shape.slice();
    s[d] = t.shape[d];
    if (t.shape[d] > 0) {
      const v = viewOf(y, s, st, off * st[d]);
      B().copy_(v.h, t.h);
      v.dispose();
    }
    off += t.shape[d];
    sizes.push(t.shape[d]);
  }
  return record('cat', tensors as Tensor[], y, { dim: d, sizes });
}
export function split(x: Tensor, sizeOrSizes: number | readonly number[], dim = 0): Tensor[] {
  checkTensor(x, 'split', 'input');
  const d = normDim(dim, x.ndim, 'split');
  const n = x.shape[d];
  let sizes: number[];
  if (Array.isArray(sizeOrSizes)) {
    sizes = sizeOrSizes.map((s) => int(s, 'split', 'sizes', 0));
    if (sizes.reduce((a, b) => a + b, 0) !== n) throw rnError('ERR_RN_SHAPE', `split: sizes [${sizes.join(', ')}] do not sum to ${n}, the size of dim ${d}`);
  } else {
    const s = int(sizeOrSizes, 'split', 'size', 1);
    sizes = [];
    for (let i = 0; i < n; i += s) sizes.push(Math.min(s, n - i));
  }
  let off = 0;
  return sizes.map((s) => {
    const t = slice(x, d, off, off + s);
    off += s;
    return t;
  });
}
/** Constant padding, PyTorch order: [left, right] of the last dim, then [top, bottom] of the one before, ... */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  checkTensor(x, 'pad', 'input');
  if (!Array.isArray(pads) || pads.length % 2 || pads.length / 2 > x.ndim) throw invalidArg(`an even-length array of at most ${2 * x.ndim} integers`, 'pad(pads)', pads);
  num(value, 'pad', 'value');
  const shape = x.shape.slice();
  const before = new Array(x.ndim).fill(0);
  for (let i = 0; i < pads.length / 2; i++) {
    const dd = x.ndim - 1 - i;
    const l = int(pads[2 * i], 'pad', 'pads', 0);
    const r = int(pads[2 * i + 1], 'pad', 'pads', 0);
    before[dd] = l;
    shape[dd] += l + r;
  }
  // as PyTorch: the output takes the input's memory format (a channels-last activation stays so)
  const y = emptyLayoutOf(x, shape);
  B().fill_(y.h, value);
  const st = y.strides.slice();
  if (x.numel > 0) {
    const v = viewOf(y, x.shape.slice(), st, before.reduce((a, b, i) => a + b * st[i], 0));
    B().copy_(v.h, x.h);
    v.dispose();
  }
  return record('pad', [x], y, { before, shape: x.shape.slice() });
}

// ---- elementwise ----
function binary(opName: 'add' | 'sub' | 'mul' | 'div', a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw invalidArg('a Tensor', `${opName}(input)`, a);
  const ac = autocastOp(opName, [a, b], (x, y) => binary(opName, x, y));
  if (ac) return ac;
  if (typeof b === 'number' || typeof a === 'number') {
    const t = checkFloat(typeof a === 'number' ? b : a, opName, typeof a === 'number' ? 'other' : 'input');
    const s = num(typeof a === 'number' ? a : b, opName, typeof a === 'number' ? 'input' : 'other');
    const rev = typeof a === 'number';
    switch (opName) {
      case 'add': return scalarOp('addScalar', ScalarOp.add, t, s);
      case 'mul': return scalarOp('mulScalar', ScalarOp.mul, t, s);
      case 'sub': return rev ? scalarOp('rsubScalar', ScalarOp.rsub, t, s) : scalarOp('addScalar', ScalarOp.add, t, -s);
      case 'div': return rev ? scalarOp('rdivScalar', ScalarOp.rdiv, t, s) : scalarOp('mulScalar', ScalarOp.mul, t, 1 / s);
    }
  }
  const x = checkFloat(a, opName, 'input');
  const y = checkFloat(b, opName, 'other');
  const out = W(B().binary(BinaryOp[opName], x.h, y.h));
  const ng = needsGrad([x, y]);
  const keepInputs = ng && (opName === 'mul' || opName === 'div');
  const sa = keepInputs ? save(x) : null;
  const sb = keepInputs ? save(y) : null;
  return record(opName, [x, y], out, { aShape: x.shape.slice(), bShape: y.shape.slice(), a: sa, b: sb }, sa && sb ? [sa, sb] : []);
}
function scalarOp(name: 'addScalar' | 'mulScalar' | 'rsubScalar' | 'rdivScalar' | 'powScalar', code: number, x: Tensor, s: number): Tensor {
  const out = W(B().scalar(code, x.h, s));
  const ng = needsGrad([x]);
  const sx = ng && (name === 'rdivScalar' || name === 'powScalar') ? save(x) : null;
  return record(name, [x], out, { s, x: sx }, sx ? [sx] : []);
}
export const add = (a: Tensor | number, b: Tensor | number): Tensor => binary('add', a, b);
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binary('sub', a, b);
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binary('mul', a, b);
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binary('div', a, b);
export function pow(x: Tensor, p: number): Tensor {
  const ac = autocastOp('pow', [x], (c) => pow(c, p));
  if (ac) return ac;
  checkFloat(x, 'pow', 'input');
  return scalarOp('powScalar', ScalarOp.pow, x, num(p, 'pow', 'exponent'));
}

type UnaryName = 'relu' | 'sigmoid' | 'tanh' | 'gelu' | 'geluTanh' | 'exp' | 'log' | 'neg' | 'sqrt' | 'abs';
// rules that need the forward input (the others use the output)
const USES_INPUT = new Set<UnaryName>(['gelu', 'geluTanh', 'log', 'abs']);
function unary(name: UnaryName, x: Tensor, api = name as string): Tensor {
  const ac = autocastOp(api, [x], (c) => unary(name, c, api));
  if (ac) return ac;
  checkFloat(x, api, 'input');
  const y = W(B().unary(Unary[name], x.h));
  const ng = needsGrad([x]);
  const s = ng && name !== 'neg' ? save(USES_INPUT.has(name) ? x : y) : null;
  return record('unary', [x], y, { code: Unary[name], usesInput: USES_INPUT.has(name), t: s, name: api }, s ? [s] : []);
}
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const neg = (x: Tensor) => unary('neg', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const abs = (x: Tensor) => unary('abs', x);
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const a = opts.approximate ?? 'none';
  if (a !== 'none' && a !== 'tanh') throw invalidArg('"none" or "tanh"', 'gelu(approximate)', a);
  return unary(a === 'tanh' ? 'geluTanh' : 'gelu', x, 'gelu');
}

export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkFloat(x, 'dropout', 'input');
  num(p, 'dropout', 'p');
  if (p < 0 || p > 1) throw invalidArg('a probability in [0, 1]', 'dropout(p)', p, 'ERR_RN_RANGE');
  if (!training || p === 0) return x;
  const ac = autocastOp('dropout', [x], (c) => dropout(c, p, training));
  if (ac) return ac;
  const [seed, off] = _take(x.numel);
  const y = W(B().dropoutForward(x.h, p, seed, off));
  return record('dropout', [x], y, { p, seed, off });
}

// ---- reductions ----
export function sum(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const ac = autocastOp('sum', [x], (c) => sum(c, dims, keepdim));
  if (ac) return ac;
  checkFloat(x, 'sum', 'input');
  const d = dimsArg(dims, x.ndim, 'sum');
  const y = W(B().sum(x.h, d, keepdim, 1));
  return record('sum', [x], y, { dims: d, keepdim, scale: 1, shape: x.shape.slice() });
}
export function mean(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const ac = autocastOp('mean', [x], (c) => mean(c, dims, keepdim));
  if (ac) return ac;
  checkFloat(x, 'mean', 'input');
  const d = dimsArg(dims, x.ndim, 'mean');
  const n = d.reduce((a, i) => a * x.shape[i], 1);
  const scale = 1 / n;
  const y = W(B().sum(x.h, d, keepdim, scale));
  return record('sum', [x], y, { dims: d, keepdim, scale, shape: x.shape.slice() });
}
export function max(x: Tensor, dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
  const ac = autocastOp('max', [x], (c) => max(c, dim, keepdim));
  if (ac) {  // computed in float32: values in x's dtype, as the policy's other results
    const values = to(ac.values, x.dtype);
    ac.values.dispose();
    return { values, indices: ac.indices };
  }
  checkFloat(x, 'max', 'input');
  const d = normDim(dim, x.ndim, 'max');
  const [v, i] = B().maxDim(x.h, d, keepdim);
  // values carry no gradient (use logSoftmax/crossEntropy for differentiable selection)
  return { values: W(v), indices: W(i) };
}
export function argmax(x: Tensor, dim: number, keepdim = false): Tensor {
  const ac = autocastOp('argmax', [x], (c) => argmax(c, dim, keepdim));
  if (ac) return ac;
  checkFloat(x, 'argmax', 'input');
  const [v, i] = B().maxDim(x.h, normDim(dim, x.ndim, 'argmax'), keepdim);
  B().dispose(v.h);
  return W(i);
}
/** Elementwise a == b as float32 0/1 (no gradient). */
export function eq(a: Tensor, b: Tensor): Tensor {
  checkTensor(a, 'eq', 'input');
  checkTensor(b, 'eq', 'other');
  const x = a.dtype === 'float32' ? a : to(a, 'float32');
  const y = b.dtype === 'float32' ? b : to(b, 'float32');
  const out = W(B().binary(BinaryOp.eq, x.h, y.h));
  if (x !== a) x.dispose();
  if (y !== b) y.dispose();
  return out;
}

// ---- linear algebra ----
export function matmul(a: Tensor, b: Tensor): Tensor {
  const ac = autocastOp('matmul', [a, b], matmul);
  if (ac) return ac;
  checkFloat(a, 'matmul', 'input');
  checkFloat(b, 'matmul', 'other');
  const y = W(B().matmul(a.h, b.h, false, false));
  const ng = needsGrad([a, b]);
  const sa = ng ? save(a) : null;
  const sb = ng ? save(b) : null;
  return record('matmul', [a, b], y, { a: sa, b: sb }, ng ? [sa!, sb!] : []);
}
/** y = x W^T + b, with W [out, in] as torch.nn.Linear; x [..., in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const ac = autocastOp('linear', [x, weight, bias], linear);
  if (ac) return ac;
  checkFloat(x, 'linear', 'input');
  checkFloat(weight, 'linear', 'weight');
  const b = optTensor(bias, 'linear', 'bias');
  if (b && x.dtype !== 'float32') return withBias(linear(x, weight, null), b, [b.shape[0]]);
  if (weight.ndim !== 2) throw rnError('ERR_RN_SHAPE', `linear: expected a 2-D weight [out, in] but received shape [${weight.shape.join(', ')}]`);
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== weight.shape[1])
    throw rnError('ERR_RN_SHAPE', `linear: input has ${x.shape[x.ndim - 1]} features (shape [${x.shape.join(', ')}]) but weight [${weight.shape.join(', ')}] expects ${weight.shape[1]}`);
  if (b && (b.ndim !== 1 || b.shape[0] !== weight.shape[0]))
    throw rnError('ERR_RN_SHAPE', `linear: bias has shape [${b.shape.join(', ')}] but weight has ${weight.shape[0]} outputs`);
  const inF = weight.shape[1];
  const outF = weight.shape[0];
  const rows = inF > 0 ? x.numel / inF : 0;
  // x as a contiguous [rows, in] matrix (a view when x is already contiguous)
  const xc = x.isContiguous() ? x : W(B().contiguous(x.h));
  const x2 = viewOf(xc, [rows, inF], [inF, 1], xc.offset);
  if (xc !== x) xc.dispose();
  let y = W(B().matmul(x2.h, weight.h, false, true));
  if (b) {
    const yb = W(B().binary(BinaryOp.add, y.h, b.h));
    y.dispose();
    y = yb;
  }
  const outShape = [...x.shape.slice(0, -1), outF];
  const yv = viewOf(y, outShape, contiguousStrides(outShape), 0);
  y.dispose();
  const ng = needsGrad([x, weight, b]);
  if (!ng) x2.dispose();
  const sw = ng ? save(weight) : null;
  return record('linear', [x, weight, b], yv, { x2: ng ? x2 : null, w: sw, xShape: x.shape.slice(), hasBias: !!b }, ng ? [x2, sw!] : []);
}

// ---- convolution ----
export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  groups?: number;
}
export function conv2dParams(o: Conv2dOptions, op = 'conv2d'): number[] {
  if (o === null || typeof o !== 'object') throw invalidArg('an options object', `${op}(options)`, o);
  const [sh, sw] = pair(o.stride ?? 1, op, 'stride', 1);
  const [ph, pw] = pair(o.padding ?? 0, op, 'padding', 0);
  const [dh, dw] = pair(o.dilation ?? 1, op, 'dilation', 1);
  const g = int(o.groups ?? 1, op, 'groups', 1);
  return [sh, sw, ph, pw, dh, dw, g];
}
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const ac = autocastOp('conv2d', [x, weight, bias], (cx, cw, cb) => conv2d(cx, cw, cb, opts));
  if (ac) return ac;
  checkFloat(x, 'conv2d', 'input');
  checkFloat(weight, 'conv2d', 'weight');
  const b = optTensor(bias, 'conv2d', 'bias');
  const params = conv2dParams(opts);
  // the CUDA kernels add a float32 bias only: a half-precision conv adds it as its own op
  if (b && x.dtype !== 'float32') return withBias(conv2d(x, weight, null, opts), b, [1, b.shape[0], 1, 1]);
  // PyTorch's rule: a channels-last weight (model.toChannelsLast()) makes a channels-last conv,
  // so an NCHW input is converted (the result, and what follows it, stays channels-last)
  if (x.ndim === 4 && !x.isChannelsLast() && suggestsChannelsLast(weight)) {
    const xc = toChannelsLast(x);
    const y = conv2d(xc, weight, b, opts);
    xc.dispose();  // the conv holds its own handle
    return y;
  }
  const y = W(B().conv2dForward(x.h, weight.h, h(b), params));
  const ng = needsGrad([x, weight, b]);
  const sx = ng ? save(x) : null;
  const sw = ng ? save(weight) : null;
  return record('conv2d', [x, weight, b], y, { x: sx, w: sw, params, channelsLast: x.isChannelsLast() && !x.isContiguous() }, ng ? [sx!, sw!] : []);
}
/** y + bias (viewed as `shape`) as a separate, recorded op (the half-precision paths). */
function withBias(y: Tensor, bias: Tensor, shape: number[]): Tensor {
  const bv = reshape(bias, shape);
  const out = add(y, bv);
  y.dispose();
  bv.dispose();
  return out;
}

// ---- normalisation ----
export interface BatchNormOptions {
  training?: boolean;
  momentum?: number;
  eps?: number;
}
export function batchNorm2d(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null = null, bias: Tensor | null = null, opts: BatchNormOptions = {}): Tensor {
  // the activation follows the policy; weight, bias and running statistics stay float32
  const ac = autocastOp('batchNorm2d', [x], (c) => batchNorm2d(c, runningMean, runningVar, weight, bias, opts));
  if (ac) return ac;
  checkFloat(x, 'batchNorm2d', 'input');
  const rm = optTensor(runningMean, 'batchNorm2d', 'runningMean');
  const rv = optTensor(runningVar, 'batchNorm2d', 'runningVar');
  const w = optTensor(weight, 'batchNorm2d', 'weight');
  const b = optTensor(bias, 'batchNorm2d', 'bias');
  if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', 'batchNorm2d(options)', opts);
  const training = opts.training ?? true;
  if (typeof training !== 'boolean') throw invalidArg('a boolean', 'batchNorm2d(training)', training);
  const momentum = num(opts.momentum ?? 0.1, 'batchNorm2d', 'momentum');
  const eps = num(opts.eps ?? 1e-5, 'batchNorm2d', 'eps');
  if (!(eps > 0)) throw invalidArg('a positive number', 'batchNorm2d(eps)', eps, 'ERR_RN_RANGE');
  if (!training && (!rm || !rv)) throw rnError('ERR_RN_ARG', 'batchNorm2d: eval mode (training: false) needs runningMean and runningVar');
  const [yn, mn, sn] = B().batchNormForward(x.h, h(w), h(b), h(rm), h(rv), training, momentum, eps);
  const y = W(yn);
  const ng = needsGrad([x, w, b]);
  const owned: Tensor[] = [];
  let sm: Tensor | null = null;
  let si: Tensor | null = null;
  if (training) {
    sm = W(mn!);
    si = W(sn!);
    owned.push(sm, si);
  } else if (ng) {
    sm = save(rm!);
    si = save(rv!);
    owned.push(sm, si);
  }
  const sx = ng ? save(x) : null;
  const sw = ng && w ? save(w) : null;
  if (sx) owned.push(sx);
  if (sw) owned.push(sw);
  return record('batchNorm2d', [x, w, b], y, { x: sx, w: sw, mean: sm, invstd: si, training, eps }, owned);
}
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const ac = autocastOp('layerNorm', [x, weight, bias], (cx, cw, cb) => layerNorm(cx, normalizedShape, cw, cb, eps));
  if (ac) return ac;
  checkFloat(x, 'layerNorm', 'input');
  if (!Array.isArray(normalizedShape) || normalizedShape.length === 0 || normalizedShape.length > x.ndim)
    throw invalidArg(`an array of 1 to ${x.ndim} sizes`, 'layerNorm(normalizedShape)', normalizedShape);
  const tail = x.shape.slice(x.ndim - normalizedShape.length);
  if (tail.join() !== normalizedShape.join())
    throw rnError('ERR_RN_SHAPE', `layerNorm: normalizedShape [${normalizedShape.join(', ')}] does not match the last dims of input [${x.shape.join(', ')}]`);
  const w = optTensor(weight, 'layerNorm', 'weight');
  const b = optTensor(bias, 'layerNorm', 'bias');
  // as torch: weight and bias have exactly normalizedShape (the kernel only sees their element count)
  for (const [t, name] of [[w, 'weight'], [b, 'bias']] as const)
    if (t && t.shape.join() !== normalizedShape.join())
      throw rnError('ERR_RN_SHAPE', `layerNorm: ${name} has shape [${t.shape.join(', ')}] but normalizedShape is [${normalizedShape.join(', ')}]`);
  num(eps, 'layerNorm', 'eps');
  const D = normalizedShape.reduce((a, v) => a * v, 1);
  const [yn, mn, rn_] = B().layerNormForward(x.h, D, h(w), h(b), eps);
  const y = W(yn);
  const m = W(mn);
  const r = W(rn_);
  const ng = needsGrad([x, w, b]);
  const sx = ng ? save(x) : null;
  const sw = ng && w ? save(w) : null;
  const owned = [m, r, ...(sx ? [sx] : []), ...(sw ? [sw] : [])];
  return record('layerNorm', [x, w, b], y, { x: sx, w: sw, mean: m, rstd: r, D, hasW: !!w, hasB: !!b }, owned);
}

// ---- pooling ----
export interface Pool2dOptions {
  kernelSize: number | [number, number];
  stride?: number | [number, number] | null;
  padding?: number | [number, number];
  ceilMode?: boolean;
  countIncludePad?: boolean;
}
function poolParams(o: Pool2dOptions, op: string): number[] {
  if (o === null || typeof o !== 'object') throw invalidArg('an options object with kernelSize', `${op}(options)`, o);
  const [kh, kw] = pair(o.kernelSize, op, 'kernelSize', 1);
  const [sh, sw] = o.stride === undefined || o.stride === null ? [kh, kw] : pair(o.stride, op, 'stride', 1);
  const [ph, pw] = pair(o.padding ?? 0, op, 'padding', 0);
  return [kh, kw, sh, sw, ph, pw, o.ceilMode ? 1 : 0, o.countIncludePad === false ? 0 : 1];
}
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const ac = autocastOp('maxPool2d', [x], (c) => maxPool2d(c, opts));
  if (ac) return ac;
  checkFloat(x, 'maxPool2d', 'input');
  const p = poolParams(opts, 'maxPool2d');
  const [yn, idxn] = B().maxPool2dForward(x.h, p);
  const idx = W(idxn);
  return layoutOf(x, record('maxPool2d', [x], W(yn), { idx, p, shape: x.shape.slice() }, [idx]));
}
/**
 * Pooling keeps the input's memory format (as PyTorch's): a channels-last input gets its output
 * back channels-last, so a channels-last network stays so past its pooling layers. CPU max
 * pooling already returns channels-last (then this is a view); the other pooling kernels compute
 * NCHW and this is a recorded copy. A 1x1 result is both layouts already.
 */
function layoutOf(x: Tensor, y: Tensor): Tensor {
  if (y.ndim !== 4 || y.shape[2] * y.shape[3] <= 1 || y.shape[1] <= 1 || !suggestsChannelsLast(x)) return y;
  const out = toChannelsLast(y);
  y.dispose();
  return out;
}
export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const ac = autocastOp('avgPool2d', [x], (c) => avgPool2d(c, opts));
  if (ac) return ac;
  checkFloat(x, 'avgPool2d', 'input');
  const p = poolParams(opts, 'avgPool2d');
  return layoutOf(x, record('avgPool2d', [x], W(B().avgPool2dForward(x.h, p)), { p, shape: x.shape.slice() }));
}
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | [number, number]): Tensor {
  const ac = autocastOp('adaptiveAvgPool2d', [x], (c) => adaptiveAvgPool2d(c, outputSize));
  if (ac) return ac;
  checkFloat(x, 'adaptiveAvgPool2d', 'input');
  const [oh, ow] = pair(outputSize, 'adaptiveAvgPool2d', 'outputSize', 1);
  return layoutOf(x, record('adaptiveAvgPool2d', [x], W(B().adaptiveAvgPool2dForward(x.h, oh, ow)), { shape: x.shape.slice() }));
}

// ---- softmax and losses ----
export function softmax(x: Tensor, dim: number): Tensor {
  const ac = autocastOp('softmax', [x], (c) => softmax(c, dim));
  if (ac) return ac;
  checkFloat(x, 'softmax', 'input');
  const d = normDim(dim, x.ndim, 'softmax');
  const y = W(B().softmaxForward(x.h, d, false));
  const s = needsGrad([x]) ? save(y) : null;
  return record('softmax', [x], y, { y: s, dim: d, log: false }, s ? [s] : []);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  const ac = autocastOp('logSoftmax', [x], (c) => logSoftmax(c, dim));
  if (ac) return ac;
  checkFloat(x, 'logSoftmax', 'input');
  const d = normDim(dim, x.ndim, 'logSoftmax');
  const y = W(B().softmaxForward(x.h, d, true));
  const s = needsGrad([x]) ? save(y) : null;
  return record('softmax', [x], y, { y: s, dim: d, log: true }, s ? [s] : []);
}
export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
export interface CrossEntropyOptions {
  reduction?: Reduction;
  labelSmoothing?: number;
  ignoreIndex?: number;
}
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ac = autocastOp('crossEntropy', [input], (c) => crossEntropy(c, target, opts));
  if (ac) return ac;
  checkFloat(input, 'crossEntropy', 'input');
  checkTensor(target, 'crossEntropy', 'target');
  if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', 'crossEntropy(options)', opts);
  const red = opts.reduction ?? 'mean';
  if (!(red in REDUCTIONS)) throw invalidArg('"mean", "sum" or "none"', 'crossEntropy(reduction)', red);
  const ls = num(opts.labelSmoothing ?? 0, 'crossEntropy', 'labelSmoothing');
  if (ls < 0 || ls > 1) throw invalidArg('a number in [0, 1]', 'crossEntropy(labelSmoothing)', ls, 'ERR_RN_RANGE');
  const ig = int(opts.ignoreIndex ?? -100, 'crossEntropy', 'ignoreIndex');
  // targets are int32: a larger ignoreIndex could never match, and the kernel takes 32 bits
  if (ig < -(2 ** 31) || ig >= 2 ** 31) throw invalidArg('a 32-bit integer', 'crossEntropy(ignoreIndex)', ig, 'ERR_RN_RANGE');
  const [ln, lpn, cn] = B().crossEntropyForward(input.h, target.h, REDUCTIONS[red], ls, ig);
  const logp = W(lpn);
  const count = W(cn);
  const st = needsGrad([input]) ? save(target) : null;
  return record('crossEntropy', [input], W(ln), { logp, count, target: st, red: REDUCTIONS[red], ls, ig }, [logp, count, ...(st ? [st] : [])]);
}
export function mseLoss(a: Tensor, b: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const ac = autocastOp('mseLoss', [a, b], (ca, cb) => mseLoss(ca, cb, opts));
  if (ac) return ac;
  checkFloat(a, 'mseLoss', 'input');
  checkFloat(b, 'mseLoss', 'target');
  if (a.shape.join() !== b.shape.join())
    throw rnError('ERR_RN_SHAPE', `mseLoss: input has shape [${a.shape.join(', ')}] but target has [${b.shape.join(', ')}]`);
  const red = opts.reduction ?? 'mean';
  if (!(red in REDUCTIONS)) throw invalidArg('"mean", "sum" or "none"', 'mseLoss(reduction)', red);
  const d = sub(a, b);
  const sq = mul(d, d);
  if (red === 'none') return sq;
  return red === 'mean' ? mean(sq) : sum(sq);
}

export { DType };

/**
 * Stochastic depth (DropPath): zero whole samples of a residual branch x ([N, ...]) with
 * probability p, per sample. Survivors are scaled by 1/(1-p) (`scaleByKeep`, as timm does) so the
 * expectation is unchanged and evaluation needs no rescaling; with training false it is the
 * identity. Composed from dropout (on an [N, 1, ..., 1] ones tensor: the per-sample mask) and a
 * broadcasting mul, so it needs no rule of its own.
 */
export function dropPath(x: Tensor, p = 0, training = true, scaleByKeep = true): Tensor {
  checkFloat(x, 'dropPath', 'input');
  num(p, 'dropPath', 'p');
  if (p < 0 || p > 1) throw invalidArg('a probability in [0, 1]', 'dropPath(p)', p, 'ERR_RN_RANGE');
  if (!training || p === 0 || x.ndim === 0) return x;
  if (p === 1) return mul(x, 0);
  const shape = [x.shape[0], ...x.shape.slice(1).map(() => 1)];
  const ones = W(B().empty(shape, 0, deviceCode(x.device)));
  B().fill_(ones.h, 1);
  const mask = dropout(ones, p, true); // 0 or 1/(1-p) per sample; no gradient
  ones.dispose();
  const scaled = scaleByKeep ? mask : mul(mask, 1 - p);
  if (scaled !== mask) mask.dispose();
  const m = to(scaled, x.dtype); // in x's dtype (a half-precision branch stays so)
  if (m !== scaled) scaled.dispose();
  const y = mul(x, m);
  m.dispose(); // mul keeps its own handle on the mask for backward
  return y;
}

// ---- fused batch norm (+ residual add) + relu: native/cpu/bn_add_relu.cc ----
// (imports are hoisted; they sit here so this block stays self-contained)
import { getFusion } from './fusion';
import { noGrad as noGradFn } from './autograd';

function bnReluArgs(op: string, opts: BatchNormOptions): { training: boolean; momentum: number; eps: number } {
  if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', `${op}(options)`, opts);
  const training = opts.training ?? true;
  if (typeof training !== 'boolean') throw invalidArg('a boolean', `${op}(training)`, training);
  const momentum = num(opts.momentum ?? 0.1, op, 'momentum');
  const eps = num(opts.eps ?? 1e-5, op, 'eps');
  if (!(eps > 0)) throw invalidArg('a positive number', `${op}(eps)`, eps, 'ERR_RN_RANGE');
  return { training, momentum, eps };
}
function bnRelu(op: 'batchNormAddRelu' | 'batchNormRelu', x: Tensor, residual: Tensor | null, runningMean: Tensor | null,
  runningVar: Tensor | null, weight: Tensor | null, bias: Tensor | null, opts: BatchNormOptions): Tensor {
  // activations follow the policy (the residual takes x's dtype); the statistics stay float32
  const ac = autocastOp(op, [x, residual], (cx, cr) => bnRelu(op, cx, cr, runningMean, runningVar, weight, bias, opts));
  if (ac) return ac;
  checkFloat(x, op, 'input');
  const r = op === 'batchNormAddRelu' ? checkFloat(residual, op, 'residual') : null;
  if (r && r.shape.join() !== x.shape.join())
    throw rnError('ERR_RN_SHAPE', `${op}: residual has shape [${r.shape.join(', ')}] but input has shape [${x.shape.join(', ')}]`);
  const rm = optTensor(runningMean, op, 'runningMean');
  const rv = optTensor(runningVar, op, 'runningVar');
  const w = optTensor(weight, op, 'weight');
  const b = optTensor(bias, op, 'bias');
  const { training, momentum, eps } = bnReluArgs(op, opts);
  if (!training && (!rm || !rv)) throw rnError('ERR_RN_ARG', `${op}: eval mode (training: false) needs runningMean and runningVar`);
  if (!getFusion()) {
    // the unfused sequence, for comparisons (rn.setFusion(false)); intermediates are freed at once
    // (the graph only needs their identity, never their data)
    const bn = batchNorm2d(x, rm, rv, w, b, { training, momentum, eps });
    const s = r ? add(bn, r) : bn;
    if (s !== bn) bn.dispose();
    const y = relu(s);
    s.dispose();
    return y;
  }
  const ng = needsGrad([x, r, w, b]);
  const [yn, mn, sn, kn] = B().bnAddReluForward(x.h, h(r), h(w), h(b), h(rm), h(rv), training, momentum, eps, ng);
  const y = W(yn);
  const sm = W(mn);
  const si = W(sn);
  // saved: x (BN's input), the ReLU mask as bits (1/32 of y's bytes, AVX-512 CPU kernels) or else
  // y itself (mask = y > 0; the next layer holds y anyway), per-channel mean/invstd.
  const mask = kn ? W(kn) : null;
  const sx = ng ? save(x) : null;
  const sy = mask ?? (ng ? save(y) : null);
  const sw = ng && w ? save(w) : null;
  const owned = [sm, si, ...(sx ? [sx] : []), ...(sy ? [sy] : []), ...(sw ? [sw] : [])];
  return record('batchNormAddRelu', [x, r, w, b], y, { x: sx, y: sy, w: sw, mean: sm, invstd: si, training, hasResidual: !!r }, owned);
}
/**
 * y = relu(batchNorm2d(x) + residual), fused (one kernel forward, one backward). Arguments and
 * options as `batchNorm2d` (training default true, momentum 0.1, eps 1e-5; the running statistics
 * are updated in place in training, with the unbiased variance); `residual` has x's shape.
 * NCHW and channels-last inputs (y keeps x's layout). With `rn.setFusion(false)` it runs the
 * unfused ops instead. For backward it keeps x, the per-channel mean and inverse std, and the ReLU
 * mask: as bits (1/32 of y's bytes) on AVX-512 CPUs, else y itself (mask = y > 0).
 */
export function batchNormAddRelu(x: Tensor, residual: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null = null, bias: Tensor | null = null, opts: BatchNormOptions = {}): Tensor {
  return bnRelu('batchNormAddRelu', x, residual, runningMean, runningVar, weight, bias, opts);
}
/** y = relu(batchNorm2d(x)), fused; see batchNormAddRelu. */
export function batchNormRelu(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null = null,
  bias: Tensor | null = null, opts: BatchNormOptions = {}): Tensor {
  return bnRelu('batchNormRelu', x, null, runningMean, runningVar, weight, bias, opts);
}

/** What foldBatchNorm needs of a BatchNorm2d (the module itself fits). */
export interface FoldableBatchNorm {
  weight?: Tensor | null;
  bias?: Tensor | null;
  running_mean: Tensor | null;
  running_var: Tensor | null;
  eps?: number;
}
/**
 * Fold an eval-mode BatchNorm into the convolution before it (inference only):
 *   scale = gamma / sqrt(running_var + eps)
 *   weight' = weight * scale (per output channel), bias' = (bias - running_mean) * scale + beta
 * so conv2d(x, weight', bias') equals batchNorm2d(conv2d(x, weight, bias), eval) up to rounding.
 * Returns new tensors outside the autograd graph.
 */
export function foldBatchNorm(convWeight: Tensor, convBias: Tensor | null, bn: FoldableBatchNorm): { weight: Tensor; bias: Tensor } {
  const op = 'foldBatchNorm';
  checkFloat(convWeight, op, 'convWeight');
  if (convWeight.ndim < 2) throw rnError('ERR_RN_SHAPE', `${op}: expected a convolution weight [out, in, ...] but received shape [${convWeight.shape.join(', ')}]`);
  const K = convWeight.shape[0];
  const vec = (t: Tensor | null, name: string) => {
    if (t && (t.ndim !== 1 || t.shape[0] !== K))
      throw rnError('ERR_RN_SHAPE', `${op}: convWeight has ${K} output channels but ${name} has shape [${t.shape.join(', ')}]`);
    return t;
  };
  const cb = vec(optTensor(convBias, op, 'convBias'), 'convBias');
  if (bn === null || typeof bn !== 'object') throw invalidArg('a BatchNorm2d or { weight, bias, running_mean, running_var, eps }', `${op}(bn)`, bn);
  if (!bn.running_mean || !bn.running_var) throw rnError('ERR_RN_ARG', `${op}: bn has no running statistics (trackRunningStats: false cannot be folded)`);
  const rm = vec(checkFloat(bn.running_mean, op, 'bn.running_mean'), 'bn.running_mean')!;
  const rv = vec(checkFloat(bn.running_var, op, 'bn.running_var'), 'bn.running_var')!;
  const g = vec(optTensor(bn.weight, op, 'bn.weight'), 'bn.weight');
  const be = vec(optTensor(bn.bias, op, 'bn.bias'), 'bn.bias');
  const eps = num(bn.eps ?? 1e-5, op, 'bn.eps');
  if (!(eps > 0)) throw invalidArg('a positive number', `${op}(bn.eps)`, eps, 'ERR_RN_RANGE');
  return noGradFn(() => {
    const tmp: Tensor[] = [];
    const t = (x: Tensor) => (tmp.push(x), x);
    // the same float32 operations as the eval-mode batch-norm kernel: 1 / sqrt(var + eps), * gamma
    const inv = t(div(1, t(sqrt(t(add(rv, eps))))));
    const scale = g ? t(mul(g, inv)) : inv;
    const weight = mul(convWeight, t(reshape(scale, [K, ...convWeight.shape.slice(1).map(() => 1)])));
    const centered = t(cb ? sub(cb, rm) : neg(rm));
    const scaled = mul(centered, scale);
    let bias = scaled;
    if (be) {
      bias = add(scaled, be);
      scaled.dispose();
    }
    for (const x of tmp) x.dispose();
    return { weight, bias };
  });
}
