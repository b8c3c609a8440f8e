/**
 * The bottleneck residual block (ResNet-50/101/152, Wide ResNet-50-2, ResNeXt), torchvision's
 * Bottleneck ("ResNet v1.5": the stride sits on the 3x3 convolution, not on the first 1x1):
 *
 *   width = floor(planes * baseWidth / 64) * groups
 *   out = relu(bn1(conv1(x)))            conv1: 1x1, inPlanes -> width
 *   out = relu(bn2(conv2(out)))          conv2: 3x3, stride, groups, dilation
 *   out = bn3(conv3(out))                conv3: 1x1, width -> planes * 4
 *   out = relu(out + shortcut(x))
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Module } from '../module';
import { BatchNorm2d, Conv2d } from '../layers';
import { Block, conv1x1, conv3x3, free } from './base';
import { makeShortcut, ShortcutOption } from './shortcut';
import { DropPath, maybeDropPath } from './droppath';

export interface BottleneckOptions {
  stride?: number;
  /** Explicit shortcut module (torchvision's `downsample`); overrides `shortcut`. */
  downsample?: Module | null;
  /** Shortcut to build when the shape changes and no `downsample` is given (default 'B'). */
  shortcut?: ShortcutOption;
  /** Groups of the 3x3 convolution (ResNeXt cardinality). */
  groups?: number;
  /** Width per group (64 for ResNet, 4 for ResNeXt-50 32x4d, 128 for Wide ResNet-50-2). */
  baseWidth?: number;
  dilation?: number;
  /** Stochastic-depth drop rate of the residual branch (0: none). */
  dropPath?: number;
}

export class Bottleneck extends Block {
  static readonly expansion = 4;
  readonly blockKind = 'residual' as const;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  downsample: Module | null;
  drop_path: DropPath | null;
  readonly stride: number;
  readonly width: number;
  constructor(readonly inPlanes: number, readonly planes: number, o: BottleneckOptions = {}) {
    super();
    this.stride = o.stride ?? 1;
    const groups = o.groups ?? 1;
    this.width = Math.floor(planes * ((o.baseWidth ?? 64) / 64)) * groups;
    const outPlanes = planes * Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', conv1x1(inPlanes, this.width));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(this.width));
    this.conv2 = this.registerModule('conv2', conv3x3(this.width, this.width, this.stride, groups, o.dilation ?? 1));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(this.width));
    this.conv3 = this.registerModule('conv3', conv1x1(this.width, outPlanes));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(outPlanes));
    const ds = o.downsample !== undefined ? o.downsample : makeShortcut(o.shortcut ?? 'B', inPlanes, outPlanes, this.stride);
    this.downsample = this.registerModule('downsample', ds);
    this.drop_path = this.registerModule('drop_path', maybeDropPath(o.dropPath));
  }
  forward(x: Tensor): Tensor {
    const a1 = this.conv1.forward(x);
    const r1 = this.bn1.forwardRelu(a1);
    const a2 = this.conv2.forward(r1);
    free([x], a1, r1);
    const r2 = this.bn2.forwardRelu(a2);
    const a3 = this.conv3.forward(r2);
    free([x], a2, r2);
    const identity = this.downsample ? this.downsample.forward(x) : x;
    if (!this.drop_path) {
      const y = this.bn3.forwardRelu(a3, identity);
      free([x, y], a3, identity);
      return y;
    }
    const e = this.bn3.forward(a3);
    const out = this.drop_path.forward(e);
    const sum = F.add(out, identity);
    const y = F.relu(sum);
    free([x, y], a3, e, out, sum, identity);
    return y;
  }
  extraRepr(): string {
    return `${this.inPlanes} -> ${this.planes * Bottleneck.expansion}, width=${this.width}, stride=${this.stride}`;
  }
}
