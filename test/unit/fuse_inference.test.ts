// model.fuseForInference(): BatchNorm folded into the preceding convolutions gives the same eval
// logits (within 1e-5 relative to the largest logit), and the folded model refuses to train.
import * as rn from '../../lib';
import { expectClose } from '../helpers/compare';

function trained(name: 'resnet20' | 'resnet18') {
  rn.manualSeed(3);
  const model = rn.models[name]({ numClasses: 10, inChannels: 3 });
  const opt = new rn.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const size = name === 'resnet20' ? 16 : 32;
  const y = rn.tensor(Int32Array.from([0, 1, 2, 3]));
  for (let i = 0; i < 3; i++)
    rn.tidy(() => {
      const loss = rn.F.crossEntropy(model.forward(rn.randn([4, 3, size, size])), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  return { model, x: rn.randn([3, 3, size, size]) };
}

for (const name of ['resnet20', 'resnet18'] as const)
  test(`${name}: folded eval logits equal the unfolded ones`, () => {
    const { model, x } = trained(name);
    model.eval();
    const before = Array.from(rn.noGrad(() => model.forward(x)).dataSync() as Float32Array);
    const n = model.fuseForInference();
    // resnet20: stem + 2 per block (option A shortcuts have no BN); resnet18: stem + 2 per block + 3 downsample BNs
    expect(n).toBe(name === 'resnet20' ? 19 : 20);
    const after = Array.from(rn.noGrad(() => model.forward(x)).dataSync() as Float32Array);
    expectClose(after, before, { rtol: 1e-5, label: 'logits' });
    expect(() => model.train().forward(x)).toThrow(/folded into its convolution by fuseForInference\(\)/);
  });
