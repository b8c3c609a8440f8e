/**
 * rn.probe.signal: per-block forward activation norms and backward gradient norms.
 *
 * The science test (SCIENCE.md, "Signal propagation"): with identity skips,
 *     dE/dx_l = dE/dx_L (1 + d/dx_l sum F(x_i)),
 * so the gradient reaching the first block contains the last block's gradient itself: it does
 * not vanish, and it stays within a modest factor of it. Without skips the gradient is a product
 * of one Jacobian per block and its norm drifts geometrically with depth. At initialisation
 * (training mode, BatchNorm with batch statistics, batch of 8 CIFAR-size images, 3 seeds):
 *   resnet56: first/last gradient-norm ratio ~ 30-40
 *   plain56:  ~1e4 (the gradient grows by a constant factor ~1.4 per block towards the input:
 *             batch-normalised plain nets explode backwards, they do not vanish)
 * PyTorch gives the same numbers for the same architectures (plain56 1.1e4-1.4e4, resnet56
 * 31-33 over seeds 0-2, measured with retain_grad on each block's input).
 */
import * as rn from '../../lib';

const { models, probe } = rn;
type T = rn.Tensor;
const f32 = (t: T) => {
  const d = t.dataSync() as Float32Array;
  return new Float32Array(d.buffer, d.byteOffset, d.length);
};
const LABELS = [0, 1, 2, 3, 4, 5, 6, 7];

function ratios(seed: number): { plain: rn.probe.SignalReport; res: rn.probe.SignalReport } {
  rn.manualSeed(seed);
  const x = rn.randn([8, 3, 32, 32]);
  const plain = probe.signal(models.plain56(), x, LABELS);
  const res = probe.signal(models.resnet56(), x, LABELS);
  return { plain, res };
}

describe('signal propagation at initialisation: plain56 vs resnet56', () => {
  test.each([0, 1])('seed %d: the first/last gradient ratio differs sharply, as SCIENCE.md predicts', (seed) => {
    const { plain, res } = ratios(seed);
    console.log(`[probe] seed ${seed}: gradient norm first/last block: plain56 ${plain.gradRatio.toExponential(3)}, resnet56 ${res.gradRatio.toExponential(3)}`);
    expect(plain.blocks.length).toBe(27);
    expect(res.blocks.length).toBe(27);
    expect(res.blocks.map((b) => b.kind).every((k) => k === 'residual')).toBe(true);
    expect(plain.blocks.map((b) => b.kind).every((k) => k === 'plain')).toBe(true);
    // residual: the first block's gradient contains the last block's (no vanishing), and stays
    // within two orders of magnitude of it
    expect(res.gradRatio).toBeGreaterThan(1);
    expect(res.gradRatio).toBeLessThan(100);
    // plain: the product of 26 block Jacobians drifts by orders of magnitude
    expect(plain.gradRatio).toBeGreaterThan(1e3);
    expect(plain.gradRatio / res.gradRatio).toBeGreaterThan(50);
    // and it does so geometrically: every block of a stage changes the norm by a similar factor
    const factors = plain.blocks.slice(1, 9).map((b, i) => plain.blocks[i].gradNorm / b.gradNorm);
    expect(Math.min(...factors)).toBeGreaterThan(1.2);
    // forward: BN keeps the plain net's activations flat; the residual stream grows with depth
    expect(res.blocks[8].outputNorm).toBeGreaterThan(2 * res.blocks[0].inputNorm);
    expect(Math.abs(plain.blocks[8].outputNorm / plain.blocks[0].inputNorm - 1)).toBeLessThan(0.1);
  });
});

describe('rn.probe.signal', () => {
  test('reports every block with shapes and norms, and matches a direct computation', () => {
    rn.manualSeed(3);
    const m = models.resnet20();
    const x = rn.randn([4, 3, 16, 16]);
    const r = probe.signal(m, x, [1, 2, 3, 4]);
    expect(r.model).toBe('CifarResNet');
    expect(r.training).toBe(true);
    expect(r.blocks.map((b) => b.name)).toEqual(['layer1.0', 'layer1.1', 'layer1.2', 'layer2.0', 'layer2.1', 'layer2.2', 'layer3.0', 'layer3.1', 'layer3.2']);
    expect(r.blocks[3]).toMatchObject({ type: 'BasicBlock', inputShape: [4, 16, 16, 16], outputShape: [4, 32, 8, 8], index: 3 });
    // consecutive blocks: output of one = input of the next
    for (let i = 1; i < r.blocks.length; i++) expect(r.blocks[i].inputNorm).toBeCloseTo(r.blocks[i - 1].outputNorm, 3);
    expect(r.gradRatio).toBeCloseTo(r.blocks[0].gradNorm / r.blocks[8].gradNorm, 6);
    expect(r.blocks[0].gradRms).toBeCloseTo(r.blocks[0].gradNorm / Math.sqrt(4 * 16 * 16 * 16), 8);
    // the last block's input gradient, computed directly: d loss / d (input of layer3.2)
    rn.manualSeed(3);
    const m2 = models.resnet20();
    const h1 = m2.layer3.at(1);
    let captured: T | null = null;
    const orig = h1.forward.bind(h1);
    h1.forward = (t: T) => {
      const y = orig(t);
      const leaf = y.detach().requiresGrad_();
      captured = leaf;
      return leaf;
    };
    const loss = rn.F.crossEntropy(m2.forward(x), rn.tensor(Int32Array.from([1, 2, 3, 4])));
    loss.backward();
    let s = 0;
    for (const v of f32(captured!.grad!)) s += v * v;
    expect(r.blocks[8].gradNorm).toBeCloseTo(Math.sqrt(s), 5);
    expect(r.loss).toBeCloseTo(loss.itemSync(), 5);
  });

  test('leaves the model as it was: mode, gradients, running stats, num_batches_tracked, RNG', () => {
    rn.manualSeed(4);
    const m = models.resnet20({ dropPathRate: 0.2 });
    const x = rn.randn([2, 3, 8, 8]);
    m.eval();
    rn.sum(m.forward(x)).backward();
    const g0 = Float32Array.from(f32(m.fc.weight.grad!));
    const rm0 = Float32Array.from(f32(m.bn1.running_mean!));
    const rng = rn.getRngState();
    const r = probe.signal(m, x, [0, 1], { training: true });
    expect(r.training).toBe(true);
    expect(m.modules().every((mm) => !mm.training)).toBe(true);
    expect(Array.from(f32(m.fc.weight.grad!))).toEqual(Array.from(g0));
    expect(Array.from(f32(m.bn1.running_mean!))).toEqual(Array.from(rm0));
    expect(rn.getRngState()).toEqual(rng);
    // the BN batch counter was restored too: the next training step counts 1, not 2
    m.train().forward(x);
    expect((m.bn1.num_batches_tracked!.dataSync() as BigInt64Array)[0]).toBe(1n);
    // the hooks are gone
    expect(Object.prototype.hasOwnProperty.call(m.layer1.at(0), 'forward')).toBe(false);
  });

  test('works on every kind of block model, with a custom loss and a custom selection', () => {
    rn.manualSeed(5);
    const cases: [rn.nn.Module, T, number, string][] = [
      [models.preactResnet18(), rn.randn([2, 3, 8, 8]), 8, 'residual'],
      [models.vit({ imageSize: 8, patchSize: 4, dim: 16, depth: 3, heads: 2 }), rn.randn([2, 3, 8, 8]), 3, 'residual'],
      [models.highwayMlp({ depth: 5, width: 8, imageSize: 4 }), rn.randn([2, 1, 4, 4]), 5, 'highway'],
      [models.densenetBC({ depth: 22 }), rn.randn([2, 3, 8, 8]), 9, 'dense'],
      [models.resnet50({ numClasses: 10 }), rn.randn([2, 3, 32, 32]), 16, 'residual'],
    ];
    for (const [m, x, n, kind] of cases) {
      const r = probe.signal(m, x, [0, 1]);
      expect(r.blocks.length).toBe(n);
      expect(r.blocks.every((b) => b.kind === kind && b.gradNorm > 0 && Number.isFinite(b.gradNorm) && b.inputNorm > 0)).toBe(true);
    }
    const m = models.resnet20();
    const x = rn.randn([2, 3, 8, 8]);
    const stages = probe.signal(m, x, rn.tensor(Int32Array.from([0, 1])), { select: (name) => /^layer\d$/.test(name) });
    expect(stages.blocks.map((b) => `${b.name}:${b.kind}`)).toEqual(['layer1:custom', 'layer2:custom', 'layer3:custom']);
    const mse = probe.signal(m, x, [0, 1], { loss: (y) => rn.mean(rn.mul(y, y)) });
    expect(mse.loss).toBeGreaterThan(0);
    const text = probe.format(mse);
    expect(text).toContain('CifarResNet (train mode)');
    expect(text).toContain('layer3.2');
    expect(text).toMatch(/gradient norm ratio first\/last block: /);
    expect(() => probe.signal({} as rn.nn.Module, x, [0])).toThrow(/Expected a Module/);
  });
});
