/**
 * `resnode doctor`: what this installation is and whether it works — Node/N-API versions, the
 * addon's path and build flags, SIMD level, threads, BLAS, CUDA status, and a short self-test of
 * conv2d forward and backward against a plain JavaScript reference on every available device.
 */
import * as os from 'os';
import * as rn from '../index';

export interface DoctorReport {
  node: string;
  napi: string;
  platform: string;
  addon: string;
  version: string;
  compiler: string;
  simd: string;
  threads: number;
  cpus: number;
  cpuModel: string;
  blas: string;
  cuda: { available: boolean; status: string };
  /** cuDNN / cuBLAS: where they were found (path, version) or why not */
  libraries: { name: string; loaded: boolean; version: number; path: string; error?: string }[];
  selfTest: { device: string; ok: boolean; maxError: number; ms: number; detail: string }[];
}

/** Naive conv2d (stride 1, padding p) and its input/weight gradients for sum(y * r). */
function referenceConv(x: Float32Array, w: Float32Array, r: Float32Array, N: number, C: number, H: number, W: number, K: number, R: number, p: number) {
  const P = H + 2 * p - R + 1;
  const Q = W + 2 * p - R + 1;
  const y = new Float64Array(N * K * P * Q);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      for (let i = 0; i < P; i++)
        for (let j = 0; j < Q; j++) {
          const yi = ((n * K + k) * P + i) * Q + j;
          let s = 0;
          for (let c = 0; c < C; c++)
            for (let a = 0; a < R; a++)
              for (let b = 0; b < R; b++) {
                const h = i - p + a;
                const v = j - p + b;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                const xi = ((n * C + c) * H + h) * W + v;
                const wi = ((k * C + c) * R + a) * R + b;
                s += x[xi] * w[wi];
                dx[xi] += r[yi] * w[wi];
                dw[wi] += r[yi] * x[xi];
              }
          y[yi] = s;
        }
  return { y, dx, dw };
}

function selfTest(device: string): DoctorReport['selfTest'][number] {
  const t0 = Date.now();
  try {
    return rn.tidy(() => {
      const [N, C, H, W, K, R, p] = [2, 3, 9, 7, 4, 3, 1];
      const xs = rn.randn([N, C, H, W]);
      const ws = rn.randn([K, C, R, R]);
      const rs = rn.randn([N, K, H, W]);
      const ref = referenceConv(xs.dataSync() as Float32Array, ws.dataSync() as Float32Array, rs.dataSync() as Float32Array, N, C, H, W, K, R, p);
      const x = xs.clone().requiresGrad_();
      const w = ws.clone().requiresGrad_();
      const y = rn.F.conv2d(x, w, null, { padding: p });
      rn.sum(rn.mul(y, rs)).backward();
      let maxError = 0;
      const cmp = (a: ArrayLike<number>, b: Float64Array) => {
        let m = 1;
        for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(b[i]));
        for (let i = 0; i < b.length; i++) maxError = Math.max(maxError, Math.abs(a[i] - b[i]) / m);
      };
      cmp(y.dataSync() as Float32Array, ref.y);
      cmp(x.grad!.dataSync() as Float32Array, ref.dx);
      cmp(w.grad!.dataSync() as Float32Array, ref.dw);
      const ok = maxError < 1e-4;
      return { device, ok, maxError, ms: Date.now() - t0, detail: ok ? 'conv2d forward + backward match the reference' : 'conv2d results differ from the reference' };
    });
  } catch (e) {
    return { device, ok: false, maxError: NaN, ms: Date.now() - t0, detail: (e as Error).message };
  }
}

function cudaLibraries(): DoctorReport['libraries'] {
  try {
    return (rn.cuda as unknown as { libraries(): DoctorReport['libraries'] }).libraries();
  } catch (e) {
    return [{ name: 'cudnn/cublas', loaded: false, version: 0, path: '', error: (e as Error).message }];
  }
}

export function doctor(): DoctorReport {
  const info = rn.buildInfo();
  const devices = ['cpu', ...(info.cuda ? ['cuda'] : [])];
  return {
    node: process.versions.node,
    napi: process.versions.napi ?? '?',
    platform: `${process.platform}-${process.arch}`,
    addon: info.path,
    version: info.version,
    compiler: `gcc ${info.compiler}`,
    simd: info.simd,
    threads: rn.getNumThreads(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    blas: info.blas,
    cuda: { available: info.cuda, status: info.cudaStatus },
    libraries: cudaLibraries(),
    selfTest: devices.map(selfTest),
  };
}

export function formatDoctor(r: DoctorReport): string {
  const rows: [string, string][] = [
    ['resnode', r.version],
    ['node', `${r.node} (N-API ${r.napi}, ${r.platform})`],
    ['addon', r.addon],
    ['compiler', r.compiler],
    ['cpu', `${r.cpuModel}, ${r.cpus} cores`],
    ['simd', r.simd],
    ['threads', String(r.threads)],
    ['blas', r.blas],
    ['cuda', `${r.cuda.available ? 'available' : 'not available'}: ${r.cuda.status}`],
  ];
  for (const l of r.libraries) rows.push([l.name, l.loaded ? `${l.path} (version ${l.version})` : `not found: ${l.error ?? 'unknown'}`]);
  for (const s of r.selfTest) rows.push([`self-test ${s.device}`, `${s.ok ? 'ok' : 'FAILED'} (${s.detail}; max rel error ${s.maxError.toExponential(1)}, ${s.ms} ms)`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
