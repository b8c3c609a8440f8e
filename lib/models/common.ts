/** Shared model options and initialisation helpers. */
import { Module } from '../nn/module';
import { BatchNorm2d, Conv2d, LayerNorm } from '../nn/layers';
import * as init from '../nn/init';
import { invalidArg } from '../errors';

export interface ModelOptions {
  /** Output classes (default 1000 for ImageNet models, 10 for CIFAR-size models). */
  numClasses?: number;
  /** Input channels (default 3; 1 for MNIST-like data). */
  inChannels?: number;
}

/** A model's options argument: undefined (defaults) or an object; null or a string is a mistake. */
export function checkModelOptions(o: unknown, name: string): void {
  if (o !== undefined && (o === null || typeof o !== 'object' || Array.isArray(o))) throw invalidArg('an options object', `${name}(options)`, o);
}

export function posIntOpt(v: unknown, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalidArg('a positive integer', name, v, typeof v === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
  return v;
}

/**
 * torchvision's ResNet initialisation: every Conv2d weight kaiming-normal (mode fan_out,
 * nonlinearity relu), every BatchNorm weight 1 and bias 0; Linear layers keep torch's default
 * (kaiming-uniform with a = sqrt(5), bias uniform in +-1/sqrt(fan_in)).
 */
export function initResNet(model: Module): void {
  for (const m of model.modules()) {
    if (m instanceof Conv2d) init.kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    else if (m instanceof BatchNorm2d) {
      if (m.weight) init.ones_(m.weight);
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof LayerNorm) {
      if (m.weight) init.ones_(m.weight);
      if (m.bias) init.zeros_(m.bias);
    }
  }
}


/**
 * Base of every rn.models network. Works around an engine issue: Module.loadStateDict copies
 * `num_batches_tracked` into each BatchNorm2d's tensor but BatchNorm2d keeps its own JS batch
 * counter, resynced only when loadStateDict is called on the BatchNorm2d itself, so after
 * `model.loadStateDict(sd)` the next training step would write 1 instead of sd's count + 1
 * (PyTorch's behaviour). Loading through this class resyncs every BatchNorm2d.
 */
export abstract class Model extends Module {
  loadStateDict(sd: Parameters<Module['loadStateDict']>[0], opts?: { strict?: boolean }) {
    const r = super.loadStateDict(sd, opts);
    resyncBatchNorm(this);
    return r;
  }
}

/** Make every BatchNorm2d's batch counter agree with its num_batches_tracked tensor. */
export function resyncBatchNorm(model: Module): void {
  for (const m of model.modules()) {
    if (!(m instanceof BatchNorm2d) || !m.num_batches_tracked) continue;
    const copy = m.num_batches_tracked.clone();
    m.loadStateDict(new Map([['num_batches_tracked', copy]]), { strict: false });
    copy.dispose();
  }
}
