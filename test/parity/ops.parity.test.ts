/**
 * Op parity against PyTorch: forward outputs and input gradients for every fixture case in
 * test/fixtures/ops/*.json (made by test/fixtures/make_op_fixtures.py, torch 1.13, float64
 * reference computed from the exact float32 inputs).
 *
 * For each case: build the inputs (requiresGrad for those listed in "grads"), apply the case's
 * optional "pre" view steps, run the op, compare every output, call backward with the stored
 * upstream gradient ("gradOutput"; scalar outputs call backward() with no argument, i.e. 1), and
 * compare the input gradients.
 *
 * Tolerance (forward and gradients alike): for each tensor,
 *     max_i |actual_i - expected_i| <= RTOL * max(1, max_i |expected_i|),   RTOL = 1e-4
 * float32 kernels on these small shapes stay well inside that; a wrong index, a wrong divisor or
 * a missing term is off by far more.
 *
 * conv2d, batchNorm2d and pooling cases run a second time with the input converted to channels-last memory
 * (x.toChannelsLast(): NHWC storage, same logical NCHW shape); the expected values are the same and
 * the gradient must still reach the NCHW leaf through the conversion.
 *
 * Dropout cannot match torch's RNG, so it is checked structurally at the end of this file.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as rn from '../../lib';
import { expectClose, expectShape } from '../helpers/compare';

const RTOL = 1e-4;

type T = ReturnType<typeof rn.tensor>;
type Outs = T | T[] | Record<string, T>;

interface FixTensor {
  shape: number[];
  dtype?: 'float32' | 'int32';
  data: number[];
}
interface Step {
  op: string;
  args?: any[];
}
interface Case {
  name: string;
  op: string;
  attrs: Record<string, any>;
  pre?: Record<string, Step[]>;
  inputs: Record<string, FixTensor>;
  gradOutput?: FixTensor;
  gradOutputs?: Record<string, FixTensor>;
  outputs: Record<string, FixTensor>;
  grads: Record<string, FixTensor>;
}

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'ops');
const FILES = ['conv', 'norm', 'pool', 'elementwise', 'loss', 'shape'];
/** Ops whose cases are also run with a channels-last input (the NCHW ops of a ResNet). */
const CHANNELS_LAST_OPS = new Set(['conv2d', 'batchNorm2d', 'maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d']);

function loadCases(stem: string): Case[] {
  const file = path.join(FIXTURES, `${stem}.json`);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run /usr/bin/python3 test/fixtures/make_op_fixtures.py`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')).cases as Case[];
}

function toTensor(f: FixTensor, requiresGrad = false): T {
  const dtype = f.dtype ?? 'float32';
  const data = dtype === 'int32' ? Int32Array.from(f.data) : Float32Array.from(f.data);
  return rn.tensor(data, { shape: f.shape, dtype, requiresGrad });
}

function applySteps(t: T, steps: Step[]): T {
  for (const s of steps) {
    const a = s.args ?? [];
    switch (s.op) {
      case 'permute': t = t.permute(a[0]); break;
      case 'transpose': t = t.transpose(a[0], a[1]); break;
      case 'slice': t = t.slice(a[0], a[1], a[2]); break;
      case 'reshape': t = t.reshape(a[0]); break;
      case 'flatten': t = t.flatten(...(a as [number, number])); break;
      case 'contiguous': t = t.contiguous(); break;
      case 'toChannelsLast': t = t.toChannelsLast(); break;
      default: throw new Error(`unknown pre step ${s.op}`);
    }
  }
  return t;
}

/** Keys present in attrs only, so that omitted options exercise resnode's defaults. */
function pick(attrs: Record<string, any>, keys: string[]): Record<string, any> {
  const o: Record<string, any> = {};
  for (const k of keys) if (attrs[k] !== undefined) o[k] = attrs[k];
  return o;
}

type Runner = (a: Record<string, T>, at: Record<string, any>) => Outs;

const binary = (f: (x: T, y: T | number) => T): Runner => (a, at) =>
  at.scalar !== undefined ? f(a.a, at.scalar) : f(a.a, a.b);

const RUNNERS: Record<string, Runner> = {
  // elementwise
  add: binary((x, y) => rn.add(x, y)),
  sub: binary((x, y) => rn.sub(x, y)),
  mul: binary((x, y) => rn.mul(x, y)),
  div: binary((x, y) => rn.div(x, y)),
  neg: (a) => rn.neg(a.x),
  exp: (a) => rn.exp(a.x),
  log: (a) => rn.log(a.x),
  sqrt: (a) => rn.sqrt(a.x),
  pow: (a, at) => rn.pow(a.x, at.exponent),
  relu: (a) => rn.F.relu(a.x),
  sigmoid: (a) => rn.F.sigmoid(a.x),
  tanh: (a) => rn.F.tanh(a.x),
  gelu: (a, at) => rn.F.gelu(a.x, { approximate: at.approximate }),
  // reductions
  sum: (a, at) => (at.dims === undefined ? rn.sum(a.x) : rn.sum(a.x, at.dims, at.keepdim)),
  mean: (a, at) => (at.dims === undefined ? rn.mean(a.x) : rn.mean(a.x, at.dims, at.keepdim)),
  // matmul / linear
  matmul: (a) => rn.matmul(a.a, a.b),
  linear: (a) => (a.bias ? rn.F.linear(a.x, a.weight, a.bias) : rn.F.linear(a.x, a.weight)),
  // conv / norm
  conv2d: (a, at) => rn.F.conv2d(a.x, a.weight, a.bias, pick(at, ['stride', 'padding', 'dilation', 'groups'])),
  batchNorm2d: (a, at): Record<string, T> => {
    const out = rn.F.batchNorm2d(a.x, a.runningMean ?? null, a.runningVar ?? null, a.weight ?? null, a.bias ?? null, {
      training: at.training,
      ...pick(at, ['momentum', 'eps']),
    });
    // running stats are updated in place: compare the same tensors after the call
    return a.runningMean ? { out, runningMean: a.runningMean, runningVar: a.runningVar } : { out };
  },
  layerNorm: (a, at) =>
    at.eps !== undefined
      ? rn.F.layerNorm(a.x, at.normalizedShape, a.weight, a.bias, at.eps)
      : a.weight
        ? rn.F.layerNorm(a.x, at.normalizedShape, a.weight, a.bias)
        : rn.F.layerNorm(a.x, at.normalizedShape),
  // pooling
  maxPool2d: (a, at) => rn.F.maxPool2d(a.x, pick(at, ['kernelSize', 'stride', 'padding', 'ceilMode']) as any),
  avgPool2d: (a, at) =>
    rn.F.avgPool2d(a.x, pick(at, ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad']) as any),
  adaptiveAvgPool2d: (a, at) => rn.F.adaptiveAvgPool2d(a.x, at.outputSize),
  // softmax / losses
  softmax: (a, at) => rn.F.softmax(a.x, at.dim),
  logSoftmax: (a, at) => rn.F.logSoftmax(a.x, at.dim),
  crossEntropy: (a, at) => rn.F.crossEntropy(a.logits, a.target, pick(at, ['reduction', 'labelSmoothing', 'ignoreIndex'])),
  mseLoss: (a, at) => rn.F.mseLoss(a.a, a.b, pick(at, ['reduction'])),
  // shapes
  reshape: (a, at) => a.x.reshape(at.shape),
  permute: (a, at) => a.x.permute(at.dims),
  transpose: (a, at) => a.x.transpose(at.dims[0], at.dims[1]),
  slice: (a, at) => a.x.slice(at.dim, at.start, at.end),
  flatten: (a, at) => (at.endDim === undefined ? a.x.flatten(at.startDim) : a.x.flatten(at.startDim, at.endDim)),
  contiguous: (a) => a.x.contiguous(),
  toChannelsLast: (a) => a.x.toChannelsLast(),
  cat: (a, at) => rn.cat(Array.from({ length: at.count }, (_, i) => a[`t${i}`]), at.dim),
  split: (a, at) => rn.split(a.x, at.sizes, at.dim),
  pad: (a, at) => (at.value === undefined ? rn.F.pad(a.x, at.pads) : rn.F.pad(a.x, at.pads, at.value)),
};

function runCase(c: Case, channelsLast: boolean): void {
  const tag = channelsLast ? `${c.name} [channels-last]` : c.name;
  const made: T[] = [];
  const keep = <U extends T>(t: U): U => {
    made.push(t);
    return t;
  };
  try {
    // inputs: leaves (gradients are read here) and the arguments actually passed to the op
    const leaves: Record<string, T> = {};
    const args: Record<string, T> = {};
    for (const [k, f] of Object.entries(c.inputs)) {
      leaves[k] = keep(toTensor(f, k in c.grads));
      let t = leaves[k];
      if (c.pre?.[k]) t = keep(applySteps(t, c.pre[k]));
      if (channelsLast && k === 'x') {
        t = keep(t.toChannelsLast());
        expect(t.isChannelsLast()).toBe(true);
      }
      args[k] = t;
    }
    const runner = RUNNERS[c.op];
    if (!runner) throw new Error(`no runner for op ${c.op}`);
    const res = runner(args, c.attrs);
    let outs: Record<string, T>;
    if (Array.isArray(res)) {
      outs = {};
      res.forEach((t, i) => (outs[`out${i}`] = t));
    } else if (typeof (res as T).dataSync === 'function') {
      outs = { out: res as T };
    } else {
      outs = res as Record<string, T>;
    }
    for (const t of Object.values(outs)) if (!made.includes(t)) made.push(t);

    // forward
    const outNames = Object.keys(c.outputs);
    expect(Object.keys(outs).sort()).toEqual(outNames.slice().sort());
    for (const k of outNames) {
      const exp = c.outputs[k];
      expectShape(outs[k].shape, exp.shape, `${tag}: ${k}.shape`);
      expectClose(outs[k].dataSync() as Float32Array, exp.data, { rtol: RTOL, label: `${tag}: forward ${k}` });
    }

    // backward
    const gradNames = Object.keys(c.grads);
    if (gradNames.length === 0) return;
    if (c.gradOutputs) {
      // several outputs (split): backward of sum_k sum(out_k * g_k)
      let loss: T | null = null;
      for (const [k, g] of Object.entries(c.gradOutputs)) {
        const term = keep(rn.sum(keep(rn.mul(outs[k], keep(toTensor(g))))));
        loss = loss ? keep(rn.add(loss, term)) : term;
      }
      loss!.backward();
    } else {
      const y = outs.out;
      const go = c.gradOutput!;
      if (go.shape.length === 0) {
        expect(go.data[0]).toBe(1);
        y.backward();
      } else {
        y.backward(keep(toTensor(go)));
      }
    }
    for (const k of gradNames) {
      const g = leaves[k].grad;
      if (!g) throw new Error(`${tag}: ${k}.grad is null after backward()`);
      expectShape(g.shape, c.grads[k].shape, `${tag}: grad ${k}.shape`);
      expectClose(g.dataSync() as Float32Array, c.grads[k].data, { rtol: RTOL, label: `${tag}: grad ${k}` });
    }
  } finally {
    for (const t of made) {
      const g = t.grad;
      try {
        t.dispose();
        g?.dispose();
      } catch {
        /* already disposed */
      }
    }
  }
}

for (const stem of FILES) {
  const cases = loadCases(stem);
  describe(`parity vs torch: ${stem}.json (${cases.length} cases)`, () => {
    for (const c of cases) {
      test(c.name, () => runCase(c, false));
    }
    for (const c of cases.filter((c) => CHANNELS_LAST_OPS.has(c.op))) {
      test(`${c.name} [channels-last input]`, () => runCase(c, true));
    }
  });
}

test('every op in the fixtures has a runner', () => {
  const ops = new Set<string>();
  for (const stem of FILES) for (const c of loadCases(stem)) ops.add(c.op);
  const missing = [...ops].filter((o) => !RUNNERS[o]);
  expect(missing).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Dropout: structural / statistical checks (resnode's RNG is not torch's).

describe('dropout (structural)', () => {
  /** Deterministic inputs in [0.5, 1.5] (never 0, so a 0 output means "dropped"). */
  function ramp(n: number, seed: number): Float32Array {
    const out = new Float32Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      out[i] = 0.5 + s / 4294967296;
    }
    return out;
  }
  const N = 20000; // zero fraction has std sqrt(p(1-p)/N) <= 0.0036; we allow 0.02 (>5 sigma)
  const shape = [200, 100];

  for (const p of [0.1, 0.3, 0.5, 0.8]) {
    test(`p=${p}: zeros fraction ≈ p, kept values scaled by 1/(1-p), gradient uses the same mask`, () => {
      const xd = ramp(N, 1);
      const gd = ramp(N, 2);
      const x = rn.tensor(xd, { shape, requiresGrad: true });
      rn.manualSeed(1234);
      const y = rn.F.dropout(x, p, true);
      expectShape(y.shape, shape, 'dropout output shape');
      const yd = y.dataSync() as Float32Array;
      let zeros = 0;
      const want = new Float32Array(N);
      for (let i = 0; i < N; i++) {
        if (yd[i] === 0) zeros++;
        else want[i] = xd[i] / (1 - p);
      }
      expect(Math.abs(zeros / N - p)).toBeLessThan(0.02);
      // kept values: x / (1 - p); dropped ones compare 0 with 0
      expectClose(yd, Array.from(want), { rtol: 1e-6, label: `dropout p=${p} kept values` });

      const g = rn.tensor(gd, { shape });
      y.backward(g);
      const gx = x.grad!.dataSync() as Float32Array;
      const wantG = new Array<number>(N);
      for (let i = 0; i < N; i++) wantG[i] = yd[i] === 0 ? 0 : gd[i] / (1 - p);
      expectClose(gx, wantG, { rtol: 1e-6, label: `dropout p=${p} grad` });
      for (const t of [x.grad!, x, y, g]) t.dispose();
    });
  }

  test('same manualSeed gives the same mask; the RNG advances between calls', () => {
    const xd = ramp(N, 3);
    const x = rn.tensor(xd, { shape });
    rn.manualSeed(42);
    const a = rn.F.dropout(x, 0.5, true).dataSync() as Float32Array;
    const b = rn.F.dropout(x, 0.5, true).dataSync() as Float32Array;
    rn.manualSeed(42);
    const c = rn.F.dropout(x, 0.5, true).dataSync() as Float32Array;
    rn.manualSeed(43);
    const d = rn.F.dropout(x, 0.5, true).dataSync() as Float32Array;
    let sameAC = true;
    let diffAB = 0;
    let diffAD = 0;
    for (let i = 0; i < N; i++) {
      if (a[i] !== c[i]) sameAC = false;
      if ((a[i] === 0) !== (b[i] === 0)) diffAB++;
      if ((a[i] === 0) !== (d[i] === 0)) diffAD++;
    }
    expect(sameAC).toBe(true);
    // independent masks at p=0.5 differ in about half the positions
    expect(diffAB).toBeGreaterThan(N * 0.4);
    expect(diffAD).toBeGreaterThan(N * 0.4);
    x.dispose();
  });

  test('training=false and p=0 are the identity (values and gradient)', () => {
    const xd = ramp(1000, 5);
    const gd = ramp(1000, 6);
    for (const [p, training] of [[0.5, false], [0, true]] as Array<[number, boolean]>) {
      const x = rn.tensor(xd, { shape: [10, 100], requiresGrad: true });
      const y = rn.F.dropout(x, p, training);
      expectClose(y.dataSync() as Float32Array, Array.from(xd), { rtol: 0, label: `dropout p=${p} training=${training}` });
      y.backward(rn.tensor(gd, { shape: [10, 100] }));
      expectClose(x.grad!.dataSync() as Float32Array, Array.from(gd), { rtol: 0, label: `dropout grad p=${p} training=${training}` });
    }
  });
});
