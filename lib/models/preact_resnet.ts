/**
 * Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks"), for
 * 32x32 inputs: a 3x3 stem convolution (no BN after it: each block starts with BN-ReLU), stages
 * of pre-activation blocks, then the final BN-ReLU the pre-activation design needs (`bn`), global
 * average pooling and `fc`.
 *
 * - preactResnet18: PreActBlock [2, 2, 2, 2], widths 64/128/256/512 (the common CIFAR
 *   PreActResNet-18).
 * - preactResnet164: PreActBottleneck, 18 per stage, widths 16/32/64 (outputs 64/128/256),
 *   1.7M parameters; 5.46% CIFAR-10 error in the paper.
 *
 * Shortcuts where the shape changes: 1x1 convolution on the pre-activated input
 * (`downsample.0`). Initialisation as every ResNet here (kaiming-normal fan_out convs, BN 1/0).
 */
import { Tensor } from '../tensor';
import * as F from '../functional';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, Sequential } from '../nn/layers';
import { PreActBlock, PreActBottleneck } from '../nn/blocks/preact';
import { conv3x3 } from '../nn/blocks/base';
import { linearDropPathRates } from '../nn/blocks/droppath';
import { invalidArg } from '../errors';
import { initResNet, ModelOptions, posIntOpt, Model, checkModelOptions } from './common';

export interface PreActResNetOptions extends ModelOptions {
  /** Stochastic depth: drop rate of the last block, rising linearly from 0 (default 0: off). */
  dropPathRate?: number;
}

export class PreActResNet extends Model {
  conv1: Conv2d;
  bn: BatchNorm2d;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;
  readonly stages: Sequential[] = [];
  readonly numClasses: number;
  readonly inChannels: number;
  constructor(
    readonly block: typeof PreActBlock | typeof PreActBottleneck,
    readonly layers: readonly number[],
    readonly widths: readonly number[],
    o: PreActResNetOptions = {},
    stemWidth = widths[0],
  ) {
    super();
    checkModelOptions(o, 'PreActResNet');
    if (layers.length !== widths.length || layers.length === 0) throw invalidArg('one block count per stage width', 'PreActResNet(layers)', layers);
    this.numClasses = posIntOpt(o.numClasses, 10, 'numClasses');
    this.inChannels = posIntOpt(o.inChannels, 3, 'inChannels');
    const rates = linearDropPathRates(layers.reduce((a, b) => a + b, 0), o.dropPathRate ?? 0);
    this.conv1 = this.registerModule('conv1', conv3x3(this.inChannels, stemWidth));
    let inPlanes = stemWidth;
    layers.forEach((n, s) => {
      const layer = new Sequential();
      for (let i = 0; i < n; i++) {
        const opts = { stride: s > 0 && i === 0 ? 2 : 1, dropPath: rates.shift() };
        layer.append(block === PreActBottleneck ? new PreActBottleneck(inPlanes, widths[s], opts) : new PreActBlock(inPlanes, widths[s], opts));
        inPlanes = widths[s] * block.expansion;
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, layer));
    });
    this.bn = this.registerModule('bn', new BatchNorm2d(inPlanes));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d([1, 1]));
    this.fc = this.registerModule('fc', new Linear(inPlanes, this.numClasses));
    initResNet(this);
  }
  forward(x: Tensor): Tensor {
    let h = this.conv1.forward(x);
    for (const layer of this.stages) {
      const next = layer.forward(h);
      h.dispose();
      h = next;
    }
    const b = this.bn.forward(h);
    h.dispose();
    const r = F.relu(b);
    b.dispose();
    const p = this.avgpool.forward(r);
    r.dispose();
    const f = F.flatten(p, 1);
    p.dispose();
    const y = this.fc.forward(f);
    f.dispose();
    return y;
  }
}

export const preactResnet18 = (o: PreActResNetOptions = {}) => new PreActResNet(PreActBlock, [2, 2, 2, 2], [64, 128, 256, 512], o);
export const preactResnet164 = (o: PreActResNetOptions = {}) => new PreActResNet(PreActBottleneck, [18, 18, 18], [16, 32, 64], o, 16);
