/**
 * torchvision's ResNets (torchvision/models/resnet.py), with identical module names, shapes,
 * parameter counts and initialisation, so a torchvision state_dict loads unchanged:
 *
 *   conv1 (7x7, stride 2) - bn1 - relu - maxpool (3x3, stride 2) - layer1..layer4 - avgpool - fc
 *
 * resnet18/34 use BasicBlock ([2,2,2,2], [3,4,6,3]); resnet50/101/152 Bottleneck ([3,4,6,3],
 * [3,4,23,3], [3,8,36,3]) with the stride on the 3x3 (v1.5); wide_resnet50_2 is resnet50 with
 * width per group 128; resnext50_32x4d has 32 groups of width 4. `zeroInitResidual` zeroes the
 * last BN weight of every residual branch (bn2 / bn3) so each block starts as the identity.
 */
import { Tensor } from '../tensor';
import * as F from '../functional';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Sequential } from '../nn/layers';
import { BasicBlock } from '../nn/blocks/basic';
import { Bottleneck } from '../nn/blocks/bottleneck';
import { linearDropPathRates } from '../nn/blocks/droppath';
import * as init from '../nn/init';
import { invalidArg } from '../errors';
import { initResNet, ModelOptions, posIntOpt, Model, checkModelOptions } from './common';

export interface ResNetOptions extends ModelOptions {
  /** Zero the last BN of each residual branch (torchvision's zero_init_residual). */
  zeroInitResidual?: boolean;
  groups?: number;
  widthPerGroup?: number;
  /** Stochastic depth: drop rate of the last block, rising linearly from 0 (default 0: off). */
  dropPathRate?: number;
}

export type ResNetBlock = typeof BasicBlock | typeof Bottleneck;

export class ResNet extends Model {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  maxpool: MaxPool2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;
  readonly numClasses: number;
  readonly inChannels: number;
  private inplanes = 64;
  private readonly groups: number;
  private readonly baseWidth: number;
  constructor(readonly block: ResNetBlock, readonly layers: readonly number[], o: ResNetOptions = {}) {
    super();
    checkModelOptions(o, 'ResNet');
    if (!Array.isArray(layers) || layers.length !== 4 || !layers.every((n) => Number.isInteger(n) && n >= 1))
      throw invalidArg('4 positive block counts', 'ResNet(layers)', layers);
    this.numClasses = posIntOpt(o.numClasses, 1000, 'numClasses');
    this.inChannels = posIntOpt(o.inChannels, 3, 'inChannels');
    this.groups = posIntOpt(o.groups, 1, 'groups');
    this.baseWidth = posIntOpt(o.widthPerGroup, 64, 'widthPerGroup');
    const rates = linearDropPathRates(layers.reduce((a, b) => a + b, 0), o.dropPathRate ?? 0);
    this.conv1 = this.registerModule('conv1', new Conv2d(this.inChannels, 64, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    this.maxpool = this.registerModule('maxpool', new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1 }));
    this.layer1 = this.registerModule('layer1', this.makeLayer(64, layers[0], 1, rates.splice(0, layers[0])));
    this.layer2 = this.registerModule('layer2', this.makeLayer(128, layers[1], 2, rates.splice(0, layers[1])));
    this.layer3 = this.registerModule('layer3', this.makeLayer(256, layers[2], 2, rates.splice(0, layers[2])));
    this.layer4 = this.registerModule('layer4', this.makeLayer(512, layers[3], 2, rates.splice(0, layers[3])));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d([1, 1]));
    this.fc = this.registerModule('fc', new Linear(512 * block.expansion, this.numClasses));
    initResNet(this);
    if (o.zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof Bottleneck) init.zeros_(m.bn3.weight!);
        else if (m instanceof BasicBlock) init.zeros_(m.bn2.weight!);
      }
    }
  }
  private makeLayer(planes: number, blocks: number, stride: number, rates: number[]): Sequential {
    const exp = this.block.expansion;
    const layer = new Sequential();
    for (let i = 0; i < blocks; i++) {
      const o = { stride: i === 0 ? stride : 1, shortcut: 'B' as const, groups: this.groups, baseWidth: this.baseWidth, dropPath: rates[i] };
      layer.append(this.block === Bottleneck ? new Bottleneck(this.inplanes, planes, o) : new BasicBlock(this.inplanes, planes, o));
      this.inplanes = planes * exp;
    }
    return layer;
  }
  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const c = this.bn1.forwardRelu(a);
    a.dispose();
    let h = this.maxpool.forward(c);
    c.dispose();
    for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) {
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

type Opts = ResNetOptions;
export const resnet18 = (o: Opts = {}) => new ResNet(BasicBlock, [2, 2, 2, 2], o);
export const resnet34 = (o: Opts = {}) => new ResNet(BasicBlock, [3, 4, 6, 3], o);
export const resnet50 = (o: Opts = {}) => new ResNet(Bottleneck, [3, 4, 6, 3], o);
export const resnet101 = (o: Opts = {}) => new ResNet(Bottleneck, [3, 4, 23, 3], o);
export const resnet152 = (o: Opts = {}) => new ResNet(Bottleneck, [3, 8, 36, 3], o);
export const wide_resnet50_2 = (o: Omit<Opts, 'widthPerGroup'> = {}) => new ResNet(Bottleneck, [3, 4, 6, 3], { ...o, widthPerGroup: 128 });
export const resnext50_32x4d = (o: Omit<Opts, 'groups' | 'widthPerGroup'> = {}) => new ResNet(Bottleneck, [3, 4, 6, 3], { ...o, groups: 32, widthPerGroup: 4 });
/** camelCase alias of wide_resnet50_2 */
export const wideResnet50_2 = wide_resnet50_2;
