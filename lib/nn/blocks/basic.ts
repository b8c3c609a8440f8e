/**
 * The basic residual block (ResNet-18/34, CIFAR ResNet-20..1202), torchvision's BasicBlock:
 *
 *   out = relu(bn1(conv1(x)))            conv1: 3x3, stride
 *   out = bn2(conv2(out))                conv2: 3x3
 *   out = relu(out + shortcut(x))        shortcut: identity, option A or option B (`downsample`)
 *
 * Parameter names: conv1.weight, bn1.*, conv2.weight, bn2.*, downsample.0.weight, downsample.1.*.
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Module } from '../module';
import { BatchNorm2d, Conv2d } from '../layers';
import { invalidArg } from '../../errors';
import { Block, conv3x3, free } from './base';
import { makeShortcut, ShortcutOption } from './shortcut';
import { DropPath, maybeDropPath } from './droppath';

export interface BasicBlockOptions {
  stride?: number;
  /** Explicit shortcut module (torchvision's `downsample`); overrides `shortcut`. */
  downsample?: Module | null;
  /** Shortcut to build when the shape changes and no `downsample` is given (default 'B'). */
  shortcut?: ShortcutOption;
  groups?: number;
  baseWidth?: number;
  dilation?: number;
  /** Stochastic-depth drop rate of the residual branch (0: none). */
  dropPath?: number;
}

export class BasicBlock extends Block {
  static readonly expansion = 1;
  readonly blockKind = 'residual' as const;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample: Module | null;
  drop_path: DropPath | null;
  readonly stride: number;
  constructor(readonly inPlanes: number, readonly planes: number, o: BasicBlockOptions = {}) {
    super();
    this.stride = o.stride ?? 1;
    if ((o.groups ?? 1) !== 1 || (o.baseWidth ?? 64) !== 64) throw invalidArg('groups 1 and baseWidth 64', 'BasicBlock(options)', `groups ${o.groups}, baseWidth ${o.baseWidth}`, 'ERR_RN_RANGE');
    if ((o.dilation ?? 1) > 1) throw invalidArg('dilation 1', 'BasicBlock(dilation)', o.dilation, 'ERR_RN_RANGE');
    this.conv1 = this.registerModule('conv1', conv3x3(inPlanes, planes, this.stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    const ds = o.downsample !== undefined ? o.downsample : makeShortcut(o.shortcut ?? 'B', inPlanes, planes, this.stride);
    this.downsample = this.registerModule('downsample', ds);
    this.drop_path = this.registerModule('drop_path', maybeDropPath(o.dropPath));
  }
  forward(x: Tensor): Tensor {
    const a = this.conv1.forward(x);
    const c = this.bn1.forwardRelu(a);  // fused bn + relu
    const d = this.conv2.forward(c);
    free([x], a, c);
    const identity = this.downsample ? this.downsample.forward(x) : x;
    if (!this.drop_path) {
      const y = this.bn2.forwardRelu(d, identity);  // fused bn + add + relu
      free([x, y], d, identity);
      return y;
    }
    // stochastic depth scales the branch before the add, so it stays unfused
    const e = this.bn2.forward(d);
    const out = this.drop_path.forward(e);
    const sum = F.add(out, identity);
    const y = F.relu(sum);
    free([x, y], d, e, out, sum, identity);
    return y;
  }
  extraRepr(): string {
    return `${this.inPlanes} -> ${this.planes}, stride=${this.stride}`;
  }
}
