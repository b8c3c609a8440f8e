// Whole-network checks on the CUDA backend (test/gpu/model_cases.js, shared with the plain-node
// runner bench/gpu/run_tests.js): Module.to('cuda'), a resnet20 SGD step against the CPU, and a
// bf16 autocast + channels-last resnet20 step. Skipped, with the reason in the suite's name, where
// rn.cuda.isAvailable() is false; the cases' own logic is checked everywhere with both sides on
// the CPU.
import * as rn from '../../lib';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { makeModelCases } = require('./model_cases.js');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { runCases } = require('./cases.js');

interface Check { name: string; err: number; tol: number }
interface Result { name: string; ok: boolean; skipped?: boolean; error?: string | null; failures?: Check[] }
const available = rn.cuda.isAvailable();
const describeGpu = available ? describe : describe.skip;

describeGpu(`CUDA models match the CPU backend${available ? '' : ` (skipped: no GPU here: ${rn.cuda.status()})`}`, () => {
  for (const c of makeModelCases(rn, { device: 'cuda' })) {
    test(c.name, async () => {
      const r = await runCases([c], { device: 'cuda' });
      const res: Result = r.results[0];
      expect({ error: res.error ?? null, failures: (res.failures ?? []).map((k) => `${k.name}: ${k.err} > ${k.tol}`) }).toEqual({ error: null, failures: [] });
    });
  }
});

describe('GPU model cases (self-test with both sides on the CPU)', () => {
  test('every case runs and agrees with itself', async () => {
    const cases = makeModelCases(rn, { device: 'cpu' });
    expect(cases.length).toBe(3);
    const r = await runCases(cases, { device: 'cpu' });
    const bad = (r.results as Result[]).filter((x) => !x.ok).map((x) => `${x.name}: ${x.error ?? (x.failures ?? []).map((k) => `${k.name} ${k.err} > ${k.tol}`).join(', ')}`);
    expect(bad).toEqual([]);
    expect((r.results as Result[]).filter((x) => x.skipped).map((x) => x.name)).toEqual(['model: Module.to(cuda) moves parameters, buffers and gradients in place']);
  });
});
