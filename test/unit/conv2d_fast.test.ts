/**
 * The fast CPU convolutions (native/cpu/conv2d_avx512.cc: Winograd F(4x4,3x3) and direct kernels)
 * against a float64 direct convolution written here, forward and both backward passes, in both
 * memory formats. The shapes aim at the code paths: channel counts that are and are not whole
 * 16-channel blocks (NHWC with whole blocks reads Winograd tiles straight from the tensor, only
 * border tiles are padded), images smaller than a tile, sizes that are not multiples of 4, padding
 * 0..2, stride 2, more images than one work item. Tolerance: 1e-4 of the largest |reference|
 * (Winograd's float32 error is ~1e-6..1e-5 of the output magnitude).
 * Backward-data also runs accumulating into a gradient already there (what autograd does where a
 * residual shortcut's gradient meets the conv's): dx = acc + dconv, in acc's storage.
 */
import * as rn from '../../lib';
import { binding } from '../../lib/binding';
import { wrap } from '../../lib/tensor';
import { expectClose } from '../helpers/compare';

const TOL = 1e-4;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}
const randArr = (n: number, r: () => number) => Float32Array.from({ length: n }, r);

/** float64 direct convolution on NCHW arrays: y, and dx / dw for a given dy. */
function reference(x: Float32Array, w: Float32Array, dy: Float32Array | null, N: number, C: number, H: number, W: number, K: number, pad: number, stride: number) {
  const P = Math.floor((H + 2 * pad - 3) / stride) + 1, Q = Math.floor((W + 2 * pad - 3) / stride) + 1;
  const y = new Float64Array(N * K * P * Q), dx = new Float64Array(N * C * H * W), dw = new Float64Array(K * C * 9);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let p = 0; p < P; p++)
        for (let q = 0; q < Q; q++) {
          const yi = ((n * K + k) * P + p) * Q + q;
          const g = dy ? dy[yi] : 0;
          let acc = 0;
          for (let c = 0; c < C; c++)
            for (let r = 0; r < 3; r++) {
              const h = p * stride + r - pad;
              if (h < 0 || h >= H) continue;
              for (let s = 0; s < 3; s++) {
                const ww = q * stride + s - pad;
                if (ww < 0 || ww >= W) continue;
                const xi = ((n * C + c) * H + h) * W + ww, wi = ((k * C + c) * 3 + r) * 3 + s;
                acc += x[xi] * w[wi];
                if (dy) {
                  dx[xi] += g * w[wi];
                  dw[wi] += g * x[xi];
                }
              }
            }
          y[yi] = acc;
        }
  return { y, dx, dw, P, Q };
}

const cases: [number, number, number, number, number, number, number][] = [
  // N, C, H, W, K, pad, stride
  [2, 16, 8, 8, 16, 1, 1],
  [3, 16, 13, 11, 16, 1, 1],
  [1, 32, 5, 7, 32, 1, 1],
  [2, 32, 9, 10, 64, 0, 1],
  [1, 16, 2, 3, 16, 2, 1],
  [2, 48, 6, 6, 24, 1, 1],
  [1, 16, 1, 1, 16, 1, 1],
  [2, 20, 7, 9, 17, 1, 1],
  [5, 16, 16, 16, 32, 1, 1],
  [2, 16, 9, 8, 32, 1, 2],
  [1, 3, 10, 10, 16, 1, 1],
  // filters over 1 MB packed: the direct path splits output channels into chunks per work item
  [2, 256, 5, 5, 256, 1, 1],
  [1, 128, 6, 7, 320, 1, 2],
];

// every algorithm the CPU backend can pick (binding convMode): auto (per-shape choice), Winograd
// wherever it applies, direct kernels only, the im2col + BLAS reference
const MODES = [['auto', 0], ['winograd', 1], ['direct', 2], ['reference', 3]] as const;
afterAll(() => binding().convMode(0));

describe('fast conv2d vs a float64 direct convolution', () => {
  for (const [N, C, H, W, K, pad, stride] of cases) {
    for (const [mode, m] of MODES) for (const layout of ['NCHW', 'NHWC'] as const) {
      test(`x[${N},${C},${H},${W}] w[${K},${C},3,3] pad ${pad} stride ${stride} ${layout} ${mode}`, () => {
        binding().convMode(m);
        const r = lcg(N * 1000 + C * 31 + H * 7 + W + K * 13 + pad + stride * 101);
        const xa = randArr(N * C * H * W, r), wa = randArr(K * C * 9, r);
        const { y, P, Q } = reference(xa, wa, null, N, C, H, W, K, pad, stride);
        const dya = randArr(N * K * P * Q, r);
        const ref = reference(xa, wa, dya, N, C, H, W, K, pad, stride);
        rn.tidy(() => {
          let x = rn.tensor(xa, { shape: [N, C, H, W] });
          let w = rn.tensor(wa, { shape: [K, C, 3, 3] });
          let dy = rn.tensor(dya, { shape: [N, K, P, Q] });
          if (layout === 'NHWC') {
            x = x.toChannelsLast();
            w = w.toChannelsLast();
            dy = dy.toChannelsLast();
          }
          x.requiresGrad = true;
          w.requiresGrad = true;
          const out = rn.F.conv2d(x, w, null, { padding: pad, stride });
          expect(out.shape).toEqual([N, K, P, Q]);
          expectClose(out.contiguous().dataSync() as Float32Array, y, { rtol: TOL, label: 'y' });
          out.backward(dy);
          expectClose(x.grad!.contiguous().dataSync() as Float32Array, ref.dx, { rtol: TOL, label: 'dx' });
          expectClose(w.grad!.contiguous().dataSync() as Float32Array, ref.dw, { rtol: TOL, label: 'dw' });
          // accumulating backward-data: acc + dconv, written into acc's storage
          const acca = randArr(N * C * H * W, r);
          let acc = rn.tensor(acca, { shape: [N, C, H, W] });
          if (layout === 'NHWC') acc = acc.toChannelsLast();
          const params = rn.F.conv2dParams({ padding: pad, stride });
          const res = wrap(binding().conv2dBackwardData(dy.h, w.h, [N, C, H, W], layout === 'NHWC', params, acc.h));
          expectClose(acc.contiguous().dataSync() as Float32Array, ref.dx.map((v, i) => v + acca[i]), { rtol: TOL, label: 'acc + dx' });
          expectClose(res.contiguous().dataSync() as Float32Array, ref.dx.map((v, i) => v + acca[i]), { rtol: TOL, label: 'returned' });
          res.dispose();
        });
      });
    }
  }
});

test('convMode: the selection hook reports and validates its mode', () => {
  expect(binding().convMode(2)).toBe(2);
  expect(binding().convMode()).toBe(2);
  expect(() => binding().convMode(4)).toThrow(expect.objectContaining({ code: 'ERR_RN_RANGE' }));
  expect(binding().convMode(0)).toBe(0);
});

test('accumulate must match the input gradient it is added into', () => {
  rn.tidy(() => {
    const dy = rn.randn([2, 8, 6, 6]), w = rn.randn([8, 4, 3, 3]);
    const p = rn.F.conv2dParams({ padding: 1 });
    const call = (acc: ReturnType<typeof rn.randn>, cl = false) => () => binding().conv2dBackwardData(dy.h, w.h, [2, 4, 6, 6], cl, p, acc.h);
    expect(call(rn.randn([2, 4, 6, 5]))).toThrow(expect.objectContaining({ code: 'ERR_RN_SHAPE' }));
    expect(call(rn.randn([2, 4, 6, 6]), true)).toThrow(expect.objectContaining({ code: 'ERR_RN_ARG', message: expect.stringMatching(/accumulate must be dense in the channels-last layout/) }));
    expect(call(rn.zeros([2, 4, 6, 6], { dtype: 'int32' }))).toThrow(expect.objectContaining({ code: 'ERR_RN_DTYPE' }));
    const gone = rn.randn([2, 4, 6, 6]);
    gone.dispose();
    expect(() => binding().conv2dBackwardData(dy.h, w.h, [2, 4, 6, 6], false, p, gone.h)).toThrow();
  });
});

test('autograd sums a residual input gradient inside the conv kernel (no add op), same result', () => {
  for (const layout of ['NCHW', 'NHWC'] as const) {
    rn.tidy(() => {
      rn.manualSeed(3);
      let x = rn.randn([2, 16, 8, 8]);
      let dy = rn.randn([2, 16, 8, 8]);
      if (layout === 'NHWC') {
        x = x.toChannelsLast();
        dy = dy.toChannelsLast();
      }
      x.requiresGrad = true;
      const w = rn.randn([16, 16, 3, 3]);
      const h = rn.F.relu(x);  // a non-leaf used twice: by the conv and by the shortcut
      const out = rn.add(rn.F.conv2d(h, w, null, { padding: 1 }), h);
      rn.profiler.start();
      out.backward(dy);  // the shortcut's gradient reaches h first, then the conv's is added into it
      const rows = rn.profiler.stop();
      expect(rows.find((r) => r.name === 'add')?.calls ?? 0).toBe(0);
      // reference without autograd: relu'(x) * (dconv(dy) + dy)
      const p = rn.F.conv2dParams({ padding: 1 });
      const dconv = wrap(binding().conv2dBackwardData(dy.h, w.h, [2, 16, 8, 8], layout === 'NHWC', p));
      const sum = rn.add(dconv, dy).contiguous().dataSync() as Float32Array;
      const xs = x.contiguous().dataSync() as Float32Array;
      const ref = Array.from(sum, (v, i) => (xs[i] > 0 ? v : 0));
      expectClose(x.grad!.contiguous().dataSync() as Float32Array, ref, { rtol: 1e-6, label: `${layout} dx` });
    });
  }
});

test('conv2dNtBytes: streamed (non-temporal) outputs equal the cached-store results bit for bit', () => {
  const B = binding();
  const dflt = B.conv2dNtBytes();
  expect(dflt).toBeGreaterThan(0);
  try {
    // [N, C, H, W, K, stride]: whole 16-channel blocks (streamed), and 17 channels (never streamed:
    // partial vectors); through Winograd and the direct kernels (stride 2 backward-data: 4 phases)
    const shapes = [[3, 16, 13, 11, 32, 1], [2, 32, 8, 8, 16, 1], [2, 20, 7, 9, 17, 1], [2, 16, 9, 8, 32, 2], [2, 32, 7, 6, 16, 2]];
    for (const mode of [1, 2]) {
      B.convMode(mode);
      for (const [N, C, H, W, K, stride] of shapes) {
        for (const layout of ['NCHW', 'NHWC'] as const) {
          rn.tidy(() => {
            const r = lcg(N * 7 + C + H + W + K + stride);
            const xa = randArr(N * C * H * W, r), wa = randArr(K * C * 9, r);
            const { y, P, Q } = reference(xa, wa, null, N, C, H, W, K, 1, stride);
            const dya = randArr(N * K * P * Q, r);
            const ref = reference(xa, wa, dya, N, C, H, W, K, 1, stride);
            let x = rn.tensor(xa, { shape: [N, C, H, W] }), dy = rn.tensor(dya, { shape: [N, K, P, Q] });
            const w = rn.tensor(wa, { shape: [K, C, 3, 3] });
            if (layout === 'NHWC') {
              x = x.toChannelsLast();
              dy = dy.toChannelsLast();
            }
            const p = rn.F.conv2dParams({ padding: 1, stride });
            const run = (ntBytes: number) => {
              expect(B.conv2dNtBytes(ntBytes)).toBe(ntBytes);
              const out = wrap(B.conv2dForward(x.h, w.h, null, p)).contiguous().dataSync() as Float32Array;
              const dx = wrap(B.conv2dBackwardData(dy.h, w.h, [N, C, H, W], layout === 'NHWC', p)).contiguous().dataSync() as Float32Array;
              return { out, dx };
            };
            const streamed = run(0), cached = run(1e15);
            const label = `mode ${mode} ${layout} [${N},${C},${H},${W}]->${K} stride ${stride}`;
            expect({ label, out: streamed.out }).toEqual({ label, out: cached.out });
            expect({ label, dx: streamed.dx }).toEqual({ label, dx: cached.dx });
            expectClose(streamed.out, y, { rtol: TOL, label: `${label} y` });
            expectClose(streamed.dx, ref.dx, { rtol: TOL, label: `${label} dx` });
          });
        }
      }
    }
  } finally {
    expect(B.conv2dNtBytes(-1)).toBe(dflt);  // < 0 restores the default
    B.convMode(0);
  }
});
