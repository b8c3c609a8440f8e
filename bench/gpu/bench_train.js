#!/usr/bin/env node
'use strict';
/**
 * Training throughput on the GPU: images/s of full SGD steps (forward, cross-entropy, backward,
 * momentum update) of CIFAR ResNet-20 (32x32) or torchvision ResNet-50 (224x224) on random data
 * already on the device -- the same setup as bench/gpu/torch_ref.py, so the two compare.
 *
 *   node bench/gpu/bench_train.js --model resnet20|resnet50 [--batch 128] [--steps 20] [--warmup 5]
 *        [--tf32] [--channels-last] [--bf16] [--fit] [--unfused] [--json FILE] [--dry-run]
 *
 * --channels-last: model.toChannelsLast() and a channels-last input (torch: memory_format=
 *   torch.channels_last); --bf16: forward and loss under rn.autocast('bf16') (torch.autocast('cuda',
 *   dtype=torch.bfloat16)): convolutions and the classifier in bfloat16 on tensor cores, BatchNorm
 *   statistics, loss, gradients and the SGD update in float32 on float32 master weights.
 *   The issue's target row: --model resnet50 --bf16 --channels-last --batch 256 --fit.
 * --fit: when the batch does not fit in device memory (ERR_RN_OOM), halve it and try again (the
 *   JSON says which batch ran); torch_ref.py --fit does the same.
 * --unfused: rn.setFusion(false) (BatchNorm + add + ReLU as separate ops), for comparison.
 *
 * Stand-in while another change lands (reported in the JSON under "workarounds"): when
 * rn.optim.SGD's op (native/ops/optim.cc) does not dispatch to CUDA yet (it throws
 * ERR_RN_NO_CUDA), the update runs the fused CUDA SGD kernel through its test entry
 * (_cudaSgdStep), with the same hyper-parameters. The first steps include cuDNN's algorithm search
 * for every convolution shape (warmup).
 */
const { load, flags, writeJson, targetDevice } = require('./common');

const f = flags();
const { rn, binding } = load();
const device = targetDevice(rn, f);
const onGpu = device === 'cuda';
const model = f.model || 'resnet20';
const dry = !!f['dry-run'];
const bf16 = !!f.bf16;
const channelsLast = !!f['channels-last'];
const batch0 = Number(f.batch || (dry ? 4 : model === 'resnet50' ? 64 : 128));
const steps = Number(f.steps || (dry ? 2 : 20));
const warmup = Number(f.warmup || (dry ? 1 : 5));
const size = model === 'resnet50' ? (dry ? 64 : 224) : 32;
const classes = model === 'resnet50' ? 1000 : 10;
const HP = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };

/** One measured run at a batch size; throws ERR_RN_OOM when it does not fit. */
function measure(batch) {
  const workarounds = [];
  rn.manualSeed(0);
  const m = model === 'resnet50' ? rn.models.resnet50({ numClasses: classes }) : rn.models.resnet20({ numClasses: classes });
  m.train();
  m.to(device);
  if (channelsLast) m.toChannelsLast();
  const params = [...m.parameters()];
  // the optimiser; its CUDA dispatch may not be wired yet: then the fused kernel's test entry
  const opt = new rn.optim.SGD(params, HP);
  const bufs = [];
  let direct = false;
  const directStep = (first) => {
    if (!bufs.length) for (const p of params) bufs.push(rn.zeros(p.shape.slice(), { device }).keep());
    const ps = params.filter((p) => p.grad);
    const hs = (xs) => xs.map((t) => t.h);
    binding()._cudaSgdStep(hs(ps), hs(ps.map((p) => p.grad)), hs(ps.map((p) => bufs[params.indexOf(p)])), ps.map(() => first),
      HP.lr, HP.momentum, 0, HP.weightDecay, false, false);
  };
  const update = (first) => {
    if (!direct) {
      try {
        opt.step();
      } catch (e) {
        if (!(onGpu && e.code === 'ERR_RN_NO_CUDA' && typeof binding()._cudaSgdStep === 'function')) throw e;
        direct = true;
        workarounds.push(`SGD through the fused CUDA kernel's test entry (_cudaSgdStep): rn.optim.SGD said "${e.message}"`);
      }
    }
    if (direct) directStep(first);
    m.zeroGrad();
  };
  let x = rn.randn([batch, 3, size, size], { device });
  if (channelsLast) x = x.toChannelsLast();
  const y = rn.tensor(Int32Array.from({ length: batch }, (_, i) => i % classes), { shape: [batch] }).to(device);
  const forwardLoss = () => rn.F.crossEntropy(m.forward(x), y);
  const step = (i) =>
    rn.tidy(() => {
      const loss = bf16 ? rn.autocast('bf16', forwardLoss) : forwardLoss();
      loss.backward();
      update(i === 0);
      return loss;
    });
  try {
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
    const lastLoss = loss.itemSync();  // waits for the queued steps
    if (onGpu) rn.cuda.synchronize();
    const ms = Number(process.hrtime.bigint() - t1) / 1e6;
    loss.dispose();
    return { ms, warmMs, lastLoss, workarounds, peak: onGpu ? rn.memory.stats('cuda').peak : null };
  } finally {
    // free the attempt (an OOM retry needs the memory back)
    x.dispose();
    y.dispose();
    const state = [...opt.state.values()].flatMap((s) => Object.values(s.tensors));
    for (const t of [...params, ...m.buffers(), ...bufs, ...state]) t.dispose();
    if (onGpu) rn.cuda.emptyCache();
  }
}

function main() {
  if (onGpu) rn.cuda.setAllowTF32(!!f.tf32);
  if (f.unfused) rn.setFusion(false);
  let batch = batch0;
  const tried = [];
  let r;
  for (;;) {
    try {
      r = measure(batch);
      break;
    } catch (e) {
      if (!(f.fit && e.code === 'ERR_RN_OOM' && batch > 1)) throw e;
      tried.push({ batch, error: e.message.split('\n')[0] });
      console.log(`batch ${batch} does not fit (${e.code}); trying ${batch >> 1}`);
      batch >>= 1;
    }
  }
  const { ms, warmMs, lastLoss, workarounds, peak } = r;
  const out = {
    model, device: onGpu ? rn.cuda.properties().name : 'cpu (dry run)', dryRun: !onGpu, batch, batchRequested: batch0, batchesTried: tried,
    imageSize: size, steps, warmup, tf32: !!f.tf32, channelsLast, bf16, dtype: bf16 ? 'bfloat16 (autocast)' : 'float32', fused: !f.unfused,
    msPerStep: ms / steps, imagesPerSec: (batch * steps) / (ms / 1000), warmupMs: warmMs, finalLoss: lastLoss, peakMemory: peak, workarounds,
  };
  const tags = [out.tf32 && 'TF32', bf16 && 'bf16 autocast', channelsLast && 'channels-last', f.unfused && 'unfused'].filter(Boolean);
  console.log(`${model} batch ${batch} ${size}x${size} on ${out.device}${tags.length ? ` (${tags.join(', ')})` : ''}: ${out.imagesPerSec.toFixed(1)} images/s, ${out.msPerStep.toFixed(1)} ms/step (warmup ${warmMs} ms), loss ${lastLoss.toFixed(4)}`);
  writeJson(f.json, out);
  if (!Number.isFinite(lastLoss)) process.exitCode = 1;
}

try {
  main();
} catch (e) {
  console.error(`bench_train: ${e.code || e.name}: ${e.message}\n${(e.stack || '').split('\n').slice(1, 6).join('\n')}`);
  writeJson(f.json, { model, bf16, channelsLast, error: `${e.code || e.name}: ${e.message}` });
  process.exitCode = 2;
}
