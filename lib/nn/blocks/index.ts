/** Residual, plain, highway and dense blocks (rn.nn.blocks, also re-exported from rn.nn). */
export { Block, isBlock, conv1x1, conv3x3 } from './base';
export type { BlockKind } from './base';
export { ShortcutA, projectionShortcut, makeShortcut } from './shortcut';
export type { ShortcutOption } from './shortcut';
export { DropPath, linearDropPathRates, linearSurvivalProbabilities } from './droppath';
export { BasicBlock } from './basic';
export type { BasicBlockOptions } from './basic';
export { Bottleneck } from './bottleneck';
export type { BottleneckOptions } from './bottleneck';
export { PreActBlock, PreActBottleneck } from './preact';
export type { PreActOptions } from './preact';
export { PlainBlock } from './plain';
export { TransformerBlock, Mlp } from './transformer';
export type { TransformerBlockOptions } from './transformer';
export { HighwayBlock } from './highway';
export type { HighwayOptions } from './highway';
export { DenseLayer, DenseBlock, Transition } from './dense';
