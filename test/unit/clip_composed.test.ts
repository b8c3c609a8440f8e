/**
 * clipGradNorm for CUDA gradients is composed from device ops (lib/optim/clip.ts clipComposed).
 * Here the same composition runs on CPU tensors and is held to the fused CPU kernel (the
 * PyTorch-parity path, test/unit/optim.test.ts): total norm and clipped gradients within 1e-6
 * relative, for p = 1, 2, 3 and Infinity, clipping and not clipping, a channels-last gradient, an
 * empty one, and NaN propagation.
 */
import * as rn from '../../lib';
import { clipComposed } from '../../lib/optim/clip';
import { expectClose } from '../helpers/compare';

function grads(seed: number, nan = false) {
  rn.manualSeed(seed);
  const a = rn.randn([3, 4]);
  const b = rn.randn([2, 3, 4, 5]).toChannelsLast();
  const c = rn.randn([7]);
  const e = rn.zeros([0, 3]);
  if (nan) a.fill(NaN);
  return [a, b, c, e];
}

for (const p of [1, 2, 3, Infinity]) {
  for (const maxNorm of [0.5, 1e6]) {
    test(`p ${p}, maxNorm ${maxNorm}`, () => {
      rn.tidy(() => {
        const params = grads(7).map((g) => {
          const t = rn.zerosLike(g);
          t.grad = g;
          return t;
        });
        const fused = rn.optim.clipGradNorm(params, maxNorm, p);
        const fusedGrads = params.map((t) => Array.from(t.grad!.contiguous().dataSync() as Float32Array));
        const mine = grads(7);
        const total = clipComposed(mine, maxNorm, p);
        expectClose([total.itemSync()], [fused.itemSync()], { rtol: 1e-6, label: 'total' });
        mine.forEach((g, i) => expectClose(g.contiguous().dataSync() as Float32Array, fusedGrads[i], { rtol: 1e-6, label: `grad ${i}` }));
        expect(mine[1].isChannelsLast()).toBe(true);
      });
    });
  }
}

test('NaN gradients give a NaN norm and NaN gradients, as the fused kernel does', () => {
  rn.tidy(() => {
    const g = grads(3, true);
    const total = clipComposed(g, 1, 2);
    expect(Number.isNaN(total.itemSync())).toBe(true);
    expect(Number.isNaN((g[2].dataSync() as Float32Array)[0])).toBe(true);
    const h = grads(3, true);
    const t2 = clipComposed(h, 1, 2, false);  // norm only: nothing written
    expect(Number.isNaN(t2.itemSync())).toBe(true);
    expect(Number.isFinite((h[2].dataSync() as Float32Array)[0])).toBe(true);
  });
});
