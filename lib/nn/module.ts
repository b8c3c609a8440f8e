/**
 * nn.Module: parameters, buffers and children with PyTorch's names and state_dict order
 * (own parameters, own buffers, then children, recursively), train/eval, zeroGrad, and
 * loadStateDict with strict checking.
 */
import { Tensor, tensor, checkDevice, DeviceName } from '../tensor';
import { keep } from '../memory';
import { noGrad } from '../autograd';
import { invalidArg, rnError } from '../errors';
import { checkTensor } from '../functional';

/** Mark a tensor as a trainable parameter: requires grad and lives outside tidy scopes. */
export function parameter(t: Tensor): Tensor {
  keep(t);
  t.requiresGrad_(true);
  return t;
}

export type StateDict = Map<string, Tensor>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export abstract class Module {
  training = true;
  /** @internal */ readonly _parameters = new Map<string, Tensor | null>();
  /** @internal */ readonly _buffers = new Map<string, Tensor | null>();
  /** @internal */ readonly _nonPersistent = new Set<string>();
  /** @internal */ readonly _modules = new Map<string, Module | null>();

  abstract forward(...args: Tensor[]): Tensor;

  registerParameter(name: string, t: Tensor | null): Tensor {
    if (t) parameter(t);
    this._parameters.set(name, t);
    return t as Tensor;
  }
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor {
    if (t) keep(t);
    this._buffers.set(name, t);
    if (!persistent) this._nonPersistent.add(name);
    return t as Tensor;
  }
  registerModule<M extends Module | null>(name: string, m: M): M {
    if (m !== null && !(m instanceof Module)) throw invalidArg('a Module', `registerModule(${name})`, m);
    this._modules.set(name, m);
    return m;
  }
  /** Replace a parameter or buffer tensor (e.g. after loading or converting layout). */
  setTensor(name: string, t: Tensor): void {
    if (this._parameters.has(name)) this._parameters.set(name, parameter(t));
    else if (this._buffers.has(name)) this._buffers.set(name, keep(t));
    else throw rnError('ERR_RN_ARG', `setTensor: module has no parameter or buffer named "${name}"`);
    (this as unknown as Record<string, Tensor>)[name] = t;
  }

  *namedChildren(): Generator<[string, Module]> {
    for (const [k, m] of this._modules) if (m) yield [k, m];
  }
  children(): Module[] {
    return [...this.namedChildren()].map(([, m]) => m);
  }
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [k, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${k}` : k);
  }
  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [k, p] of this._parameters) if (p) yield [prefix ? `${prefix}.${k}` : k, p];
    for (const [k, m] of this.namedChildren()) yield* m.namedParameters(prefix ? `${prefix}.${k}` : k);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [k, b] of this._buffers) if (b) yield [prefix ? `${prefix}.${k}` : k, b];
    for (const [k, m] of this.namedChildren()) yield* m.namedBuffers(prefix ? `${prefix}.${k}` : k);
  }
  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }
  /** Total number of parameter elements (PyTorch's sum(p.numel())). */
  numParameters(trainableOnly = false): number {
    let n = 0;
    for (const p of this.parameters()) if (!trainableOnly || p.requiresGrad) n += p.numel;
    return n;
  }

  train(mode = true): this {
    if (typeof mode !== 'boolean') throw invalidArg('a boolean', 'train(mode)', mode);
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Drop gradients (PyTorch's set_to_none=True). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      if (p.grad) {
        p.grad.dispose();
        p.grad = null;
      }
    }
  }
  apply(fn: (m: Module) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  /** Ordered like PyTorch's state_dict(): own params, own persistent buffers, then children. */
  stateDict(prefix = '', out: StateDict = new Map()): StateDict {
    for (const [k, p] of this._parameters) if (p) out.set(prefix + k, p);
    for (const [k, b] of this._buffers) if (b && !this._nonPersistent.has(k)) out.set(prefix + k, b);
    for (const [k, m] of this.namedChildren()) m.stateDict(`${prefix}${k}.`, out);
    return out;
  }

  /**
   * Copy values from `sd` into this module's tensors (in place, so optimisers keep their
   * references). Shapes must match; with strict (default) the key sets must match too.
   */
  loadStateDict(sd: StateDict | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    if (sd === null || typeof sd !== 'object') throw invalidArg('a state dict (a Map or an object of Tensors)', 'loadStateDict(stateDict)', sd);
    if (opts === null || typeof opts !== 'object') throw invalidArg('an options object', 'loadStateDict(options)', opts);
    const src: Map<string, Tensor> = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !src.has(k));
    const unexpectedKeys = [...src.keys()].filter((k) => !own.has(k));
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      const parts = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.slice(0, 5).join(', ')}${missingKeys.length > 5 ? ` (+${missingKeys.length - 5} more)` : ''}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.slice(0, 5).join(', ')}${unexpectedKeys.length > 5 ? ` (+${unexpectedKeys.length - 5} more)` : ''}`);
      throw rnError('ERR_RN_STATE', `loadStateDict: state dict does not match the model (${parts.join('; ')})`);
    }
    for (const [k, dst] of own) {
      const v = src.get(k);
      if (!v) continue;
      checkTensor(v, 'loadStateDict', k);
      if (v.shape.join() !== dst.shape.join())
        throw rnError('ERR_RN_SHAPE', `loadStateDict: "${k}" has shape [${v.shape.join(', ')}] in the state dict but [${dst.shape.join(', ')}] in the model`);
    }
    noGrad(() => {
      for (const [k, dst] of own) {
        const v = src.get(k);
        if (!v) continue;
        // to the model's device (a CPU checkpoint into a model moved with to('cuda')), then dtype
        const onDev = v.device === dst.device ? v : v.to(dst.device);
        const val = onDev.dtype === dst.dtype ? onDev : onDev.to(dst.dtype);
        dst.copyFrom(val);
        if (val !== v) val.dispose();
        if (onDev !== v && onDev !== val) onDev.dispose();
      }
    });
    for (const m of this.modules()) m.afterLoad();
    return { missingKeys, unexpectedKeys };
  }

  /** Called on every submodule after loadStateDict copied new values (resync derived state). */
  protected afterLoad(): void {}

  /**
   * Move every parameter and buffer (and their gradients) to a device, in place: the tensors stay
   * the same objects, so optimisers and code holding them keep working (PyTorch's `module.to`).
   * `'cpu'`, `'cuda'` or `'cuda:0'`. Where the device is not available it throws (ERR_RN_NO_CUDA)
   * before moving anything; should a copy fail midway (ERR_RN_OOM), what was moved goes back.
   * An optimiser created before the move keeps working if it has not stepped yet (its state is
   * made on the parameters' device at the first step). Returns this.
   */
  to(device: string): this {
    const dev = checkDevice(device, 'Module.to');
    const moved: [Tensor, DeviceName][] = [];
    try {
      for (const t of this.uniqueTensors()) {
        if (t.device === dev) continue;
        moved.push([t, t.device]);
        t._moveTo_(dev);
      }
    } catch (e) {
      for (const [t, from] of moved.reverse()) {
        try {
          t._moveTo_(from);
        } catch {
          // best effort: the first error is the one to report
        }
      }
      throw e;
    }
    return this;
  }

  /**
   * Convert every 4-D parameter and buffer (convolution weights) to channels-last memory in place
   * (PyTorch's `model.to(memory_format=torch.channels_last)`): same objects, same values, same
   * shapes; only the strides change. A convolution whose weight is channels-last converts an NCHW
   * input to channels-last (F.conv2d), and every op of a residual network keeps that layout, so
   * the model then runs channels-last end to end on NCHW images (the fast layout for cuDNN's
   * tensor-core kernels, in bfloat16 especially; see docs/cuda.md). Call it before the optimiser
   * takes its first step (momentum buffers keep the layout they were created with). Returns this.
   */
  toChannelsLast(): this {
    noGrad(() => {
      for (const t of this.uniqueTensors()) if (t.ndim === 4) t._toChannelsLast_();
    });
    return this;
  }

  /** Parameters then buffers, each tensor once (a shared tensor is registered in several places). */
  private uniqueTensors(): Tensor[] {
    return [...new Set([...this.parameters(), ...this.buffers()])];
  }

  /**
   * Fold every BatchNorm2d that follows a Conv2d into the convolution (eval only from then on);
   * returns the number of folded layers. See nn/fuse.ts.
   */
  fuseForInference(): number {
    // loaded lazily: fuse.ts imports the layers, which import this file
    return (require('./fuse') as typeof import('./fuse')).fuseForInference(this);
  }

  /** Call forward with autograd as configured (a convenience alias). */
  call(...args: Tensor[]): Tensor {
    return this.forward(...args);
  }

  /** A short name for summaries. */
  get typeName(): string {
    return this.constructor.name;
  }
  /** Extra text for summaries, e.g. "3, 16, kernel=3". */
  extraRepr(): string {
    return '';
  }
}

/** A scalar int64 tensor (e.g. num_batches_tracked). */
export function int64Scalar(v: number): Tensor {
  return tensor(BigInt64Array.from([BigInt(v)]), { shape: [] });
}
