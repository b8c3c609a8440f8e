/**
 * rn.nn blocks: shapes, state-dict names, the equations each block implements, and
 * finite-difference gradient checks on small configurations (test/helpers/gradcheck.ts).
 * PyTorch parity of whole networks built from these blocks is in test/parity/models.parity.test.ts.
 */
import * as rn from '../../lib';
import { checkGradients, moduleLeaves } from '../helpers/gradcheck';
import { expectClose } from '../helpers/compare';

const { nn, F } = rn;
type T = rn.Tensor;

/** The data as a Float32Array of this realm (arrays made by the addon belong to Node's main realm; under jest, indexing those is ~25x slower). */
const f32 = (t: T) => {
  const d = t.dataSync() as Float32Array;
  return new Float32Array(d.buffer, d.byteOffset, d.length);
};
const keys = (m: rn.nn.Module) => [...m.stateDict().keys()];
const bnKeys = (p: string) => ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map((k) => `${p}.${k}`);
const leaf = (shape: number[]) => rn.randn(shape, { requiresGrad: true });

beforeEach(() => rn.manualSeed(7));

describe('shortcuts', () => {
  test('option A: x[:, :, ::2, ::2] with the channels zero-padded by (out - in) / 2 on each side', () => {
    const x = rn.arange(2 * 4 * 6 * 6).reshape([2, 4, 6, 6]);
    const sc = new nn.ShortcutA(4, 8, 2);
    const y = sc.forward(x);
    expect(y.shape).toEqual([2, 8, 3, 3]);
    const xd = f32(x);
    const yd = f32(y);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 8; c++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 3; j++) {
            const got = yd[((n * 8 + c) * 3 + i) * 3 + j];
            const want = c < 2 || c >= 6 ? 0 : xd[((n * 4 + (c - 2)) * 6 + 2 * i) * 6 + 2 * j];
            if (got !== want) throw new Error(`y[${n},${c},${i},${j}] = ${got}, expected ${want}`);
          }
    expect(sc.numParameters()).toBe(0);
    expect(keys(sc)).toEqual([]);
    // the CIFAR case: 16 -> 32 pads planes / 4 = 8 on each side, as the PyTorch reproduction
    expect(new nn.ShortcutA(16, 32).pad).toBe(8);
    expect(new nn.ShortcutA(32, 64).pad).toBe(16);
  });

  test('option B: 1x1 conv (stride) + BN registered as downsample.0 / downsample.1', () => {
    const b = new nn.BasicBlock(16, 32, { stride: 2, shortcut: 'B' });
    expect(keys(b)).toEqual([
      'conv1.weight', ...bnKeys('bn1'), 'conv2.weight', ...bnKeys('bn2'), 'downsample.0.weight', ...bnKeys('downsample.1'),
    ]);
    const conv = (b.downsample as rn.nn.Sequential).at(0) as rn.nn.Conv2d;
    expect(conv.weight.shape).toEqual([32, 16, 1, 1]);
    expect(conv.opts.stride).toBe(2);
    const a = new nn.BasicBlock(16, 32, { stride: 2, shortcut: 'A' });
    expect(a.downsample).toBeInstanceOf(nn.ShortcutA);
    expect(b.numParameters() - a.numParameters()).toBe(16 * 32 + 2 * 32);
    expect(new nn.BasicBlock(16, 16).downsample).toBeNull();
    expect(() => nn.makeShortcut('C' as 'A', 16, 32, 2)).toThrow(/Expected "A" or "B" for shortcut/);
  });
});

describe('BasicBlock', () => {
  test('names, parameter count and shapes', () => {
    const b = new nn.BasicBlock(16, 16);
    expect(keys(b)).toEqual(['conv1.weight', ...bnKeys('bn1'), 'conv2.weight', ...bnKeys('bn2')]);
    expect(b.numParameters()).toBe(2 * 16 * 16 * 9 + 4 * 16);
    expect(b.forward(rn.randn([2, 16, 8, 8])).shape).toEqual([2, 16, 8, 8]);
    expect(new nn.BasicBlock(16, 32, { stride: 2, shortcut: 'A' }).forward(rn.randn([2, 16, 8, 8])).shape).toEqual([2, 32, 4, 4]);
    expect(b.blockKind).toBe('residual');
  });

  test('computes relu(bn2(conv2(relu(bn1(conv1(x))))) + x)', () => {
    const b = new nn.BasicBlock(4, 4).eval();
    for (const bn of [b.bn1, b.bn2]) {
      bn.running_mean!.copyFrom(rn.randn([4], { std: 0.1 }));
      bn.weight!.copyFrom(rn.rand([4], { low: 0.5, high: 1.5 }));
    }
    const x = rn.randn([2, 4, 5, 5]);
    const ref = F.relu(F.add(b.bn2.forward(b.conv2.forward(F.relu(b.bn1.forward(b.conv1.forward(x))))), x));
    expectClose(f32(b.forward(x)), f32(ref), { rtol: 1e-6, label: 'BasicBlock' });
    // an all-zero residual branch leaves relu(x): the identity is the default
    b.bn2.weight!.fill(0);
    b.bn2.bias!.fill(0);
    expectClose(f32(b.forward(x)), f32(F.relu(x)), { rtol: 0, label: 'identity' });
  });

  test('gradients (stride 1, stride 2 option A, stride 2 option B)', () => {
    for (const [o, cin, cout] of [[{}, 4, 4], [{ stride: 2, shortcut: 'A' as const }, 4, 8], [{ stride: 2, shortcut: 'B' as const }, 4, 8]] as const) {
      const b = new nn.BasicBlock(cin, cout, o);
      const x = leaf([2, cin, 6, 6]);
      checkGradients(moduleLeaves(b, x), () => b.forward(x));
    }
  });
});

describe('Bottleneck', () => {
  test('expansion 4, stride on the 3x3 (v1.5), width from groups and base width', () => {
    const b = new nn.Bottleneck(64, 64, { stride: 2 });
    expect(nn.Bottleneck.expansion).toBe(4);
    expect(b.conv1.opts.stride).toBe(1);
    expect(b.conv2.opts.stride).toBe(2);
    expect(b.conv3.weight.shape).toEqual([256, 64, 1, 1]);
    expect(keys(b)).toEqual([
      'conv1.weight', ...bnKeys('bn1'), 'conv2.weight', ...bnKeys('bn2'), 'conv3.weight', ...bnKeys('bn3'),
      'downsample.0.weight', ...bnKeys('downsample.1'),
    ]);
    expect(b.forward(rn.randn([1, 64, 8, 8])).shape).toEqual([1, 256, 4, 4]);
    // ResNeXt 32x4d: width = floor(64 * 4 / 64) * 32 = 128, grouped 3x3
    const x = new nn.Bottleneck(256, 64, { groups: 32, baseWidth: 4 });
    expect(x.width).toBe(128);
    expect(x.conv2.weight.shape).toEqual([128, 4, 3, 3]);
    expect(x.downsample).toBeNull();
    // Wide ResNet-50-2: base width 128 doubles the inner width
    expect(new nn.Bottleneck(256, 64, { baseWidth: 128 }).width).toBe(128);
  });

  test('gradients (grouped, strided, projection shortcut)', () => {
    const b = new nn.Bottleneck(8, 4, { stride: 2, groups: 2, baseWidth: 64 });
    const x = leaf([2, 8, 6, 6]);
    checkGradients(moduleLeaves(b, x), () => b.forward(x));
  });
});

describe('pre-activation blocks', () => {
  test('PreActBlock: BN-ReLU before each conv, clean identity after the addition', () => {
    const b = new nn.PreActBlock(8, 8);
    expect(keys(b)).toEqual([...bnKeys('bn1'), 'conv1.weight', ...bnKeys('bn2'), 'conv2.weight']);
    const x = rn.randn([2, 8, 4, 4]);
    expect(b.forward(x).shape).toEqual([2, 8, 4, 4]);
    b.conv2.weight.fill(0); // zero branch: y = x exactly (no ReLU after the addition)
    expectClose(f32(b.forward(x)), f32(x), { rtol: 0, label: 'identity path' });
    const d = new nn.PreActBlock(8, 16, { stride: 2 });
    expect(keys(d).filter((k) => k.startsWith('downsample'))).toEqual(['downsample.0.weight']);
    expect(d.forward(x).shape).toEqual([2, 16, 2, 2]);
  });

  test('PreActBottleneck: expansion 4, stride on the 3x3', () => {
    const b = new nn.PreActBottleneck(16, 16, { stride: 2 });
    expect(b.conv2.opts.stride).toBe(2);
    expect(b.forward(rn.randn([2, 16, 4, 4])).shape).toEqual([2, 64, 2, 2]);
  });

  test('gradients', () => {
    const a = new nn.PreActBlock(4, 8, { stride: 2 });
    const x = leaf([2, 4, 6, 6]);
    checkGradients(moduleLeaves(a, x), () => a.forward(x));
    const b = new nn.PreActBottleneck(8, 2);
    const y = leaf([2, 8, 4, 4]);
    checkGradients(moduleLeaves(b, y), () => b.forward(y));
  });
});

describe('PlainBlock', () => {
  test('the basic block without its skip', () => {
    const p = new nn.PlainBlock(8, 16, 2);
    expect(keys(p)).toEqual(['conv1.weight', ...bnKeys('bn1'), 'conv2.weight', ...bnKeys('bn2')]);
    expect(p.blockKind).toBe('plain');
    const x = rn.randn([2, 8, 6, 6]);
    expect(p.forward(x).shape).toEqual([2, 16, 3, 3]);
    // same parameters as an option-A basic block
    expect(p.numParameters()).toBe(new nn.BasicBlock(8, 16, { stride: 2, shortcut: 'A' }).numParameters());
    const q = new nn.PlainBlock(8, 8).eval();
    q.bn2.weight!.fill(0);
    const y = f32(q.forward(x));
    expect(y.every((v) => v === 0)).toBe(true); // nothing carries x past a zero branch
  });

  test('gradients', () => {
    const p = new nn.PlainBlock(4, 8, 2);
    const x = leaf([2, 4, 6, 6]);
    checkGradients(moduleLeaves(p, x), () => p.forward(x));
  });
});

describe('MultiheadAttention and PatchEmbedding', () => {
  test("torch's parameter names and shapes", () => {
    const a = new nn.MultiheadAttention(16, 4);
    expect(keys(a)).toEqual(['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
    expect(a.in_proj_weight.shape).toEqual([48, 16]);
    expect(f32(a.in_proj_bias!).every((v) => v === 0)).toBe(true);
    expect(a.forward(rn.randn([2, 5, 16])).shape).toEqual([2, 5, 16]);
    expect(a.forward(rn.randn([2, 3, 16]), rn.randn([2, 7, 16]), rn.randn([2, 7, 16])).shape).toEqual([2, 3, 16]);
    expect(() => new nn.MultiheadAttention(16, 5)).toThrow(/dividing embedDim 16/);
    expect(() => a.forward(rn.randn([2, 5, 8]))).toThrow(/expected query of shape \[batch, length, 16\]/);
  });

  test('a causal mask hides later positions', () => {
    const x = rn.randn([1, 6, 8]);
    const x2d = Float32Array.from(f32(x));
    for (let i = 4 * 8; i < 6 * 8; i++) x2d[i] += 1; // change positions 4 and 5
    const x2 = rn.tensor(x2d, { shape: [1, 6, 8] });
    for (const causal of [true, false]) {
      rn.manualSeed(3);
      const a = new nn.MultiheadAttention(8, 2, { causal });
      const y1 = f32(a.forward(x));
      const y2 = f32(a.forward(x2));
      let maxEarly = 0;
      for (let i = 0; i < 4 * 8; i++) maxEarly = Math.max(maxEarly, Math.abs(y1[i] - y2[i]));
      if (causal) expect(maxEarly).toBe(0);
      else expect(maxEarly).toBeGreaterThan(1e-3);
    }
  });

  test('gradients (self-attention with a causal mask, cross-attention)', () => {
    const a = new nn.MultiheadAttention(8, 2, { causal: true });
    const x = leaf([2, 4, 8]);
    checkGradients(moduleLeaves(a, x), () => a.forward(x));
    const c = new nn.MultiheadAttention(8, 2);
    const q = leaf([2, 3, 8]);
    const kv = leaf([2, 5, 8]);
    checkGradients([['kv', kv], ...moduleLeaves(c, q)], () => c.forward(q, kv, kv));
  });

  test('PatchEmbedding: a conv with stride = patch size, then tokens [B, N, E]', () => {
    const p = new nn.PatchEmbedding(3, 12, 4);
    expect(keys(p)).toEqual(['proj.weight', 'proj.bias']);
    expect(p.proj.opts.stride).toBe(4);
    const x = rn.randn([2, 3, 16, 16]);
    const y = p.forward(x);
    expect(y.shape).toEqual([2, 16, 12]);
    expect(p.numPatches(16)).toBe(16);
    // token n of image b is the conv output at patch n
    const c = f32(p.proj.forward(x)); // [2, 12, 4, 4]
    const yd = f32(y);
    for (let b = 0; b < 2; b++) for (let n = 0; n < 16; n++) for (let e = 0; e < 12; e++) {
      if (yd[(b * 16 + n) * 12 + e] !== c[(b * 12 + e) * 16 + n]) throw new Error(`token mismatch at ${b},${n},${e}`);
    }
  });
});

describe('TransformerBlock', () => {
  test('pre-norm layout, names and parameter count (12 d^2 + 13 d)', () => {
    const t = new nn.TransformerBlock(16, 4);
    expect(keys(t)).toEqual([
      'norm1.weight', 'norm1.bias', 'attn.in_proj_weight', 'attn.in_proj_bias', 'attn.out_proj.weight', 'attn.out_proj.bias',
      'norm2.weight', 'norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias',
    ]);
    expect(t.mlp.fc1.weight.shape).toEqual([64, 16]);
    expect(t.numParameters()).toBe(12 * 16 * 16 + 13 * 16);
    const x = rn.randn([2, 5, 16]);
    expect(t.forward(x).shape).toEqual([2, 5, 16]);
    // both residual branches closed: the block is the identity
    for (const l of [t.attn.out_proj, t.mlp.fc2]) {
      l.weight.fill(0);
      l.bias!.fill(0);
    }
    expectClose(f32(t.forward(x)), f32(x), { rtol: 0, label: 'identity' });
  });

  test('gradients (causal)', () => {
    const t = new nn.TransformerBlock(8, 2, { causal: true });
    for (const [, p] of t.namedParameters()) if (p.shape.length === 1) p.copyFrom(rn.randn(p.shape, { std: 0.1 }).add(p));
    const x = leaf([2, 4, 8]);
    checkGradients(moduleLeaves(t, x), () => t.forward(x));
  });
});

describe('HighwayBlock', () => {
  test('y = H(x) T(x) + x C(x), gate-bias initialisation', () => {
    const h = new nn.HighwayBlock(6);
    expect(keys(h)).toEqual(['h.weight', 'h.bias', 'transform.weight', 'transform.bias']);
    expect(f32(h.transform.bias!).every((v) => v === -2)).toBe(true);
    const x = rn.randn([3, 6]);
    const T = F.sigmoid(h.transform.forward(x));
    const ref = F.add(F.mul(F.relu(h.h.forward(x)), T), F.mul(x, F.sub(1, T)));
    expectClose(f32(h.forward(x)), f32(ref), { rtol: 1e-6, label: 'coupled' });

    const u = new nn.HighwayBlock(6, { coupled: false, gateBias: -3 });
    expect(keys(u)).toEqual(['h.weight', 'h.bias', 'transform.weight', 'transform.bias', 'carry.weight', 'carry.bias']);
    expect(f32(u.carry!.bias!).every((v) => v === 3)).toBe(true);
    const T2 = F.sigmoid(u.transform.forward(x));
    const C2 = F.sigmoid(u.carry!.forward(x));
    expectClose(f32(u.forward(x)), f32(F.add(F.mul(F.relu(u.h.forward(x)), T2), F.mul(x, C2))), { rtol: 1e-6, label: 'uncoupled' });

    // a strongly negative transform bias holds the carry gate open: the layer passes x through
    const open = new nn.HighwayBlock(6, { gateBias: -30 });
    expectClose(f32(open.forward(x)), f32(x), { rtol: 1e-6, label: 'carry open' });
  });

  test('gradients (coupled and uncoupled)', () => {
    for (const coupled of [true, false]) {
      const h = new nn.HighwayBlock(5, { coupled, gateBias: -0.5 });
      const x = leaf([4, 5]);
      checkGradients(moduleLeaves(h, x), () => h.forward(x));
    }
  });
});

describe('DenseBlock and Transition', () => {
  test('concatenation, growth rate, BN-ReLU-1x1 bottleneck, compression', () => {
    const d = new nn.DenseBlock(3, 8, 4);
    expect(d.outChannels).toBe(20);
    expect(keys(d).slice(0, 12)).toEqual([
      ...bnKeys('denselayer1.norm1'), 'denselayer1.conv1.weight', ...bnKeys('denselayer1.norm2'), 'denselayer1.conv2.weight',
    ]);
    const l3 = d._modules.get('denselayer3') as rn.nn.DenseLayer;
    expect(l3.conv1.weight.shape).toEqual([16, 16, 1, 1]); // in 8 + 2k, bottleneck 4k
    expect(l3.conv2.weight.shape).toEqual([4, 16, 3, 3]);
    const x = rn.randn([2, 8, 6, 6]);
    const y = d.forward(x);
    expect(y.shape).toEqual([2, 20, 6, 6]);
    // the block's input is carried unchanged in the first channels
    const yd = f32(y);
    const xd = f32(x);
    for (let n = 0; n < 2; n++) for (let i = 0; i < 8 * 36; i++) if (yd[n * 20 * 36 + i] !== xd[n * 8 * 36 + i]) throw new Error('input not concatenated');
    const t = new nn.Transition(20, 10);
    expect(keys(t)).toEqual([...bnKeys('norm'), 'conv.weight']);
    expect(t.forward(y).shape).toEqual([2, 10, 3, 3]);
  });

  test('gradients', () => {
    const d = new nn.DenseBlock(2, 4, 3, 2);
    const t = new nn.Transition(10, 5);
    const x = leaf([2, 4, 4, 4]);
    checkGradients([...moduleLeaves(d, x), ...t.namedParameters()], () => t.forward(d.forward(x)));
  });
});

describe('DropPath', () => {
  test('drops whole samples in training, scales survivors by 1/(1-p), identity in eval', () => {
    const dp = new nn.DropPath(0.5);
    const x = rn.ones([64, 3, 2, 2]);
    const y = f32(dp.forward(x));
    let dropped = 0;
    for (let n = 0; n < 64; n++) {
      const s = y.subarray(n * 12, n * 12 + 12);
      const v = s[0];
      expect(v === 0 || v === 2).toBe(true);
      expect(s.every((e) => e === v)).toBe(true);
      if (v === 0) dropped++;
    }
    expect(dropped).toBeGreaterThan(16);
    expect(dropped).toBeLessThan(48);
    dp.eval();
    expect(dp.forward(x)).toBe(x);
    expect(new nn.DropPath(0).forward(x)).toBe(x);
    expect(() => new nn.DropPath(1.5)).toThrow(/probability/);
  });

  test('linear decay of the drop rate / survival probability over depth', () => {
    expect(nn.linearDropPathRates(5, 0.2).map((v) => +v.toFixed(6))).toEqual([0, 0.05, 0.1, 0.15, 0.2]);
    expect(nn.linearDropPathRates(1, 0.2)).toEqual([0]);
    expect(nn.linearSurvivalProbabilities(4, 0.5)).toEqual([0.875, 0.75, 0.625, 0.5]);
  });

  test('in a residual block: a dropped sample keeps only the identity path', () => {
    const b = new nn.BasicBlock(4, 4, { dropPath: 0.5 });
    expect(keys(b)).toEqual(new nn.BasicBlock(4, 4).stateDict().size ? keys(new nn.BasicBlock(4, 4)) : []);
    const x = rn.randn([16, 4, 3, 3]);
    const y = f32(b.forward(x));
    const relu = f32(F.relu(x));
    let same = 0;
    for (let n = 0; n < 16; n++) {
      let eq = true;
      for (let i = 0; i < 36; i++) if (y[n * 36 + i] !== relu[n * 36 + i]) eq = false;
      if (eq) same++;
    }
    expect(same).toBeGreaterThan(0);
    expect(same).toBeLessThan(16);
  });

  test('gradients (same mask for every evaluation)', () => {
    const b = new nn.BasicBlock(4, 4, { dropPath: 0.5 });
    const x = leaf([4, 4, 4, 4]);
    const state = rn.getRngState();
    checkGradients(moduleLeaves(b, x), () => b.forward(x), { before: () => rn.setRngState(state) });
  });
});

describe('train/eval, zeroGrad, to', () => {
  test('mode propagates to every submodule; zeroGrad drops gradients', () => {
    const t = new nn.TransformerBlock(8, 2, { dropPath: 0.1 });
    t.eval();
    expect(t.modules().every((m) => !m.training)).toBe(true);
    t.train();
    expect(t.modules().every((m) => m.training)).toBe(true);
    const x = rn.randn([2, 3, 8]);
    rn.sum(t.forward(x)).backward();
    expect(t.parameters().every((p) => p.grad !== null)).toBe(true);
    t.zeroGrad();
    expect(t.parameters().every((p) => p.grad === null)).toBe(true);
    expect(t.to('cpu')).toBe(t);
  });
});
