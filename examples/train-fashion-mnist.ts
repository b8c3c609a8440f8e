/**
 * CIFAR-style ResNet-20 (option A shortcuts, 0.27M parameters) on Fashion-MNIST from Debian's
 * dataset-fashion-mnist package, with random crop + flip, SGD + Nesterov, weight decay off BN and
 * biases, and a one-cycle schedule. Writes runs/fashion-resnet20/{metrics.jsonl, last/best
 * checkpoints, curves.svg}.
 *
 *   npm run example:fashion                 (EPOCHS=… BATCH=… LR=… to override)
 */
import { runTraining } from '../lib/cli/train';

runTraining({
  model: 'resnet20',
  dataset: 'fashion-mnist',
  epochs: Number(process.env.EPOCHS ?? 8),
  batchSize: Number(process.env.BATCH ?? 128),
  lr: Number(process.env.LR ?? 0.2),
  momentum: 0.9,
  weightDecay: 5e-4,
  nesterov: true,
  optimizer: 'sgd',
  schedule: 'onecycle',
  labelSmoothing: 0,
  augment: true,
  seed: 0,
  workers: true,
  channelsLast: process.env.CHANNELS_LAST === '1',
  out: process.env.OUT ?? 'runs/fashion-resnet20',
  resume: process.env.RESUME === '1',
}).then((r) => {
  process.exitCode = r.stopped === 'done' ? 0 : 1;
});
