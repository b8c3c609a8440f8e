/**
 * Learning-rate schedulers — torch.optim.lr_scheduler of PyTorch 1.13, ported formula for
 * formula (the same chainable/recursive forms, the same double arithmetic), so the sequences
 * match torch's to the last few ulps: StepLR, MultiStepLR, CosineAnnealingLR, LinearLR,
 * OneCycleLR (with momentum / beta1 cycling) and SequentialLR, plus `linearWarmup`.
 *
 * Usage is torch's: construct after the optimizer (construction already applies the first
 * learning rate), call `optimizer.step()` then `scheduler.step()` once per epoch (or per batch
 * for OneCycleLR), read `getLastLr()`. Schedulers write `group.lr` (and `initialLr`, and for
 * OneCycleLR `maxLr`, `minLr`, `maxMomentum`, `baseMomentum`, `momentum` / `betas[0]`) on the
 * optimizer's parameter groups.
 *
 * `stateDict()` is plain JSON-able data (everything but the optimizer); `loadStateDict()` restores
 * it into a scheduler built the same way.
 */
import { invalidArg, rnError } from '../errors';
import { Optimizer, ParamGroup } from './optimizer';

export type SchedulerStateDict = Record<string, unknown>;

function bisectRight(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < a[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
function int(v: unknown, where: string, min: number): number {
  if (typeof v !== 'number') throw invalidArg(min === 1 ? 'a positive integer' : `an integer >= ${min}`, where, v);
  if (!Number.isInteger(v) || v < min) throw invalidArg(min === 1 ? 'a positive integer' : `an integer >= ${min}`, where, v, 'ERR_RN_RANGE');
  return v;
}
function num(v: unknown, where: string, what = 'a finite number', ok: (x: number) => boolean = Number.isFinite): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw invalidArg(what, where, v);
  if (!ok(v)) throw invalidArg(what, where, v, 'ERR_RN_RANGE');
  return v;
}
function opts<T extends object>(o: T | undefined, where: string): T {
  if (o === undefined) return {} as T;
  if (o === null || typeof o !== 'object') throw invalidArg('an options object', where, o);
  return o;
}

/** Instance fields that are wiring, not state (SequentialLR saves its schedulers' states itself). */
const NOT_STATE = new Set(['optimizer', 'name', 'schedulers']);

export abstract class LRScheduler {
  /** Index of the last step taken (-1 before the first; the constructor's step makes it 0). */
  lastEpoch = -1;
  /** Each group's `initialLr` when the scheduler was created. */
  baseLrs: number[] = [];
  /** @internal step() calls so far (torch's _step_count; CosineAnnealingLR depends on it) */
  _stepCount = 0;
  /** @internal */
  _lastLr: number[] = [];

  protected constructor(readonly optimizer: Optimizer, readonly name: string) {
    if (!(optimizer instanceof Optimizer)) throw invalidArg('an Optimizer (rn.optim.SGD, rn.optim.AdamW, ...)', `${name}(optimizer)`, optimizer);
  }

  /** torch's _LRScheduler.__init__: initialLr, baseLrs, lastEpoch, then the initial step. Subclasses call it last. */
  protected init(lastEpoch: number): void {
    int(lastEpoch, `${this.name}(lastEpoch)`, -1);
    const groups = this.optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined)
          throw rnError('ERR_RN_STATE', `${this.name}: paramGroups[${i}] has no initialLr, which resuming (lastEpoch ${lastEpoch}) needs; load the optimizer's state dict first`);
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
    this._initialStep();
  }

  /** @internal */
  _initialStep(): void {
    this._stepCount = 0;
    this.step();
  }

  /** The chainable form: the next learning rates from the current ones (after lastEpoch moved). */
  protected abstract getLr(): number[];
  /** The closed form at lastEpoch, where the schedule has one (used by step(epoch)). */
  protected closedFormLr(): number[] | null {
    return null;
  }
  protected get groups(): ParamGroup[] {
    return this.optimizer.paramGroups;
  }

  /**
   * Advance one step and write the new learning rates into the optimizer. `epoch` jumps to that
   * index using the closed form where there is one (torch's deprecated `step(epoch)`, which
   * SequentialLR uses at its milestones).
   */
  step(epoch?: number): void {
    this._stepCount += 1;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      values = this.getLr();
    } else {
      this.lastEpoch = int(epoch, `${this.name}.step(epoch)`, 0);
      values = this.closedFormLr() ?? this.getLr();
    }
    const groups = this.groups;
    for (let i = 0; i < Math.min(groups.length, values.length); i++) groups[i].lr = values[i];
    this._lastLr = groups.map((g) => g.lr);
  }

  /** The learning rate of each group as last set by this scheduler. */
  getLastLr(): number[] {
    return this._lastLr.slice();
  }

  /** Everything but the optimizer, as plain data (torch: `self.__dict__` minus the optimizer). */
  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    for (const [k, v] of Object.entries(this)) if (!NOT_STATE.has(k)) out[k] = structuredClone(v);
    return out;
  }

  /** Restore a stateDict() of a scheduler of the same kind (unknown keys are rejected). */
  loadStateDict(sd: SchedulerStateDict): void {
    if (sd === null || typeof sd !== 'object') throw invalidArg('a scheduler state dict (an object)', `${this.name}.loadStateDict(stateDict)`, sd);
    const own = this as unknown as Record<string, unknown>;
    for (const k of Object.keys(sd))
      if (!Object.prototype.hasOwnProperty.call(own, k) || NOT_STATE.has(k))
        throw rnError('ERR_RN_STATE', `${this.name}.loadStateDict: unexpected key "${k}" (is this the state of a ${this.name}?)`);
    for (const [k, v] of Object.entries(sd)) own[k] = structuredClone(v);
  }
}

// ---------------------------------------------------------------------------------------------

export interface StepLROptions {
  /** period of decay, in steps */
  stepSize: number;
  /** multiplicative factor (default 0.1) */
  gamma?: number;
  lastEpoch?: number;
}
/** Multiply the learning rate by gamma every stepSize steps. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: Optimizer, options: StepLROptions) {
    super(optimizer, 'StepLR');
    const o = opts(options, 'StepLR(options)');
    this.stepSize = int(o.stepSize, 'StepLR(stepSize)', 1);
    this.gamma = num(o.gamma ?? 0.1, 'StepLR(gamma)');
    this.init(o.lastEpoch ?? -1);
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma);
  }
  protected closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

export interface MultiStepLROptions {
  /** step indices at which to decay (a repeated index decays that many times) */
  milestones: number[];
  /** multiplicative factor (default 0.1) */
  gamma?: number;
  lastEpoch?: number;
}
/** Multiply the learning rate by gamma at each milestone. */
export class MultiStepLR extends LRScheduler {
  /** sorted, with repeats (torch keeps a Counter) */
  milestones: number[];
  gamma: number;
  constructor(optimizer: Optimizer, options: MultiStepLROptions) {
    super(optimizer, 'MultiStepLR');
    const o = opts(options, 'MultiStepLR(options)');
    if (!Array.isArray(o.milestones)) throw invalidArg('an array of non-negative integers', 'MultiStepLR(milestones)', o.milestones);
    this.milestones = o.milestones.map((m, i) => int(m, `MultiStepLR(milestones[${i}])`, 0)).sort((a, b) => a - b);
    this.gamma = num(o.gamma ?? 0.1, 'MultiStepLR(gamma)');
    this.init(o.lastEpoch ?? -1);
  }
  protected getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * this.gamma ** count);
  }
  protected closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** bisectRight(this.milestones, this.lastEpoch));
  }
}

export interface CosineAnnealingLROptions {
  /** half-period, in steps */
  tMax: number;
  /** minimum learning rate (default 0) */
  etaMin?: number;
  lastEpoch?: number;
}
/** Cosine annealing from the initial lr to etaMin over tMax steps (SGDR without restarts; torch's recursive form). */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  constructor(optimizer: Optimizer, options: CosineAnnealingLROptions) {
    super(optimizer, 'CosineAnnealingLR');
    const o = opts(options, 'CosineAnnealingLR(options)');
    this.tMax = num(o.tMax, 'CosineAnnealingLR(tMax)', 'a positive number', (x) => x > 0 && Number.isFinite(x));
    this.etaMin = num(o.etaMin ?? 0, 'CosineAnnealingLR(etaMin)');
    this.init(o.lastEpoch ?? -1);
  }
  protected getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    if (e === 0) return this.groups.map((g) => g.lr);
    if (this._stepCount === 1 && e > 0) return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    if ((e - 1 - T) % (2 * T) === 0) return this.groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    return this.groups.map((g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - etaMin) + etaMin);
  }
  protected closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
}

export interface LinearLROptions {
  /** factor at step 0, in (0, 1] (default 1/3) */
  startFactor?: number;
  /** factor from step totalIters on, in [0, 1] (default 1) */
  endFactor?: number;
  /** steps to go from startFactor to endFactor (default 5) */
  totalIters?: number;
  lastEpoch?: number;
}
/** Scale the learning rate by a factor moving linearly from startFactor to endFactor (linear warmup or decay). */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;
  constructor(optimizer: Optimizer, options: LinearLROptions = {}) {
    super(optimizer, 'LinearLR');
    const o = opts(options, 'LinearLR(options)');
    // torch 1.13 also accepts startFactor 0, which makes the next lr infinite; 2.x rejects it
    this.startFactor = num(o.startFactor ?? 1 / 3, 'LinearLR(startFactor)', 'a number in (0, 1]', (x) => x > 0 && x <= 1);
    this.endFactor = num(o.endFactor ?? 1, 'LinearLR(endFactor)', 'a number in [0, 1]', (x) => x >= 0 && x <= 1);
    this.totalIters = int(o.totalIters ?? 5, 'LinearLR(totalIters)', 1);
    this.init(o.lastEpoch ?? -1);
  }
  protected getLr(): number[] {
    const { startFactor: s, endFactor: f, totalIters: n, lastEpoch: e } = this;
    if (e === 0) return this.groups.map((g) => g.lr * s);
    if (e > n) return this.groups.map((g) => g.lr);
    return this.groups.map((g) => g.lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  protected closedFormLr(): number[] {
    const { startFactor: s, endFactor: f, totalIters: n } = this;
    return this.baseLrs.map((b) => b * (s + ((f - s) * Math.min(n, this.lastEpoch)) / n));
  }
}

export interface OneCycleLROptions {
  /** peak learning rate, one number or one per group */
  maxLr: number | number[];
  /** steps in the cycle; or give epochs and stepsPerEpoch */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** fraction of the cycle spent increasing the lr (default 0.3) */
  pctStart?: number;
  /** 'cos' (default) or 'linear' */
  annealStrategy?: 'cos' | 'linear';
  /** cycle SGD's momentum / AdamW's beta1 inversely to the lr (default true, as torch) */
  cycleMomentum?: boolean;
  /** momentum at the lr peak (default 0.85; number or per group) */
  baseMomentum?: number | number[];
  /** momentum at the start and end (default 0.95; number or per group) */
  maxMomentum?: number | number[];
  /** initialLr = maxLr / divFactor (default 25) */
  divFactor?: number;
  /** minLr = initialLr / finalDivFactor (default 1e4) */
  finalDivFactor?: number;
  /** the fast.ai two-phase schedule (false, default) or the paper's three phases */
  threePhase?: boolean;
  lastEpoch?: number;
}
interface Phase {
  endStep: number;
  startLr: string;
  endLr: string;
  startMomentum: string;
  endMomentum: string;
}
/** The 1cycle policy (Smith & Topin): warm up to maxLr, then anneal far below the start; step() once per batch. */
export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  phases: Phase[];
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  useBeta1 = false;
  constructor(optimizer: Optimizer, options: OneCycleLROptions) {
    super(optimizer, 'OneCycleLR');
    const o = opts(options, 'OneCycleLR(options)');
    if (o.totalSteps !== undefined && o.totalSteps !== null) this.totalSteps = int(o.totalSteps, 'OneCycleLR(totalSteps)', 1);
    else if (o.epochs === undefined && o.stepsPerEpoch === undefined)
      throw rnError('ERR_RN_ARG', 'OneCycleLR: give either totalSteps or both epochs and stepsPerEpoch');
    else this.totalSteps = int(o.epochs, 'OneCycleLR(epochs)', 1) * int(o.stepsPerEpoch, 'OneCycleLR(stepsPerEpoch)', 1);
    const pct = num(o.pctStart ?? 0.3, 'OneCycleLR(pctStart)', 'a number in [0, 1]', (x) => x >= 0 && x <= 1);
    const n = this.totalSteps;
    this.phases = o.threePhase
      ? [
          { endStep: pct * n - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pct * n - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: n - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
        ]
      : [
          { endStep: pct * n - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: n - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        ];
    if (o.threePhase !== undefined && typeof o.threePhase !== 'boolean') throw invalidArg('a boolean', 'OneCycleLR(threePhase)', o.threePhase);
    const a = o.annealStrategy ?? 'cos';
    if (a !== 'cos' && a !== 'linear') throw invalidArg('"cos" or "linear"', 'OneCycleLR(annealStrategy)', a);
    this.annealStrategy = a;
    const divFactor = num(o.divFactor ?? 25, 'OneCycleLR(divFactor)', 'a positive number', (x) => x > 0 && Number.isFinite(x));
    const finalDiv = num(o.finalDivFactor ?? 1e4, 'OneCycleLR(finalDivFactor)', 'a positive number', (x) => x > 0 && Number.isFinite(x));
    const lastEpoch = o.lastEpoch ?? -1;
    const maxLrs = this.perGroup(o.maxLr, 'maxLr', (x) => x >= 0 && Number.isFinite(x), 'a non-negative number');
    if (lastEpoch === -1)
      this.groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = (g.initialLr as number) / finalDiv;
      });
    this.cycleMomentum = o.cycleMomentum ?? true;
    if (typeof this.cycleMomentum !== 'boolean') throw invalidArg('a boolean', 'OneCycleLR(cycleMomentum)', this.cycleMomentum);
    if (this.cycleMomentum) {
      const d = optimizer.defaults;
      if (!('momentum' in d) && !('betas' in d)) throw rnError('ERR_RN_ARG', `OneCycleLR: ${optimizer.name} has no momentum or betas to cycle; pass cycleMomentum: false`);
      this.useBeta1 = 'betas' in d;
      const maxM = this.perGroup(o.maxMomentum ?? 0.95, 'maxMomentum', (x) => x >= 0 && x < 1, 'a number in [0, 1)');
      const baseM = this.perGroup(o.baseMomentum ?? 0.85, 'baseMomentum', (x) => x >= 0 && x < 1, 'a number in [0, 1)');
      if (lastEpoch === -1)
        this.groups.forEach((g, i) => {
          if (this.useBeta1) g.betas = [maxM[i], ...(g.betas as number[]).slice(1)];
          else g.momentum = maxM[i];
          g.maxMomentum = maxM[i];
          g.baseMomentum = baseM[i];
        });
    }
    this.init(lastEpoch);
  }
  private perGroup(v: unknown, key: string, ok: (x: number) => boolean, what: string): number[] {
    const n = this.groups.length;
    if (Array.isArray(v)) {
      if (v.length !== n) throw invalidArg(`${n} values (one per parameter group)`, `OneCycleLR(${key})`, v, 'ERR_RN_RANGE');
      return v.map((x, i) => num(x, `OneCycleLR(${key}[${i}])`, what, ok));
    }
    return new Array(n).fill(num(v, `OneCycleLR(${key})`, what, ok));
  }
  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    const cosOut = Math.cos(Math.PI * pct) + 1;
    return end + ((start - end) / 2.0) * cosOut;
  }
  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps)
      throw rnError('ERR_RN_RANGE', `OneCycleLR: tried to step ${stepNum + 1} times; the specified number of total steps is ${this.totalSteps}`);
    return this.groups.map((g) => {
      let startStep = 0;
      let lr = NaN;
      let momentum = NaN;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i];
        if (stepNum <= ph.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - startStep) / (ph.endStep - startStep);
          lr = this.anneal(g[ph.startLr] as number, g[ph.endLr] as number, pct);
          if (this.cycleMomentum) momentum = this.anneal(g[ph.startMomentum] as number, g[ph.endMomentum] as number, pct);
          break;
        }
        startStep = ph.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, ...(g.betas as number[]).slice(1)];
        else g.momentum = momentum;
      }
      return lr;
    });
  }
}

/**
 * Run schedulers one after another: schedulers[i + 1] takes over at milestones[i] (starting from
 * its own step 0). torch's SequentialLR, including its construction-time reset of the lrs.
 */
export class SequentialLR extends LRScheduler {
  /** @internal */
  readonly schedulers: LRScheduler[];
  milestones: number[];
  constructor(optimizer: Optimizer, schedulers: LRScheduler[], milestones: number[], lastEpoch = -1) {
    super(optimizer, 'SequentialLR');
    if (!Array.isArray(schedulers) || schedulers.length === 0) throw invalidArg('a non-empty array of schedulers', 'SequentialLR(schedulers)', schedulers);
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw invalidArg('a learning-rate scheduler', `SequentialLR(schedulers[${i}])`, s);
      if (s.optimizer !== optimizer) throw rnError('ERR_RN_ARG', `SequentialLR: schedulers[${i}] belongs to a different optimizer than the one passed in`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1)
      throw invalidArg(`an array of ${schedulers.length - 1} milestones (one fewer than the schedulers)`, 'SequentialLR(milestones)', milestones, Array.isArray(milestones) ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
    milestones.forEach((m, i) => int(m, `SequentialLR(milestones[${i}])`, 0));
    this.schedulers = schedulers;
    this.milestones = milestones.slice();
    this.lastEpoch = int(lastEpoch, 'SequentialLR(lastEpoch)', -1) + 1;
    // reset to the initial lrs, undo the step each scheduler took when built, start the first
    for (const g of this.groups) g.lr = g.initialLr as number;
    this.baseLrs = this.groups.map((g) => g.initialLr as number);
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0]._initialStep();
    this._lastLr = schedulers[0].getLastLr();
  }
  protected getLr(): number[] {
    return this._lastLr.slice();
  }
  step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
    this._lastLr = s.getLastLr();
  }
  stateDict(): SchedulerStateDict {
    const out = super.stateDict();
    out.schedulers = this.schedulers.map((s) => s.stateDict());
    return out;
  }
  loadStateDict(sd: SchedulerStateDict): void {
    if (sd === null || typeof sd !== 'object') throw invalidArg('a scheduler state dict (an object)', 'SequentialLR.loadStateDict(stateDict)', sd);
    const subs = sd.schedulers;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length)
      throw rnError('ERR_RN_STATE', `SequentialLR.loadStateDict: expected the states of ${this.schedulers.length} schedulers`);
    const { schedulers: _s, ...rest } = sd;
    super.loadStateDict(rest);
    subs.forEach((s, i) => this.schedulers[i].loadStateDict(s as SchedulerStateDict));
  }
}

export interface LinearWarmupOptions {
  /** warmup length in steps; `after` takes over at this step */
  iters: number;
  /** lr factor at step 0 (default 1/3, LinearLR's default) */
  startFactor?: number;
}
/**
 * Linear warmup into another schedule: LinearLR from startFactor to 1 over `iters` steps, then
 * `after` from its own step 0 — `SequentialLR([LinearLR, after], [iters])`.
 */
export function linearWarmup(optimizer: Optimizer, after: LRScheduler, options: LinearWarmupOptions): SequentialLR {
  const o = opts(options, 'linearWarmup(options)');
  const iters = int(o.iters, 'linearWarmup(iters)', 1);
  const warm = new LinearLR(optimizer, { startFactor: o.startFactor ?? 1 / 3, endFactor: 1, totalIters: iters });
  return new SequentialLR(optimizer, [warm, after], [iters]);
}
