/**
 * The plain block: the basic block with its skip removed, for degradation experiments (the
 * ResNet paper's plain-20/56 baselines). Same layers and names as BasicBlock minus `downsample`:
 *
 *   out = relu(bn1(conv1(x)))            conv1: 3x3, stride (changes width/resolution directly)
 *   out = relu(bn2(conv2(out)))
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { BatchNorm2d, Conv2d } from '../layers';
import { Block, conv3x3, free } from './base';

export class PlainBlock extends Block {
  readonly blockKind = 'plain' as const;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  constructor(readonly inPlanes: number, readonly planes: number, readonly stride = 1) {
    super();
    this.conv1 = this.registerModule('conv1', conv3x3(inPlanes, planes, stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
  }
  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const c = this.bn1.forwardRelu(a);
    const d = this.conv2.forward(c);
    free([x], a, c);
    const y = this.bn2.forwardRelu(d);
    free([x, y], d);
    return y;
  }
  extraRepr(): string {
    return `${this.inPlanes} -> ${this.planes}, stride=${this.stride}`;
  }
}
