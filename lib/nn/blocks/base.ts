/**
 * What the blocks share: a marker the signal probe (rn.probe) looks for, small conv helpers with
 * torchvision's arguments, and `free`, which releases forward temporaries at once (a block's
 * intermediate results are saved for backward through separate handles, so disposing the JS
 * handle early only returns memory sooner in inference; it never breaks autograd).
 */
import { Tensor } from '../../tensor';
import { Module } from '../module';
import { Conv2d } from '../layers';

/**
 * The family a block belongs to, for the signal probe and summaries:
 * - `residual`: y = F(x) + shortcut(x) (basic, bottleneck, pre-activation, transformer halves)
 * - `plain`: the same block without its skip (degradation experiments)
 * - `highway`: gated skip
 * - `dense`: concatenating layer of a DenseNet
 */
export type BlockKind = 'residual' | 'plain' | 'highway' | 'dense';

/** Base class of every block in rn.nn.blocks (a Module with a `blockKind`). */
export abstract class Block extends Module {
  abstract readonly blockKind: BlockKind;
}

/** Whether a module is one of the blocks the probe reports on. */
export function isBlock(m: Module): m is Block {
  return m instanceof Block;
}

/** 3x3 convolution with padding = dilation and no bias (torchvision's conv3x3). */
export function conv3x3(inPlanes: number, outPlanes: number, stride = 1, groups = 1, dilation = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: dilation, groups, dilation, bias: false });
}
/** 1x1 convolution without bias (torchvision's conv1x1). */
export function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/**
 * Dispose forward temporaries that the caller created and no longer needs. Skips anything in
 * `keep` (the block's input and output), so an op that returned its own input is never freed.
 */
export function free(keep: readonly Tensor[], ...ts: (Tensor | null | undefined)[]): void {
  for (const t of ts) if (t && !keep.includes(t)) t.dispose();
}
