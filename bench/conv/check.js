// Correctness check of the native conv2d kernels (forward, backward-data, backward-weight, NCHW and
// NHWC) against a naive JS convolution, over random configurations (strides, padding, dilation,
// groups, odd sizes, 1x1, depthwise) and the benchmark shapes at small batch.
//   node bench/conv/check.js [count=300] [seed=1]
'use strict';
const { nb, fromArray, read, outSize } = require('./common');
const shapesFile = require('./shapes.json');

let rngState = 1;
function rnd() { rngState = (rngState * 1103515245 + 12345) & 0x7fffffff; return rngState / 0x7fffffff; }
function ri(a, b) { return a + Math.floor(rnd() * (b - a + 1)); }
function randArr(n) { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rnd() * 2 - 1; return a; }

// naive NCHW reference in float64
function refForward(x, w, b, c) {
  const { N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, G } = c, P = c.P, Q = c.Q, Cg = C / G, Kg = K / G;
  const y = new Float64Array(N * K * P * Q);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
    const g = Math.floor(k / Kg);
    for (let p = 0; p < P; p++) for (let q = 0; q < Q; q++) {
      let acc = b ? b[k] : 0;
      for (let cg = 0; cg < Cg; cg++) for (let r = 0; r < R; r++) {
        const h = p * sh - ph + r * dh; if (h < 0 || h >= H) continue;
        for (let s = 0; s < S; s++) {
          const ww = q * sw - pw + s * dw; if (ww < 0 || ww >= W) continue;
          acc += x[((n * C + g * Cg + cg) * H + h) * W + ww] * w[((k * Cg + cg) * R + r) * S + s];
        }
      }
      y[((n * K + k) * P + p) * Q + q] = acc;
    }
  }
  return y;
}
function refBackward(dy, x, w, c) {
  const { N, C, H, W, K, R, S, sh, sw, ph, pw, dh, dw, G } = c, P = c.P, Q = c.Q, Cg = C / G, Kg = K / G;
  const dx = new Float64Array(N * C * H * W), dW = new Float64Array(K * Cg * R * S);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
    const g = Math.floor(k / Kg);
    for (let p = 0; p < P; p++) for (let q = 0; q < Q; q++) {
      const d = dy[((n * K + k) * P + p) * Q + q];
      for (let cg = 0; cg < Cg; cg++) for (let r = 0; r < R; r++) {
        const h = p * sh - ph + r * dh; if (h < 0 || h >= H) continue;
        for (let s = 0; s < S; s++) {
          const ww = q * sw - pw + s * dw; if (ww < 0 || ww >= W) continue;
          const xi = ((n * C + g * Cg + cg) * H + h) * W + ww, wi = ((k * Cg + cg) * R + r) * S + s;
          dx[xi] += d * w[wi];
          dW[wi] += d * x[xi];
        }
      }
    }
  }
  return { dx, dW };
}
function maxErr(got, want) {
  let m = 0, scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m / Math.max(scale, 1e-3);
}
// A channels-last tensor handle with logical shape [N, C, H, W] from NCHW data.
function makeCL(a, shape) {
  const t = fromArray(a, shape);
  const cl = nb.toChannelsLast(t.h);
  nb.dispose(t.h);
  return cl;
}
function runCase(c, label) {
  const { N, C, H, W, K, R, S, G } = c, Cg = C / G;
  c.P = outSize(H, R, c.sh, c.ph, c.dh); c.Q = outSize(W, S, c.sw, c.pw, c.dw);
  if (c.P <= 0 || c.Q <= 0) return null;
  const x = randArr(N * C * H * W), w = randArr(K * Cg * R * S), b = c.bias ? randArr(K) : null;
  const dy = randArr(N * K * c.P * c.Q);
  const yRef = refForward(x, w, b, c), { dx: dxRef, dW: dwRef } = refBackward(dy, x, w, c);
  const params = [c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, G];
  const errs = [];
  for (const cl of [false, true]) {
    const xt = cl ? makeCL(x, [N, C, H, W]) : fromArray(x, [N, C, H, W]);
    const dyt = cl ? makeCL(dy, [N, K, c.P, c.Q]) : fromArray(dy, [N, K, c.P, c.Q]);
    const wt = fromArray(w, [K, Cg, R, S]), bt = b ? fromArray(b, [K]) : null;
    const y = nb.conv2dForward(xt.h, wt.h, bt ? bt.h : null, params);
    const dx = nb.conv2dBackwardData(dyt.h, wt.h, [N, C, H, W], cl, params);
    const dW = nb.conv2dBackwardWeight(dyt.h, xt.h, [K, Cg, R, S], params);
    // readSync returns logical (NCHW) order for either memory format; check the format is what we asked
    if (cl && C > 1 && H * W > 1 && !(y.strides[1] === 1 && dx.strides[1] === 1)) throw new Error('channels-last result expected ' + JSON.stringify([y.strides, dx.strides, c]));
    errs.push(maxErr(read(y), yRef), maxErr(read(dx), dxRef), maxErr(read(dW), dwRef));
    for (const t of [xt, dyt, wt, bt, y, dx, dW]) if (t) nb.dispose(t.h);
  }
  const worst = Math.max(...errs);
  return { worst, errs };
}

function main() {
  const count = +(process.argv[2] || 300);
  rngState = +(process.argv[3] || 1);
  const cases = [];
  for (const [name, , C, K, H, W, R, S, st, pad] of shapesFile.shapes)
    cases.push({ label: name, N: 2, C, K, H, W, R, S, sh: st, sw: st, ph: pad, pw: pad, dh: 1, dw: 1, G: 1, bias: true });
  // the fixture-test flavours
  const fixed = [
    [1, 3, 4, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1], [2, 4, 6, 9, 9, 3, 3, 1, 1, 2, 2, 2, 2, 2], [2, 4, 4, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4],
    [2, 8, 16, 6, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1], [1, 5, 7, 11, 4, 2, 3, 1, 2, 0, 1, 1, 1, 1], [3, 17, 33, 13, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1],
    [2, 64, 64, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1, 1], [2, 16, 32, 16, 16, 1, 1, 2, 2, 0, 0, 1, 1, 1], [1, 32, 96, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 2],
    [1, 3, 8, 20, 20, 7, 7, 2, 2, 3, 3, 1, 1, 1], [2, 48, 80, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1], [1, 16, 16, 3, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1],
    [1, 8, 8, 10, 10, 3, 3, 3, 3, 1, 1, 1, 1, 1], [1, 8, 8, 12, 12, 3, 3, 1, 1, 0, 0, 2, 3, 1], [1, 4, 4, 6, 6, 1, 1, 1, 1, 2, 2, 1, 1, 1],
    // Winograd-eligible (3x3, stride 1, dilation 1, groups 1, C and K >= 8): ragged tiles, padding 0 / 2,
    // channel tails, several images per work item, past the 128 x 128 backward-weight limit
    [3, 8, 8, 5, 7, 3, 3, 1, 1, 0, 0, 1, 1, 1], [2, 9, 13, 11, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1], [2, 24, 40, 13, 11, 3, 3, 1, 1, 2, 2, 1, 1, 1],
    [5, 64, 64, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1], [1, 130, 70, 9, 10, 3, 3, 1, 1, 1, 0, 1, 1, 1], [1, 144, 136, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1],
    [2, 16, 16, 34, 30, 3, 3, 1, 1, 1, 1, 1, 1, 1], [1, 3, 16, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1], [2, 2, 32, 9, 9, 5, 5, 1, 1, 2, 2, 1, 1, 1],
  ];
  for (const [N, C, K, H, W, R, S, sh, sw, ph, pw, dh, dw, G] of fixed)
    cases.push({ label: 'fixed', N, C, K, H, W, R, S, sh, sw, ph, pw, dh, dw, G, bias: rnd() < 0.5 });
  while (cases.length < count + shapesFile.shapes.length + fixed.length) {
    const G = [1, 1, 1, 2, 3, 4][ri(0, 5)];
    const Cg = ri(1, 24), Kg = ri(1, 40);
    const R = [1, 2, 3, 3, 3, 5][ri(0, 5)], S = rnd() < 0.8 ? R : [1, 2, 3][ri(0, 2)];
    const c = { label: 'random', N: ri(1, 3), C: Cg * G, K: Kg * G, H: ri(1, 19), W: ri(1, 23), R, S,
      sh: ri(1, 3), sw: ri(1, 3), ph: ri(0, 2), pw: ri(0, 2), dh: ri(1, 2), dw: ri(1, 2), G, bias: rnd() < 0.5 };
    if (rnd() < 0.5) { c.sw = c.sh; c.pw = c.ph; c.dw = c.dh; }
    cases.push(c);
  }
  let bad = 0, ran = 0, worstAll = 0;
  for (const c of cases) {
    const r = runCase(c);
    if (!r) continue;
    ran++;
    worstAll = Math.max(worstAll, r.worst);
    if (!(r.worst < 1e-4)) {
      bad++;
      if (bad <= 20) console.log('MISMATCH', JSON.stringify(c), r.errs.map((e) => e.toExponential(2)).join(' '));
    }
  }
  console.log(`conv2d check: ${ran} cases, ${bad} mismatches, worst relative error ${worstAll.toExponential(2)}` +
    ` (simd ${nb.buildInfo().simd}, impl ${process.env.RESNODE_CONV || 'auto'})`);
  process.exit(bad ? 1 : 0);
}
main();
