/**
 * The PyTorch side of the benchmarks' --compare-torch: where the reference scripts are
 * (bench/e2e/*.py, shipped in the npm package and found from the package root, not the working
 * directory), and the kernel suite's long-lived reference process (bench/e2e/torch_ref.py --serve).
 * A python without torch, or a missing script, is an ERR_RN_LOAD error naming what was tried.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawn, ChildProcessWithoutNullStreams } from 'child_process';
import { packageRoot } from '../binding';
import { rnError } from '../errors';
import type { Group, Options } from './harness';

/** The path of bench/e2e/<file> in this package; `command` names the caller in the error. */
export function torchScript(file: string, command: string): string {
  const f = path.join(packageRoot(), 'bench', 'e2e', file);
  if (!fs.existsSync(f)) throw rnError('ERR_RN_LOAD', `${command} --compare-torch: the PyTorch reference script ${f} is missing (the package ships bench/e2e/*.py; reinstall resnode)`);
  return f;
}

export interface TorchResult {
  ok: boolean;
  error?: string;
  torch?: string;
  threads?: number;
  /** key -> impl ('torch', 'torch inplace') -> times */
  times: Record<string, Record<string, number[]>>;
}
/**
 * A PyTorch process that times one case per request, so the runner can alternate resnode and
 * PyTorch case by case (both processes alive, only one of them running). Two are started: one
 * with libgomp's default spin-then-sleep wait policy (what users get; on a busy 2-core machine its
 * spinning threads lose whole scheduler slices, 20-130 ms outliers on a 0.1 ms op) and one with
 * OMP_WAIT_POLICY=passive (no such outliers, but slower wake-ups on small ops); the comparison
 * point is the fastest PyTorch time of either.
 */
export class TorchServer {
  private proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private waiting: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private failed: string | null = null;
  readonly result: TorchResult = { ok: true, times: {} };

  constructor(o: Options, threads: number, private readonly suffix = '', env: NodeJS.ProcessEnv = process.env) {
    const script = torchScript('torch_ref.py', 'bench kernels');
    this.proc = spawn(o.python, [script, '--serve', '--threads', String(threads), '--flush-mb', String(o.flushBytes >> 20)], { env });
    let err = '';
    this.proc.stderr.on('data', (d) => (err += d.toString()));
    this.proc.on('error', (e) => this.fail(e.message));
    // a write to a process that has exited must not become an uncaught EPIPE
    this.proc.stdin.on('error', (e) => this.fail(e.message));
    this.proc.on('close', (code) => {
      // (after stderr has been read) the last line of a Python traceback says what went wrong (e.g. No module named 'torch')
      if (code !== 0) this.fail(`exited with ${code}: ${err.trim().split('\n').pop() ?? ''}`);
    });
    this.proc.stdout.on('data', (d) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
  }
  private fail(msg: string): void {
    this.failed ??= msg;
    this.result.ok = false;
    this.result.error = this.failed;
    for (const w of this.waiting.splice(0)) w('');
  }
  private next(): Promise<string> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    if (this.failed) return Promise.resolve('');
    return new Promise((res) => this.waiting.push(res));
  }
  async start(): Promise<boolean> {
    const hello = await this.next();
    if (!hello) return false;
    let h: { torch: string; threads: number };
    try {
      h = JSON.parse(hello);
    } catch {
      this.fail(`unexpected output: ${hello.slice(0, 200)}`);
      return false;
    }
    this.result.torch = h.torch;
    this.result.threads = h.threads;
    return true;
  }
  async time(g: Group, reps: number, warmup: number): Promise<void> {
    if (this.failed) return;
    const c = { key: g.key, variant: g.variant, pass: g.pass, shape: g.shape, layout: g.layout };
    this.proc.stdin.write(JSON.stringify({ case: c, reps, warmup }) + '\n');
    const line = await this.next();
    if (!line) return;
    const r = JSON.parse(line) as { key: string; results: Record<string, number[]> };
    for (const [impl, ts] of Object.entries(r.results)) ((this.result.times[r.key] ??= {})[impl + this.suffix] ??= []).push(...ts);
  }
  close(): void {
    this.proc.stdin.end();
  }
}

/**
 * Start the reference processes (default OpenMP wait policy, and passive unless OMP_WAIT_POLICY is
 * set) and wait until each has imported torch; a failure stops them all and throws ERR_RN_LOAD.
 */
export async function startTorchServers(o: Options, threads: number): Promise<TorchServer[]> {
  const servers = [new TorchServer(o, threads)];
  if (!process.env.OMP_WAIT_POLICY) servers.push(new TorchServer(o, threads, ' (omp passive)', { ...process.env, OMP_WAIT_POLICY: 'passive' }));
  for (const s of servers) {
    if (await s.start()) continue;
    for (const x of servers) x.close();
    throw rnError('ERR_RN_LOAD', `bench kernels --compare-torch: the PyTorch reference (${o.python} ${torchScript('torch_ref.py', 'bench kernels')}) failed: ${s.result.error}; it needs a python with torch (--python PATH)`);
  }
  return servers;
}
