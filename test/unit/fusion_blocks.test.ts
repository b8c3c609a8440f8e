// Residual blocks call the fused BN(+add)+ReLU kernels; rn.setFusion(false) switches them to the
// unfused ops. Both give the same logits, running statistics and gradients (within 1e-5 relative).
// (Plain nets are left out on purpose: their gradients grow ~1.4x per block, so a float rounding
// difference that flips one ReLU near zero is amplified far beyond any fixed tolerance.)
import * as rn from '../../lib';
import { expectClose } from '../helpers/compare';

// Bottlenecks are checked as a small stack (a whole random resnet50 at test sizes normalises
// 2-4 values per channel in its last stage, which makes float32 itself chaotic).
function bottlenecks(): rn.nn.Module {
  return new rn.nn.Sequential(
    new rn.nn.Bottleneck(16, 8, { stride: 2 }),
    new rn.nn.Bottleneck(32, 8),
    new rn.nn.AdaptiveAvgPool2d(1),
    new rn.nn.Flatten(),
    new rn.nn.Linear(32, 10),
  );
}

function run(fused: boolean, name: 'resnet20' | 'bottleneck', channelsLast: boolean) {
  rn.setFusion(fused);
  try {
    rn.manualSeed(7);
    const model = name === 'resnet20' ? rn.models.resnet20({ numClasses: 10, inChannels: 3 }) : bottlenecks();
    const x0 = rn.randn(name === 'resnet20' ? [4, 3, 16, 16] : [4, 16, 12, 12]);
    const x = channelsLast ? x0.toChannelsLast() : x0;
    const y = rn.tensor(Int32Array.from([1, 2, 3, 4]));
    const logits = model.forward(x);
    rn.F.crossEntropy(logits, y).backward();
    return {
      logits: Array.from(logits.dataSync() as Float32Array),
      grads: model.parameters().map((p) => Array.from(p.grad!.dataSync() as Float32Array)),
      stats: model.buffers().filter((b) => b.dtype === 'float32').map((b) => Array.from(b.dataSync() as Float32Array)),
    };
  } finally {
    rn.setFusion(true);
  }
}

for (const name of ['resnet20', 'bottleneck'] as const)
  for (const cl of [false, true])
    test(`${name} ${cl ? 'channels-last' : 'NCHW'}: fused equals unfused`, () => {
      const a = run(true, name, cl);
      const b = run(false, name, cl);
      expectClose(a.logits, b.logits, { rtol: 1e-5, label: 'logits' });
      a.grads.forEach((g, i) => expectClose(g, b.grads[i], { rtol: 1e-5, label: `grad ${i}` }));
      a.stats.forEach((s, i) => expectClose(s, b.stats[i], { rtol: 1e-5, label: `buffer ${i}` }));
    });
