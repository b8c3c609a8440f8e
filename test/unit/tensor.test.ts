// Tensor creation, views, layout and read-back.
import * as rn from '../../lib';

const arr = (t: rn.Tensor) => Array.from(t.dataSync() as Float32Array);

describe('creation', () => {
  test('from TypedArrays, nested arrays and numbers', () => {
    expect(rn.tensor(Float32Array.from([1, 2, 3, 4]), { shape: [2, 2] }).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(rn.tensor([[1, 2, 3], [4, 5, 6]]).shape).toEqual([2, 3]);
    expect(rn.tensor(7).shape).toEqual([]);
    expect(rn.tensor(7).itemSync()).toBe(7);
    const i = rn.tensor(Int32Array.from([3, 1]), {});
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync() as Int32Array)).toEqual([3, 1]);
    const u = rn.tensor(Uint8Array.from([255, 0]));
    expect(u.dtype).toBe('uint8');
    const l = rn.tensor(BigInt64Array.from([2n ** 40n]));
    expect(l.dtype).toBe('int64');
    expect((l.dataSync() as BigInt64Array)[0]).toBe(2n ** 40n);
    expect(rn.tensor([1.5, 2.5], { dtype: 'int32' }).toArray()).toEqual([1, 2]);
  });
  test('input buffer is copied', () => {
    const a = Float32Array.from([1, 2]);
    const t = rn.tensor(a);
    a[0] = 9;
    expect(arr(t)).toEqual([1, 2]);
  });
  test('zeros/ones/full/arange/empty', () => {
    expect(arr(rn.zeros([3]))).toEqual([0, 0, 0]);
    expect(arr(rn.ones([2, 1]))).toEqual([1, 1]);
    expect(arr(rn.full([2], 3.5))).toEqual([3.5, 3.5]);
    expect(arr(rn.arange(5))).toEqual([0, 1, 2, 3, 4]);
    expect(arr(rn.arange(1, 2, 0.25))).toEqual([1, 1.25, 1.5, 1.75]);
    expect(rn.empty([2, 3]).shape).toEqual([2, 3]);
    expect(rn.zeros([0, 4]).numel).toBe(0);
    expect(rn.full([2], 7, { dtype: 'int32' }).toArray()).toEqual([7, 7]);
  });
  test('seeded rand/randn are reproducible and well distributed', () => {
    rn.manualSeed(42);
    const a = arr(rn.randn([10000]));
    rn.manualSeed(42);
    const b = arr(rn.randn([10000]));
    expect(a).toEqual(b);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
    const u = arr(rn.rand([10000], { low: 2, high: 3 }));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
    const c = arr(rn.randn([4]));
    expect(c).not.toEqual(a.slice(0, 4));  // the generator advanced
    const st = rn.getRngState();
    const d1 = arr(rn.rand([5]));
    rn.setRngState(st);
    expect(arr(rn.rand([5]))).toEqual(d1);
  });
});

describe('views', () => {
  const base = () => rn.arange(24).reshape([2, 3, 4]);
  test('reshape / view / flatten share storage', () => {
    const t = base();
    expect(t.reshape([6, -1]).shape).toEqual([6, 4]);
    expect(t.flatten().shape).toEqual([24]);
    expect(t.flatten(1).shape).toEqual([2, 12]);
    const v = t.view([4, 6]);
    v.fill(1);
    expect(arr(t).every((x) => x === 1)).toBe(true);
  });
  test('permute / transpose / contiguous', () => {
    const t = base();
    const p = t.permute([2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(p.isContiguous()).toBe(false);
    expect((p.toArray() as number[][][])[1][0]).toEqual([1, 5, 9]);
    const c = p.contiguous();
    expect(c.isContiguous()).toBe(true);
    expect(arr(c).slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
    expect(arr(rn.tensor([[1, 2], [3, 4]]).t())).toEqual([1, 3, 2, 4]);
  });
  test('slice with step along a dim', () => {
    const t = base();
    expect(t.slice(2, 1, 3).toArray()).toEqual([[[1, 2], [5, 6], [9, 10]], [[13, 14], [17, 18], [21, 22]]]);
    expect(arr(rn.arange(10).slice(0, 1, 9, 3))).toEqual([1, 4, 7]);
    expect(arr(rn.arange(10).slice(0, -3))).toEqual([7, 8, 9]);
    expect(rn.arange(10).slice(0, 5, 2).shape).toEqual([0]);
  });
  test('channels-last keeps the logical shape', () => {
    const t = rn.arange(24).reshape([1, 2, 3, 4]);
    const cl = t.toChannelsLast();
    expect(cl.shape).toEqual([1, 2, 3, 4]);
    expect(cl.strides).toEqual([24, 1, 8, 2]);
    expect(cl.isChannelsLast()).toBe(true);
    expect(arr(cl)).toEqual(arr(t));  // read-back is in logical order
  });
  test('cat / split / pad / expand', () => {
    const a = rn.tensor([[1, 2], [3, 4]]);
    const b = rn.tensor([[5, 6]]);
    expect(rn.cat([a, b], 0).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(rn.cat([a, a], 1).toArray()).toEqual([[1, 2, 1, 2], [3, 4, 3, 4]]);
    expect(rn.split(rn.arange(5), 2).map((t) => arr(t))).toEqual([[0, 1], [2, 3], [4]]);
    expect(rn.F.pad(rn.tensor([[1]]), [1, 0, 0, 1], 9).toArray()).toEqual([[9, 1], [9, 9]]);
    expect(rn.tensor([[1], [2]]).expand([2, 3]).contiguous().toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
  });
});

describe('read-back', () => {
  test('data() resolves, item() reads scalars, toArray nests', async () => {
    const t = rn.tensor([[1, 2], [3, 4]]);
    expect(Array.from((await t.data()) as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(await rn.sum(t).item()).toBe(10);
    expect(rn.mean(t).itemSync()).toBe(2.5);
    expect(t.toArray()).toEqual([[1, 2], [3, 4]]);
  });
  test('to(dtype) converts', () => {
    expect(rn.tensor([1.7, -2.2]).to('int32').toArray()).toEqual([1, -2]);
    expect(rn.tensor(Uint8Array.from([200])).to('float32').toArray()).toEqual([200]);
  });
});

describe('threads', () => {
  test('setNumThreads changes the pool and results stay equal', () => {
    const prev = rn.getNumThreads();
    rn.manualSeed(1);
    const x = rn.randn([8, 3, 16, 16]);
    const w = rn.randn([4, 3, 3, 3]);
    const a = arr(rn.F.conv2d(x, w, null, { padding: 1 }));
    rn.setNumThreads(1);
    expect(rn.getNumThreads()).toBe(1);
    const b = arr(rn.F.conv2d(x, w, null, { padding: 1 }));
    rn.setNumThreads(prev);
    let maxd = 0;
    for (let i = 0; i < a.length; i++) maxd = Math.max(maxd, Math.abs(a[i] - b[i]));
    expect(maxd).toBeLessThan(1e-4);
  });
});

test('to(dtype) keeps channels-last memory', () => {
  const x = rn.arange(24).reshape([1, 2, 3, 4]).toChannelsLast();
  const i = x.to('int32');
  expect(i.isChannelsLast()).toBe(true);
  expect(i.toArray()).toEqual(rn.arange(24).reshape([1, 2, 3, 4]).to('int32').toArray());
});
