/**
 * Op profiler: which ops a step runs, how often, and where the time goes — on the JS thread
 * (`hostMs`: argument checks, allocation, enqueueing or launching; what a GPU step pays per op)
 * and on the CPU stream thread (`kernelMs`: the kernels). Native, so it adds nothing when off.
 *
 * ```ts
 * rn.profiler.start();
 * step(); rn.sync();
 * console.log(rn.profiler.format(rn.profiler.stop()));
 * ```
 * `RESNODE_PROFILE=1` turns it on from process start (then read `rn.profiler.snapshot()`).
 * Backward ops appear under their own names (conv2dBackwardData, ...). CUDA kernels run
 * asynchronously on the GPU: for them only `hostMs` is measured.
 */
import { binding, ProfileRow } from './binding';

export type { ProfileRow };

/** Reset the counters and start recording. */
export function start(): void {
  binding().profileStart();
}
/** Stop recording and return the rows (call `rn.sync()` first so queued kernels are counted). */
export function stop(): ProfileRow[] {
  binding().syncDevice(0);
  return binding().profileStop();
}
/** The rows so far, without stopping. */
export function snapshot(): ProfileRow[] {
  return binding().profileSnapshot();
}
export function isEnabled(): boolean {
  return binding().profileEnabled();
}

/**
 * A table sorted by kernel + host time, with each row's share of the total; `per` divides the
 * times (e.g. the number of steps profiled) so rows read "per step".
 */
export function format(rows: ProfileRow[], opts: { per?: number; top?: number } = {}): string {
  const per = opts.per ?? 1;
  const sorted = [...rows].sort((a, b) => b.kernelMs + b.hostMs - (a.kernelMs + a.hostMs)).slice(0, opts.top ?? rows.length);
  const tk = rows.reduce((s, r) => s + r.kernelMs, 0), th = rows.reduce((s, r) => s + r.hostMs, 0);
  const pad = (s: string, n: number) => s.padStart(n);
  const lines = [`${'op'.padEnd(24)} ${pad('calls', 8)} ${pad('host ms', 10)} ${pad('kernel ms', 10)} ${pad('kernel %', 9)} ${pad('us/call', 9)}`];
  for (const r of sorted) {
    lines.push(
      `${r.name.padEnd(24)} ${pad(String(Math.round(r.calls / per)), 8)} ${pad((r.hostMs / per).toFixed(2), 10)} ${pad((r.kernelMs / per).toFixed(2), 10)} ` +
        `${pad(tk > 0 ? ((100 * r.kernelMs) / tk).toFixed(1) : '-', 9)} ${pad(r.calls > 0 ? ((1000 * r.hostMs) / r.calls).toFixed(1) : '-', 9)}`,
    );
  }
  lines.push(`${'total'.padEnd(24)} ${pad(String(Math.round(rows.reduce((s, r) => s + r.calls, 0) / per)), 8)} ${pad((th / per).toFixed(2), 10)} ${pad((tk / per).toFixed(2), 10)}`);
  return lines.join('\n');
}
