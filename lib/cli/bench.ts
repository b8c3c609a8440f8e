/**
 * `resnode bench <train|ops|kernels>`. This file holds the dispatch and `bench train
 * [--compare-torch]`: end-to-end throughput — training steps of CIFAR ResNet-20/56 (batch 128,
 * 3x32x32) and torchvision resnet18/50 (batch 32, 3x224x224), and resnet18 inference latency at
 * batch 1 — optionally side by side with PyTorch on the same machine and thread count
 * (bench/e2e/torch_train.py, run alternately with resnode). `bench ops` is bench_ops.ts (conv2d,
 * GEMM, optimiser step), `bench kernels` bench_kernels.ts (the fused BN kernels; bench/README.md).
 */
import { spawnSync } from 'child_process';
import * as rn from '../index';
import * as models from '../models';
import * as optim from '../optim';
import { registerCommand } from './main';
import { parseArgs, helpText, ArgSpec } from './args';
import { invalidArg, rnError } from '../errors';
import { torchScript } from '../bench/torch_ref';

const SPEC = {
  cases: { type: 'string', default: 'resnet20,resnet56,resnet18,resnet50,resnet18-infer', help: 'comma-separated cases' },
  steps: { type: 'number', default: 5, help: 'timed steps per case' },
  warmup: { type: 'number', default: 2, help: 'untimed steps first' },
  rounds: { type: 'number', default: 1, help: 'alternating rounds (resnode, then PyTorch)' },
  compareTorch: { type: 'boolean', default: false, help: 'also time PyTorch (bench/e2e/torch_train.py via /usr/bin/python3)' },
  python: { type: 'string', default: '/usr/bin/python3', help: 'python with torch for --compare-torch' },
  json: { type: 'boolean', default: false, help: 'print JSON' },
  profile: { type: 'boolean', default: false, help: 'after timing, profile as many steps per op (rn.profiler) and print where the time goes' },
} satisfies ArgSpec;

export interface CaseResult {
  case: string;
  batch: number;
  layout: 'NCHW' | 'NHWC';
  msMedian: number;
  imgPerSec: number;
  /** --profile: per-op totals over `steps` further steps (not the timed ones) */
  profile?: rn.profiler.ProfileRow[];
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function shapeOf(name: string): { batch: number; size: number; classes: number } {
  if (name === 'resnet20' || name === 'resnet56') return { batch: 128, size: 32, classes: 10 };
  if (name === 'resnet18-infer') return { batch: 1, size: 224, classes: 1000 };
  return { batch: 32, size: 224, classes: 1000 };
}

/** Time one case on resnode, both layouts. */
export function benchResnode(name: string, steps: number, warmup: number, profile = false): CaseResult[] {
  const infer = name.endsWith('-infer');
  const arch = infer ? name.slice(0, -6) : name;
  const ctor = (models as unknown as Record<string, (o: object) => rn.nn.Module>)[arch];
  // factories only (resnet18), not classes (ResNet), which cannot be called without new
  if (typeof ctor !== 'function' || /^[A-Z]/.test(arch)) throw rnError('ERR_RN_ARG', `bench: unknown case "${name}"`);
  const { batch, size, classes } = shapeOf(name);
  const out: CaseResult[] = [];
  for (const layout of ['NCHW', 'NHWC'] as const) {
    rn.manualSeed(0);
    const model = ctor({ numClasses: classes, inChannels: 3 });
    const x0 = rn.randn([batch, 3, size, size]);
    const x = layout === 'NHWC' ? x0.toChannelsLast() : x0;
    const y = rn.tensor(Int32Array.from({ length: batch }, (_, i) => i % 10));
    const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
    if (infer) model.eval();
    const step = () =>
      rn.tidy(() => {
        if (infer) {
          rn.noGrad(() => model.forward(x));
          return;
        }
        const loss = rn.F.crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
      });
    for (let i = 0; i < warmup; i++) step();
    rn.sync();
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = process.hrtime.bigint();
      step();
      rn.sync();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    let prof: rn.profiler.ProfileRow[] | undefined;
    if (profile) {  // separate steps, so the profiler's own cost never enters the timings
      rn.profiler.start();
      for (let i = 0; i < steps; i++) step();
      rn.sync();
      prof = rn.profiler.stop();
    }
    const ms = median(times);
    out.push({ case: name, batch, layout, msMedian: ms, imgPerSec: (batch * 1000) / ms, ...(prof ? { profile: prof } : {}) });
    opt.dispose();
    for (const p of model.parameters()) p.dispose();
    for (const b of model.buffers()) b.dispose();
    x0.dispose();
    x.dispose();
    y.dispose();
  }
  return out;
}

export function benchTorch(name: string, steps: number, warmup: number, python: string): CaseResult[] {
  const r = spawnSync(python, [torchScript('torch_train.py', 'bench train'), '--case', name, '--threads', String(rn.getNumThreads()), '--steps', String(steps), '--warmup', String(warmup), '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw rnError('ERR_RN_LOAD', `bench: PyTorch reference failed (${python}): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  const j = JSON.parse(r.stdout) as { results: { layout: 'NCHW' | 'NHWC'; batch: number; times_ms: number[] }[] };
  return j.results.map((x) => ({ case: name, batch: x.batch, layout: x.layout, msMedian: median(x.times_ms), imgPerSec: (x.batch * 1000) / median(x.times_ms) }));
}

const OPS_SPEC = { steps: SPEC.steps, warmup: SPEC.warmup, compareTorch: { ...SPEC.compareTorch, help: 'also time PyTorch (inline script via --python)' }, python: SPEC.python, json: SPEC.json } satisfies ArgSpec;

function benchTrain(argv: string[]): number {
  const a = parseArgs(argv, SPEC, 'bench');
  const cases = String(a.cases).split(',').map((s) => s.trim()).filter(Boolean);
  // everything is checked before the first (long) case runs
  if (!cases.length) throw rnError('ERR_RN_ARG', 'bench: --cases names no case');
  for (const [k, min] of [['steps', 1], ['warmup', 0], ['rounds', 1]] as const) {
    const v = a[k] as number;
    if (!Number.isInteger(v) || v < min || v > 1e6) throw invalidArg(`an integer in [${min}, 1000000]`, `bench --${k}`, v, 'ERR_RN_RANGE');
  }
  for (const c of cases) {
    const arch = c.endsWith('-infer') ? c.slice(0, -6) : c;
    if (typeof (models as unknown as Record<string, unknown>)[arch] !== 'function' || /^[A-Z]/.test(arch)) throw rnError('ERR_RN_ARG', `bench: unknown case "${c}"`);
  }
  const rows: { case: string; resnode: CaseResult[]; torch?: CaseResult[] }[] = [];
  for (const c of cases) {
    const row: { case: string; resnode: CaseResult[]; torch?: CaseResult[] } = { case: c, resnode: [] };
    for (let r = 0; r < (a.rounds as number); r++) {
      row.resnode.push(...benchResnode(c, a.steps as number, a.warmup as number, !!a.profile));
      if (a.compareTorch) (row.torch ??= []).push(...benchTorch(c, a.steps as number, a.warmup as number, a.python as string));
    }
    rows.push(row);
    if (!a.json) {
      const best = (xs: CaseResult[]) => xs.reduce((p, q) => (q.imgPerSec > p.imgPerSec ? q : p));
      const rb = best(row.resnode);
      const fmt = (x: CaseResult) => `${x.imgPerSec.toFixed(1)} img/s (${x.msMedian.toFixed(1)} ms, ${x.layout})`;
      const tb = row.torch ? best(row.torch) : null;
      console.log(`${c.padEnd(16)} batch ${String(rb.batch).padEnd(4)} resnode ${fmt(rb)}${tb ? `  PyTorch ${fmt(tb)}  ratio ${(rb.imgPerSec / tb.imgPerSec).toFixed(2)}x` : ''}`);
      for (const x of a.profile ? row.resnode : []) {
        console.log(`\n${c} ${x.layout}: per step (${x.msMedian.toFixed(1)} ms timed); host = JS-thread CPU in the binding, kernel = CPU stream`);
        console.log(rn.profiler.format(x.profile ?? [], { per: a.steps as number, top: 12 }) + '\n');
      }
    }
  }
  if (a.json) console.log(JSON.stringify({ threads: rn.getNumThreads(), simd: rn.buildInfo().simd, rows }, null, 2));
  return 0;
}

function benchOps(argv: string[]): number {
  const a = parseArgs(argv, OPS_SPEC, 'bench ops');
  const { runOps } = require('./bench_ops') as typeof import('./bench_ops');
  const rows = runOps({ reps: a.steps as number, warmup: a.warmup as number, compareTorch: !!a.compareTorch, python: a.python as string, json: !!a.json });
  return rows.every((r) => r.maxErr < 1e-3) ? 0 : 1;
}

type Sub = { summary: string; help: () => string; run: (argv: string[]) => number | Promise<number> };
const SUBCOMMANDS: Record<string, Sub> = {
  train: {
    summary: 'end-to-end training/inference throughput of ResNets (img/s), optionally side by side with PyTorch',
    help: () => helpText('bench train', 'end-to-end training/inference throughput, optionally side by side with PyTorch (bench/e2e/torch_train.py)', SPEC),
    run: benchTrain,
  },
  ops: {
    summary: 'conv2d, GEMM and optimiser-step microbenchmarks: validated, then ms, GFLOP/s or GB/s, % of peak',
    help: () => helpText('bench ops', 'conv2d (fwd, bwd-data, bwd-weight), GEMM and optimiser-step microbenchmarks, each validated, then timed', OPS_SPEC),
    run: benchOps,
  },
  kernels: {
    summary: 'fused-kernel microbenchmarks (bn+relu, bn+add+relu): validated, then ms, GB/s, % of measured peak',
    help: () => (require('./bench_kernels') as typeof import('./bench_kernels')).kernelsHelp(),
    run: (argv) => (require('./bench_kernels') as typeof import('./bench_kernels')).benchKernels(argv),
  },
};

function benchUsage(): string {
  const w = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  return [
    'Usage: resnode bench train|ops|kernels [options]',
    '',
    'Subcommands:',
    ...Object.entries(SUBCOMMANDS).map(([k, s]) => `  ${k.padEnd(w)}  ${s.summary}`),
    '',
    'resnode bench <subcommand> --help for its options; --compare-torch needs a python with torch (--python PATH).',
  ].join('\n');
}

registerCommand('bench', {
  summary: 'benchmarks: train (end-to-end img/s), ops (conv2d, GEMM, optimiser), kernels (fused BN); optionally vs PyTorch',
  run: (argv) => {
    const [name, ...rest] = argv;
    if (name === '--help' || name === '-h' || name === 'help') {
      console.log(benchUsage());
      return 0;
    }
    const sub = name !== undefined && Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
    if (!sub) {
      // a bare `resnode bench` prints the subcommands; both are usage errors (exit 2)
      if (name === undefined) console.log(benchUsage());
      else console.error(`${benchUsage()}\n\nresnode bench: unknown subcommand "${name}" [ERR_RN_ARG]`);
      return 2;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(sub.help());
      return 0;
    }
    return sub.run(rest);
  },
});
