/**
 * `resnode bench train [--compare-torch]`: end-to-end throughput — training steps of CIFAR
 * ResNet-20/56 (batch 128, 3x32x32) and torchvision resnet18/50 (batch 32, 3x224x224), and
 * resnet18 inference latency at batch 1 — optionally side by side with PyTorch on the same
 * machine and thread count (bench/e2e/torch_train.py, run alternately with resnode).
 * The kernel microbenchmarks live in bench/kernels (see bench/README.md).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as rn from '../index';
import * as models from '../models';
import * as optim from '../optim';
import { registerCommand } from './main';
import { parseArgs, helpText, ArgSpec } from './args';
import { invalidArg, rnError } from '../errors';

const SPEC = {
  cases: { type: 'string', default: 'resnet20,resnet56,resnet18,resnet50,resnet18-infer', help: 'comma-separated cases' },
  steps: { type: 'number', default: 5, help: 'timed steps per case' },
  warmup: { type: 'number', default: 2, help: 'untimed steps first' },
  rounds: { type: 'number', default: 1, help: 'alternating rounds (resnode, then PyTorch)' },
  compareTorch: { type: 'boolean', default: false, help: 'also time PyTorch (bench/e2e/torch_train.py via /usr/bin/python3)' },
  python: { type: 'string', default: '/usr/bin/python3', help: 'python with torch for --compare-torch' },
  json: { type: 'boolean', default: false, help: 'print JSON' },
} satisfies ArgSpec;

export interface CaseResult {
  case: string;
  batch: number;
  layout: 'NCHW' | 'NHWC';
  msMedian: number;
  imgPerSec: number;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function shapeOf(name: string): { batch: number; size: number; classes: number } {
  if (name === 'resnet20' || name === 'resnet56') return { batch: 128, size: 32, classes: 10 };
  if (name === 'resnet18-infer') return { batch: 1, size: 224, classes: 1000 };
  return { batch: 32, size: 224, classes: 1000 };
}

/** Time one case on resnode, both layouts. */
export function benchResnode(name: string, steps: number, warmup: number): CaseResult[] {
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
    const ms = median(times);
    out.push({ case: name, batch, layout, msMedian: ms, imgPerSec: (batch * 1000) / ms });
    opt.dispose();
    for (const p of model.parameters()) p.dispose();
    for (const b of model.buffers()) b.dispose();
    x0.dispose();
    x.dispose();
    y.dispose();
  }
  return out;
}

function findTorchScript(): string {
  const candidates = [path.resolve(__dirname, '../../bench/e2e/torch_train.py'), path.resolve(__dirname, '../../../bench/e2e/torch_train.py'), path.resolve('bench/e2e/torch_train.py')];
  const f = candidates.find((c) => fs.existsSync(c));
  if (!f) throw rnError('ERR_RN_LOAD', `bench --compare-torch: bench/e2e/torch_train.py not found (tried ${candidates.join(', ')}); run from a resnode checkout`);
  return f;
}

export function benchTorch(name: string, steps: number, warmup: number, python: string): CaseResult[] {
  const r = spawnSync(python, [findTorchScript(), '--case', name, '--threads', String(rn.getNumThreads()), '--steps', String(steps), '--warmup', String(warmup), '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw rnError('ERR_RN_LOAD', `bench: PyTorch reference failed (${python}): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  const j = JSON.parse(r.stdout) as { results: { layout: 'NCHW' | 'NHWC'; batch: number; times_ms: number[] }[] };
  return j.results.map((x) => ({ case: name, batch: x.batch, layout: x.layout, msMedian: median(x.times_ms), imgPerSec: (x.batch * 1000) / median(x.times_ms) }));
}

registerCommand('bench', {
  summary: 'end-to-end training/inference throughput, optionally side by side with PyTorch',
  run: (argv) => {
    if (argv[0] === 'ops' && !argv.includes('--help')) {
      const a = parseArgs(argv.slice(1), SPEC, 'bench');
      const { runOps } = require('./bench_ops') as typeof import('./bench_ops');
      const rows = runOps({ reps: a.steps as number, warmup: a.warmup as number, compareTorch: !!a.compareTorch, python: a.python as string, json: !!a.json });
      return rows.every((r) => r.maxErr < 1e-3) ? 0 : 1;
    }
    if (argv.includes('--help') || argv[0] !== 'train') {
      console.log(helpText('bench train|ops', 'end-to-end benchmarks (train) and kernel microbenchmarks (ops: conv2d, GEMM, optimiser step; fused BN kernels: bench/README.md)', SPEC));
      return argv.includes('--help') ? 0 : 2;
    }
    const a = parseArgs(argv.slice(1), SPEC, 'bench');
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
        row.resnode.push(...benchResnode(c, a.steps as number, a.warmup as number));
        if (a.compareTorch) (row.torch ??= []).push(...benchTorch(c, a.steps as number, a.warmup as number, a.python as string));
      }
      rows.push(row);
      if (!a.json) {
        const best = (xs: CaseResult[]) => xs.reduce((p, q) => (q.imgPerSec > p.imgPerSec ? q : p));
        const rb = best(row.resnode);
        const fmt = (x: CaseResult) => `${x.imgPerSec.toFixed(1)} img/s (${x.msMedian.toFixed(1)} ms, ${x.layout})`;
        const tb = row.torch ? best(row.torch) : null;
        console.log(`${c.padEnd(16)} batch ${String(rb.batch).padEnd(4)} resnode ${fmt(rb)}${tb ? `  PyTorch ${fmt(tb)}  ratio ${(rb.imgPerSec / tb.imgPerSec).toFixed(2)}x` : ''}`);
      }
    }
    if (a.json) console.log(JSON.stringify({ threads: rn.getNumThreads(), simd: rn.buildInfo().simd, rows }, null, 2));
    return 0;
  },
});
