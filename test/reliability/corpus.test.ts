// The bad-input corpus (test/reliability/corpus.ts): every public op, module, reader and CLI
// command, and every native Binding function, against bad input. Each case must give an Error
// with a stable code and a message naming the argument or file, or behave as its table says;
// never a crash, abort, hang or silent garbage. Prints `corpus: N cases, N passed`.
// CORPUS_TRACE=<file> appends each case name before it runs (to find a case that kills the process).
import * as fs from 'fs';
import { Case, evaluate } from './corpus';
import * as corpus from './corpus';

const totals = { cases: 0, passed: 0 };
const trace = process.env.CORPUS_TRACE;

async function runAll(group: string, cases: Case[]): Promise<string[]> {
  const failures: string[] = [];
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) failures.push(`${c.name}: duplicate case name`);
    names.add(c.name);
    if (trace) fs.appendFileSync(trace, `${group} :: ${c.name}\n`);
    const r = await evaluate(c);
    totals.cases++;
    if (r === null) totals.passed++;
    else failures.push(`${c.name}: ${r}`);
  }
  return failures;
}

afterAll(() => {
  process.stdout.write(`corpus: ${totals.cases} cases, ${totals.passed} passed\n`);
});

test('ops (rn.F, rn.*): one argument mutated at a time', async () => {
  expect(await runAll('ops', corpus.opCorpus())).toEqual([]);
});

test('native Binding: every function, garbage in every argument position', async () => {
  expect(await runAll('native', corpus.nativeCorpus())).toEqual([]);
});

test('creation, tensor methods and scalar arguments', async () => {
  expect(await runAll('creation', corpus.creationCorpus())).toEqual([]);
});

test('modules, models, optimisers, data loader and transforms', async () => {
  expect(await runAll('modules', corpus.moduleCorpus())).toEqual([]);
});

test('file readers: safetensors, IDX, CIFAR', async () => {
  expect(await runAll('readers', corpus.readerCorpus())).toEqual([]);
});

test('checkpoints', async () => {
  expect(await runAll('checkpoints', corpus.checkpointCorpus())).toEqual([]);
});

test('CLI commands', async () => {
  expect(await runAll('cli', corpus.cliCorpus())).toEqual([]);
});
