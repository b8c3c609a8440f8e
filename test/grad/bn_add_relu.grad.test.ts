/**
 * Finite-difference gradient checks of the fused F.batchNormAddRelu / F.batchNormRelu (every
 * kernel version this CPU runs), in float32 on tiny shapes, the method of ops.grad.test.ts:
 * L = sum(y * R) for a fixed random R; the analytic gradient comes from y.backward(R), the
 * numeric one from central differences (eps = 1e-2) with L summed in float64.
 *
 * The ReLU has a kink at 0, so inputs are built to keep every pre-activation z = bn(x) [+ r] at
 * least 0.2 away from it, far beyond what a 1e-2 perturbation moves it (~0.02):
 *   - with a residual: r = t - bn(x) for targets t = +-U[0.3, 1.2] (bn(x) computed in float64);
 *   - without one (training): each channel holds pairs +a, -a with a in U[0.8, 1.2], so the batch
 *     mean is 0, |xhat| >= 0.67, and gamma in [0.6, 1.4], beta in [-0.2, 0.2] give |z| >= 0.2;
 *   - eval without residual: x = mean + (t - beta) * sqrt(var + eps) / gamma.
 * Tolerance: 2e-3 relative to max(1, max|numeric|); the float32 noise of L / 2eps and the
 * truncation error eps^2 f'''/6 are both ~1e-5 here, while a wrong term is off by O(1e-1).
 */
import * as rn from '../../lib';
import { binding } from '../../lib/binding';
import { expectClose } from '../helpers/compare';

type T = ReturnType<typeof rn.tensor>;
const B = binding();
const VERSIONS = B.bnAddReluVersion() === 2 ? [1, 2] : [1];
const EPS = 1e-2;
const RTOL = 2e-3;
const BN_EPS = 1e-5;

afterAll(() => B.bnAddReluVersion(0));

class Lcg {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  sign(): number {
    return this.next() < 0.5 ? -1 : 1;
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-7);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

interface Case {
  name: string;
  shape: number[];
  residual: boolean;
  training: boolean;
  affine: boolean;
  cl?: boolean;
}
type Inputs = Record<string, Float32Array>;

/** [N, C, rest...] -> index of (n, c, i) in NCHW order */
function dims(shape: number[]): { N: number; C: number; HW: number } {
  return { N: shape[0], C: shape[1], HW: shape.slice(2).reduce((a, b) => a * b, 1) };
}

function makeInputs(c: Case, rng: Lcg): Inputs {
  const { N, C, HW } = dims(c.shape);
  const n = N * C * HW;
  const idx = (b: number, ch: number, i: number) => (b * C + ch) * HW + i;
  const w = Float32Array.from({ length: C }, () => (c.affine ? rng.uniform(0.6, 1.4) : 1));
  const b = Float32Array.from({ length: C }, () => (c.affine ? rng.uniform(-0.2, 0.2) : 0));
  const rm = Float32Array.from({ length: C }, () => rng.uniform(-0.3, 0.3));
  const rv = Float32Array.from({ length: C }, () => rng.uniform(0.5, 1.5));
  const x = new Float32Array(n);
  const out: Inputs = { x, rm, rv };
  if (c.affine) {
    out.w = w;
    out.b = b;
  }
  if (!c.residual && c.training) {
    // +a / -a pairs per channel: exact zero mean, |xhat| >= 0.67
    const M = N * HW;
    if (M % 2) throw new Error(`${c.name}: needs an even count per channel`);
    for (let ch = 0; ch < C; ch++) {
      const vals: number[] = [];
      for (let k = 0; k < M / 2; k++) {
        const a = rng.uniform(0.8, 1.2);
        vals.push(a, -a);
      }
      for (let k = vals.length - 1; k > 0; k--) {
        const j = Math.floor(rng.next() * (k + 1));
        [vals[k], vals[j]] = [vals[j], vals[k]];
      }
      let k = 0;
      for (let bb = 0; bb < N; bb++) for (let i = 0; i < HW; i++) x[idx(bb, ch, i)] = vals[k++];
    }
    return out;
  }
  if (!c.residual) {
    // eval: x = mean + (t - beta) * sqrt(var + eps) / gamma
    for (let bb = 0; bb < N; bb++)
      for (let ch = 0; ch < C; ch++)
        for (let i = 0; i < HW; i++)
          x[idx(bb, ch, i)] = rm[ch] + ((rng.sign() * rng.uniform(0.3, 1.2) - b[ch]) * Math.sqrt(rv[ch] + BN_EPS)) / w[ch];
    return out;
  }
  for (let i = 0; i < n; i++) x[i] = rng.normal();
  // bn(x) in float64 with the statistics the op will use, then r = t - bn(x)
  const r = new Float32Array(n);
  for (let ch = 0; ch < C; ch++) {
    let m = rm[ch];
    let v = rv[ch];
    if (c.training) {
      let s = 0;
      for (let bb = 0; bb < N; bb++) for (let i = 0; i < HW; i++) s += x[idx(bb, ch, i)];
      m = s / (N * HW);
      let q = 0;
      for (let bb = 0; bb < N; bb++) for (let i = 0; i < HW; i++) q += (x[idx(bb, ch, i)] - m) ** 2;
      v = q / (N * HW);
    }
    const is = 1 / Math.sqrt(v + BN_EPS);
    for (let bb = 0; bb < N; bb++)
      for (let i = 0; i < HW; i++) {
        const k = idx(bb, ch, i);
        r[k] = rng.sign() * rng.uniform(0.3, 1.2) - ((x[k] - m) * is * w[ch] + b[ch]);
      }
  }
  out.r = r;
  return out;
}

function forward(c: Case, v: Inputs, grad: boolean): { y: T; leaves: Record<string, T>; all: T[] } {
  const C = c.shape[1];
  const leaves: Record<string, T> = {};
  const all: T[] = [];
  const mk = (k: string, shape: number[], g: boolean, cl = false) => {
    let t = rn.tensor(v[k], { shape });
    all.push(t);
    if (g) t.requiresGrad_();
    leaves[k] = t;
    if (cl) {
      t = t.toChannelsLast();
      all.push(t);
    }
    return t;
  };
  const x = mk('x', c.shape, grad, c.cl);
  const r = c.residual ? mk('r', c.shape, grad, c.cl) : null;
  const w = c.affine ? mk('w', [C], grad) : null;
  const b = c.affine ? mk('b', [C], grad) : null;
  // running stats: eval reads them; training gets none, so repeated forwards change nothing
  const rm = c.training ? null : mk('rm', [C], false);
  const rv = c.training ? null : mk('rv', [C], false);
  const opts = { training: c.training, eps: BN_EPS };
  const y = r ? rn.F.batchNormAddRelu(x, r, rm, rv, w, b, opts) : rn.F.batchNormRelu(x, rm, rv, w, b, opts);
  all.push(y);
  return { y, leaves, all };
}

function check(c: Case): void {
  const rng = new Lcg(0x9e3779b9 ^ c.name.length * 7919);
  const inputs = makeInputs(c, rng);
  const n = inputs.x.length;
  const R = Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const objective = (v: Inputs): number => {
    const f = forward(c, v, false);
    const yd = (c.cl ? f.y.contiguous() : f.y).dataSync() as Float32Array;
    let s = 0;
    for (let i = 0; i < n; i++) s += yd[i] * R[i];
    for (const t of f.all) t.dispose();
    return s;
  };
  // the pre-activation margin the construction promises
  const f0 = forward(c, inputs, true);
  const rt = rn.tensor(R, { shape: c.shape });
  f0.y.backward(c.cl ? rt.toChannelsLast() : rt);
  const keys = ['x', 'r', 'w', 'b'].filter((k) => k in inputs);
  for (const k of keys) {
    const g = f0.leaves[k].grad;
    if (!g) throw new Error(`${c.name}: ${k}.grad is null`);
    const analytic = Float32Array.from(g.dataSync() as Float32Array);
    const base = inputs[k];
    const num = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) {
      const pert = Float32Array.from(base);
      pert[i] = base[i] + EPS;
      const hi = pert[i];
      const lp = objective({ ...inputs, [k]: pert });
      pert[i] = base[i] - EPS;
      const lo = pert[i];
      const lm = objective({ ...inputs, [k]: pert });
      num[i] = (lp - lm) / (hi - lo);
    }
    expectClose(analytic, num, { rtol: RTOL, label: `${c.name}: d/d${k} (analytic vs numeric)` });
    g.dispose();
  }
  for (const t of f0.all) t.dispose();
  rt.dispose();
}

const CASES: Case[] = [
  { name: 'add+relu training affine', shape: [2, 3, 2, 3], residual: true, training: true, affine: true },
  { name: 'add+relu training affine [channels-last]', shape: [2, 3, 2, 3], residual: true, training: true, affine: true, cl: true },
  { name: 'add+relu training no affine', shape: [3, 2, 2, 2], residual: true, training: true, affine: false },
  { name: 'add+relu training HW=1', shape: [6, 4, 1, 1], residual: true, training: true, affine: true },
  { name: 'add+relu training 2-D', shape: [6, 3], residual: true, training: true, affine: true },
  { name: 'relu training affine', shape: [2, 3, 2, 3], residual: false, training: true, affine: true },
  { name: 'relu training affine [channels-last]', shape: [2, 3, 2, 3], residual: false, training: true, affine: true, cl: true },
  { name: 'relu training no affine N=1', shape: [1, 2, 2, 4], residual: false, training: true, affine: false },
  { name: 'add+relu eval affine', shape: [2, 3, 2, 3], residual: true, training: false, affine: true },
  { name: 'relu eval affine [channels-last]', shape: [2, 3, 2, 3], residual: false, training: false, affine: true, cl: true },
];

for (const v of VERSIONS) {
  describe(`batchNormAddRelu finite differences (kernel version ${v})`, () => {
    beforeAll(() => B.bnAddReluVersion(v));
    for (const c of CASES) test(c.name, () => check(c));
  });
}
