/**
 * rn.optim: optimisers (SGD, AdamW), parameter groups, gradient clipping and learning-rate
 * schedulers, following torch.optim of PyTorch 1.13 (camelCase names). The updates run natively,
 * one fused multi-tensor kernel call per parameter group per step.
 */
export { Optimizer } from './optimizer';
export type { ParamGroup, ParamGroupInput, ParamsInput, ParamState, OptimizerStateDict, HyperValue } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions } from './sgd';
export { AdamW } from './adamw';
export type { AdamWOptions } from './adamw';
export { clipGradNorm } from './clip';
export type { ClipGradNormOptions } from './clip';
export { paramGroupsNoDecay } from './optimizer';
export {
  LRScheduler, StepLR, MultiStepLR, CosineAnnealingLR, LinearLR, OneCycleLR, SequentialLR, linearWarmup,
} from './lr_scheduler';
export type {
  SchedulerStateDict, StepLROptions, MultiStepLROptions, CosineAnnealingLROptions, LinearLROptions, OneCycleLROptions,
  LinearWarmupOptions,
} from './lr_scheduler';
export * as lrScheduler from './lr_scheduler';
