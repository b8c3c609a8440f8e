// Every CUDA op against the CPU backend (the cases live in cases.js, shared with the plain-node
// runner bench/gpu/run_tests.js that a GPU machine without jest uses). Skipped, with the reason in
// the suite's name, where rn.cuda.isAvailable() is false. The cases' own logic is checked
// everywhere by running them with both sides on the CPU.
import * as rn from '../../lib';
import { binding, Unary, BinaryOp, ScalarOp } from '../../lib/binding';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { makeCases, runCases } = require('./cases.js');

interface Check { name: string; err: number; tol: number }
interface Result { name: string; ok: boolean; error?: string | null; failures?: Check[] }
const codes = { Unary, BinaryOp, ScalarOp };
const available = rn.cuda.isAvailable();
const describeGpu = available ? describe : describe.skip;

describeGpu(`CUDA ops match the CPU backend${available ? '' : ` (skipped: no GPU here: ${rn.cuda.status()})`}`, () => {
  const cases = makeCases(rn, binding, { device: 'cuda', codes });
  for (const c of cases) {
    test(c.name, async () => {
      const r = await runCases([c], { device: 'cuda' });
      const res: Result = r.results[0];
      expect({ error: res.error ?? null, failures: (res.failures ?? []).map((k) => `${k.name}: ${k.err} > ${k.tol}`) }).toEqual({ error: null, failures: [] });
    });
  }
});

describe('GPU test cases (self-test with both sides on the CPU)', () => {
  test('every case runs and agrees with itself', async () => {
    const cases = makeCases(rn, binding, { device: 'cpu', codes });
    expect(cases.length).toBeGreaterThan(20);
    const r = await runCases(cases, { device: 'cpu' });
    const bad = (r.results as Result[]).filter((x) => !x.ok).map((x) => `${x.name}: ${x.error ?? (x.failures ?? []).map((k) => k.name).join(', ')}`);
    expect(bad).toEqual([]);
  });
});
