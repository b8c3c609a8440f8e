// Bad input gives an Error with a stable code and an exact message, never a crash.
import * as rn from '../../lib';
import { binding } from '../../lib/binding';

function thrown(fn: () => unknown): { code?: string; message: string; name: string } {
  try {
    fn();
  } catch (e) {
    const err = e as Error & { code?: string };
    return { code: err.code, message: err.message, name: err.name };
  }
  throw new Error('expected a throw');
}

describe('argument errors (exact messages)', () => {
  test('shape mismatch names the op and both shapes', () => {
    const x = rn.zeros([1, 3, 8, 8]);
    const w = rn.zeros([4, 16, 3, 3]);
    expect(thrown(() => rn.F.conv2d(x, w))).toEqual({ code: 'ERR_RN_SHAPE', name: 'Error', message: 'conv2d: input has 3 channels but weight [4, 16, 3, 3] expects 16' });
    expect(thrown(() => rn.add(rn.zeros([2, 3]), rn.zeros([4])))).toEqual({ code: 'ERR_RN_SHAPE', name: 'Error', message: 'add: shapes [2, 3] and [4] cannot be broadcast together' });
    expect(thrown(() => rn.matmul(rn.zeros([2, 3]), rn.zeros([4, 5]))).message).toBe('matmul: input [2, 3] and other [4, 5] have inner sizes 3 and 4');
    expect(thrown(() => rn.zeros([6]).reshape([4, 2]))).toEqual({ code: 'ERR_RN_SHAPE', name: 'Error', message: 'reshape: shape [4, 2] is invalid for input of size 6 (shape [6])' });
  });
  test('wrong dtype', () => {
    const logits = rn.zeros([2, 3]);
    expect(thrown(() => rn.F.crossEntropy(logits, rn.zeros([2])))).toEqual({
      code: 'ERR_RN_DTYPE', name: 'TypeError', message: 'crossEntropy: expected target of dtype int32 (class indices) but received float32',
    });
    expect(thrown(() => rn.F.relu(rn.zeros([2], { dtype: 'int32' })))).toEqual({ code: 'ERR_RN_DTYPE', name: 'TypeError', message: 'relu: expected input of dtype float32 but received int32' });
  });
  test('wrong device', () => {
    expect(thrown(() => rn.zeros([2], { device: 'cuda' })).code).toBe('ERR_RN_NO_CUDA');
    expect(thrown(() => rn.zeros([2]).to('tpu'))).toEqual({ code: 'ERR_RN_DEVICE', name: 'TypeError', message: 'Expected "cpu" or "cuda" for to(device) but received "tpu" of type string' });
  });
  test('disposed tensor', () => {
    const t = rn.ones([2]);
    t.dispose();
    expect(thrown(() => rn.F.relu(t))).toEqual({ code: 'ERR_RN_DISPOSED', name: 'Error', message: 'relu: input is a disposed tensor (shape [2])' });
    expect(thrown(() => t.dataSync()).code).toBe('ERR_RN_DISPOSED');
    t.dispose();  // twice is fine
  });
  test('non-tensors passed to ops and to the native layer throw, never crash', () => {
    expect(thrown(() => rn.F.relu(3 as unknown as rn.Tensor))).toEqual({ code: 'ERR_RN_ARG', name: 'TypeError', message: 'Expected a Tensor for relu(input) but received 3 of type number' });
    expect(thrown(() => rn.F.conv2d(rn.zeros([1, 1, 3, 3]), {} as rn.Tensor))).toEqual({ code: 'ERR_RN_ARG', name: 'TypeError', message: 'Expected a Tensor for conv2d(weight) but received object of type object' });
    const B = binding() as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(thrown(() => B.unary(0, { h: 1 }))).toEqual({ code: 'ERR_RN_ARG', name: 'TypeError', message: 'Expected a tensor handle for unary(input) but received object of type object' });
    expect(thrown(() => B.conv2dForward(null, null, null, [1]))).toEqual({ code: 'ERR_RN_ARG', name: 'TypeError', message: 'Expected a tensor handle for conv2d(input) but received null of type null' });
    expect(thrown(() => B.readSync('x')).code).toBe('ERR_RN_ARG');
    expect(thrown(() => B.empty([2, -1], 0, 0))).toEqual({ code: 'ERR_RN_RANGE', name: 'RangeError', message: 'Expected non-negative integers for empty(shape) but received -1 of type number at index 1' });
    expect(thrown(() => B.fromBuffer(new Float32Array(3), [2, 2], 0))).toEqual({ code: 'ERR_RN_SHAPE', name: 'Error', message: 'tensor: data has 3 elements but shape [2, 2] needs 4' });
    const h = rn.zeros([4]).h;
    expect(thrown(() => B.view(h, [5], [1], 0)).code).toBe('ERR_RN_RANGE');  // would read past the storage
    expect(thrown(() => B.view(h, [2], [-1], 0)).code).toBe('ERR_RN_RANGE');
    expect(thrown(() => B.conv2dForward(rn.zeros([1, 1, 3, 3]).h, rn.zeros([1, 1, 1, 1]).h, null, [0, 1, 0, 0, 1, 1, 1])).message).toBe('conv2d: expected positive stride but received [0, 1]');
  });
  test('zero, negative and non-integer sizes', () => {
    expect(thrown(() => rn.zeros([2, -3]))).toEqual({ code: 'ERR_RN_RANGE', name: 'RangeError', message: 'Expected an array of non-negative integers for zeros(shape) but received [2, -3] of type array' });
    expect(thrown(() => rn.zeros([1.5]))).toEqual({ code: 'ERR_RN_RANGE', name: 'RangeError', message: 'Expected an array of non-negative integers for zeros(shape) but received [1.5] of type array' });
    expect(thrown(() => rn.zeros('3' as unknown as number[]))).toEqual({ code: 'ERR_RN_ARG', name: 'TypeError', message: 'Expected an array of non-negative integers for zeros(shape) but received "3" of type string' });
    expect(thrown(() => rn.F.maxPool2d(rn.zeros([1, 1, 4, 4]), { kernelSize: 0 }))).toEqual({ code: 'ERR_RN_RANGE', name: 'RangeError', message: 'Expected a positive integer for maxPool2d(kernelSize) but received 0 of type number' });
    expect(rn.zeros([0, 3]).numel).toBe(0);
    expect(thrown(() => rn.setNumThreads(0)).code).toBe('ERR_RN_RANGE');
  });
  test('huge sizes: a clear ERR_RN_OOM, not an abort', () => {
    const e = thrown(() => rn.zeros([2 ** 30, 2 ** 30]));
    expect(e.code).toBe('ERR_RN_OOM');
    expect(e.message).toBe('zeros: shape [1073741824, 1073741824] has 1152921504606846976 elements, more than can be allocated');
    const B = binding() as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(thrown(() => B.empty([2 ** 40, 2 ** 20], 0, 0)).code).toBe('ERR_RN_OOM');
    expect(thrown(() => B.empty([2 ** 45], 0, 0)).code).toBe('ERR_RN_OOM');  // 128 TiB: the allocator refuses
  });
  test('deferred kernel errors surface at the next read', () => {
    const logits = rn.zeros([2, 3]);
    const loss = rn.F.crossEntropy(logits, rn.tensor(Int32Array.from([0, 7])));  // 7 is out of range
    const e = thrown(() => loss.itemSync());
    expect(e.code).toBe('ERR_RN_INDEX');
    expect(e.message).toBe('crossEntropy: target[1] = 7 is out of range for 3 classes (expected 0 <= target < 3 or the ignore index -100)');
    expect(rn.ones([1]).itemSync()).toBe(1);  // the stream keeps working
  });
  test('autograd misuse', () => {
    expect(thrown(() => rn.ones([2]).sum().backward())).toEqual({ code: 'ERR_RN_AUTOGRAD', name: 'Error', message: 'backward: tensor does not require grad and has no grad function (did an input set requiresGrad?)' });
    const x = rn.ones([2], { requiresGrad: true });
    expect(thrown(() => rn.mul(x, 2).backward()).code).toBe('ERR_RN_AUTOGRAD');
    const y = rn.mul(x, x).sum();
    y.backward();
    expect(thrown(() => y.backward()).message).toMatch(/^backward: trying to backward through the graph a second time/);
  });
});
