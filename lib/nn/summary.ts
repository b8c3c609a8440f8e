/**
 * A model summary for a given input shape: every module with its output shape, its parameter
 * count (including its children) and the multiply-adds of its convolutions and matrix products,
 * found by running one forward pass with forward hooks (no gradient, eval mode, zeros input; the
 * model's train/eval flags, running statistics and the random generator are left untouched).
 *
 *   const s = rn.nn.summary(rn.models.resnet20(), [1, 3, 32, 32]);
 *   console.log(s.table);   // or String(s)
 *   s.rows                  // [{ name: 'conv1', type: 'Conv2d', outputShape: [1, 16, 32, 32], params: 432, ... }]
 */
import { Tensor, zeros } from '../tensor';
import { noGrad } from '../autograd';
import { tidy } from '../memory';
import { invalidArg } from '../errors';
import { Module } from './module';
import { Conv2d, Linear } from './layers';
import { MultiheadAttention } from './attention';
import { withForwardHooks } from './hooks';

export interface SummaryRow {
  /** Dotted path, e.g. "layer1.0.conv1" ("" for the model itself). */
  name: string;
  type: string;
  depth: number;
  /** Shape of the first output seen (null when the module was not called). */
  outputShape: number[] | null;
  /** Parameters of the module and its children. */
  params: number;
  /** Multiply-adds of this module's own convolutions / matrix products (not its children's). */
  macs: number;
  /** How many times forward was called. */
  calls: number;
}

export interface SummaryResult {
  rows: SummaryRow[];
  inputShape: number[];
  outputShape: number[];
  totalParams: number;
  trainableParams: number;
  /** Multiply-adds of the whole forward pass for inputShape (all samples of the batch). */
  totalMacs: number;
  table: string;
  toString(): string;
}

export interface SummaryOptions {
  /** Deepest level of modules listed in the table (default: all); totals always count everything. */
  depth?: number;
}

function ownMacs(m: Module, args: Tensor[], y: Tensor): number {
  if (m instanceof Conv2d) {
    const [kh, kw] = Array.isArray(m.kernelSize) ? m.kernelSize : [m.kernelSize, m.kernelSize];
    return y.numel * (m.inChannels / m.opts.groups) * kh * kw;
  }
  if (m instanceof Linear) return y.numel * m.inFeatures;
  if (m instanceof MultiheadAttention) {
    const [q, k = q] = args;
    const [B, L, E] = q.shape;
    const S = k.shape[1];
    // q/k/v projections + q k^T + attn v (out_proj is a Linear child, counted there)
    return B * L * E * E + 2 * B * S * E * E + 2 * B * L * S * E;
  }
  return 0;
}

const fmtInt = (n: number) => n.toLocaleString('en-US');
function fmtMacs(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

export function summary(model: Module, inputShape: readonly number[], opts: SummaryOptions = {}): SummaryResult {
  if (!(model instanceof Module)) throw invalidArg('a Module', 'summary(model)', model);
  if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((s) => Number.isInteger(s) && s > 0))
    throw invalidArg('an input shape of positive integers including the batch dimension', 'summary(inputShape)', inputShape);
  const maxDepth = opts.depth ?? Infinity;
  const rows = new Map<Module, SummaryRow>();
  for (const [name, m] of model.namedModules()) {
    if (rows.has(m)) continue;
    rows.set(m, {
      name,
      type: m.typeName,
      depth: name === '' ? 0 : name.split('.').length,
      outputShape: null,
      params: m.numParameters(),
      macs: 0,
      calls: 0,
    });
  }
  const modes = model.modules().map((m) => [m, m.training] as const);
  let outShape: number[] = [];
  try {
    model.eval();
    outShape = tidy(() =>
      noGrad(() =>
        withForwardHooks(
          model,
          () => true,
          (_name, m, args, next) => {
            const y = next(args);
            const r = rows.get(m)!;
            r.calls++;
            if (!r.outputShape) r.outputShape = y.shape.slice();
            r.macs += ownMacs(m, args, y);
            return y;
          },
          () => model.forward(zeros(inputShape)).shape.slice(),
        ),
      ),
    );
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  const all = [...rows.values()];
  const totalParams = model.numParameters();
  const trainableParams = model.numParameters(true);
  const totalMacs = all.reduce((a, r) => a + r.macs, 0);
  const shown = all.filter((r) => r.depth >= 1 && r.depth <= maxDepth);
  const label = (r: SummaryRow) => `${'  '.repeat(r.depth - 1)}${r.name.split('.').pop()} (${r.type})`;
  const shapeStr = (r: SummaryRow) => (r.outputShape ? `[${r.outputShape.join(', ')}]` : '--');
  const w0 = Math.max(12, ...shown.map((r) => label(r).length));
  const w1 = Math.max(12, ...shown.map((r) => shapeStr(r).length));
  const w2 = Math.max(7, ...shown.map((r) => fmtInt(r.params).length));
  const width = w0 + w1 + w2 + 4;
  const lines = [
    `${'Layer (type)'.padEnd(w0)}  ${'Output Shape'.padEnd(w1)}  ${'Param #'.padStart(w2)}`,
    '='.repeat(width),
    ...shown.map((r) => `${label(r).padEnd(w0)}  ${shapeStr(r).padEnd(w1)}  ${fmtInt(r.params).padStart(w2)}`),
    '='.repeat(width),
    `Input shape: [${inputShape.join(', ')}]   Output shape: [${outShape.join(', ')}]`,
    `Total params: ${fmtInt(totalParams)}`,
    `Trainable params: ${fmtInt(trainableParams)}`,
    `Non-trainable params: ${fmtInt(totalParams - trainableParams)}`,
    `Mult-adds: ${fmtMacs(totalMacs)}`,
  ];
  const table = lines.join('\n');
  return {
    rows: all,
    inputShape: inputShape.slice(),
    outputShape: outShape,
    totalParams,
    trainableParams,
    totalMacs,
    table,
    toString: () => table,
  };
}
