/**
 * Gradient accumulation in backward(): leaf gradients never alias the caller's gradient tensor,
 * take the leaf's memory format, and pending gradients summed in place by a rule (Accumulate)
 * give the same values as separate adds.
 */
import * as rn from '../../lib';
import { expectClose } from '../helpers/compare';

test("the caller's gradient is never modified (x used twice)", () => {
  rn.tidy(() => {
    const gy = rn.randn([2, 2, 2, 2]);
    const before = Array.from(gy.dataSync() as Float32Array);
    const x = rn.randn([2, 2, 2, 2]);
    x.requiresGrad = true;
    rn.add(x, x).backward(gy);
    expect(Array.from(gy.dataSync() as Float32Array)).toEqual(before);
    expectClose(x.grad!.dataSync() as Float32Array, before.map((v) => 2 * v), { rtol: 0, label: 'dx' });
  });
});

test('a channels-last leaf gets a channels-last gradient, a contiguous leaf a contiguous one', () => {
  rn.tidy(() => {
    const xc = rn.randn([2, 3, 4, 5]).toChannelsLast();
    xc.requiresGrad = true;
    const xn = rn.randn([2, 3, 4, 5]);
    xn.requiresGrad = true;
    const g = rn.randn([2, 3, 4, 5]);
    rn.add(rn.mul(xc, 2), rn.mul(xn, 3)).backward(g);
    expect(xc.grad!.isChannelsLast()).toBe(true);
    expect(xc.grad!.isContiguous()).toBe(false);
    expect(xn.grad!.isContiguous()).toBe(true);
    const gv = g.dataSync() as Float32Array;
    expectClose(xc.grad!.contiguous().dataSync() as Float32Array, Array.from(gv, (v) => 2 * v), { rtol: 1e-7, label: 'dxc' });
    expectClose(xn.grad!.dataSync() as Float32Array, Array.from(gv, (v) => 3 * v), { rtol: 1e-7, label: 'dxn' });
  });
});

test("the caller's gradient is never modified through a view (reshape / permute pass it on)", () => {
  rn.tidy(() => {
    const x = rn.randn([4]);
    x.requiresGrad = true;
    const gy = rn.tensor(Float32Array.of(1, 2, 3, 4), { shape: [2, 2] });
    rn.reshape(x, [2, 2]).backward(gy);
    rn.reshape(x, [2, 2]).backward(gy);  // accumulates into x.grad, which must not alias gy
    expect(Array.from(gy.dataSync() as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(x.grad!.dataSync() as Float32Array)).toEqual([2, 4, 6, 8]);
    // a conv that sums a shortcut gradient in place (Accumulate) must not write into gy either
    const h = rn.randn([1, 16, 6, 6]);
    h.requiresGrad = true;
    const w = rn.randn([16, 16, 3, 3]);
    const hr = rn.F.relu(h);
    const g2 = rn.randn([1, 16, 6, 6]);
    const before = Array.from(g2.dataSync() as Float32Array);
    rn.reshape(rn.reshape(rn.add(rn.F.conv2d(hr, w, null, { padding: 1 }), hr), [16, 36]), [1, 16, 6, 6]).backward(g2);
    expect(Array.from(g2.dataSync() as Float32Array)).toEqual(before);
  });
});
