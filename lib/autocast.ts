/**
 * Mixed precision: `rn.autocast('bf16', fn)` and the one dtype policy every functional op consults.
 *
 * Semantics follow `torch.autocast(device_type='cuda')`. Inside the scope, ops on CUDA tensors:
 * - `lower` (conv2d, linear, matmul, so attention's products too): floating inputs, float32 master
 *   weights included, are cast to the autocast dtype; the op runs on tensor cores and returns it;
 * - `fp32` (softmax, logSoftmax, crossEntropy, mseLoss, layerNorm, sum, mean): inputs are cast up
 *   and the op runs and returns float32;
 * - `promote` (add, sub, mul, div, cat): mixed floating dtypes are cast to the widest;
 * - `keep` (everything else: batch norm, the fused batchNorm(Add)Relu, relu, pooling, dropout...):
 *   the result has the (first) input's dtype. Batch norm keeps float32 weight, bias and running
 *   statistics (they are never cast: the running statistics are updated in place).
 * The last three rules hold outside the scope too (type promotion), so code that holds bfloat16
 * activations keeps working after the scope ends (backward, typically).
 *
 * Ops whose CUDA kernels do not take bfloat16 / float16 storage (HALF_KERNELS lists those that
 * do) compute in float32 between recorded casts and return the dtype the rule says, so a
 * half-precision tensor is accepted by every op. Casts are recorded for autograd (a cast's
 * backward casts the gradient back), so gradients reach float32 parameters in float32 and
 * optimisers need nothing special.
 *
 * CPU tensors are never affected, inside the scope or not (as with torch.autocast('cuda')): the
 * CPU backend computes in float32 only, and a CPU op gives bit-identical results in the scope.
 *
 * The scope follows async continuations (AsyncLocalStorage, as `tidy`), so `await` inside it is
 * safe, concurrent scopes do not mix, and it is restored when `fn` throws.
 */
import { AsyncLocalStorage } from 'async_hooks';
import { invalidArg } from './errors';
import type { DType, Tensor } from './tensor';

/** The reduced-precision dtypes autocast casts to. */
export type AutocastDtype = 'bfloat16' | 'float16';
/** What `rn.autocast` accepts as a dtype: the names and PyTorch-style short forms. */
export type AutocastDtypeName = AutocastDtype | 'bf16' | 'f16';
export interface AutocastOptions {
  /** default: the enclosing scope's dtype, else bfloat16 */
  dtype?: AutocastDtypeName;
  /** default true; false turns autocast off inside (torch.autocast(enabled=False)) */
  enabled?: boolean;
}

interface AutocastState {
  enabled: boolean;
  dtype: AutocastDtype;
}

const als = new AsyncLocalStorage<AutocastState>();

const NAMES: Record<string, AutocastDtype> = { bf16: 'bfloat16', bfloat16: 'bfloat16', f16: 'float16', float16: 'float16' };
const EXPECTED = '"bf16", "bfloat16", "f16", "float16", a boolean or { dtype, enabled }';

function parseDtype(v: unknown, name: string): AutocastDtype {
  if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(NAMES, v)) return NAMES[v];
  throw invalidArg(name === 'autocast(dtype)' ? EXPECTED : '"bf16", "bfloat16", "f16" or "float16"', name, v, 'ERR_RN_DTYPE');
}

function parseSpec(spec: unknown, outer: AutocastState | undefined): AutocastState {
  const inherited = outer?.dtype ?? 'bfloat16';
  if (typeof spec === 'boolean') return { enabled: spec, dtype: inherited };
  if (typeof spec === 'string') return { enabled: true, dtype: parseDtype(spec, 'autocast(dtype)') };
  if (spec !== null && typeof spec === 'object' && !Array.isArray(spec)) {
    const o = spec as AutocastOptions;
    if (o.enabled !== undefined && typeof o.enabled !== 'boolean') throw invalidArg('a boolean', 'autocast(enabled)', o.enabled);
    return { enabled: o.enabled ?? true, dtype: o.dtype === undefined ? inherited : parseDtype(o.dtype, 'autocast(options.dtype)') };
  }
  throw invalidArg(EXPECTED, 'autocast(dtype)', spec, 'ERR_RN_DTYPE');
}

/**
 * Run `fn` with mixed precision for CUDA tensors (see the file comment for the op policy):
 * `rn.autocast('bf16', () => model.forward(x))` (also `'bfloat16'`, `'f16'`, `'float16'`), or
 * `rn.autocast({ dtype, enabled }, fn)`; `rn.autocast(false, fn)` turns it off inside an enclosing
 * scope. `fn` may be async (the scope spans its awaits). Returns what `fn` returns.
 */
export function autocast<T>(spec: AutocastDtypeName | boolean | AutocastOptions, fn: () => T): T {
  const state = parseSpec(spec, als.getStore());
  if (typeof fn !== 'function') throw invalidArg('a function', 'autocast(fn)', fn);
  return als.run(state, fn);
}

/** Whether an enabled autocast scope is active here. */
export function isAutocastEnabled(): boolean {
  return als.getStore()?.enabled === true;
}

/** The dtype ops cast to in the active scope ('bfloat16' / 'float16'), or null outside one. */
export function getAutocastDtype(): AutocastDtype | null {
  const s = als.getStore();
  return s && s.enabled ? s.dtype : null;
}

// ---- the policy ----
type CastRule = 'lower' | 'fp32' | 'promote' | 'keep';

/** How each op treats floating inputs (ops not listed: `keep`). */
export const AUTOCAST_POLICY: Readonly<Record<string, CastRule>> = Object.freeze({
  conv2d: 'lower', linear: 'lower', matmul: 'lower',
  softmax: 'fp32', logSoftmax: 'fp32', crossEntropy: 'fp32', mseLoss: 'fp32', layerNorm: 'fp32', sum: 'fp32', mean: 'fp32',
  add: 'promote', sub: 'promote', mul: 'promote', div: 'promote', cat: 'promote',
});

/**
 * Ops whose CUDA kernels take bfloat16 / float16 storage (native/cuda: cuDNN and cuBLAS with
 * float32 accumulation, the fused BatchNorm kernels with float32 statistics, copies). The others
 * compute in float32 between casts. Add an op here when its kernels learn half storage.
 */
export const HALF_KERNELS: ReadonlySet<string> = new Set(['conv2d', 'linear', 'matmul', 'batchNormRelu', 'batchNormAddRelu', 'cat']);

const FLOAT_RANK: Partial<Record<DType, number>> = { float16: 1, bfloat16: 1, float32: 2 };
const isFloat = (t: unknown): t is Tensor =>
  t !== null && typeof t === 'object' && 'dtype' in t && FLOAT_RANK[(t as Tensor).dtype] !== undefined && !(t as Tensor).isDisposed;

function widest(ts: readonly Tensor[]): DType {
  let d = ts[0].dtype;
  for (const t of ts) if (t.dtype !== d) d = 'float32';  // f32 wins; bf16 with f16 meets in f32
  return d;
}

/** The dtypes an op on these floating inputs computes in and returns (null: run it as called). */
export function autocastPlan(op: string, floats: readonly Tensor[]): { compute: DType; result: DType } | null {
  if (floats.length === 0) return null;
  for (const t of floats) if (t.device !== 'cuda') return null;  // CPU tensors: never touched
  const rule = AUTOCAST_POLICY[op] ?? 'keep';
  const scope = als.getStore();
  const active = scope !== undefined && scope.enabled;
  let result: DType;
  if (active && rule === 'lower') result = scope.dtype;
  else if (active && rule === 'fp32') result = 'float32';
  else if (rule === 'keep') result = floats[0].dtype;
  else result = widest(floats);
  const compute = result === 'float32' || HALF_KERNELS.has(op) ? result : 'float32';
  if (compute === result && floats.every((t) => t.dtype === compute)) return null;
  return { compute, result };
}

/**
 * The one call each functional op makes first: when the policy changes dtypes for these inputs,
 * cast the floating ones (recorded for autograd), run `call` on them (the op itself, which then
 * finds nothing to change) and cast its result to the policy's dtype; otherwise return null and
 * the op runs as called. Other inputs (numbers, class indices, masks) pass through unchanged.
 */
export function autocastOp<A extends readonly unknown[] | [], R>(op: string, inputs: A, call: (...cast: A) => R): R | null {
  // fast path: float32-only ops outside a scope (and CPU ops anywhere) cost one pass over inputs
  let half = false;
  let cuda = false;
  for (const t of inputs) {
    if (!isFloat(t)) continue;
    if (t.dtype !== 'float32') half = true;
    if (t.device === 'cuda') cuda = true;
  }
  if (!cuda || (!half && !isAutocastEnabled())) return null;
  const plan = autocastPlan(op, (inputs as readonly unknown[]).filter(isFloat));
  if (!plan) return null;
  const F = require('./functional') as typeof import('./functional');
  const temps: Tensor[] = [];
  const cast = inputs.map((t) => {
    if (!isFloat(t) || t.dtype === plan.compute) return t;
    const c = F.to(t, plan.compute);
    temps.push(c);
    return c;
  }) as unknown as A;
  let out: unknown = call(...cast);
  if (isFloat(out) && out.dtype !== plan.result) {
    temps.push(out);
    out = F.to(out, plan.result);
  }
  // the casts are graph nodes whose data the backward never reads: free them now
  for (const t of temps) if (t !== out) t.dispose();
  return out as R;
}
