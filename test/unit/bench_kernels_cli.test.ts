// `resnode bench kernels`: the fused-kernel suite through the CLI, in-process, on one small case —
// it validates before it times and reports the machine's measured peak. Structure only, no timing thresholds.
import { main as cliMain } from '../../lib/cli/main';
import type { KernelReport } from '../../lib/cli/bench_kernels';
import { binding } from '../../lib/binding';

/** Runs `resnode <argv>`; returns the exit status and what went to stdout and stderr. */
async function cli(argv: string[]): Promise<{ rc: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { log: console.log, error: console.error, out: process.stdout.write, err: process.stderr.write };
  console.log = (...a: unknown[]) => void out.push(a.join(' ') + '\n');
  console.error = (...a: unknown[]) => void err.push(a.join(' ') + '\n');
  process.stdout.write = ((c: unknown) => (out.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: unknown) => (err.push(String(c)), true)) as typeof process.stderr.write;
  try {
    const rc = await cliMain(argv);
    return { rc, out: out.join(''), err: err.join('') };
  } finally {
    console.log = saved.log;
    console.error = saved.error;
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
}

const CASE = 'bn+add+relu fwd+bwd 128x64x8x8 NHWC';

test('bench kernels --quick --json: one case validated, then timed, against the measured peak', async () => {
  const r = await cli(['bench', 'kernels', '--quick', '--json', '--filter', CASE, '--reps', '2', '--copy-mb', '16']);
  expect(r.err).toBe('');
  expect(r.rc).toBe(0);
  const j = JSON.parse(r.out) as KernelReport;
  expect(j.bench).toBe('bn_add_relu');
  expect(j.ok).toBe(true);
  expect(j.options).toMatchObject({ reps: 2, warmup: 1, rounds: 1, filter: CASE, copyBytes: 16 << 20, compareTorch: false });
  expect(j.torch).toBeNull();
  // the machine's yardsticks are measured, not assumed
  for (const k of ['copyGBs', 'triadGBs', 'triadNtGBs', 'readGBs', 'peakGBs', 'gemmGflops'] as const) expect(j.machine[k]).toBeGreaterThan(0);
  expect(j.machine.peakGBs).toBe(Math.max(...j.machine.bandwidthSamples));
  // validation: every implementation against the unfused reference
  expect(Object.keys(j.validation)).toEqual([CASE]);
  expect(j.validation[CASE].length).toBeGreaterThanOrEqual(1);
  for (const v of j.validation[CASE]) expect(v.ok).toBe(true);
  const impls = j.rows.map((row) => row.impl);
  expect(impls).toContain('unfused');
  expect(impls.some((i) => i.startsWith('fused v'))).toBe(true);
  for (const row of j.rows) {
    expect(row.key).toBe(CASE);
    expect(row.reps).toBe(2);
    expect(row.validated).toMatch(row.impl === 'unfused' ? /^reference$/ : /^ok /);
    expect(row.min).toBeGreaterThan(0);
    expect(row.ms).toBeGreaterThanOrEqual(row.min);
    expect(row.gbs).toBeGreaterThan(0);
    expect(row.pctPeak).toBeGreaterThan(0);
    // 11 passes of E floats; with the ReLU bits (v2) 10 passes + the bits written and read once
    const E = 128 * 64 * 8 * 8;
    expect(row.bytes).toBe(binding().bnAddReluVersion() === 2 ? 10 * E * 4 + 2 * (E / 8) : 11 * E * 4);
  }
}, 60000);

test('bench lists its subcommands; kernels options are checked before anything runs', async () => {
  const bare = await cli(['bench']);
  expect(bare.rc).toBe(2);
  for (const s of ['train', 'ops', 'kernels']) expect(bare.out).toMatch(new RegExp(`^  ${s} `, 'm'));
  expect((await cli(['bench', '--help'])).rc).toBe(0);
  expect((await cli(['bench', 'kernels', '--help'])).out).toContain('--compare-torch');
  const nomatch = await cli(['bench', 'kernels', '--filter', 'no such case']);
  expect(nomatch.rc).toBe(1);
  expect(nomatch.err).toMatch(/matches no case.*\[ERR_RN_ARG\]/);
  const reps = await cli(['bench', 'kernels', '--reps', '0']);
  expect(reps.err).toMatch(/bench kernels --reps.*\[ERR_RN_RANGE\]/);
});

test('bench kernels --compare-torch without a usable python is an ERR_RN_LOAD message, not a stack trace', async () => {
  const r = await cli(['bench', 'kernels', '--compare-torch', '--python', '/nonexistent/python3', '--filter', CASE]);
  expect(r.rc).toBe(1);
  expect(r.err).toMatch(/^resnode bench: bench kernels --compare-torch: the PyTorch reference .*python with torch.*\[ERR_RN_LOAD\]\n$/);
  expect(r.out).toBe('');
});
