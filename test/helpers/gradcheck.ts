/**
 * Directional finite-difference gradient check for whole modules (blocks, small models).
 *
 * For the output y = f(θ) of a forward function and a fixed random r of y's shape, let
 * L = sum(y * r) (y.backward(r) for the analytic side, summed in float64 from y.dataSync() for
 * the numeric side). For every leaf tensor θ_i (parameters and the input), pick a random direction v_i with the
 * leaf's own scale (N(0, 1) · max(rms(θ_i), 0.1)) and compare the analytic directional derivative
 * <dL/dθ_i, v_i> (from one backward pass) with the central difference
 *     (L(θ_i + eps·v_i) - L(θ_i - eps·v_i)) / (2 eps).
 * One direction per leaf checks every element of its gradient at once (a wrong element shows up
 * with probability 1), with two forwards per leaf instead of two per element.
 *
 * The forward runs in float32; with eps = 3e-3 relative to each leaf's scale, rounding noise in
 * L is ~1e-6 relative and the truncation error ~eps². A relative tolerance of 2e-2 on
 * max(|analytic|, |numeric|) leaves a wide margin against that noise, while a wrong or missing
 * backward term is off by O(1).
 *
 * ReLU kinks: a perturbation of every element of a leaf moves many pre-activations at once, and
 * each unit whose sign flips changes the central difference by about its own contribution, with
 * a random sign; the relative error then grows like sqrt(fraction of flipped units), i.e. like
 * sqrt(eps) — 5-30% at eps = 3e-3 in a conv-BN-ReLU block, and float32 does not allow an eps
 * small enough to hide it. `withSmoothRelu` therefore swaps rn.F.relu for the smooth
 * x * sigmoid(2x) during a check (blocks call F.relu at run time, so they pick it up): the check
 * then tests the block's wiring and every other op's backward exactly; relu's own backward is
 * checked op by op in test/grad/ops.grad.test.ts.
 */
import * as rn from '../../lib';
import * as Fmod from '../../lib/functional';

/** Run fn with rn.F.relu replaced by the smooth x * sigmoid(2x) (see the note above). */
export function withSmoothRelu<R>(fn: () => R): R {
  const relu = Fmod.relu;
  const smooth = (x: rn.Tensor) => Fmod.mul(x, Fmod.sigmoid(Fmod.mul(x, 2)));
  (Fmod as { relu: (x: rn.Tensor) => rn.Tensor }).relu = smooth;
  // the fused BN(+add)+ReLU kernels have relu inside: take the unfused path, which calls F.relu
  const fusion = rn.getFusion();
  rn.setFusion(false);
  try {
    return fn();
  } finally {
    (Fmod as { relu: (x: rn.Tensor) => rn.Tensor }).relu = relu;
    rn.setFusion(fusion);
  }
}

type T = rn.Tensor;

export interface LeafReport {
  name: string;
  analytic: number;
  numeric: number;
  relErr: number;
}

/** Deterministic N(0, 1) values (Box-Muller on an LCG). */
export function gaussian(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.max(s / 4294967296, 1e-9);
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** A Float32Array of this realm over t's data (the addon's arrays index slowly under jest). */
function f32(t: T): Float32Array {
  const d = t.dataSync() as Float32Array;
  return new Float32Array(d.buffer, d.byteOffset, d.length);
}

/**
 * Check every leaf. `forward` must compute the output from the current leaf values each call;
 * `before` runs before every evaluation (e.g. to reset the random generator for DropPath).
 * Returns the per-leaf reports and throws (failing the test) on the first leaf out of tolerance.
 */
export function checkGradients(leaves: [string, T][], forward: () => T, o: CheckOptions = {}): LeafReport[] {
  if (o.smoothRelu ?? true) return withSmoothRelu(() => check(leaves, forward, o));
  return check(leaves, forward, o);
}

export interface CheckOptions {
  eps?: number;
  rtol?: number;
  seed?: number;
  before?: () => void;
  /** Swap relu for a smooth function during the check (default true; see the note above). */
  smoothRelu?: boolean;
}

function check(leaves: [string, T][], forward: () => T, o: CheckOptions): LeafReport[] {
  const eps = o.eps ?? 3e-3;
  const rtol = o.rtol ?? 2e-2;
  const before = o.before ?? (() => {});
  for (const [, t] of leaves) {
    t.grad?.dispose();
    t.grad = null;
  }
  before();
  const y = forward();
  const r = gaussian(y.numel, 99);
  y.backward(rn.tensor(r, { shape: y.shape.slice() }));
  const L = (): number => {
    before();
    const out = f32(rn.noGrad(forward));
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i] * r[i];
    return s;
  };
  const reports: LeafReport[] = [];
  let seed = o.seed ?? 1234;
  for (const [name, t] of leaves) {
    const x0 = Float32Array.from(f32(t));
    let ss = 0;
    for (const v of x0) ss += v * v;
    const scale = Math.max(Math.sqrt(ss / Math.max(x0.length, 1)), 0.1);
    const v = gaussian(x0.length, seed++);
    for (let i = 0; i < v.length; i++) v[i] *= scale;
    const g = t.grad ? f32(t.grad) : new Float32Array(x0.length);
    let analytic = 0;
    for (let i = 0; i < v.length; i++) analytic += g[i] * v[i];
    const evalAt = (s: number): number => {
      const xs = new Float32Array(x0.length);
      for (let i = 0; i < xs.length; i++) xs[i] = x0[i] + s * eps * v[i];
      t.copyFrom(rn.tensor(xs, { shape: t.shape.slice() }));
      return L();
    };
    const numeric = (evalAt(1) - evalAt(-1)) / (2 * eps);
    t.copyFrom(rn.tensor(x0, { shape: t.shape.slice() }));
    const denom = Math.max(Math.abs(analytic), Math.abs(numeric), 1e-6);
    const relErr = Math.abs(analytic - numeric) / denom;
    reports.push({ name, analytic, numeric, relErr });
    if (!(relErr <= rtol))
      throw new Error(`gradient of ${name}: analytic directional derivative ${analytic.toPrecision(6)} but finite difference ${numeric.toPrecision(6)} (rel err ${relErr.toExponential(2)} > ${rtol})`);
  }
  return reports;
}

/** Leaves of a module check: every named parameter plus the input. */
export function moduleLeaves(m: rn.nn.Module, x: T): [string, T][] {
  return [['input', x], ...m.namedParameters()];
}
