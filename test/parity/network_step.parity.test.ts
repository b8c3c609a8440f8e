// One training step of conv -> batchNorm -> relu -> linear -> crossEntropy against PyTorch
// (fixture: test/fixtures/make_network_fixture.py). Tolerance: loss and every gradient within
// 1e-4 relative to the largest magnitude of that tensor. The conv bias feeds a BatchNorm, so its
// exact gradient is 0 and both frameworks return float noise (~1e-8): an absolute floor of 1e-6
// applies there.
import * as fs from 'fs';
import * as path from 'path';
import * as rn from '../../lib';

interface Flat { shape: number[]; data: number[] }
const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '../fixtures/network_step.json'), 'utf8'));

function close(actual: ArrayLike<number>, expected: number[], rtol: number, label: string): void {
  let maxAbs = 0;
  let maxErr = 0;
  let worst = -1;
  for (let i = 0; i < expected.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
    const e = Math.abs(actual[i] - expected[i]);
    if (e > maxErr) { maxErr = e; worst = i; }
  }
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} vs ${expected.length}`);
  if (maxErr > Math.max(rtol * maxAbs, 1e-6))
    throw new Error(`${label}: max error ${maxErr} at ${worst} (got ${actual[worst]}, want ${expected[worst]}) exceeds ${rtol} x ${maxAbs}`);
}
const T = (f: Flat, grad = false) => rn.tensor(Float32Array.from(f.data), { shape: f.shape, requiresGrad: grad });

describe('conv -> bn -> relu -> linear -> crossEntropy, one step', () => {
  for (const layout of ['nchw', 'nhwc'] as const) {
    test(`matches PyTorch (${layout})`, () => {
      const p: Record<string, rn.Tensor> = {};
      for (const [k, v] of Object.entries(fx.params as Record<string, Flat>)) p[k] = T(v, true);
      const rm = rn.zeros([4]);
      const rv = rn.ones([4]);
      let x = T(fx.input);
      if (layout === 'nhwc') x = x.toChannelsLast();
      const target = rn.tensor(Int32Array.from(fx.target), { shape: [fx.target.length] });
      const h = rn.F.relu(rn.F.batchNorm2d(rn.F.conv2d(x, p['conv.weight'], p['conv.bias'], { padding: 1 }), rm, rv, p['bn.weight'], p['bn.bias'], { training: true }));
      const logits = rn.F.linear(h.flatten(1), p['fc.weight'], p['fc.bias']);
      const loss = rn.F.crossEntropy(logits, target);
      close(logits.dataSync() as Float32Array, fx.logits.data, 1e-4, 'logits');
      close([loss.itemSync()], [fx.loss], 1e-4, 'loss');
      loss.backward();
      for (const k of Object.keys(p)) close(p[k].grad!.dataSync() as Float32Array, fx.grads[k].data, 1e-4, `grad ${k}`);
      close(rm.dataSync() as Float32Array, fx.running_mean.data, 1e-4, 'running_mean');
      close(rv.dataSync() as Float32Array, fx.running_var.data, 1e-4, 'running_var');
      rn.noGrad(() => {
        for (const k of Object.keys(p)) p[k].addInPlace(p[k].grad!, -fx.lr);
      });
      for (const k of Object.keys(p)) close(p[k].dataSync() as Float32Array, fx.after_sgd[k].data, 1e-4, `after sgd ${k}`);
    });
  }
});
