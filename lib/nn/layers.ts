/**
 * Standard layers with torch.nn's names, arguments, parameter names and default initialisation.
 */
import { Tensor, empty, zeros, ones } from '../tensor';
import * as F from '../functional';
import { Module, int64Scalar } from './module';
import * as init from './init';
import { invalidArg, rnError } from '../errors';

function posInt(v: unknown, op: string, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalidArg('a positive integer', `${op}(${name})`, v, typeof v === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
  return v;
}

export interface Conv2dLayerOptions extends F.Conv2dOptions {
  bias?: boolean;
}
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly opts: Required<F.Conv2dOptions>;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number | [number, number], o: Conv2dLayerOptions = {}) {
    super();
    posInt(inChannels, 'Conv2d', 'inChannels');
    posInt(outChannels, 'Conv2d', 'outChannels');
    const [kh, kw] = Array.isArray(kernelSize) ? kernelSize : [kernelSize, kernelSize];
    posInt(kh, 'Conv2d', 'kernelSize');
    posInt(kw, 'Conv2d', 'kernelSize');
    const groups = o.groups ?? 1;
    posInt(groups, 'Conv2d', 'groups');
    if (inChannels % groups || outChannels % groups) throw invalidArg(`groups dividing ${inChannels} and ${outChannels}`, 'Conv2d(groups)', groups, 'ERR_RN_RANGE');
    F.conv2dParams(o, 'Conv2d');
    this.opts = { stride: o.stride ?? 1, padding: o.padding ?? 0, dilation: o.dilation ?? 1, groups };
    // torch default: kaiming_uniform(a=sqrt(5)) => U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias the same bound
    this.weight = this.registerParameter('weight', init.kaimingUniform_(empty([outChannels, inChannels / groups, kh, kw]), { a: Math.sqrt(5) }));
    const fanIn = (inChannels / groups) * kh * kw;
    this.bias = this.registerParameter('bias', o.bias === false ? null : init.uniform_(empty([outChannels]), -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.opts);
  }
  extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernel=${JSON.stringify(this.kernelSize)}, stride=${JSON.stringify(this.opts.stride)}`;
  }
}

export interface BatchNormLayerOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}
export class BatchNorm2d extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  running_mean: Tensor | null;
  running_var: Tensor | null;
  num_batches_tracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;
  /** Set by fuseForInference: the preceding conv absorbed this layer, which is now the identity. */
  folded = false;
  private batches = 0;
  constructor(readonly numFeatures: number, o: BatchNormLayerOptions = {}) {
    super();
    posInt(numFeatures, 'BatchNorm2d', 'numFeatures');
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    const affine = o.affine ?? true;
    this.weight = this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.bias = this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    const track = o.trackRunningStats ?? true;
    this.running_mean = this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.running_var = this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.num_batches_tracked = this.registerBuffer('num_batches_tracked', track ? int64Scalar(0) : null);
  }
  private checkFolded(): void {
    if (this.training)
      throw rnError('ERR_RN_STATE', 'BatchNorm2d: this layer was folded into its convolution by fuseForInference(); the model can only run in eval mode');
  }
  forward(x: Tensor): Tensor {
    if (this.folded) {
      this.checkFolded();
      return x;
    }
    const useBatch = this.training || !this.running_mean;
    if (this.training && this.num_batches_tracked) {
      // counted in JS too so no read-back is needed; loadStateDict resyncs from the tensor
      this.batches += 1;
      this.num_batches_tracked.fill(this.batches);
    }
    return F.batchNorm2d(x, this.running_mean, this.running_var, this.weight, this.bias, {
      training: useBatch,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
  /**
   * relu(bn(x) [+ residual]) through the fused kernels (F.batchNormRelu / F.batchNormAddRelu; with
   * rn.setFusion(false) they run the unfused ops). What residual blocks call.
   */
  forwardRelu(x: Tensor, residual: Tensor | null = null): Tensor {
    if (this.folded) {
      this.checkFolded();
      if (!residual) return F.relu(x);
      const s = F.add(x, residual);
      const y = F.relu(s);
      s.dispose();
      return y;
    }
    if (this.training && this.num_batches_tracked) {
      this.batches += 1;
      this.num_batches_tracked.fill(this.batches);
    }
    const o = { training: this.training || !this.running_mean, momentum: this.momentum, eps: this.eps };
    return residual
      ? F.batchNormAddRelu(x, residual, this.running_mean, this.running_var, this.weight, this.bias, o)
      : F.batchNormRelu(x, this.running_mean, this.running_var, this.weight, this.bias, o);
  }
  protected afterLoad(): void {
    if (this.num_batches_tracked) this.batches = Number(this.num_batches_tracked.dataSync()[0]);
  }
  extraRepr(): string {
    return `${this.numFeatures}`;
  }
}

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, o: { bias?: boolean } = {}) {
    super();
    posInt(inFeatures, 'Linear', 'inFeatures');
    posInt(outFeatures, 'Linear', 'outFeatures');
    this.weight = this.registerParameter('weight', init.kaimingUniform_(empty([outFeatures, inFeatures]), { a: Math.sqrt(5) }));
    const b = 1 / Math.sqrt(inFeatures);
    this.bias = this.registerParameter('bias', o.bias === false ? null : init.uniform_(empty([outFeatures]), -b, b));
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  extraRepr(): string {
    return `${this.inFeatures} -> ${this.outFeatures}`;
  }
}

export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | number[], readonly eps = 1e-5, elementwiseAffine = true) {
    super();
    this.normalizedShape = Array.isArray(normalizedShape) ? normalizedShape.slice() : [normalizedShape];
    this.normalizedShape.forEach((s) => posInt(s, 'LayerNorm', 'normalizedShape'));
    this.weight = this.registerParameter('weight', elementwiseAffine ? ones(this.normalizedShape) : null);
    this.bias = this.registerParameter('bias', elementwiseAffine ? zeros(this.normalizedShape) : null);
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, { approximate: this.approximate });
  }
}
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.flatten(x, this.startDim, this.endDim);
  }
}
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw invalidArg('a probability in [0, 1]', 'Dropout(p)', p, 'ERR_RN_RANGE');
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}
export class MaxPool2d extends Module {
  constructor(readonly o: F.Pool2dOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.o);
  }
}
export class AvgPool2d extends Module {
  constructor(readonly o: F.Pool2dOptions) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.o);
  }
}
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Children named "0", "1", ... as torch.nn.Sequential. */
export class Sequential extends Module {
  constructor(...mods: Module[]) {
    super();
    mods.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this._modules.size;
  }
  at(i: number): Module {
    const m = this._modules.get(String(i));
    if (!m) throw invalidArg(`an index in [0, ${this.length - 1}]`, 'Sequential.at(i)', i, 'ERR_RN_RANGE');
    return m;
  }
  append(m: Module): this {
    this.registerModule(String(this._modules.size), m);
    return this;
  }
  forward(x: Tensor): Tensor {
    for (const m of this.children()) x = m.forward(x);
    return x;
  }
}
export class ModuleList extends Module {
  constructor(mods: Module[] = []) {
    super();
    mods.forEach((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this._modules.size;
  }
  at(i: number): Module {
    const m = this._modules.get(String(i));
    if (!m) throw invalidArg(`an index in [0, ${this.length - 1}]`, 'ModuleList.at(i)', i, 'ERR_RN_RANGE');
    return m;
  }
  append(m: Module): this {
    this.registerModule(String(this._modules.size), m);
    return this;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
  forward(): Tensor {
    throw invalidArg('a container with its own forward', 'ModuleList.forward', 'ModuleList', 'ERR_RN_STATE');
  }
}
