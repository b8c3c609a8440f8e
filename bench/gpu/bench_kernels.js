#!/usr/bin/env node
'use strict';
/**
 * Fused BatchNorm (+add) + ReLU kernels on the GPU (native/cuda/bn_add_relu.cu): time per call and
 * GB/s, against this GPU's device-to-device copy bandwidth measured here, and against the unfused
 * op sequence (batchNorm2d, add, relu) on the same GPU. Every case is validated against the CPU
 * fused kernel first (float32 1e-4; bf16 storage 2e-2).
 *
 *   node bench/gpu/bench_kernels.js [--json FILE] [--reps 20] [--quick] [--dry-run]
 *
 * Bytes counted (what each pass must move; E elements of `es` bytes):
 *   forward  (train)  x twice (statistics, then normalise) + residual + y          = (3 [+1]) E es
 *   backward          dy, y, x twice (sums, then dx) + dx [+ dresidual]           = (7 [+1]) E es
 * Copy bandwidth: a 256 MiB tensor cloned on the device (cudaMemcpyAsync), read + write counted.
 * Times: the mean over `reps` back-to-back calls between two synchronisations (launch overhead
 * included, as a training step sees it).
 */
const { load, flags, writeJson, targetDevice } = require('./common');

const f = flags();
const { rn, binding } = load();
const device = targetDevice(rn, f);
const onGpu = device === 'cuda';
const reps = Number(f.reps || (f['dry-run'] ? 1 : 20));
const B = () => binding();
const W = (n) => new rn.Tensor(n);

function sync() {
  if (onGpu) rn.cuda.synchronize();
  else rn.sync();
}
/** mean ms of fn() over reps, fn returns tensors to dispose */
function time(fn, n = reps) {
  for (let i = 0; i < Math.min(3, n); i++) fn().forEach((t) => t && t.dispose());
  sync();
  const t0 = process.hrtime.bigint();
  const outs = [];
  for (let i = 0; i < n; i++) outs.push(...fn());
  sync();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
  outs.forEach((t) => t && t.dispose());
  return ms;
}

function copyBandwidth() {
  const n = f['dry-run'] ? 1 << 20 : 64 << 20;  // 256 MiB of float32
  const x = rn.zeros([n], { device });
  const ms = time(() => [rn.clone(x)], f['dry-run'] ? 1 : 10);
  x.dispose();
  return { bytes: 8 * n, ms, gbps: (8 * n) / (ms * 1e6) };
}

function maxRel(a, b) {
  const x = a.dataSync(), y = b.dataSync();
  let scale = 1, e = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]));
  for (let i = 0; i < y.length; i++) e = Math.max(e, Math.abs(x[i] - y[i]) / scale);
  return e;
}

function main() {
  const copy = copyBandwidth();
  console.log(`device ${onGpu ? rn.cuda.properties().name : 'cpu (dry run)'}: D2D copy ${copy.gbps.toFixed(0)} GB/s (${copy.ms.toFixed(3)} ms for ${(copy.bytes / 2 ** 20).toFixed(0)} MiB read+written)`);
  const shapes = f.quick || f['dry-run'] ? [[8, 16, 16, 16]] : [[32, 64, 56, 56], [128, 16, 32, 32], [128, 64, 8, 8], [64, 256, 14, 14]];
  const dtypes = onGpu ? ['float32', 'bfloat16'] : ['float32'];
  const results = [];
  const fwdG = onGpu ? B()._cudaBnAddReluForward : B().bnAddReluForward;
  const bwdG = onGpu ? B()._cudaBnAddReluBackward : B().bnAddReluBackward;
  for (const shape of shapes)
    for (const layout of ['NCHW', 'NHWC'])
      for (const residual of [true, false])
        for (const dtype of dtypes) {
          const C = shape[1], E = shape.reduce((a, b) => a * b, 1), es = dtype === 'float32' ? 4 : 2;
          const mk = () => {
            let t = rn.randn(shape);
            if (layout === 'NHWC') t = t.toChannelsLast();
            return t;
          };
          const xc = mk(), rc = residual ? mk() : null, dyc = mk();
          const w = rn.rand([C], { low: 0.5, high: 1.5 }), b = rn.randn([C]);
          const rm = rn.zeros([C]), rv = rn.ones([C]);
          const st = (t) => (t ? (dtype === 'float32' ? t.to(device) : t.to(device).to(dtype)) : null);
          const x = st(xc), r = st(rc), dy = st(dyc);
          const wg = w.to(device), bg = b.to(device), rmg = rm.to(device), rvg = rv.to(device);
          // validate against the CPU fused kernel
          const [yc, mc, ic] = B().bnAddReluForward(xc.h, rc ? rc.h : null, w.h, b.h, rm.h, rv.h, true, 0.1, 1e-5).map(W);
          const [yg, mg, ig] = fwdG(x.h, r ? r.h : null, wg.h, bg.h, rmg.h, rvg.h, true, 0.1, 1e-5).map(W);
          const [dxc] = B().bnAddReluBackward(dyc.h, yc.h, xc.h, w.h, mc.h, ic.h, true, residual).map((n) => n && W(n));
          const [dxg] = bwdG(dy.h, yg.h, x.h, wg.h, mg.h, ig.h, true, residual).map((n) => n && W(n));
          const f32 = (t) => (dtype === 'float32' ? t : t.to('float32'));
          const tol = dtype === 'float32' ? 1e-4 : 2e-2;
          // bf16: compare with the CPU run on unrounded inputs, so the error includes the input rounding
          const errY = maxRel(f32(yg).contiguous(), yc.contiguous()), errDx = maxRel(f32(dxg).contiguous(), dxc.contiguous());
          const valid = errY <= tol && errDx <= tol;
          const fwdMs = time(() => fwdG(x.h, r ? r.h : null, wg.h, bg.h, rmg.h, rvg.h, true, 0.1, 1e-5).map(W));
          const bwdMs = time(() => bwdG(dy.h, yg.h, x.h, wg.h, mg.h, ig.h, true, residual).map((n) => n && W(n)));
          // unfused reference on the same device (float32 only: batchNorm2d is float32)
          let unfusedFwdMs = null;
          if (dtype === 'float32')
            unfusedFwdMs = time(() => {
              const [y0, m0, i0] = B().batchNormForward(x.h, wg.h, bg.h, rmg.h, rvg.h, true, 0.1, 1e-5).map((n) => n && W(n));
              const y1 = r ? rn.add(y0, r) : y0;
              const y2 = rn.F.relu(y1);
              return [y0, m0, i0, r ? y1 : null, y2];
            });
          const fwdBytes = (3 + (residual ? 1 : 0)) * E * es, bwdBytes = (7 + (residual ? 1 : 0)) * E * es;
          const row = {
            key: `${residual ? 'bn+add+relu' : 'bn+relu'} ${shape.join('x')} ${layout} ${dtype}`,
            shape, layout, residual, dtype, valid, errY, errDx, tol,
            fwdMs, bwdMs, unfusedFwdMs,
            fwdGBps: fwdBytes / (fwdMs * 1e6), bwdGBps: bwdBytes / (bwdMs * 1e6),
          };
          row.fwdPctCopy = (100 * row.fwdGBps) / copy.gbps;
          row.bwdPctCopy = (100 * row.bwdGBps) / copy.gbps;
          results.push(row);
          console.log(`${valid ? 'ok ' : 'BAD'} ${row.key.padEnd(40)} fwd ${fwdMs.toFixed(3)} ms ${row.fwdGBps.toFixed(0)} GB/s (${row.fwdPctCopy.toFixed(0)}% of copy)` +
            `${unfusedFwdMs ? ` [unfused ${unfusedFwdMs.toFixed(3)} ms]` : ''}  bwd ${bwdMs.toFixed(3)} ms ${row.bwdGBps.toFixed(0)} GB/s (${row.bwdPctCopy.toFixed(0)}%)` +
            `  err y ${errY.toExponential(1)} dx ${errDx.toExponential(1)}`);
          for (const t of [xc, rc, dyc, w, b, rm, rv, x, r, dy, wg, bg, rmg, rvg, yc, mc, ic, yg, mg, ig, dxc, dxg]) if (t) t.dispose();
        }
  const out = { device: onGpu ? rn.cuda.properties() : 'cpu (dry run)', dryRun: !onGpu, reps, copy, results };
  writeJson(f.json, out);
  if (results.some((r) => !r.valid)) process.exitCode = 1;
}

try {
  main();
} catch (e) {
  console.error(`bench_kernels: ${e.code || e.name}: ${e.message}`);
  process.exitCode = 2;
}
