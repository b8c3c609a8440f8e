/**
 * The degradation problem in miniature (the ResNet paper's Figure 1): plain20, plain56,
 * resnet20 and resnet56 trained the same way on Fashion-MNIST, one SVG of training-loss curves,
 * plus the signal-propagation probe's per-block gradient norms for plain56 vs resnet56 at
 * initialisation.
 *
 *   npm run example:degradation            (EPOCHS, LIMIT = training images per epoch)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as rn from '../lib';
import { runTraining, buildModel } from '../lib/cli/train';
import { lineChart } from '../lib/cli/svg_plot';

async function main(): Promise<void> {
  const out = process.env.OUT ?? 'runs/degradation';
  const epochs = Number(process.env.EPOCHS ?? 3);
  const limit = Number(process.env.LIMIT ?? 10000);
  fs.mkdirSync(out, { recursive: true });

  // 1. gradient norms per block at initialisation (one batch of real data)
  rn.manualSeed(0);
  const ds = new rn.data.FashionMNIST({ train: true });
  const b = ds.getBatch(Int32Array.from({ length: 64 }, (_, i) => i));
  const x = rn.tensor(b.images, { shape: [64, 1, 28, 28] });
  const y = rn.tensor(b.labels);
  const probes: Record<string, rn.probe.SignalReport> = {};
  for (const name of ['plain56', 'resnet56']) {
    rn.manualSeed(0);
    probes[name] = rn.probe.signal(buildModel(name, 10, 1), x, y);
  }
  const probeChart = lineChart({
    title: 'Gradient norm at each block input, at initialisation',
    xLabel: 'block (input side = 0)',
    yLabel: '||dL/dx||',
    logY: true,
    series: Object.entries(probes).map(([name, r]) => ({ name, points: r.blocks.map((blk, i) => [i, blk.gradNorm] as [number, number]) })),
  });
  fs.writeFileSync(path.join(out, 'probe.svg'), probeChart);
  for (const [name, r] of Object.entries(probes))
    console.log(`${name}: gradient norm first block / last block = ${r.gradRatio.toExponential(2)}`);

  // 2. training curves
  const curves: { name: string; points: [number, number][] }[] = [];
  const summary: Record<string, { trainLoss: number; testAcc: number }> = {};
  for (const name of ['plain20', 'plain56', 'resnet20', 'resnet56']) {
    const r = await runTraining({
      model: name, dataset: 'fashion-mnist', epochs, batchSize: 128, lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true,
      optimizer: 'sgd', schedule: 'cosine', labelSmoothing: 0, augment: false, limit, testLimit: 2000, seed: 0, workers: true,
      channelsLast: false, out: path.join(out, name), resume: false,
    });
    curves.push({ name, points: r.epochs.map((e) => [e.epoch, e.trainLoss] as [number, number]) });
    const last = r.epochs[r.epochs.length - 1];
    summary[name] = { trainLoss: last.trainLoss, testAcc: last.testAcc };
  }
  fs.writeFileSync(path.join(out, 'train-loss.svg'), lineChart({ title: 'Training loss: plain vs residual', xLabel: 'epoch', yLabel: 'train loss', series: curves }));
  fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify({ epochs, limit, summary, probe: Object.fromEntries(Object.entries(probes).map(([k, r]) => [k, r.blocks.map((b) => b.gradNorm)])) }, null, 2));
  console.log(JSON.stringify(summary, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
