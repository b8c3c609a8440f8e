/**
 * Model-level parity with PyTorch, through the public API only (rn.io.loadSafetensors,
 * rn.models, loadStateDict, forward, crossEntropy, backward, rn.io.saveSafetensors).
 *
 * Fixtures (test/fixtures/make_model_fixtures.py, torch 1.13 / torchvision 0.14, seeded):
 * - committed: CIFAR ResNet-20 (option A, torchvision names) at batch 2, 32x32, and a pre-norm
 *   TransformerBlock (torch.nn.MultiheadAttention, with and without a causal mask);
 * - generated at test time into a temporary directory (about 300 MB, so not committed):
 *   torchvision resnet18 and resnet50 at batch 2, 64x64 — needs Debian's /usr/bin/python3 with
 *   torch and torchvision; without it those tests are skipped with the reason printed.
 *
 * For each model: eval logits, train-mode logits, the loss, the running statistics and
 * num_batches_tracked after that train-mode forward, and the gradient of every parameter.
 * Tolerances (the issue's): logits max|diff| <= 1e-4 * max(1, max|expected|); gradients
 * max|diff| <= 1e-3 * max(1, max|expected|) per tensor; running stats 1e-4 likewise;
 * num_batches_tracked exactly. The fixtures are chosen well conditioned (see the script: torch's
 * own float32 and float64 gradients agree to ~1e-6), so these tolerances test the engine.
 *
 * And back: state dicts saved by resnode load in PyTorch with strict=True and give resnode's
 * logits (the script's `check` command, 1e-4 relative).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as rn from '../../lib';
import { expectClose as expectCloseSlow } from '../helpers/compare';

type T = rn.Tensor;
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'models');
const SCRIPT = path.join(__dirname, '..', 'fixtures', 'make_model_fixtures.py');
const PYTHON = '/usr/bin/python3';
/** The data as a Float32Array of this realm (arrays made by the addon belong to Node's main realm; under jest, indexing those is ~25x slower). */
const f32 = (t: T) => {
  const d = t.dataSync() as Float32Array;
  return new Float32Array(d.buffer, d.byteOffset, d.length);
};

// Globals such as Math are slow to reach from jest's sandbox (~40x in a hot loop), so compare the
// large tensors here with cached functions and the same rule as helpers/compare.ts:
//   max_i |actual_i - expected_i| <= rtol * max(1, max_i |expected_i|)
// (non-finite values must match exactly); on failure fall back to expectClose for its report.
const { abs, max } = Math;
const finite = Number.isFinite;
interface Close {
  maxAbsErr: number;
  /** maxAbsErr / max(1, max|expected|) */
  rel: number;
}
function expectClose(actual: Float32Array | number[], expected: Float32Array | number[], o: { rtol: number; label: string }): Close {
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    const e = abs(expected[i]);
    if (finite(e) && e > scale) scale = e;
  }
  let worst = 0;
  let bad = actual.length !== expected.length;
  for (let i = 0; i < expected.length && !bad; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = finite(e) ? (finite(a) ? abs(a - e) : Infinity) : Object.is(a, e) || (a !== a && e !== e) ? 0 : Infinity;
    worst = max(worst, err);
  }
  if (bad || !(worst <= o.rtol * scale)) expectCloseSlow(actual, expected, o); // throws with the full report
  return { maxAbsErr: worst, rel: worst / scale };
}

/** Whether Debian's python3 with torch + torchvision is there; the reason when not. */
function torchPython(): { ok: boolean; reason: string } {
  if (!fs.existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found` };
  const r = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) return { ok: false, reason: `${PYTHON} cannot import torch/torchvision: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  return { ok: true, reason: '' };
}
const PY = torchPython();
if (!PY.ok) console.warn(`[models.parity] skipping the torchvision resnet18/resnet50 parity and the PyTorch round trip: ${PY.reason}`);
const withTorch = PY.ok ? describe : describe.skip;

function runPython(args: string[]): string {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`make_model_fixtures.py ${args.join(' ')} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface Report {
  logitsEval: number;
  logitsTrain: number;
  grads: number;
  buffers: number;
}

/** Load <arch>_state / <arch>_io from dir and check every output; returns the worst errors. */
function checkModel(arch: 'resnet20' | 'resnet18' | 'resnet50', dir: string): { model: rn.nn.Module; io: Map<string, T>; report: Report } {
  const state = rn.io.loadSafetensors(path.join(dir, `${arch}_state.safetensors`));
  const io = rn.io.loadSafetensors(path.join(dir, `${arch}_io.safetensors`));
  const model = rn.models[arch]();
  expect(model.loadStateDict(state)).toEqual({ missingKeys: [], unexpectedKeys: [] });
  const x = io.get('input')!;
  const report: Report = { logitsEval: 0, logitsTrain: 0, grads: 0, buffers: 0 };
  const ev = rn.noGrad(() => model.eval().forward(x));
  report.logitsEval = expectClose(f32(ev), f32(io.get('logits_eval')!), { rtol: 1e-4, label: `${arch} eval logits` }).rel;

  model.train();
  const y = model.forward(x);
  report.logitsTrain = expectClose(f32(y), f32(io.get('logits_train')!), { rtol: 1e-4, label: `${arch} train logits` }).rel;
  const loss = rn.F.crossEntropy(y, io.get('target')!.to('int32'));
  expectClose([loss.itemSync()], [io.get('loss')!.itemSync()], { rtol: 1e-5, label: `${arch} loss` });
  loss.backward();

  for (const [k, p] of model.namedParameters()) {
    expect(p.grad).not.toBeNull();
    const r = expectClose(f32(p.grad!), f32(io.get(`grad.${k}`)!), { rtol: 1e-3, label: `${arch} grad ${k}` });
    report.grads = Math.max(report.grads, r.rel);
  }
  for (const [k, b] of model.namedBuffers()) {
    const want = io.get(`after.${k}`)!;
    if (b.dtype === 'int64') {
      expect(want.dtype).toBe('int64');
      expect((b.dataSync() as BigInt64Array)[0]).toBe((want.dataSync() as BigInt64Array)[0]);
      continue;
    }
    report.buffers = Math.max(report.buffers, expectClose(f32(b), f32(want), { rtol: 1e-4, label: `${arch} buffer ${k}` }).rel);
  }
  return { model, io, report };
}

/** Save the model's state dict and its eval logits for x; PyTorch loads it strictly and compares. */
function roundTrip(arch: string, model: rn.nn.Module, x: T, dir: string): { maxAbsErr: number; ok: boolean; numBatchesTracked: number[]; keys: number; dtypes: string[] } {
  const logits = rn.noGrad(() => model.eval().forward(x));
  const stateFile = path.join(dir, `${arch}_rn_state.safetensors`);
  const ioFile = path.join(dir, `${arch}_rn_io.safetensors`);
  rn.io.saveSafetensors(stateFile, model.stateDict(), { format: 'pt' });
  rn.io.saveSafetensors(ioFile, new Map([['input', x], ['logits', logits]]));
  const out = runPython(['check', '--arch', arch, '--state', stateFile, '--io', ioFile]);
  return JSON.parse(out.trim().split('\n').pop()!);
}

const results: Record<string, unknown> = {};
afterAll(() => console.log(`[models.parity] max errors (relative to max(1, max|expected|)): ${JSON.stringify(results, null, 1)}`));

describe('CIFAR ResNet-20 (option A), committed fixture', () => {
  test('eval and train logits, loss, running stats, num_batches_tracked and every gradient match PyTorch', () => {
    const { report } = checkModel('resnet20', FIXTURES);
    results.resnet20 = report;
    expect(report.logitsEval).toBeLessThan(1e-4);
    expect(report.grads).toBeLessThan(1e-3);
  });
});

describe('TransformerBlock (torch.nn.MultiheadAttention, pre-norm), committed fixture', () => {
  test.each(['full', 'causal'])('%s attention: output, input gradient and parameter gradients', (tag) => {
    const state = rn.io.loadSafetensors(path.join(FIXTURES, 'transformer_block_state.safetensors'));
    const io = rn.io.loadSafetensors(path.join(FIXTURES, 'transformer_block_io.safetensors'));
    const block = new rn.nn.TransformerBlock(16, 4, { causal: tag === 'causal' });
    const sd = new Map([...state].filter(([k]) => k.startsWith(`${tag}.`)).map(([k, v]) => [k.slice(tag.length + 1), v]));
    block.loadStateDict(sd);
    const x = io.get(`${tag}.input`)!.clone().requiresGrad_();
    const y = block.forward(x);
    const out = expectClose(f32(y), f32(io.get(`${tag}.output`)!), { rtol: 1e-5, label: `${tag} output` });
    y.backward(io.get(`${tag}.grad_output`)!);
    let worst = expectClose(f32(x.grad!), f32(io.get(`${tag}.grad.input`)!), { rtol: 1e-4, label: `${tag} input grad` }).maxAbsErr;
    for (const [k, p] of block.namedParameters()) {
      const r = expectClose(f32(p.grad!), f32(io.get(`${tag}.grad.${k}`)!), { rtol: 1e-4, label: `${tag} grad ${k}` });
      worst = Math.max(worst, r.maxAbsErr);
    }
    results[`transformer_${tag}`] = { output: out.maxAbsErr, grads: worst };
  });
});

withTorch('torchvision resnet18 and resnet50 (fixtures generated now into a temporary directory)', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-tv-parity-'));
    runPython(['torchvision', '--out', dir]);
  }, 300_000);
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each(['resnet18', 'resnet50'] as const)('%s: eval and train logits, loss, running stats and every gradient', (arch) => {
    const { model, report } = checkModel(arch, dir);
    results[arch] = report;
    for (const t of model.stateDict().values()) t.dispose();
  });

  test('round trip: a fresh resnode resnet18 state dict loads in PyTorch (strict) with the same logits', () => {
    rn.manualSeed(18);
    const m = rn.models.resnet18();
    const r = roundTrip('resnet18', m, rn.randn([2, 3, 64, 64]), dir);
    results.roundTripResnet18 = r.maxAbsErr;
    expect(r.ok).toBe(true);
    expect(r.keys).toBe(122);
    for (const t of m.stateDict().values()) t.dispose();
  });
});

withTorch('round trip to PyTorch (CIFAR ResNet-20)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-rt-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a freshly initialised resnode resnet20 loads in PyTorch with strict=True and gives the same logits', () => {
    rn.manualSeed(20);
    const m = rn.models.resnet20();
    const r = roundTrip('resnet20', m, rn.randn([2, 3, 32, 32]), dir);
    results.roundTripResnet20Fresh = r.maxAbsErr;
    expect(r.ok).toBe(true);
    expect(r.numBatchesTracked).toEqual([0]);
  });

  test('after a resnode training step (running stats and num_batches_tracked moved) as well', () => {
    const { model, io } = checkModel('resnet20', FIXTURES); // leaves the model after one train step
    const r = roundTrip('resnet20', model, io.get('input')!, dir);
    results.roundTripResnet20Trained = r.maxAbsErr;
    expect(r.ok).toBe(true);
    expect(r.numBatchesTracked).toEqual([8]); // 7 in the fixture + 1 step, as in PyTorch
    expect(r.dtypes).toEqual(['torch.float32', 'torch.int64']);
  });
});
