/** The benchmark driver behind run.ts: machine yardsticks, validation, timing, report. */
import * as rn from '../../lib';
import * as H from './harness';
import * as bnAddRelu from './bn_add_relu';

export async function main(argv: string[]): Promise<void> {
  const o = H.parseArgs(argv);
  const B = H.binding();
  if (o.threads) rn.setNumThreads(o.threads);
  const threads = rn.getNumThreads();
  rn.manualSeed(0);
  const log = (s: string) => {
    if (!o.json) process.stderr.write(s + '\n');
  };
  log('measuring the machine (bandwidth, GEMM) ...');
  const m = H.measureMachine(rn, B, o);
  const cases = bnAddRelu.keys(o.filter);
  const times: Record<string, Record<string, number[]>> = {};
  const meta: Record<string, H.Group> = {};
  const validation: Record<string, { impl: string; maxRelErr: number; worst: string; ok: boolean }[]> = {};
  let torch: H.TorchResult | null = null;
  const servers: H.TorchServer[] = [];
  if (o.compareTorch) {
    servers.push(new H.TorchServer(o, threads));
    if (!process.env.OMP_WAIT_POLICY) servers.push(new H.TorchServer(o, threads, ' (omp passive)', { ...process.env, OMP_WAIT_POLICY: 'passive' }));
    for (const s of servers) if (!(await s.start())) log(`PyTorch reference failed: ${s.result.error}`);
    torch = servers[0].result;
  }
  let failed = false;
  // bandwidth is sampled between cases too; the best sample is the peak
  const bwSamples = [m];
  for (let round = 0; round < o.rounds; round++) {
    for (const k of cases) {
      const g = bnAddRelu.make(rn, B, k);
      try {
        if (round === 0) {
          validation[g.key] = g.validate();
          for (const v of validation[g.key]) if (!v.ok) failed = true;
          log(`${g.key}: validated (${validation[g.key].map((v) => `${v.impl} max err ${v.maxRelErr.toExponential(1)} (${v.worst})${v.ok ? '' : ' FAIL'}`).join(', ')})`);
        }
        const t = H.timeGroup(B, g, o);
        for (const [impl, ts] of Object.entries(t)) ((times[g.key] ??= {})[impl] ??= []).push(...ts);
        meta[g.key] = g;
        // PyTorch right after resnode on the same case (alternating), then a bandwidth sample
        for (const s of servers) await s.time(g, o.reps, o.warmup);
        bwSamples.push({ ...m, ...H.measureBandwidth(B, o.copyBytes, 2) });
      } finally {
        g.dispose();
      }
    }
  }
  for (const s of servers) s.close();
  // one result: the passive-policy times join the default ones under their own impl names
  if (torch) for (const s of servers.slice(1)) for (const [kk, v] of Object.entries(s.result.times)) Object.assign((torch.times[kk] ??= {}), v);
  const m2 = { ...m, ...H.measureBandwidth(B, o.copyBytes), loadAvg: require('os').loadavg() };
  bwSamples.push(m2);
  const best = bwSamples.reduce((a, b) => (b.peakGBs > a.peakGBs ? b : a));
  const peak = best.peakGBs;
  const rows: H.Row[] = [];
  for (const k of cases) {
    const g = meta[k.key];
    const ts = times[k.key];
    const refMin = Math.min(...ts[g.reference]);
    // the faster of the PyTorch formulations is the comparison point
    const torchMin = torch?.ok && torch.times[k.key] ? Math.min(...Object.values(torch.times[k.key]).flat()) : null;
    const add = (impl: string, arr: number[], validated: string) => {
      const ms = H.median(arr);
      const min = Math.min(...arr);
      rows.push({
        key: k.key, variant: g.variant, pass: g.pass, shape: g.shape.join('x'), layout: g.layout, impl, reps: arr.length, min, ms,
        p10: H.quantile(arr, 0.1), p90: H.quantile(arr, 0.9), spreadPct: ((H.quantile(arr, 0.9) - H.quantile(arr, 0.1)) / ms) * 100,
        gbs: g.bytes / (min / 1e3) / 1e9, pctPeak: (g.bytes / (min / 1e3) / 1e9 / peak) * 100, bytes: g.bytes,
        vsReference: impl === g.reference ? null : refMin / min, vsTorch: torchMin === null ? null : torchMin / min, validated,
      });
    };
    for (const impl of g.impls) {
      const v = validation[k.key].find((x) => x.impl === impl.name);
      add(impl.name, ts[impl.name], impl.name === g.reference ? 'reference' : v ? `${v.ok ? 'ok' : 'FAIL'} ${v.maxRelErr.toExponential(1)}` : '');
    }
    if (torch?.ok && torch.times[k.key])
      for (const [impl, arr] of Object.entries(torch.times[k.key])) add(impl, arr, '');
  }
  const machine = { ...m, peakGBs: peak, peakFrom: best.peakFrom, bandwidthSamples: bwSamples.map((b) => b.peakGBs), end: { copyGBs: m2.copyGBs, triadGBs: m2.triadGBs, triadNtGBs: m2.triadNtGBs, readGBs: m2.readGBs, loadAvg: m2.loadAvg } };
  if (o.json) {
    process.stdout.write(JSON.stringify({ bench: 'bn_add_relu', options: o, machine, torch: torch ? { ok: torch.ok, version: torch.torch, threads: torch.threads, error: torch.error } : null, rows }, null, 1) + '\n');
  } else {
    process.stdout.write(H.table(rows, { ...m, peakGBs: peak, peakFrom: `${best.peakFrom}, best of ${bwSamples.length} samples taken between cases` }, m2, torch) + '\n');
  }
  if (failed) {
    process.stderr.write('validation FAILED for at least one case (see above)\n');
    process.exitCode = 1;
  }
}
