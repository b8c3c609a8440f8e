// Concurrency: the addon in several worker_threads at once (each requiring dist/ and training a
// tiny model), and 20 rounds of spawn -> train -> terminate mid-training, without crashes, errors,
// cross-talk between threads or leaks (native live bytes back to the baseline, RSS bounded).
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { binding } from '../../lib/binding';

const DIST = path.resolve(__dirname, '../../dist/index.js');

const WORKER = String.raw`
const { parentPort, workerData } = require('worker_threads');
const rn = require(workerData.dist);
const nn = rn.nn;
rn.manualSeed(workerData.seed);
const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(),
  new nn.Flatten(), new nn.Linear(4 * 6 * 6, 3));
const opt = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
const x = rn.randn([8, 1, 6, 6]).keep();
const y = rn.tensor(Int32Array.from({ length: 8 }, (_, i) => i % 3)).keep();
(async () => {
  let loss = NaN;
  for (let i = 0; i < workerData.steps; i++) {
    await rn.tidy(async () => {
      const l = rn.F.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      l.backward();
      opt.step();
      if (i === workerData.steps - 1) loss = await l.item();
    });
    if (i === workerData.signalAt) parentPort.postMessage({ started: true });
    if (i % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  let sum = 0;
  for (const p of model.parameters()) for (const v of p.dataSync()) sum += v;
  parentPort.postMessage({ done: true, loss, sum, live: rn.memory.stats().tensors });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e), code: e && e.code }));
`;

interface Result { done?: boolean; started?: boolean; loss?: number; sum?: number; error?: string; code?: string }

function spawn(steps: number, signalAt = -1, seed = 7): { w: Worker; messages: Result[]; exit: Promise<number>; started: Promise<void>; done: Promise<Result> } {
  const w = new Worker(WORKER, { eval: true, workerData: { dist: DIST, steps, signalAt, seed } });
  const messages: Result[] = [];
  let onStart!: () => void;
  let onDone!: (r: Result) => void;
  let onFail!: (e: Error) => void;
  const started = new Promise<void>((res) => (onStart = res));
  const done = new Promise<Result>((res, rej) => ((onDone = res), (onFail = rej)));
  w.on('message', (m: Result) => {
    messages.push(m);
    if (m.started) onStart();
    if (m.done) onDone(m);
    if (m.error) onFail(new Error(`worker failed [${m.code}]: ${m.error}`));
  });
  w.on('error', (e) => onFail(e));
  const exit = new Promise<number>((res) => w.on('exit', res));
  return { w, messages, exit, started, done };
}

const stats = () => binding().memoryStats(0);

beforeAll(() => {
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`);
});

test('4 worker threads train at once: no errors, identical results (no cross-talk between threads)', async () => {
  binding().syncDevice(0);
  const before = stats().live;
  const runs = Array.from({ length: 4 }, () => spawn(150));
  const results = await Promise.all(runs.map((r) => r.done));
  await Promise.all(runs.map((r) => r.exit));
  for (const r of results) {
    expect(Number.isFinite(r.loss)).toBe(true);
    // the same seed and data on every thread: the same training trajectory, bit for bit
    expect(r.loss).toBe(results[0].loss);
    expect(r.sum).toBe(results[0].sum);
  }
  binding().syncDevice(0);
  // <= rather than ==: jest reuses this process across test files, so tensors left by earlier
  // files may be garbage-collected meanwhile; what matters is that the workers added nothing
  expect(stats().live).toBeLessThanOrEqual(before);
  process.stdout.write(`concurrency: 4 threads x 150 steps, identical final loss ${results[0].loss!.toFixed(6)}; native live bytes back to baseline\n`);
});

test('20 rounds of spawn -> train -> terminate mid-training: no crash, native memory freed, RSS bounded', async () => {
  binding().syncDevice(0);
  const baseline = stats().live;
  const rss: number[] = [];
  const lives: number[] = [];
  for (let round = 0; round < 20; round++) {
    // odd rounds terminate while an op may be queued; even rounds right after the first steps
    const r = spawn(1_000_000, round % 2 ? 20 : 1, round);
    await r.started;
    if (round % 2) await new Promise((res) => setTimeout(res, 5));
    const code = await r.w.terminate();
    expect(code).toBe(1); // terminated, not crashed
    expect(r.messages.filter((m) => m.error)).toEqual([]);
    binding().syncDevice(0); // the stream keeps working for this thread
    lives.push(stats().live - baseline);
    rss.push(process.memoryUsage().rss);
  }
  // every terminated thread's tensors were freed with its environment
  expect(lives.every((d) => d <= 0)).toBe(true);  // (<= 0: see the first test)
  // RSS: no growth proportional to the rounds (an isolate left behind is ~10+ MiB each)
  const growth = rss[19] - rss[4];
  expect(growth).toBeLessThan(96 * 2 ** 20);
  // and the addon still works on this thread
  const t = binding().fromBuffer(Float32Array.of(1, 2), [2], 0);
  expect(Array.from(binding().readSync(t.h) as Float32Array)).toEqual([1, 2]);
  binding().dispose(t.h);
  process.stdout.write(
    `concurrency: 20 spawn/train/terminate rounds: native live bytes back to baseline every round; ` +
      `RSS ${(rss[4] / 2 ** 20).toFixed(0)} MiB after round 5, ${(rss[19] / 2 ** 20).toFixed(0)} MiB after round 20 (${growth >= 0 ? '+' : ''}${(growth / 2 ** 20).toFixed(1)} MiB)\n`,
  );
});
