/**
 * `resnode train`: train a model on a dataset with progress bars, per-epoch metrics
 * (runs/x/metrics.jsonl), checkpoints each epoch and at the best test accuracy, curves.svg, exact
 * resume, Ctrl-C that saves and exits cleanly, and a stop with a clear message if the loss
 * becomes NaN (the last good checkpoint is kept).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as rn from '../index';
import * as models from '../models';
import * as optim from '../optim';
import * as data from '../data';
import { saveCheckpoint, loadCheckpoint } from '../io/checkpoint';
import { ProgressBar } from './progress';
import { trainingCurves, readMetricsJsonl } from './svg_plot';
import { parseArgs, helpText, ArgSpec } from './args';
import { registerCommand } from './main';
import { invalidArg, rnError } from '../errors';
import type { Module } from '../nn/module';

export const TRAIN_SPEC = {
  model: { type: 'string', default: 'resnet20', help: 'model name from rn.models (resnet20, resnet56, plain20, preactResnet18, resnet18, ...)' },
  dataset: { type: 'string', default: 'fashion-mnist', help: 'fashion-mnist | mnist | mnist-digits | cifar10 | cifar100' },
  root: { type: 'string', help: 'dataset folder (default: the dataset\'s standard location)' },
  epochs: { type: 'number', default: 10, help: 'epochs' },
  batchSize: { type: 'number', default: 128, help: 'batch size' },
  lr: { type: 'number', default: 0.1, help: 'peak learning rate' },
  momentum: { type: 'number', default: 0.9, help: 'SGD momentum' },
  weightDecay: { type: 'number', default: 5e-4, help: 'weight decay (not applied to BN and bias parameters)' },
  nesterov: { type: 'boolean', default: true, help: 'Nesterov momentum' },
  optimizer: { type: 'string', default: 'sgd', help: 'sgd | adamw' },
  schedule: { type: 'string', default: 'onecycle', help: 'onecycle | cosine | multistep | constant' },
  labelSmoothing: { type: 'number', default: 0, help: 'cross-entropy label smoothing' },
  augment: { type: 'boolean', default: true, help: 'random crop (padding 2/4) + horizontal flip' },
  limit: { type: 'number', help: 'use only the first N training samples (quick runs)' },
  testLimit: { type: 'number', help: 'use only the first N test samples' },
  seed: { type: 'number', default: 0, help: 'random seed' },
  threads: { type: 'number', help: 'CPU threads (default: all cores)' },
  workers: { type: 'boolean', default: true, help: 'load batches in worker threads' },
  channelsLast: { type: 'boolean', default: false, help: 'feed NHWC (channels-last) batches' },
  out: { type: 'string', default: 'runs/latest', help: 'output folder (metrics.jsonl, last/best checkpoints, curves.svg)' },
  resume: { type: 'boolean', default: false, help: 'continue from <out>/last.safetensors' },
} satisfies ArgSpec;

export interface TrainConfig {
  model: string;
  dataset: string;
  root?: string;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  optimizer: 'sgd' | 'adamw';
  schedule: 'onecycle' | 'cosine' | 'multistep' | 'constant';
  labelSmoothing: number;
  augment: boolean;
  limit?: number;
  testLimit?: number;
  seed: number;
  threads?: number;
  workers: boolean;
  channelsLast: boolean;
  out: string;
  resume: boolean;
  /** stop (as Ctrl-C would, saving last.safetensors) once this many epochs are done in total */
  stopAfterEpoch?: number;
  /** progress output stream (default process.stdout) */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testLoss: number;
  testAcc: number;
  lr: number;
  seconds: number;
  imgPerSec: number;
}

export interface TrainResult {
  epochs: EpochRecord[];
  bestAcc: number;
  stopped: 'done' | 'interrupted' | 'nan';
  out: string;
}

function openDataset(name: string, train: boolean, root?: string): data.Dataset {
  switch (name) {
    case 'fashion-mnist': return new data.FashionMNIST({ root, train });
    case 'mnist': return new data.MNIST({ root: root ?? '', train });
    case 'mnist-digits': return new data.MnistDigits({ train });
    case 'cifar10': return new data.CIFAR10({ root: root ?? '', train });
    case 'cifar100': return new data.CIFAR100({ root: root ?? '', train });
  }
  throw rnError('ERR_RN_ARG', `train: unknown dataset "${name}" (fashion-mnist, mnist, mnist-digits, cifar10, cifar100)`);
}

/** A dataset by CLI name and its standard normalisation constants. */
export function openDatasetFor(name: string, train: boolean, root?: string): { dataset: data.Dataset; norm: data.Normalization } {
  return { dataset: openDataset(name, train, root), norm: normalizationOf(name) };
}

function normalizationOf(name: string): data.Normalization {
  const N = data.NORMALIZATION;
  return name === 'cifar10' ? N.cifar10 : name === 'cifar100' ? N.cifar100 : name === 'fashion-mnist' ? N.fashionMnist : N.mnist;
}

export function buildModel(name: string, numClasses: number, inChannels: number): Module {
  const ctor = (models as unknown as Record<string, unknown>)[name];
  if (typeof ctor !== 'function' || /^[A-Z]/.test(name))
    throw rnError('ERR_RN_ARG', `unknown model "${name}" (e.g. resnet20, resnet56, plain20, plain56, preactResnet18, resnet18, densenetBC100, vit)`);
  return (ctor as (o: object) => Module)({ numClasses, inChannels });
}

function subset(ds: data.Dataset, n?: number): data.Dataset {
  if (!n || n >= ds.length) return ds;
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const b = ds.getBatch(idx);
  return new data.ArrayDataset({ images: b.images, labels: b.labels, shape: ds.shape, numClasses: ds.numClasses, classes: ds.classes });
}

/** A fresh [2] tensor holding two scalars' current values (read later without a stall). */
function snapshot(a: rn.Tensor, b: rn.Tensor): rn.Tensor {
  return rn.noGrad(() => {
    const va = a.reshape([1]);
    const vb = b.reshape([1]);
    const s = rn.cat([va, vb]).keep();
    va.dispose();
    vb.dispose();
    return s;
  });
}

/** Evaluate loss and accuracy on a loader (eval mode, no graph). */
export async function evaluate(model: Module, loader: data.DataLoader, channelsLast = false): Promise<{ loss: number; acc: number }> {
  model.eval();
  const lossSum = rn.zeros([]).keep();
  const correct = rn.zeros([]).keep();
  let n = 0;
  for await (const { x, y } of loader) {
    rn.tidy(() => rn.noGrad(() => {
      const logits = model.forward(channelsLast ? x.toChannelsLast() : x);
      lossSum.addInPlace(rn.F.crossEntropy(logits, y, { reduction: 'sum' }));
      correct.addInPlace(rn.sum(rn.eq(rn.argmax(logits, 1), y)));
    }));
    n += y.shape[0];
    x.dispose();
    y.dispose();
  }
  const [l, c] = [await lossSum.item(), await correct.item()];
  lossSum.dispose();
  correct.dispose();
  model.train();
  return { loss: l / Math.max(n, 1), acc: c / Math.max(n, 1) };
}

/**
 * Checks a TrainConfig before anything is opened or written, naming the command-line option: a
 * value that would silently change the run (--epochs 1.5, --threads 0, --optimizer adam) is an error.
 */
export function checkTrainConfig(cfg: TrainConfig): void {
  if (cfg === null || typeof cfg !== 'object') throw invalidArg('a training configuration', 'runTraining(config)', cfg);
  const opt = (k: string) => `train --${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
  const c = cfg as unknown as Record<string, unknown>;
  const int = (k: string, min: number, max = Number.MAX_SAFE_INTEGER, optional = false) => {
    const v = c[k];
    if (optional && v === undefined) return;
    if (typeof v !== 'number') throw invalidArg('an integer', opt(k), v);
    if (!Number.isInteger(v) || v < min || v > max) throw invalidArg(`an integer in [${min}, ${max}]`, opt(k), v, 'ERR_RN_RANGE');
  };
  const real = (k: string, min: number, max = Infinity) => {
    const v = c[k];
    if (typeof v !== 'number' || Number.isNaN(v)) throw invalidArg('a number', opt(k), v);
    if (!Number.isFinite(v) || v < min || v > max) throw invalidArg(`a finite number in [${min}, ${max}]`, opt(k), v, 'ERR_RN_RANGE');
  };
  const oneOf = (k: string, values: readonly string[]) => {
    if (!values.includes(c[k] as string)) throw invalidArg(values.map((v) => `"${v}"`).join(' | '), opt(k), c[k]);
  };
  for (const k of ['model', 'dataset', 'out'] as const)
    if (typeof c[k] !== 'string' || c[k] === '') throw invalidArg('a non-empty string', opt(k), c[k]);
  int('epochs', 1);
  int('batchSize', 1, 2 ** 31 - 1);
  int('limit', 1, Number.MAX_SAFE_INTEGER, true);
  int('testLimit', 1, Number.MAX_SAFE_INTEGER, true);
  int('seed', 0);
  int('threads', 1, 1024, true);
  int('stopAfterEpoch', 1, Number.MAX_SAFE_INTEGER, true);
  real('lr', 0);
  real('momentum', 0);
  real('weightDecay', 0);
  real('labelSmoothing', 0, 1);
  oneOf('optimizer', ['sgd', 'adamw']);
  oneOf('schedule', ['onecycle', 'cosine', 'multistep', 'constant']);
}

export async function runTraining(cfg: TrainConfig): Promise<TrainResult> {
  checkTrainConfig(cfg);
  if (cfg.threads) rn.setNumThreads(cfg.threads);
  rn.manualSeed(cfg.seed);
  fs.mkdirSync(cfg.out, { recursive: true });
  const stream = cfg.stream ?? process.stdout;
  const say = (s: string) => stream.write(s + '\n');

  const trainSet = subset(openDataset(cfg.dataset, true, cfg.root), cfg.limit);
  const testSet = subset(openDataset(cfg.dataset, false, cfg.root), cfg.testLimit);
  const [C, H] = trainSet.shape;
  const norm = normalizationOf(cfg.dataset);
  const T = data.transforms;
  const pad = H >= 32 ? 4 : 2;
  const trainTf = cfg.augment
    ? T.compose([T.randomCrop(H, pad), T.randomHorizontalFlip(), T.normalize(norm.mean, norm.std)])
    : T.normalize(norm.mean, norm.std);
  const trainLoader = new data.DataLoader(trainSet, { batchSize: cfg.batchSize, shuffle: true, dropLast: true, transform: trainTf, seed: cfg.seed, workers: cfg.workers });
  const testLoader = new data.DataLoader(testSet, { batchSize: 500, shuffle: false, transform: T.normalize(norm.mean, norm.std), workers: cfg.workers });

  const model = buildModel(cfg.model, trainSet.numClasses, C);
  const groups = optim.paramGroupsNoDecay(model, cfg.weightDecay);
  const opt = cfg.optimizer === 'adamw'
    ? new optim.AdamW(groups, { lr: cfg.lr, weightDecay: cfg.weightDecay })
    : new optim.SGD(groups, { lr: cfg.lr, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: cfg.weightDecay });
  const steps = trainLoader.length;
  const total = steps * cfg.epochs;
  const sched: optim.LRScheduler | null =
    cfg.schedule === 'onecycle' ? new optim.OneCycleLR(opt, { maxLr: cfg.lr, totalSteps: total })
      : cfg.schedule === 'cosine' ? new optim.CosineAnnealingLR(opt, { tMax: total })
        : cfg.schedule === 'multistep' ? new optim.MultiStepLR(opt, { milestones: [Math.floor(total * 0.5), Math.floor(total * 0.75)], gamma: 0.1 })
          : null;

  const lastPath = path.join(cfg.out, 'last.safetensors');
  const bestPath = path.join(cfg.out, 'best.safetensors');
  const metricsPath = path.join(cfg.out, 'metrics.jsonl');
  let startEpoch = 0;
  let bestAcc = -1;
  const records: EpochRecord[] = [];
  const config = { ...cfg, stream: undefined };
  if (cfg.resume) {
    if (!fs.existsSync(lastPath)) throw rnError('ERR_RN_LOAD', `train --resume: no checkpoint at ${lastPath}`);
    const { meta, extra } = loadCheckpoint(lastPath, { model, optimizer: opt, scheduler: sched });
    const ex = extra as { loader?: data.LoaderState; bestAcc?: number };
    if (ex?.loader) trainLoader.loadState(ex.loader);
    startEpoch = meta.epoch ?? 0;
    bestAcc = ex?.bestAcc ?? -1;
    records.push(...(fs.existsSync(metricsPath) ? (readMetricsJsonl(metricsPath) as unknown as EpochRecord[]).filter((r) => r.epoch <= startEpoch) : []));
    fs.writeFileSync(metricsPath, records.map((r) => JSON.stringify({ ...r, type: 'epoch' })).join('\n') + (records.length ? '\n' : ''));
    say(`resumed from ${lastPath} at epoch ${startEpoch}${ex?.loader ? `, batch ${ex.loader.batch}` : ''}`);
  } else {
    fs.writeFileSync(metricsPath, '');
  }
  say(`${cfg.model} (${model.numParameters().toLocaleString('en-US')} parameters) on ${cfg.dataset}: ${trainSet.length} train / ${testSet.length} test images, ` +
    `batch ${cfg.batchSize}, ${cfg.epochs} epochs, ${cfg.optimizer} lr ${cfg.lr} ${cfg.schedule}, ${rn.getNumThreads()} threads`);

  const state = { stop: 'done' as TrainResult['stopped'] };
  const onSigint = () => {
    state.stop = 'interrupted';
  };
  process.once('SIGINT', onSigint);
  const save = (file: string, epoch: number, metrics: unknown) =>
    saveCheckpoint(file, { model, optimizer: opt, scheduler: sched, meta: { epoch, config, metrics }, extra: { loader: trainLoader.state(), bestAcc } });

  try {
    for (let epoch = startEpoch; epoch < cfg.epochs && state.stop === 'done'; epoch++) {
      model.train();
      const bar = new ProgressBar({ total: steps, label: `epoch ${epoch + 1}/${cfg.epochs}`, stream: stream as never });
      const lossSum = rn.zeros([]).keep();
      const correct = rn.zeros([]).keep();
      let seen = 0;
      let step = trainLoader.state().batch;
      const t0 = Date.now();
      let lastRead = Promise.resolve();
      let nanAt = -1;
      for await (const { x, y } of trainLoader) {
        const bsz = y.shape[0];
        rn.tidy(() => {
          const logits = model.forward(cfg.channelsLast ? x.toChannelsLast() : x);
          const loss = rn.F.crossEntropy(logits, y, { labelSmoothing: cfg.labelSmoothing });
          opt.zeroGrad();
          loss.backward();
          opt.step();
          sched?.step();
          rn.noGrad(() => {
            lossSum.addInPlace(loss, bsz);
            correct.addInPlace(rn.sum(rn.eq(rn.argmax(logits, 1), y)));
          });
        });
        x.dispose();
        y.dispose();
        seen += bsz;
        step++;
        // read the running sums without stalling the queue: snapshots resolve when they are reached
        if (step % 10 === 0 || step === steps) {
          const snap = snapshot(lossSum, correct);
          const s = step;
          const n = seen;
          const el = (Date.now() - t0) / 1000;
          lastRead = lastRead.then(async () => {
            const v = (await snap.data()) as Float32Array;
            snap.dispose();
            const l = v[0] / n;
            if (!Number.isFinite(l) && nanAt < 0) nanAt = s;
            bar.update(s, { loss: l.toFixed(4), acc: `${((100 * v[1]) / n).toFixed(1)}%`, 'img/s': Math.round(n / el) });
          });
        }
        if (state.stop !== 'done' || nanAt >= 0) break;
      }
      await lastRead;
      const seconds = (Date.now() - t0) / 1000;
      const trainLoss = (await lossSum.item()) / Math.max(seen, 1);
      const trainAcc = (await correct.item()) / Math.max(seen, 1);
      lossSum.dispose();
      correct.dispose();
      if (nanAt >= 0 || !Number.isFinite(trainLoss)) {
        bar.done({ loss: 'NaN' });
        say(`train: the loss became NaN in epoch ${epoch + 1} (by step ${nanAt >= 0 ? nanAt : step}); stopping. ` +
          `The last good checkpoint is ${fs.existsSync(lastPath) ? lastPath : '(none yet)'}; try a lower --lr.`);
        state.stop = 'nan';
        break;
      }
      if ((state.stop as string) === 'interrupted') {
        bar.done({ loss: trainLoss.toFixed(4) });
        save(lastPath, epoch, { partial: true });
        say(`interrupted: saved ${lastPath} (epoch ${epoch + 1}, batch ${trainLoader.state().batch}); continue with --resume`);
        break;
      }
      const test = await evaluate(model, testLoader, cfg.channelsLast);
      const lr = (opt.paramGroups[0].lr as number) ?? cfg.lr;
      const rec: EpochRecord = { type: 'epoch', epoch: epoch + 1, trainLoss, trainAcc, testLoss: test.loss, testAcc: test.acc, lr, seconds, imgPerSec: seen / seconds };
      records.push(rec);
      bar.done({ loss: trainLoss.toFixed(4), acc: `${(100 * trainAcc).toFixed(2)}%`, 'img/s': Math.round(rec.imgPerSec) });
      say(`epoch ${epoch + 1}/${cfg.epochs}: train loss ${trainLoss.toFixed(4)} acc ${(100 * trainAcc).toFixed(2)}% | test loss ${test.loss.toFixed(4)} acc ${(100 * test.acc).toFixed(2)}% | ${seconds.toFixed(1)} s, ${Math.round(rec.imgPerSec)} img/s`);
      fs.appendFileSync(metricsPath, JSON.stringify(rec) + '\n');
      const isBest = test.acc > bestAcc;
      if (isBest) bestAcc = test.acc;
      save(lastPath, epoch + 1, rec);
      if (isBest) fs.copyFileSync(lastPath, bestPath);
      fs.writeFileSync(path.join(cfg.out, 'curves.svg'), trainingCurves([{ name: `${cfg.model} ${cfg.dataset}`, epochs: records }]));
      if (cfg.stopAfterEpoch !== undefined && epoch + 1 >= cfg.stopAfterEpoch && epoch + 1 < cfg.epochs) {
        say(`stopping after epoch ${epoch + 1} as asked; continue with --resume`);
        state.stop = 'interrupted';
      }
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  if (state.stop === 'done') say(`done: best test accuracy ${(100 * bestAcc).toFixed(2)}%; ${cfg.out}/{metrics.jsonl,last.safetensors,best.safetensors,curves.svg}`);
  return { epochs: records, bestAcc, stopped: state.stop, out: cfg.out };
}

registerCommand('train', {
  summary: 'train a model on a dataset (progress bars, metrics.jsonl, checkpoints, curves.svg)',
  run: async (argv) => {
    if (argv.includes('--help')) {
      console.log(helpText('train', 'train a model', TRAIN_SPEC));
      return 0;
    }
    const a = parseArgs(argv, TRAIN_SPEC, 'train') as unknown as TrainConfig;
    const r = await runTraining(a);
    return r.stopped === 'nan' ? 3 : r.stopped === 'interrupted' ? 130 : 0;
  },
});
