/**
 * The CIFAR ResNets of the ResNet paper (section 4.2): a 3x3 convolution with 16 channels, then
 * three stages of n basic blocks with 16, 32 and 64 channels (the 2nd and 3rd start with
 * stride 2), global average pooling and a linear classifier; depth = 6n + 2:
 * resnet20 (n=3, 0.27M params), resnet32, resnet44, resnet56 (0.85M), resnet110 (1.7M),
 * resnet1202 (19.4M).
 *
 * Names follow torchvision (`conv1`, `bn1`, `layer1..layer3`, `avgpool`, `fc`, blocks
 * `layerK.i.conv1` ...). Shortcuts are option A by default (parameter-free subsample + zero
 * padding, as in the paper and the common PyTorch reproduction), option B (`downsample.0/1`)
 * with `shortcut: 'B'`.
 *
 * Initialisation (our choice, documented): torchvision's — convolutions kaiming-normal with
 * mode fan_out (relu gain), BatchNorm weight 1 / bias 0, the final Linear torch's default
 * (uniform). The common CIFAR reproduction instead applies kaiming-normal with fan_in to convs
 * *and* the Linear; with BatchNorm after every convolution the difference only rescales conv
 * weights, which BN normalises away, so we keep one rule for every ResNet in the package.
 */
import { Tensor } from '../tensor';
import * as F from '../functional';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, Sequential } from '../nn/layers';
import { BasicBlock } from '../nn/blocks/basic';
import { PlainBlock } from '../nn/blocks/plain';
import { conv3x3 } from '../nn/blocks/base';
import { ShortcutOption } from '../nn/blocks/shortcut';
import { linearDropPathRates } from '../nn/blocks/droppath';
import * as init from '../nn/init';
import { invalidArg } from '../errors';
import { initResNet, ModelOptions, posIntOpt, Model, checkModelOptions } from './common';

export interface CifarResNetOptions extends ModelOptions {
  /** 'A' (default, parameter-free) or 'B' (1x1 conv + BN). */
  shortcut?: ShortcutOption;
  /** Stage widths (default [16, 32, 64]). */
  widths?: readonly number[];
  /** Stochastic depth: drop rate of the last block, rising linearly from 0 (default 0: off). */
  dropPathRate?: number;
  /** Zero the last BN of each residual branch. */
  zeroInitResidual?: boolean;
}

/** The 6n+2 CIFAR skeleton, with residual (BasicBlock) or plain blocks. */
export class CifarNet extends Model {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly depth: number;
  constructor(readonly blocksPerStage: number, readonly residual: boolean, o: CifarResNetOptions = {}) {
    super();
    checkModelOptions(o, 'CifarNet');
    if (!Number.isInteger(blocksPerStage) || blocksPerStage < 1) throw invalidArg('a positive integer', 'CifarNet(blocksPerStage)', blocksPerStage, 'ERR_RN_RANGE');
    this.numClasses = posIntOpt(o.numClasses, 10, 'numClasses');
    this.inChannels = posIntOpt(o.inChannels, 3, 'inChannels');
    this.depth = 6 * blocksPerStage + 2;
    const widths = o.widths ?? [16, 32, 64];
    if (widths.length !== 3) throw invalidArg('3 stage widths', 'CifarNet(widths)', widths);
    const shortcut = o.shortcut ?? 'A';
    const rates = linearDropPathRates(3 * blocksPerStage, o.dropPathRate ?? 0);
    this.conv1 = this.registerModule('conv1', conv3x3(this.inChannels, widths[0]));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(widths[0]));
    let inPlanes = widths[0];
    const stages: Sequential[] = [];
    for (let s = 0; s < 3; s++) {
      const layer = new Sequential();
      for (let i = 0; i < blocksPerStage; i++) {
        const stride = s > 0 && i === 0 ? 2 : 1;
        layer.append(
          residual
            ? new BasicBlock(inPlanes, widths[s], { stride, shortcut, dropPath: rates[s * blocksPerStage + i] })
            : new PlainBlock(inPlanes, widths[s], stride),
        );
        inPlanes = widths[s];
      }
      stages.push(layer);
    }
    this.layer1 = this.registerModule('layer1', stages[0]);
    this.layer2 = this.registerModule('layer2', stages[1]);
    this.layer3 = this.registerModule('layer3', stages[2]);
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d([1, 1]));
    this.fc = this.registerModule('fc', new Linear(widths[2], this.numClasses));
    initResNet(this);
    if (o.zeroInitResidual && residual)
      for (const m of this.modules()) if (m instanceof BasicBlock) init.zeros_(m.bn2.weight!);
  }
  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    let h = this.bn1.forwardRelu(a);
    a.dispose();
    for (const layer of [this.layer1, this.layer2, this.layer3]) {
      const next = layer.forward(h);
      h.dispose();
      h = next;
    }
    const p = this.avgpool.forward(h);
    h.dispose();
    const f = F.flatten(p, 1);
    p.dispose();
    const y = this.fc.forward(f);
    f.dispose();
    return y;
  }
}

/** A CIFAR ResNet of depth 6n + 2. */
export class CifarResNet extends CifarNet {
  constructor(depth: number, o: CifarResNetOptions = {}) {
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6) throw invalidArg('a depth of the form 6n + 2 (20, 32, 44, 56, 110, 1202)', 'CifarResNet(depth)', depth, 'ERR_RN_RANGE');
    super((depth - 2) / 6, true, o);
  }
}

export const resnet20 = (o: CifarResNetOptions = {}) => new CifarResNet(20, o);
export const resnet32 = (o: CifarResNetOptions = {}) => new CifarResNet(32, o);
export const resnet44 = (o: CifarResNetOptions = {}) => new CifarResNet(44, o);
export const resnet56 = (o: CifarResNetOptions = {}) => new CifarResNet(56, o);
export const resnet110 = (o: CifarResNetOptions = {}) => new CifarResNet(110, o);
export const resnet1202 = (o: CifarResNetOptions = {}) => new CifarResNet(1202, o);
