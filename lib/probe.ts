/**
 * Signal-propagation probe: for every block of a model (residual, plain, highway, dense and
 * transformer blocks, i.e. every rn.nn.Block), the forward activation norm at the block's input
 * and output and the backward gradient norm at its input, from one forward + backward pass of
 * a loss on a batch. This is how a user *sees* SCIENCE.md's argument: in a residual net the
 * gradient reaching the first block always contains the last block's gradient (the identity
 * path), so its norm stays of the same order through the depth, while in a plain net of the
 * same depth every layer multiplies the gradient by its own Jacobian and the norm drifts.
 *
 *   const r = rn.probe.signal(rn.models.resnet56(), x, labels);
 *   console.log(rn.probe.format(r));
 *   r.blocks[0].gradNorm / r.blocks.at(-1).gradNorm      // = r.gradRatio
 *
 * How: each block's forward is wrapped (rn.nn.withForwardHooks) so that its input x is replaced
 * by x + z, with z a zero leaf that requires grad; after backward, z.grad is exactly dL/dx at
 * the block's input. The model is left as it was: its mode, parameters, gradients, buffers
 * (BatchNorm running statistics and num_batches_tracked) and the random generator state are
 * restored afterwards.
 */
import { Tensor, tensor, zeros } from './tensor';
import * as F from './functional';
import { enableGrad } from './autograd';
import { tidy } from './memory';
import { getRngState, setRngState } from './random';
import { invalidArg } from './errors';
import { Module } from './nn/module';
import { withForwardHooks } from './nn/hooks';
import { Block, isBlock } from './nn/blocks/base';

export interface BlockSignal {
  /** Position among the probed blocks, in call order. */
  index: number;
  /** Dotted module path, e.g. "layer2.0". */
  name: string;
  type: string;
  /** 'residual' | 'plain' | 'highway' | 'dense' (or 'custom' for blocks chosen by `select`). */
  kind: string;
  inputShape: number[];
  outputShape: number[];
  /** L2 norm of the block's input (forward). */
  inputNorm: number;
  /** L2 norm of the block's output (forward). */
  outputNorm: number;
  /** L2 norm of dLoss/dInput (backward). */
  gradNorm: number;
  /** The same norms divided by sqrt(numel): comparable across stages of different sizes. */
  inputRms: number;
  outputRms: number;
  gradRms: number;
}

export interface SignalReport {
  model: string;
  loss: number;
  /** Whether the pass ran in training mode (BatchNorm with batch statistics, DropPath active). */
  training: boolean;
  blocks: BlockSignal[];
  /** gradNorm at the first block / gradNorm at the last block (NaN without blocks). */
  gradRatio: number;
  /** The same ratio of gradRms. */
  gradRmsRatio: number;
}

export interface SignalOptions {
  /** Loss of (logits, target); default cross-entropy (mean). */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /** Run in training mode (default: the model's current mode). */
  training?: boolean;
  /** Which modules to probe (default: every rn.nn.Block). */
  select?: (name: string, m: Module) => boolean;
}

function l2(t: Tensor): number {
  const d = t.dataSync() as Float32Array;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  return Math.sqrt(s);
}

/** Run one forward + backward of `loss(model(batch), target)` and measure every block. */
export function signal(model: Module, batch: Tensor, target: Tensor | ArrayLike<number>, opts: SignalOptions = {}): SignalReport {
  if (!(model instanceof Module)) throw invalidArg('a Module', 'probe.signal(model)', model);
  F.checkTensor(batch, 'probe.signal', 'batch');
  const select = opts.select ?? ((_n: string, m: Module) => isBlock(m));
  const lossFn = opts.loss ?? ((y: Tensor, t: Tensor) => F.crossEntropy(y, t));
  const tgt = target instanceof Tensor ? target : tensor(Int32Array.from(target as ArrayLike<number>), { shape: [(target as ArrayLike<number>).length] });

  // --- save what the pass would change ---
  const modes = model.modules().map((m) => [m, m.training] as const);
  const rng = getRngState();
  const params = model.parameters();
  const oldGrads = params.map((p) => p.grad);
  for (const p of params) p.grad = null;
  const snapshots: [Module, Map<string, Tensor>][] = [];
  for (const m of model.modules()) {
    if (![...m._buffers.values()].some((b) => b)) continue;
    const snap = new Map<string, Tensor>();
    for (const [k, t] of m.stateDict()) snap.set(k, F.clone(t.detach()).keep());
    snapshots.push([m, snap]);
  }

  const training = opts.training ?? model.training;
  try {
    model.train(training);
    return tidy(() => {
      const taps: { name: string; m: Module; z: Tensor; input: Tensor; output: Tensor }[] = [];
      const loss = enableGrad(() =>
        withForwardHooks(
          model,
          select,
          (name, m, args, next) => {
            const [x, ...rest] = args;
            const z = zeros(x.shape, { requiresGrad: true });
            const xin = F.add(x, z);
            const y = next([xin, ...rest]);
            taps.push({ name, m, z, input: xin.detach(), output: y.detach() });
            return y;
          },
          () => lossFn(model.forward(batch), tgt),
        ),
      );
      loss.backward();
      const lossValue = loss.itemSync();
      const blocks: BlockSignal[] = taps.map((t, index) => {
        const gradNorm = t.z.grad ? l2(t.z.grad) : 0;
        const inputNorm = l2(t.input);
        const outputNorm = l2(t.output);
        const ni = Math.sqrt(Math.max(t.input.numel, 1));
        const no = Math.sqrt(Math.max(t.output.numel, 1));
        const kind = t.m instanceof Block ? t.m.blockKind : 'custom';
        const r: BlockSignal = {
          index,
          name: t.name,
          type: t.m.typeName,
          kind,
          inputShape: t.input.shape.slice(),
          outputShape: t.output.shape.slice(),
          inputNorm,
          outputNorm,
          gradNorm,
          inputRms: inputNorm / ni,
          outputRms: outputNorm / no,
          gradRms: gradNorm / ni,
        };
        t.z.grad?.dispose();
        t.z.grad = null;
        return r;
      });
      const first = blocks[0];
      const last = blocks[blocks.length - 1];
      return {
        model: model.typeName,
        loss: lossValue,
        training,
        blocks,
        gradRatio: first ? first.gradNorm / last.gradNorm : NaN,
        gradRmsRatio: first ? first.gradRms / last.gradRms : NaN,
      };
    });
  } finally {
    // --- restore ---
    for (const [m, t] of modes) m.training = t;
    params.forEach((p, i) => {
      if (p.grad && p.grad !== oldGrads[i]) p.grad.dispose();
      p.grad = oldGrads[i];
    });
    for (const [m, snap] of snapshots) {
      m.loadStateDict(snap); // a module's own loadStateDict, so BatchNorm resyncs its batch counter
      for (const t of snap.values()) t.dispose();
    }
    setRngState(rng);
    if (!(target instanceof Tensor)) tgt.dispose();
  }
}

const num = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4));

/** A text table of a report (one row per block), for the CLI and examples. */
export function format(r: SignalReport): string {
  const head = ['#', 'block', 'type', 'out shape', '|x_in|', '|x_out|', '|dL/dx_in|', 'rms dL/dx'];
  const rows = r.blocks.map((b) => [String(b.index), b.name, b.type, `[${b.outputShape.join(',')}]`, num(b.inputNorm), num(b.outputNorm), num(b.gradNorm), num(b.gradRms)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 4 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [
    `${r.model} (${r.training ? 'train' : 'eval'} mode), loss ${num(r.loss)}`,
    line(head),
    ...rows.map(line),
    `gradient norm ratio first/last block: ${num(r.gradRatio)} (rms: ${num(r.gradRmsRatio)})`,
  ].join('\n');
}
