/**
 * DenseNet pieces (Huang et al. 2017), with torchvision's names:
 *
 * - DenseLayer (`denselayerN`): the BC bottleneck, norm1 - relu - conv1 (1x1, bnSize * k) -
 *   norm2 - relu - conv2 (3x3, k), applied to the concatenation of every earlier feature map of
 *   its block: x_l = H_l([x_0, ..., x_{l-1}]). Growth rate k new channels per layer.
 * - DenseBlock (`denseblockN`): numLayers DenseLayers; returns the concatenation of its input and
 *   every layer's output (in + numLayers * k channels).
 * - Transition (`transitionN`): norm - relu - conv (1x1, floor(compression * in)) - avgpool 2.
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Module } from '../module';
import { AvgPool2d, BatchNorm2d, Conv2d } from '../layers';
import { Block, free } from './base';

export class DenseLayer extends Block {
  readonly blockKind = 'dense' as const;
  norm1: BatchNorm2d;
  conv1: Conv2d;
  norm2: BatchNorm2d;
  conv2: Conv2d;
  constructor(readonly inChannels: number, readonly growthRate: number, readonly bnSize = 4, readonly dropRate = 0) {
    super();
    this.norm1 = this.registerModule('norm1', new BatchNorm2d(inChannels));
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, bnSize * growthRate, 1, { bias: false }));
    this.norm2 = this.registerModule('norm2', new BatchNorm2d(bnSize * growthRate));
    this.conv2 = this.registerModule('conv2', new Conv2d(bnSize * growthRate, growthRate, 3, { padding: 1, bias: false }));
  }
  /** x: the concatenated features [N, inChannels, H, W]; returns the k new channels. */
  forward(x: Tensor): Tensor {
    const a = this.norm1.forward(x);
    const b = F.relu(a);
    const c = this.conv1.forward(b);
    free([x], a, b);
    const d = this.norm2.forward(c);
    const e = F.relu(d);
    let y = this.conv2.forward(e);
    free([x, y], c, d, e);
    if (this.dropRate > 0) y = F.dropout(y, this.dropRate, this.training);
    return y;
  }
  extraRepr(): string {
    return `${this.inChannels} -> +${this.growthRate}`;
  }
}

export class DenseBlock extends Module {
  readonly outChannels: number;
  constructor(readonly numLayers: number, readonly inChannels: number, readonly growthRate: number, bnSize = 4, dropRate = 0) {
    super();
    for (let i = 0; i < numLayers; i++)
      this.registerModule(`denselayer${i + 1}`, new DenseLayer(inChannels + i * growthRate, growthRate, bnSize, dropRate));
    this.outChannels = inChannels + numLayers * growthRate;
  }
  forward(x: Tensor): Tensor {
    const features: Tensor[] = [x];
    let cur = x;
    for (const layer of this.children()) {
      const y = layer.forward(cur);
      features.push(y);
      const next = F.cat(features, 1);
      if (cur !== x) cur.dispose();
      cur = next;
    }
    free([x, cur], ...features.slice(1));
    return cur;
  }
  extraRepr(): string {
    return `${this.numLayers} layers, ${this.inChannels} -> ${this.outChannels}`;
  }
}

export class Transition extends Module {
  norm: BatchNorm2d;
  conv: Conv2d;
  pool: AvgPool2d;
  constructor(readonly inChannels: number, readonly outChannels: number) {
    super();
    this.norm = this.registerModule('norm', new BatchNorm2d(inChannels));
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, 1, { bias: false }));
    this.pool = this.registerModule('pool', new AvgPool2d({ kernelSize: 2, stride: 2 }));
  }
  forward(x: Tensor): Tensor {
    const a = this.norm.forward(x);
    const b = F.relu(a);
    const c = this.conv.forward(b);
    free([x], a, b);
    const y = this.pool.forward(c);
    free([x, y], c);
    return y;
  }
  extraRepr(): string {
    return `${this.inChannels} -> ${this.outChannels}`;
  }
}
