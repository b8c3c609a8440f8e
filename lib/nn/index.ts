/** rn.nn: modules, layers and initialisers. */
export { Module, parameter } from './module';
export type { StateDict, LoadResult } from './module';
export * from './layers';
export * as init from './init';
