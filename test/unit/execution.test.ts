// Ops run on the native stream: a multi-second training step does not block Node's event loop,
// and its results are bit-identical to running every op synchronously.
import * as rn from '../../lib';

const REPEATS = 4;

function buildStep(syncEachOp: boolean) {
  rn.manualSeed(11);
  const x = rn.randn([8, 96, 32, 32]);
  const ws = Array.from({ length: 8 }, () => rn.randn([96, 96, 3, 3], { std: 0.035, requiresGrad: true }));
  const fc = rn.randn([10, 96], { std: 0.1, requiresGrad: true });
  const y = rn.tensor(Int32Array.from({ length: 8 }, (_, i) => i % 10));
  const s = <T>(t: T): T => {
    if (syncEachOp) rn.sync();
    return t;
  };
  // REPEATS steps make the work long enough (> 300 ms) on any machine this suite targets
  return () => {
    for (let r = 0; r < REPEATS - 1; r++) {
      let h0 = x;
      for (const w of ws) h0 = s(rn.F.relu(s(rn.F.conv2d(h0, w, null, { padding: 1 }))));
      s(rn.F.crossEntropy(s(rn.F.linear(s(rn.F.adaptiveAvgPool2d(h0, 1)).flatten(1), fc)), y)).backward();
    }
    let h = x;
    for (const w of ws) h = s(rn.F.relu(s(rn.F.conv2d(h, w, null, { padding: 1 }))));
    const logits = s(rn.F.linear(s(rn.F.adaptiveAvgPool2d(h, 1)).flatten(1), fc));
    const loss = s(rn.F.crossEntropy(logits, y));
    loss.backward();
    s(null);
    return { loss, grads: [...ws, fc].map((w) => w.grad!) };
  };
}

test('the event loop keeps running during a long step, results equal a synchronous run', async () => {
  const asyncStep = buildStep(false);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const t0 = Date.now();
  const enqueueStart = Date.now();
  const { loss, grads } = asyncStep();  // returns once every op is queued
  const enqueueMs = Date.now() - enqueueStart;
  const lossValue = await loss.item();
  const gradData = await Promise.all(grads.map((g) => g.data()));
  const elapsed = Date.now() - t0;
  clearInterval(timer);
  // queuing is much faster than computing, and timers kept firing while the step ran
  expect(elapsed).toBeGreaterThan(300);
  console.log(`step: ${elapsed} ms, queued in ${enqueueMs} ms, ${ticks} timer ticks`);
  expect(enqueueMs).toBeLessThan(elapsed / 2);
  expect(ticks).toBeGreaterThan((elapsed / 10) * 0.4);

  const syncStep = buildStep(true);
  const ref = syncStep();
  expect(ref.loss.itemSync()).toBe(lossValue);
  ref.grads.forEach((g, i) => {
    expect(Buffer.from((g.dataSync() as Float32Array).buffer).equals(Buffer.from((gradData[i] as Float32Array).buffer))).toBe(true);
  });
});
