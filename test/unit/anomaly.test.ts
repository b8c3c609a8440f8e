// Anomaly mode names the first op producing NaN/Inf, in forward and in backward.
import * as rn from '../../lib';

function err(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a throw');
}

afterEach(() => rn.detectAnomaly(false));

test('forward: the op that first produces NaN is named', () => {
  const x = rn.tensor([-1, 4], { requiresGrad: true });
  rn.detectAnomaly(true);
  const e = err(() => rn.sqrt(rn.mul(x, 1)));  // sqrt(-1) = NaN
  expect(e.code).toBe('ERR_RN_NAN');
  expect(e.message).toBe('detectAnomaly: the output of sqrt (forward) contains NaN (element 0 of shape [2])');
});

test('backward: the rule that first produces Inf is named', () => {
  const x = rn.tensor([0, 4], { requiresGrad: true });
  const y = rn.detectAnomaly(() => rn.sum(rn.sqrt(x)));  // forward is finite
  const e = err(() => rn.detectAnomaly(() => y.backward()));
  expect(e.code).toBe('ERR_RN_NAN');
  expect(e.message).toBe('detectAnomaly: the gradient of input 0 computed by the backward of sqrt contains Inf (element 0 of shape [2])');
});

test('off by default: no read-backs, no throw', () => {
  expect(rn.isAnomalyEnabled()).toBe(false);
  const y = rn.sqrt(rn.tensor([-1]));
  expect(Number.isNaN(y.itemSync())).toBe(true);
});
