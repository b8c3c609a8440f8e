/**
 * Kernel benchmark harness (llm.c dev/cuda in spirit): every case is validated against the CPU
 * reference (resnode's unfused ops) before it is timed; timings are medians over repetitions with
 * the spread, converted to GB/s from the bytes the kernel must move, and to % of this machine's
 * memory bandwidth, which the suite measures itself (native benchCopy: memcpy, triad, triad with
 * streaming stores, read — the best of them is "peak") alongside GEMM FLOP/s (rn.matmul 2048^3).
 *
 * Timing: benchBegin() holds the op stream, the case enqueues its ops, benchEnd() releases the
 * stream and returns the time between two stamps taken on the stream thread — the kernels back to
 * back, without JS call overhead or thread wake-up. Before each repetition a 64 MiB buffer is read
 * (benchFlush) so no case starts with its operands in cache from the previous repetition.
 * Implementations of one case run round-robin within each repetition, so background load hits
 * them alike.
 */
import * as os from 'os';
import type * as RN from '../index';
import type { Binding, Handle } from '../binding';
import type { TorchResult } from './torch_ref';

export interface Impl {
  /** e.g. 'fused', 'fused v1', 'unfused' */
  name: string;
  /** enqueue the ops of one repetition; returns the handles to free afterwards */
  run(): Handle[];
  /** before/after this implementation's repetitions (e.g. select a kernel version) */
  enter?(): void;
  leave?(): void;
}
export interface Group {
  /** stable key shared with bench/e2e/torch_ref.py: `${variant} ${pass} ${shape} ${layout}` */
  key: string;
  variant: string;
  pass: string;
  shape: number[];
  layout: 'NCHW' | 'NHWC';
  /** bytes the fused kernel must move (the same count is used for every implementation) */
  bytes: number;
  bytesNote: string;
  impls: Impl[];
  /** the reference implementation's name (speedups are relative to it) */
  reference: string;
  /** compare every implementation's outputs with the reference; returns max errors */
  validate(): { impl: string; maxRelErr: number; worst: string; ok: boolean }[];
  dispose(): void;
}

export interface Options {
  json: boolean;
  compareTorch: boolean;
  reps: number;
  warmup: number;
  rounds: number;
  filter: string | null;
  flushBytes: number;
  threads: number | null;
  copyBytes: number;
  python: string;
}

// ---- statistics ----
export function median(a: number[]): number {
  const s = a.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function quantile(a: number[], q: number): number {
  const s = a.slice().sort((x, y) => x - y);
  const p = (s.length - 1) * q;
  const lo = Math.floor(p);
  const hi = Math.ceil(p);
  return s[lo] + (s[hi] - s[lo]) * (p - lo);
}

// ---- machine ----
export interface Machine {
  cpu: string;
  cores: number;
  threads: number;
  simd: string;
  bnKernel: number;
  copyGBs: number;
  triadGBs: number;
  triadNtGBs: number;
  readGBs: number;
  /** max of the above (the yardstick for % of peak) */
  peakGBs: number;
  peakFrom: string;
  gemmGflops: number;
  loadAvg: number[];
}

export function measureBandwidth(B: Binding, bytes: number, reps = 5): Pick<Machine, 'copyGBs' | 'triadGBs' | 'triadNtGBs' | 'readGBs' | 'peakGBs' | 'peakFrom'> {
  const r = B.benchCopy(bytes, reps);
  const all: [string, number][] = [
    ['memcpy', r.copy],
    ['triad', r.triad],
    ['triad (streaming stores)', r.triadNt],
    ['read', r.read],
  ];
  const best = all.reduce((a, b) => (b[1] > a[1] ? b : a));
  return { copyGBs: r.copy, triadGBs: r.triad, triadNtGBs: r.triadNt, readGBs: r.read, peakGBs: best[1], peakFrom: best[0] };
}

export function measureMachine(rn: typeof RN, B: Binding, o: Options): Machine {
  const info = rn.buildInfo();
  const bw = measureBandwidth(B, o.copyBytes);
  // GEMM: rn.matmul 2048 x 2048 x 2048, median of 5
  const n = 2048;
  const a = rn.randn([n, n]);
  const b = rn.randn([n, n]);
  const ts: number[] = [];
  for (let i = 0; i < 7; i++) {
    B.benchBegin();
    const c = B.matmul(a.h, b.h, false, false);
    const ms = B.benchEnd();
    B.dispose(c.h);
    if (i >= 2) ts.push(ms);
  }
  a.dispose();
  b.dispose();
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    threads: info.threads,
    simd: info.simd,
    bnKernel: B.bnAddReluVersion(),
    ...bw,
    gemmGflops: (2 * n ** 3) / (median(ts) / 1e3) / 1e9,
    loadAvg: os.loadavg(),
  };
}

// ---- timing ----
/** times[impl] for `reps` repetitions of every implementation, round-robin */
export function timeGroup(B: Binding, g: Group, o: Options): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const once = (impl: Impl): number => {
    if (o.flushBytes > 0) B.benchFlush(o.flushBytes);
    impl.enter?.();
    B.benchBegin();
    let hs: Handle[] = [];
    let ms = 0;
    try {
      hs = impl.run();
    } finally {
      ms = B.benchEnd();
      impl.leave?.();
    }
    for (const h of hs) B.dispose(h);
    if (ms > 29000) throw new Error(`${g.key} ${impl.name}: the stream gate timed out (a read inside a timed region?)`);
    return ms;
  };
  for (const impl of g.impls) {
    out[impl.name] = [];
    for (let i = 0; i < o.warmup; i++) once(impl);
  }
  for (let r = 0; r < o.reps; r++) for (const impl of g.impls) out[impl.name].push(once(impl));
  return out;
}

// ---- reporting ----
export interface Row {
  key: string;
  variant: string;
  pass: string;
  shape: string;
  layout: string;
  impl: string;
  reps: number;
  /** minimum over repetitions: the statistic GB/s and the ratios use (see README) */
  min: number;
  /** median */
  ms: number;
  p10: number;
  p90: number;
  spreadPct: number;
  gbs: number;
  pctPeak: number;
  bytes: number;
  vsReference: number | null;
  vsTorch: number | null;
  validated: string;
}

export function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}
export function table(rows: Row[], m: Machine, m2: Machine | null, torch: TorchResult | null): string {
  const lines: string[] = [];
  lines.push(`machine: ${m.cpu}, ${m.cores} cores, ${m.threads} kernel threads, SIMD ${m.simd}, bn_add_relu kernel v${m.bnKernel}`);
  const bw = (x: Pick<Machine, 'copyGBs' | 'triadGBs' | 'triadNtGBs' | 'readGBs'>) =>
    `memcpy ${x.copyGBs.toFixed(1)}, triad ${x.triadGBs.toFixed(1)}, triad-nt ${x.triadNtGBs.toFixed(1)}, read ${x.readGBs.toFixed(1)} GB/s`;
  lines.push(`bandwidth (start): ${bw(m)}` + (m2 ? `; (end): ${bw(m2)}` : ''));
  lines.push(`peak used for %: ${m.peakGBs.toFixed(1)} GB/s (${m.peakFrom}); GEMM 2048^3 (rn.matmul): ${m.gemmGflops.toFixed(0)} GFLOP/s; load avg ${m.loadAvg.map((x) => x.toFixed(2)).join(' ')}`);
  if (torch) lines.push(torch.ok ? `PyTorch ${torch.torch}, ${torch.threads} threads (bench/e2e/torch_ref.py)` : `PyTorch reference failed: ${torch.error}`);
  lines.push('');
  const hdr = ['case', 'impl', 'min ms', 'median', 'p10-p90', 'GB/s', '%peak', 'vs unfused', 'vs torch'];
  const w = [40, Math.max(14, ...rows.map((r) => r.impl.length)), 8, 8, 13, 6, 6, 10, 9];
  lines.push(hdr.map((h, i) => pad(h, w[i], i >= 2)).join(' '));
  lines.push(w.map((n) => '-'.repeat(n)).join(' '));
  let last = '';
  for (const r of rows) {
    const c = `${r.variant} ${r.pass} ${r.shape} ${r.layout}`;
    lines.push(
      [
        pad(c === last ? '' : c, w[0]),
        pad(r.impl, w[1]),
        pad(r.min.toFixed(3), w[2], true),
        pad(r.ms.toFixed(3), w[3], true),
        pad(`${r.p10.toFixed(2)}-${r.p90.toFixed(2)}`, w[4], true),
        pad(r.gbs.toFixed(1), w[5], true),
        pad(`${r.pctPeak.toFixed(0)}%`, w[6], true),
        pad(r.vsReference === null ? '' : `${r.vsReference.toFixed(2)}x`, w[7], true),
        pad(r.vsTorch === null ? '' : `${r.vsTorch.toFixed(2)}x`, w[8], true),
      ].join(' '),
    );
    last = c;
  }
  lines.push('');
  lines.push('GB/s = bytes the fused kernel must move / min time (the same byte count for every impl); %peak = of the best measured bandwidth above;');
  lines.push('vs unfused / vs torch = ratio of min times (>1: this impl is faster). Min over repetitions, because other processes share this machine.');
  return lines.join('\n');
}

