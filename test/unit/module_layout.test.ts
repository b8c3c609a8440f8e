// Module.to(device) and Module.toChannelsLast(): both change parameters and buffers in place (the
// same objects, so optimisers keep working). On a machine without CUDA, to('cuda') must refuse
// before touching anything; the move itself runs in test/gpu/model.gpu.test.ts. Channels-last:
// values unchanged, and a converted resnet20 fed NCHW images runs channels-last end to end and
// computes what the NCHW model computes.
import * as rn from '../../lib';
import { binding } from '../../lib/binding';
import { suggestsChannelsLast } from '../../lib/tensor';
import { withForwardHooks } from '../../lib/nn/hooks';
import { expectClose } from '../helpers/compare';
import { thrown } from '../helpers/thrown';

const F = rn.F;
const values = (t: rn.Tensor) => Float32Array.from(t.contiguous().dataSync() as Float32Array);
const isCL = (t: rn.Tensor) => t.isChannelsLast() && suggestsChannelsLast(t);
function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}
/** exact equality, fast (jest's toEqual on big typed arrays is slow) */
function same(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
function snapshot(m: rn.nn.Module): Map<string, { t: rn.Tensor; v: Float32Array | BigInt64Array; strides: string; device: string }> {
  const out = new Map();
  for (const [k, t] of m.stateDict()) out.set(k, { t, v: t.dtype === 'float32' ? values(t) : (t.dataSync() as BigInt64Array).slice(), strides: t.strides.join(), device: t.device });
  return out;
}

describe('Module.to(device)', () => {
  test("'cpu' on a CPU model is a no-op that returns the model", () => {
    rn.manualSeed(0);
    const m = rn.models.resnet20({ numClasses: 10 });
    const before = snapshot(m);
    const handles = m.parameters().map((p) => p._n);
    expect(m.to('cpu')).toBe(m);
    const after = snapshot(m);
    for (const [k, b] of before) {
      const a = after.get(k)!;
      expect(a.t).toBe(b.t);
      expect(a.device).toBe('cpu');
      expect(a.strides).toBe(b.strides);
      expect(same(a.v, b.v)).toBe(true);
    }
    expect(m.parameters().every((p, i) => p._n === handles[i])).toBe(true);  // not even a copy
  });

  const noCuda = !rn.cuda.isAvailable();
  (noCuda ? test : test.skip)("'cuda' without CUDA throws ERR_RN_NO_CUDA and leaves every tensor on the CPU, untouched", () => {
    rn.manualSeed(0);
    const m = rn.models.resnet20({ numClasses: 10 });
    // gradients too: a half-moved model (or gradient) would be the bug
    F.crossEntropy(m.forward(rn.randn([2, 3, 32, 32])), rn.tensor(Int32Array.from([1, 2]), { shape: [2] })).backward();
    const grads = m.parameters().map((p) => p.grad!);
    const before = snapshot(m);
    for (const d of ['cuda', 'cuda:0']) {
      const e = thrown(() => m.to(d));
      expect(e.code).toBe('ERR_RN_NO_CUDA');
      expect(e.message).toContain(`Module.to: device "${d}" is not available: ${rn.cuda.status()}`);
    }
    const after = snapshot(m);
    for (const [k, b] of before) {
      const a = after.get(k)!;
      expect(a.t).toBe(b.t);
      expect(a.t.isDisposed).toBe(false);
      expect(a.device).toBe('cpu');
      expect(same(a.v, b.v)).toBe(true);
    }
    m.parameters().forEach((p, i) => {
      expect(p.grad).toBe(grads[i]);
      expect(p.grad!.device).toBe('cpu');
    });
  });

  test('a bad device is ERR_RN_DEVICE naming the argument', () => {
    const m = new rn.nn.Linear(2, 2);
    expect(thrown(() => m.to('tpu'))).toEqual({ code: 'ERR_RN_DEVICE', message: 'Expected "cpu" or "cuda" for Module.to(device) but received "tpu" of type string' });
    expect(thrown(() => m.to(3 as unknown as string)).code).toBe('ERR_RN_DEVICE');
    expect(m.weight.device).toBe('cpu');
  });

  test('a copy failing midway moves the tensors already moved back (simulated device)', () => {
    // CUDA is faked as available and each tensor's move is stubbed: this checks Module.to's own
    // logic (order, rollback, the error passed on), not the transfer
    const b = binding() as unknown as { cudaInfo?: () => Record<string, unknown> };
    const had = Object.prototype.hasOwnProperty.call(b, 'cudaInfo');
    const orig = b.cudaInfo;
    b.cudaInfo = () => ({ ...(orig ? orig.call(b) : {}), available: true, status: 'fake', deviceCount: 1, librarySearch: '' });
    try {
      const m = new rn.nn.Sequential(new rn.nn.Conv2d(1, 2, 3), new rn.nn.BatchNorm2d(2));
      const ts = [...new Set([...m.parameters(), ...m.buffers()])];
      const calls: string[] = [];
      const bad = ts[3];
      ts.forEach((t, i) => {
        (t as unknown as { _moveTo_: (d: string) => unknown })._moveTo_ = (d: string) => {
          if (d === t.device) return t;  // as the real one: nothing to do
          if (t === bad && d === 'cuda') throw Object.assign(new Error('out of memory (simulated)'), { code: 'ERR_RN_OOM' });
          calls.push(`${i}->${d}`);
          (t as unknown as { device: string }).device = d;
          return t;
        };
      });
      const e = thrown(() => m.to('cuda'));
      expect(e).toEqual({ code: 'ERR_RN_OOM', message: 'out of memory (simulated)' });
      expect(calls).toEqual(['0->cuda', '1->cuda', '2->cuda', '2->cpu', '1->cpu', '0->cpu']);
      expect(ts.map((t) => t.device)).toEqual(ts.map(() => 'cpu'));
    } finally {
      if (had) b.cudaInfo = orig;
      else delete b.cudaInfo;
    }
  });
});

describe('Module.toChannelsLast()', () => {
  test('4-D parameters and buffers become channels-last in place: same objects, same values', () => {
    rn.manualSeed(0);
    const m = rn.models.resnet20({ numClasses: 10 });
    const x = rn.randn([2, 3, 32, 32]);
    F.crossEntropy(m.forward(x), rn.tensor(Int32Array.from([1, 2]), { shape: [2] })).backward();
    const before = snapshot(m);
    const params = m.parameters();
    const grads = params.map((p) => p.grad!);
    const gradValues = grads.map(values);
    const opt = new rn.optim.SGD(params, { lr: 0.1 });
    expect(m.toChannelsLast()).toBe(m);
    const after = snapshot(m);
    let converted = 0;
    for (const [k, b] of before) {
      const a = after.get(k)!;
      expect(a.t).toBe(b.t);
      expect(same(a.v, b.v)).toBe(true);
      if (a.t.ndim === 4) {
        converted++;
        expect(isCL(a.t)).toBe(true);
        expect(a.t.strides).toEqual([a.t.shape[1] * a.t.shape[2] * a.t.shape[3], 1, a.t.shape[3] * a.t.shape[1], a.t.shape[1]]);
      } else expect(a.strides).toBe(b.strides);
    }
    expect(converted).toBe(19);  // resnet20's convolutions
    params.forEach((p, i) => {
      expect(p.grad).toBe(grads[i]);
      expect(same(values(p.grad!), gradValues[i])).toBe(true);
      if (p.ndim === 4) expect(isCL(p.grad!)).toBe(true);
    });
    expect(opt.paramGroups[0].params.every((p, i) => p === params[i])).toBe(true);
    // idempotent: nothing moves a second time
    const handles = params.map((p) => p._n);
    m.toChannelsLast();
    expect(params.every((p, i) => p._n === handles[i])).toBe(true);
  });

  test('a 1x1 kernel (both layouts at once) gets channels-last strides without a copy', () => {
    const c = new rn.nn.Conv2d(8, 4, 1, { bias: false });
    const v = values(c.weight);
    expect(suggestsChannelsLast(c.weight)).toBe(false);
    c.toChannelsLast();
    expect(c.weight.strides).toEqual([8, 1, 8, 8]);
    expect(suggestsChannelsLast(c.weight)).toBe(true);
    expect(same(values(c.weight), v)).toBe(true);
  });

  test('F.conv2d with a channels-last weight makes an NCHW input channels-last (PyTorch rule)', () => {
    rn.manualSeed(3);
    const x = rn.randn([2, 5, 7, 6]);
    const w = rn.randn([4, 5, 3, 3]);
    const b = rn.randn([4]);
    const ref = F.conv2d(x, w, b, { padding: 1, stride: 2 });
    const wcl = w.toChannelsLast();
    const y = F.conv2d(x, wcl, b, { padding: 1, stride: 2 });
    expect(isCL(ref)).toBe(false);
    expect(isCL(y)).toBe(true);
    expectClose(values(y), values(ref), { rtol: 1e-6, label: 'conv2d channels-last' });
    // gradients are the same whatever the layout
    const xa = x.clone().requiresGrad_();
    const wa = wcl.detach().requiresGrad_();
    F.sum(F.mul(F.conv2d(xa, wa, null, { padding: 1 }), 1.5)).backward();
    const xb = x.clone().requiresGrad_();
    const wb = w.clone().requiresGrad_();
    F.sum(F.mul(F.conv2d(xb, wb, null, { padding: 1 }), 1.5)).backward();
    expectClose(values(xa.grad!), values(xb.grad!), { rtol: 1e-6, label: 'dx' });
    expectClose(values(wa.grad!), values(wb.grad!), { rtol: 1e-6, label: 'dw' });
  });

  test('the ops of a residual network keep a channels-last input channels-last', () => {
    rn.manualSeed(4);
    const x = rn.randn([2, 8, 6, 6]).toChannelsLast();
    const g = rn.rand([8]);
    const b = rn.randn([8]);
    const rm = rn.zeros([8]);
    const rv = rn.ones([8]);
    const outs: [string, rn.Tensor][] = [
      ['conv2d', F.conv2d(x, rn.randn([8, 8, 3, 3]), null, { padding: 1 })],
      ['batchNorm2d', F.batchNorm2d(x, rm, rv, g, b)],
      ['batchNorm2d eval', F.batchNorm2d(x, rm, rv, g, b, { training: false })],
      ['batchNormRelu', F.batchNormRelu(x, rm, rv, g, b)],
      ['batchNormAddRelu', F.batchNormAddRelu(x, x, rm, rv, g, b)],
      ['add', F.add(x, x)],
      ['relu', F.relu(x)],
      ['maxPool2d', F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 })],
      ['avgPool2d', F.avgPool2d(x, { kernelSize: 2 })],
      ['adaptiveAvgPool2d', F.adaptiveAvgPool2d(x, 2)],
      ['pad (option-A shortcut)', F.pad(x.slice(2, 0, undefined, 2).slice(3, 0, undefined, 2), [0, 0, 0, 0, 2, 2])],
    ];
    expect(outs.filter(([, y]) => !isCL(y)).map(([n]) => n)).toEqual([]);
    rn.setFusion(false);
    try {
      expect(isCL(F.batchNormAddRelu(x, x, rm, rv, g, b))).toBe(true);
    } finally {
      rn.setFusion(true);
    }
    // and the values are the NCHW op's
    const xn = x.contiguous();
    expectClose(values(F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 })), values(F.maxPool2d(xn, { kernelSize: 3, stride: 2, padding: 1 })), { rtol: 0 });
    expectClose(values(F.pad(x, [0, 0, 0, 0, 1, 2], 0.5)), values(F.pad(xn, [0, 0, 0, 0, 1, 2], 0.5)), { rtol: 0 });
  });

  function resnetStep(m: rn.nn.Module, x: rn.Tensor, y: rn.Tensor, hook?: (name: string, out: rn.Tensor) => void) {
    const logits = hook
      ? withForwardHooks(m, (n) => n !== '', (name, _mod, args, next) => {
        const o = next(args);
        hook(name, o);
        return o;
      }, () => m.forward(x))
      : m.forward(x);
    const loss = F.crossEntropy(logits, y);
    loss.backward();
    const out = {
      logits: values(logits),
      loss: loss.itemSync(),
      grads: m.parameters().map((p) => values(p.grad!)),
      buffers: m.buffers().filter((b) => b.dtype === 'float32').map(values),
    };
    m.zeroGrad();
    return out;
  }

  test('resnet20: eval mode gives the same logits and gradients (1e-5), activations channels-last', () => {
    rn.manualSeed(0);
    const m = rn.models.resnet20({ numClasses: 10 });
    rn.noGrad(() => m.forward(rn.randn([8, 3, 32, 32])));  // running statistics that are not 0 / 1
    m.eval();
    const x = rn.randn([4, 3, 32, 32]);
    const y = rn.tensor(Int32Array.from([3, 1, 4, 1]), { shape: [4] });
    const ref = resnetStep(m, x, y);
    const params = m.parameters();
    m.toChannelsLast();
    expect(m.parameters().every((p, i) => p === params[i])).toBe(true);
    const layouts: string[] = [];
    const got = resnetStep(m, x, y, (name, o) => {
      if (o.ndim === 4 && o.shape[2] * o.shape[3] > 1 && !isCL(o)) layouts.push(`${name} [${o.strides}]`);
    });
    expect(layouts).toEqual([]);  // every 4-D activation the modules return (the 1x1 pool output is both)
    expect(got.loss).toBeCloseTo(ref.loss, 5);
    expectClose(got.logits, ref.logits, { rtol: 1e-5, label: 'logits' });
    const names = [...m.namedParameters()].map(([n]) => n);
    got.grads.forEach((g, i) => expectClose(g, ref.grads[i], { rtol: 1e-5, label: `grad ${names[i]}` }));
  });

  test('resnet20: training mode (batch statistics) agrees too; an SGD step on channels-last weights', () => {
    rn.manualSeed(1);
    const m = rn.models.resnet20({ numClasses: 10 });
    const x = rn.randn([4, 3, 32, 32]);
    const y = rn.tensor(Int32Array.from([0, 9, 2, 7]), { shape: [4] });
    const ref = resnetStep(m, x, y);
    // the same initial model, converted (the reference step updated m's running statistics)
    rn.manualSeed(1);
    const m3 = rn.models.resnet20({ numClasses: 10 });
    m3.toChannelsLast();
    const got = resnetStep(m3, x, y);
    expect(got.loss).toBeCloseTo(ref.loss, 5);
    expectClose(got.logits, ref.logits, { rtol: 1e-5, label: 'logits' });
    got.buffers.forEach((b, i) => expectClose(b, ref.buffers[i], { rtol: 1e-5, label: `buffer ${i}` }));
    // Batch statistics couple every element of a channel, and a pre-activation within float32
    // rounding of 0 may land on the other side of a ReLU in the other layout (its gradient then
    // differs by the whole upstream gradient): compare directions, which one such element barely
    // moves (eval mode above holds every gradient to 1e-5).
    const names = [...m3.namedParameters()].map(([n]) => n);
    const bad = got.grads.map((g, i) => [names[i], cosine(g, ref.grads[i])] as const).filter(([, c]) => !(c > 0.999));
    expect(bad).toEqual([]);
    // an optimiser step on channels-last parameters with contiguous gradients
    const params = m3.parameters();
    const before = params.map(values);
    const opt = new rn.optim.SGD(params, { lr: 0.1, momentum: 0.9 });
    F.crossEntropy(m3.forward(x), y).backward();
    const grads = params.map((p) => values(p.grad!));
    opt.step();
    params.forEach((p, i) => {
      if (p.ndim === 4) expect(isCL(p)).toBe(true);
      const want = before[i].map((v, j) => v - 0.1 * grads[i][j]);
      expectClose(values(p), want, { rtol: 1e-6, label: `updated ${names[i]}` });
    });
  });
});
