/**
 * Pre-activation blocks (He et al., "Identity Mappings in Deep Residual Networks"): BN and ReLU
 * come before each convolution and nothing follows the addition, so blocks are joined by a
 * clean identity path: x_{l+1} = x_l + F(relu(bn(x_l))).
 *
 * PreActBlock:       a = relu(bn1(x)); out = conv2(relu(bn2(conv1(a)))); y = out + shortcut
 * PreActBottleneck:  a = relu(bn1(x)); out = conv3(relu(bn3(conv2(relu(bn2(conv1(a))))))) ...
 *
 * When the shape changes the shortcut is a 1x1 convolution applied to the pre-activated input a
 * (`downsample.0`, no BN: the next block normalises), as in the paper's code; otherwise it is x.
 * The stride sits on the 3x3 convolution.
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Module } from '../module';
import { BatchNorm2d, Conv2d, Sequential } from '../layers';
import { ShortcutA } from './shortcut';
import { Block, conv1x1, conv3x3, free } from './base';
import { DropPath, maybeDropPath } from './droppath';

export interface PreActOptions {
  stride?: number;
  /** Shortcut when the shape changes: 'B' (1x1 conv on the pre-activation, default) or 'A'. */
  shortcut?: 'A' | 'B';
  /** Stochastic-depth drop rate of the residual branch (0: none). */
  dropPath?: number;
}

function preactShortcut(kind: 'A' | 'B', inPlanes: number, outPlanes: number, stride: number): Module | null {
  if (stride === 1 && inPlanes === outPlanes) return null;
  return kind === 'A' ? new ShortcutA(inPlanes, outPlanes, stride) : new Sequential(conv1x1(inPlanes, outPlanes, stride));
}

export class PreActBlock extends Block {
  static readonly expansion = 1;
  readonly blockKind = 'residual' as const;
  bn1: BatchNorm2d;
  conv1: Conv2d;
  bn2: BatchNorm2d;
  conv2: Conv2d;
  downsample: Module | null;
  drop_path: DropPath | null;
  readonly stride: number;
  constructor(readonly inPlanes: number, readonly planes: number, o: PreActOptions = {}) {
    super();
    this.stride = o.stride ?? 1;
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.conv1 = this.registerModule('conv1', conv3x3(inPlanes, planes, this.stride));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.downsample = this.registerModule('downsample', preactShortcut(o.shortcut ?? 'B', inPlanes, planes, this.stride));
    this.drop_path = this.registerModule('drop_path', maybeDropPath(o.dropPath));
  }
  forward(x: Tensor): Tensor {
    const b1 = this.bn1.forward(x);
    const a = F.relu(b1);
    const shortcut = this.downsample ? this.downsample.forward(a) : x;
    const c1 = this.conv1.forward(a);
    const b2 = this.bn2.forward(c1);
    const r2 = F.relu(b2);
    const c2 = this.conv2.forward(r2);
    free([x, shortcut], b1, a, c1, b2, r2);
    const out = this.drop_path ? this.drop_path.forward(c2) : c2;
    const y = F.add(out, shortcut);
    free([x, y], c2, out, shortcut);
    return y;
  }
  extraRepr(): string {
    return `${this.inPlanes} -> ${this.planes}, stride=${this.stride}`;
  }
}

export class PreActBottleneck extends Block {
  static readonly expansion = 4;
  readonly blockKind = 'residual' as const;
  bn1: BatchNorm2d;
  conv1: Conv2d;
  bn2: BatchNorm2d;
  conv2: Conv2d;
  bn3: BatchNorm2d;
  conv3: Conv2d;
  downsample: Module | null;
  drop_path: DropPath | null;
  readonly stride: number;
  constructor(readonly inPlanes: number, readonly planes: number, o: PreActOptions = {}) {
    super();
    this.stride = o.stride ?? 1;
    const outPlanes = planes * PreActBottleneck.expansion;
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.conv1 = this.registerModule('conv1', conv1x1(inPlanes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, this.stride));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', conv1x1(planes, outPlanes));
    this.downsample = this.registerModule('downsample', preactShortcut(o.shortcut ?? 'B', inPlanes, outPlanes, this.stride));
    this.drop_path = this.registerModule('drop_path', maybeDropPath(o.dropPath));
  }
  forward(x: Tensor): Tensor {
    const b1 = this.bn1.forward(x);
    const a = F.relu(b1);
    const shortcut = this.downsample ? this.downsample.forward(a) : x;
    const c1 = this.conv1.forward(a);
    free([x, shortcut], b1, a);
    const b2 = this.bn2.forward(c1);
    const r2 = F.relu(b2);
    const c2 = this.conv2.forward(r2);
    free([x], c1, b2, r2);
    const b3 = this.bn3.forward(c2);
    const r3 = F.relu(b3);
    const c3 = this.conv3.forward(r3);
    free([x], c2, b3, r3);
    const out = this.drop_path ? this.drop_path.forward(c3) : c3;
    const y = F.add(out, shortcut);
    free([x, y], c3, out, shortcut);
    return y;
  }
  extraRepr(): string {
    return `${this.inPlanes} -> ${this.planes * PreActBottleneck.expansion}, stride=${this.stride}`;
  }
}
