#!/usr/bin/env node
'use strict';
/**
 * Collects what bench/gpu/check.sh wrote into OUTDIR (steps.tsv and the per-step JSON files) into
 * one OUTDIR/check.json and a readable OUTDIR/check.txt.
 *   node bench/gpu/report.js OUTDIR
 */
const fs = require('fs');
const path = require('path');

const out = process.argv[2];
if (!out) {
  console.error('usage: node bench/gpu/report.js OUTDIR');
  process.exit(2);
}
const read = (f) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(out, f), 'utf8'));
  } catch {
    return null;
  }
};
const text = (f) => {
  try {
    return fs.readFileSync(path.join(out, f), 'utf8');
  } catch {
    return '';
  }
};

const steps = text('steps.tsv').trim().split('\n').filter(Boolean).map((l) => {
  const [name, status, seconds, ...note] = l.split('\t');
  return { name, status, seconds: Number(seconds), note: note.join('\t') };
});
const env = read('env.json') || {};
const device = read('device.json');
const tests = read('tests.json');
const kernels = read('kernels.json');
const training = [];
// rows written by check.sh's train_row (NAME -> train_NAME.json / torch_NAME.json); the last is
// the issue's target: ResNet-50 bf16 channels-last at >= 1.0x PyTorch eager
const TARGET = { row: 'resnet50_bf16_cl', ratio: 1.0 };
for (const m of ['resnet20', 'resnet50', 'resnet50_bf16_cl']) {
  const ours = read(`train_${m}.json`), torch = read(`torch_${m}.json`);
  if (!ours && !torch) continue;
  const ratio = ours && torch && ours.imagesPerSec && torch.imagesPerSec ? ours.imagesPerSec / torch.imagesPerSec : null;
  training.push({
    model: m,
    resnode: ours,
    torch,
    ratio,
    ...(m === TARGET.row ? { target: `>= ${TARGET.ratio.toFixed(1)}x PyTorch eager`, meetsTarget: ratio === null || (ours && ours.dryRun) ? null : ratio >= TARGET.ratio } : {}),
  });
}
const failedSteps = steps.filter((s) => s.status !== 'ok' && s.status !== 'skipped');
const report = {
  generated: new Date().toISOString(),
  dryRun: !!env.dryRun,
  ok: failedSteps.length === 0 && (!tests || tests.failed === 0),
  env,
  steps,
  device,
  abiCheck: steps.find((s) => s.name === 'abi-check') || null,
  tests: tests && {
    passed: tests.passed, failed: tests.failed, skipped: tests.skipped, ms: tests.ms, tolerances: tests.tolerances,
    failures: tests.cases.filter((c) => !c.ok), worst: tests.cases.filter((c) => c.worst).map((c) => ({ name: c.name, ...c.worst })),
    libraries: tests.libraries, memory: tests.memory,
  },
  kernels,
  training,
};
fs.writeFileSync(path.join(out, 'check.json'), JSON.stringify(report, null, 2) + '\n');

const L = [];
L.push(`resnode GPU check ${report.generated}${report.dryRun ? '  (DRY RUN: no GPU was used)' : ''}`);
L.push(`result: ${report.ok ? 'OK' : 'FAILED'}`);
if (env.gpu) L.push(`gpu: ${env.gpu}`);
if (env.node) L.push(`node ${env.node}, nvcc ${env.nvcc || '?'}, cmake ${env.cmake || '?'}, torch ${env.torch || 'absent'}`);
L.push('');
L.push('steps:');
for (const s of steps) L.push(`  ${s.status.padEnd(8)} ${s.name.padEnd(22)} ${String(s.seconds).padStart(5)} s  ${s.note}`);
if (device) {
  L.push('');
  L.push(`device: ${device.status}`);
  for (const l of device.libraries || []) L.push(`  ${l.name}: ${l.loaded ? `${l.path} (version ${l.version})` : `NOT LOADED: ${l.error}`}`);
}
if (report.tests) {
  const t = report.tests;
  L.push('');
  L.push(`tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped (${(t.ms / 1000).toFixed(1)} s); tolerances ${JSON.stringify(t.tolerances)}`);
  for (const c of t.failures) {
    L.push(`  FAIL ${c.name}${c.error ? `: ${c.error.split('\n')[0]}` : ''}`);
    for (const k of c.failures || []) L.push(`       ${k.name}: err ${k.err} > tol ${k.tol}`);
  }
  const worst = t.worst.filter((w) => w.tol > 0).sort((a, b) => b.err / b.tol - a.err / a.tol).slice(0, 8);
  if (worst.length) L.push('  closest to tolerance:');
  for (const w of worst) L.push(`    ${(w.err / w.tol).toFixed(3)} of tol  ${w.name}: ${Number(w.err).toExponential(2)} (tol ${w.tol})`);
}
if (kernels && kernels.results) {
  L.push('');
  L.push(`fused BN kernels (copy bandwidth ${kernels.copy.gbps.toFixed(0)} GB/s, read+write):`);
  for (const r of kernels.results)
    L.push(`  ${r.valid ? 'ok ' : 'BAD'} ${r.key.padEnd(40)} fwd ${r.fwdMs.toFixed(3)} ms ${r.fwdGBps.toFixed(0).padStart(5)} GB/s ${r.fwdPctCopy.toFixed(0).padStart(3)}%` +
      `  bwd ${r.bwdMs.toFixed(3)} ms ${r.bwdGBps.toFixed(0).padStart(5)} GB/s ${r.bwdPctCopy.toFixed(0).padStart(3)}%` +
      (r.unfusedFwdMs ? `  unfused fwd ${r.unfusedFwdMs.toFixed(3)} ms (${(r.unfusedFwdMs / r.fwdMs).toFixed(2)}x)` : ''));
}
if (training.length) {
  L.push('');
  L.push('training throughput (images/s, same GPU):');
  for (const t of training) {
    const o = t.resnode, p = t.torch;
    const tags = (r) => [r.tf32 && 'TF32', r.bf16 && 'bf16', r.channelsLast && 'channels-last'].filter(Boolean).map((x) => `, ${x}`).join('');
    const os = o ? (o.error ? `error: ${o.error}` : `${o.imagesPerSec.toFixed(1)} (${o.msPerStep.toFixed(1)} ms/step, batch ${o.batch}${tags(o)})`) : 'not run';
    const ps = p ? `${p.imagesPerSec.toFixed(1)} (torch ${p.torch}, ${p.msPerStep.toFixed(1)} ms/step, batch ${p.batch}${tags(p)})` : 'not run';
    const tgt = t.target ? `  (target ${t.target}: ${t.meetsTarget === null ? 'not measured on a GPU' : t.meetsTarget ? 'met' : 'NOT met'})` : '';
    L.push(`  ${t.model.padEnd(16)} resnode ${os}  |  PyTorch ${ps}${t.ratio ? `  |  resnode/PyTorch ${t.ratio.toFixed(2)}` : ''}${tgt}`);
    if (o && o.workarounds && o.workarounds.length) L.push(`            (${o.workarounds.join('; ')})`);
  }
}
fs.writeFileSync(path.join(out, 'check.txt'), L.join('\n') + '\n');
console.log(L.join('\n'));
