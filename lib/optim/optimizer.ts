/**
 * The optimiser base class: parameter groups, per-parameter state, zeroGrad, stateDict /
 * loadStateDict — PyTorch 1.13's torch.optim.Optimizer in camelCase.
 *
 * Updates run natively: `step()` makes one native call per parameter group (sgdStep, adamwStep),
 * which checks the group synchronously and enqueues one fused multi-tensor kernel on the stream;
 * nothing waits for compute. Parameters are updated in place, so a model's tensors (and anything
 * holding them) see the new values. State tensors (momentum buffers, moments) are kept out of
 * tidy scopes and live until `dispose()` or `loadStateDict()` replaces them.
 */
import { binding } from '../binding';
import { invalidArg, rnError, rnTypeError, describe } from '../errors';
import { keep } from '../memory';
import { Tensor, wrap, tensor } from '../tensor';
import { enableGrad } from '../autograd';
import { Module } from '../nn/module';

/** A JSON-able hyper-parameter value (numbers, booleans, strings and arrays of them). */
export type HyperValue = number | boolean | string | null | HyperValue[];

/** One parameter group: its tensors and its hyper-parameters (defaults filled in). */
export interface ParamGroup {
  params: Tensor[];
  lr: number;
  /** Optimiser-specific hyper-parameters, and keys schedulers add (initialLr, maxLr, ...). */
  [key: string]: unknown;
}

/** What the constructor and addParamGroup accept for a group: params plus optional overrides. */
export interface ParamGroupInput {
  params: Iterable<Tensor>;
  [key: string]: unknown;
}

export type ParamsInput = Iterable<Tensor> | Iterable<ParamGroupInput>;

/** A parameter's state: named tensors (PyTorch's names: momentum_buffer, exp_avg, ...) and its step count. */
export interface ParamState {
  step: number;
  tensors: Record<string, Tensor>;
}

/**
 * PyTorch's optimizer state_dict: per-parameter state keyed by the parameter's index over all
 * groups (in order), and the groups' hyper-parameters with `params` as those indices.
 */
export interface OptimizerStateDict {
  state: Record<number, Record<string, Tensor>>;
  paramGroups: Array<{ params: number[]; [key: string]: HyperValue }>;
}

const B = () => binding();

function cloneHyper(v: unknown, where: string): HyperValue {
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v as HyperValue;
  if (Array.isArray(v)) return v.map((x, i) => cloneHyper(x, `${where}[${i}]`));
  throw rnTypeError('ERR_RN_ARG', `${where}: hyper-parameters must be numbers, booleans, strings or arrays of them, but received ${describe(v)}`);
}

/** Float32 copy with t's memory format (a kept optimiser state tensor). */
export function stateLike(p: Tensor, fill?: number): Tensor {
  const t = keep(wrap(B().emptyLike(p.h)));
  if (fill !== undefined) B().fill_(t.h, fill);
  return t;
}

export abstract class Optimizer {
  /** The groups, in order; each holds its tensors and hyper-parameters (mutable, e.g. by schedulers). */
  readonly paramGroups: ParamGroup[] = [];
  /** Hyper-parameters a group gets when it does not set them. */
  readonly defaults: Record<string, HyperValue>;
  /** Per-parameter state (created lazily by step()). */
  readonly state = new Map<Tensor, ParamState>();
  /** Whether this optimiser's stateDict stores a `step` per parameter (AdamW does, SGD does not). */
  protected readonly savesStep: boolean = false;

  /**
   * @param params tensors, or groups `{ params, ...overrides }`
   * @param defaults hyper-parameters (already validated by the subclass)
   * @param name the class name, for error messages
   */
  protected constructor(params: ParamsInput, defaults: Record<string, HyperValue>, readonly name: string) {
    this.defaults = defaults;
    if (params === null || params === undefined || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function' || params instanceof Tensor)
      throw invalidArg('an iterable of Tensors or of parameter groups', `${name}(params)`, params);
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw invalidArg('a non-empty list of parameters', `${name}(params)`, list, 'ERR_RN_RANGE');
    const groups: ParamGroupInput[] = list.every((x) => x instanceof Tensor) ? [{ params: list as Tensor[] }] : (list as ParamGroupInput[]);
    groups.forEach((g, i) => {
      if (g === null || typeof g !== 'object' || g instanceof Tensor)
        throw invalidArg('a parameter group { params, ... } (do not mix Tensors and groups)', `${name}(params[${i}])`, g);
      this.addParamGroup(g);
    });
  }

  /** Check (and normalise) a group's hyper-parameters; `where` names it in messages, e.g. "SGD(lr)". */
  protected abstract checkGroup(group: ParamGroup, where: (key: string) => string): void;
  /** Update the parameters of one group that have gradients (one native call). */
  protected abstract stepGroup(group: ParamGroup, params: Tensor[]): void;

  /** Append a group; missing hyper-parameters come from the defaults (PyTorch's add_param_group). */
  addParamGroup(input: ParamGroupInput): void {
    const gi = this.paramGroups.length;
    const label = `${this.name}(paramGroups[${gi}]`;
    if (input === null || typeof input !== 'object') throw invalidArg('a parameter group { params, ... }', `${this.name}(paramGroups[${gi}])`, input);
    const raw = input.params as unknown;
    if (raw === null || raw === undefined || typeof (raw as Iterable<unknown>)[Symbol.iterator] !== 'function')
      throw invalidArg('an iterable of Tensors', `${label}.params)`, raw);
    const params = raw instanceof Tensor ? [raw] : [...(raw as Iterable<unknown>)];
    const seen = new Set<Tensor>();
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw invalidArg('a Tensor', `${label}.params[${i}])`, p);
      if (p.isDisposed) throw rnError('ERR_RN_DISPOSED', `${this.name}: parameter ${i} of group ${gi} (shape [${p.shape.join(', ')}]) is a disposed tensor`);
      if (p.dtype !== 'float32') throw rnTypeError('ERR_RN_DTYPE', `${this.name}: can only optimize float32 tensors, but parameter ${i} of group ${gi} is ${p.dtype}`);
      if (!p.isLeaf) throw rnError('ERR_RN_ARG', `${this.name}: can't optimize a non-leaf Tensor (parameter ${i} of group ${gi}, shape [${p.shape.join(', ')}])`);
      if (seen.has(p)) throw rnError('ERR_RN_ARG', `${this.name}: parameter ${i} of group ${gi} appears twice in the group`);
      seen.add(p);
    });
    for (const g of this.paramGroups)
      for (const p of g.params)
        if (seen.has(p)) throw rnError('ERR_RN_ARG', `${this.name}: some parameters appear in more than one parameter group`);
    const group: ParamGroup = { params: params as Tensor[], lr: NaN };
    for (const [k, v] of Object.entries(this.defaults)) group[k] = Array.isArray(v) ? v.slice() : v;
    for (const [k, v] of Object.entries(input)) if (k !== 'params' && v !== undefined) group[k] = Array.isArray(v) ? v.slice() : v;
    this.checkGroup(group, (k) => `${label}.${k})`);
    this.paramGroups.push(group);
  }

  /**
   * One optimisation step over every parameter with a gradient. With a closure (which
   * recomputes the loss, autograd enabled), returns its result, as torch does.
   */
  step<T = unknown>(closure?: () => T): T | undefined {
    let loss: T | undefined;
    if (closure !== undefined) {
      if (typeof closure !== 'function') throw invalidArg('a function', `${this.name}.step(closure)`, closure);
      loss = enableGrad(closure);
    }
    for (const g of this.paramGroups) {
      const ps = g.params.filter((p) => p.grad !== null && !p.grad.isDisposed);
      if (ps.length) this.stepGroup(g, ps);
    }
    return loss;
  }

  /** Drop gradients (setToNone, PyTorch's default since 2.0: dispose and set to null) or zero them in place. */
  zeroGrad(setToNone = true): void {
    for (const g of this.paramGroups)
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone) {
          p.grad.dispose();
          p.grad = null;
        } else if (!p.grad.isDisposed) p.grad.fill(0);
      }
  }

  /** @internal the state of p, created empty on first use */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, tensors: {} };
      this.state.set(p, s);
    }
    return s;
  }

  /**
   * The optimiser state as PyTorch lays it out: `state[i]` for the i-th parameter over all groups
   * (momentum_buffer / exp_avg / exp_avg_sq / max_exp_avg_sq / step — step a 0-d float32 tensor
   * as in torch 1.13) and `paramGroups` with JSON-able hyper-parameters. The tensors are copies
   * owned by the caller (dispose them, or call this inside tidy and return what you keep); taking
   * a state dict never blocks.
   */
  stateDict(): OptimizerStateDict {
    const state: Record<number, Record<string, Tensor>> = {};
    const paramGroups: OptimizerStateDict['paramGroups'] = [];
    let index = 0;
    for (const g of this.paramGroups) {
      const packed: { params: number[]; [key: string]: HyperValue } = { params: [] };
      for (const [k, v] of Object.entries(g)) if (k !== 'params') packed[k] = cloneHyper(v, `${this.name}.stateDict`);
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s && (Object.keys(s.tensors).length || s.step)) {
          const out: Record<string, Tensor> = {};
          if (this.savesStep) out.step = tensor(Float32Array.of(s.step), { shape: [] });
          for (const [k, t] of Object.entries(s.tensors)) {
            const c = wrap(B().emptyLike(t.h));
            B().copy_(c.h, t.h);
            out[k] = c;
          }
          state[index] = out;
        }
        packed.params.push(index++);
      }
      paramGroups.push(packed);
    }
    return { state, paramGroups };
  }

  /**
   * Load a state dict from stateDict() (or converted from PyTorch's): the groups must match in
   * number and size; each group's hyper-parameters are replaced by the saved ones; state tensors
   * are copied (the argument stays the caller's). A `step` tensor is read back (one blocking read
   * per parameter); a plain number is accepted too.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (sd === null || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || sd.state === null || typeof sd.state !== 'object')
      throw invalidArg('a state dict { state, paramGroups }', `${op}(stateDict)`, sd);
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw rnError('ERR_RN_STATE', `${op}: the state dict has ${sd.paramGroups.length} parameter groups but the optimizer has ${this.paramGroups.length}`);
    const byIndex: Tensor[] = [];
    sd.paramGroups.forEach((sg, gi) => {
      const n = Array.isArray(sg?.params) ? sg.params.length : -1;
      if (n !== this.paramGroups[gi].params.length)
        throw rnError('ERR_RN_STATE', `${op}: parameter group ${gi} has ${n < 0 ? 'no params list' : `${n} parameters`} in the state dict but ${this.paramGroups[gi].params.length} in the optimizer`);
      sg.params.forEach((id, k) => (byIndex[id] = this.paramGroups[gi].params[k]));
    });
    // validate everything before changing anything
    const loaded = new Map<Tensor, { step: number; tensors: Record<string, Tensor> }>();
    for (const [key, entry] of Object.entries(sd.state)) {
      const p = byIndex[Number(key)];
      if (!p) throw rnError('ERR_RN_STATE', `${op}: state entry ${key} does not name a parameter of any group`);
      if (entry === null || typeof entry !== 'object') throw invalidArg('an object of tensors', `${op}(state[${key}])`, entry);
      let step = 0;
      const tensors: Record<string, Tensor> = {};
      for (const [name, v] of Object.entries(entry as Record<string, unknown>)) {
        if (name === 'step') {
          step = typeof v === 'number' ? v : v instanceof Tensor && v.numel === 1 ? v.itemSync() : NaN;
          if (!Number.isInteger(step) || step < 0) throw invalidArg('a non-negative integer (number or 1-element tensor)', `${op}(state[${key}].step)`, v, 'ERR_RN_RANGE');
          continue;
        }
        if (!(v instanceof Tensor) || v.isDisposed) throw invalidArg('a live Tensor', `${op}(state[${key}].${name})`, v);
        if (v.dtype !== 'float32') throw rnTypeError('ERR_RN_DTYPE', `${op}: state[${key}].${name} has dtype ${v.dtype} but must be float32`);
        if (v.shape.join() !== p.shape.join())
          throw rnError('ERR_RN_SHAPE', `${op}: state[${key}].${name} has shape [${v.shape.join(', ')}] but parameter ${key} has shape [${p.shape.join(', ')}]`);
        tensors[name] = v;
      }
      loaded.set(p, { step, tensors });
    }
    const groups = sd.paramGroups.map((sg, gi) => {
      const g: ParamGroup = { params: this.paramGroups[gi].params, lr: NaN };
      for (const [k, v] of Object.entries(sg)) if (k !== 'params') g[k] = cloneHyper(v, op);
      this.checkGroup(g, (k) => `${op}(paramGroups[${gi}].${k})`);
      return g;
    });
    // commit
    this.disposeState();
    groups.forEach((g, gi) => {
      const dst = this.paramGroups[gi];
      for (const k of Object.keys(dst)) if (k !== 'params') delete dst[k];
      Object.assign(dst, g);
    });
    for (const [p, s] of loaded) {
      const tensors: Record<string, Tensor> = {};
      for (const [name, v] of Object.entries(s.tensors)) {
        const t = stateLike(p);
        B().copy_(t.h, v.h);
        tensors[name] = t;
      }
      this.state.set(p, { step: s.step, tensors });
    }
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const t of Object.values(s.tensors)) t.dispose();
    this.state.clear();
  }

  /** Free the optimiser state now (parameters are untouched; step() recreates state lazily). */
  dispose(): void {
    this.disposeState();
  }
}

// ---- hyper-parameter checks shared by the optimisers ----
export function checkNumber(v: unknown, where: string, what: string, ok: (x: number) => boolean): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw invalidArg(what, where, v);
  if (!ok(v)) throw invalidArg(what, where, v, 'ERR_RN_RANGE');
  return v;
}
export function checkBool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw invalidArg('a boolean', where, v);
  return v;
}

/**
 * The usual split for weight decay: every parameter with two or more dimensions (conv and linear
 * weights) in a group with `weightDecay`, and the 1-D ones (biases, BatchNorm/LayerNorm weights
 * and biases) in a group with weightDecay 0. Parameters that do not require grad are left out,
 * and so is a group that ends up empty. Pass the result to an optimiser:
 *
 *     new rn.optim.SGD(rn.optim.paramGroupsNoDecay(model, 5e-4), { lr: 0.1, momentum: 0.9 })
 */
export function paramGroupsNoDecay(model: Module, weightDecay: number): ParamGroupInput[] {
  if (!(model instanceof Module)) throw invalidArg('a Module', 'paramGroupsNoDecay(model)', model);
  checkNumber(weightDecay, 'paramGroupsNoDecay(weightDecay)', 'a non-negative number', (x) => x >= 0 && Number.isFinite(x));
  const decay: Tensor[] = [];
  const noDecay: Tensor[] = [];
  for (const [, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    (p.ndim <= 1 ? noDecay : decay).push(p);
  }
  const groups: ParamGroupInput[] = [];
  if (decay.length) groups.push({ params: decay, weightDecay });
  if (noDecay.length) groups.push({ params: noDecay, weightDecay: 0 });
  return groups;
}
