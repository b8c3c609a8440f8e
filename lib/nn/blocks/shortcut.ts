/**
 * Shortcuts for blocks that change width or resolution.
 *
 * - Option A (ResNet paper, CIFAR models): parameter-free. Subsample with x[:, :, ::2, ::2] and
 *   zero-pad the channels, planes/4 on each side, exactly as the common PyTorch reproduction of
 *   the CIFAR ResNets does (`F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))`).
 *   It has no parameters, so it adds no state-dict keys.
 * - Option B (torchvision's `downsample`): 1x1 convolution with the block's stride + BatchNorm,
 *   registered as a Sequential so the keys are `downsample.0.weight`, `downsample.1.running_mean`...
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Module } from '../module';
import { BatchNorm2d, Sequential } from '../layers';
import { invalidArg } from '../../errors';
import { conv1x1 } from './base';

export type ShortcutOption = 'A' | 'B';

/** Option A: x[:, :, ::stride, ::stride], channels zero-padded by `pad` on each side. */
export class ShortcutA extends Module {
  /** Channels added on each side. */
  readonly pad: number;
  constructor(readonly inPlanes: number, readonly planes: number, readonly stride = 2) {
    super();
    const extra = planes - inPlanes;
    if (extra < 0 || extra % 2) throw invalidArg(`an output width >= ${inPlanes} with an even difference`, 'ShortcutA(planes)', planes, 'ERR_RN_RANGE');
    // the reference reproduction pads planes // 4 on each side, which is (planes - inPlanes) / 2
    // when the width doubles; for other widths pad the difference evenly
    this.pad = extra / 2;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    if (this.stride !== 1) y = F.slice(F.slice(x, 2, 0, undefined, this.stride), 3, 0, undefined, this.stride);
    if (this.pad === 0) return y;
    const out = F.pad(y, [0, 0, 0, 0, this.pad, this.pad]);
    return out;
  }
  extraRepr(): string {
    return `${this.inPlanes} -> ${this.planes}, stride=${this.stride}`;
  }
}

/** Option B: Sequential(conv1x1(stride), BatchNorm2d), torchvision's `downsample`. */
export function projectionShortcut(inPlanes: number, outPlanes: number, stride = 1): Sequential {
  return new Sequential(conv1x1(inPlanes, outPlanes, stride), new BatchNorm2d(outPlanes));
}

/**
 * The shortcut a block needs, or null for the identity: none when the shape is unchanged,
 * otherwise option A or B.
 */
export function makeShortcut(option: ShortcutOption, inPlanes: number, outPlanes: number, stride: number): Module | null {
  if (stride === 1 && inPlanes === outPlanes) return null;
  if (option === 'A') return new ShortcutA(inPlanes, outPlanes, stride);
  if (option === 'B') return projectionShortcut(inPlanes, outPlanes, stride);
  throw invalidArg('"A" or "B"', 'shortcut', option);
}
