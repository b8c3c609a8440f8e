/**
 * rn.optim against PyTorch 1.13 (fixtures made by test/fixtures/make_optim_fixtures.py):
 *
 * - optimiser trajectories: SGD (Nesterov + weight decay, dampening, plain + maximize), AdamW
 *   (with and without amsgrad), parameter groups, clipping inside the loop — resnode recomputes
 *   the forward/backward of the fixture's MLP with rn.F and must match torch's weights after every
 *   step within 1e-5 * max|w| (per tensor). The fixture script checks that its own float32 run is
 *   within 1e-6 of a float64 run, so this tolerance is not measuring float32 noise.
 * - clipGradNorm (norms 2, 1, 3, inf; clipping active and inactive) on torch's gradients.
 * - learning-rate sequences of StepLR, MultiStepLR, CosineAnnealingLR, LinearLR, OneCycleLR
 *   (+ momentum / beta1), SequentialLR and linearWarmup, within 1e-7 relative.
 * - state dicts (bit-for-bit resume), parameter-group helpers, memory (tidy), layouts, the fused
 *   kernels' multi-chunk path against a float32 JS reference, and the error messages.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as rn from '../../lib';
import { binding } from '../../lib/binding';
import { expectClose } from '../helpers/compare';

type Tensor = rn.Tensor;
const FIX = path.join(__dirname, '..', 'fixtures', 'optim');
const NAMES = ['w1', 'b1', 'w2', 'b2'] as const;
type Name = (typeof NAMES)[number];
type Weights = Record<Name, number[]>;

interface Ser { shape: number[]; data: number[] }
interface OptCase {
  name: string;
  optimizer: 'SGD' | 'AdamW';
  steps: number;
  options: Record<string, unknown>;
  groups?: { params: Name[]; options?: Record<string, unknown> }[];
  clip?: { maxNorm: number; normType: number | 'inf' };
  weights: Weights[];
  norms?: number[];
}
interface OptimFixture {
  kernels: { init: number[]; grads: number[][]; cases: { name: string; optimizer: 'SGD' | 'AdamW'; options: Record<string, unknown>; weights: number[][] }[] };
  model: { init: Record<Name, Ser>; x: Ser; target: Ser };
  cases: OptCase[];
  clip: { maxNorm: number; normType: number | 'inf'; norm: number; grads: Weights }[];
}
const OPT: OptimFixture = JSON.parse(fs.readFileSync(path.join(FIX, 'optim.json'), 'utf8'));

interface SchedSpec { type: string; options?: Record<string, unknown>; schedulers?: SchedSpec[] }
interface SchedCase {
  name: string;
  optimizer: { optimizer: 'SGD' | 'AdamW'; lrs: number[]; momentum?: number };
  steps: number;
  scheduler: SchedSpec;
  lrs: number[][];
  momentum?: number[][];
}
const SCHED: { cases: SchedCase[] } = JSON.parse(fs.readFileSync(path.join(FIX, 'schedulers.json'), 'utf8'));

// ---- the fixture's model ------------------------------------------------------------------------
const X = rn.tensor(Float32Array.from(OPT.model.x.data), { shape: OPT.model.x.shape }).keep();
const TARGET = rn.tensor(Int32Array.from(OPT.model.target.data), { shape: OPT.model.target.shape }).keep();

function initParams(): Record<Name, Tensor> {
  const out = {} as Record<Name, Tensor>;
  for (const n of NAMES) out[n] = rn.nn.parameter(rn.tensor(Float32Array.from(OPT.model.init[n].data), { shape: OPT.model.init[n].shape }));
  return out;
}
function lossOf(p: Record<Name, Tensor>): Tensor {
  const h = rn.F.tanh(rn.F.linear(X, p.w1, p.b1));
  return rn.F.crossEntropy(rn.F.linear(h, p.w2, p.b2), TARGET);
}
function backward(p: Record<Name, Tensor>): void {
  rn.tidy(() => lossOf(p).backward());
}
function dispose(p: Record<string, Tensor>): void {
  for (const t of Object.values(p)) {
    t.grad?.dispose();
    t.dispose();
  }
}
/** max |a - e| <= 1e-5 * max|e| over the tensor */
function expectWeights(actual: Tensor, expected: number[], label: string, rel = 1e-5): void {
  const maxAbs = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const a = actual.dataSync() as Float32Array;
  expectClose(a, expected, { rtol: (rel * maxAbs) / Math.max(1, maxAbs), label });
}
function makeOptimizer(c: OptCase, p: Record<Name, Tensor>): rn.optim.Optimizer {
  const params = c.groups ? c.groups.map((g) => ({ params: g.params.map((n) => p[n]), ...(g.options ?? {}) })) : NAMES.map((n) => p[n]);
  return c.optimizer === 'SGD'
    ? new rn.optim.SGD(params, c.options as unknown as rn.optim.SGDOptions)
    : new rn.optim.AdamW(params, c.options as rn.optim.AdamWOptions);
}
function snapshot(p: Record<string, Tensor>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(p)) out[k] = t.dataSync() as Float32Array;
  return out;
}
function arr(t: Tensor): number[] {
  return Array.from(t.dataSync() as Float32Array);
}
function expectCode(fn: () => unknown, code: string, message?: string | RegExp): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  // (errors thrown by the addon come from Node's realm, not jest's: no instanceof Error here)
  expect(err).not.toBeNull();
  expect((err as { code: string }).code).toBe(code);
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else if (message) expect((err as Error).message).toMatch(message);
}

// ---- the update rules alone (same gradients as torch) ---------------------------------------------
// The kernels use fused multiply-adds exactly where torch's CPU kernels do (FMA CPUs: the avx2 and
// avx512 builds); there the result must be bit-identical.
const FMA = ['avx2', 'avx512'].includes(rn.buildInfo().simd);
describe(`update rules match PyTorch on identical gradients${FMA ? ' bit for bit' : ''}`, () => {
  const K = OPT.kernels;
  for (const c of K.cases) {
    test(c.name, () => {
      const p = rn.nn.parameter(rn.tensor(Float32Array.from(K.init)));
      const opt = c.optimizer === 'SGD' ? new rn.optim.SGD([p], c.options as unknown as rn.optim.SGDOptions) : new rn.optim.AdamW([p], c.options);
      K.grads.forEach((g, s) => {
        p.grad?.dispose();
        p.grad = rn.tensor(Float32Array.from(g)).keep();
        opt.step();
        if (FMA) {
          // same float32 roundings as torch's single-tensor path, fused multiply-adds included
          const got = p.dataSync() as Float32Array;
          const want = Float32Array.from(c.weights[s]);
          const bad = got.findIndex((v, i) => v !== want[i]);
          if (bad >= 0) throw new Error(`${c.name} step ${s + 1}: element ${bad} is ${got[bad]} but torch has ${want[bad]} (expected bit-identical)`);
        } else {
          expectWeights(p, c.weights[s], `${c.name} step ${s + 1}`, 3e-7); // no FMA: torch's AVX2 kernels round differently
        }
      });
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
    });
  }
});

// ---- optimiser trajectories vs PyTorch ------------------------------------------------------------
describe('optimisers match PyTorch 1.13 step for step', () => {
  for (const c of OPT.cases) {
    test(c.name, () => {
      const p = initParams();
      const opt = makeOptimizer(c, p);
      for (let s = 0; s < c.steps; s++) {
        opt.zeroGrad();
        backward(p);
        if (c.clip) {
          const n = rn.optim.clipGradNorm(NAMES.map((k) => p[k]), c.clip.maxNorm, c.clip.normType);
          const v = n.itemSync();
          n.dispose();
          expect(Math.abs(v - c.norms![s])).toBeLessThanOrEqual(1e-5 * c.norms![s]);
        }
        opt.step();
        for (const k of NAMES) expectWeights(p[k], c.weights[s][k], `${c.name} step ${s + 1} ${k}`);
      }
      opt.dispose();
      dispose(p);
    });
  }
});

describe('clipGradNorm', () => {
  // torch's unclipped gradients of the initial model: the maxNorm = 100 case leaves them as they are
  const base = OPT.clip.find((c) => c.maxNorm === 100)!.grads;
  for (const c of OPT.clip) {
    test(`maxNorm ${c.maxNorm}, normType ${c.normType} matches torch.nn.utils.clip_grad_norm_`, () => {
      const p = initParams();
      for (const k of NAMES) p[k].grad = rn.tensor(Float32Array.from(base[k]), { shape: p[k].shape }).keep();
      const total = rn.optim.clipGradNorm(Object.values(p), c.maxNorm, c.normType);
      expect(total.shape).toEqual([]);
      expect(total.dtype).toBe('float32');
      expect(Math.abs(total.itemSync() - c.norm)).toBeLessThanOrEqual(1e-6 * c.norm);
      for (const k of NAMES) expectClose(p[k].grad!.dataSync() as Float32Array, c.grads[k], { rtol: 1e-6, label: `${k}.grad` });
      total.dispose();
      dispose(p);
    });
  }

  test('skips parameters without gradients; no gradients gives 0; Infinity only measures', () => {
    const a = rn.nn.parameter(rn.tensor([3, 4]));
    const b = rn.nn.parameter(rn.tensor([1, 1, 1]));
    const zero = rn.optim.clipGradNorm([a, b], 1);
    expect(zero.itemSync()).toBe(0);
    a.grad = rn.tensor([3, 4]).keep();
    const n = rn.optim.clipGradNorm([a, b], Infinity);
    expect(n.itemSync()).toBe(5);
    expect(arr(a.grad)).toEqual([3, 4]);
    const m = rn.optim.clipGradNorm(a, 1); // a single tensor works too
    expect(m.itemSync()).toBe(5);
    expectClose(a.grad.dataSync() as Float32Array, [0.6, 0.8], { rtol: 1e-6 });
    for (const t of [zero, n, m, a.grad, a, b]) t.dispose();
  });

  test('errorIfNonfinite throws ERR_RN_NAN and leaves the gradients alone', () => {
    const a = rn.nn.parameter(rn.tensor([1, 2]));
    a.grad = rn.tensor([Infinity, 1]).keep();
    expectCode(() => rn.optim.clipGradNorm([a], 1, 2, { errorIfNonfinite: true }), 'ERR_RN_NAN', /total norm of order 2 of the gradients is Infinity/);
    expect(arr(a.grad)).toEqual([Infinity, 1]);
    a.grad.dispose();
    a.dispose();
  });

  test('the norm does not depend on the thread count (fixed-block reduction)', () => {
    const g = rn.randn([300_000]).keep();
    const p = rn.nn.parameter(rn.zeros([300_000]));
    p.grad = g;
    const threads = rn.getNumThreads();
    const norms: number[] = [];
    for (const t of [1, Math.max(2, threads)]) {
      rn.setNumThreads(t);
      const n = rn.optim.clipGradNorm([p], Infinity);
      norms.push(n.itemSync());
      n.dispose();
    }
    rn.setNumThreads(threads);
    expect(norms[0]).toBe(norms[1]);
    const d = g.dataSync() as Float32Array;
    let s = 0;
    for (const v of d) s += v * v;
    expect(Math.abs(norms[0] - Math.sqrt(s))).toBeLessThanOrEqual(1e-6 * Math.sqrt(s));
    g.dispose();
    p.dispose();
  });
});

// ---- parameter groups ------------------------------------------------------------------------------
describe('parameter groups', () => {
  test('paramGroupsNoDecay puts 1-D parameters (biases, BatchNorm) in a no-decay group', () => {
    const model = new rn.nn.Sequential(new rn.nn.Conv2d(3, 4, 3), new rn.nn.BatchNorm2d(4), new rn.nn.ReLU(), new rn.nn.Flatten(), new rn.nn.Linear(4 * 4, 2));
    const groups = rn.optim.paramGroupsNoDecay(model, 5e-4);
    const names = new Map([...model.namedParameters()].map(([n, t]) => [t, n]));
    expect(groups.map((g) => [...g.params].map((t) => names.get(t)))).toEqual([
      ['0.weight', '4.weight'],
      ['0.bias', '1.weight', '1.bias', '4.bias'],
    ]);
    expect(groups.map((g) => g.weightDecay)).toEqual([5e-4, 0]);
    const opt = new rn.optim.SGD(groups, { lr: 0.1, momentum: 0.9 });
    expect(opt.paramGroups.map((g) => [g.lr, g.momentum, g.weightDecay, g.params.length])).toEqual([
      [0.1, 0.9, 5e-4, 2],
      [0.1, 0.9, 0, 4],
    ]);
  });

  test('paramGroupsNoDecay + a per-group lr reproduces the torch param-group run on rn.nn.Linear layers', () => {
    const c = OPT.cases.find((k) => k.name === 'sgd_param_groups')!;
    const fc1 = new rn.nn.Linear(8, 16);
    const fc2 = new rn.nn.Linear(16, 4);
    const model = new rn.nn.Sequential(fc1, new rn.nn.Tanh(), fc2);
    const init = OPT.model.init;
    model.loadStateDict(
      new Map([
        ['0.weight', rn.tensor(Float32Array.from(init.w1.data), { shape: init.w1.shape })],
        ['0.bias', rn.tensor(Float32Array.from(init.b1.data), { shape: init.b1.shape })],
        ['2.weight', rn.tensor(Float32Array.from(init.w2.data), { shape: init.w2.shape })],
        ['2.bias', rn.tensor(Float32Array.from(init.b2.data), { shape: init.b2.shape })],
      ]),
    );
    const [decay, noDecay] = rn.optim.paramGroupsNoDecay(model, 0.1);
    const opt = new rn.optim.SGD([decay, { ...noDecay, lr: 0.05 }], { lr: 0.1, momentum: 0.9 });
    const p = { w1: fc1.weight, b1: fc1.bias!, w2: fc2.weight, b2: fc2.bias! };
    for (let s = 0; s < c.steps; s++) {
      opt.zeroGrad();
      rn.tidy(() => rn.F.crossEntropy(model.forward(X), TARGET).backward());
      opt.step();
      for (const k of NAMES) expectWeights(p[k], c.weights[s][k], `step ${s + 1} ${k}`);
    }
  });

  test('addParamGroup fills defaults; parameters without a gradient are left alone', () => {
    const a = rn.nn.parameter(rn.tensor([1, 2]));
    const b = rn.nn.parameter(rn.tensor([3, 4]));
    const opt = new rn.optim.SGD([a], { lr: 0.5, momentum: 0.9 });
    opt.addParamGroup({ params: [b], lr: 0.25 });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.25, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, maximize: false });
    b.grad = rn.tensor([1, 1]).keep();
    opt.step();
    expect(arr(a)).toEqual([1, 2]);
    expect(arr(b)).toEqual([2.75, 3.75]);
    expect(opt.state.has(a)).toBe(false);
    expect(opt.state.get(b)!.tensors.momentum_buffer).toBeDefined();
    opt.dispose();
  });
});

// ---- state dicts -----------------------------------------------------------------------------------
describe('stateDict / loadStateDict', () => {
  const configs: [string, (ps: Tensor[]) => rn.optim.Optimizer][] = [
    ['SGD nesterov', (ps) => new rn.optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
    ['AdamW amsgrad', (ps) => new rn.optim.AdamW(ps, { lr: 0.01, amsgrad: true })],
  ];
  for (const [label, make] of configs) {
    test(`${label}: save after 2 steps, load into a fresh optimizer, continue == uninterrupted (bit for bit)`, () => {
      const p = initParams();
      const opt = make(NAMES.map((k) => p[k]));
      const train = (o: rn.optim.Optimizer, w: Record<Name, Tensor>, steps: number) => {
        for (let s = 0; s < steps; s++) {
          o.zeroGrad();
          backward(w);
          o.step();
        }
      };
      train(opt, p, 2);
      const sd = opt.stateDict();
      const groups = JSON.parse(JSON.stringify(sd.paramGroups)); // the hyper-parameters are plain JSON
      const resumed = {} as Record<Name, Tensor>;
      for (const k of NAMES) resumed[k] = rn.nn.parameter(p[k].detach().clone());
      // the uninterrupted run goes on first: the saved tensors are copies, so it cannot change them
      train(opt, p, 2);
      const want = snapshot(p);

      const fresh = make(NAMES.map((k) => resumed[k]));
      fresh.loadStateDict({ state: sd.state, paramGroups: groups });
      for (const st of Object.values(sd.state)) for (const t of Object.values(st)) t.dispose(); // load copied them
      train(fresh, resumed, 2);
      const got = snapshot(resumed);
      for (const k of NAMES) expect(Buffer.from(got[k].buffer).equals(Buffer.from(want[k].buffer))).toBe(true);
      opt.dispose();
      fresh.dispose();
      dispose(p);
      dispose(resumed);
    });
  }

  test('layout follows PyTorch: state keyed by parameter index, torch names, step as a 0-d tensor', () => {
    const p = initParams();
    const opt = new rn.optim.AdamW([{ params: [p.w1, p.b1] }, { params: [p.w2, p.b2], weightDecay: 0 }], { lr: 0.01, amsgrad: true });
    opt.zeroGrad();
    backward(p);
    p.b1.grad!.dispose();
    p.b1.grad = null; // b1 gets no state this step
    opt.step();
    const sd = opt.stateDict();
    expect(Object.keys(sd.state).map(Number)).toEqual([0, 2, 3]);
    expect(Object.keys(sd.state[0]).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    expect(sd.state[0].step.shape).toEqual([]);
    expect(sd.state[0].step.itemSync()).toBe(1);
    expect(sd.state[2].exp_avg.shape).toEqual([4, 16]);
    expect(sd.paramGroups).toEqual([
      { params: [0, 1], lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: true, maximize: false },
      { params: [2, 3], lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false },
    ]);
    const sgd = new rn.optim.SGD(NAMES.map((k) => p[k]), { lr: 0.1, momentum: 0.5 });
    sgd.step();
    const s2 = sgd.stateDict();
    expect(Object.keys(s2.state[0])).toEqual(['momentum_buffer']); // SGD keeps no step, like torch
    for (const sdx of [sd, s2]) for (const s of Object.values(sdx.state)) for (const t of Object.values(s)) t.dispose();
    opt.dispose();
    sgd.dispose();
    dispose(p);
  });

  test('loadStateDict replaces hyper-parameters and rejects mismatched groups and shapes', () => {
    const p = initParams();
    const opt = new rn.optim.SGD(NAMES.map((k) => p[k]), { lr: 0.1, momentum: 0.9 });
    const other = new rn.optim.SGD([{ params: [p.w1, p.b1] }, { params: [p.w2, p.b2] }], { lr: 0.1 });
    expectCode(() => opt.loadStateDict(other.stateDict()), 'ERR_RN_STATE', 'SGD.loadStateDict: the state dict has 2 parameter groups but the optimizer has 1');
    const bad = { state: { 1: { momentum_buffer: rn.zeros([3]) } }, paramGroups: opt.stateDict().paramGroups };
    expectCode(() => opt.loadStateDict(bad), 'ERR_RN_SHAPE', 'SGD.loadStateDict: state[1].momentum_buffer has shape [3] but parameter 1 has shape [16]');
    const sd = opt.stateDict();
    sd.paramGroups[0].lr = 0.02;
    sd.paramGroups[0].initialLr = 0.1;
    opt.loadStateDict(sd);
    expect(opt.paramGroups[0]).toMatchObject({ lr: 0.02, initialLr: 0.1, momentum: 0.9 });
    sd.paramGroups[0].lr = -1;
    expectCode(() => opt.loadStateDict(sd), 'ERR_RN_RANGE', 'Expected a non-negative number for SGD.loadStateDict(paramGroups[0].lr) but received -1 of type number');
    expect(opt.paramGroups[0].lr).toBe(0.02); // a rejected load changes nothing
    dispose(p);
  });
});

// ---- memory, layouts, kernels ----------------------------------------------------------------------
describe('runtime behaviour', () => {
  test('state created inside tidy survives it; zeroGrad disposes or zeroes gradients', () => {
    const p = initParams();
    const opt = new rn.optim.AdamW(NAMES.map((k) => p[k]));
    const before = rn.memory.stats().tensors;
    rn.tidy(() => {
      lossOf(p).backward();
      opt.step();
    });
    const st = opt.state.get(p.w1)!;
    expect(st.tensors.exp_avg.isDisposed).toBe(false);
    expect(st.step).toBe(1);
    // 4 grads + 8 state tensors outlive the scope
    expect(rn.memory.stats().tensors - before).toBe(12);
    const g = p.w1.grad!;
    opt.zeroGrad(false);
    expect(p.w1.grad).toBe(g);
    expect(arr(g).every((v) => v === 0)).toBe(true);
    opt.zeroGrad();
    expect(p.w1.grad).toBeNull();
    expect(g.isDisposed).toBe(true);
    opt.dispose();
    expect(st.tensors.exp_avg.isDisposed).toBe(true);
    dispose(p);
  });

  test('step() with a closure returns its loss', () => {
    const p = initParams();
    const opt = new rn.optim.SGD(NAMES.map((k) => p[k]), { lr: 0.1 });
    const loss = opt.step(() => {
      opt.zeroGrad();
      const l = lossOf(p);
      l.backward();
      return l.itemSync();
    });
    expect(loss).toBeCloseTo(Math.log(4), 0);
    dispose(p);
  });

  test('a channels-last parameter with a contiguous gradient updates like its contiguous twin', () => {
    const w0 = rn.randn([4, 3, 3, 3]);
    const g = rn.randn([4, 3, 3, 3]);
    const a = rn.nn.parameter(w0.clone());
    const b = rn.nn.parameter(w0.toChannelsLast());
    expect(b.isChannelsLast() && !b.isContiguous()).toBe(true);
    for (const t of [a, b]) t.grad = g.clone().keep();
    const oa = new rn.optim.AdamW([a], { lr: 0.1, weightDecay: 0.1 });
    const ob = new rn.optim.AdamW([b], { lr: 0.1, weightDecay: 0.1 });
    for (let i = 0; i < 3; i++) {
      oa.step();
      ob.step();
    }
    expect(ob.state.get(b)!.tensors.exp_avg.isChannelsLast()).toBe(true);
    expect(arr(b)).toEqual(arr(a));
  });

  test('fused kernels on large tensors (parallel multi-chunk path) match a float32 reference', () => {
    const n = 100_003;
    const f = Math.fround;
    const w0 = rn.randn([n]).dataSync() as Float32Array;
    const g0 = rn.randn([n]).dataSync() as Float32Array;
    const mk = () => {
      const p = rn.nn.parameter(rn.tensor(Float32Array.from(w0)));
      p.grad = rn.tensor(Float32Array.from(g0)).keep();
      return p;
    };
    // SGD nesterov + weight decay, 2 steps
    const ps = mk();
    const small = mk(); // a second, small-chunk tensor in the same call
    const sgd = new rn.optim.SGD([ps, small], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    sgd.step();
    sgd.step();
    const w = Float32Array.from(w0);
    const buf = new Float32Array(n);
    // fma(a, b, c) of float32 values ~ f(a * b + c) (the product is exact in double)
    const fma = (a: number, b: number, c: number) => f(a * b + c);
    const [wd, mom, negLr] = [f(0.01), f(0.9), f(-0.1)];
    for (let s = 0; s < 2; s++)
      for (let i = 0; i < n; i++) {
        const d = fma(wd, w[i], g0[i]);
        buf[i] = s === 0 ? d : fma(1, d, f(buf[i] * mom));
        w[i] = fma(negLr, fma(mom, buf[i], d), w[i]);
      }
    expectClose(ps.dataSync() as Float32Array, w, { rtol: 1e-6, label: 'sgd' });
    expect(arr(small)).toEqual(arr(ps));
    // AdamW, 3 steps
    const pa = mk();
    const adam = new rn.optim.AdamW([pa], { lr: 0.01, betas: [0.8, 0.9], weightDecay: 0.1 });
    for (let s = 0; s < 3; s++) adam.step();
    const wa = Float32Array.from(w0);
    const m = new Float32Array(n);
    const v = new Float32Array(n);
    const [b1, b2, omb1, omb2, decay] = [f(0.8), f(0.9), f(1 - 0.8), f(1 - 0.9), f(1 - 0.01 * 0.1)];
    for (let s = 1; s <= 3; s++) {
      const negStep = f(-(0.01 / (1 - 0.8 ** s)));
      const bc2 = f(Math.sqrt(1 - 0.9 ** s));
      for (let i = 0; i < n; i++) {
        const pi = f(wa[i] * decay);
        m[i] = fma(omb1, g0[i], f(m[i] * b1));
        v[i] = fma(f(omb2 * g0[i]), g0[i], f(v[i] * b2));
        wa[i] = f(pi + f(f(negStep * m[i]) / f(f(f(Math.sqrt(v[i])) / bc2) + f(1e-8))));
      }
    }
    expectClose(pa.dataSync() as Float32Array, wa, { rtol: 1e-6, label: 'adamw' });
    for (const t of [ps, small, pa]) {
      t.grad!.dispose();
      t.dispose();
    }
    sgd.dispose();
    adam.dispose();
  });
});

// ---- learning-rate schedulers ------------------------------------------------------------------------
function schedOptimizer(spec: SchedCase['optimizer']): rn.optim.Optimizer {
  const groups = spec.lrs.map((lr) => ({ params: [rn.nn.parameter(rn.zeros([1]))], lr }));
  return spec.optimizer === 'SGD' ? new rn.optim.SGD(groups, { lr: spec.lrs[0], momentum: spec.momentum ?? 0.9 }) : new rn.optim.AdamW(groups, { lr: spec.lrs[0] });
}
function buildScheduler(opt: rn.optim.Optimizer, s: SchedSpec): rn.optim.LRScheduler {
  const o = (s.options ?? {}) as never;
  switch (s.type) {
    case 'StepLR': return new rn.optim.StepLR(opt, o);
    case 'MultiStepLR': return new rn.optim.MultiStepLR(opt, o);
    case 'CosineAnnealingLR': return new rn.optim.CosineAnnealingLR(opt, o);
    case 'LinearLR': return new rn.optim.LinearLR(opt, o);
    case 'OneCycleLR': return new rn.optim.OneCycleLR(opt, o);
    case 'SequentialLR': {
      const subs = s.schedulers!.map((c) => buildScheduler(opt, c));
      return new rn.optim.SequentialLR(opt, subs, (s.options as { milestones: number[] }).milestones);
    }
  }
  throw new Error(s.type);
}
function momentumOf(opt: rn.optim.Optimizer): number[] {
  return opt.paramGroups.map((g) => (Array.isArray(g.betas) ? (g.betas[0] as number) : (g.momentum as number)));
}
function expectSeq(actual: number[][], expected: number[][], label: string): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, k) =>
    row.forEach((v, i) => {
      const e = expected[k][i];
      if (!(Math.abs(v - e) <= 1e-7 * Math.abs(e) + 1e-15)) throw new Error(`${label}: step ${k} group ${i}: ${v} but torch has ${e}`);
    }),
  );
}

describe('learning-rate schedulers match PyTorch 1.13', () => {
  for (const c of SCHED.cases) {
    test(c.name, () => {
      const opt = schedOptimizer(c.optimizer);
      const s = buildScheduler(opt, c.scheduler);
      const lrs = [s.getLastLr()];
      const moms = [momentumOf(opt)];
      for (let k = 0; k < c.steps; k++) {
        s.step();
        lrs.push(s.getLastLr());
        moms.push(momentumOf(opt));
        expect(opt.paramGroups.map((g) => g.lr)).toEqual(lrs[lrs.length - 1]);
      }
      expectSeq(lrs, c.lrs, `${c.name} lr`);
      if (c.momentum) expectSeq(moms, c.momentum, `${c.name} momentum`);
    });
  }

  test('linearWarmup(opt, cosine) equals torch SequentialLR([LinearLR, CosineAnnealingLR])', () => {
    const c = SCHED.cases.find((k) => k.name === 'warmup_cosine')!;
    const opt = schedOptimizer(c.optimizer);
    const cos = new rn.optim.CosineAnnealingLR(opt, { tMax: 8, etaMin: 0.001 });
    const s = rn.optim.linearWarmup(opt, cos, { iters: 3, startFactor: 0.1 });
    const lrs = [s.getLastLr()];
    for (let k = 0; k < c.steps; k++) {
      s.step();
      lrs.push(s.getLastLr());
    }
    expectSeq(lrs, c.lrs, 'linearWarmup');
  });

  test('stateDict is JSON; optimizer + scheduler state resume the exact sequence', () => {
    for (const name of ['onecycle_sgd', 'warmup_cosine', 'cosine']) {
      const c = SCHED.cases.find((k) => k.name === name)!;
      const opt = schedOptimizer(c.optimizer);
      const s = buildScheduler(opt, c.scheduler);
      for (let k = 0; k < 6; k++) s.step();
      const sd = JSON.parse(JSON.stringify(s.stateDict()));
      const osd = opt.stateDict();
      const opt2 = schedOptimizer(c.optimizer);
      const s2 = buildScheduler(opt2, c.scheduler);
      opt2.loadStateDict(osd);
      s2.loadStateDict(sd);
      expect(s2.getLastLr()).toEqual(s.getLastLr());
      for (let k = 6; k < c.steps; k++) {
        s.step();
        s2.step();
        expect(s2.getLastLr()).toEqual(s.getLastLr());
        expect(momentumOf(opt2)).toEqual(momentumOf(opt));
      }
    }
  });

  test('scheduled hyper-parameters reach the native update (OneCycleLR cycles AdamW beta1)', () => {
    const p = rn.nn.parameter(rn.tensor([1]));
    const opt = new rn.optim.AdamW([p], { lr: 1, weightDecay: 0 });
    const s = new rn.optim.OneCycleLR(opt, { maxLr: 0.5, totalSteps: 10 });
    expect(opt.paramGroups[0].lr).toBeCloseTo(0.02, 12);
    expect(opt.paramGroups[0].betas).toEqual([0.95, 0.999]);
    p.grad = rn.tensor([2]).keep();
    opt.step(); // step 1: m̂ / sqrt(v̂) = 1 for any beta1, so p = 1 - lr
    expect(p.itemSync()).toBeCloseTo(1 - 0.02, 6);
    s.step();
    expect((opt.paramGroups[0].betas as number[])[0]).toBeLessThan(0.95);
  });
});

// ---- errors ------------------------------------------------------------------------------------------
describe('errors', () => {
  const p = rn.nn.parameter(rn.zeros([2, 2]));
  test('bad hyper-parameters', () => {
    expectCode(() => new rn.optim.SGD([p], { lr: -0.1 }), 'ERR_RN_RANGE', 'Expected a non-negative number for SGD(lr) but received -0.1 of type number');
    expectCode(() => new rn.optim.SGD([p], {} as rn.optim.SGDOptions), 'ERR_RN_ARG', 'Expected a non-negative number for SGD(lr) but received undefined of type undefined');
    expectCode(() => new rn.optim.SGD([p], { lr: '0.1' as unknown as number }), 'ERR_RN_ARG', 'Expected a non-negative number for SGD(lr) but received "0.1" of type string');
    expectCode(() => new rn.optim.SGD([p], { lr: 0.1, momentum: -0.5 }), 'ERR_RN_RANGE', 'Expected a non-negative number for SGD(momentum) but received -0.5 of type number');
    expectCode(() => new rn.optim.SGD([p], { lr: 0.1, weightDecay: -1 }), 'ERR_RN_RANGE', 'Expected a non-negative number for SGD(weightDecay) but received -1 of type number');
    expectCode(() => new rn.optim.SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), 'ERR_RN_RANGE', /^Expected momentum > 0 and dampening 0 .* for SGD\(nesterov\) but received true of type boolean$/);
    expectCode(() => new rn.optim.SGD([{ params: [p] }, { params: [rn.nn.parameter(rn.zeros([1]))], lr: -2 }], { lr: 0.1 }), 'ERR_RN_RANGE', 'Expected a non-negative number for SGD(paramGroups[1].lr) but received -2 of type number');
    expectCode(() => new rn.optim.AdamW([p], { lr: -1e-3 }), 'ERR_RN_RANGE', 'Expected a non-negative number for AdamW(lr) but received -0.001 of type number');
    expectCode(() => new rn.optim.AdamW([p], { betas: [1, 0.999] }), 'ERR_RN_RANGE', 'Expected a number in [0, 1) for AdamW(betas[0]) but received 1 of type number');
    expectCode(() => new rn.optim.AdamW([p], { betas: [0.9] as unknown as [number, number] }), 'ERR_RN_ARG', 'Expected a pair of numbers [beta1, beta2] for AdamW(betas) but received [0.9] of type array');
    expectCode(() => new rn.optim.AdamW([p], { eps: -1 }), 'ERR_RN_RANGE', 'Expected a non-negative number for AdamW(eps) but received -1 of type number');
    expectCode(() => new rn.optim.AdamW([p], { weightDecay: -0.01 }), 'ERR_RN_RANGE', 'Expected a non-negative number for AdamW(weightDecay) but received -0.01 of type number');
  });

  test('bad parameters', () => {
    expectCode(() => new rn.optim.SGD([], { lr: 0.1 }), 'ERR_RN_RANGE', 'Expected a non-empty list of parameters for SGD(params) but received [] of type array');
    expectCode(() => new rn.optim.SGD(p as unknown as Tensor[], { lr: 0.1 }), 'ERR_RN_ARG', /^Expected an iterable of Tensors or of parameter groups for SGD\(params\)/);
    expectCode(() => new rn.optim.SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 }), 'ERR_RN_ARG', 'SGD: some parameters appear in more than one parameter group');
    const nonLeaf = rn.F.mul(p, 2);
    expectCode(() => new rn.optim.SGD([nonLeaf], { lr: 0.1 }), 'ERR_RN_ARG', "SGD: can't optimize a non-leaf Tensor (parameter 0 of group 0, shape [2, 2])");
    expectCode(() => new rn.optim.SGD([rn.tensor(Int32Array.of(1))], { lr: 0.1 }), 'ERR_RN_DTYPE', 'SGD: can only optimize float32 tensors, but parameter 0 of group 0 is int32');
  });

  test('a gradient of the wrong shape fails at step() naming the op, and leaves the state as it was', () => {
    const q = rn.nn.parameter(rn.zeros([2, 2]));
    const opt = new rn.optim.SGD([q], { lr: 0.1, momentum: 0.9 });
    q.grad = rn.zeros([3]).keep();
    expectCode(() => opt.step(), 'ERR_RN_SHAPE', 'sgd_step: grads[0] has shape [3] but params[0] has shape [2, 2]');
    expect(opt.state.get(q)!.step).toBe(0);
    expect(opt.state.get(q)!.tensors.momentum_buffer).toBeUndefined();
    const adam = new rn.optim.AdamW([q]);
    expectCode(() => adam.step(), 'ERR_RN_SHAPE', 'adamw_step: grads[0] has shape [3] but params[0] has shape [2, 2]');
  });

  test('the native entry points check their arguments too', () => {
    const B = binding();
    expectCode(() => B.sgdStep([p.h], [], [null], [false], 0.1, 0, 0, 0, false, false), 'ERR_RN_ARG', 'sgd_step: expected 1 grads (one per parameter) but received 0');
    expectCode(() => B.sgdStep([p.h], [p.h], [null], [false], -1, 0, 0, 0, false, false), 'ERR_RN_RANGE', 'Expected a non-negative number for sgd_step(lr) but received -1 of type number');
    expectCode(() => B.sgdStep([{} as never], [p.h], [null], [false], 0.1, 0, 0, 0, false, false), 'ERR_RN_ARG', 'Expected a tensor handle for sgdStep(params[0]) but received object of type object');
    expectCode(() => B.adamwStep([p.h], [p.h], [p.h], [p.h], null, [0], 0.1, 0.9, 0.999, 1e-8, 0, false, false), 'ERR_RN_RANGE', 'Expected a positive integer for adamw_step(steps[0]) but received 0 of type number');
    expectCode(() => B.clipGradNorm([p.h], 1, 0), 'ERR_RN_RANGE', 'Expected a positive number or Infinity for clip_grad_norm(normType) but received 0 of type number');
  });

  test('clipGradNorm and scheduler arguments', () => {
    expectCode(() => rn.optim.clipGradNorm([p], -1), 'ERR_RN_RANGE', 'Expected a non-negative number for clipGradNorm(maxNorm) but received -1 of type number');
    expectCode(() => rn.optim.clipGradNorm([p], 1, 0), 'ERR_RN_RANGE', 'Expected a positive number or Infinity for clipGradNorm(normType) but received 0 of type number');
    expectCode(() => rn.optim.clipGradNorm([p], 1, 'two' as never), 'ERR_RN_ARG', 'Expected a positive number or Infinity for clipGradNorm(normType) but received "two" of type string');
    const opt = new rn.optim.SGD([p], { lr: 0.1 });
    expectCode(() => new rn.optim.StepLR({} as never, { stepSize: 1 }), 'ERR_RN_ARG', /^Expected an Optimizer .* for StepLR\(optimizer\) but received object of type object$/);
    expectCode(() => new rn.optim.StepLR(opt, { stepSize: 0 }), 'ERR_RN_RANGE', 'Expected a positive integer for StepLR(stepSize) but received 0 of type number');
    expectCode(() => new rn.optim.LinearLR(opt, { startFactor: 0 }), 'ERR_RN_RANGE', 'Expected a number in (0, 1] for LinearLR(startFactor) but received 0 of type number');
    expectCode(() => new rn.optim.OneCycleLR(opt, { maxLr: [0.1, 0.2], totalSteps: 5 }), 'ERR_RN_RANGE', 'Expected 1 values (one per parameter group) for OneCycleLR(maxLr) but received [0.1, 0.2] of type array');
    const oc = new rn.optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 2 });
    oc.step();
    oc.step();
    expectCode(() => oc.step(), 'ERR_RN_RANGE', 'OneCycleLR: tried to step 4 times; the specified number of total steps is 2');
    expectCode(() => new rn.optim.SequentialLR(opt, [new rn.optim.StepLR(opt, { stepSize: 1 })], [3]), 'ERR_RN_RANGE', 'Expected an array of 0 milestones (one fewer than the schedulers) for SequentialLR(milestones) but received [3] of type array');
  });
});
