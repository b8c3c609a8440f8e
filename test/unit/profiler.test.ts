/**
 * rn.profiler: the native op profiler. Counts binding calls per op name (host CPU time on the JS
 * thread) and CPU stream jobs (kernel time), refines generic entry points to the op (binary ->
 * "add"), records nothing when stopped, and formats a table.
 */
import * as rn from '../../lib';

afterEach(() => {
  if (rn.profiler.isEnabled()) rn.profiler.stop();
});

test('counts calls and kernel time per op, named by the op', () => {
  const x = rn.randn([4, 8, 16, 16]);
  const w = rn.randn([8, 8, 3, 3]);
  rn.sync();
  rn.profiler.start();
  expect(rn.profiler.isEnabled()).toBe(true);
  for (let i = 0; i < 3; i++) {
    const y = rn.F.conv2d(x, w, null, { padding: 1 });
    const z = rn.add(y, y);
    y.dispose();
    z.dispose();
  }
  const rows = rn.profiler.stop();
  expect(rn.profiler.isEnabled()).toBe(false);
  const by = new Map(rows.map((r) => [r.name, r]));
  const conv = by.get('conv2dForward')!;
  expect(conv).toBeDefined();
  expect(conv.calls).toBe(3);
  expect(conv.jobs).toBeGreaterThanOrEqual(3);
  expect(conv.kernelMs).toBeGreaterThan(0);
  expect(conv.hostMs).toBeGreaterThanOrEqual(0);
  const add = by.get('add')!;  // the binding entry point is "binary"; the op refines the name
  expect(add.calls).toBe(3);
  expect(add.jobs).toBe(3);
  expect(by.has('binary')).toBe(false);
  const table = rn.profiler.format(rows, { per: 3 });
  expect(table.split('\n')[0]).toMatch(/op\s+calls\s+host ms\s+kernel ms/);
  expect(table).toMatch(/^conv2dForward\s+1\s/m);
  expect(table).toMatch(/^total/m);
  x.dispose();
  w.dispose();
});

test('records nothing while stopped; start() resets', () => {
  const a = rn.ones([1000]);
  rn.profiler.start();
  rn.add(a, a).dispose();
  rn.profiler.stop();
  rn.add(a, a).dispose();  // not recorded
  rn.sync();
  expect(rn.profiler.snapshot().find((r) => r.name === 'add')!.calls).toBe(1);
  rn.profiler.start();
  rn.sync();
  expect(rn.profiler.snapshot().find((r) => r.name === 'add')).toBeUndefined();
  rn.profiler.stop();
  a.dispose();
});
