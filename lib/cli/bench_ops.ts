/**
 * `resnode bench ops [--compare-torch]`: kernel microbenchmarks for conv2d (forward, backward-data,
 * backward-weight on the ResNet shapes, both layouts), GEMM, and the optimiser step. Each case
 * first validates against a reference (sampled outputs recomputed in float64 directly from the
 * definition), then times it (warm-up, repetitions, median and spread; the stream is gated so the
 * time is the kernels' own) and reports ms, GFLOP/s or GB/s and the percentage of this machine's
 * peak as the suite measures it (DRAM bandwidth from a triad, GEMM FLOP/s from a 2048^3 product).
 * The fused BN kernels have their own suite: `resnode bench kernels` (bench_kernels.ts, bench/README.md).
 */
import { spawnSync } from 'child_process';
import * as rn from '../index';
import { binding } from '../binding';
import { rnError } from '../errors';

type T = rn.Tensor;
export interface OpsRow {
  case: string;
  layout: string;
  ms: number;
  spreadPct: number;
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
  pctPeak: number;
  maxErr: number;
  torchMs?: number;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/** Time `enqueue` (which enqueues ops) with the stream gated: kernel time only. */
function timeOps(enqueue: () => T[], reps: number, warmup: number): number[] {
  const B = binding();
  for (let i = 0; i < warmup; i++) for (const t of enqueue()) t.dispose();
  rn.sync();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    B.benchFlush(64 << 20);
    B.benchBegin();
    const outs = enqueue();
    ms.push(B.benchEnd());
    for (const t of outs) t.dispose();
  }
  return ms;
}

function conv2dRef(x: Float32Array, w: Float32Array, xs: number[], ws: number[], st: number, pad: number, n: number, k: number, p: number, q: number): number {
  const [, C, H, W] = xs;
  const [, , R, S] = ws;
  let s = 0;
  for (let c = 0; c < C; c++)
    for (let r = 0; r < R; r++)
      for (let t = 0; t < S; t++) {
        const h = p * st - pad + r;
        const v = q * st - pad + t;
        if (h < 0 || h >= H || v < 0 || v >= W) continue;
        s += x[((n * C + c) * H + h) * W + v] * w[((k * C + c) * R + r) * S + t];
      }
  return s;
}

interface ConvCase { name: string; N: number; C: number; K: number; H: number; R: number; stride: number; pad: number }
const CONVS: ConvCase[] = [
  { name: 'conv 3x3 64->64 N32 56x56', N: 32, C: 64, K: 64, H: 56, R: 3, stride: 1, pad: 1 },
  { name: 'conv 3x3 16->16 N128 32x32', N: 128, C: 16, K: 16, H: 32, R: 3, stride: 1, pad: 1 },
  { name: 'conv 3x3 32->32 N128 16x16', N: 128, C: 32, K: 32, H: 16, R: 3, stride: 1, pad: 1 },
  { name: 'conv 3x3 64->64 N128 8x8', N: 128, C: 64, K: 64, H: 8, R: 3, stride: 1, pad: 1 },
  { name: 'conv 3x3 s2 16->32 N128 32x32', N: 128, C: 16, K: 32, H: 32, R: 3, stride: 2, pad: 1 },
];

function convCases(o: { reps: number; warmup: number; gemmPeak: number }): OpsRow[] {
  const rows: OpsRow[] = [];
  for (const c of CONVS) {
    rn.manualSeed(1);
    const P = Math.floor((c.H + 2 * c.pad - c.R) / c.stride) + 1;
    const flops = 2 * c.N * c.K * c.C * c.R * c.R * P * P;
    const x0 = rn.randn([c.N, c.C, c.H, c.H]);
    const w = rn.randn([c.K, c.C, c.R, c.R], { std: 0.1 });
    const dy0 = rn.randn([c.N, c.K, P, P]);
    const xd = x0.dataSync() as Float32Array;
    const wd = w.dataSync() as Float32Array;
    const dyd = dy0.dataSync() as Float32Array;
    const B = binding();
    const params = [c.stride, c.stride, c.pad, c.pad, 1, 1, 1];
    for (const layout of ['NCHW', 'NHWC'] as const) {
      const x = layout === 'NHWC' ? x0.toChannelsLast() : x0;
      const dy = layout === 'NHWC' ? dy0.toChannelsLast() : dy0;
      const wrapT = (n: ReturnType<typeof B.conv2dForward>) => new rn.Tensor(n);
      const passes: [string, () => T[], (out: Float32Array) => number][] = [
        ['fwd', () => [wrapT(B.conv2dForward(x.h, w.h, null, params))], (out) => {
          let e = 0;
          for (let i = 0; i < 32; i++) {
            const n = (i * 7) % c.N, k = (i * 5) % c.K, p = (i * 3) % P, q = (i * 11) % P;
            const ref = conv2dRef(xd, wd, [c.N, c.C, c.H, c.H], [c.K, c.C, c.R, c.R], c.stride, c.pad, n, k, p, q);
            e = Math.max(e, Math.abs(out[((n * c.K + k) * P + p) * P + q] - ref) / Math.max(1, Math.abs(ref)));
          }
          return e;
        }],
        ['bwd-data', () => [wrapT(B.conv2dBackwardData(dy.h, w.h, [c.N, c.C, c.H, c.H], layout === 'NHWC', params))], (out) => {
          let e = 0;
          for (let i = 0; i < 32; i++) {
            const n = (i * 7) % c.N, ch = (i * 5) % c.C, h = (i * 3) % c.H, v = (i * 11) % c.H;
            let ref = 0;
            for (let k = 0; k < c.K; k++)
              for (let r = 0; r < c.R; r++)
                for (let s = 0; s < c.R; s++) {
                  const ph = h + c.pad - r, pw = v + c.pad - s;
                  if (ph % c.stride || pw % c.stride) continue;
                  const p = ph / c.stride, q = pw / c.stride;
                  if (p < 0 || p >= P || q < 0 || q >= P) continue;
                  ref += dyd[((n * c.K + k) * P + p) * P + q] * wd[((k * c.C + ch) * c.R + r) * c.R + s];
                }
            e = Math.max(e, Math.abs(out[((n * c.C + ch) * c.H + h) * c.H + v] - ref) / Math.max(1, Math.abs(ref)));
          }
          return e;
        }],
        ['bwd-weight', () => [wrapT(B.conv2dBackwardWeight(dy.h, x.h, [c.K, c.C, c.R, c.R], params))], (out) => {
          let e = 0;
          for (let i = 0; i < 8; i++) {
            const k = (i * 5) % c.K, ch = (i * 3) % c.C, r = i % c.R, s = (i * 2) % c.R;
            let ref = 0;
            for (let n = 0; n < c.N; n++)
              for (let p = 0; p < P; p++)
                for (let q = 0; q < P; q++) {
                  const h = p * c.stride - c.pad + r, v = q * c.stride - c.pad + s;
                  if (h < 0 || h >= c.H || v < 0 || v >= c.H) continue;
                  ref += dyd[((n * c.K + k) * P + p) * P + q] * xd[((n * c.C + ch) * c.H + h) * c.H + v];
                }
            e = Math.max(e, Math.abs(out[((k * c.C + ch) * c.R + r) * c.R + s] - ref) / Math.max(1, Math.abs(ref)));
          }
          return e;
        }],
      ];
      for (const [pass, run, check] of passes) {
        const outs = run();
        const maxErr = check(outs[0].dataSync() as Float32Array);  // read-back is in logical NCHW order
        for (const t of outs) t.dispose();
        const ms = timeOps(run, o.reps, o.warmup);
        const m = median(ms);
        const rate = flops / (m / 1e3) / 1e9;
        rows.push({ case: `${c.name} ${pass}`, layout, ms: m, spreadPct: ((Math.max(...ms) - Math.min(...ms)) / m) * 100, rate, unit: 'GFLOP/s', pctPeak: (rate / o.gemmPeak) * 100, maxErr });
      }
      if (layout === 'NHWC') {
        x.dispose();
        dy.dispose();
      }
    }
    for (const t of [x0, w, dy0]) t.dispose();
  }
  return rows;
}

function gemmCases(o: { reps: number; warmup: number; gemmPeak: number }): OpsRow[] {
  const rows: OpsRow[] = [];
  for (const [M, K, N] of [[2048, 2048, 2048], [4096, 512, 512], [128, 2048, 1000]]) {
    rn.manualSeed(2);
    const a = rn.randn([M, K]);
    const b = rn.randn([K, N]);
    const ad = a.dataSync() as Float32Array;
    const bd = b.dataSync() as Float32Array;
    const run = () => [rn.matmul(a, b)];
    const out = run()[0];
    const od = out.dataSync() as Float32Array;
    let maxErr = 0;
    for (let i = 0; i < 32; i++) {
      const r = (i * 37) % M, c = (i * 53) % N;
      let s = 0;
      for (let k = 0; k < K; k++) s += ad[r * K + k] * bd[k * N + c];
      maxErr = Math.max(maxErr, Math.abs(od[r * N + c] - s) / Math.max(1, Math.abs(s)));
    }
    out.dispose();
    const ms = timeOps(run, o.reps, o.warmup);
    const m = median(ms);
    const rate = (2 * M * N * K) / (m / 1e3) / 1e9;
    rows.push({ case: `gemm ${M}x${K} @ ${K}x${N}`, layout: '-', ms: m, spreadPct: ((Math.max(...ms) - Math.min(...ms)) / m) * 100, rate, unit: 'GFLOP/s', pctPeak: (rate / o.gemmPeak) * 100, maxErr });
    a.dispose();
    b.dispose();
  }
  return rows;
}

function optimCases(o: { reps: number; warmup: number; bwPeak: number }): OpsRow[] {
  const rows: OpsRow[] = [];
  const n = 11_689_512;  // resnet18's parameter count, one tensor
  for (const kind of ['sgd', 'adamw'] as const) {
    rn.manualSeed(3);
    const p = rn.randn([n]).keep();
    p.requiresGrad_();
    p.grad = rn.randn([n]).keep();
    const p0 = p.dataSync() as Float32Array;
    const g0 = p.grad.dataSync() as Float32Array;
    const opt = kind === 'sgd'
      ? new rn.optim.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 })
      : new rn.optim.AdamW([p], { lr: 1e-3, weightDecay: 0.01 });
    opt.step();  // first step: validate against the definition on sampled elements
    const p1 = p.dataSync() as Float32Array;
    let maxErr = 0;
    for (let i = 0; i < 64; i++) {
      const j = (i * 182_641) % n;
      let ref: number;
      if (kind === 'sgd') {
        const g = g0[j] + 5e-4 * p0[j];  // first step: buf = g; nesterov: g + 0.9 * buf
        ref = p0[j] - 0.1 * (g + 0.9 * g);
      } else {
        const m = 0.1 * g0[j], v = 0.001 * g0[j] * g0[j];
        const mh = m / 0.1, vh = v / 0.001;
        ref = p0[j] * (1 - 1e-3 * 0.01) - (1e-3 * mh) / (Math.sqrt(vh) + 1e-8);
      }
      maxErr = Math.max(maxErr, Math.abs(p1[j] - ref) / Math.max(1, Math.abs(ref)));
    }
    const ms = timeOps(() => {
      opt.step();
      return [];
    }, o.reps, o.warmup);
    const m = median(ms);
    const bytes = (kind === 'sgd' ? 5 : 7) * 4 * n;  // sgd: p r/w, g r, buf r/w; adamw: p, m, v r/w + g r
    const rate = bytes / (m / 1e3) / 1e9;
    rows.push({ case: `${kind} step ${n} params`, layout: '-', ms: m, spreadPct: ((Math.max(...ms) - Math.min(...ms)) / m) * 100, rate, unit: 'GB/s', pctPeak: (rate / o.bwPeak) * 100, maxErr });
    opt.dispose();
    p.dispose();
  }
  return rows;
}

const TORCH_OPS = String.raw`
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1])); reps = int(sys.argv[2])
flush = torch.ones(64 << 18)  # 64 MiB read before every repetition, as resnode's side does (benchFlush)
def t(f):
    f(); f(); ts = []
    for _ in range(reps):
        flush.sum()
        s = time.perf_counter(); f(); ts.append((time.perf_counter() - s) * 1000)
    return sorted(ts)[len(ts) // 2]
out = {}
convs = [(32,64,64,56,1),(128,16,16,32,1),(128,32,32,16,1),(128,64,64,8,1),(128,16,32,32,2)]
names = ['conv 3x3 64->64 N32 56x56','conv 3x3 16->16 N128 32x32','conv 3x3 32->32 N128 16x16','conv 3x3 64->64 N128 8x8','conv 3x3 s2 16->32 N128 32x32']
for (N,C,K,H,s), nm in zip(convs, names):
    for lay, fmt in (('NCHW', torch.contiguous_format), ('NHWC', torch.channels_last)):
        x = torch.randn(N,C,H,H).contiguous(memory_format=fmt).requires_grad_(); w = torch.randn(K,C,3,3).contiguous(memory_format=fmt).requires_grad_()
        with torch.no_grad(): out[nm + ' fwd|' + lay] = t(lambda: torch.nn.functional.conv2d(x, w, stride=s, padding=1))
        y = torch.nn.functional.conv2d(x, w, stride=s, padding=1); dy = torch.randn_like(y)
        out[nm + ' bwd-data|' + lay] = t(lambda: torch.autograd.grad(y, x, dy, retain_graph=True))
        out[nm + ' bwd-weight|' + lay] = t(lambda: torch.autograd.grad(y, w, dy, retain_graph=True))
for M,K,N in ((2048,2048,2048),(4096,512,512),(128,2048,1000)):
    a = torch.randn(M,K); b = torch.randn(K,N)
    out['gemm %dx%d @ %dx%d|-' % (M,K,K,N)] = t(lambda: a @ b)
n = 11689512
for kind in ('sgd', 'adamw'):
    p = torch.nn.Parameter(torch.randn(n)); p.grad = torch.randn(n)
    o = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4) if kind == 'sgd' else torch.optim.AdamW([p], lr=1e-3, weight_decay=0.01)
    out['%s step %d params|-' % (kind, n)] = t(o.step)
print(json.dumps(out))
`;

export function runOps(o: { reps: number; warmup: number; compareTorch: boolean; python: string; json: boolean }): OpsRow[] {
  if (!(o.reps >= 1) || !(o.warmup >= 0)) throw rnError('ERR_RN_RANGE', 'bench ops: --steps must be >= 1 and --warmup >= 0');
  const B = binding();
  const bw = B.benchCopy(256 << 20, 3);
  const bwPeak = Math.max(bw.copy, bw.triad, bw.triadNt, bw.read);
  const peakCase = gemmCases({ reps: 3, warmup: 1, gemmPeak: 1 })[0];
  const gemmPeak = peakCase.rate;
  const cfg = { reps: o.reps, warmup: o.warmup, gemmPeak, bwPeak };
  const rows = [...convCases(cfg), ...gemmCases(cfg), ...optimCases(cfg)];
  if (o.compareTorch) {
    const r = spawnSync(o.python, ['-c', TORCH_OPS, String(rn.getNumThreads()), String(o.reps)], { encoding: 'utf8' });
    if (r.status !== 0) throw rnError('ERR_RN_LOAD', `bench ops: PyTorch reference failed (${o.python}): ${(r.stderr || '').trim().split('\n').pop()}`);
    const t = JSON.parse(r.stdout) as Record<string, number>;
    for (const row of rows) row.torchMs = t[`${row.case}|${row.layout}`];
  }
  if (o.json) {
    console.log(JSON.stringify({ machine: { threads: rn.getNumThreads(), simd: rn.buildInfo().simd, bandwidthGBs: bw, gemmPeakGFLOPs: gemmPeak }, rows }, null, 1));
  } else {
    console.log(`machine: ${rn.getNumThreads()} threads, ${rn.buildInfo().simd}; DRAM peak ${bwPeak.toFixed(1)} GB/s (best of copy/triad/read), GEMM peak ${gemmPeak.toFixed(0)} GFLOP/s (2048^3)`);
    console.log(`${'case'.padEnd(42)} ${'layout'.padEnd(6)} ${'ms'.padStart(9)} ${'spread'.padStart(7)} ${'rate'.padStart(16)} ${'%peak'.padStart(6)} ${'max err'.padStart(8)}${o.compareTorch ? '  PyTorch ms   ratio' : ''}`);
    for (const r of rows)
      console.log(`${r.case.padEnd(42)} ${r.layout.padEnd(6)} ${r.ms.toFixed(3).padStart(9)} ${(r.spreadPct.toFixed(0) + '%').padStart(7)} ${(r.rate.toFixed(1) + ' ' + r.unit).padStart(16)} ${r.pctPeak.toFixed(0).padStart(5)}% ${r.maxErr.toExponential(1).padStart(8)}` +
        (r.torchMs !== undefined ? `  ${r.torchMs.toFixed(3).padStart(9)}  ${(r.torchMs / r.ms).toFixed(2).padStart(5)}x` : ''));
  }
  return rows;
}
