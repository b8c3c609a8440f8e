// Tensor lifetime: dispose, tidy (sync and async), saved tensors released after backward, and
// live bytes staying flat over many training iterations.
import * as rn from '../../lib';

describe('tidy', () => {
  test('sync scopes free temporaries and keep what is returned', () => {
    const before = rn.memory.stats().tensors;
    const kept = rn.tidy(() => {
      const a = rn.ones([100]);
      const b = rn.mul(a, 2);
      return { out: rn.add(b, 1), list: [rn.zeros([2])] };
    });
    expect(kept.out.isDisposed).toBe(false);
    expect(kept.list[0].isDisposed).toBe(false);
    expect(rn.memory.stats().tensors).toBe(before + 2);
    kept.out.dispose();
    kept.list[0].dispose();
    expect(rn.memory.stats().tensors).toBe(before);
  });
  test('async scopes survive await and do not mix with concurrent scopes', async () => {
    const before = rn.memory.stats().tensors;
    let inner: rn.Tensor | null = null;
    const [r1, r2] = await Promise.all([
      rn.tidy(async () => {
        inner = rn.ones([10]);
        await new Promise((r) => setTimeout(r, 5));
        const s = rn.sum(inner);
        await s.data();
        return s;
      }),
      rn.tidy(async () => {
        const t = rn.zeros([3]);
        await new Promise((r) => setTimeout(r, 1));
        return rn.add(t, 1);
      }),
    ]);
    expect(inner!.isDisposed).toBe(true);
    expect(r1.itemSync()).toBe(10);
    expect(Array.from(r2.dataSync() as Float32Array)).toEqual([1, 1, 1]);
    r1.dispose();
    r2.dispose();
    expect(rn.memory.stats().tensors).toBe(before);
  });
  test('errors inside tidy still free temporaries', () => {
    const before = rn.memory.stats().tensors;
    expect(() => rn.tidy(() => {
      rn.ones([5]);
      throw new Error('boom');
    })).toThrow('boom');
    expect(rn.memory.stats().tensors).toBe(before);
  });
  test('keep() survives scopes; gradients survive the scope they were made in', () => {
    const w = rn.randn([4], { requiresGrad: true }).keep();
    const k = rn.tidy(() => rn.ones([1]).keep());
    rn.tidy(() => {
      rn.mul(w, w).sum().backward();
    });
    expect(k.isDisposed).toBe(false);
    expect(w.grad!.isDisposed).toBe(false);
    expect(w.grad!.shape).toEqual([4]);
  });
});

describe('saved tensors', () => {
  test('are freed after backward unless retainGraph', () => {
    const x = rn.randn([3, 4], { requiresGrad: true });
    const y = rn.tidy(() => rn.F.softmax(rn.mul(x, x), 1).sum());
    const t0 = rn.memory.stats().tensors;
    y.backward();
    // saved handles (softmax output, mul inputs) were disposed
    expect(rn.memory.stats().tensors).toBeLessThan(t0);
    const z = rn.mul(x, 3).sum();
    z.backward(undefined, { retainGraph: true });
    z.backward();
    expect(Array.from(x.grad!.dataSync() as Float32Array).every((v, i) => Number.isFinite(v) && i >= 0)).toBe(true);
  });
  test('disposing an input after the forward does not break backward', () => {
    const w = rn.randn([2, 3], { requiresGrad: true });
    const x = rn.randn([5, 3]);
    const y = rn.F.linear(x, w).sum();
    x.dispose();
    y.backward();
    expect(w.grad!.shape).toEqual([2, 3]);
  });
});

describe('memory stays flat', () => {
  test('2,000 iterations of forward/backward inside tidy keep live bytes flat', () => {
    rn.manualSeed(3);
    const w1 = rn.randn([8, 1, 3, 3], { std: 0.3, requiresGrad: true }).keep();
    const g = rn.ones([8]).keep().requiresGrad_();
    const b = rn.zeros([8]).keep().requiresGrad_();
    const rm = rn.zeros([8]).keep();
    const rv = rn.ones([8]).keep();
    const fc = rn.randn([10, 8 * 4 * 4], { std: 0.05, requiresGrad: true }).keep();
    const x = rn.randn([4, 1, 8, 8]).keep();
    const y = rn.tensor(Int32Array.from([1, 2, 3, 4])).keep();
    const params = [w1, g, b, fc];
    const step = () => rn.tidy(() => {
      const h = rn.F.maxPool2d(rn.F.relu(rn.F.batchNorm2d(rn.F.conv2d(x, w1, null, { padding: 1 }), rm, rv, g, b)), { kernelSize: 2 });
      const loss = rn.F.crossEntropy(rn.F.linear(h.flatten(1), fc), y);
      loss.backward();
      rn.noGrad(() => {
        for (const p of params) {
          p.addInPlace(p.grad!, -0.01);
          p.grad!.dispose();
          p.grad = null;
        }
      });
    });
    const samples: rn.memory.MemoryStats[] = [];
    for (let i = 1; i <= 2000; i++) {
      step();
      if (i % 250 === 0) {
        rn.sync();
        samples.push(rn.memory.stats());
      }
    }
    // live bytes and handle counts are identical at every checkpoint after the first
    for (const s of samples.slice(1)) {
      expect(s.live).toBe(samples[0].live);
      expect(s.tensors).toBe(samples[0].tensors);
    }
    // the allocator's cache holds what was in flight on the stream queue (bounded by its
    // back-pressure), so it plateaus instead of growing with the iteration count
    const last = samples[samples.length - 1];
    const mid = samples[3];
    expect(last.live + last.cached).toBeLessThanOrEqual((mid.live + mid.cached) * 1.05);
  });
});
