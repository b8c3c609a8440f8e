// The ops microbenchmark validates before it times: a tiny run must report small errors for every case.
import { runOps } from '../../lib/cli/bench_ops';

test('bench ops: every case validates against its reference', () => {
  const log = console.log;
  console.log = () => undefined;
  try {
    const rows = runOps({ reps: 1, warmup: 0, compareTorch: false, python: '', json: false });
    expect(rows.length).toBe(5 * 2 * 3 + 3 + 2);
    for (const r of rows) {
      expect(r.maxErr).toBeLessThan(1e-3);
      expect(r.ms).toBeGreaterThan(0);
    }
  } finally {
    console.log = log;
  }
}, 120000);
