/**
 * Fused batch norm (+ residual add) + ReLU: F.batchNormAddRelu / F.batchNormRelu.
 *
 * 1. Fused vs unfused (rn.setFusion(false) -> relu(add(batchNorm2d(x), r))): forward, running
 *    statistics and every gradient (dx, dresidual, dweight, dbias) within 1e-5 relative to the
 *    largest magnitude of each tensor (test/helpers/compare.ts), over many shapes: both layouts,
 *    C = 3, H*W = 1, N = 1, odd sizes, sizes that are not multiples of 16, 2-D/3-D inputs, with and
 *    without affine / running statistics / residual, eval mode — for every kernel version this CPU
 *    runs (1 = portable loops, 2 = AVX-512).
 * 2. Against PyTorch: test/fixtures/bn_add_relu.json (made by make_bn_add_relu_fixture.py beside it).
 * 3. What is saved for backward (no tensor of input size besides x and y), thread-count
 *    independence, argument errors, and foldBatchNorm.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as rn from '../../lib';
import { binding } from '../../lib/binding';
import { expectClose } from '../helpers/compare';

type T = ReturnType<typeof rn.tensor>;
const F = rn.F;
const B = binding();
const BEST = B.bnAddReluVersion();
const VERSIONS = BEST === 2 ? [1, 2] : [1];
const RTOL = 1e-5;

afterAll(() => {
  B.bnAddReluVersion(0);
  B.bnAddReluNtBytes(-1);
  rn.setFusion(true);
});

class Lcg {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.next(), 1e-7);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  array(n: number, scale = 1, shift = 0): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * scale + shift;
    return a;
  }
}
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

interface Case {
  name: string;
  shape: number[];
  cl?: boolean;
  residual?: boolean;
  affine?: boolean;
  stats?: boolean;
  training?: boolean;
  momentum?: number;
  eps?: number;
  shift?: number;
  scale?: number;
  /** which of x, residual, weight, bias require grad (default all) */
  grads?: ('x' | 'r' | 'w' | 'b')[];
}
interface Result {
  y: Float32Array;
  rm: Float32Array | null;
  rv: Float32Array | null;
  dx: Float32Array | null;
  dr: Float32Array | null;
  dw: Float32Array | null;
  db: Float32Array | null;
}

function data(t: T | null | undefined): Float32Array | null {
  return t ? (t.dataSync() as Float32Array) : null;
}

function run(c: Case, fused: boolean, seed = 1): Result {
  rn.setFusion(fused);
  const rng = new Lcg(seed);
  const C = c.shape[1];
  const n = numel(c.shape);
  const grads = c.grads ?? ['x', 'r', 'w', 'b'];
  const training = c.training ?? true;
  const mk = (a: Float32Array, shape: number[], g: boolean, cl = false) => {
    let t = rn.tensor(a, { shape });
    if (cl) {
      const u = t.toChannelsLast();
      t.dispose();
      t = u;
    }
    return g ? t.requiresGrad_() : t;
  };
  const x = mk(rng.array(n, c.scale ?? 1, c.shift ?? 0), c.shape, grads.includes('x'), c.cl);
  const r = c.residual === false ? null : mk(rng.array(n), c.shape, grads.includes('r'), c.cl);
  const affine = c.affine ?? true;
  const wData = rng.array(C, 0.3, 1);
  const bData = rng.array(C, 0.5);
  const w = affine ? mk(wData, [C], grads.includes('w')) : null;
  const b = affine ? mk(bData, [C], grads.includes('b')) : null;
  const stats = c.stats ?? true;
  const rm = stats ? rn.tensor(rng.array(C, 0.2), { shape: [C] }) : null;
  const rv = stats ? rn.tensor(Float32Array.from(rng.array(C, 0.3), (v) => Math.abs(v) + 0.5), { shape: [C] }) : null;
  const dy = mk(rng.array(n), c.shape, false, c.cl);
  const opts = { training, momentum: c.momentum ?? 0.1, eps: c.eps ?? 1e-5 };
  const y = r ? F.batchNormAddRelu(x, r, rm, rv, w, b, opts) : F.batchNormRelu(x, rm, rv, w, b, opts);
  if (!c.cl) expect(y.isContiguous()).toBe(true);
  else expect(y.isChannelsLast()).toBe(true);
  const any = grads.length > 0;
  if (any) y.backward(dy);
  const out: Result = {
    y: data(y)!,
    rm: data(rm),
    rv: data(rv),
    dx: data(x.grad),
    dr: data(r?.grad),
    dw: data(w?.grad),
    db: data(b?.grad),
  };
  for (const t of [x, r, w, b]) {
    t?.grad?.dispose();
    t?.dispose();
  }
  for (const t of [rm, rv, dy, y]) t?.dispose();
  rn.setFusion(true);
  return out;
}

function compare(a: Result, e: Result, label: string, rtol = RTOL): void {
  for (const k of ['y', 'rm', 'rv', 'dx', 'dr', 'dw', 'db'] as const) {
    const av = a[k];
    const ev = e[k];
    if (ev === null || av === null) {
      expect(av === null).toBe(ev === null);
      continue;
    }
    expectClose(av, ev, { rtol, label: `${label}: ${k}` });
  }
}

const CASES: Case[] = [
  { name: 'NCHW C=3 odd 5x5', shape: [2, 3, 5, 5] },
  { name: 'NHWC C=3 odd 5x5', shape: [2, 3, 5, 5], cl: true },
  { name: 'NCHW 64ch 8x8 (row segments of 64)', shape: [4, 64, 8, 8] },
  { name: 'NHWC 64ch 8x8', shape: [4, 64, 8, 8], cl: true },
  { name: 'NCHW 17ch 9x11', shape: [3, 17, 9, 11] },
  { name: 'NHWC 17ch 9x11 (272-lane pattern)', shape: [3, 17, 9, 11], cl: true },
  { name: 'NCHW HW=1 C=3', shape: [8, 3, 1, 1] },
  { name: 'NHWC HW=1 C=32', shape: [16, 32, 1, 1], cl: true },
  { name: 'N=1 NCHW 7x7 (short rows)', shape: [1, 5, 7, 7] },
  { name: 'N=1 NHWC 7x7', shape: [1, 5, 7, 7], cl: true },
  { name: 'NCHW 3x3 (144-lane period)', shape: [2, 8, 3, 3] },
  { name: 'NCHW 2x2 C=4 (16-lane period)', shape: [3, 4, 2, 2] },
  { name: 'NHWC C=4 (16-lane pattern)', shape: [3, 4, 2, 5], cl: true },
  { name: 'NHWC C=16', shape: [2, 16, 20, 20], cl: true },
  { name: 'NHWC C=24 (48-lane pattern, 24-element tail)', shape: [3, 24, 1, 7], cl: true },
  { name: 'NHWC C=12 (48-lane pattern, 12-element tail)', shape: [5, 12, 3, 3], cl: true },
  { name: 'NHWC C=64 several parts', shape: [8, 64, 16, 16], cl: true },
  { name: 'NCHW C=16 20x20', shape: [2, 16, 20, 20] },
  { name: 'NHWC C=2050 (lanes = C, masked)', shape: [2, 2050, 1, 3], cl: true },
  { name: 'NCHW C=1', shape: [5, 1, 6, 7] },
  { name: '2-D [N, C]', shape: [10, 7] },
  { name: '3-D [N, C, L]', shape: [4, 6, 10] },
  { name: 'NCHW several parts', shape: [4, 32, 40, 40] },
  { name: 'NHWC several parts', shape: [4, 32, 40, 40], cl: true },
  { name: 'NCHW 56x56 rows', shape: [2, 8, 56, 56] },
  { name: 'no residual NCHW', shape: [2, 5, 6, 6], residual: false },
  { name: 'no residual NHWC', shape: [2, 5, 6, 6], residual: false, cl: true },
  { name: 'no affine', shape: [2, 6, 5, 5], affine: false },
  { name: 'no affine NHWC no residual', shape: [2, 6, 5, 5], affine: false, residual: false, cl: true },
  { name: 'no running stats', shape: [3, 4, 5, 5], stats: false },
  { name: 'momentum 0.3, eps 1e-3', shape: [2, 5, 4, 4], momentum: 0.3, eps: 1e-3 },
  { name: 'eval NCHW', shape: [2, 3, 5, 5], training: false },
  { name: 'eval NHWC', shape: [2, 17, 5, 5], training: false, cl: true },
  { name: 'eval no affine no residual', shape: [3, 4, 6, 6], training: false, affine: false, residual: false },
  { name: 'eval HW=1', shape: [4, 9, 1, 1], training: false },
  { name: 'only x requires grad', shape: [2, 4, 5, 5], grads: ['x'] },
  { name: 'only weight and bias require grad', shape: [2, 4, 5, 5], grads: ['w', 'b'], cl: true },
  { name: 'only residual requires grad', shape: [2, 4, 5, 5], grads: ['r'] },
  { name: 'no grad', shape: [2, 4, 5, 5], grads: [] },
];

const byName = (...names: string[]): Case[] =>
  names.map((n) => {
    const c = CASES.find((k) => k.name === n);
    if (!c) throw new Error(`no case ${n}`);
    return c;
  });

describe('fused vs unfused (rn.setFusion(false))', () => {
  for (const v of VERSIONS) {
    describe(`kernel version ${v}`, () => {
      beforeAll(() => B.bnAddReluVersion(v));
      afterAll(() => B.bnAddReluVersion(0));
      for (const c of CASES) {
        test(c.name, () => {
          compare(run(c, true), run(c, false), c.name);
        });
      }
    });
  }
  test('non-temporal stores (threshold 0) give the same results', () => {
    B.bnAddReluNtBytes(0);
    try {
      for (const c of byName('NCHW C=3 odd 5x5', 'NHWC 64ch 8x8', 'NHWC 17ch 9x11 (272-lane pattern)', 'NCHW several parts', 'NHWC C=64 several parts', 'no residual NHWC', 'eval NHWC'))
        compare(run(c, true), run(c, false), `${c.name} (nt)`);
    } finally {
      B.bnAddReluNtBytes(-1);
    }
  });
  test('shifted input (mean 50, std 0.5): fused stays within 1e-5 of a float64 reference', () => {
    // shifted sums + (x - mean) * A keep the digits that x * A + (beta - mean * A) would lose
    const c: Case = { name: 'shifted', shape: [4, 3, 12, 12], shift: 50, scale: 0.5, grads: [] };
    const got = run(c, true);
    const rng = new Lcg(1);
    const [N, C, H, W] = c.shape;
    const HW = H * W;
    const x = rng.array(N * C * HW, 0.5, 50);
    const r = rng.array(N * C * HW);
    const w = rng.array(C, 0.3, 1);
    const b = rng.array(C, 0.5);
    const ref = new Float64Array(N * C * HW);
    for (let ch = 0; ch < C; ch++) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) s += x[(n * C + ch) * HW + i];
      const m = s / (N * HW);
      let v = 0;
      for (let n = 0; n < N; n++) for (let i = 0; i < HW; i++) v += (x[(n * C + ch) * HW + i] - m) ** 2;
      const is = 1 / Math.sqrt(v / (N * HW) + 1e-5);
      for (let n = 0; n < N; n++)
        for (let i = 0; i < HW; i++) {
          const k = (n * C + ch) * HW + i;
          ref[k] = Math.max(0, (x[k] - m) * is * w[ch] + b[ch] + r[k]);
        }
    }
    for (const v of VERSIONS) {
      B.bnAddReluVersion(v);
      expectClose(run(c, true).y, ref, { rtol: 1e-5, label: `shifted v${v}` });
    }
    B.bnAddReluVersion(0);
    expectClose(got.y, ref, { rtol: 1e-5, label: 'shifted' });
  });
});

describe('against PyTorch (test/fixtures/bn_add_relu.json)', () => {
  interface Arr {
    shape: number[];
    data: number[];
  }
  interface FixCase {
    name: string;
    op: 'batchNormAddRelu' | 'batchNormRelu';
    attrs: { training: boolean; momentum: number; eps: number };
    channelsLast: boolean;
    inputs: Record<string, Arr>;
    gradOutput: Arr;
    outputs: Record<string, Arr>;
    grads: Record<string, Arr>;
  }
  const fix = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/bn_add_relu.json'), 'utf8')) as { cases: FixCase[] };
  for (const v of VERSIONS)
    for (const fc of fix.cases) {
      test(`${fc.name} (v${v})`, () => {
        B.bnAddReluVersion(v);
        const ten = (a: Arr, g: boolean, cl = false) => {
          let t = rn.tensor(Float32Array.from(a.data), { shape: a.shape });
          if (cl) t = t.toChannelsLast();
          return g ? t.requiresGrad_() : t;
        };
        const cl = fc.channelsLast;
        const x = ten(fc.inputs.x, true, cl);
        const r = fc.inputs.residual ? ten(fc.inputs.residual, true, cl) : null;
        const w = fc.inputs.weight ? ten(fc.inputs.weight, true) : null;
        const b = fc.inputs.bias ? ten(fc.inputs.bias, true) : null;
        const rm = ten(fc.inputs.runningMean, false);
        const rv = ten(fc.inputs.runningVar, false);
        const y = r ? F.batchNormAddRelu(x, r, rm, rv, w, b, fc.attrs) : F.batchNormRelu(x, rm, rv, w, b, fc.attrs);
        y.backward(ten(fc.gradOutput, false, cl));
        const o = { rtol: RTOL };
        const d = (t: T) => t.dataSync() as Float32Array;
        expectClose(d(y), fc.outputs.out.data, { ...o, label: `${fc.name}: out` });
        expectClose(d(rm), fc.outputs.runningMean.data, { ...o, label: `${fc.name}: running_mean` });
        expectClose(d(rv), fc.outputs.runningVar.data, { ...o, label: `${fc.name}: running_var` });
        expectClose(d(x.grad!), fc.grads.x.data, { ...o, label: `${fc.name}: dx` });
        if (r) expectClose(d(r.grad!), fc.grads.residual.data, { ...o, label: `${fc.name}: dresidual` });
        if (w) expectClose(d(w.grad!), fc.grads.weight.data, { ...o, label: `${fc.name}: dweight` });
        if (b) expectClose(d(b.grad!), fc.grads.bias.data, { ...o, label: `${fc.name}: dbias` });
        B.bnAddReluVersion(0);
      });
    }
});

describe('what is saved, determinism', () => {
  test('forward with grad allocates only y, two per-channel vectors and (v2) a ReLU bit mask of E/8 bytes', () => {
    const versions = BEST === 2 ? [2, 1] : [1];
    try {
      for (const v of versions)
        for (const cl of [false, true]) {
          B.bnAddReluVersion(v);
          const shape = [4, 16, 10, 10];
          const mkx = () => (cl ? rn.randn(shape).toChannelsLast() : rn.randn(shape));
          const x = mkx().requiresGrad_();
          const r = mkx().requiresGrad_();
          const w = rn.ones([16]).requiresGrad_();
          const b = rn.zeros([16]).requiresGrad_();
          rn.sync();
          const before = rn.memory.stats().live;
          const y = F.batchNormAddRelu(x, r, null, null, w, b);
          const grown = rn.memory.stats().live - before;
          // y + mean + invstd (64-byte blocks) [+ bits: ceil(E / 8) + 4 bytes of read slack]
          const maskBytes = v === 2 ? Math.ceil((Math.ceil(numel(shape) / 8) + 4) / 64) * 64 : 0;
          expect(grown).toBe(numel(shape) * 4 + 2 * 64 + maskBytes);
          const node = y._node!;
          expect(Object.keys(node.saved).sort()).toEqual(['hasResidual', 'invstd', 'mean', 'training', 'w', 'x', 'y']);
          expect((node.saved.y as rn.Tensor).dtype).toBe(v === 2 ? 'uint8' : 'float32');
          y.backward(rn.onesLike(y));
          for (const t of [x, r, w, b]) {
            t.grad!.dispose();
            t.dispose();
          }
          y.dispose();
        }
    } finally {
      B.bnAddReluVersion(0);
    }
  });
  test('a mask made by v2 is read by backward after a switch to v1; a mask of the wrong size is an error', () => {
    if (BEST !== 2) return;
    const x = rn.randn([2, 16, 5, 5]).requiresGrad_();
    const y = F.batchNormRelu(x, null, null);
    expect((y._node!.saved.y as rn.Tensor).dtype).toBe('uint8');
    B.bnAddReluVersion(1);
    try {
      y.backward(rn.onesLike(y));
    } finally {
      B.bnAddReluVersion(0);
    }
    const g1 = x.grad!.dataSync().slice();
    x.grad!.dispose();
    x.grad = null;
    const y2 = F.batchNormRelu(x, null, null);
    y2.backward(rn.onesLike(y2));
    expect(Array.from(x.grad!.dataSync())).toEqual(Array.from(g1));
    const bad = rn.zeros([7], { dtype: 'uint8' });
    const s = rn.ones([16]);
    expect(() => B.bnAddReluBackward(x.h, bad.h, x.h, null, s.h, s.h, true, false)).toThrow(
      expect.objectContaining({ code: 'ERR_RN_SHAPE', message: expect.stringContaining('expected a ReLU mask of 104 bytes for input shape [2, 16, 5, 5] but received shape [7]') }));
    for (const t of [x, y, y2, bad, s]) t.dispose();
    x.grad?.dispose();
  });
  test('results do not depend on the thread count (bitwise)', () => {
    const prev = rn.getNumThreads();
    try {
      for (const c of byName('NCHW several parts', 'NHWC several parts', 'NHWC C=64 several parts', 'NCHW 17ch 9x11')) {
        rn.setNumThreads(1);
        const a = run(c, true);
        rn.setNumThreads(2);
        const b = run(c, true);
        rn.setNumThreads(3);
        const d = run(c, true);
        for (const k of ['y', 'rm', 'rv', 'dx', 'dr', 'dw', 'db'] as const) {
          expect(Buffer.from(a[k]!.buffer).equals(Buffer.from(b[k]!.buffer))).toBe(true);
          expect(Buffer.from(a[k]!.buffer).equals(Buffer.from(d[k]!.buffer))).toBe(true);
        }
      }
    } finally {
      rn.setNumThreads(prev);
    }
  });
});

describe('API', () => {
  test('setFusion / getFusion', () => {
    expect(rn.getFusion()).toBe(true);
    rn.setFusion(false);
    expect(rn.getFusion()).toBe(false);
    rn.setFusion(true);
    expect(() => rn.setFusion('no' as unknown as boolean)).toThrow('Expected a boolean for setFusion(enabled) but received "no" of type string');
  });
  test('argument errors name the op', () => {
    const x = rn.randn([2, 3, 4, 4]);
    const bad = rn.randn([2, 3, 4, 5]);
    expect(() => F.batchNormAddRelu(x, bad, null, null)).toThrow('batchNormAddRelu: residual has shape [2, 3, 4, 5] but input has shape [2, 3, 4, 4]');
    expect(() => F.batchNormAddRelu(x, 3 as unknown as T, null, null)).toThrow('Expected a Tensor for batchNormAddRelu(residual) but received 3 of type number');
    expect(() => F.batchNormRelu(x, null, null, null, null, { training: false })).toThrow('batchNormRelu: eval mode (training: false) needs runningMean and runningVar');
    expect(() => F.batchNormRelu(x, null, null, null, null, { eps: 0 })).toThrow('Expected a positive number for batchNormRelu(eps) but received 0 of type number');
    try {
      F.batchNormRelu(x, null, null, rn.ones([4]));
      throw new Error('no throw');
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_RN_SHAPE');
      expect((e as Error).message).toBe('batchNormRelu: input has 3 channels but weight has shape [4]');
    }
    expect(() => F.batchNormRelu(rn.randn([1, 3, 1, 1]), null, null)).toThrow('batchNormRelu: expected more than 1 value per channel when training');
    // the native boundary re-checks (a direct binding call with a bad handle throws, never crashes)
    expect(() => B.bnAddReluForward(x.h, bad.h, null, null, null, null, true, 0.1, 1e-5)).toThrow(/residual has shape/);
    expect(() => B.bnAddReluVersion(7)).toThrow(/unknown kernel version 7/);
  });
});

describe('foldBatchNorm', () => {
  const cases = [
    { name: '3x3 conv with bias', bias: true, affine: true, cl: false, stride: 1, padding: 1, groups: 1 },
    { name: '1x1 conv without bias, stride 2', bias: false, affine: true, cl: false, stride: 2, padding: 0, groups: 1 },
    { name: 'no affine', bias: true, affine: false, cl: false, stride: 1, padding: 1, groups: 1 },
    { name: 'channels-last, grouped', bias: false, affine: true, cl: true, stride: 1, padding: 1, groups: 2 },
  ];
  for (const c of cases)
    test(`conv -> bn (eval) == conv with folded params: ${c.name}`, () => {
      const rng = new Lcg(7);
      const [N, Cin, H, W, K] = [2, 4, 7, 7, 6];
      const ks = c.stride === 2 ? 1 : 3;
      let x = rn.tensor(rng.array(N * Cin * H * W), { shape: [N, Cin, H, W] });
      if (c.cl) x = x.toChannelsLast();
      const w = rn.tensor(rng.array(K * (Cin / c.groups) * ks * ks, 0.3), { shape: [K, Cin / c.groups, ks, ks] });
      const cb = c.bias ? rn.tensor(rng.array(K, 0.5), { shape: [K] }) : null;
      const bn = {
        weight: c.affine ? rn.tensor(rng.array(K, 0.3, 1), { shape: [K] }) : null,
        bias: c.affine ? rn.tensor(rng.array(K, 0.5), { shape: [K] }) : null,
        running_mean: rn.tensor(rng.array(K, 0.5), { shape: [K] }),
        running_var: rn.tensor(Float32Array.from(rng.array(K, 0.5), (v) => Math.abs(v) + 0.3), { shape: [K] }),
        eps: 1e-3,
      };
      const conv = { stride: c.stride, padding: c.padding, groups: c.groups };
      const ref = F.batchNorm2d(F.conv2d(x, w, cb, conv), bn.running_mean, bn.running_var, bn.weight, bn.bias, { training: false, eps: bn.eps });
      const folded = F.foldBatchNorm(w, cb, bn);
      expect(folded.weight.shape).toEqual(w.shape);
      expect(folded.bias.shape).toEqual([K]);
      expect(folded.weight.requiresGrad).toBe(false);
      const got = F.conv2d(x, folded.weight, folded.bias, conv);
      expectClose(got.dataSync() as Float32Array, ref.dataSync() as Float32Array, { rtol: 1e-5, label: c.name });
    });
  test('errors', () => {
    const w = rn.randn([4, 3, 3, 3]);
    const v = rn.ones([4]);
    expect(() => F.foldBatchNorm(w, null, { running_mean: rn.zeros([5]), running_var: v })).toThrow('foldBatchNorm: convWeight has 4 output channels but bn.running_mean has shape [5]');
    expect(() => F.foldBatchNorm(w, null, { running_mean: null, running_var: null })).toThrow('foldBatchNorm: bn has no running statistics');
  });
});
