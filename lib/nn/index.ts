/** rn.nn: modules, layers and initialisers. */
export { Module, parameter } from './module';
export type { StateDict, LoadResult } from './module';
export * from './layers';
export * as init from './init';
export { MultiheadAttention, PatchEmbedding } from './attention';
export type { MultiheadAttentionOptions } from './attention';
export { summary } from './summary';
export type { SummaryRow, SummaryResult, SummaryOptions } from './summary';
export { withForwardHooks } from './hooks';
export type { AroundHook } from './hooks';
export * from './blocks';
export * as blocks from './blocks';
export { fuseForInference } from './fuse';
