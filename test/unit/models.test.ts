/**
 * rn.models: state-dict names / shapes / dtypes / order against torchvision's (from the committed
 * test/fixtures/models/torchvision_keys.json, made by make_model_fixtures.py), published
 * parameter counts, initialisation, numClasses / inChannels, forward and backward on CPU, the
 * safetensors round trip of a state dict, and the summary. Numerical parity with PyTorch is in
 * test/parity/models.parity.test.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as rn from '../../lib';
import { checkGradients, moduleLeaves } from '../helpers/gradcheck';

const { models, nn } = rn;
type T = rn.Tensor;
type Model = rn.nn.Module;

interface KeysEntry {
  numParameters: number;
  stateDict: [string, number[], string][];
}
const KEYS: Record<string, KeysEntry> = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'models', 'torchvision_keys.json'), 'utf8'));

/** The data as a Float32Array of this realm (arrays made by the addon belong to Node's main realm; under jest, indexing those is ~25x slower). */
const f32 = (t: T) => {
  const d = t.dataSync() as Float32Array;
  return new Float32Array(d.buffer, d.byteOffset, d.length);
};
const DT: Record<string, string> = { float32: 'float32', int64: 'int64' };

function stateList(m: Model): [string, number[], string][] {
  return [...m.stateDict()].map(([k, t]) => [k, t.shape.slice(), DT[t.dtype] ?? t.dtype]);
}
function free(m: Model): void {
  for (const t of m.stateDict().values()) t.dispose();
}
function expectSameState(m: Model, ref: KeysEntry, label: string): void {
  const got = stateList(m);
  if (got.length !== ref.stateDict.length) throw new Error(`${label}: ${got.length} state-dict entries, torch has ${ref.stateDict.length}`);
  got.forEach(([k, s, d], i) => {
    const [rk, rs, rd] = ref.stateDict[i];
    if (k !== rk || s.join() !== rs.join() || d !== rd)
      throw new Error(`${label}: entry ${i} is ${k} [${s}] ${d} but torch has ${rk} [${rs}] ${rd}`);
  });
  expect(m.numParameters()).toBe(ref.numParameters);
}
function std(d: Float32Array): number {
  let s = 0;
  let s2 = 0;
  for (const v of d) {
    s += v;
    s2 += v * v;
  }
  const m = s / d.length;
  return Math.sqrt(s2 / d.length - m * m);
}
function trainStep(m: Model, x: T, numClasses: number): T {
  const y = m.forward(x);
  const labels = rn.tensor(Int32Array.from({ length: x.shape[0] }, (_, i) => i % numClasses));
  const loss = rn.F.crossEntropy(y, labels);
  loss.backward();
  return y;
}

beforeEach(() => rn.manualSeed(0));

describe('torchvision ResNets', () => {
  test('resnet18 and resnet50: the published parameter counts, torchvision names, shapes, dtypes and order', () => {
    const r18 = models.resnet18();
    expect(r18.numParameters()).toBe(11_689_512);
    expectSameState(r18, KEYS.resnet18, 'resnet18');
    expect(r18.stateDict().get('layer2.0.downsample.0.weight')!.shape).toEqual([128, 64, 1, 1]);
    expect(r18.stateDict().get('bn1.num_batches_tracked')!.dtype).toBe('int64');
    free(r18);
    const r50 = models.resnet50();
    expect(r50.numParameters()).toBe(25_557_032);
    expectSameState(r50, KEYS.resnet50, 'resnet50');
    free(r50);
  });

  test.each(['resnet34', 'resnet101', 'resnet152', 'wide_resnet50_2', 'resnext50_32x4d'] as const)('%s matches torchvision', (arch) => {
    const m = models[arch]();
    expectSameState(m, KEYS[arch], arch);
    free(m);
  });

  test('forward and backward on CPU (resnet18 and resnet50 train; resnet34, resnext50 forward)', () => {
    const x = rn.randn([2, 3, 32, 32]);
    for (const f of [models.resnet18, models.resnet50]) {
      const m = f({ numClasses: 10 });
      const y = trainStep(m, x, 10);
      expect(y.shape).toEqual([2, 10]);
      expect(m.parameters().every((p) => p.grad && p.grad.shape.join() === p.shape.join())).toBe(true);
      free(m);
    }
    for (const f of [models.resnet34, models.resnext50_32x4d]) {
      const m = f({ numClasses: 5 }).eval();
      expect(rn.noGrad(() => m.forward(x)).shape).toEqual([2, 5]);
      free(m);
    }
  });

  test('initialisation: kaiming-normal fan_out convs, BN 1/0, Linear uniform; seeded', () => {
    const m = models.resnet18();
    const w = f32(m.layer4.at(1) instanceof nn.BasicBlock ? (m.layer4.at(1) as rn.nn.BasicBlock).conv1.weight : m.conv1.weight);
    // fan_out = 512 * 9: std sqrt(2 / 4608)
    expect(std(w) / Math.sqrt(2 / 4608)).toBeGreaterThan(0.98);
    expect(std(w) / Math.sqrt(2 / 4608)).toBeLessThan(1.02);
    expect(std(f32(m.conv1.weight)) / Math.sqrt(2 / (64 * 49))).toBeCloseTo(1, 1);
    expect(f32(m.bn1.weight!).every((v) => v === 1)).toBe(true);
    expect(f32(m.bn1.bias!).every((v) => v === 0)).toBe(true);
    const fc = f32(m.fc.weight);
    const bound = 1 / Math.sqrt(512);
    let amax = 0;
    for (const v of fc) amax = Math.max(amax, Math.abs(v));
    expect(amax).toBeLessThanOrEqual(bound);
    expect(amax).toBeGreaterThan(0.99 * bound);
    rn.manualSeed(0);
    const again = models.resnet18();
    expect(f32(again.conv1.weight)).toEqual(f32(m.conv1.weight)); // small (9408 floats)
    rn.manualSeed(1);
    expect(f32(models.resnet18().conv1.weight)[0]).not.toBe(f32(m.conv1.weight)[0]);
  });

  test('zeroInitResidual zeroes the last BN of every residual branch', () => {
    const m18 = models.resnet18({ zeroInitResidual: true, numClasses: 10 });
    for (const [k, t] of m18.namedParameters()) {
      if (/^layer\d\.\d\.bn2\.weight$/.test(k)) expect(f32(t).every((v) => v === 0)).toBe(true);
      if (/^layer\d\.\d\.bn1\.weight$/.test(k)) expect(f32(t).every((v) => v === 1)).toBe(true);
    }
    const m50 = models.resnet50({ zeroInitResidual: true, numClasses: 10 });
    const bn3 = [...m50.namedParameters()].filter(([k]) => /bn3\.weight$/.test(k));
    expect(bn3.length).toBe(16);
    expect(bn3.every(([, t]) => f32(t).every((v) => v === 0))).toBe(true);
    free(m18);
    free(m50);
  });
});

describe('CIFAR ResNets', () => {
  const PUBLISHED: [keyof typeof models, number, number][] = [
    ['resnet20', 0.27e6, 269_722],
    ['resnet32', 0.46e6, 464_154],
    ['resnet44', 0.66e6, 658_586],
    ['resnet56', 0.85e6, 853_018],
    ['resnet110', 1.7e6, 1_727_962],
  ];
  test.each(PUBLISHED)('%s: %d parameters (paper), names as torchvision, option A and B', (arch, paper, exact) => {
    const m = (models[arch] as (o?: object) => Model)();
    expect(m.numParameters()).toBe(exact);
    expect(Math.abs(m.numParameters() - paper) / paper).toBeLessThan(0.02);
    const depth = Number(String(arch).slice(6));
    expectSameState(m, KEYS[`cifar_resnet${depth}_A`], `${arch} option A`);
    const b = (models[arch] as (o?: object) => Model)({ shortcut: 'B' });
    expectSameState(b, KEYS[`cifar_resnet${depth}_B`], `${arch} option B`);
    expect([...b.stateDict().keys()]).toContain('layer2.0.downsample.0.weight');
    expect([...b.stateDict().keys()]).toContain('layer3.0.downsample.1.num_batches_tracked');
  });

  test('resnet1202: 19.4M parameters, one tiny forward', () => {
    const m = models.resnet1202();
    expect(m.numParameters()).toBe(19_421_274);
    expect(Math.abs(m.numParameters() - 19.4e6) / 19.4e6).toBeLessThan(0.01);
    expect(rn.noGrad(() => m.eval().forward(rn.randn([1, 3, 8, 8]))).shape).toEqual([1, 10]);
    free(m);
  });

  test('forward, backward, numClasses and inChannels (MNIST-like input)', () => {
    const m = models.resnet20({ numClasses: 7, inChannels: 1 });
    expect(m.conv1.weight.shape).toEqual([16, 1, 3, 3]);
    expect(m.fc.weight.shape).toEqual([7, 64]);
    const y = trainStep(m, rn.randn([4, 1, 28, 28]), 7);
    expect(y.shape).toEqual([4, 7]);
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    const b = models.resnet20({ shortcut: 'B' });
    expect(trainStep(b, rn.randn([2, 3, 32, 32]), 10).shape).toEqual([2, 10]);
  });

  test('plain20 / plain56: the same layers and counts as the option-A ResNets, no shortcuts', () => {
    for (const [p, r] of [[models.plain20(), models.resnet20()], [models.plain56(), models.resnet56()]] as const) {
      expect(p.numParameters()).toBe(r.numParameters());
      expect([...p.stateDict().keys()]).toEqual([...r.stateDict().keys()]);
      expect(p.modules().some((m) => m instanceof nn.BasicBlock)).toBe(false);
      expect(p.modules().filter((m) => m instanceof nn.PlainBlock).length).toBe(r.modules().filter((m) => m instanceof nn.BasicBlock).length);
    }
    const p = models.plain20({ inChannels: 1, numClasses: 3 });
    expect(trainStep(p, rn.randn([2, 1, 16, 16]), 3).shape).toEqual([2, 3]);
  });
});

describe('other models', () => {
  test('preactResnet18 and preactResnet164 (1.7M parameters)', () => {
    const p18 = models.preactResnet18();
    expect(p18.numParameters()).toBe(11_172_170);
    expect([...p18.stateDict().keys()].slice(0, 7)).toEqual([
      'conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias', 'layer1.0.bn1.running_mean', 'layer1.0.bn1.running_var',
      'layer1.0.bn1.num_batches_tracked', 'layer1.0.conv1.weight',
    ]);
    expect(trainStep(p18, rn.randn([2, 3, 16, 16]), 10).shape).toEqual([2, 10]);
    free(p18);
    const p164 = models.preactResnet164({ numClasses: 100 });
    expect(p164.numParameters()).toBe(1_703_258 + 100 * 256 - 10 * 256 + 90);
    expect(p164.modules().filter((m) => m instanceof nn.PreActBottleneck).length).toBe(54);
    expect(trainStep(p164, rn.randn([2, 3, 8, 8]), 100).shape).toEqual([2, 100]);
  });

  test('DenseNet-BC (L=100, k=12): 0.8M parameters, torchvision names', () => {
    const d = models.densenetBC100();
    expect(d.numParameters()).toBe(769_162);
    const keys = [...d.stateDict().keys()];
    expect(keys[0]).toBe('features.conv0.weight');
    expect(keys).toContain('features.denseblock1.denselayer16.conv2.weight');
    expect(keys).toContain('features.transition2.conv.weight');
    expect(keys).toContain('features.norm5.running_var');
    expect(keys[keys.length - 1]).toBe('classifier.bias');
    expect(d.stateDict().get('features.transition1.conv.weight')!.shape).toEqual([108, 216, 1, 1]);
    expect(trainStep(d, rn.randn([2, 3, 8, 8]), 10).shape).toEqual([2, 10]);
    const g = models.densenetBC({ depth: 40, growthRate: 12, inChannels: 1, numClasses: 4 });
    expect(g.forward(rn.randn([2, 1, 8, 8])).shape).toEqual([2, 4]);
  });

  test('ViT-style transformer classifier', () => {
    const v = models.vit({ imageSize: 16, patchSize: 4, dim: 32, depth: 2, heads: 4, numClasses: 5, inChannels: 1 });
    const keys = [...v.stateDict().keys()];
    expect(keys.slice(0, 4)).toEqual(['cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias']);
    expect(keys).toContain('blocks.1.attn.in_proj_weight');
    expect(keys.slice(-4)).toEqual(['norm.weight', 'norm.bias', 'head.weight', 'head.bias']);
    expect(v.pos_embed.shape).toEqual([1, 17, 32]);
    const blocks = 2 * (12 * 32 * 32 + 13 * 32);
    expect(v.numParameters()).toBe(32 + 17 * 32 + (16 * 32 + 32) + blocks + 64 + 32 * 5 + 5);
    const y = trainStep(v, rn.randn([3, 1, 16, 16]), 5);
    expect(y.shape).toEqual([3, 5]);
    expect(v.cls_token.grad).not.toBeNull();
    expect(v.pos_embed.grad!.shape).toEqual([1, 17, 32]);
    expect(() => v.forward(rn.randn([1, 1, 8, 8]))).toThrow(/16 patches/);
  });

  test('highway MLP', () => {
    const h = models.highwayMlp({ depth: 4, width: 16 });
    expect(h.modules().filter((m) => m instanceof nn.HighwayBlock).length).toBe(4);
    expect(f32((h.layers.at(0) as rn.nn.HighwayBlock).transform.bias!).every((v) => v === -2)).toBe(true);
    expect(trainStep(h, rn.randn([4, 1, 28, 28]), 10).shape).toEqual([4, 10]);
    const u = models.highwayMlp({ coupled: false, inChannels: 3, imageSize: 8, numClasses: 2 });
    expect(u.forward(rn.randn([2, 3, 8, 8])).shape).toEqual([2, 2]);
  });

  test('every model takes numClasses and inChannels', () => {
    const ctors: [string, (o: { numClasses: number; inChannels: number }) => Model, number][] = [
      ['resnet18', models.resnet18, 32], ['resnet20', models.resnet20, 16], ['plain20', models.plain20, 16],
      ['preactResnet18', models.preactResnet18, 16], ['densenetBC', (o) => models.densenetBC({ ...o, depth: 22 }), 8],
      ['vit', (o) => models.vit({ ...o, imageSize: 16, depth: 1, dim: 16, heads: 2 }), 16], ['highwayMlp', (o) => models.highwayMlp({ ...o, imageSize: 8 }), 8],
    ];
    for (const [name, f, size] of ctors) {
      const m = f({ numClasses: 3, inChannels: 1 });
      const y = rn.noGrad(() => m.forward(rn.randn([2, 1, size, size])));
      if (y.shape.join() !== '2,3') throw new Error(`${name}: output shape [${y.shape}]`);
      free(m);
    }
    expect(() => models.resnet20({ numClasses: 0 })).toThrow(/Expected a positive integer for numClasses/);
    expect(() => new models.CifarResNet(21)).toThrow(/6n \+ 2/);
  });
});

describe('gradient checks of whole (tiny) models', () => {
  // finite differences against backward through stem, stages, shortcuts, pooling and head
  test.each([
    ['CIFAR ResNet-8, option A', () => new models.CifarResNet(8, { widths: [4, 8, 8], numClasses: 3 }), [4, 3, 8, 8], 3e-3],
    ['CIFAR ResNet-8, option B', () => new models.CifarResNet(8, { widths: [4, 8, 8], numClasses: 3, shortcut: 'B' }), [4, 3, 8, 8], 3e-3],
    ['pre-activation ResNet', () => new models.PreActResNet(nn.PreActBlock, [1, 1], [4, 8], { numClasses: 3 }), [4, 3, 8, 8], 3e-3],
    ['DenseNet-BC (L=10)', () => models.densenetBC({ depth: 10, growthRate: 4, numClasses: 3 }), [4, 3, 8, 8], 3e-3],
    ['ViT', () => models.vit({ imageSize: 8, patchSize: 4, dim: 8, depth: 2, heads: 2, numClasses: 3 }), [2, 3, 8, 8], 3e-3],
    // small outputs make this one's derivatives small: a larger step keeps float32 noise below 1%
    ['highway MLP (uncoupled)', () => models.highwayMlp({ imageSize: 3, width: 6, depth: 3, coupled: false, gateBias: -0.5, numClasses: 3 }), [4, 1, 3, 3], 3e-2],
  ] as [string, () => Model, number[], number][])('%s', (_name, make, shape, eps) => {
    const m = make();
    const x = rn.randn(shape, { requiresGrad: true });
    checkGradients(moduleLeaves(m, x), () => m.forward(x), { eps });
  });
});

describe('state dicts', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-models-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('save -> load through safetensors: same outputs, num_batches_tracked kept as I64', () => {
    const a = models.resnet20();
    const x = rn.randn([2, 3, 32, 32]);
    a.forward(x);
    a.forward(x); // two training steps: running stats moved, num_batches_tracked = 2
    const file = path.join(tmp, 'r20.safetensors');
    rn.io.saveSafetensors(file, a.stateDict(), { format: 'pt' });
    const sd = rn.io.loadSafetensors(file);
    expect(sd.get('bn1.num_batches_tracked')!.dtype).toBe('int64');
    expect(sd.get('bn1.num_batches_tracked')!.shape).toEqual([]);
    expect((sd.get('layer3.2.bn2.num_batches_tracked')!.dataSync() as BigInt64Array)[0]).toBe(2n);
    rn.manualSeed(5);
    const b = models.resnet20();
    const r = b.loadStateDict(sd);
    expect(r).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const ya = f32(rn.noGrad(() => a.eval().forward(x)));
    const yb = f32(rn.noGrad(() => b.eval().forward(x)));
    expect(Array.from(yb)).toEqual(Array.from(ya));
    // training continues the count as PyTorch does (2 -> 3)
    b.train().forward(x);
    expect((b.bn1.num_batches_tracked!.dataSync() as BigInt64Array)[0]).toBe(3n);
    // a Module is accepted directly, with metadata
    rn.io.saveSafetensors(path.join(tmp, 'b.safetensors'), b, { note: 'x' });
    expect(rn.io.loadSafetensorsWithMetadata(path.join(tmp, 'b.safetensors')).metadata).toEqual({ note: 'x' });
  });

  test('F16 and BF16 files load as float32', () => {
    const t = rn.tensor([1, -2.5, 0.1, 65504]);
    const file = path.join(tmp, 'half.safetensors');
    for (const fd of ['F16', 'BF16'] as const) {
      rn.io.saveSafetensors(file, new Map([['w', t], ['i', rn.tensor(Int32Array.from([3, -4]))], ['u', rn.tensor(Uint8Array.from([7]))]]), undefined, { floatDtype: fd });
      const raw = rn.io.readSafetensorsFile(file);
      expect(raw.tensors.get('w')!.dtype).toBe(fd);
      const back = rn.io.loadSafetensors(file);
      const w = f32(back.get('w')!);
      expect(back.get('w')!.dtype).toBe('float32');
      expect(w[0]).toBe(1);
      expect(w[1]).toBe(-2.5);
      expect(Math.abs(w[2] - 0.1)).toBeLessThan(fd === 'F16' ? 1e-4 : 1e-3);
      expect(back.get('i')!.dtype).toBe('int32');
      expect(back.get('u')!.dtype).toBe('uint8');
    }
  });

  test('a broken file fails with ERR_RN_FORMAT naming the problem', () => {
    const file = path.join(tmp, 'bad.safetensors');
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(12)]));
    let err: (Error & { code?: string }) | null = null;
    try {
      rn.io.loadSafetensors(file);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('ERR_RN_FORMAT');
    expect(err?.message).toMatch(/"w"/);
    expect(err?.message).toContain(file);
  });

  test('strict loading reports missing / unexpected keys and shape mismatches', () => {
    const m = models.resnet20();
    const sd = new Map(m.stateDict());
    sd.delete('fc.bias');
    sd.set('extra', rn.zeros([1]));
    expect(() => m.loadStateDict(sd)).toThrow(/missing keys: fc.bias; unexpected keys: extra/);
    const r = m.loadStateDict(sd, { strict: false });
    expect(r).toEqual({ missingKeys: ['fc.bias'], unexpectedKeys: ['extra'] });
    const other = models.resnet20({ numClasses: 100 }).stateDict();
    expect(() => m.loadStateDict(other)).toThrow(/"fc.weight" has shape \[100, 64\] in the state dict but \[10, 64\]/);
  });
});

describe('summary', () => {
  test('resnet20: rows, totals and ~41M multiply-adds per 32x32 image (SCIENCE.md)', () => {
    const m = models.resnet20();
    const before = Float32Array.from(f32(m.bn1.running_mean!));
    const s = nn.summary(m, [1, 3, 32, 32]);
    expect(s.totalParams).toBe(269_722);
    expect(s.trainableParams).toBe(269_722);
    expect(s.outputShape).toEqual([1, 10]);
    expect(s.totalMacs / 1e6).toBeGreaterThan(40);
    expect(s.totalMacs / 1e6).toBeLessThan(42);
    const conv = s.rows.find((r) => r.name === 'layer2.0.conv1')!;
    expect(conv).toMatchObject({ type: 'Conv2d', outputShape: [1, 32, 16, 16], params: 4608, depth: 3, calls: 1 });
    expect(s.rows.find((r) => r.name === 'layer2.0.downsample')).toMatchObject({ type: 'ShortcutA', outputShape: [1, 32, 16, 16], params: 0 });
    expect(s.rows.find((r) => r.name === 'fc')).toMatchObject({ outputShape: [1, 10], params: 650, macs: 640 });
    expect(s.table).toContain('Total params: 269,722');
    expect(s.table).toMatch(/layer1 \(Sequential\)\s+\[1, 16, 32, 32\]\s+14,016/);
    expect(String(s)).toBe(s.table);
    expect(nn.summary(m, [1, 3, 32, 32], { depth: 1 }).table.split('\n').filter((l) => l.startsWith('  ')).length).toBe(0);
    // the model is left as it was: training mode, running statistics, no gradients
    expect(m.training && m.layer1.training).toBe(true);
    expect(Array.from(f32(m.bn1.running_mean!))).toEqual(Array.from(before));
    expect((m.bn1.num_batches_tracked!.dataSync() as BigInt64Array)[0]).toBe(0n);
  });

  test('torchvision resnet18 and resnet50: 1.8G and 4.1G multiply-adds per 224x224 image', () => {
    const r18 = models.resnet18();
    const g18 = nn.summary(r18, [1, 3, 224, 224]).totalMacs / 1e9;
    expect(g18).toBeGreaterThan(1.75);
    expect(g18).toBeLessThan(1.85);
    free(r18);
    const r50 = models.resnet50();
    const s = nn.summary(r50, [1, 3, 224, 224], { depth: 2 });
    expect(s.totalMacs / 1e9).toBeGreaterThan(4.0);
    expect(s.totalMacs / 1e9).toBeLessThan(4.2);
    expect(s.table).toContain('Total params: 25,557,032');
    free(r50);
  });

  test('rejects a bad input shape', () => {
    expect(() => nn.summary(models.resnet20(), [3, 32] as unknown as number[]).toString()).toThrow();
    expect(() => nn.summary(models.resnet20(), [0, 3, 32, 32])).toThrow(/input shape/);
  });
});
