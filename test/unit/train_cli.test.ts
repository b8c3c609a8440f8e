// The train command end to end on a small subset: progress output, metrics.jsonl, checkpoints,
// curves.svg, exact resume after a stop, NaN handling, and argument parsing.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { runTraining, TrainConfig, TRAIN_SPEC } from '../../lib/cli/train';
import { parseArgs } from '../../lib/cli/args';
import * as rn from '../../lib';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resnode-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sink(): Writable & { text: string } {
  const w = new Writable({ write(chunk, _enc, cb) { (w as unknown as { text: string }).text += String(chunk); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w;
}

const base = (out: string, over: Partial<TrainConfig> = {}): TrainConfig => ({
  model: 'resnet20', dataset: 'mnist-digits', epochs: 2, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true,
  optimizer: 'sgd', schedule: 'onecycle', labelSmoothing: 0, augment: true, limit: 128, testLimit: 64, seed: 1, workers: false,
  channelsLast: false, out, resume: false, stream: sink(), ...over,
});

test('writes metrics, checkpoints and curves; resume is exact', async () => {
  const a = path.join(tmp, 'a');
  const ra = await runTraining(base(a));
  expect(ra.stopped).toBe('done');
  const lines = fs.readFileSync(path.join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
  for (const l of lines) {
    expect(l.type).toBe('epoch');
    for (const k of ['trainLoss', 'trainAcc', 'testLoss', 'testAcc', 'lr', 'seconds', 'imgPerSec']) expect(Number.isFinite(l[k])).toBe(true);
  }
  for (const f of ['last.safetensors', 'best.safetensors', 'curves.svg']) expect(fs.existsSync(path.join(a, f))).toBe(true);
  expect(fs.readFileSync(path.join(a, 'curves.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

  // stop after epoch 1, then resume: the final weights equal the straight run's
  const b = path.join(tmp, 'b');
  const stream = sink();
  const rb1 = await runTraining(base(b, { stopAfterEpoch: 1, stream }));
  expect(rb1.stopped).toBe('interrupted');
  expect(stream.text).toMatch(/continue with --resume/);
  const rb2 = await runTraining(base(b, { resume: true }));
  expect(rb2.stopped).toBe('done');
  const wa = rn.io.readCheckpoint(path.join(a, 'last.safetensors')).model;
  const wb = rn.io.readCheckpoint(path.join(b, 'last.safetensors')).model;
  for (const [k, t] of wa) {
    const u = wb.get(k)!;
    expect(Buffer.from((u.dataSync() as Float32Array).buffer).equals(Buffer.from((t.dataSync() as Float32Array).buffer))).toBe(true);
  }
  const mb = fs.readFileSync(path.join(b, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(mb.map((l) => l.epoch)).toEqual([1, 2]);
  expect(mb[1].trainLoss).toBe(lines[1].trainLoss);
}, 240000);

test('a NaN loss stops the run with a clear message and keeps the last good checkpoint', async () => {
  const out = path.join(tmp, 'nan');
  const stream = sink();
  const r = await runTraining(base(out, { lr: 1e30, schedule: 'constant', epochs: 2, stream }));
  expect(r.stopped).toBe('nan');
  expect(stream.text).toMatch(/the loss became NaN in epoch 1 .*stopping/);
  expect(fs.existsSync(path.join(out, 'last.safetensors'))).toBe(false);  // nothing good to keep yet
}, 120000);

test('argument parsing', () => {
  const a = parseArgs(['--model', 'resnet56', '--epochs=3', '--no-augment', '--batch-size', '64'], TRAIN_SPEC, 'train');
  expect(a.model).toBe('resnet56');
  expect(a.epochs).toBe(3);
  expect(a.augment).toBe(false);
  expect(a.batchSize).toBe(64);
  expect(a.lr).toBe(0.1);
  expect(() => parseArgs(['--bogus'], TRAIN_SPEC, 'train')).toThrow('train: unknown option --bogus (see resnode train --help)');
  expect(() => parseArgs(['--epochs', 'x'], TRAIN_SPEC, 'train')).toThrow('train: expected a number for --epochs but received "x"');
});
