#!/usr/bin/env node
'use strict';
/**
 * Training throughput on the GPU: images/s of full SGD steps (forward, cross-entropy, backward,
 * momentum update) of CIFAR ResNet-20 (32x32) or torchvision ResNet-50 (224x224) on random data
 * already on the device -- the same setup as bench/gpu/torch_ref.py, so the two compare.
 *
 *   node bench/gpu/bench_train.js --model resnet20|resnet50 [--batch 128] [--steps 20] [--warmup 5]
 *        [--tf32] [--channels-last] [--json FILE] [--dry-run]
 *
 * Stand-ins while other changes land (each is reported in the JSON under "workarounds"):
 *   - fusion off: F.batchNormAddRelu's op (native/ops/bn_add_relu.cc) does not dispatch to the
 *     CUDA kernels yet, so blocks run batchNorm2d + add + relu;
 *   - the update is the fused CUDA SGD kernel through its test entry (_cudaSgdStep): rn.optim.SGD's
 *     op (native/ops/optim.cc) does not dispatch to it yet;
 *   - parameters move with Tensor._moveTo_ (Module.to does not move yet);
 *   - grad_rules.ts creates the slice / sum gradients' zeros on the CPU: tensor.zeros / tensor.empty
 *     default to the model's device during the run (the CIFAR models' option-A shortcut slices).
 * The first steps include cuDNN's algorithm search for every convolution shape (warmup).
 */
const { load, flags, writeJson, targetDevice } = require('./common');

const f = flags();
const { rn, binding } = load();
const device = targetDevice(rn, f);
const onGpu = device === 'cuda';
const model = f.model || 'resnet20';
const dry = !!f['dry-run'];
const batch = Number(f.batch || (dry ? 4 : model === 'resnet50' ? 64 : 128));
const steps = Number(f.steps || (dry ? 2 : 20));
const warmup = Number(f.warmup || (dry ? 1 : 5));
const size = model === 'resnet50' ? (dry ? 64 : 224) : 32;
const classes = model === 'resnet50' ? 1000 : 10;

function main() {
  const workarounds = [];
  if (onGpu) rn.cuda.setAllowTF32(!!f.tf32);
  rn.manualSeed(0);
  const m = model === 'resnet50' ? rn.models.resnet50({ numClasses: classes }) : rn.models.resnet20({ numClasses: classes });
  m.train();
  rn.setFusion(false);
  workarounds.push('fusion off (native/ops/bn_add_relu.cc has no CUDA dispatch yet)');
  const params = [...m.parameters()];
  for (const t of [...params, ...m.buffers()]) t._moveTo_(device);
  workarounds.push('parameters moved with Tensor._moveTo_ (Module.to does not move yet)');
  // grad_rules.ts: T().zeros(shape) / T().empty(shape) -> on the model's device
  const T = require(require('path').join(__dirname, '../../dist/tensor.js'));
  const zeros0 = T.zeros, empty0 = T.empty;
  T.zeros = (shape, o = {}) => zeros0(shape, o.device === undefined ? { ...o, device } : o);
  T.empty = (shape, o = {}) => empty0(shape, o.device === undefined ? { ...o, device } : o);
  workarounds.push('tensor.zeros/empty default to the device (grad_rules.ts slice/unreduce create CPU tensors)');
  const bufs = params.map((p) => rn.zeros(p.shape.slice(), { device }).keep());
  const sgd = (first) => {
    const ps = params.filter((p) => p.grad);
    const hs = (xs) => xs.map((t) => t.h);
    const b = ps.map((p) => bufs[params.indexOf(p)]);
    const fn = onGpu ? binding()._cudaSgdStep : binding().sgdStep;
    fn(hs(ps), hs(ps.map((p) => p.grad)), hs(b), ps.map(() => first), 0.1, 0.9, 0, 5e-4, false, false);
    for (const p of ps) {
      p.grad.dispose();
      p.grad = null;
    }
  };
  workarounds.push(onGpu ? 'SGD through the fused CUDA kernel\'s test entry (_cudaSgdStep)' : 'SGD on the CPU (dry run)');
  let x = rn.randn([batch, 3, size, size], { device });
  if (f['channels-last']) x = x.toChannelsLast();
  const y = rn.tensor(Int32Array.from({ length: batch }, (_, i) => i % classes), { shape: [batch] }).to(device);
  let lastLoss = NaN;
  const step = (i) =>
    rn.tidy(() => {
      const loss = rn.F.crossEntropy(m.forward(x), y);
      loss.backward();
      sgd(i === 0);
      return loss;
    });
  const t0 = Date.now();
  for (let i = 0; i < warmup; i++) step(i).dispose();
  if (onGpu) rn.cuda.synchronize();
  const warmMs = Date.now() - t0;
  if (onGpu) rn.cuda.resetPeakMemoryStats();
  const t1 = process.hrtime.bigint();
  let loss = null;
  for (let i = 0; i < steps; i++) {
    if (loss) loss.dispose();
    loss = step(warmup + i);
  }
  lastLoss = loss.itemSync();  // waits for the queued steps
  if (onGpu) rn.cuda.synchronize();
  const ms = Number(process.hrtime.bigint() - t1) / 1e6;
  T.zeros = zeros0;
  T.empty = empty0;
  const out = {
    model, device: onGpu ? rn.cuda.properties().name : 'cpu (dry run)', dryRun: !onGpu, batch, imageSize: size, steps, warmup,
    tf32: !!f.tf32, channelsLast: !!f['channels-last'], msPerStep: ms / steps, imagesPerSec: (batch * steps) / (ms / 1000),
    warmupMs: warmMs, finalLoss: lastLoss, peakMemory: onGpu ? rn.memory.stats('cuda').peak : null, workarounds,
  };
  console.log(`${model} batch ${batch} ${size}x${size} on ${out.device}${out.tf32 ? ' (TF32)' : ''}: ${out.imagesPerSec.toFixed(1)} images/s, ${out.msPerStep.toFixed(1)} ms/step (warmup ${warmMs} ms), loss ${lastLoss.toFixed(4)}`);
  writeJson(f.json, out);
  if (!Number.isFinite(lastLoss)) process.exitCode = 1;
}

try {
  main();
} catch (e) {
  console.error(`bench_train: ${e.code || e.name}: ${e.message}\n${(e.stack || '').split('\n').slice(1, 6).join('\n')}`);
  writeJson(f.json, { model, error: `${e.code || e.name}: ${e.message}` });
  process.exitCode = 2;
}
