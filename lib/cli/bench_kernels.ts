/**
 * `resnode bench kernels [--compare-torch]`: the fused-kernel microbenchmarks (llm.c dev/cuda
 * style). The suite measures the machine first (memory bandwidth from native benchCopy, GEMM
 * FLOP/s from rn.matmul 2048^3), then for every case validates each implementation against
 * resnode's unfused ops and times them round-robin with the op stream gated; it reports min and
 * median ms, GB/s and % of the measured peak, as a table or JSON. --compare-torch times PyTorch
 * case by case beside it (bench/e2e/torch_ref.py --serve). What is measured: bench/README.md.
 * The harness is lib/bench/harness.ts, the cases lib/bench/bn_add_relu.ts (one file per kernel),
 * the PyTorch side lib/bench/torch_ref.ts; bench/kernels/run.ts runs this same code.
 */
import * as os from 'os';
import * as rn from '../index';
import { binding } from '../binding';
import { invalidArg, rnError } from '../errors';
import { parseArgs, helpText, ArgSpec } from './args';
import * as H from '../bench/harness';
import * as bnAddRelu from '../bench/bn_add_relu';
import { startTorchServers, TorchResult, TorchServer } from '../bench/torch_ref';

const KERNELS_SUMMARY = 'fused-kernel microbenchmarks (bn+relu, bn+add+relu): validate against the unfused ops, then ms, GB/s, % of the measured peak';

export const KERNELS_SPEC = {
  json: { type: 'boolean', default: false, help: 'print JSON (a table otherwise)' },
  compareTorch: { type: 'boolean', default: false, help: 'also time PyTorch (bench/e2e/torch_ref.py --serve), case by case' },
  filter: { type: 'string', help: 'only the cases whose key contains this, e.g. "bn+add+relu fwd 32x64x56x56"' },
  reps: { type: 'number', help: 'timed repetitions per implementation (default: 15; 5 with --quick)' },
  warmup: { type: 'number', help: 'untimed repetitions first (default: 3; 1 with --quick)' },
  rounds: { type: 'number', help: 'rounds over all cases (default: 1; 2 with --compare-torch)' },
  threads: { type: 'number', help: 'kernel threads (default: the pool size)' },
  flush: { type: 'boolean', default: true, help: 'read a 64 MiB buffer before every repetition; --no-flush: do not' },
  copyMb: { type: 'number', default: 256, help: 'array size of the bandwidth test in MiB' },
  python: { type: 'string', default: '/usr/bin/python3', help: 'python with torch for --compare-torch' },
  quick: { type: 'boolean', default: false, help: 'fewer repetitions (5, warm-up 1)' },
} satisfies ArgSpec;

export type Validation = { impl: string; maxRelErr: number; worst: string; ok: boolean };
export interface KernelReport {
  bench: 'bn_add_relu';
  /** every implementation of every case matched the reference */
  ok: boolean;
  options: H.Options;
  machine: H.Machine & { bandwidthSamples: number[]; end: Pick<H.Machine, 'copyGBs' | 'triadGBs' | 'triadNtGBs' | 'readGBs' | 'loadAvg'> };
  torch: { ok: boolean; version?: string; threads?: number; error?: string } | null;
  validation: Record<string, Validation[]>;
  rows: H.Row[];
}

/** Options from the command line, every value checked before the (long) run starts. */
export function kernelOptions(argv: string[]): H.Options {
  const a = parseArgs(argv, KERNELS_SPEC, 'bench kernels');
  if (a._.length) throw rnError('ERR_RN_ARG', `bench kernels: unexpected argument "${a._[0]}" (see resnode bench kernels --help)`);
  const int = (k: 'reps' | 'warmup' | 'rounds' | 'threads' | 'copyMb', min: number, max: number, dflt: number) => {
    const v = a[k] === undefined ? dflt : (a[k] as number);
    const flag = k === 'copyMb' ? 'copy-mb' : k;
    if (!Number.isInteger(v) || v < min || v > max) throw invalidArg(`an integer in [${min}, ${max}]`, `bench kernels --${flag}`, v, 'ERR_RN_RANGE');
    return v;
  };
  const compareTorch = !!a.compareTorch;
  return {
    json: !!a.json,
    compareTorch,
    reps: int('reps', 1, 1e6, a.quick ? 5 : 15),
    warmup: int('warmup', 0, 1e6, a.quick ? 1 : 3),
    rounds: int('rounds', 1, 1e6, compareTorch ? 2 : 1),
    filter: (a.filter as string | undefined) ?? null,
    flushBytes: a.flush ? 64 << 20 : 0,
    threads: a.threads === undefined ? null : int('threads', 1, 1024, 0),
    copyBytes: int('copyMb', 1, 16384, 256) * 2 ** 20,
    python: a.python as string,
  };
}

/** Run the suite; progress goes to `log`. Throws ERR_RN_ARG when the filter matches no case. */
export async function runKernels(o: H.Options, log: (s: string) => void = () => undefined): Promise<KernelReport> {
  const cases = bnAddRelu.keys(o.filter);
  if (!cases.length) throw rnError('ERR_RN_ARG', `bench kernels: --filter "${o.filter}" matches no case (e.g. "${bnAddRelu.keys(null)[0].key}")`);
  const B = binding();
  if (o.threads) rn.setNumThreads(o.threads);
  const threads = rn.getNumThreads();
  rn.manualSeed(0);
  // PyTorch first: a python without torch fails here, before the machine is measured
  const servers: TorchServer[] = o.compareTorch ? await startTorchServers(o, threads) : [];
  try {
    log('measuring the machine (bandwidth, GEMM) ...');
    const m = H.measureMachine(rn, B, o);
    const times: Record<string, Record<string, number[]>> = {};
    const meta: Record<string, H.Group> = {};
    const validation: Record<string, Validation[]> = {};
    // bandwidth is sampled between cases too; the best sample is the peak
    const bwSamples = [m];
    for (let round = 0; round < o.rounds; round++) {
      for (const k of cases) {
        const g = bnAddRelu.make(rn, B, k);
        try {
          if (round === 0) {
            validation[g.key] = g.validate();
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
    // one result: the passive-policy times join the default ones under their own impl names
    const torch: TorchResult | null = servers.length ? servers[0].result : null;
    if (torch) for (const s of servers.slice(1)) for (const [kk, v] of Object.entries(s.result.times)) Object.assign((torch.times[kk] ??= {}), v);
    const m2 = { ...m, ...H.measureBandwidth(B, o.copyBytes), loadAvg: os.loadavg() };
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
    return {
      bench: 'bn_add_relu',
      ok: Object.values(validation).every((vs) => vs.every((v) => v.ok)),
      options: o,
      machine: { ...m, peakGBs: peak, peakFrom: best.peakFrom, bandwidthSamples: bwSamples.map((b) => b.peakGBs), end: { copyGBs: m2.copyGBs, triadGBs: m2.triadGBs, triadNtGBs: m2.triadNtGBs, readGBs: m2.readGBs, loadAvg: m2.loadAvg } },
      torch: torch ? { ok: torch.ok, version: torch.torch, threads: torch.threads, error: torch.error } : null,
      validation,
      rows,
    };
  } finally {
    for (const s of servers) s.close();
  }
}

/** The human-readable report (the table with the machine's yardsticks above it). */
export function formatKernels(r: KernelReport): string {
  const torch: TorchResult | null = r.torch ? { ok: r.torch.ok, torch: r.torch.version, threads: r.torch.threads, error: r.torch.error, times: {} } : null;
  const m = { ...r.machine, peakFrom: `${r.machine.peakFrom}, best of ${r.machine.bandwidthSamples.length} samples taken between cases` };
  return H.table(r.rows, m, { ...r.machine, ...r.machine.end }, torch);
}

export function kernelsHelp(): string {
  return `${helpText('bench kernels', KERNELS_SUMMARY, KERNELS_SPEC)}\n\nWhat is measured and how: bench/README.md (in the package).`;
}

/** `resnode bench kernels ...`; returns the exit status (1 when a case failed validation). */
export async function benchKernels(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(kernelsHelp());
    return 0;
  }
  const o = kernelOptions(argv);
  const r = await runKernels(o, (s) => {
    if (!o.json) process.stderr.write(s + '\n');
  });
  process.stdout.write((o.json ? JSON.stringify(r, null, 1) : formatKernels(r)) + '\n');
  if (r.ok) return 0;
  process.stderr.write('validation FAILED for at least one case (see above)\n');
  return 1;
}
