#!/usr/bin/env node
'use strict';
/**
 * The GPU test suite as a plain node script (test/gpu/cases.js: every CUDA op against the CPU
 * backend; test/gpu/model_cases.js: whole networks, Module.to, bf16 autocast + channels-last),
 * for GPU machines without jest.
 *   node bench/gpu/run_tests.js [--json FILE] [--filter TEXT] [--dry-run]
 * --dry-run runs every case with both sides on the CPU (checks the cases' logic anywhere).
 * Exit status 1 when a case fails.
 */
const { load, flags, writeJson, targetDevice } = require('./common');
const { makeCases, runCases, TOL } = require('../../test/gpu/cases.js');
const { makeModelCases, TOL: MODEL_TOL } = require('../../test/gpu/model_cases.js');

(async () => {
  const f = flags();
  const { rn, binding, codes, bindingPath } = load();
  const device = targetDevice(rn, f);
  const t0 = Date.now();
  console.log(`resnode GPU tests on ${device}${device === 'cuda' ? ` (${rn.cuda.status()})` : ' (dry run: both sides on the CPU)'}; addon ${bindingPath() || '(not loaded yet)'}`);
  const cases = [...makeCases(rn, binding, { device, codes }), ...makeModelCases(rn, { device })];
  const r = await runCases(cases, { device, filter: f.filter || null, log: (s) => console.log(s) });
  const libs = device === 'cuda' ? rn.cuda.libraries() : [];
  const summary = {
    device, dryRun: device !== 'cuda', status: rn.cuda.status(), tolerances: { ...TOL, model: MODEL_TOL }, passed: r.passed, failed: r.failed,
    skipped: r.skipped, ms: Date.now() - t0, libraries: libs,
    memory: device === 'cuda' ? rn.memory.stats('cuda') : null,
    cases: r.results.map((x) => ({
      name: x.name, ok: x.ok, skipped: !!x.skipped, ms: x.ms, checks: x.checks.length, error: x.error || null,
      worst: x.worst ? { name: x.worst.name, err: x.worst.err, tol: x.worst.tol } : null,
      failures: (x.failures || []).slice(0, 20).map((k) => ({ name: k.name, err: String(k.err), tol: k.tol })),
    })),
  };
  writeJson(f.json, summary);
  console.log(`${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exitCode = r.failed ? 1 : 0;
})().catch((e) => {
  console.error(`run_tests: ${e.code || e.name}: ${e.message}`);
  process.exitCode = 2;
});
