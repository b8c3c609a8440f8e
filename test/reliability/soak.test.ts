// Soak: 10,000 training steps of a tiny model keep RSS and rn.memory.stats() flat; disposing,
// tidy across await and the GC backstop (tensors dropped without dispose) are exercised.
// Runs in a child `node --expose-gc` against dist/ (npm run build), so gc() can be forced before
// each sample and jest's own heap is not measured. SOAK_STEPS overrides the step count.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const DIST = path.resolve(__dirname, '../../dist/index.js');
const STEPS = Number(process.env.SOAK_STEPS ?? 10000);
const EVERY = Math.max(1, Math.floor(STEPS / 10));

const CHILD = String.raw`
const rn = require(process.env.RN_DIST);
const STEPS = Number(process.env.SOAK_STEPS), EVERY = Number(process.env.SOAK_EVERY);
const settle = async () => { for (let k = 0; k < 3; k++) { global.gc(); await new Promise((r) => setTimeout(r, 5)); } };
async function main() {
  rn.manualSeed(1);
  const nn = rn.nn;
  const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(),
    new nn.MaxPool2d({ kernelSize: 2 }), new nn.Flatten(), new nn.Linear(4 * 4 * 4, 3));
  const opt = new rn.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const x = rn.randn([8, 1, 8, 8]).keep();
  const y = rn.tensor(Int32Array.from({ length: 8 }, (_, i) => i % 3)).keep();
  const samples = [];
  let loss = NaN;
  const t0 = Date.now();
  for (let i = 1; i <= STEPS; i++) {
    if (i % 2) {
      // a synchronous step in a tidy scope
      rn.tidy(() => {
        const l = rn.F.crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        l.backward();
        opt.step();
      });
    } else {
      // tidy across await: the scope follows the async continuation
      await rn.tidy(async () => {
        const l = rn.F.crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        l.backward();
        opt.step();
        if (i % 50 === 0) loss = await l.item();
      });
    }
    // explicit dispose, and a view disposed before its base
    if (i % 3 === 0) {
      const t = rn.mul(x, 2);
      const v = t.reshape([8, 64]);
      v.dispose();
      t.dispose();
    }
    if (i % EVERY === 0) {
      rn.sync();
      await settle();
      const m = process.memoryUsage();
      samples.push({ step: i, rss: m.rss, heapUsed: m.heapUsed, external: m.external, ...rn.memory.stats() });
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  // the GC backstop: 2,000 tensors (4 MiB) dropped without dispose() are freed by the collector
  await settle();
  const before = rn.memory.stats();
  (() => { for (let i = 0; i < 2000; i++) rn.full([512], i); })();
  const leaked = rn.memory.stats();
  let after = leaked;
  for (let k = 0; k < 50 && (after.live > before.live || after.tensors > before.tensors); k++) {
    await settle();
    after = rn.memory.stats();
  }
  // the allocator's cache is reclaimable
  rn.memory.emptyCache();
  const emptied = rn.memory.stats();
  process.stdout.write(JSON.stringify({ samples, seconds, loss, gc: { before, leaked, after }, emptied }) + '\n');
}
main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
`;

interface Sample { step: number; rss: number; heapUsed: number; external: number; live: number; cached: number; tensors: number; peak: number }
const MB = (b: number) => (b / 2 ** 20).toFixed(1);

test(`soak: ${STEPS} training steps keep RSS and memory stats flat; GC backstop frees dropped tensors`, () => {
  if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`);
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', CHILD], {
    env: { ...process.env, RN_DIST: DIST, SOAK_STEPS: String(STEPS), SOAK_EVERY: String(EVERY) },
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`soak child failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}\n${r.stdout}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    samples: Sample[]; seconds: number; loss: number; gc: Record<'before' | 'leaked' | 'after', { live: number; tensors: number; cached: number }>;
    emptied: { live: number; cached: number };
  };
  const s = out.samples;
  expect(s.length).toBe(10);
  expect(Number.isFinite(out.loss)).toBe(true);
  // native bytes in use and live JS handles: identical at every sample, warm-up included
  for (const x of s) {
    expect(x.live).toBe(s[0].live);
    expect(x.tensors).toBe(s[0].tensors);
  }
  // warm-up: the first 30% of the steps (V8 tiers up, the allocator's cache fills to the stream's
  // in-flight working set); afterwards RSS, the JS heap and live + cached stay within ±5%
  // (the cache grows in steps of one working set when the queue is once fuller: +1 MiB slack)
  const warm = s.slice(3);
  const base = warm[0];
  const rss = warm.map((x) => x.rss);
  const drift = (Math.max(...rss) - Math.min(...rss)) / base.rss;
  for (const x of warm) {
    expect(Math.abs(x.rss - base.rss)).toBeLessThanOrEqual(base.rss * 0.05);
    expect(Math.abs(x.heapUsed - base.heapUsed)).toBeLessThanOrEqual(Math.max(base.heapUsed * 0.05, 2 ** 20));
    expect(x.live + x.cached).toBeLessThanOrEqual((base.live + base.cached) * 1.05 + 2 ** 20);
  }
  expect(out.emptied.cached).toBe(0);
  // GC backstop: the dropped tensors' storage and handle count come back
  const g = out.gc;
  expect(g.leaked.live - g.before.live).toBeGreaterThanOrEqual(2000 * 512 * 4);
  expect(g.leaked.tensors - g.before.tensors).toBe(2000);
  expect(g.after.live).toBe(g.before.live);
  expect(g.after.tensors).toBe(g.before.tensors);
  process.stdout.write(
    `soak: ${STEPS} steps in ${out.seconds.toFixed(1)} s (${Math.round(STEPS / out.seconds)} steps/s), final loss ${out.loss.toFixed(4)}; ` +
      `after warm-up RSS ${MB(Math.min(...rss))}-${MB(Math.max(...rss))} MiB (spread ${(100 * drift).toFixed(2)}%), ` +
      `native live ${base.live} B, cached ${MB(base.cached)} MiB, ${base.tensors} handles at every sample; ` +
      `GC backstop: +${MB(g.leaked.live - g.before.live)} MiB / +${g.leaked.tensors - g.before.tensors} handles dropped, ` +
      `after gc live ${g.after.live - g.before.live} B, handles ${g.after.tensors - g.before.tensors}\n`,
  );
});
