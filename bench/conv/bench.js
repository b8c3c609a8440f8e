// conv2d CPU benchmark: forward and backward (backward-data + backward-weight) for the shapes in
// shapes.json, NCHW and channels-last, through the native binding. Times are the minimum over
// single calls (each call ends with syncDevice), which is robust against other processes on the
// machine. Prints one JSON line per (shape, layout), the same fields as torch_ref.py.
//   node bench/conv/bench.js [shape names...]
// env: RN_BENCH_THREADS (default 2), RN_BENCH_SECONDS per measurement (default 1),
//      RESNODE_CONV=reference to time the original im2col + OpenBLAS implementation,
//      RN_BENCH_SPLIT=1 to also time backward-data and backward-weight separately.
'use strict';
const { nb, randn, outSize } = require('./common');
const shapes = require('./shapes.json').shapes;

const threads = +(process.env.RN_BENCH_THREADS || 2);
const seconds = +(process.env.RN_BENCH_SECONDS || 1);
nb.setNumThreads(threads);
const only = process.argv.slice(2);

// Minimum over single calls, taken over `windows` short windows that alternate between the
// functions: a burst of load from another process then costs one window of one function only.
function bestMsAll(fns, windows = 6) {
  for (const f of fns) { f(); f(); }
  const best = fns.map(() => Infinity);
  const per = BigInt(Math.round((seconds / windows) * 1e9));
  for (let wi = 0; wi < windows; wi++)
    fns.forEach((fn, i) => {
      const tEnd = process.hrtime.bigint() + per;
      let n = 0;
      while (n < 2 || process.hrtime.bigint() < tEnd) {
        const t0 = process.hrtime.bigint();
        fn();
        const t = Number(process.hrtime.bigint() - t0) / 1e6;
        if (t < best[i]) best[i] = t;
        n++;
      }
    });
  return best;
}

for (const [name, N, C, K, H, W, R, S, st, pad] of shapes) {
  if (only.length && !only.includes(name)) continue;
  const P = outSize(H, R, st, pad, 1), Q = outSize(W, S, st, pad, 1);
  const flop = 2 * N * K * C * R * S * P * Q;
  const params = [st, st, pad, pad, 1, 1, 1];
  for (const layout of ['nchw', 'nhwc']) {
    const cl = layout === 'nhwc';
    const conv = (t) => { if (!cl) return t; const o = nb.toChannelsLast(t.h); nb.dispose(t.h); return o; };
    const x = conv(randn([N, C, H, W], 1)), w = randn([K, C, R, S], 2, 0.1), dy = conv(randn([N, K, P, Q], 3));
    nb.syncDevice(0);
    const fwd = () => { const y = nb.conv2dForward(x.h, w.h, null, params); nb.syncDevice(0); nb.dispose(y.h); };
    const bwd = () => {
      const dx = nb.conv2dBackwardData(dy.h, w.h, [N, C, H, W], cl, params);
      const dw = nb.conv2dBackwardWeight(dy.h, x.h, [K, C, R, S], params);
      nb.syncDevice(0);
      nb.dispose(dx.h); nb.dispose(dw.h);
    };
    const fns = [fwd, bwd];
    if (process.env.RN_BENCH_SPLIT) {  // backward-data and backward-weight timed on their own
      fns.push(() => {
        const dx = nb.conv2dBackwardData(dy.h, w.h, [N, C, H, W], cl, params); nb.syncDevice(0); nb.dispose(dx.h);
      });
      fns.push(() => {
        const dw = nb.conv2dBackwardWeight(dy.h, x.h, [K, C, R, S], params); nb.syncDevice(0); nb.dispose(dw.h);
      });
    }
    const [fms, bms, dms, wms] = bestMsAll(fns);
    const out = { name, layout, fwd_ms: +fms.toFixed(3), bwd_ms: +bms.toFixed(3),
      fwd_gflops: +(flop / fms / 1e6).toFixed(1), bwd_gflops: +(2 * flop / bms / 1e6).toFixed(1) };
    if (dms !== undefined) { out.dgrad_ms = +dms.toFixed(3); out.wgrad_ms = +wms.toFixed(3); }
    console.log(JSON.stringify(out));
    for (const t of [x, w, dy]) nb.dispose(t.h);
  }
}
