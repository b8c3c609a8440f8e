// Checkpoints: exact resume, refusal to load into a different model, checksum verification,
// and atomic writes that survive SIGKILL at random points.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as rn from '../../lib';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resnode-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function smallModel(): rn.nn.Module {
  return new rn.nn.Sequential(
    new rn.nn.Conv2d(1, 4, 3, { padding: 1 }), new rn.nn.BatchNorm2d(4), new rn.nn.ReLU(),
    new rn.nn.AdaptiveAvgPool2d(2), new rn.nn.Flatten(), new rn.nn.Dropout(0.2), new rn.nn.Linear(16, 10),
  );
}

function setup() {
  const model = smallModel();
  const opt = new rn.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
  const ds = new rn.data.MnistDigits({ train: false });
  const small = new rn.data.ArrayDataset({ ...ds.getBatch(Int32Array.from({ length: 96 }, (_, i) => i)), shape: [1, 28, 28], numClasses: 10 });
  const loader = new rn.data.DataLoader(small, { batchSize: 16, shuffle: true, seed: 5, workers: false, transform: rn.data.transforms.randomCrop(28, 2) });
  const sched = new rn.optim.OneCycleLR(opt, { maxLr: 0.2, totalSteps: 2 * loader.length });
  return { model, opt, sched, loader };
}

async function trainEpoch(s: ReturnType<typeof setup>): Promise<void> {
  for await (const { x, y } of s.loader) {
    rn.tidy(() => {
      const loss = rn.F.crossEntropy(s.model.forward(x), y);
      s.opt.zeroGrad();
      loss.backward();
      s.opt.step();
      s.sched.step();
    });
    x.dispose();
    y.dispose();
  }
}

const bytesOf = (m: rn.nn.Module) => [...m.stateDict()].map(([k, t]) => [k, Buffer.from((t.dataSync() as Float32Array).buffer).toString('base64')]);

test('2 epochs straight equal 1 epoch + save + load + 1 epoch, bit for bit', async () => {
  rn.manualSeed(123);
  const a = setup();
  await trainEpoch(a);
  await trainEpoch(a);
  const straight = bytesOf(a.model);

  rn.manualSeed(123);
  const b = setup();
  await trainEpoch(b);
  const file = path.join(tmp, 'mid.safetensors');
  rn.io.saveCheckpoint(file, { model: b.model, optimizer: b.opt, scheduler: b.sched, meta: { epoch: 1 }, extra: { loader: b.loader.state() } });
  rn.manualSeed(999);  // the checkpoint restores the RNG (dropout masks depend on it)
  const c = setup();
  const { meta, extra } = rn.io.loadCheckpoint(file, { model: c.model, optimizer: c.opt, scheduler: c.sched });
  c.loader.loadState((extra as { loader: rn.data.LoaderState }).loader);
  expect(meta.epoch).toBe(1);
  await trainEpoch(c);
  expect(bytesOf(c.model)).toEqual(straight);
});

test('loading into a different model names the first mismatch', () => {
  const file = path.join(tmp, 'm.safetensors');
  rn.io.saveCheckpoint(file, { model: smallModel() });
  const other = new rn.nn.Sequential(new rn.nn.Conv2d(1, 8, 3), new rn.nn.BatchNorm2d(8));
  expect(() => rn.io.loadCheckpoint(file, { model: other })).toThrow(/"0\.weight" has shape \[4, 1, 3, 3\] in .* but \[8, 1, 3, 3\] in the model/);
  const fewer = new rn.nn.Sequential(new rn.nn.Conv2d(1, 4, 3, { padding: 1 }));
  expect(() => rn.io.loadCheckpoint(file, { model: fewer })).toThrow(/has "1\.[a-z_]+", which the model does not have/);
});

test('a corrupted checkpoint fails its checksum', () => {
  const file = path.join(tmp, 'c.safetensors');
  rn.io.saveCheckpoint(file, { model: smallModel(), meta: { epoch: 3 } });
  const buf = fs.readFileSync(file);
  buf[buf.length - 5] ^= 0xff;  // flip bits inside the tensor data
  fs.writeFileSync(file, buf);
  let err: (Error & { code?: string }) | null = null;
  try {
    rn.io.readCheckpoint(file);
  } catch (e) {
    err = e as Error & { code?: string };
  }
  expect(err?.code).toBe('ERR_RN_FORMAT');
  expect(err?.message).toMatch(/checksum mismatch/);
});

test('a write killed at random points leaves the old or the new checkpoint, never a corrupt one', async () => {
  const file = path.join(tmp, 'kill.safetensors');
  const dist = path.resolve(__dirname, '../../dist');
  const script = `
    const rn = require(${JSON.stringify(dist)});
    const model = new rn.nn.Sequential(new rn.nn.Linear(512, 512), new rn.nn.Linear(512, 512));  // ~2 MB
    let i = 0;
    process.send && process.send('ready');
    for (;;) {
      rn.noGrad(() => { for (const p of model.parameters()) p.fill(i); });
      rn.io.saveCheckpoint(${JSON.stringify(file)}, { model, meta: { epoch: i } });
      i++;
    }`;
  let loads = 0;
  for (let trial = 0; trial < 12; trial++) {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    await new Promise<void>((res) => child.once('message', () => res()));
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 250)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    if (!fs.existsSync(file)) continue;
    const c = rn.io.readCheckpoint(file);  // throws on a torn file
    const epoch = c.meta.epoch as number;
    for (const t of c.model.values()) {
      const d = t.dataSync() as Float32Array;
      expect(d[0]).toBe(epoch);
      expect(d[d.length - 1]).toBe(epoch);
    }
    loads++;
    // no temp files are left behind except possibly the one being written at the kill
    const leftovers = fs.readdirSync(tmp).filter((f) => f.startsWith('kill.safetensors') && f !== 'kill.safetensors');
    for (const f of leftovers) fs.rmSync(path.join(tmp, f));
  }
  expect(loads).toBeGreaterThan(8);
}, 120000);
