/**
 * Max pooling in channels-last memory (native/cpu/pool.cc maxpool2d_*_cl) against the NCHW
 * kernel: values, indices' effect (the gradient), NaN / -inf / tie rules, padding, stride and
 * ceil mode, channel counts that are and are not multiples of the SIMD width, more than 64
 * channels. The output keeps the input's memory format. Exact equality: both pick the same element.
 */
import * as rn from '../../lib';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const cases: [number[], { kernelSize: number; stride?: number; padding?: number; ceilMode?: boolean }][] = [
  [[2, 16, 9, 9], { kernelSize: 3, stride: 2, padding: 1 }],
  [[1, 64, 12, 12], { kernelSize: 3, stride: 2, padding: 1 }],
  [[2, 70, 7, 6], { kernelSize: 2, stride: 2 }],
  [[3, 5, 8, 7], { kernelSize: 3, stride: 1, padding: 1 }],
  [[1, 130, 5, 5], { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }],
];

describe('maxPool2d channels-last == NCHW', () => {
  cases.forEach(([shape, opts], k) => {
    test(`${JSON.stringify(shape)} ${JSON.stringify(opts)}`, () => {
      rn.tidy(() => {
        const r = lcg(17 + k);
        const n = shape.reduce((a, b) => a * b, 1);
        // small integers make ties common; a few NaN and -inf
        const data = Float32Array.from({ length: n }, () => {
          const u = r();
          return u < 0.01 ? NaN : u < 0.02 ? -Infinity : Math.floor(r() * 5);
        });
        const run = (cl: boolean) => {
          let x = rn.tensor(data, { shape });
          if (cl) x = x.toChannelsLast();
          x.requiresGrad = true;
          const y = rn.F.maxPool2d(x, opts);
          const g = rn.tensor(Float32Array.from({ length: y.numel }, (_, i) => (i % 7) + 1), { shape: y.shape.slice() });
          y.backward(cl ? g.toChannelsLast() : g);
          return { y: Array.from(y.contiguous().dataSync() as Float32Array), dx: Array.from(x.grad!.contiguous().dataSync() as Float32Array), ycl: y.isChannelsLast() && !y.isContiguous() };
        };
        const a = run(false), b = run(true);
        expect(b.ycl).toBe(true);
        expect(b.y).toEqual(a.y);  // toEqual treats NaN as equal to NaN
        expect(b.dx).toEqual(a.dx);
      });
    });
  });
});
