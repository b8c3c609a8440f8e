/**
 * Finite-difference gradient checks for every differentiable op, in float32, on tiny shapes.
 *
 * For an op y = f(inputs) and a fixed random r (same shape as y; r = 1 for scalar outputs) the
 * test compares the analytic gradient of L = sum(y * r) — y.backward(r) — with the central
 * difference
 *     dL/dx_i ≈ (L(x_i + eps) - L(x_i - eps)) / (x_i⁺ - x_i⁻),   eps = 1e-2,
 * where x_i⁺/x_i⁻ are the float32-rounded perturbed values actually fed to the op and L is summed
 * in float64 from y.dataSync().
 *
 * Why these numbers: the forward runs in float32, so L carries a rounding error of roughly
 * 1e-7 · sqrt(n) · |y| (and ~1e-6 relative inside reductions like the batch-norm statistics);
 * divided by 2·eps = 2e-2 that is at most ~1e-4. The truncation error of the central difference
 * is eps²/6 · |f'''| ≈ 2e-5 · |f'''|, small for the smooth ops and O(1) inputs used here. A
 * tolerance of 2e-2 relative to max(1, max|numeric gradient|) therefore has a wide margin over
 * the noise, while a wrong backward rule (a missing term, a wrong index or divisor) is off by O(1).
 *
 * Inputs are built with rn.tensor(..., { requiresGrad: true }) from a small local LCG seeded per
 * case (rn.manualSeed is also set). Inputs of ops with kinks are chosen away from them: relu and
 * the pow/log/sqrt/div domains use magnitudes >= 0.3 (>> eps), max-pooling uses distinct values
 * spaced 0.07 apart so a ±eps perturbation never changes the argmax.
 *
 * Dropout is random, so its gradient is checked structurally (same mask) in
 * test/parity/ops.parity.test.ts instead.
 */
import * as rn from '../../lib';
import { expectClose } from '../helpers/compare';

type T = ReturnType<typeof rn.tensor>;

const EPS = 1e-2;
const RTOL = 2e-2;

/** Small deterministic generator (Numerical Recipes LCG). */
class Lcg {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** uniform in [0, 1) */
  next(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-7);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

type Kind = 'normal' | 'positive' | 'away' | 'distinct' | 'int';
interface InputSpec {
  shape: number[];
  /** normal: N(0,1)·scale; positive: U[0.5, 2]; away: ±U[0.3, 1.2]; distinct: shuffled k·0.07 */
  kind?: Kind;
  scale?: number;
  /** fixed values (int32 targets) */
  ints?: number[];
  /** not differentiated (targets, running statistics) */
  noGrad?: boolean;
}
interface GradCase {
  name: string;
  inputs: Record<string, InputSpec>;
  fn: (a: Record<string, T>) => T | T[];
  /** optional transform of every input before fn, e.g. toChannelsLast on x */
  prep?: (name: string, t: T) => T;
  rtol?: number;
}

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

function gen(spec: InputSpec, rng: Lcg): Float32Array | Int32Array {
  const n = numel(spec.shape);
  if (spec.kind === 'int') return Int32Array.from(spec.ints!);
  const out = new Float32Array(n);
  switch (spec.kind ?? 'normal') {
    case 'normal':
      for (let i = 0; i < n; i++) out[i] = rng.normal() * (spec.scale ?? 1);
      break;
    case 'positive':
      for (let i = 0; i < n; i++) out[i] = rng.uniform(0.5, 2);
      break;
    case 'away':
      for (let i = 0; i < n; i++) out[i] = (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.3, 1.2);
      break;
    case 'distinct': {
      const idx = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      for (let i = 0; i < n; i++) out[i] = (idx[i] - n / 2) * 0.07;
      break;
    }
  }
  return out;
}

function make(spec: InputSpec, data: Float32Array | Int32Array, requiresGrad: boolean): T {
  return rn.tensor(data, { shape: spec.shape, dtype: spec.kind === 'int' ? 'int32' : 'float32', requiresGrad });
}

function disposeAll(ts: T[]): void {
  for (const t of ts) {
    try {
      t.dispose();
    } catch {
      /* already disposed */
    }
  }
}

function asList(y: T | T[]): T[] {
  return Array.isArray(y) ? y : [y];
}

/** L = sum_k sum(y_k * r_k) in float64. */
function objective(ys: T[], rs: Float32Array[]): number {
  let s = 0;
  ys.forEach((y, k) => {
    const d = y.dataSync() as Float32Array;
    const r = rs[k];
    for (let i = 0; i < d.length; i++) s += d[i] * r[i];
  });
  return s;
}

function check(c: GradCase): void {
  rn.manualSeed(7);
  const rng = new Lcg(hash(c.name));
  const names = Object.keys(c.inputs);
  const data: Record<string, Float32Array | Int32Array> = {};
  for (const k of names) data[k] = gen(c.inputs[k], rng);
  const gradNames = names.filter((k) => !c.inputs[k].noGrad && c.inputs[k].kind !== 'int');

  const run = (vals: Record<string, Float32Array | Int32Array>, withGrad: boolean) => {
    const leaves: Record<string, T> = {};
    const args: Record<string, T> = {};
    const made: T[] = [];
    for (const k of names) {
      leaves[k] = make(c.inputs[k], vals[k], withGrad && gradNames.includes(k));
      made.push(leaves[k]);
      args[k] = c.prep ? c.prep(k, leaves[k]) : leaves[k];
      if (args[k] !== leaves[k]) made.push(args[k]);
    }
    const ys = asList(c.fn(args));
    made.push(...ys);
    return { leaves, ys, made };
  };

  // analytic
  const first = run(data, true);
  const rs = first.ys.map((y) => {
    const n = numel(y.shape as number[]);
    if (y.shape.length === 0 && first.ys.length === 1) return Float32Array.of(1);
    const r = new Float32Array(n);
    for (let i = 0; i < n; i++) r[i] = rng.uniform(-1, 1);
    return r;
  });
  const extra: T[] = [];
  if (first.ys.length === 1) {
    const y = first.ys[0];
    if (y.shape.length === 0) y.backward();
    else {
      const rt = rn.tensor(rs[0], { shape: y.shape as number[] });
      extra.push(rt);
      y.backward(rt);
    }
  } else {
    let loss: T | null = null;
    first.ys.forEach((y, k) => {
      const rt = rn.tensor(rs[k], { shape: y.shape as number[] });
      const term = rn.sum(rn.mul(y, rt));
      extra.push(rt, term);
      loss = loss ? rn.add(loss, term) : term;
      extra.push(loss);
    });
    loss!.backward();
  }
  const analytic: Record<string, Float32Array> = {};
  for (const k of gradNames) {
    const g = first.leaves[k].grad;
    if (!g) throw new Error(`${c.name}: ${k}.grad is null after backward()`);
    analytic[k] = Float32Array.from(g.dataSync() as Float32Array);
    extra.push(g);
  }
  disposeAll([...first.made, ...extra]);

  // numeric (central differences), one input element at a time
  for (const k of gradNames) {
    const base = data[k] as Float32Array;
    const num = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) {
      const orig = base[i];
      const vals = { ...data };
      const pert = Float32Array.from(base);
      vals[k] = pert;
      pert[i] = orig + EPS;
      const hi = pert[i];
      let r = run(vals, false);
      const lp = objective(r.ys, rs);
      disposeAll(r.made);
      pert[i] = orig - EPS;
      const lo = pert[i];
      r = run(vals, false);
      const lm = objective(r.ys, rs);
      disposeAll(r.made);
      num[i] = (lp - lm) / (hi - lo);
    }
    expectClose(analytic[k], Array.from(num), { rtol: c.rtol ?? RTOL, label: `${c.name}: d/d${k} (analytic vs numeric)` });
  }
}

// ---------------------------------------------------------------------------------------------
// cases

const N = (shape: number[], scale?: number): InputSpec => ({ shape, kind: 'normal', scale });
const P = (shape: number[]): InputSpec => ({ shape, kind: 'positive' });
const A = (shape: number[]): InputSpec => ({ shape, kind: 'away' });
const D = (shape: number[]): InputSpec => ({ shape, kind: 'distinct' });
const C = (shape: number[], scale?: number): InputSpec => ({ shape, kind: 'normal', scale, noGrad: true });
const I = (shape: number[], ints: number[]): InputSpec => ({ shape, kind: 'int', ints });
const cl = (name: string, t: T): T => (name === 'x' ? t.toChannelsLast() : t);

const CASES: GradCase[] = [];
const add = (name: string, inputs: Record<string, InputSpec>, fn: GradCase['fn'], extra: Partial<GradCase> = {}) =>
  CASES.push({ name, inputs, fn, ...extra });

// elementwise binary, with broadcasting
for (const [tag, sa, sb] of [
  ['same', [2, 3, 2], [2, 3, 2]],
  ['[2,3,2]x[3,1]', [2, 3, 2], [3, 1]],
  ['[2,3,2]x[1]', [2, 3, 2], [1]],
  ['[2,3,2]x[2]', [2, 3, 2], [2]],
  ['[2]x[2,3,2]', [2], [2, 3, 2]],
  ['[2,1,2]x[3,1]', [2, 1, 2], [3, 1]],
] as Array<[string, number[], number[]]>) {
  add(`add ${tag}`, { a: N(sa), b: N(sb) }, (a) => rn.add(a.a, a.b));
  add(`sub ${tag}`, { a: N(sa), b: N(sb) }, (a) => rn.sub(a.a, a.b));
  add(`mul ${tag}`, { a: N(sa), b: N(sb) }, (a) => rn.mul(a.a, a.b));
  add(`div ${tag}`, { a: N(sa), b: A(sb) }, (a) => rn.div(a.a, a.b));
}
add('add scalar', { a: N([2, 3]) }, (a) => rn.add(a.a, 1.5));
add('sub scalar', { a: N([2, 3]) }, (a) => rn.sub(a.a, -0.5));
add('mul scalar', { a: N([2, 3]) }, (a) => rn.mul(a.a, -2.5));
add('div scalar', { a: N([2, 3]) }, (a) => rn.div(a.a, 0.75));
add('mul same input twice (x * x)', { x: N([2, 3]) }, (a) => rn.mul(a.x, a.x));
add('add transposed lhs', { a: N([3, 2]), b: N([2, 3]) }, (a) => rn.add(a.a.transpose(0, 1), a.b));

// unary
add('neg', { x: N([2, 3]) }, (a) => rn.neg(a.x));
add('exp', { x: N([2, 3]) }, (a) => rn.exp(a.x));
add('log', { x: P([2, 3]) }, (a) => rn.log(a.x));
add('sqrt', { x: P([2, 3]) }, (a) => rn.sqrt(a.x));
for (const [e, spec] of [[2, N], [3, N], [0.5, P], [-1, P], [1.5, P]] as Array<[number, (s: number[]) => InputSpec]>) {
  add(`pow ${e}`, { x: spec([2, 3]) }, (a) => rn.pow(a.x, e));
}
add('relu', { x: A([2, 3, 2]) }, (a) => rn.F.relu(a.x));
add('sigmoid', { x: N([2, 3], 2) }, (a) => rn.F.sigmoid(a.x));
add('tanh', { x: N([2, 3], 2) }, (a) => rn.F.tanh(a.x));
add('gelu none', { x: N([2, 3], 2) }, (a) => rn.F.gelu(a.x, { approximate: 'none' }));
add('gelu tanh', { x: N([2, 3], 2) }, (a) => rn.F.gelu(a.x, { approximate: 'tanh' }));

// reductions
add('sum all', { x: N([2, 3, 2]) }, (a) => rn.sum(a.x));
add('sum dim 1', { x: N([2, 3, 2]) }, (a) => rn.sum(a.x, 1));
add('sum dims [0,2] keepdim', { x: N([2, 3, 2]) }, (a) => rn.sum(a.x, [0, 2], true));
add('sum dim -1', { x: N([2, 3, 2]) }, (a) => rn.sum(a.x, -1));
add('mean all', { x: N([2, 3, 2]) }, (a) => rn.mean(a.x));
add('mean dim 0 keepdim', { x: N([2, 3, 2]) }, (a) => rn.mean(a.x, 0, true));
add('mean dims [1,2]', { x: N([2, 3, 2]) }, (a) => rn.mean(a.x, [1, 2]));

// matmul / linear
add('matmul 2-D', { a: N([3, 4]), b: N([4, 2]) }, (a) => rn.matmul(a.a, a.b));
add('matmul 3-D', { a: N([2, 3, 2]), b: N([2, 2, 3]) }, (a) => rn.matmul(a.a, a.b));
add('linear 2-D bias', { x: N([3, 4]), weight: N([2, 4]), bias: N([2]) }, (a) => rn.F.linear(a.x, a.weight, a.bias));
add('linear 3-D bias', { x: N([2, 2, 3]), weight: N([4, 3]), bias: N([4]) }, (a) => rn.F.linear(a.x, a.weight, a.bias));
add('linear 3-D no bias', { x: N([2, 2, 3]), weight: N([4, 3]) }, (a) => rn.F.linear(a.x, a.weight));

// conv2d (each also with a channels-last input)
const convs: Array<[string, number[], number[], boolean, Record<string, any>]> = [
  ['3x3 s1 p0 bias', [1, 2, 5, 5], [3, 2, 3, 3], true, {}],
  ['3x3 s2 p1 bias', [1, 2, 5, 5], [2, 2, 3, 3], true, { stride: 2, padding: 1 }],
  ['3x3 p1 no bias', [2, 1, 4, 4], [2, 1, 3, 3], false, { padding: 1 }],
  ['3x3 dilation 2 p2', [1, 2, 5, 5], [2, 2, 3, 3], true, { padding: 2, dilation: 2 }],
  ['groups 2', [1, 4, 4, 4], [4, 2, 3, 3], true, { padding: 1, groups: 2 }],
  ['depthwise', [1, 3, 4, 4], [3, 1, 3, 3], true, { padding: 1, groups: 3 }],
  ['1x1 s2', [2, 3, 3, 3], [2, 3, 1, 1], true, { stride: 2 }],
  ['non-square', [1, 2, 4, 5], [2, 2, 2, 3], true, { stride: [2, 1], padding: [1, 0] }],
];
for (const [tag, xs, ws, bias, opts] of convs) {
  const inputs: Record<string, InputSpec> = { x: N(xs), weight: N(ws, 0.5) };
  if (bias) inputs.bias = N([ws[0]]);
  const fn = (a: Record<string, T>) => rn.F.conv2d(a.x, a.weight, a.bias, opts);
  add(`conv2d ${tag}`, inputs, fn);
  add(`conv2d ${tag} [channels-last]`, inputs, fn, { prep: cl });
}

// batchNorm2d (running stats: null in training so repeated forwards do not mutate anything)
const bnCases: Array<[string, boolean, boolean]> = [
  ['training affine', true, true],
  ['training no affine', true, false],
  ['eval affine', false, true],
  ['eval no affine', false, false],
];
for (const [tag, training, affine] of bnCases) {
  const inputs: Record<string, InputSpec> = { x: N([2, 2, 3, 3]) };
  if (!training) {
    inputs.runningMean = C([2], 0.3);
    inputs.runningVar = { shape: [2], kind: 'positive', noGrad: true };
  }
  if (affine) {
    inputs.weight = P([2]);
    inputs.bias = N([2]);
  }
  const fn = (a: Record<string, T>) =>
    rn.F.batchNorm2d(a.x, a.runningMean ?? null, a.runningVar ?? null, a.weight ?? null, a.bias ?? null, { training });
  add(`batchNorm2d ${tag}`, inputs, fn);
  add(`batchNorm2d ${tag} [channels-last]`, inputs, fn, { prep: cl });
}

// layerNorm
add('layerNorm last 1 affine', { x: N([2, 3, 4]), weight: P([4]), bias: N([4]) }, (a) => rn.F.layerNorm(a.x, [4], a.weight, a.bias));
add('layerNorm last 1 no affine', { x: N([2, 3, 4]) }, (a) => rn.F.layerNorm(a.x, [4]));
add('layerNorm last 2 affine', { x: N([2, 2, 3]), weight: P([2, 3]), bias: N([2, 3]) }, (a) => rn.F.layerNorm(a.x, [2, 3], a.weight, a.bias));
add('layerNorm last 2 no affine', { x: N([2, 2, 3]) }, (a) => rn.F.layerNorm(a.x, [2, 3]));

// pooling
add('maxPool2d k2 s2', { x: D([1, 2, 4, 4]) }, (a) => rn.F.maxPool2d(a.x, { kernelSize: 2, stride: 2 }));
add('maxPool2d k3 s2 p1 ceil', { x: D([1, 2, 5, 5]) }, (a) => rn.F.maxPool2d(a.x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }));
add('maxPool2d k3 s2 p1 ceil [channels-last]', { x: D([1, 2, 5, 5]) }, (a) =>
  rn.F.maxPool2d(a.x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), { prep: cl });
add('maxPool2d k3 s1 overlapping', { x: D([1, 1, 4, 4]) }, (a) => rn.F.maxPool2d(a.x, { kernelSize: 3, stride: 1 }));
add('avgPool2d k2 s2', { x: N([1, 2, 4, 4]) }, (a) => rn.F.avgPool2d(a.x, { kernelSize: 2, stride: 2 }));
add('avgPool2d k3 s2 p1 countIncludePad', { x: N([1, 2, 5, 5]) }, (a) =>
  rn.F.avgPool2d(a.x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: true }));
add('avgPool2d k3 s2 p1 no countIncludePad', { x: N([1, 2, 5, 5]) }, (a) =>
  rn.F.avgPool2d(a.x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }));
add('avgPool2d k3 s2 ceil', { x: N([1, 1, 6, 6]) }, (a) => rn.F.avgPool2d(a.x, { kernelSize: 3, stride: 2, ceilMode: true }));
add('avgPool2d k3 s2 p1 no countIncludePad [channels-last]', { x: N([1, 2, 5, 5]) }, (a) =>
  rn.F.avgPool2d(a.x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), { prep: cl });
add('adaptiveAvgPool2d 5x7 to 3x2 [channels-last]', { x: N([1, 2, 5, 7]) }, (a) => rn.F.adaptiveAvgPool2d(a.x, [3, 2]), { prep: cl });
add('adaptiveAvgPool2d to 1', { x: N([2, 2, 3, 3]) }, (a) => rn.F.adaptiveAvgPool2d(a.x, 1));
add('adaptiveAvgPool2d 5x7 to 3x2', { x: N([1, 1, 5, 7]) }, (a) => rn.F.adaptiveAvgPool2d(a.x, [3, 2]));

// softmax / losses
add('softmax dim 0', { x: N([3, 4]) }, (a) => rn.F.softmax(a.x, 0));
add('softmax dim -1', { x: N([2, 2, 3]) }, (a) => rn.F.softmax(a.x, -1));
add('logSoftmax dim 1', { x: N([2, 3, 2]) }, (a) => rn.F.logSoftmax(a.x, 1));
add('crossEntropy [N,C] mean', { logits: N([4, 3]), target: I([4], [0, 2, 1, 2]) }, (a) => rn.F.crossEntropy(a.logits, a.target));
add('crossEntropy [N,C] sum smoothing 0.1', { logits: N([4, 3]), target: I([4], [1, 0, 2, 2]) }, (a) =>
  rn.F.crossEntropy(a.logits, a.target, { reduction: 'sum', labelSmoothing: 0.1 }));
add('crossEntropy [N,C] none ignoreIndex', { logits: N([4, 3]), target: I([4], [1, -100, 2, 0]) }, (a) =>
  rn.F.crossEntropy(a.logits, a.target, { reduction: 'none', ignoreIndex: -100 }));
add('crossEntropy [N,C] mean ignoreIndex smoothing', { logits: N([5, 3]), target: I([5], [1, -100, 2, 0, -100]) }, (a) =>
  rn.F.crossEntropy(a.logits, a.target, { reduction: 'mean', ignoreIndex: -100, labelSmoothing: 0.1 }));
add('crossEntropy [N,C,H,W] mean', { logits: N([2, 3, 2, 2]), target: I([2, 2, 2], [0, 1, 2, 1, 2, 2, 0, 1]) }, (a) =>
  rn.F.crossEntropy(a.logits, a.target));
add('crossEntropy [N,C,H,W] none smoothing', { logits: N([1, 3, 2, 2]), target: I([1, 2, 2], [2, 0, 1, 1]) }, (a) =>
  rn.F.crossEntropy(a.logits, a.target, { reduction: 'none', labelSmoothing: 0.1 }));
add('mseLoss mean', { a: N([2, 3]), b: N([2, 3]) }, (a) => rn.F.mseLoss(a.a, a.b));
add('mseLoss sum', { a: N([2, 3]), b: N([2, 3]) }, (a) => rn.F.mseLoss(a.a, a.b, { reduction: 'sum' }));
add('mseLoss none', { a: N([2, 3]), b: N([2, 3]) }, (a) => rn.F.mseLoss(a.a, a.b, { reduction: 'none' }));

// shapes
add('reshape', { x: N([2, 3, 2]) }, (a) => a.x.reshape([3, 4]));
add('reshape of transposed', { x: N([2, 3, 2]) }, (a) => a.x.transpose(0, 2).reshape([2, 6]));
add('permute', { x: N([2, 3, 2]) }, (a) => a.x.permute([2, 0, 1]));
add('transpose', { x: N([2, 3, 2]) }, (a) => a.x.transpose(0, 1));
add('slice', { x: N([4, 3]) }, (a) => a.x.slice(0, 1, 3));
add('slice last dim', { x: N([2, 3, 4]) }, (a) => a.x.slice(-1, 1, 3));
add('flatten', { x: N([2, 2, 2, 2]) }, (a) => a.x.flatten(1));
add('contiguous of permuted', { x: N([2, 3, 2]) }, (a) => a.x.permute([1, 2, 0]).contiguous());
add('toChannelsLast', { x: N([1, 3, 2, 2]) }, (a) => a.x.toChannelsLast());
add('cat dim 0', { t0: N([1, 3]), t1: N([2, 3]) }, (a) => rn.cat([a.t0, a.t1], 0));
add('cat dim 1', { t0: N([2, 1, 2]), t1: N([2, 2, 2]), t2: N([2, 1, 2]) }, (a) => rn.cat([a.t0, a.t1, a.t2], 1));
add('split int', { x: N([5, 2]) }, (a) => rn.split(a.x, 2, 0));
add('split sizes dim -1', { x: N([2, 5]) }, (a) => rn.split(a.x, [2, 3], -1));
add('pad last dim', { x: N([2, 3]) }, (a) => rn.F.pad(a.x, [1, 2]));
add('pad last 2 dims value', { x: N([1, 1, 2, 3]) }, (a) => rn.F.pad(a.x, [1, 0, 2, 1], 0.5));

// composite: a small residual block, to exercise accumulation through shared inputs
add('conv-bn-relu + identity', { x: A([1, 2, 4, 4]), weight: N([2, 2, 3, 3], 0.5), gamma: P([2]), beta: A([2]) }, (a) => {
  const y = rn.F.conv2d(a.x, a.weight, undefined, { padding: 1 });
  const z = rn.F.batchNorm2d(y, null, null, a.gamma, a.beta, { training: true });
  return rn.add(rn.F.tanh(z), a.x);
});

describe('finite-difference gradient checks (float32, eps 1e-2, rtol 2e-2)', () => {
  test('case names are unique', () => {
    const names = CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });
  for (const c of CASES) {
    test(c.name, () => check(c));
  }
});
