#!/usr/bin/env node
'use strict';
/**
 * Fused BatchNorm (+add) + ReLU kernels on the GPU (native/cuda/bn_add_relu.cu): time per call and
 * GB/s, against this GPU's device-to-device copy bandwidth measured here, and against the unfused
 * op sequence (batchNorm2d, add, relu) on the same GPU, for each kernel generation asked for
 * (v1: the first kernels, v2: the current ones; RESNODE_CUDA_BN picks the default of the library).
 * Every case is validated against the CPU fused kernel first (float32 1e-4; bf16 storage 2e-2).
 *
 *   node bench/gpu/bench_kernels.js [--json FILE] [--reps 20] [--bn v1,v2] [--quick] [--dry-run]
 *
 * Validation. The CPU reference runs on the very inputs the GPU gets: with bf16 storage the inputs
 * are rounded to bf16 first (x, residual, dy), and the reference backward is given the GPU's own y
 * (as float32), so both sides use the same ReLU mask. (The first version compared with a CPU run on
 * the unrounded inputs: wherever rounding x moved a pre-activation across 0 the mask differed, and
 * such an element's dx differs by gamma * invstd * dy -- about half of max |dx| -- so every bf16 row
 * read ~0.5 "error" whatever the kernel did. A CPU model of an exact bf16 kernel gives the same.)
 *
 * Bytes counted (what the passes must move; E elements of `es` bytes), the same for both generations,
 * so GB/s compares them directly (v2's backward with a residual moves 7 E, not 8):
 *   forward  (train)  x twice (statistics, then normalise) + residual + y          = (3 [+1]) E es
 *   backward          dy, y, x twice (sums, then dx) + dx [+ dresidual]           = (7 [+1]) E es
 * Copy bandwidth: a 256 MiB tensor cloned on the device (cudaMemcpyAsync), read + write counted.
 * Times, two per measurement:
 *   ms     wall time per call over `reps` back-to-back calls between two synchronisations, outputs
 *          disposed after each call (the caching allocator reuses them; holding them all made the
 *          first case of each size pay cudaMalloc inside the loop): what a training step sees,
 *          launch and binding overhead included (it dominates small shapes);
 *   gpuMs  GPU time per call between two events, with a spin kernel queued first so that every
 *          launch is queued before the GPU reaches them: kernel time alone. GB/s and % of copy
 *          use gpuMs (`hostBound` marks a run where the queue ran dry, gpuMs an upper bound then).
 */
const { load, flags, writeJson, targetDevice } = require('./common');

const f = flags();
const { rn, binding } = load();
const device = targetDevice(rn, f);
const onGpu = device === 'cuda';
const reps = Number(f.reps || (f['dry-run'] ? 1 : 20));
const B = () => binding();
const W = (n) => new rn.Tensor(n);
const hasTimer = onGpu && typeof B()._cudaTimerBegin === 'function';
const hasVersion = onGpu && typeof B()._cudaBnAddReluVersion === 'function';

function sync() {
  if (onGpu) rn.cuda.synchronize();
  else rn.sync();
}
const disposeAll = (ts) => ts.forEach((t) => t && t.dispose());
/** { ms, gpuMs, hostBound } of fn() (returns tensors, disposed at once) over n calls */
function time(fn, n = reps) {
  for (let i = 0; i < Math.min(3, n); i++) disposeAll(fn());
  sync();
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) disposeAll(fn());
  sync();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
  if (!hasTimer) return { ms, gpuMs: ms, hostBound: null };
  const spin = Math.min(500, Math.max(2, 2 * ms * n));  // longer than queueing n calls takes
  B()._cudaTimerBegin(spin);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) disposeAll(fn());
  const enqueueMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const gpuMs = B()._cudaTimerEnd() / n;
  return { ms, gpuMs, hostBound: enqueueMs > spin };
}

function copyBandwidth() {
  const n = f['dry-run'] ? 1 << 20 : 64 << 20;  // 256 MiB of float32
  const x = rn.zeros([n], { device });
  const t = time(() => [rn.clone(x)], f['dry-run'] ? 1 : 10);
  x.dispose();
  return { bytes: 8 * n, ms: t.gpuMs, wallMs: t.ms, gbps: (8 * n) / (t.gpuMs * 1e6) };
}

/** max_i |a_i - b_i| / max(1, max_i |b_i|) (test/helpers/compare.ts's rule) */
function maxRel(a, b) {
  const x = a.contiguous().dataSync(), y = b.contiguous().dataSync();
  let scale = 1, e = 0;
  for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]));
  for (let i = 0; i < y.length; i++) e = Math.max(e, Math.abs(x[i] - y[i]) / scale);
  return e;
}

function versionsAsked() {
  if (!onGpu) return ['cpu'];
  const v = String(f.bn || (hasVersion ? 'v1,v2' : 'default')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of v) if (!['v1', 'v2', 'default'].includes(s)) throw new Error(`--bn: expected v1, v2 or default but received ${s}`);
  if (!hasVersion && v.some((s) => s !== 'default')) throw new Error('--bn: this addon has no _cudaBnAddReluVersion (an older build)');
  return v;
}
function useVersion(v) {
  if (!hasVersion) return v;
  B()._cudaBnAddReluVersion(v === 'v1' ? 1 : v === 'v2' ? 2 : 0);
  return `v${B()._cudaBnAddReluVersion()}`;
}

function main() {
  const copy = copyBandwidth();
  console.log(`device ${onGpu ? rn.cuda.properties().name : 'cpu (dry run)'}: D2D copy ${copy.gbps.toFixed(0)} GB/s (${copy.ms.toFixed(3)} ms GPU for ${(copy.bytes / 2 ** 20).toFixed(0)} MiB read+written)` +
    `${hasTimer ? '' : ' (no GPU timer: wall times)'}`);
  const shapes = f.quick || f['dry-run'] ? [[8, 16, 16, 16]] : [[32, 64, 56, 56], [128, 16, 32, 32], [128, 64, 8, 8], [64, 256, 14, 14]];
  const dtypes = onGpu ? ['float32', 'bfloat16'] : ['float32'];
  const versions = versionsAsked();
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
          // device inputs in the storage dtype, and their exact values as float32 on the CPU
          const st = (t) => (t ? (dtype === 'float32' ? t.to(device) : t.to(device).to(dtype)) : null);
          const f32 = (t) => (dtype === 'float32' ? t : t.to('float32'));
          const host = (t) => (t ? f32(t).to('cpu') : null);
          const x0 = mk(), r0 = residual ? mk() : null, dy0 = mk();
          const x = st(x0), r = st(r0), dy = st(dy0);
          const xc = host(x), rc = host(r), dyc = host(dy);
          const w = rn.rand([C], { low: 0.5, high: 1.5 }), b = rn.randn([C]);
          const wg = w.to(device), bg = b.to(device);
          const tol = dtype === 'float32' ? 1e-4 : 2e-2;
          const [yc, mc, ic] = B().bnAddReluForward(xc.h, rc ? rc.h : null, w.h, b.h, rn.zeros([C]).h, rn.ones([C]).h, true, 0.1, 1e-5).map(W);
          const fwdBytes = (3 + (residual ? 1 : 0)) * E * es, bwdBytes = (7 + (residual ? 1 : 0)) * E * es;
          const label = `${residual ? 'bn+add+relu' : 'bn+relu'} ${shape.join('x')} ${layout} ${dtype}`;
          for (const asked of versions) {
            const version = onGpu ? useVersion(asked) : 'cpu';
            const rmg = rn.zeros([C], { device }), rvg = rn.ones([C], { device });
            const [yg, mg, ig] = fwdG(x.h, r ? r.h : null, wg.h, bg.h, rmg.h, rvg.h, true, 0.1, 1e-5).map(W);
            const [dxg, drg, dgg, dbg] = bwdG(dy.h, yg.h, x.h, wg.h, mg.h, ig.h, true, residual).map((n) => n && W(n));
            // the reference backward with the device's y: the same ReLU mask on both sides
            const yh = host(yg);
            const [dxc, drc, dgc, dbc] = B().bnAddReluBackward(dyc.h, yh.h, xc.h, w.h, mc.h, ic.h, true, residual).map((n) => n && W(n));
            const err = {
              y: maxRel(f32(yg), yc), mean: maxRel(mg, mc), invstd: maxRel(ig, ic),
              dx: maxRel(f32(dxg), dxc), dgamma: maxRel(dgg, dgc), dbeta: maxRel(dbg, dbc),
            };
            if (residual) err.dr = maxRel(f32(drg), drc);
            const valid = Object.values(err).every((e) => e <= tol);
            const fwd = time(() => fwdG(x.h, r ? r.h : null, wg.h, bg.h, rmg.h, rvg.h, true, 0.1, 1e-5).map(W));
            const bwd = time(() => bwdG(dy.h, yg.h, x.h, wg.h, mg.h, ig.h, true, residual).map((n) => n && W(n)));
            // unfused reference on the same device (float32 only: batchNorm2d is float32)
            let unfused = null;
            if (dtype === 'float32')
              unfused = time(() => {
                const [y0, m0, i0] = B().batchNormForward(x.h, wg.h, bg.h, rmg.h, rvg.h, true, 0.1, 1e-5).map((n) => n && W(n));
                const y1 = r ? rn.add(y0, r) : y0;
                const y2 = rn.F.relu(y1);
                return [y0, m0, i0, r ? y1 : null, y2];
              });
            const row = {
              key: `${label}${versions.length > 1 ? ` ${version}` : ''}`,
              shape, layout, residual, dtype, version, valid, err, tol,
              errY: err.y, errDx: err.dx,
              fwdMs: fwd.gpuMs, bwdMs: bwd.gpuMs, fwdWallMs: fwd.ms, bwdWallMs: bwd.ms,
              hostBound: fwd.hostBound || bwd.hostBound,
              unfusedFwdMs: unfused ? unfused.gpuMs : null, unfusedFwdWallMs: unfused ? unfused.ms : null,
              fwdGBps: fwdBytes / (fwd.gpuMs * 1e6), bwdGBps: bwdBytes / (bwd.gpuMs * 1e6),
            };
            row.fwdPctCopy = (100 * row.fwdGBps) / copy.gbps;
            row.bwdPctCopy = (100 * row.bwdGBps) / copy.gbps;
            results.push(row);
            const worst = Object.entries(err).sort((p, q) => q[1] - p[1])[0];
            console.log(`${valid ? 'ok ' : 'BAD'} ${row.key.padEnd(44)} fwd ${row.fwdMs.toFixed(3)} ms ${row.fwdGBps.toFixed(0).padStart(5)} GB/s (${row.fwdPctCopy.toFixed(0)}%)` +
              `${unfused ? ` [unfused ${unfused.gpuMs.toFixed(3)}]` : ''}  bwd ${row.bwdMs.toFixed(3)} ms ${row.bwdGBps.toFixed(0).padStart(5)} GB/s (${row.bwdPctCopy.toFixed(0)}%)` +
              `  wall ${fwd.ms.toFixed(3)}/${bwd.ms.toFixed(3)} ms${row.hostBound ? ' (host-bound)' : ''}` +
              `  err y ${err.y.toExponential(1)} dx ${err.dx.toExponential(1)} worst ${worst[0]} ${worst[1].toExponential(1)}`);
            disposeAll([rmg, rvg, yg, mg, ig, dxg, drg, dgg, dbg, yh, dxc, drc, dgc, dbc]);
          }
          disposeAll([x0, r0, dy0, x, r, dy, xc, rc, dyc, w, b, wg, bg, yc, mc, ic]);
        }
  if (hasVersion) useVersion('default');
  // v2 / v1 per case, when both ran
  const speedups = [];
  for (const a of results.filter((q) => q.version === 'v2')) {
    const o = results.find((q) => q.version === 'v1' && q.shape.join() === a.shape.join() && q.layout === a.layout && q.residual === a.residual && q.dtype === a.dtype);
    if (o) speedups.push({ case: a.key.replace(/ v2$/, ''), fwd: o.fwdMs / a.fwdMs, bwd: o.bwdMs / a.bwdMs });
  }
  if (speedups.length) {
    console.log('v1 time / v2 time (GPU):');
    for (const s of speedups) console.log(`  ${s.case.padEnd(40)} fwd ${s.fwd.toFixed(2)}x  bwd ${s.bwd.toFixed(2)}x`);
  }
  const out = { device: onGpu ? rn.cuda.properties() : 'cpu (dry run)', dryRun: !onGpu, reps, gpuTimer: hasTimer, versions, copy, results, speedups };
  writeJson(f.json, out);
  if (results.some((q) => !q.valid)) process.exitCode = 1;
}

try {
  main();
} catch (e) {
  console.error(`bench_kernels: ${e.code || e.name}: ${e.message}`);
  process.exitCode = 2;
}
