// rn.autocast: the scope (sync, async across awaits, nesting, restored after a throw, disabled
// scopes, argument errors), the dtype policy's decisions (autocastPlan, on stand-in CUDA tensors:
// no GPU needed to decide), and that CPU tensors are not affected: a CPU training step inside
// the scope is bit-identical to one outside. What the policy does to real CUDA tensors runs in
// test/gpu/model.gpu.test.ts.
import * as rn from '../../lib';
import { autocastPlan, AUTOCAST_POLICY, HALF_KERNELS } from '../../lib/autocast';
import type { Tensor } from '../../lib/tensor';
import { thrown } from '../helpers/thrown';

const F = rn.F;
const state = () => [rn.isAutocastEnabled(), rn.getAutocastDtype()];
const tick = () => new Promise<void>((r) => setTimeout(r, 1));

describe('rn.autocast scope', () => {
  test('off outside; on inside with the dtype named (short names too); returns what fn returns', () => {
    expect(state()).toEqual([false, null]);
    for (const [name, dtype] of [['bf16', 'bfloat16'], ['bfloat16', 'bfloat16'], ['f16', 'float16'], ['float16', 'float16']] as const) {
      expect(rn.autocast(name, () => state())).toEqual([true, dtype]);
    }
    expect(rn.autocast({ dtype: 'f16' }, () => state())).toEqual([true, 'float16']);
    expect(rn.autocast({}, () => state())).toEqual([true, 'bfloat16']);
    expect(rn.autocast(true, () => state())).toEqual([true, 'bfloat16']);
    expect(rn.autocast('bf16', () => 42)).toBe(42);
    expect(state()).toEqual([false, null]);
  });

  test('nesting: an inner scope overrides, the outer one is back after it; false and enabled:false turn it off', () => {
    rn.autocast('bf16', () => {
      expect(rn.autocast('f16', () => state())).toEqual([true, 'float16']);
      expect(state()).toEqual([true, 'bfloat16']);
      expect(rn.autocast(false, () => state())).toEqual([false, null]);
      expect(rn.autocast({ enabled: false }, () => rn.autocast(true, () => state()))).toEqual([true, 'bfloat16']);  // the dtype is inherited
      expect(rn.autocast({ enabled: true }, () => state())).toEqual([true, 'bfloat16']);
      rn.autocast('f16', () => expect(rn.autocast({ enabled: true }, () => state())).toEqual([true, 'float16']));
      expect(state()).toEqual([true, 'bfloat16']);
    });
    expect(state()).toEqual([false, null]);
  });

  test('restored after fn throws (sync) or rejects (async)', async () => {
    expect(() => rn.autocast('bf16', () => {
      throw new Error('boom');
    })).toThrow('boom');
    expect(state()).toEqual([false, null]);
    await expect(rn.autocast('bf16', async () => {
      await tick();
      throw new Error('later');
    })).rejects.toThrow('later');
    expect(state()).toEqual([false, null]);
    rn.autocast('f16', () => {
      expect(() => rn.autocast('bf16', () => { throw new Error('inner'); })).toThrow('inner');
      expect(state()).toEqual([true, 'float16']);
    });
  });

  test('async: the scope spans awaits, ends with the promise, and concurrent scopes do not mix', async () => {
    const seen: unknown[] = [];
    const p = rn.autocast('bf16', async () => {
      seen.push(state());
      await tick();
      seen.push(state());
      await Promise.resolve();
      seen.push(await rn.autocast(false, async () => {
        await tick();
        return state();
      }));
      seen.push(state());
      return 'done';
    });
    expect(state()).toEqual([false, null]);  // the caller is not inside the scope
    expect(await p).toBe('done');
    expect(seen).toEqual([[true, 'bfloat16'], [true, 'bfloat16'], [false, null], [true, 'bfloat16']]);
    // two scopes interleaving their awaits
    const log: string[] = [];
    const run = (d: 'bf16' | 'f16', n: number) => rn.autocast(d, async () => {
      for (let i = 0; i < n; i++) {
        await tick();
        log.push(`${d}:${rn.getAutocastDtype()}`);
      }
    });
    await Promise.all([run('bf16', 3), run('f16', 3), (async () => {
      await tick();
      log.push(`none:${rn.getAutocastDtype()}`);
    })()]);
    expect(log.filter((s) => s.startsWith('bf16')).every((s) => s === 'bf16:bfloat16')).toBe(true);
    expect(log.filter((s) => s.startsWith('f16')).every((s) => s === 'f16:float16')).toBe(true);
    expect(log).toContain('none:null');
    expect(log).toHaveLength(7);
  });

  test('bad arguments: ERR_RN_DTYPE / ERR_RN_ARG naming the argument, what was expected and received', () => {
    expect(thrown(() => rn.autocast('int8' as never, () => 1))).toEqual({
      code: 'ERR_RN_DTYPE',
      message: 'Expected "bf16", "bfloat16", "f16", "float16", a boolean or { dtype, enabled } for autocast(dtype) but received "int8" of type string',
    });
    expect(thrown(() => rn.autocast(16 as never, () => 1))).toEqual({
      code: 'ERR_RN_DTYPE',
      message: 'Expected "bf16", "bfloat16", "f16", "float16", a boolean or { dtype, enabled } for autocast(dtype) but received 16 of type number',
    });
    expect(thrown(() => rn.autocast(null as never, () => 1)).code).toBe('ERR_RN_DTYPE');
    expect(thrown(() => rn.autocast('float32' as never, () => 1)).code).toBe('ERR_RN_DTYPE');
    expect(thrown(() => rn.autocast({ dtype: 'fp8' as never }, () => 1))).toEqual({
      code: 'ERR_RN_DTYPE',
      message: 'Expected "bf16", "bfloat16", "f16" or "float16" for autocast(options.dtype) but received "fp8" of type string',
    });
    expect(thrown(() => rn.autocast({ enabled: 'yes' as never }, () => 1))).toEqual({
      code: 'ERR_RN_ARG',
      message: 'Expected a boolean for autocast(enabled) but received "yes" of type string',
    });
    expect(thrown(() => rn.autocast('bf16', 'fn' as never))).toEqual({
      code: 'ERR_RN_ARG',
      message: 'Expected a function for autocast(fn) but received "fn" of type string',
    });
    expect(state()).toEqual([false, null]);
  });
});

describe('the autocast policy (decisions on stand-in CUDA tensors)', () => {
  const T = (dtype: string, device = 'cuda') => ({ dtype, device, isDisposed: false } as unknown as Tensor);
  const f32 = T('float32'), bf = T('bfloat16'), f16 = T('float16');
  const plan = (op: string, ts: Tensor[], scope: 'bf16' | 'f16' | false | null = null) =>
    scope === null ? autocastPlan(op, ts) : rn.autocast(scope, () => autocastPlan(op, ts));

  test('lower (conv2d, linear, matmul): f32 inputs and master weights go to the scope dtype, on tensor cores', () => {
    for (const op of ['conv2d', 'linear', 'matmul']) {
      expect(plan(op, [f32, f32], 'bf16')).toEqual({ compute: 'bfloat16', result: 'bfloat16' });
      expect(plan(op, [f32, f32, f32], 'f16')).toEqual({ compute: 'float16', result: 'float16' });
      expect(plan(op, [bf, f32], 'bf16')).toEqual({ compute: 'bfloat16', result: 'bfloat16' });
      expect(plan(op, [bf, bf], 'bf16')).toBeNull();  // already there: the op runs as called
      expect(plan(op, [f32, f32])).toBeNull();  // outside a scope: float32 stays float32
      expect(plan(op, [f32, f32], false)).toBeNull();
      expect(plan(op, [bf, f32])).toEqual({ compute: 'float32', result: 'float32' });  // outside: promotion
      expect(plan(op, [bf, bf])).toBeNull();  // half storage is native for these
    }
  });
  test('fp32 (softmax, losses, layerNorm, sum/mean): run in float32 in the scope', () => {
    for (const op of ['softmax', 'logSoftmax', 'crossEntropy', 'mseLoss', 'layerNorm', 'sum', 'mean']) {
      expect(plan(op, [bf], 'bf16')).toEqual({ compute: 'float32', result: 'float32' });
      expect(plan(op, [f32], 'bf16')).toBeNull();
      // outside the scope a half input keeps its dtype (computed in float32: no half kernels)
      expect(plan(op, [bf])).toEqual({ compute: 'float32', result: 'bfloat16' });
    }
  });
  test('promote (add, sub, mul, div, cat): the widest floating dtype, in or out of a scope', () => {
    for (const op of ['add', 'sub', 'mul', 'div']) {
      expect(plan(op, [bf, f32])).toEqual({ compute: 'float32', result: 'float32' });
      expect(plan(op, [bf, f32], 'bf16')).toEqual({ compute: 'float32', result: 'float32' });
      expect(plan(op, [bf, f16])).toEqual({ compute: 'float32', result: 'float32' });
      expect(plan(op, [bf, bf])).toEqual({ compute: 'float32', result: 'bfloat16' });  // f32 kernels, bf16 result
      expect(plan(op, [f32, f32], 'bf16')).toBeNull();
    }
    expect(plan('cat', [bf, bf])).toBeNull();  // a copy: any dtype
    expect(plan('cat', [bf, f32])).toEqual({ compute: 'float32', result: 'float32' });
  });
  test('keep (batch norm, fused BN(+add)+ReLU, relu, pooling...): the input dtype; fused BN has half kernels', () => {
    for (const op of ['batchNormRelu', 'batchNormAddRelu']) {
      expect(plan(op, [bf, f32], 'bf16')).toEqual({ compute: 'bfloat16', result: 'bfloat16' });  // residual follows x
      expect(plan(op, [bf, bf], 'bf16')).toBeNull();
      expect(plan(op, [f32, f32], 'bf16')).toBeNull();  // float32 stays float32 (not a lower op)
    }
    for (const op of ['batchNorm2d', 'relu', 'maxPool2d', 'adaptiveAvgPool2d', 'dropout', 'gelu']) {
      expect(plan(op, [bf], 'bf16')).toEqual({ compute: 'float32', result: 'bfloat16' });
      expect(plan(op, [f16])).toEqual({ compute: 'float32', result: 'float16' });
      expect(plan(op, [f32], 'bf16')).toBeNull();
    }
  });
  test('CPU tensors are never touched, and the tables say what they cover', () => {
    expect(plan('conv2d', [T('float32', 'cpu'), T('float32', 'cpu')], 'bf16')).toBeNull();
    expect(plan('add', [T('bfloat16', 'cpu'), T('float32', 'cpu')])).toBeNull();
    expect(plan('relu', [])).toBeNull();
    expect(Object.keys(AUTOCAST_POLICY).sort()).toEqual(['add', 'cat', 'conv2d', 'crossEntropy', 'div', 'layerNorm', 'linear', 'logSoftmax', 'matmul', 'mean', 'mseLoss', 'mul', 'softmax', 'sub', 'sum']);
    expect([...HALF_KERNELS].sort()).toEqual(['batchNormAddRelu', 'batchNormRelu', 'cat', 'conv2d', 'linear', 'matmul']);
  });
});

describe('CPU tensors inside the scope are not affected (as torch.autocast("cuda"))', () => {
  /** exact equality, fast */
  const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));

  test('a resnet20 training step is bit-identical in and out of the scope (float32 throughout)', async () => {
    const step = () => {
      rn.manualSeed(7);
      const m = rn.models.resnet20({ numClasses: 10 });
      const x = rn.randn([2, 3, 32, 32]);
      const y = rn.tensor(Int32Array.from([4, 2]), { shape: [2] });
      const logits = m.forward(x);
      const loss = F.crossEntropy(logits, y);
      loss.backward();
      return { dtypes: [logits.dtype, loss.dtype, ...m.parameters().map((p) => p.grad!.dtype)], logits: logits.dataSync() as Float32Array,
        loss: loss.itemSync(), grads: m.parameters().map((p) => p.grad!.dataSync() as Float32Array) };
    };
    const ref = step();
    for (const got of [rn.autocast('bf16', step), rn.autocast('f16', step), await rn.autocast('bf16', async () => {
      await tick();
      return step();
    })]) {
      expect(got.dtypes.every((d) => d === 'float32')).toBe(true);
      expect(got.loss).toBe(ref.loss);
      expect(same(got.logits, ref.logits)).toBe(true);
      expect(got.grads.every((g, i) => same(g, ref.grads[i]))).toBe(true);
    }
  });

  test('the policy ops one by one: same dtype, same bits', () => {
    rn.manualSeed(8);
    const x4 = rn.randn([2, 4, 5, 5]);
    const w4 = rn.randn([3, 4, 3, 3]);
    const b3 = rn.randn([3]);
    const x2 = rn.randn([6, 8]);
    const w2 = rn.randn([5, 8]);
    const b5 = rn.randn([5]);
    const t = rn.tensor(Int32Array.from([1, 0, 4, 2, 3, 1]), { shape: [6] });
    const ops: [string, () => Tensor][] = [
      ['conv2d', () => F.conv2d(x4, w4, b3, { padding: 1 })],
      ['linear', () => F.linear(x2, w2, b5)],
      ['matmul', () => F.matmul(x2, w2.t())],
      ['softmax', () => F.softmax(x2, 1)],
      ['logSoftmax', () => F.logSoftmax(x2, 1)],
      ['crossEntropy', () => F.crossEntropy(F.linear(x2, w2, b5), t)],
      ['mseLoss', () => F.mseLoss(x2, x2.mul(0.5))],
      ['layerNorm', () => F.layerNorm(x2, [8])],
      ['sum', () => F.sum(x2, 1)],
      ['mean', () => F.mean(x2)],
      ['batchNorm2d', () => F.batchNorm2d(x4, null, null)],
      ['batchNormRelu', () => F.batchNormRelu(x4, null, null)],
      ['batchNormAddRelu', () => F.batchNormAddRelu(x4, x4, null, null)],
      ['add', () => F.add(x2, x2)],
      ['relu', () => F.relu(x2)],
      ['maxPool2d', () => F.maxPool2d(x4, { kernelSize: 2 })],
    ];
    for (const [name, op] of ops) {
      const a = op();
      const b = rn.autocast('bf16', op);
      expect(`${name} ${b.dtype} ${b.device}`).toBe(`${name} float32 cpu`);
      expect(same(b.dataSync() as Float32Array, a.dataSync() as Float32Array)).toBe(true);
    }
  });
});
