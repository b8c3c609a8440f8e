/**
 * DenseNet-BC for 32x32 inputs (Huang et al. 2017, section 3, "DenseNet-BC" with depth L and
 * growth rate k): a 3x3 stem convolution with 2k channels, three dense blocks of (L - 4) / 6
 * bottleneck layers each, joined by transitions that halve the channels (compression 0.5) and
 * the resolution, then BN-ReLU, global average pooling and the classifier. densenetBC100
 * (L = 100, k = 12) has 0.8M parameters (769,162 with 10 classes).
 *
 * Names follow torchvision's DenseNet: `features.conv0`, `features.denseblock1.denselayer1.norm1`,
 * `features.transition1.conv`, `features.norm5`, `classifier`. Initialisation as torchvision's:
 * convolutions kaiming-normal (fan_in), BN weight 1 / bias 0, classifier bias 0.
 */
import { Tensor } from '../tensor';
import * as F from '../functional';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, Sequential } from '../nn/layers';
import { DenseBlock, Transition } from '../nn/blocks/dense';
import * as init from '../nn/init';
import { invalidArg } from '../errors';
import { ModelOptions, posIntOpt, Model, checkModelOptions } from './common';

export interface DenseNetOptions extends ModelOptions {
  /** Depth L (default 100); (L - 4) must be divisible by 6. */
  depth?: number;
  /** Growth rate k (default 12). */
  growthRate?: number;
  /** Compression of the transitions (default 0.5). */
  compression?: number;
  /** Bottleneck width multiplier (default 4: the 1x1 conv has 4k channels). */
  bnSize?: number;
  dropRate?: number;
}

export class DenseNetCifar extends Model {
  features: Sequential;
  classifier: Linear;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly numFeatures: number;
  constructor(o: DenseNetOptions = {}) {
    super();
    checkModelOptions(o, 'DenseNetCifar');
    this.numClasses = posIntOpt(o.numClasses, 10, 'numClasses');
    this.inChannels = posIntOpt(o.inChannels, 3, 'inChannels');
    const depth = o.depth ?? 100;
    if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6) throw invalidArg('a depth L with (L - 4) divisible by 6', 'DenseNetCifar(depth)', depth, 'ERR_RN_RANGE');
    const k = posIntOpt(o.growthRate, 12, 'growthRate');
    const compression = o.compression ?? 0.5;
    if (!(compression > 0 && compression <= 1)) throw invalidArg('a number in (0, 1]', 'DenseNetCifar(compression)', compression, 'ERR_RN_RANGE');
    const n = (depth - 4) / 6;
    const bnSize = posIntOpt(o.bnSize, 4, 'bnSize');
    this.features = this.registerModule('features', new Sequential());
    let ch = 2 * k;
    this.features.registerModule('conv0', new Conv2d(this.inChannels, ch, 3, { padding: 1, bias: false }));
    for (let b = 0; b < 3; b++) {
      const block = new DenseBlock(n, ch, k, bnSize, o.dropRate ?? 0);
      this.features.registerModule(`denseblock${b + 1}`, block);
      ch = block.outChannels;
      if (b < 2) {
        const out = Math.floor(ch * compression);
        this.features.registerModule(`transition${b + 1}`, new Transition(ch, out));
        ch = out;
      }
    }
    this.features.registerModule('norm5', new BatchNorm2d(ch));
    this.numFeatures = ch;
    this.classifier = this.registerModule('classifier', new Linear(ch, this.numClasses));
    for (const m of this.modules()) {
      if (m instanceof Conv2d) init.kaimingNormal_(m.weight);
      else if (m instanceof BatchNorm2d) {
        init.ones_(m.weight!);
        init.zeros_(m.bias!);
      } else if (m instanceof Linear && m.bias) init.zeros_(m.bias);
    }
  }
  forward(x: Tensor): Tensor {
    const f = this.features.forward(x);
    const r = F.relu(f);
    f.dispose();
    const p = F.adaptiveAvgPool2d(r, 1);
    r.dispose();
    const flat = F.flatten(p, 1);
    p.dispose();
    const y = this.classifier.forward(flat);
    flat.dispose();
    return y;
  }
}

export const densenetBC = (o: DenseNetOptions = {}) => new DenseNetCifar(o);
/** DenseNet-BC with L = 100, k = 12 (0.8M parameters). */
export const densenetBC100 = (o: Omit<DenseNetOptions, 'depth' | 'growthRate'> = {}) => new DenseNetCifar({ ...o, depth: 100, growthRate: 12 });
