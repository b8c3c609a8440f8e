/**
 * The bad-input corpus: table-driven cases run by corpus.test.ts (and reused by fuzz.test.ts).
 *
 * Every case is { name, run, expect } where expect is
 *   { code, message? }  run must throw an Error with that stable code (and a message matching
 *                       the RegExp, which names the argument or the file),
 *   'ok'                run must succeed (outputs are read back, so deferred kernel errors count),
 *   'nan-propagates'    run must succeed and some float output must be NaN/Inf (a NaN in the
 *                       input may not silently vanish).
 * Nothing may crash, abort or hang, and no deferred error may be left on the stream afterwards.
 *
 * Cases are generated: for every op take a valid call and mutate one argument at a time
 * (non-tensor, disposed, wrong dtype, wrong rank, mismatched shape, NaN, empty batch, huge size);
 * every function of the native Binding is called with garbage in each argument position; file
 * readers get truncated, oversized, self-contradictory and random-byte files; CLI commands get
 * bad options.
 */
import * as rn from '../../lib';
import { Tensor } from '../../lib';

export type Expect = { code: string | RegExp; message?: RegExp } | 'ok' | 'nan-propagates';
export interface Case {
  name: string;
  run: () => unknown;
  expect: Expect;
}

export const E = (code: string | RegExp, message?: RegExp): Expect => ({ code, message });
/** Escape a literal for a RegExp. */
export const lit = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const re = (s: string): RegExp => new RegExp(lit(s));

// ---------------------------------------------------------------------------------------------
// Running a case

function collectTensors(v: unknown, out: Tensor[], depth = 0): void {
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (v instanceof Tensor) {
    out.push(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collectTensors(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
}

/** Reads every tensor in a result; returns whether any float output holds a NaN or Inf. */
function readBack(v: unknown): { nonFinite: boolean; floats: number } {
  const ts: Tensor[] = [];
  collectTensors(v, ts);
  let nonFinite = false;
  let floats = 0;
  for (const t of ts) {
    if (t.isDisposed) continue;
    const d = t.dataSync();
    if (t.dtype === 'float32') {
      floats++;
      for (const x of d as Float32Array) if (!Number.isFinite(x)) nonFinite = true;
    }
  }
  return { nonFinite, floats };
}

/** Errors from the addon or another realm fail `instanceof Error` in jest's sandbox: go by the tag. */
export const isError = (e: unknown): e is Error => e instanceof Error || Object.prototype.toString.call(e) === '[object Error]';

function show(e: unknown): string {
  if (isError(e)) return `${e.name} [${(e as { code?: string }).code ?? 'no code'}] ${e.message.split('\n')[0].slice(0, 300)}`;
  return `non-Error thrown: ${String(e)}`;
}

/**
 * Runs one case and returns null when it behaved as expected, else what went wrong. Tensors
 * made by the case are freed (tidy); the stream is synced afterwards so a deferred error that
 * the case left behind is caught here and not blamed on the next case.
 */
export async function evaluate(c: Case): Promise<string | null> {
  let result: { nonFinite: boolean; floats: number } | null = null;
  let error: unknown = null;
  try {
    result = await rn.tidy(async () => readBack(await c.run()));
  } catch (e) {
    error = e;
  }
  let leftover: string | null = null;
  try {
    rn.sync();
  } catch (e) {
    leftover = show(e);
  }
  if (leftover) return `left a deferred error on the stream: ${leftover}`;
  const x = c.expect;
  if (x === 'ok' || x === 'nan-propagates') {
    if (error) return `expected ${x} but threw ${show(error)}`;
    if (x === 'nan-propagates' && !result!.nonFinite) return `expected NaN/Inf in the output but every value is finite (${result!.floats} float outputs)`;
    return null;
  }
  if (!error) return `expected ${String(x.code)} but it succeeded`;
  if (!isError(error)) return `expected an Error but got ${show(error)}`;
  const code = (error as { code?: unknown }).code;
  // ERR_RN_* unless the table names another stable code (a file-system error such as ENOENT)
  if (typeof code !== 'string') return `expected ${String(x.code)} but the error has no code: ${show(error)}`;
  const codeOk = typeof x.code === 'string' ? code === x.code : x.code.test(code);
  if (!codeOk) return `expected ${String(x.code)} but threw ${show(error)}`;
  if (x.message && !x.message.test(error.message)) return `message does not match ${x.message}: ${show(error)}`;
  if (!error.message) return 'empty message';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Tensor makers

export const f32 = (shape: number[], fill = 0.5): Tensor => rn.full(shape, fill);
/** Deterministic, varied values (no NaN): a ramp through [-1, 1]. */
export function ramp(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = ((i * 7919) % 97) / 48 - 1;
  return rn.tensor(d, { shape });
}
export const i32 = (shape: number[], fill = 0): Tensor => rn.full(shape, fill, { dtype: 'int32' });
export function disposed(shape: number[]): Tensor {
  const t = rn.zeros(shape);
  t.dispose();
  return t;
}
/** A broadcast view with 2^40 elements (4 TiB as float32): any op that materialises it must fail. */
export function huge(shape: number[]): Tensor {
  const s = shape.slice();
  s[0] = 2 ** 40 / Math.max(1, s.slice(1).reduce((a, b) => a * b, 1));
  s[0] = Math.max(1, Math.floor(s[0]));
  const base = rn.zeros([1, ...shape.slice(1)]);
  return base.expand(s);
}

// ---------------------------------------------------------------------------------------------
// Facade ops: one valid call, then one argument mutated at a time

type Mut = 'nonTensor' | 'disposed' | 'dtype' | 'rank' | 'shape' | 'nan' | 'inf' | 'empty' | 'huge';
interface TArg {
  name: string;
  shape: number[];
  /** int32 tensor (targets, indices) */
  int?: boolean;
  optional?: boolean;
  /** a plain number is a valid value here (add(x, 3)) */
  numberOk?: boolean;
  /** values (default ramp) */
  make?: (shape: number[]) => Tensor;
  /** shapes for the rank / shape mutations (default: drop the last dim / grow the last dim by 1) */
  rankShape?: number[] | null;
  badShape?: number[] | null;
  /** expectations overriding the defaults */
  x?: Partial<Record<Mut, Expect | null>>;
}
interface OpSpec {
  /** name in error messages */
  op: string;
  /** label in the case name */
  label?: string;
  args: TArg[];
  /** non-tensor trailing arguments (options etc.) */
  rest?: () => unknown[];
  call: (...a: unknown[]) => unknown;
  /** valid call result: 'ok' by default */
  valid?: Expect;
}

const SHAPE = E('ERR_RN_SHAPE');
const OOM = E('ERR_RN_OOM');

function defaults(s: OpSpec, a: TArg): Record<Mut, Expect | null> {
  return {
    nonTensor: E('ERR_RN_ARG', new RegExp(`^Expected a Tensor for ${lit(s.op)}\\(${lit(a.name)}\\) but received`)),
    disposed: E('ERR_RN_DISPOSED', new RegExp(`${lit(s.op)}: ${lit(a.name)} is a disposed tensor`)),
    dtype: a.int ? E('ERR_RN_DTYPE', re(a.name)) : E('ERR_RN_DTYPE', new RegExp(`${lit(s.op)}: expected ${lit(a.name)} of dtype float32 but received int32`)),
    rank: SHAPE,
    shape: SHAPE,
    nan: a.int ? null : 'nan-propagates',
    inf: null,
    empty: null,
    huge: null,
  };
}

function opCases(s: OpSpec): Case[] {
  const label = s.label ?? s.op;
  const valid = (): Tensor[] => s.args.map((a) => (a.make ?? (a.int ? (sh: number[]) => i32(sh) : ramp))(a.shape));
  const out: Case[] = [{ name: `${label}: valid call`, run: () => s.call(...valid(), ...(s.rest ? s.rest() : [])), expect: s.valid ?? 'ok' }];
  s.args.forEach((a, i) => {
    const x = { ...defaults(s, a), ...(a.x ?? {}) };
    const withArg = (mk: () => unknown) => () => {
      const args: unknown[] = valid();
      args[i] = mk();
      return s.call(...args, ...(s.rest ? s.rest() : []));
    };
    const add = (m: Mut, what: string, mk: () => unknown) => {
      const e = x[m];
      if (e) out.push({ name: `${label}: ${a.name} ${what}`, run: withArg(mk), expect: m === 'nonTensor' && what === '= 3' && a.numberOk ? 'ok' : e });
    };
    for (const [what, v] of [['= 3', 3], ['= {}', {}], ['= "x"', 'x'], ['= Float32Array', new Float32Array(4)], ['= [tensor]', null]] as [string, unknown][]) {
      add('nonTensor', what, () => (what === '= [tensor]' ? [ramp(a.shape)] : v));
    }
    if (!a.optional) add('nonTensor', '= null', () => null);
    add('disposed', 'disposed', () => disposed(a.shape));
    add('dtype', a.int ? 'float32 instead of int32' : 'int32 instead of float32', () => (a.int ? ramp(a.shape) : i32(a.shape)));
    const rankShape = a.rankShape !== undefined ? a.rankShape : a.shape.length > 1 ? a.shape.slice(0, -1) : [...a.shape, 2];
    if (rankShape) add('rank', `wrong rank [${rankShape}]`, () => (a.int ? i32(rankShape) : ramp(rankShape)));
    const badShape = a.badShape !== undefined ? a.badShape : [...a.shape.slice(0, -1), a.shape[a.shape.length - 1] + 1];
    if (badShape) add('shape', `mismatched shape [${badShape}]`, () => (a.int ? i32(badShape) : ramp(badShape)));
    if (!a.int) {
      add('nan', 'all NaN', () => f32(a.shape, NaN));
      add('inf', 'all +Inf', () => f32(a.shape, Infinity));
    }
    add('empty', `empty batch [0, ...]`, () => {
      const sh = [0, ...a.shape.slice(1)];
      return a.int ? i32(sh) : ramp(sh);
    });
    add('huge', 'a 2^40-element broadcast view', () => huge(a.shape));
  });
  return out;
}

const F = rn.F;
const NCHW = [2, 3, 5, 5];

/** Ops of rn.F and rn.* with their tensor arguments. */
export function opSpecs(): OpSpec[] {
  const ew = (op: string, fn: (x: Tensor) => unknown, over: Partial<Record<Mut, Expect | null>> = {}, label?: string): OpSpec => ({
    op,
    label,
    args: [{ name: 'input', shape: [2, 3], rankShape: null, badShape: null, x: { empty: 'ok', inf: null, huge: OOM, ...over } }],
    call: (x) => fn(x as Tensor),
  });
  const bin = (op: string, fn: (a: Tensor, b: Tensor) => unknown): OpSpec => ({
    op,
    args: [
      { name: 'input', shape: [2, 3], rankShape: null, badShape: [2, 4], numberOk: true, x: { empty: SHAPE, huge: SHAPE } },
      { name: 'other', shape: [2, 3], rankShape: [3], badShape: [4, 3], numberOk: true, x: { rank: 'ok', shape: SHAPE } },
    ],
    call: (a, b) => fn(a as Tensor, b as Tensor),
  });
  const bn = (cl: boolean, training = true): OpSpec => ({
    op: 'batchNorm2d',
    label: `batchNorm2d (${cl ? 'channels-last' : 'NCHW'}, ${training ? 'training' : 'eval'})`,
    args: [
      { name: 'input', shape: NCHW, make: cl ? (s) => ramp(s).toChannelsLast() : ramp, rankShape: [2, 3, 5, 5, 1], badShape: null,
        x: { empty: training ? SHAPE : 'ok', huge: OOM } },
      // training normalises with the batch's statistics: NaN running stats only poison themselves (as in torch)
      { name: 'runningMean', shape: [3], optional: true, make: (s) => f32(s, 0), rankShape: [3, 1], badShape: [4],
        x: { nan: training ? 'ok' : 'nan-propagates', ...(training ? {} : { nonTensor: E('ERR_RN_ARG', /batchNorm2d\(runningMean\)|needs runningMean/) }) } },
      { name: 'runningVar', shape: [3], optional: true, make: (s) => f32(s, 1), rankShape: [3, 1], badShape: [4],
        x: { nan: training ? 'ok' : 'nan-propagates', ...(training ? {} : { nonTensor: E('ERR_RN_ARG', /batchNorm2d\(runningVar\)|needs runningMean/) }) } },
      { name: 'weight', shape: [3], optional: true, rankShape: [3, 1], badShape: [4] },
      { name: 'bias', shape: [3], optional: true, rankShape: [3, 1], badShape: [4] },
    ],
    rest: () => [{ training }],
    call: (x, rm, rv, w, b, o) => F.batchNorm2d(x as Tensor, rm as Tensor, rv as Tensor, w as Tensor, b as Tensor, o as rn.F.BatchNormOptions),
  });
  const bnRelu = (residual: boolean): OpSpec => ({
    op: residual ? 'batchNormAddRelu' : 'batchNormRelu',
    args: [
      { name: 'input', shape: NCHW, rankShape: [2, 3, 5, 5, 1], badShape: null, x: { empty: SHAPE, huge: residual ? SHAPE : OOM, rank: residual ? SHAPE : SHAPE } },
      ...(residual ? [{ name: 'residual', shape: NCHW, rankShape: [2, 3, 5], badShape: [2, 3, 5, 6] } as TArg] : []),
      { name: 'runningMean', shape: [3], optional: true, make: (s: number[]) => f32(s, 0), rankShape: [3, 1], badShape: [4], x: { nan: 'ok' } },
      { name: 'runningVar', shape: [3], optional: true, make: (s: number[]) => f32(s, 1), rankShape: [3, 1], badShape: [4], x: { nan: 'ok' } },
      { name: 'weight', shape: [3], optional: true, rankShape: [3, 1], badShape: [4] },
      { name: 'bias', shape: [3], optional: true, rankShape: [3, 1], badShape: [4] },
    ],
    rest: () => [{ training: true }],
    call: residual
      ? (x, r, rm, rv, w, b, o) => F.batchNormAddRelu(x as Tensor, r as Tensor, rm as Tensor, rv as Tensor, w as Tensor, b as Tensor, o as rn.F.BatchNormOptions)
      : (x, rm, rv, w, b, o) => F.batchNormRelu(x as Tensor, rm as Tensor, rv as Tensor, w as Tensor, b as Tensor, o as rn.F.BatchNormOptions),
  });
  return [
    // elementwise
    ew('relu', F.relu), ew('sigmoid', F.sigmoid), ew('tanh', F.tanh), ew('exp', F.exp, { inf: 'nan-propagates' }), ew('log', F.log),
    ew('neg', F.neg, { inf: 'nan-propagates' }), ew('sqrt', F.sqrt), ew('abs', F.abs, { inf: 'nan-propagates' }), ew('gelu', (x) => F.gelu(x)),
    ew('gelu', (x) => F.gelu(x, { approximate: 'tanh' }), {}, 'gelu (tanh)'),
    ew('pow', (x) => F.pow(x, 2), { inf: 'nan-propagates' }),
    ew('dropout', (x) => F.dropout(x, 0.5)),
    ew('dropPath', (x) => F.dropPath(x, 0.5), { nan: 'nan-propagates' }),
    ew('sum', (x) => rn.sum(x), { huge: null }),
    ew('mean', (x) => rn.mean(x, 1), { huge: null }),
    ew('softmax', (x) => F.softmax(x, 1)), ew('logSoftmax', (x) => F.logSoftmax(x, 1)),
    ew('max', (x) => rn.max(x, 1), { huge: null }),
    ew('argmax', (x) => rn.argmax(x, 1), { nan: 'ok', huge: null }),
    bin('add', rn.add), bin('sub', rn.sub), bin('mul', rn.mul), bin('div', rn.div),
    {
      op: 'add', label: 'add (scalar)', args: [{ name: 'input', shape: [2, 3], rankShape: null, badShape: null, x: { huge: OOM } }],
      call: (x) => rn.add(x as Tensor, 1),
    },
    {
      op: 'matmul',
      args: [
        { name: 'input', shape: [2, 3], rankShape: [3], badShape: [2, 4], x: { empty: 'ok' } },
        { name: 'other', shape: [3, 4], rankShape: [3], badShape: [5, 4] },
      ],
      call: (a, b) => rn.matmul(a as Tensor, b as Tensor),
    },
    {
      op: 'linear',
      args: [
        { name: 'input', shape: [2, 3], rankShape: [3], badShape: [2, 4], x: { rank: 'ok', empty: 'ok', huge: OOM } },
        { name: 'weight', shape: [4, 3], rankShape: [4], badShape: [4, 5] },
        { name: 'bias', shape: [4], optional: true, rankShape: [4, 1], badShape: [5] },
      ],
      call: (x, w, b) => F.linear(x as Tensor, w as Tensor, b as Tensor),
    },
    {
      op: 'conv2d',
      args: [
        { name: 'input', shape: NCHW, rankShape: [3, 5, 5], badShape: [2, 4, 5, 5], x: { empty: 'ok', huge: OOM } },
        { name: 'weight', shape: [4, 3, 3, 3], rankShape: [4, 3, 3], badShape: [4, 2, 3, 3] },
        { name: 'bias', shape: [4], optional: true, rankShape: [4, 1], badShape: [5] },
      ],
      rest: () => [{ padding: 1 }],
      call: (x, w, b, o) => F.conv2d(x as Tensor, w as Tensor, b as Tensor, o as rn.F.Conv2dOptions),
    },
    {
      op: 'conv2d', label: 'conv2d (channels-last)',
      args: [
        { name: 'input', shape: NCHW, make: (s) => ramp(s).toChannelsLast(), rankShape: [3, 5, 5], badShape: [2, 4, 5, 5], x: { empty: 'ok', huge: OOM } },
        { name: 'weight', shape: [4, 3, 3, 3], rankShape: [4, 3, 3], badShape: [4, 2, 3, 3] },
      ],
      rest: () => [null, { stride: 2 }],
      call: (x, w, b, o) => F.conv2d(x as Tensor, w as Tensor, b as Tensor, o as rn.F.Conv2dOptions),
    },
    bn(false), bn(true), bn(false, false), bn(true, false), bnRelu(true), bnRelu(false),
    {
      op: 'add', label: 'add (two 2^40-element views)', args: [{ name: 'input', shape: [4], make: huge, rankShape: null, badShape: null, x: { nonTensor: null, disposed: null, dtype: null, nan: null } }],
      call: (x) => rn.add(x as Tensor, huge([4])), valid: OOM,
    },
    {
      op: 'layerNorm',
      args: [
        { name: 'input', shape: [2, 3, 4], rankShape: [4], badShape: [2, 3, 5], x: { rank: 'ok', empty: 'ok', huge: OOM } },
        { name: 'weight', shape: [4], optional: true, rankShape: [4, 1], badShape: [5] },
        { name: 'bias', shape: [4], optional: true, rankShape: [4, 1], badShape: [5] },
      ],
      rest: () => [1e-5],
      call: (x, w, b, eps) => F.layerNorm(x as Tensor, [4], w as Tensor, b as Tensor, eps as number),
    },
    {
      op: 'maxPool2d',
      args: [{ name: 'input', shape: [2, 3, 4, 4], rankShape: [3, 4, 4], badShape: [2, 3, 1, 1], x: { empty: 'ok', huge: OOM } }],
      rest: () => [{ kernelSize: 2 }],
      call: (x, o) => F.maxPool2d(x as Tensor, o as rn.F.Pool2dOptions),
    },
    {
      op: 'avgPool2d',
      args: [{ name: 'input', shape: [2, 3, 4, 4], rankShape: [3, 4, 4], badShape: null, x: { empty: 'ok', huge: OOM } }],
      rest: () => [{ kernelSize: 2, padding: 1 }],
      call: (x, o) => F.avgPool2d(x as Tensor, o as rn.F.Pool2dOptions),
    },
    {
      op: 'adaptiveAvgPool2d',
      args: [{ name: 'input', shape: [2, 3, 4, 4], rankShape: [3, 4, 4], badShape: [2, 3, 0, 4], x: { empty: 'ok', huge: OOM } }],
      call: (x) => F.adaptiveAvgPool2d(x as Tensor, 2),
    },
    {
      op: 'crossEntropy',
      args: [
        { name: 'input', shape: [4, 3], rankShape: [3], badShape: [5, 3], x: { empty: SHAPE, huge: SHAPE } },
        { name: 'target', shape: [4], int: true, make: (s) => rn.tensor(Int32Array.from({ length: s[0] }, (_, i) => i % 3)), rankShape: [4, 1], badShape: [5],
          x: { nonTensor: E('ERR_RN_ARG', /^Expected a Tensor for crossEntropy\(target\)/), dtype: E('ERR_RN_DTYPE', /crossEntropy: expected target of dtype int32 \(class indices\) but received float32/) } },
      ],
      call: (x, t) => F.crossEntropy(x as Tensor, t as Tensor),
    },
    {
      op: 'mseLoss',
      args: [
        { name: 'input', shape: [2, 3], rankShape: [2], badShape: [2, 4], x: { empty: SHAPE } },
        { name: 'target', shape: [2, 3], rankShape: [2], badShape: [2, 4] },
      ],
      call: (a, b) => F.mseLoss(a as Tensor, b as Tensor),
    },
  ];
}

export function opCorpus(): Case[] {
  return opSpecs().flatMap(opCases);
}

// ---------------------------------------------------------------------------------------------
// The native Binding, called directly: a valid call per function, then garbage in each position

import { binding } from '../../lib/binding';
import * as vm from 'vm';

type K =
  | 'h' | 'oh' | 'i' | 'u' | 'n' | 'b' | 'ints' | 'shape' | 'p7' | 'p8' | 'hs' | 'ohs' | 'bools' | 'nums' | 'ta'
  | 'dtype' | 'device' | 'op' | 'maybeHs' | 'gs';
interface NativeSpec {
  fn: string;
  args: () => unknown[];
  kinds: K[];
  /** a query that accepts anything: garbage must not crash, and may succeed */
  lenient?: boolean;
  /** extra hand-written bad calls: [label, args, expect] */
  extra?: () => [string, unknown[], Expect][];
  /** expectation of the valid call (default 'ok') and of a call with no arguments (default: an error) */
  valid?: Expect;
  noArgs?: Expect;
  /** garbage labels that are in fact acceptable here (optional arguments, idempotent calls) */
  okGarbage?: string[];
}

const ANY = E(/^ERR_RN_/);
const NARG = E('ERR_RN_ARG');
const RANGE = E('ERR_RN_RANGE');
const h = (shape: number[]) => ramp(shape).h;
const hi = (shape: number[], fill = 0) => i32(shape, fill).h;

/** Garbage of the wrong type (or an invalid value) for each argument kind, and what it must give. */
function garbage(kind: K): [string, () => unknown, Expect][] {
  const foreign = vm.runInNewContext('({ h: 1 })');
  const common: [string, () => unknown, Expect][] = [
    ['"str"', () => 'str', ANY], ['{}', () => ({}), ANY], ['Symbol', () => Symbol('s'), ANY], ['10n', () => 10n, ANY],
    ['a function', () => () => 1, ANY], ['a foreign-realm object', () => foreign, ANY],
  ];
  const handleLike: [string, () => unknown, Expect][] = [
    ['0', () => 0, NARG], ['{ h: handle }', () => ({ h: h([2]) }), NARG], ['a NativeTensor', () => binding().empty([2], 0, 0), NARG],
    ['a Float32Array', () => new Float32Array(4), NARG], ['[handle]', () => [h([2])], NARG],
    ['a disposed handle', () => { const t = binding().empty([2], 0, 0); binding().dispose(t.h); return t.h; }, E('ERR_RN_DISPOSED')],
  ];
  const intBad: [string, () => unknown, Expect][] = [
    ['1.5', () => 1.5, RANGE], ['NaN', () => NaN, RANGE], ['Infinity', () => Infinity, RANGE], ['2^60', () => 2 ** 60, RANGE],
    ['-1e300', () => -1e300, RANGE], ['true', () => true, NARG], ['null', () => null, NARG], ['[1]', () => [1], NARG],
  ];
  const arrBad: [string, () => unknown, Expect][] = [
    ['null', () => null, ANY], ['5', () => 5, ANY], ['[1.5]', () => [1.5], ANY], ['["a"]', () => ['a'], ANY], ['[NaN]', () => [NaN], ANY],
    ['[2^60]', () => [2 ** 60], ANY], ['100 entries', () => new Array(100).fill(1), ANY], ['a sparse array', () => [1, , 1], ANY],
  ];
  switch (kind) {
    case 'h': return [['null', () => null, NARG], ['undefined', () => undefined, NARG], ...handleLike, ...common];
    case 'oh': return [...handleLike, ...common];
    case 'i': case 'u': return [...intBad, ...common, ...(kind === 'u' ? [['-1', () => -1, RANGE] as [string, () => unknown, Expect]] : [])];
    case 'n': return [['null', () => null, NARG], ['undefined', () => undefined, NARG], ['true', () => true, NARG], ['[1]', () => [1], NARG], ...common];
    case 'b': return [['null', () => null, NARG], ['0', () => 0, NARG], ['"true"', () => 'true', NARG], ['undefined', () => undefined, NARG], ...common];
    case 'ints': return [...arrBad, ...common];
    case 'shape': return [...arrBad, ['[-1]', () => [-1], ANY], ['[2^40, 2^40]', () => [2 ** 40, 2 ** 40], ANY], ...common];
    case 'p7': case 'p8': return [...arrBad, ['[1, 1, 1]', () => [1, 1, 1], ANY], ['zeros', () => new Array(kind === 'p7' ? 7 : 8).fill(0), ANY],
      ['negatives', () => new Array(kind === 'p7' ? 7 : 8).fill(-1), ANY], ['2^53', () => new Array(kind === 'p7' ? 7 : 8).fill(2 ** 53), ANY], ...common];
    case 'hs': return [['null', () => null, ANY], ['[]', () => [], ANY], ['[null]', () => [null], ANY], ['[5]', () => [5], ANY],
      ['[disposed]', () => { const t = binding().empty([3], 0, 0); binding().dispose(t.h); return [t.h]; }, ANY],
      ['[int32 handle]', () => [hi([3])], ANY], ['[wrong shape]', () => [h([4])], ANY], ['two entries', () => [h([3]), h([3])], ANY], ...common];
    case 'ohs': return [['null', () => null, ANY], ['[5]', () => [5], ANY], ['[]', () => [], ANY], ['[wrong shape]', () => [h([4])], ANY], ...common];
    case 'gs': return [['null', () => null, ANY], ['[null]', () => [null], ANY], ['[5]', () => [5], ANY], ['[{}]', () => [{}], ANY],
      ['[disposed]', () => { const t = binding().empty([3], 0, 0); binding().dispose(t.h); return [t.h]; }, ANY], ['[int32 handle]', () => [hi([3])], ANY], ...common];
    case 'maybeHs': return [['5', () => 5, ANY], ['[5]', () => [5], ANY], ['[]', () => [], ANY], ...common];
    case 'bools': return [['null', () => null, ANY], ['[1]', () => [1], ANY], ['[]', () => [], ANY], ...common];
    case 'nums': return [['null', () => null, ANY], ['["1"]', () => ['1'], ANY], ['[]', () => [], ANY], ['[-1]', () => [-1], ANY], ['[NaN]', () => [NaN], ANY], ...common];
    case 'ta': return [['null', () => null, NARG], ['[1, 2, 3, 4]', () => [1, 2, 3, 4], NARG], ['a Float64Array', () => new Float64Array(4), NARG],
      ['a DataView', () => new DataView(new ArrayBuffer(16)), NARG], ['a 3-element Float32Array', () => new Float32Array(3), E('ERR_RN_SHAPE')], ...common];
    case 'dtype': return [['6', () => 6, E('ERR_RN_DTYPE')], ['-1', () => -1, E('ERR_RN_DTYPE')], ...intBad, ...common];
    case 'device': return [['2', () => 2, E('ERR_RN_DEVICE')], ['-1', () => -1, E('ERR_RN_DEVICE')], ['1 (cuda)', () => 1, E(/^ERR_RN_(NO_CUDA|DEVICE)$/)], ...intBad, ...common];
    case 'op': return [['99', () => 99, RANGE], ['-1', () => -1, RANGE], ...intBad, ...common];
  }
}

const P7 = [1, 1, 1, 1, 1, 1, 1];
const NO_CUDA_OR_OK: Expect = E(/^ERR_RN_NO_CUDA$/);
const P8 = [2, 2, 2, 2, 0, 0, 0, 1];

export function nativeSpecs(): NativeSpec[] {
  const i64 = (v: bigint) => rn.tensor(BigInt64Array.of(v), { shape: [] }).h;
  return [
    { fn: 'fromBuffer', args: () => [new Float32Array(4), [2, 2], 0], kinds: ['ta', 'shape', 'dtype'] },
    { fn: 'empty', args: () => [[2, 2], 0, 0], kinds: ['shape', 'dtype', 'device'],
      extra: () => [['2^45 elements', [[2 ** 45], 0, 0], E('ERR_RN_OOM')],
        // more than RAM + swap: refused even where malloc overcommits (it would be OOM-killed when touched)
        ['more bytes than the machine has', [[Math.ceil(os.totalmem() / 4) * 4 + 2 ** 40], 2, 0], E('ERR_RN_OOM', /bytes of RAM and swap|could not allocate/)], ['product over 2^63', [[2 ** 40, 2 ** 40, 2 ** 40], 0, 0], E('ERR_RN_OOM')],
        ['9 dims', [[1, 1, 1, 1, 1, 1, 1, 1, 1], 0, 0], RANGE], ['[0, 2^53-1]', [[0, 2 ** 53 - 1], 0, 0], 'ok']] },
    { fn: 'dispose', args: () => [h([2])], kinds: ['h'], okGarbage: ['a disposed handle'], extra: () => [['a disposed handle again', [(() => { const t = binding().empty([1], 0, 0); binding().dispose(t.h); return t.h; })()], 'ok']] },
    { fn: 'isLive', args: () => [h([2])], kinds: ['h'], lenient: true },
    { fn: 'readSync', args: () => [h([2])], kinds: ['h'],
      extra: () => [['a 2^40-element broadcast view', [huge([4]).h], E('ERR_RN_OOM')],
        // past V8's typed-array limit (2^32 elements; V8 would abort the process) even where memory is plentiful
        ['a 2^33-element broadcast view', [rn.zeros([1]).expand([2 ** 33]).h], E('ERR_RN_OOM', /at most 2\^32 elements/)]] },
    { fn: 'readAsync', args: () => [h([2])], kinds: ['h'] },
    { fn: 'syncDevice', args: () => [0], kinds: ['device'], noArgs: 'ok', okGarbage: rn.cuda.isAvailable() ? [] : ['1 (cuda)'] },
    { fn: 'view', args: () => [h([4]), [2, 2], [2, 1], 0], kinds: ['h', 'shape', 'ints', 'i'],
      extra: () => [
        ['past the end', [h([4]), [5], [1], 0], RANGE], ['negative stride below 0', [h([4]), [2], [-1], 0], RANGE],
        ['offset -1', [h([4]), [2], [1], -1], RANGE], ['offset 2^53', [h([4]), [1], [1], 2 ** 53 - 1], RANGE],
        ['shape/strides length differ', [h([4]), [2, 2], [1], 0], SHAPE],
        ['wrapping strides', [h([4]), [2 ** 31, 2 ** 31], [2 ** 32, 2 ** 32], 0], E(/^ERR_RN_(RANGE|OOM)$/)],
        ['huge stride', [h([4]), [2], [2 ** 53 - 1], 0], RANGE],
        // a legal view, but reading 2^50 elements back must fail cleanly (not abort in V8)
        ['stride-0 2^50 view, read back', [h([4]), [2 ** 50], [0], 0], E('ERR_RN_OOM', /reading back/)],
      ] },
    { fn: 'contiguous', args: () => [h([2, 3])], kinds: ['h'] },
    { fn: 'toChannelsLast', args: () => [h([1, 2, 3, 3])], kinds: ['h'], extra: () => [['a 2-D tensor', [h([2, 3])], ANY]] },
    { fn: 'emptyLike', args: () => [h([2, 3])], kinds: ['h'] },
    { fn: 'copy_', args: () => [h([2, 3]), h([3])], kinds: ['h', 'h'],
      extra: () => [['unbroadcastable', [h([2, 3]), h([4])], SHAPE], ['int32 into float32', [h([2]), hi([2])], E('ERR_RN_DTYPE')], ['into a broadcast view', [huge([4]).h, h([4])], E('ERR_RN_ARG', /broadcast view/)]] },
    { fn: 'castTo', args: () => [h([2]), 1], kinds: ['h', 'dtype'] },
    { fn: 'fill_', args: () => [h([2]), 1], kinds: ['h', 'n'] },
    { fn: 'rand_', args: () => [h([2]), false, 1, 0, 0, 1], kinds: ['h', 'b', 'u', 'u', 'n', 'n'] },
    { fn: 'unary', args: () => [0, h([2, 3])], kinds: ['op', 'h'], extra: () => [['int32 input', [0, hi([2])], E('ERR_RN_DTYPE')]] },
    { fn: 'unaryBackward', args: () => [0, h([2, 3]), null, h([2, 3])], kinds: ['op', 'h', 'oh', 'oh'],
      extra: () => [
        ...[0, 1, 2, 5, 8, 11, 12].map((op): [string, unknown[], Expect] => [`op ${op} without the saved output`, [op, h([2]), h([2]), null], NARG]),
        ...[3, 4, 6, 9, 10].map((op): [string, unknown[], Expect] => [`op ${op} without the saved input`, [op, h([2]), null, h([2])], NARG]),
        ['neg with nothing saved', [7, h([2]), null, null], 'ok'],
        ['saved output of another shape', [0, h([2, 3]), null, h([3])], SHAPE],
      ] },
    { fn: 'binary', args: () => [0, h([2, 3]), h([3])], kinds: ['op', 'h', 'h'] },
    { fn: 'scalar', args: () => [0, h([2, 3]), 2], kinds: ['op', 'h', 'n'] },
    { fn: 'axpy_', args: () => [h([2, 3]), h([2, 3]), 1], kinds: ['h', 'h', 'n'],
      extra: () => [['shapes differ', [h([2, 3]), h([3]), 1], SHAPE], ['into a strided view', [ramp([2, 3]).t().h, h([3, 2]), 1], SHAPE]] },
    { fn: 'dropoutForward', args: () => [h([2, 3]), 0.5, 1, 0], kinds: ['h', 'n', 'u', 'u'],
      extra: () => [['p = NaN', [h([2]), NaN, 1, 0], RANGE], ['p = 2', [h([2]), 2, 1, 0], RANGE]] },
    { fn: 'dropoutBackward', args: () => [h([2, 3]), 0.5, 1, 0], kinds: ['h', 'n', 'u', 'u'],
      extra: () => [['p = NaN', [h([2]), NaN, 1, 0], RANGE], ['p = -1', [h([2]), -1, 1, 0], RANGE]] },
    { fn: 'sum', args: () => [h([2, 3]), [0], false, 1], kinds: ['h', 'ints', 'b', 'n'],
      extra: () => [['dim 5', [h([2, 3]), [5], false, 1], ANY], ['dim -9', [h([2, 3]), [-9], false, 1], ANY], ['repeated dim (reduced once)', [h([2, 3]), [0, 0], false, 1], 'ok']] },
    { fn: 'maxDim', args: () => [h([2, 3]), 0, false], kinds: ['h', 'i', 'b'], extra: () => [['dim 5', [h([2, 3]), 5, false], ANY], ['empty dim', [h([0, 3]), 0, false], ANY]] },
    { fn: 'matmul', args: () => [h([2, 3]), h([3, 4]), false, false], kinds: ['h', 'h', 'b', 'b'],
      extra: () => [['inner sizes differ', [h([2, 3]), h([4, 5]), false, false], SHAPE], ['0-d', [h([]), h([]), false, false], SHAPE],
        ['batch dims differ', [h([2, 2, 3]), h([3, 3, 4]), false, false], SHAPE]] },
    { fn: 'conv2dForward', args: () => [h([2, 3, 5, 5]), h([4, 3, 3, 3]), h([4]), P7], kinds: ['h', 'h', 'oh', 'p7'],
      extra: () => [['empty kernel', [h([2, 3, 5, 5]), h([4, 3, 0, 3]), null, P7], SHAPE], ['bias of the wrong size', [h([2, 3, 5, 5]), h([4, 3, 3, 3]), h([5]), P7], SHAPE],
        ['stride 2^40', [h([2, 3, 5, 5]), h([4, 3, 3, 3]), null, [2 ** 40, 1, 1, 1, 1, 1, 1]], RANGE]] },
    { fn: 'conv2dBackwardData', args: () => [h([2, 4, 5, 5]), h([4, 3, 3, 3]), [2, 3, 5, 5], false, P7, null], kinds: ['h', 'h', 'shape', 'b', 'p7', 'oh'],
      extra: () => [['input shape of rank 3', [h([2, 4, 5, 5]), h([4, 3, 3, 3]), [3, 5, 5], false, P7], SHAPE],
        ['accumulate of another shape', [h([2, 4, 5, 5]), h([4, 3, 3, 3]), [2, 3, 5, 5], false, P7, h([2, 3, 5, 4])], SHAPE],
        ['accumulate not dense in the layout', [h([2, 4, 5, 5]), h([4, 3, 3, 3]), [2, 3, 5, 5], true, P7, h([2, 3, 5, 5])], E('ERR_RN_ARG')],
        ['int32 accumulate', [h([2, 4, 5, 5]), h([4, 3, 3, 3]), [2, 3, 5, 5], false, P7, hi([2, 3, 5, 5])], E('ERR_RN_DTYPE')],
        ['grad of the wrong shape', [h([2, 4, 4, 4]), h([4, 3, 3, 3]), [2, 3, 5, 5], false, P7], SHAPE],
        ['huge input shape', [h([2, 4, 5, 5]), h([4, 3, 3, 3]), [2 ** 40, 3, 5, 5], false, P7], ANY]] },
    { fn: 'conv2dBackwardWeight', args: () => [h([2, 4, 5, 5]), h([2, 3, 5, 5]), [4, 3, 3, 3], P7], kinds: ['h', 'h', 'shape', 'p7'],
      extra: () => [['weight shape of rank 2', [h([2, 4, 5, 5]), h([2, 3, 5, 5]), [4, 3], P7], SHAPE],
        ['grad of the wrong shape', [h([2, 4, 4, 4]), h([2, 3, 5, 5]), [4, 3, 3, 3], P7], SHAPE]] },
    { fn: 'batchNormForward', args: () => [h([2, 3, 4, 4]), h([3]), h([3]), f32([3], 0).h, f32([3], 1).h, true, 0.1, 1e-5],
      kinds: ['h', 'oh', 'oh', 'oh', 'oh', 'b', 'n', 'n'],
      extra: () => [['eps = NaN', [h([2, 3, 4, 4]), null, null, null, null, true, 0.1, NaN], RANGE], ['eps = 0', [h([2, 3, 4, 4]), null, null, null, null, true, 0.1, 0], RANGE],
        ['eval without running stats', [h([2, 3, 4, 4]), null, null, null, null, false, 0.1, 1e-5], NARG],
        ['one value per channel', [h([1, 3]), null, null, null, null, true, 0.1, 1e-5], SHAPE]] },
    { fn: 'batchNormBackward', args: () => [h([2, 3, 4, 4]), h([2, 3, 4, 4]), h([3]), h([3]), f32([3], 1).h, true, 1e-5],
      kinds: ['h', 'h', 'oh', 'h', 'h', 'b', 'n'],
      extra: () => [['saved mean of the wrong size', [h([2, 3, 4, 4]), h([2, 3, 4, 4]), null, h([4]), h([3]), true, 1e-5], SHAPE],
        ['grad of the wrong shape', [h([2, 3, 4, 5]), h([2, 3, 4, 4]), null, h([3]), h([3]), true, 1e-5], SHAPE],
        ['rank-1 input', [h([3]), h([3]), null, h([3]), h([3]), true, 1e-5], SHAPE]] },
    { fn: 'maxPool2dForward', args: () => [h([2, 3, 4, 4]), P8], kinds: ['h', 'p8'],
      extra: () => [['padding over half the kernel', [h([2, 3, 4, 4]), [2, 2, 2, 2, 2, 2, 0, 1]], RANGE], ['kernel 2^53', [h([2, 3, 4, 4]), [2 ** 53, 2, 1, 1, 0, 0, 0, 1]], ANY]] },
    { fn: 'maxPool2dBackward', args: () => [h([2, 3, 2, 2]), hi([2, 3, 2, 2]), [2, 3, 4, 4], P8], kinds: ['h', 'h', 'shape', 'p8'],
      extra: () => [['indices outside the plane', [h([2, 3, 2, 2]), hi([2, 3, 2, 2], 1000), [2, 3, 4, 4], P8], E('ERR_RN_INDEX')],
        ['float32 indices', [h([2, 3, 2, 2]), h([2, 3, 2, 2]), [2, 3, 4, 4], P8], SHAPE],
        ['indices of the wrong shape', [h([2, 3, 2, 2]), hi([2, 3, 2, 1]), [2, 3, 4, 4], P8], SHAPE]] },
    { fn: 'avgPool2dForward', args: () => [h([2, 3, 4, 4]), P8], kinds: ['h', 'p8'] },
    { fn: 'avgPool2dBackward', args: () => [h([2, 3, 2, 2]), [2, 3, 4, 4], P8], kinds: ['h', 'shape', 'p8'],
      extra: () => [['grad of the wrong shape', [h([2, 3, 3, 3]), [2, 3, 4, 4], P8], SHAPE]] },
    { fn: 'adaptiveAvgPool2dForward', args: () => [h([2, 3, 4, 4]), 2, 2], kinds: ['h', 'i', 'i'],
      extra: () => [['output 0', [h([2, 3, 4, 4]), 0, 2], RANGE], ['output 2^40 x 2^40', [h([2, 3, 4, 4]), 2 ** 40, 2 ** 40], E('ERR_RN_OOM')],
        ['empty plane', [h([2, 3, 0, 4]), 2, 2], SHAPE]] },
    { fn: 'adaptiveAvgPool2dBackward', args: () => [h([2, 3, 2, 2]), [2, 3, 4, 4]], kinds: ['h', 'shape'],
      extra: () => [['input of another batch', [h([2, 3, 2, 2]), [3, 3, 4, 4]], SHAPE], ['empty input plane', [h([2, 3, 2, 2]), [2, 3, 0, 4]], 'ok'],
        ['input smaller than the grad', [h([2, 3, 4, 4]), [2, 3, 2, 2]], 'ok']] },
    { fn: 'softmaxForward', args: () => [h([2, 3]), 1, false], kinds: ['h', 'i', 'b'], extra: () => [['dim 2', [h([2, 3]), 2, false], ANY], ['dim -3', [h([2, 3]), -3, false], ANY]] },
    { fn: 'softmaxBackward', args: () => [h([2, 3]), h([2, 3]), 1, false], kinds: ['h', 'h', 'i', 'b'],
      extra: () => [['output of another shape', [h([2, 3]), h([3, 2]), 1, false], SHAPE], ['dim 7', [h([2, 3]), h([2, 3]), 7, false], ANY]] },
    { fn: 'crossEntropyForward', args: () => [h([4, 3]), hi([4], 1), 1, 0, -100], kinds: ['h', 'h', 'i', 'n', 'i'],
      extra: () => [['reduction 3', [h([4, 3]), hi([4]), 3, 0, -100], ANY], ['reduction 2^32 + 1', [h([4, 3]), hi([4]), 2 ** 32 + 1, 0, -100], RANGE],
        ['labelSmoothing NaN', [h([4, 3]), hi([4]), 1, NaN, -100], ANY], ['labelSmoothing 2', [h([4, 3]), hi([4]), 1, 2, -100], ANY],
        ['target out of range', [h([4, 3]), hi([4], 7), 1, 0, -100], E('ERR_RN_INDEX')], ['target -5', [h([4, 3]), hi([4], -5), 1, 0, -100], E('ERR_RN_INDEX')],
        ['ignoreIndex 2^32 - 100', [h([4, 3]), hi([4], 1), 1, 0, 2 ** 32 - 100], RANGE],
        ['1-D logits', [h([3]), hi([]), 1, 0, -100], ANY], ['target of another batch', [h([4, 3]), hi([5]), 1, 0, -100], SHAPE]] },
    { fn: 'crossEntropyBackward', args: () => [h([]), h([4, 3]), hi([4], 1), i64(4n), 1, 0, -100], kinds: ['h', 'h', 'h', 'h', 'i', 'n', 'i'],
      extra: () => [['int32 count', [h([]), h([4, 3]), hi([4], 1), hi([]), 1, 0, -100], E('ERR_RN_DTYPE')],
        // targets were validated by the forward; here an out-of-range one gets a zero gradient (never an
        // out-of-bounds write), and count 0 divides by zero as torch's mean over nothing does
        ['target out of range', [h([]), h([4, 3]), hi([4], 9), i64(4n), 1, 0, -100], 'ok'],
        ['count 0', [h([]), h([4, 3]), hi([4], 1), i64(0n), 1, 0, -100], 'nan-propagates'],
        ['reduction 7', [h([]), h([4, 3]), hi([4], 1), i64(4n), 7, 0, -100], RANGE],
        ['per-sample grad of the wrong shape', [h([3]), h([4, 3]), hi([4], 1), i64(4n), 0, 0, -100], SHAPE]] },
    { fn: 'layerNormForward', args: () => [h([2, 4]), 4, h([4]), h([4]), 1e-5], kinds: ['h', 'i', 'oh', 'oh', 'n'],
      extra: () => [['normalized size 3', [h([2, 4]), 3, null, null, 1e-5], ANY], ['normalized size 0', [h([2, 4]), 0, null, null, 1e-5], ANY],
        ['weight of the wrong size', [h([2, 4]), 4, h([5]), null, 1e-5], ANY], ['eps NaN', [h([2, 4]), 4, null, null, NaN], ANY]] },
    { fn: 'layerNormBackward', args: () => [h([2, 4]), h([2, 4]), h([4]), h([2]), h([2]), 4], kinds: ['h', 'h', 'oh', 'h', 'h', 'i'],
      extra: () => [['int32 mean', [h([2, 4]), h([2, 4]), null, hi([2]), h([2]), 4], E('ERR_RN_DTYPE')], ['stats of the wrong size', [h([2, 4]), h([2, 4]), null, h([3]), h([3]), 4], SHAPE],
        ['grad of another shape', [h([4, 2]), h([2, 4]), null, h([2]), h([2]), 4], ANY], ['weight of the wrong size', [h([2, 4]), h([2, 4]), h([3]), h([2]), h([2]), 4], SHAPE]] },
    { fn: 'memoryStats', args: () => [0], kinds: ['device'], lenient: true },
    { fn: 'emptyCache', args: () => [], kinds: [], lenient: true },
    { fn: 'resetPeak', args: () => [], kinds: [], lenient: true },
    { fn: 'setNumThreads', args: () => [binding().getNumThreads()], kinds: ['i'], extra: () => [['0', [0], RANGE], ['2000', [2000], RANGE]] },
    { fn: 'getNumThreads', args: () => [], kinds: [], lenient: true },
    { fn: 'pending', args: () => [], kinds: [], lenient: true },
    // the profiler: on, read, off (in this order, so it is off for the rest of the run)
    { fn: 'profileStart', args: () => [], kinds: [], lenient: true },
    { fn: 'profileSnapshot', args: () => [], kinds: [], lenient: true },
    { fn: 'profileEnabled', args: () => [], kinds: [], lenient: true },
    { fn: 'profileStop', args: () => [], kinds: [], lenient: true },
    { fn: 'buildInfo', args: () => [], kinds: [], lenient: true },
    { fn: 'sgdStep', args: () => [[h([3])], [h([3])], [h([3])], [true], 0.1, 0.9, 0, 0, false, false], kinds: ['hs', 'hs', 'ohs', 'bools', 'n', 'n', 'n', 'n', 'b', 'b'],
      extra: () => [['lr NaN', [[h([3])], [h([3])], [null], [true], NaN, 0.9, 0, 0, false, false], ANY],
        ['momentum -1', [[h([3])], [h([3])], [null], [true], 0.1, -1, 0, 0, false, false], ANY],
        ['param that is a broadcast view', [[rn.zeros([1]).expand([4]).h], [h([4])], [null], [true], 0.1, 0, 0, 0, false, false], SHAPE],
        ['two params, one grad', [[h([3]), h([3])], [h([3])], [null, null], [true, true], 0.1, 0, 0, 0, false, false], NARG],
        ['momentum without buffers', [[h([3])], [h([3])], [null], [true], 0.1, 0.9, 0, 0, false, false], NARG]] },
    { fn: 'adamwStep', args: () => [[h([3])], [h([3])], [h([3])], [h([3])], null, [1], 1e-3, 0.9, 0.999, 1e-8, 0.01, false, false],
      kinds: ['hs', 'hs', 'hs', 'hs', 'maybeHs', 'nums', 'n', 'n', 'n', 'n', 'n', 'b', 'b'], okGarbage: ['[]@4'],
      extra: () => [['beta1 = 1', [[h([3])], [h([3])], [h([3])], [h([3])], null, [1], 1e-3, 1, 0.999, 1e-8, 0, false, false], ANY],
        ['amsgrad without maxExpAvgSqs', [[h([3])], [h([3])], [h([3])], [h([3])], null, [1], 1e-3, 0.9, 0.999, 1e-8, 0, true, false], ANY],
        ['step 0', [[h([3])], [h([3])], [h([3])], [h([3])], null, [0], 1e-3, 0.9, 0.999, 1e-8, 0, false, false], ANY]] },
    { fn: 'clipGradNorm', args: () => [[h([3])], 1, 2], kinds: ['gs', 'n', 'n'],
      extra: () => [['maxNorm -1', [[h([3])], -1, 2], ANY], ['normType 0', [[h([3])], 1, 0], ANY], ['normType NaN', [[h([3])], 1, NaN], ANY]] },
    { fn: 'bnAddReluForward', args: () => [h([2, 3, 4, 4]), h([2, 3, 4, 4]), h([3]), h([3]), f32([3], 0).h, f32([3], 1).h, true, 0.1, 1e-5, true],
      kinds: ['h', 'oh', 'oh', 'oh', 'oh', 'oh', 'b', 'n', 'n', 'b'], okGarbage: ['null@9', 'undefined@9'],
      extra: () => [['residual of another shape', [h([2, 3, 4, 4]), h([2, 3, 4, 5]), null, null, null, null, true, 0.1, 1e-5], SHAPE],
        ['eps NaN', [h([2, 3, 4, 4]), null, null, null, null, null, true, 0.1, NaN], ANY],
        ['eval without running stats', [h([2, 3, 4, 4]), null, null, null, null, null, false, 0.1, 1e-5], ANY]] },
    { fn: 'bnAddReluBackward', args: () => [h([2, 3, 4, 4]), h([2, 3, 4, 4]), h([2, 3, 4, 4]), h([3]), h([3]), f32([3], 1).h, true, true],
      kinds: ['h', 'h', 'h', 'oh', 'h', 'h', 'b', 'b'],
      extra: () => [['output of another shape', [h([2, 3, 4, 4]), h([2, 3, 4, 5]), h([2, 3, 4, 4]), null, h([3]), h([3]), true, true], SHAPE],
        ['saved stats of the wrong size', [h([2, 3, 4, 4]), h([2, 3, 4, 4]), h([2, 3, 4, 4]), null, h([4]), h([4]), true, true], SHAPE]] },
    { fn: 'bnAddReluVersion', args: () => [0], kinds: ['i'], noArgs: 'ok', okGarbage: ['null'], extra: () => [['3', [3], RANGE], ['2^32 + 1', [2 ** 32 + 1], RANGE]] },
    { fn: 'bnAddReluNtBytes', args: () => [-1], kinds: ['i'], noArgs: 'ok', okGarbage: ['null'] },
    { fn: 'conv2dNtBytes', args: () => [-1], kinds: ['i'], noArgs: 'ok', okGarbage: ['null'] },
    { fn: 'convMode', args: () => [0], kinds: ['i'], noArgs: 'ok', okGarbage: ['null'], extra: () => [['4', [4], RANGE], ['-1', [-1], RANGE], ['2^32 + 1', [2 ** 32 + 1], RANGE]] },
    { fn: 'benchCopy', args: () => [4096, 1], kinds: ['i', 'i'], okGarbage: ['null@1', 'undefined@1'], extra: () => [['2^40 bytes', [2 ** 40, 1], RANGE], ['0 reps', [4096, 0], RANGE]] },
    { fn: 'benchFlush', args: () => [4096], kinds: ['i'], extra: () => [['2^40 bytes', [2 ** 40], RANGE], ['-1 bytes', [-1], RANGE]] },
    // the CUDA surface (native/binding/ops_cuda.cc); on a machine without CUDA every device call is ERR_RN_NO_CUDA
    { fn: 'cudaInfo', args: () => [], kinds: [], lenient: true },
    { fn: 'cudaDeviceProperties', args: () => [0], kinds: ['i'], noArgs: NO_CUDA_OR_OK, valid: NO_CUDA_OR_OK, extra: () => [['device 99', [99], E(/^ERR_RN_(NO_CUDA|RANGE|DEVICE)$/)]] },
    { fn: 'cudaEmptyCache', args: () => [], kinds: [], lenient: true },
    { fn: 'cudaResetPeak', args: () => [], kinds: [], lenient: true },
    { fn: 'cudaLibraries', args: () => [], kinds: [], lenient: true },
    { fn: 'cudaSynchronize', args: () => [], kinds: [], lenient: true },
    { fn: 'cudaSetAllowTF32', args: () => [false], kinds: ['b'] },
    { fn: 'toDevice', args: () => [h([2]), 0], kinds: ['h', 'device'], okGarbage: rn.cuda.isAvailable() ? [] : [],
      extra: () => [['to cuda', [h([2]), 1], NO_CUDA_OR_OK]] },
    ...(['_cudaBnAddReluForward', '_cudaBnAddReluBackward', '_cudaSgdStep', '_cudaAdamwStep'] as const).map((fn): NativeSpec => {
      const cpuArgs: Record<string, () => unknown[]> = {
        _cudaBnAddReluForward: () => [h([2, 3, 4, 4]), null, null, null, null, null, true, 0.1, 1e-5],
        _cudaBnAddReluBackward: () => [h([2, 3, 4, 4]), h([2, 3, 4, 4]), h([2, 3, 4, 4]), null, h([3]), h([3]), true, false],
        _cudaSgdStep: () => [[h([3])], [h([3])], [null], [true], 0.1, 0, 0, 0, false, false],
        _cudaAdamwStep: () => [[h([3])], [h([3])], [h([3])], [h([3])], null, [1], 1e-3, 0.9, 0.999, 1e-8, 0, false, false],
      };
      // these test hooks take cuda tensors only: with cpu tensors the valid-looking call is refused
      return { fn, args: cpuArgs[fn], kinds: [], valid: E(/^ERR_RN_(DEVICE|NO_CUDA|ARG|SHAPE)$/), noArgs: ANY };
    }),
    // kernel-generation switch and GPU timer of the benchmarks: arguments checked, then the device
    { fn: '_cudaBnAddReluVersion', args: () => [2], kinds: [], valid: NO_CUDA_OR_OK, noArgs: NO_CUDA_OR_OK,
      extra: () => [['3', [3], RANGE], ['2^32 + 1', [2 ** 32 + 1], RANGE], ['"v1"', ['v1'], ANY], ['1.5', [1.5], ANY]] },
    { fn: '_cudaTimerBegin', args: () => [1], kinds: [], valid: NO_CUDA_OR_OK, noArgs: NO_CUDA_OR_OK,
      extra: () => [['-1 ms', [-1], RANGE], ['NaN ms', [NaN], ANY], ['"1"', ['1'], ANY]] },
    { fn: '_cudaTimerEnd', args: () => [], kinds: [], valid: NO_CUDA_OR_OK },
  ];
}

export function nativeCorpus(): Case[] {
  const B = binding() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const out: Case[] = [];
  const call = (fn: string, args: () => unknown[]) => () => {
    const r = B[fn](...args());
    // a promise (readAsync) settles before the case ends; handles are wrapped so tidy frees them
    if (r instanceof Promise) return r.then(() => undefined);
    return wrapResult(r);
  };
  const specs = nativeSpecs();
  const covered = new Set(specs.map((s) => s.fn));
  for (const s of specs) {
    const valid = s.valid ?? 'ok';
    out.push({ name: `binding.${s.fn}: valid call`, run: call(s.fn, s.args), expect: valid });
    if (s.kinds.length > 0 || s.noArgs) out.push({ name: `binding.${s.fn}: no arguments`, run: call(s.fn, () => []), expect: s.lenient ? 'ok' : s.noArgs ?? ANY });
    out.push({ name: `binding.${s.fn}: 20 extra arguments`, run: call(s.fn, () => [...s.args(), ...new Array(20).fill('junk')]), expect: valid });
    s.kinds.forEach((k, i) => {
      for (const [label, mk, x0] of garbage(k)) {
        const okHere = s.okGarbage?.includes(label) || s.okGarbage?.includes(`${label}@${i}`) || (label === 'undefined' && s.okGarbage?.includes('null') && k === 'i');
        const x: Expect = okHere ? 'ok' : x0;
        out.push({
          name: `binding.${s.fn}: argument ${i} (${k}) = ${label}`,
          run: call(s.fn, () => {
            const a = s.args();
            a[i] = mk();
            return a;
          }),
          expect: s.lenient ? 'ok' : x,
        });
      }
    });
    for (const [label, args, x] of s.extra ? s.extra() : []) out.push({ name: `binding.${s.fn}: ${label}`, run: call(s.fn, () => args), expect: x });
  }
  // the stream gate of the benchmarks: begin with garbage arguments, then end
  out.push({ name: 'binding.benchBegin/benchEnd: garbage arguments', run: () => { B.benchBegin(null, 'x', {}); return B.benchEnd(5); }, expect: 'ok' });
  out.push({ name: 'binding.benchEnd: without benchBegin', run: () => B.benchEnd(), expect: 'ok' });
  covered.add('benchBegin').add('benchEnd');
  // every exported function is in the table
  out.push({
    name: 'binding: every exported function is covered',
    run: () => {
      const missing = Object.keys(B).filter((k) => typeof B[k] === 'function' && !covered.has(k));
      if (missing.length) throw new Error(`not covered: ${missing.join(', ')}`);
    },
    expect: 'ok',
  });
  return out;
}

/** NativeTensor results become Tensors (so tidy frees them and readBack sees deferred errors). */
function wrapResult(r: unknown): unknown {
  const isNative = (v: unknown): v is { h: unknown; shape: number[] } =>
    v !== null && typeof v === 'object' && 'h' in (v as object) && 'shape' in (v as object) && 'dtype' in (v as object);
  if (isNative(r)) return new Tensor(r as never);
  if (Array.isArray(r)) return r.map((x) => (isNative(x) ? new Tensor(x as never) : x));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Creation, tensor methods, scalar arguments (NaN / Inf / fractional / huge / overflowing sizes)

const C = (name: string, run: () => unknown, expect: Expect): Case => ({ name, run, expect });
const RANGE_OF = (what: string) => E('ERR_RN_RANGE', re(what));
const ARG_OF = (what: string) => E('ERR_RN_ARG', re(what));

export function creationCorpus(): Case[] {
  const out: Case[] = [];
  const makers: [string, (s: number[]) => unknown][] = [
    ['zeros', (s) => rn.zeros(s)], ['ones', (s) => rn.ones(s)], ['empty', (s) => rn.empty(s)], ['full', (s) => rn.full(s, 1)],
    ['rand', (s) => rn.rand(s)], ['randn', (s) => rn.randn(s)],
  ];
  for (const [op, mk] of makers) {
    const bad: [string, unknown, Expect][] = [
      ['[2, -3]', [2, -3], RANGE_OF(`${op}(shape)`)], ['[1.5]', [1.5], RANGE_OF(`${op}(shape)`)], ['[NaN]', [NaN], RANGE_OF(`${op}(shape)`)],
      ['[Infinity]', [Infinity], RANGE_OF(`${op}(shape)`)], ['["2"]', ['2'], ARG_OF(`${op}(shape)`)], ['"3"', '3', ARG_OF(`${op}(shape)`)],
      ['null', null, ARG_OF(`${op}(shape)`)], ['9 dims', [1, 1, 1, 1, 1, 1, 1, 1, 1], RANGE_OF(`${op}(shape)`)],
      ['[2^30, 2^30] (2^60 elements)', [2 ** 30, 2 ** 30], E('ERR_RN_OOM', re(`${op}: shape [1073741824, 1073741824] has 1152921504606846976 elements`))],
      ['[2^53, 2^53] (product over 2^53)', [2 ** 53, 2 ** 53], E('ERR_RN_OOM', re(`${op}: shape`))],
      ['[2^44] (64 TiB, past the address space)', [2 ** 44], E('ERR_RN_OOM')],
      ['[2^53 + 2] (not a safe integer)', [2 ** 53 + 2], E(/^ERR_RN_(RANGE|OOM)$/)],
      ['[0, 2^40] (empty)', [0, 2 ** 40], 'ok'], ['[] (a scalar)', [], 'ok'], ['[0]', [0], 'ok'],
    ];
    for (const [what, s, x] of bad) out.push(C(`${op}: shape ${what}`, () => mk(s as number[]), x));
    out.push(C(`${op}: options = "x"`, () => (rn as unknown as Record<string, (...a: unknown[]) => unknown>)[op]([2], ...(op === 'full' ? [1] : []), 'x'), ARG_OF(`${op}(options)`)));
    out.push(C(`${op}: dtype "float64"`, () => (rn as unknown as Record<string, (...a: unknown[]) => unknown>)[op]([2], ...(op === 'full' ? [1] : []), { dtype: 'float64' }), E('ERR_RN_DTYPE', re(`${op}(dtype)`))));
    out.push(C(`${op}: device "tpu"`, () => (rn as unknown as Record<string, (...a: unknown[]) => unknown>)[op]([2], ...(op === 'full' ? [1] : []), { device: 'tpu' }), E('ERR_RN_DEVICE', re(`${op}(device)`))));
    out.push(C(`${op}: device "cuda:0"`, () => (rn as unknown as Record<string, (...a: unknown[]) => unknown>)[op]([2], ...(op === 'full' ? [1] : []), { device: 'cuda:0' }), rn.cuda.isAvailable() ? 'ok' : E('ERR_RN_NO_CUDA', /cuda:0/)));
  }
  out.push(
    C('full: value NaN fills NaN', () => rn.full([3], NaN), 'nan-propagates'),
    C('full: value "1"', () => rn.full([3], '1' as unknown as number), ARG_OF('full(value)')),
    C('full: value Infinity', () => rn.full([3], Infinity), 'nan-propagates'),
    C('full: int32 value 2^40 (saturates, no UB)', () => rn.full([3], 2 ** 40, { dtype: 'int32' }), 'ok'),
    C('rand: low NaN', () => rn.rand([3], { low: NaN }), 'nan-propagates'),
    C('randn: std Infinity', () => rn.randn([3], { std: Infinity }), 'nan-propagates'),
    C('tensor: "abc"', () => rn.tensor('abc' as never), ARG_OF('tensor(data)')),
    C('tensor: null', () => rn.tensor(null as never), ARG_OF('tensor(data)')),
    C('tensor: {}', () => rn.tensor({} as never), ARG_OF('tensor(data)')),
    C('tensor: ragged nested array', () => rn.tensor([[1, 2], [3]]), E('ERR_RN_SHAPE', /not rectangular/)),
    C('tensor: nested array with a string', () => rn.tensor([[1, 'a' as never]]), ARG_OF('tensor(data)')),
    C('tensor: nested array with NaN', () => rn.tensor([NaN, 1]), 'nan-propagates'),
    C('tensor: 9-deep nested array', () => rn.tensor([[[[[[[[[1]]]]]]]]]), RANGE_OF('tensor(shape)')),
    C('tensor: Float64Array', () => rn.tensor(new Float64Array(3) as never), ARG_OF('tensor(data)')),
    C('tensor: Float64Array with dtype float32 (converted)', () => rn.tensor(new Float64Array(3) as never, { dtype: 'float32' }), 'ok'),
    C('tensor: DataView', () => rn.tensor(new DataView(new ArrayBuffer(8)) as never), ARG_OF('tensor(data)')),
    C('tensor: data/shape element counts differ', () => rn.tensor(new Float32Array(3), { shape: [2, 2] }), E('ERR_RN_SHAPE', /data has 3 elements but shape \[2, 2\] needs 4/)),
    C('tensor: shape [-1, -3] for 3 elements', () => rn.tensor(new Float32Array(3), { shape: [-1, -3] }), RANGE_OF('tensor(shape)')),
    C('tensor: shape [2^53, 0] for 0 elements', () => rn.tensor(new Float32Array(0), { shape: [2 ** 53, 0] }), E(/^ERR_RN_(RANGE|SHAPE|OOM)$/)),
    C('tensor: options null', () => rn.tensor([1], null as never), ARG_OF('tensor(options)')),
    C('tensor: requiresGrad on int32', () => rn.tensor(Int32Array.of(1), { requiresGrad: true }), E('ERR_RN_DTYPE', /only float32 tensors can require gradients/)),
    C('tensor: a detached ArrayBuffer (an empty array)', () => { const a = new Float32Array(4); structuredClone(a.buffer, { transfer: [a.buffer] }); return rn.tensor(a); }, 'ok'),
    C('tensor: a detached ArrayBuffer with shape [4]', () => { const a = new Float32Array(4); structuredClone(a.buffer, { transfer: [a.buffer] }); return rn.tensor(a, { shape: [4] }); }, E('ERR_RN_SHAPE', /data has 0 elements/)),
    C('rand: dtype int32', () => rn.rand([2], { dtype: 'int32' }), E('ERR_RN_DTYPE', re('rand(dtype)'))),
    C('randn: std "1"', () => rn.randn([2], { std: '1' as never }), ARG_OF('randn(std)')),
    C('tensor: a view into a SharedArrayBuffer', () => rn.tensor(new Float32Array(new SharedArrayBuffer(16), 4, 2)), 'ok'),
    C('arange: NaN end', () => rn.arange(NaN), ARG_OF('arange(end)')),
    C('arange: step 0', () => rn.arange(0, 5, 0), RANGE_OF('arange(step)')),
    C('arange: 2^40 elements', () => rn.arange(0, 2 ** 40), RANGE_OF('arange(end)')),
    C('arange: Infinity', () => rn.arange(0, Infinity), ARG_OF('arange(end)')),
    C('arange: dtype "x"', () => rn.arange(0, 3, 1, { dtype: 'x' as never }), E('ERR_RN_DTYPE', re('arange(dtype)'))),
    C('manualSeed: -1', () => rn.manualSeed(-1), RANGE_OF('manualSeed(seed)')),
    C('manualSeed: 1.5', () => rn.manualSeed(1.5), RANGE_OF('manualSeed(seed)')),
    C('manualSeed: "1"', () => rn.manualSeed('1' as never), RANGE_OF('manualSeed(seed)')),
    C('setRngState: garbage', () => rn.setRngState({ seed: -1, offset: NaN }), ARG_OF('setRngState(state)')),
    C('setRngState: null', () => rn.setRngState(null as never), ARG_OF('setRngState(state)')),
    C('setNumThreads: 0', () => rn.setNumThreads(0), RANGE_OF('setNumThreads(n)')),
    C('setNumThreads: NaN', () => rn.setNumThreads(NaN), RANGE_OF('setNumThreads(n)')),
    C('setNumThreads: "2"', () => rn.setNumThreads('2' as never), ARG_OF('setNumThreads(n)')),
    C('setNumThreads: 1e9', () => rn.setNumThreads(1e9), RANGE_OF('setNumThreads(n)')),
  );
  // tensor methods and views
  const t = () => ramp([2, 3]);
  out.push(
    C('reshape: [4, 2] for 6 elements', () => t().reshape([4, 2]), E('ERR_RN_SHAPE', /reshape: shape \[4, 2\] is invalid for input of size 6/)),
    C('reshape: [-1, -1]', () => t().reshape([-1, -1]), E(/^ERR_RN_(RANGE|SHAPE)$/, /reshape/)),
    C('reshape: [1.5, 4]', () => t().reshape([1.5, 4]), RANGE_OF('reshape(shape)')),
    C('reshape: [-1, 0]', () => t().reshape([-1, 0]), E('ERR_RN_SHAPE', /reshape/)),
    C('reshape: "6"', () => t().reshape('6' as never), ARG_OF('reshape(shape)')),
    C('reshape: [2^53, 2^53, 0] of an empty tensor', () => rn.zeros([0]).reshape([2 ** 53, 2 ** 53, 0]), E(/^ERR_RN_(RANGE|SHAPE|OOM)$/)),
    C('view: of a disposed tensor', () => disposed([2, 3]).reshape([6]), E('ERR_RN_DISPOSED', /reshape: input is a disposed tensor/)),
    C('permute: [0, 0]', () => t().permute([0, 0]), RANGE_OF('permute(dims)')),
    C('permute: [0]', () => t().permute([0]), ARG_OF('permute(dims)')),
    C('transpose: dim 5', () => t().transpose(0, 5), RANGE_OF('transpose(dim)')),
    C('slice: dim 2', () => t().slice(2, 0, 1), RANGE_OF('slice(dim)')),
    C('slice: step 0', () => t().slice(0, 0, 2, 0), RANGE_OF('slice(step)')),
    C('slice: start 1.5', () => t().slice(0, 1.5), RANGE_OF('slice(start)')),
    C('slice: start -2^60 (clamped)', () => t().slice(0, -(2 ** 60)), 'ok'),
    C('slice: end 2^60 (clamped)', () => t().slice(1, 0, 2 ** 60), 'ok'),
    C('slice: step 2^53 - 1', () => t().slice(1, 0, 3, 2 ** 53 - 1), 'ok'),
    C('expand: [3, 3] from [2, 3]', () => t().expand([3, 3]), E('ERR_RN_SHAPE', /expand: cannot expand shape \[2, 3\] to \[3, 3\]/)),
    C('expand: [-2, 3]', () => t().expand([-2, 3]), RANGE_OF('expand(shape)')),
    C('expand: [2^53, 2^53, 1] (then read)', () => rn.zeros([1]).expand([2 ** 26, 2 ** 26, 1]), E('ERR_RN_OOM')),
    C('squeeze: dim 3', () => t().squeeze(3), RANGE_OF('squeeze(dim)')),
    C('unsqueeze: dim -4', () => t().unsqueeze(-4), RANGE_OF('unsqueeze(dim)')),
    C('flatten: end < start', () => ramp([2, 3, 4]).flatten(2, 1), RANGE_OF('flatten(endDim)')),
    C('cat: []', () => rn.cat([]), ARG_OF('cat(tensors)')),
    C('cat: a non-tensor', () => rn.cat([t(), 5 as never]), ARG_OF('cat(tensors[1])')),
    C('cat: shapes differ', () => rn.cat([t(), ramp([2, 4])]), E('ERR_RN_SHAPE', /cat: tensors\[1\] has shape \[2, 4\]/)),
    C('cat: dtypes differ', () => rn.cat([t(), i32([2, 3])]), E('ERR_RN_SHAPE', /cat: tensors\[1\]/)),
    C('cat: a disposed tensor', () => rn.cat([t(), disposed([2, 3])]), E('ERR_RN_DISPOSED', /cat: tensors\[1\] is a disposed tensor/)),
    C('cat: dim 2', () => rn.cat([t(), t()], 2), RANGE_OF('cat(dim)')),
    C('cat: empty pieces', () => rn.cat([rn.zeros([0, 3]), t()]), 'ok'),
    C('split: sizes do not sum', () => rn.split(t(), [1, 2]), E('ERR_RN_SHAPE', /split: sizes \[1, 2\] do not sum to 2/)),
    C('split: size 0', () => rn.split(t(), 0), RANGE_OF('split(size)')),
    C('split: size 2^53', () => rn.split(t(), 2 ** 53), 'ok'),
    C('pad: odd pads', () => F.pad(t(), [1]), ARG_OF('pad(pads)')),
    C('pad: negative', () => F.pad(t(), [-1, 0]), RANGE_OF('pad(pads)')),
    C('pad: value NaN', () => F.pad(t(), [1, 1], NaN), ARG_OF('pad(value)')),
    C('pad: 2^40 (out of memory)', () => F.pad(t(), [2 ** 40, 0]), E('ERR_RN_OOM')),
    C('fill: "x"', () => t().fill('x' as never), ARG_OF('fill(value)')),
    C('fill: NaN', () => t().fill(NaN), 'nan-propagates'),
    C('addInPlace: shapes differ', () => t().addInPlace(ramp([3])), E('ERR_RN_SHAPE', /add_/)),
    C('addInPlace: a non-tensor', () => t().addInPlace(3 as never), ARG_OF('addInPlace(x)')),
    C('addInPlace: alpha NaN', () => t().addInPlace(t(), NaN), 'nan-propagates'),
    C('copyFrom: unbroadcastable', () => t().copyFrom(ramp([4])), E('ERR_RN_SHAPE')),
    C('copyFrom: into a broadcast view', () => rn.zeros([1]).expand([4]).copyFrom(ramp([4])), E('ERR_RN_ARG', /broadcast view/)),
    C('fill: a broadcast view', () => rn.zeros([1]).expand([4]).fill(1), E('ERR_RN_ARG', /broadcast view/)),
    C('to: "tpu"', () => t().to('tpu'), E('ERR_RN_DEVICE', re('to(device)'))),
    C('to: "cuda"', () => t().to('cuda'), rn.cuda.isAvailable() ? 'ok' : E('ERR_RN_NO_CUDA')),
    C('to: int32 of NaN/Inf (defined result)', () => f32([3], NaN).to('int32'), 'ok'),
    C('item: of a [2, 3] tensor', () => t().itemSync(), E('ERR_RN_SHAPE', /itemSync: a tensor with 6 elements/)),
    C('item: of a disposed tensor', () => disposed([1]).itemSync(), E('ERR_RN_DISPOSED')),
    C('data: of a disposed tensor', () => disposed([1]).data(), E('ERR_RN_DISPOSED')),
    C('dataSync: of a 2^40-element view', () => huge([4]).dataSync(), E('ERR_RN_OOM')),
    C('toArray: of a disposed tensor', () => disposed([1]).toArray(), E('ERR_RN_DISPOSED')),
    C('size: dim 9', () => t().size(9), RANGE_OF('size(dim)')),
    C('requiresGrad_: int32', () => i32([2]).requiresGrad_(), E('ERR_RN_DTYPE')),
    C('backward: grad of another shape', () => { const x = ramp([2, 3]).requiresGrad_(); return rn.mul(x, 2).backward(ramp([3])); }, E(/^ERR_RN_(SHAPE|AUTOGRAD)$/)),
    C('backward: grad "x"', () => { const x = ramp([2, 3]).requiresGrad_(); return rn.mul(x, 2).backward('x' as never); }, E(/^ERR_RN_(ARG|AUTOGRAD)$/)),
    C('backward: non-scalar without grad', () => { const x = ramp([2, 3]).requiresGrad_(); return rn.mul(x, 2).backward(); }, E('ERR_RN_AUTOGRAD')),
    C('backward: through a NaN forward', () => { const x = f32([2, 3], NaN).requiresGrad_(); const y = rn.mul(x, x).sum(); y.backward(); return x.grad; }, 'nan-propagates'),
    C('backward: after its input was disposed', () => { const x = ramp([2, 3]).requiresGrad_(); const y = rn.mul(x, x).sum(); x.dispose(); y.backward(); }, 'ok'),
    C('sum: dims "x"', () => rn.sum(t(), 'x' as never), E(/^ERR_RN_(ARG|RANGE)$/, /sum\(dim\)/)),
    C('sum: dims [0, 0]', () => rn.sum(t(), [0, 0]), RANGE_OF('sum(dims)')),
    C('mean: dims [1, -1] (the same dim twice)', () => rn.mean(t(), [1, -1]), RANGE_OF('mean(dims)')),
    C('mean: over an empty dim (NaN, as torch)', () => rn.mean(rn.zeros([0, 3]), 0), 'nan-propagates'),
    C('max: over an empty dim', () => rn.max(rn.zeros([0, 3]), 0), E(/^ERR_RN_/)),
    C('softmax: dim 2', () => F.softmax(t(), 2), RANGE_OF('softmax(dim)')),
    C('softmax: dim 1.5', () => F.softmax(t(), 1.5), RANGE_OF('softmax(dim)')),
    C('pow: exponent NaN', () => F.pow(t(), NaN), ARG_OF('pow(exponent)')),
    C('pow: exponent "2"', () => F.pow(t(), '2' as never), ARG_OF('pow(exponent)')),
    C('add: scalar NaN', () => rn.add(t(), NaN), ARG_OF('add(other)')),
    C('add: number + number', () => rn.add(1 as never, 2 as never), ARG_OF('add(input)')),
    C('div: by a zero tensor (Inf, as IEEE)', () => rn.div(t(), rn.zeros([2, 3])), 'nan-propagates'),
    C('log: of 0 and negatives (-Inf / NaN)', () => F.log(t()), 'nan-propagates'),
    C('dropout: p NaN', () => F.dropout(t(), NaN), ARG_OF('dropout(p)')),
    C('dropout: p 1.5', () => F.dropout(t(), 1.5), RANGE_OF('dropout(p)')),
    C('dropout: p 1 (all dropped)', () => F.dropout(t(), 1), 'ok'),
    C('dropPath: p -0.1', () => F.dropPath(t(), -0.1), RANGE_OF('dropPath(p)')),
    C('gelu: approximate "fast"', () => F.gelu(t(), { approximate: 'fast' as never }), ARG_OF('gelu(approximate)')),
    C('conv2d: stride 0', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { stride: 0 }), RANGE_OF('conv2d(stride)')),
    C('conv2d: padding -1', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { padding: -1 }), RANGE_OF('conv2d(padding)')),
    C('conv2d: dilation 1.5', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { dilation: 1.5 }), RANGE_OF('conv2d(dilation)')),
    C('conv2d: groups 2 (does not divide 3)', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { groups: 2 }), E('ERR_RN_SHAPE', /groups 2/)),
    C('conv2d: groups NaN', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { groups: NaN }), RANGE_OF('conv2d(groups)')),
    C('conv2d: stride [1, 2, 3]', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { stride: [1, 2, 3] as never }), RANGE_OF('conv2d(stride)')),
    C('conv2d: padding 2^40', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { padding: 2 ** 40 }), E(/^ERR_RN_(RANGE|OOM)$/)),
    C('conv2d: stride 2^53 - 1', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, { stride: 2 ** 53 - 1 }), RANGE_OF('conv2d')),
    C('conv2d: kernel larger than input', () => F.conv2d(ramp(NCHW), ramp([4, 3, 7, 7])), E('ERR_RN_SHAPE', /smaller than the kernel/)),
    C('conv2d: options null', () => F.conv2d(ramp(NCHW), ramp([4, 3, 3, 3]), null, null as never), ARG_OF('conv2d(options)')),
    C('conv2d: zero input channels (bias only)', () => F.conv2d(rn.zeros([2, 0, 5, 5]), rn.zeros([4, 0, 3, 3]), rn.ones([4])), 'ok'),
    C('conv2d: zero output channels', () => F.conv2d(ramp(NCHW), rn.zeros([0, 3, 3, 3])), 'ok'),
    C('conv2d: empty batch, backward', () => { const w = ramp([4, 3, 3, 3]).requiresGrad_(); F.conv2d(rn.zeros([0, 3, 5, 5]), w).sum().backward(); return w.grad; }, 'ok'),
    C('conv2d: weight with an empty kernel', () => F.conv2d(ramp(NCHW), rn.zeros([4, 3, 0, 3])), E('ERR_RN_SHAPE', /empty kernel/)),
    C('maxPool2d: kernelSize 0', () => F.maxPool2d(ramp(NCHW), { kernelSize: 0 }), RANGE_OF('maxPool2d(kernelSize)')),
    C('maxPool2d: kernelSize NaN', () => F.maxPool2d(ramp(NCHW), { kernelSize: NaN }), RANGE_OF('maxPool2d(kernelSize)')),
    C('maxPool2d: kernelSize 2^53 - 1', () => F.maxPool2d(ramp(NCHW), { kernelSize: 2 ** 53 - 1 }), E(/^ERR_RN_(SHAPE|RANGE)$/)),
    C('maxPool2d: padding over half the kernel', () => F.maxPool2d(ramp(NCHW), { kernelSize: 2, padding: 2 }), E('ERR_RN_RANGE', /padding/)),
    C('maxPool2d: options missing', () => F.maxPool2d(ramp(NCHW), undefined as never), ARG_OF('maxPool2d(options)')),
    C('maxPool2d: stride -1', () => F.maxPool2d(ramp(NCHW), { kernelSize: 2, stride: -1 }), RANGE_OF('maxPool2d(stride)')),
    C('maxPool2d: ceilMode, kernel 3 stride 2', () => F.maxPool2d(ramp(NCHW), { kernelSize: 3, stride: 2, ceilMode: true }), 'ok'),
    C('maxPool2d: NaN input, backward (the gradient goes to the NaN, as torch)', () => { const x = f32(NCHW, NaN).requiresGrad_(); F.maxPool2d(x, { kernelSize: 2 }).sum().backward(); return x.grad; }, 'ok'),
    C('avgPool2d: kernel larger than the padded input', () => F.avgPool2d(ramp([1, 1, 2, 2]), { kernelSize: 5 }), E('ERR_RN_SHAPE', /smaller than the kernel/)),
    C('adaptiveAvgPool2d: outputSize 0', () => F.adaptiveAvgPool2d(ramp(NCHW), 0), RANGE_OF('adaptiveAvgPool2d(outputSize)')),
    C('adaptiveAvgPool2d: outputSize 2^40', () => F.adaptiveAvgPool2d(ramp(NCHW), 2 ** 40), E('ERR_RN_OOM')),
    C('adaptiveAvgPool2d: outputSize larger than the input', () => F.adaptiveAvgPool2d(ramp(NCHW), 9), 'ok'),
    C('batchNorm2d: eps 0', () => F.batchNorm2d(ramp(NCHW), null, null, null, null, { eps: 0 }), RANGE_OF('batchNorm2d(eps)')),
    C('batchNorm2d: eps NaN', () => F.batchNorm2d(ramp(NCHW), null, null, null, null, { eps: NaN }), ARG_OF('batchNorm2d(eps)')),
    C('batchNorm2d: momentum NaN', () => F.batchNorm2d(ramp(NCHW), null, null, null, null, { momentum: NaN }), ARG_OF('batchNorm2d(momentum)')),
    C('batchNorm2d: training "yes"', () => F.batchNorm2d(ramp(NCHW), null, null, null, null, { training: 'yes' as never }), ARG_OF('batchNorm2d(training)')),
    C('batchNorm2d: one value per channel', () => F.batchNorm2d(ramp([1, 3]), null, null), E('ERR_RN_SHAPE', /more than 1 value per channel/)),
    C('batchNorm2d: constant input (zero variance)', () => F.batchNorm2d(f32(NCHW, 3), null, null), 'ok'),
    C('batchNorm2d: huge-magnitude input (no overflow to NaN)', () => F.batchNorm2d(rn.mul(ramp(NCHW), 1e30), null, null), 'ok'),
    C('batchNormAddRelu: eps -1', () => F.batchNormAddRelu(ramp(NCHW), ramp(NCHW), null, null, null, null, { eps: -1 }), RANGE_OF('batchNormAddRelu(eps)')),
    C('layerNorm: normalizedShape [5]', () => F.layerNorm(ramp([2, 4]), [5]), E('ERR_RN_SHAPE', /layerNorm: normalizedShape \[5\]/)),
    C('layerNorm: normalizedShape []', () => F.layerNorm(ramp([2, 4]), []), ARG_OF('layerNorm(normalizedShape)')),
    C('layerNorm: eps NaN', () => F.layerNorm(ramp([2, 4]), [4], null, null, NaN), ARG_OF('layerNorm(eps)')),
    C('layerNorm: constant rows', () => F.layerNorm(f32([2, 4], 7), [4]), 'ok'),
    C('crossEntropy: target out of range', () => F.crossEntropy(ramp([2, 3]), rn.tensor(Int32Array.of(0, 3))), E('ERR_RN_INDEX', /crossEntropy: target\[1\] = 3 is out of range for 3 classes/)),
    C('crossEntropy: target -1', () => F.crossEntropy(ramp([2, 3]), rn.tensor(Int32Array.of(-1, 0))), E('ERR_RN_INDEX', /target\[0\] = -1/)),
    C('crossEntropy: int64 target', () => F.crossEntropy(ramp([2, 3]), rn.tensor(BigInt64Array.of(0n, 1n))), E(/^ERR_RN_(DTYPE|ARG)$/, /target/)),
    C('crossEntropy: reduction "avg"', () => F.crossEntropy(ramp([2, 3]), i32([2]), { reduction: 'avg' as never }), ARG_OF('crossEntropy(reduction)')),
    C('crossEntropy: labelSmoothing NaN', () => F.crossEntropy(ramp([2, 3]), i32([2]), { labelSmoothing: NaN }), ARG_OF('crossEntropy(labelSmoothing)')),
    C('crossEntropy: labelSmoothing 1.5', () => F.crossEntropy(ramp([2, 3]), i32([2]), { labelSmoothing: 1.5 }), RANGE_OF('crossEntropy(labelSmoothing)')),
    C('crossEntropy: ignoreIndex 0.5', () => F.crossEntropy(ramp([2, 3]), i32([2]), { ignoreIndex: 0.5 }), RANGE_OF('crossEntropy(ignoreIndex)')),
    C('crossEntropy: ignoreIndex 2^40', () => F.crossEntropy(ramp([2, 3]), i32([2]), { ignoreIndex: 2 ** 40 }), RANGE_OF('crossEntropy(ignoreIndex)')),
    C('crossEntropy: every target ignored (mean is NaN, as torch)', () => F.crossEntropy(ramp([2, 3]), i32([2], -100)), 'nan-propagates'),
    C('crossEntropy: empty batch (mean is NaN, as torch)', () => F.crossEntropy(rn.zeros([0, 3]), i32([0])), 'nan-propagates'),
    C('crossEntropy: empty batch, sum', () => F.crossEntropy(rn.zeros([0, 3]), i32([0]), { reduction: 'sum' }), 'ok'),
    C('crossEntropy: zero classes', () => F.crossEntropy(rn.zeros([2, 0]), i32([2])), E(/^ERR_RN_(SHAPE|INDEX)$/)),
    C('crossEntropy: Inf logits', () => F.crossEntropy(f32([2, 3], Infinity), i32([2])), 'nan-propagates'),
    C('crossEntropy: -1e30 logits (finite, log-sum-exp is stable)', () => F.crossEntropy(rn.mul(ramp([2, 3]), 1e30), i32([2])), 'ok'),
    C('mseLoss: reduction "x"', () => F.mseLoss(t(), t(), { reduction: 'x' as never }), ARG_OF('mseLoss(reduction)')),
    C('linear: weight of rank 3', () => F.linear(t(), ramp([4, 3, 1])), E('ERR_RN_SHAPE', /linear: expected a 2-D weight/)),
    C('linear: bias of 5', () => F.linear(t(), ramp([4, 3]), ramp([5])), E('ERR_RN_SHAPE', /linear: bias has shape \[5\]/)),
    C('linear: 0-d input', () => F.linear(rn.zeros([]), ramp([4, 3])), E('ERR_RN_SHAPE', /linear/)),
    C('foldBatchNorm: bn null', () => F.foldBatchNorm(ramp([4, 3, 3, 3]), null, null as never), ARG_OF('foldBatchNorm(bn)')),
    C('foldBatchNorm: no running stats', () => F.foldBatchNorm(ramp([4, 3, 3, 3]), null, { running_mean: null, running_var: null }), E('ERR_RN_ARG', /no running statistics/)),
    C('foldBatchNorm: stats of the wrong size', () => F.foldBatchNorm(ramp([4, 3, 3, 3]), null, { running_mean: ramp([3]), running_var: ramp([3]) }), E('ERR_RN_SHAPE', /bn.running_mean has shape \[3\]/)),
    C('foldBatchNorm: negative variance (NaN, not an error)', () => F.foldBatchNorm(ramp([4, 3, 3, 3]), null, { running_mean: ramp([4]), running_var: f32([4], -1) }), 'nan-propagates'),
    C('matmul: 4-D', () => rn.matmul(ramp([1, 2, 2, 3]), ramp([1, 2, 3, 2])), E('ERR_RN_SHAPE', /matmul/)),
    C('matmul: batch sizes differ', () => rn.matmul(ramp([2, 2, 3]), ramp([3, 3, 2])), E('ERR_RN_SHAPE', /matmul/)),
    C('matmul: empty inner dim (zeros)', () => rn.matmul(rn.zeros([2, 0]), rn.zeros([0, 3])), 'ok'),
    C('eq: a non-tensor', () => rn.eq(t(), 3 as never), ARG_OF('eq(other)')),
    C('argmax: dim NaN', () => rn.argmax(t(), NaN), RANGE_OF('argmax(dim)')),
    C('noGrad: not a function', () => rn.noGrad(5 as never), E(/^ERR_RN_ARG$/)),
    C('tidy: not a function', () => rn.tidy(5 as never), E(/^ERR_RN_ARG$/)),
    C('tidy: async function that rejects frees its tensors', async () => {
      const before = rn.memory.stats().tensors;
      await rn.tidy(async () => { rn.ones([3]); throw Object.assign(new Error('inner'), { code: 'ERR_RN_ARG' }); }).catch(() => undefined);
      if (rn.memory.stats().tensors !== before) throw new Error('leaked');
    }, 'ok'),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Modules, models, optimisers, schedulers, the data loader and transforms

export function moduleCorpus(): Case[] {
  const nn = rn.nn;
  const x4 = () => ramp([2, 3, 8, 8]);
  const conv = () => new nn.Conv2d(3, 4, 3, { padding: 1 });
  const lin = () => new nn.Linear(3, 4);
  const out: Case[] = [];
  // constructors: zero, negative, fractional, NaN, huge and non-number sizes
  const sizes: [string, unknown, Expect][] = [
    ['0', 0, E('ERR_RN_RANGE')], ['-1', -1, E('ERR_RN_RANGE')], ['1.5', 1.5, E('ERR_RN_RANGE')], ['NaN', NaN, E('ERR_RN_RANGE')],
    ['"3"', '3', E('ERR_RN_ARG')], ['null', null, E('ERR_RN_ARG')], ['2^40', 2 ** 40, E('ERR_RN_OOM')],
  ];
  for (const [what, v, x] of sizes) {
    const m = (s: string) => (x === 'ok' ? x : E((x as { code: string }).code, (x as { code: string }).code === 'ERR_RN_OOM' ? undefined : re(s)));
    out.push(
      C(`nn.Conv2d: inChannels ${what}`, () => new nn.Conv2d(v as number, 4, 3), m('Conv2d(inChannels)')),
      C(`nn.Conv2d: kernelSize ${what}`, () => new nn.Conv2d(3, 4, v as number), m('Conv2d(kernelSize)')),
      C(`nn.Linear: outFeatures ${what}`, () => new nn.Linear(3, v as number), m('Linear(outFeatures)')),
      C(`nn.BatchNorm2d: numFeatures ${what}`, () => new nn.BatchNorm2d(v as number), m('BatchNorm2d(numFeatures)')),
      C(`nn.LayerNorm: normalizedShape ${what}`, () => new nn.LayerNorm(v as number), m('LayerNorm(normalizedShape)')),
    );
  }
  out.push(
    C('nn.Conv2d: groups 2 of 3 channels', () => new nn.Conv2d(3, 4, 3, { groups: 2 }), E('ERR_RN_RANGE', re('Conv2d(groups)'))),
    C('nn.Conv2d: stride 0', () => new nn.Conv2d(3, 4, 3, { stride: 0 }), E('ERR_RN_RANGE', re('Conv2d(stride)'))),
    C('nn.Conv2d: 2^20 x 2^20 channels (4 TiB of weights)', () => new nn.Conv2d(2 ** 20, 2 ** 20, 1), E('ERR_RN_OOM')),
    C('nn.Dropout: p 2', () => new nn.Dropout(2), E('ERR_RN_RANGE', re('Dropout(p)'))),
    C('nn.Dropout: p NaN', () => new nn.Dropout(NaN), E('ERR_RN_RANGE', re('Dropout(p)'))),
    C('nn.Sequential: a non-module', () => new nn.Sequential(5 as never), E('ERR_RN_ARG', /registerModule\(0\)/)),
    C('nn.Sequential.at: 5', () => new nn.Sequential(lin()).at(5), E('ERR_RN_RANGE', re('Sequential.at(i)'))),
    C('nn.ModuleList.forward', () => new nn.ModuleList([lin()]).forward(), E('ERR_RN_STATE')),
    C('Module.train: "yes"', () => lin().train('yes' as never), E('ERR_RN_ARG', re('train(mode)'))),
    C('Module.setTensor: unknown name', () => lin().setTensor('nope', ramp([3])), E('ERR_RN_ARG', /no parameter or buffer named "nope"/)),
    // forward with bad inputs
    C('nn.Conv2d.forward: wrong channels', () => conv().forward(ramp([2, 5, 8, 8])), E('ERR_RN_SHAPE', /conv2d: input has 5 channels/)),
    C('nn.Conv2d.forward: 3-D input', () => conv().forward(ramp([3, 8, 8])), E('ERR_RN_SHAPE', /4-D input/)),
    C('nn.Conv2d.forward: int32 input', () => conv().forward(i32([2, 3, 8, 8])), E('ERR_RN_DTYPE', /conv2d: expected input of dtype float32/)),
    C('nn.Conv2d.forward: disposed input', () => conv().forward(disposed([2, 3, 8, 8])), E('ERR_RN_DISPOSED', /conv2d: input is a disposed tensor/)),
    C('nn.Conv2d.forward: a number', () => conv().forward(3 as never), E('ERR_RN_ARG', /Expected a Tensor for conv2d\(input\)/)),
    C('nn.Conv2d.forward: NaN input', () => conv().forward(f32([2, 3, 8, 8], NaN)), 'nan-propagates'),
    C('nn.Conv2d.forward: empty batch', () => conv().forward(rn.zeros([0, 3, 8, 8])), 'ok'),
    C('nn.Conv2d.forward: disposed weight', () => { const c = conv(); c.weight.dispose(); return c.forward(x4()); }, E('ERR_RN_DISPOSED', /conv2d: weight is a disposed tensor/)),
    C('nn.Conv2d.forward: NaN weight', () => { const c = conv(); c.weight.fill(NaN); return c.forward(x4()); }, 'nan-propagates'),
    C('nn.Linear.forward: wrong features', () => lin().forward(ramp([2, 4])), E('ERR_RN_SHAPE', /linear: input has 4 features/)),
    C('nn.Linear.forward: NaN bias', () => { const l = lin(); l.bias!.fill(NaN); return l.forward(ramp([2, 3])); }, 'nan-propagates'),
    C('nn.BatchNorm2d.forward: wrong channels', () => new nn.BatchNorm2d(4).forward(x4()), E('ERR_RN_SHAPE', /batchNorm2d: input has 3 channels but weight has shape \[4\]/)),
    C('nn.BatchNorm2d.forward: batch of 1x1x1 in training', () => new nn.BatchNorm2d(3).forward(ramp([1, 3, 1, 1])), E('ERR_RN_SHAPE', /more than 1 value per channel/)),
    C('nn.BatchNorm2d.forward: eval with NaN running var', () => { const b = new nn.BatchNorm2d(3).eval(); b.running_var!.fill(NaN); return b.forward(x4()); }, 'nan-propagates'),
    C('nn.BatchNorm2d: eps 0', () => new nn.BatchNorm2d(3, { eps: 0 }).forward(x4()), E('ERR_RN_RANGE', re('batchNorm2d(eps)'))),
    C('nn.BatchNorm2d: momentum "x"', () => new nn.BatchNorm2d(3, { momentum: 'x' as never }).forward(x4()), E('ERR_RN_ARG', re('batchNorm2d(momentum)'))),
    C('nn.LayerNorm.forward: wrong last dim', () => new nn.LayerNorm(4).forward(ramp([2, 3])), E('ERR_RN_SHAPE', /layerNorm: normalizedShape \[4\]/)),
    C('nn.MaxPool2d.forward: kernelSize 0', () => new nn.MaxPool2d({ kernelSize: 0 }).forward(x4()), E('ERR_RN_RANGE', re('maxPool2d(kernelSize)'))),
    C('nn.AdaptiveAvgPool2d.forward: outputSize -1', () => new nn.AdaptiveAvgPool2d(-1).forward(x4()), E('ERR_RN_RANGE', re('adaptiveAvgPool2d(outputSize)'))),
    C('nn.GELU: approximate "x"', () => new nn.GELU('x' as never).forward(x4()), E('ERR_RN_ARG', re('gelu(approximate)'))),
    C('nn.Flatten: endDim 9', () => new nn.Flatten(1, 9).forward(x4()), E('ERR_RN_RANGE', re('flatten(dim)'))),
    C('Module.loadStateDict: a missing key', () => lin().loadStateDict(new Map([['weight', ramp([4, 3])]])), E('ERR_RN_STATE', /missing keys: bias/)),
    C('Module.loadStateDict: a wrong shape', () => lin().loadStateDict(new Map([['weight', ramp([4, 4])], ['bias', ramp([4])]])), E('ERR_RN_SHAPE', /"weight" has shape \[4, 4\] in the state dict but \[4, 3\]/)),
    C('Module.loadStateDict: a non-tensor value', () => lin().loadStateDict({ weight: 5 as never, bias: ramp([4]) }), E('ERR_RN_ARG', /loadStateDict\(weight\)/)),
    C('Module.loadStateDict: a disposed value', () => lin().loadStateDict({ weight: disposed([4, 3]), bias: ramp([4]) }), E('ERR_RN_DISPOSED', /weight/)),
    C('Module.loadStateDict: null', () => lin().loadStateDict(null as never), E(/^ERR_RN_(ARG|STATE)$/)),
    C('Module.loadStateDict: NaN values (loaded as given)', () => { const l = lin(); l.loadStateDict({ weight: f32([4, 3], NaN), bias: ramp([4]) }); return l.weight; }, 'nan-propagates'),
    // models
    C('models.resnet20: numClasses 0', () => rn.models.resnet20({ numClasses: 0 }), E('ERR_RN_RANGE', /numClasses/)),
    C('models.resnet20: numClasses "10"', () => rn.models.resnet20({ numClasses: '10' as never }), E(/^ERR_RN_(ARG|RANGE)$/, /numClasses/)),
    C('models.resnet20: inChannels -1', () => rn.models.resnet20({ inChannels: -1 }), E('ERR_RN_RANGE', /inChannels/)),
    C('models.resnet20: options "x"', () => rn.models.resnet20('x' as never), E('ERR_RN_ARG')),
    C('models.resnet20.forward: 1 channel for 3', () => rn.models.resnet20().forward(ramp([1, 1, 32, 32])), E('ERR_RN_SHAPE', /conv2d: input has 1 channels but weight \[16, 3, 3, 3\] expects 3/)),
    C('models.resnet20.forward: 2-D input', () => rn.models.resnet20().forward(ramp([2, 3])), E('ERR_RN_SHAPE', /4-D input/)),
    C('models.resnet20.forward: a 2x2 image', () => rn.models.resnet20().eval().forward(ramp([1, 3, 2, 2])), 'ok'),
    C('models.resnet20.forward: empty batch (eval)', () => rn.models.resnet20().eval().forward(rn.zeros([0, 3, 32, 32])), 'ok'),
    C('models.resnet20.forward: NaN input', () => rn.models.resnet20().eval().forward(f32([1, 3, 8, 8], NaN)), 'nan-propagates'),
    // optimisers
    C('optim.SGD: lr NaN', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: NaN }), E(/^ERR_RN_(ARG|RANGE)$/, re('SGD(lr)'))),
    C('optim.SGD: lr -1', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: -1 }), E('ERR_RN_RANGE', re('SGD(lr)'))),
    C('optim.SGD: lr missing', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], {} as never), E(/^ERR_RN_(ARG|RANGE)$/, re('SGD(lr)'))),
    C('optim.SGD: momentum Infinity', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1, momentum: Infinity }), E(/^ERR_RN_(ARG|RANGE)$/, re('SGD(momentum)'))),
    C('optim.SGD: nesterov without momentum', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1, nesterov: true }), E(/^ERR_RN_/, /nesterov/i)),
    C('optim.SGD: params []', () => new rn.optim.SGD([], { lr: 0.1 }), E('ERR_RN_RANGE', re('SGD(params)'))),
    C('optim.SGD: params 5', () => new rn.optim.SGD(5 as never, { lr: 0.1 }), E('ERR_RN_ARG', re('SGD(params)'))),
    C('optim.SGD: int32 param', () => new rn.optim.SGD([i32([3])], { lr: 0.1 }), E('ERR_RN_DTYPE', /can only optimize float32/)),
    C('optim.SGD: disposed param', () => new rn.optim.SGD([disposed([3])], { lr: 0.1 }), E('ERR_RN_DISPOSED', /disposed/)),
    C('optim.SGD: the same param twice', () => { const p = ramp([3]).requiresGrad_(); return new rn.optim.SGD([p, p], { lr: 0.1 }); }, E('ERR_RN_ARG', /appears twice/)),
    C('optim.SGD.step: NaN gradient poisons the parameter (as torch)', () => { const p = ramp([3]).requiresGrad_(); p.grad = f32([3], NaN).keep(); new rn.optim.SGD([p], { lr: 0.1 }).step(); return p; }, 'nan-propagates'),
    C('optim.SGD.step: a gradient of the wrong shape', () => { const p = ramp([3]).requiresGrad_(); p.grad = ramp([4]).keep(); new rn.optim.SGD([p], { lr: 0.1 }).step(); }, E('ERR_RN_SHAPE', /grads\[0\] has shape \[4\]/)),
    C('optim.SGD.step: closure "x"', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }).step('x' as never), E('ERR_RN_ARG', re('SGD.step(closure)'))),
    C('optim.SGD.loadStateDict: garbage', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }).loadStateDict({ state: 5, paramGroups: 'x' } as never), E(/^ERR_RN_(ARG|STATE)$/)),
    C('optim.SGD.loadStateDict: null', () => new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }).loadStateDict(null as never), E(/^ERR_RN_(ARG|STATE)$/)),
    C('optim.AdamW: betas [1, 0.999]', () => new rn.optim.AdamW([ramp([3]).requiresGrad_()], { lr: 0.1, betas: [1, 0.999] }), E('ERR_RN_RANGE', /betas/)),
    C('optim.AdamW: eps -1', () => new rn.optim.AdamW([ramp([3]).requiresGrad_()], { lr: 0.1, eps: -1 }), E('ERR_RN_RANGE', /eps/)),
    C('optim.AdamW: betas "x"', () => new rn.optim.AdamW([ramp([3]).requiresGrad_()], { lr: 0.1, betas: 'x' as never }), E(/^ERR_RN_(ARG|RANGE)$/, /betas/)),
    C('optim.clipGradNorm: maxNorm NaN', () => rn.optim.clipGradNorm([ramp([3])], NaN), E('ERR_RN_ARG', re('clipGradNorm(maxNorm)'))),
    C('optim.clipGradNorm: normType 0', () => rn.optim.clipGradNorm([ramp([3])], 1, 0), E('ERR_RN_RANGE', re('clipGradNorm(normType)'))),
    C('optim.clipGradNorm: params 5', () => rn.optim.clipGradNorm(5 as never, 1), E('ERR_RN_ARG', re('clipGradNorm(params)'))),
    C('optim.clipGradNorm: NaN gradients with errorIfNonfinite', () => { const p = ramp([3]).requiresGrad_(); p.grad = f32([3], NaN).keep(); return rn.optim.clipGradNorm([p], 1, 2, { errorIfNonfinite: true }); }, E('ERR_RN_NAN', /clipGradNorm: the total norm/)),
    C('optim.clipGradNorm: NaN gradients (norm is NaN)', () => { const p = ramp([3]).requiresGrad_(); p.grad = f32([3], NaN).keep(); return rn.optim.clipGradNorm([p], 1); }, 'nan-propagates'),
    C('optim.StepLR: stepSize 0', () => new rn.optim.StepLR(new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }), { stepSize: 0 }), E('ERR_RN_RANGE', /stepSize/)),
    C('optim.OneCycleLR: totalSteps 0', () => new rn.optim.OneCycleLR(new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }), { maxLr: 0.1, totalSteps: 0 }), E('ERR_RN_RANGE', /totalSteps/)),
    C('optim.OneCycleLR: maxLr NaN', () => new rn.optim.OneCycleLR(new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }), { maxLr: NaN, totalSteps: 10 }), E(/^ERR_RN_(ARG|RANGE)$/, /maxLr/)),
    C('optim.CosineAnnealingLR: optimizer {}', () => new rn.optim.CosineAnnealingLR({} as never, { tMax: 10 }), E('ERR_RN_ARG', /CosineAnnealingLR\(optimizer\)/)),
    C('optim.MultiStepLR: milestones "x"', () => new rn.optim.MultiStepLR(new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }), { milestones: 'x' as never }), E(/^ERR_RN_(ARG|RANGE)$/, /milestones/)),
    C('optim.StepLR.loadStateDict: unknown key', () => new rn.optim.StepLR(new rn.optim.SGD([ramp([3]).requiresGrad_()], { lr: 0.1 }), { stepSize: 2 }).loadStateDict({ nope: 1 }), E('ERR_RN_STATE', /unexpected key "nope"/)),
  );
  // data: datasets, loader, transforms
  const D = rn.data;
  const ds = () => new D.ArrayDataset({ images: new Uint8Array(4 * 1 * 2 * 2), labels: Int32Array.of(0, 1, 2, 3), shape: [1, 2, 2] });
  const drain = async (l: InstanceType<typeof D.DataLoader>) => { for await (const b of l) { b.x.dispose(); b.y.dispose(); } };
  out.push(
    C('data.ArrayDataset: images/labels disagree', () => new D.ArrayDataset({ images: new Uint8Array(5), labels: Int32Array.of(0, 1), shape: [1, 2, 2] }), E('ERR_RN_SHAPE', /images has 5 values but 2 labels/)),
    C('data.ArrayDataset: negative label', () => new D.ArrayDataset({ images: new Uint8Array(4), labels: Int32Array.of(-1), shape: [1, 2, 2] }), E('ERR_RN_RANGE', /label 0 is -1/)),
    C('data.ArrayDataset: shape [0, 2, 2]', () => new D.ArrayDataset({ images: new Uint8Array(0), labels: new Int32Array(0), shape: [0, 2, 2] }), E('ERR_RN_ARG', re('ArrayDataset(shape)'))),
    C('data.ArrayDataset: labels Float32Array', () => new D.ArrayDataset({ images: new Uint8Array(4), labels: new Float32Array(1) as never, shape: [1, 2, 2] }), E('ERR_RN_ARG', re('ArrayDataset(labels)'))),
    C('data.ArrayDataset: numClasses 2 with label 3', () => new D.ArrayDataset({ images: new Uint8Array(16), labels: Int32Array.of(0, 1, 2, 3), shape: [1, 2, 2], numClasses: 2 }), E('ERR_RN_RANGE', /numClasses is 2/)),
    C('data.ArrayDataset: scale NaN', () => new D.ArrayDataset({ images: new Uint8Array(4), labels: Int32Array.of(0), shape: [1, 2, 2], scale: NaN }), E('ERR_RN_ARG', re('ArrayDataset(scale)'))),
    C('data.ArrayDataset: normalization std 0', () => new D.ArrayDataset({ images: new Uint8Array(4), labels: Int32Array.of(0), shape: [1, 2, 2], normalization: { mean: [0], std: [0] } }), E('ERR_RN_ARG', re('ArrayDataset(normalization)'))),
    C('data.ArrayDataset.getBatch: index out of range', () => ds().getBatch(Int32Array.of(0, 9)), E(/^ERR_RN_(RANGE|INDEX)$/)),
    C('data.ArrayDataset.getBatch: index -1', () => ds().getBatch(Int32Array.of(-1)), E(/^ERR_RN_(RANGE|INDEX)$/)),
    C('data.ArrayDataset.getBatch: a plain array', () => ds().getBatch([0] as never), E('ERR_RN_ARG')),
    C('data.ArrayDataset.getBatch: empty', () => ds().getBatch(new Int32Array(0)), 'ok'),
    C('data.DataLoader: batchSize 0', () => new D.DataLoader(ds(), { batchSize: 0 }), E('ERR_RN_RANGE', /batchSize/)),
    C('data.DataLoader: batchSize 1.5', () => new D.DataLoader(ds(), { batchSize: 1.5 }), E('ERR_RN_RANGE', /batchSize/)),
    C('data.DataLoader: batchSize "8"', () => new D.DataLoader(ds(), { batchSize: '8' as never }), E('ERR_RN_ARG', /batchSize/)),
    C('data.DataLoader: batchSize 2^53 (one batch)', () => drain(new D.DataLoader(ds(), { batchSize: 2 ** 53 - 1, workers: false })), 'ok'),
    C('data.DataLoader: prefetch -1', () => new D.DataLoader(ds(), { prefetch: -1 }), E('ERR_RN_RANGE', /prefetch/)),
    C('data.DataLoader: workers -1', () => new D.DataLoader(ds(), { workers: -1 }), E('ERR_RN_RANGE', /workers/)),
    C('data.DataLoader: workers 1e6', () => new D.DataLoader(ds(), { workers: 1e6 }), E(/^ERR_RN_(RANGE)$/, /workers/)),
    C('data.DataLoader: seed -5', () => new D.DataLoader(ds(), { seed: -5 }), E('ERR_RN_RANGE', /seed/)),
    C('data.DataLoader: transform "x"', () => new D.DataLoader(ds(), { transform: 'x' as never }), E('ERR_RN_ARG', /transform/)),
    C('data.DataLoader: dataset {}', () => new D.DataLoader({} as never), E('ERR_RN_ARG', re('DataLoader(dataset)'))),
    C('data.DataLoader: dataset with length -1', () => new D.DataLoader({ length: -1, shape: [1, 1, 1], numClasses: 1, getBatch: () => null } as never), E('ERR_RN_ARG', re('DataLoader(dataset)'))),
    C('data.DataLoader: empty dataset, iterating', () => drain(new D.DataLoader(new D.ArrayDataset({ images: new Uint8Array(0), labels: new Int32Array(0), shape: [1, 2, 2] }), { workers: false })), 'ok'),
    C('data.DataLoader: a transform that throws (inline)', () => drain(new D.DataLoader(ds(), { workers: false, transform: () => { throw rn.io ? Object.assign(new Error('boom'), { code: 'ERR_RN_ARG' }) : 0; } })), E('ERR_RN_ARG', /boom/)),
    C('data.DataLoader: a transform that returns garbage (inline)', () => drain(new D.DataLoader(ds(), { workers: false, transform: () => 5 as never })), E(/^ERR_RN_/)),
    C('data.DataLoader: a transform with the wrong element count (worker)', () => drain(new D.DataLoader(ds(), { workers: 1, transform: D.transforms.normalize([0, 0], [1, 1]) })), E('ERR_RN_SHAPE', /normalize: batch has 1 channels but mean and std have 2/)),
    C('data.DataLoader: a getBatch that returns garbage', () => drain(new D.DataLoader({ length: 2, shape: [1, 1, 1], numClasses: 1, getBatch: () => ({ images: 5, labels: 'x' }) } as never, { workers: false })), E(/^ERR_RN_/)),
    C('data.DataLoader.loadState: garbage', () => new D.DataLoader(ds()).loadState({ epoch: -1 } as never), E('ERR_RN_ARG', re('loadState(state)'))),
    C('data.DataLoader.loadState: another loader', () => { const l = new D.DataLoader(ds(), { batchSize: 2 }); const s = l.state(); return new D.DataLoader(ds(), { batchSize: 3 }).loadState(s); }, E('ERR_RN_STATE', /different loader/)),
    C('data.DataLoader.loadState: batch past the end', () => { const l = new D.DataLoader(ds(), { batchSize: 2 }); return l.loadState({ ...l.state(), batch: 99 }); }, E('ERR_RN_STATE', /past the end/)),
    C('data.transforms.normalize: std 0', () => D.transforms.normalize([0], [0]), E(/^ERR_RN_(RANGE|ARG)$/, /std/)),
    C('data.transforms.normalize: std NaN', () => D.transforms.normalize([0], [NaN]), E(/^ERR_RN_(RANGE|ARG)$/, /std/)),
    C('data.transforms.normalize: lengths differ', () => D.transforms.normalize([0, 0], [1]), E('ERR_RN_SHAPE', /std/)),
    C('data.transforms.randomCrop: size 0', () => D.transforms.randomCrop(0), E('ERR_RN_RANGE', /size/)),
    C('data.transforms.randomCrop: padding -1', () => D.transforms.randomCrop(2, -1), E(/^ERR_RN_(RANGE|ARG)$/, /padding/)),
    C('data.transforms.randomCrop: larger than the image', () => D.transforms.randomCrop(9)(new Float32Array(4), [1, 1, 2, 2], new D.Rng(0)), E('ERR_RN_SHAPE', /randomCrop: crop 9x9 is larger/)),
    C('data.transforms.randomHorizontalFlip: p 2', () => D.transforms.randomHorizontalFlip(2), E(/^ERR_RN_(RANGE|ARG)$/, /\bp\b/)),
    C('data.transforms.randomErasing: scale [0.5, 0.1]', () => D.transforms.randomErasing({ scale: [0.5, 0.1] }), E(/^ERR_RN_(RANGE|ARG)$/, /scale/)),
    C('data.transforms.compose: [5]', () => D.transforms.compose([5 as never]), E('ERR_RN_ARG', /transforms/)),
    C('data.transforms.transformFromSpec: garbage', () => D.transformFromSpec({ name: 'nope' } as never), E(/^ERR_RN_/)),
    C('data.Rng: seed -1', () => new D.Rng(-1), E('ERR_RN_RANGE', /seed/)),
    C('data.MNIST: root ""', () => new D.MNIST({ root: '' }), E('ERR_RN_ARG', re('MNIST(root)'))),
    C('data.CIFAR10: missing folder', () => new D.CIFAR10({ root: '/nonexistent/cifar' }), E('ERR_RN_LOAD', /CIFAR10: cifar10: dataset files not found; tried \/nonexistent\/cifar\/data_batch_1.bin/)),
    C('data.CIFAR100: labelMode "x"', () => new D.CIFAR100({ root: '/tmp', labelMode: 'x' as never }), E('ERR_RN_ARG', re('CIFAR100(labelMode)'))),
    C('data.MnistDigits: trainSize 10000', () => new D.MnistDigits({ train: true, trainSize: 10000 }), E('ERR_RN_RANGE', re('MnistDigits(trainSize)'))),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// File readers: safetensors, IDX, CIFAR, checkpoints — truncated, oversized, self-contradictory
// and random-byte files. Every failure is ERR_RN_FORMAT (or ERR_RN_LOAD for a missing file) and
// its message names the file.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as io from '../../lib/io';
import { parseIdx, readIdx, encodeIdx, readMnist } from '../../lib/data/idx';
import { parseCifar, readCifar10, readCifar100 } from '../../lib/data/cifar';

/** A seeded byte generator (xorshift32), so random-byte cases are the same on every run. */
export function seededBytes(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** [u64 length][header JSON][data]; `len` overrides the length prefix. */
export function safetensorsBytes(header: unknown, data: Buffer = Buffer.alloc(0), len?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(8);
  pre.writeBigUInt64LE(len ?? BigInt(json.length));
  return Buffer.concat([pre, json, data]);
}

let tmpDir: string | null = null;
/** A per-process scratch folder (removed at exit). */
export function scratch(): string {
  if (!tmpDir) {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resnode-corpus-'));
    const d = tmpDir;
    process.once('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  }
  return tmpDir;
}
function file(name: string, bytes: Buffer | Uint8Array): string {
  const p = path.join(scratch(), name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, bytes);
  return p;
}

const FORMAT = (f: string) => E('ERR_RN_FORMAT', re(f));

/** Bad safetensors images: [label, bytes, message fragment]. */
export function badSafetensors(): [string, Buffer, RegExp][] {
  const t = (dtype: string, shape: unknown, offsets: unknown) => ({ w: { dtype, shape, data_offsets: offsets } });
  const d16 = Buffer.alloc(16);
  const valid = io.serializeSafetensors({ a: { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }, b: { dtype: 'I64', shape: [1], data: BigInt64Array.of(7n) } }, { k: 'v' });
  const out: [string, Buffer, RegExp][] = [
    ['an empty file', Buffer.alloc(0), /too short for the 8-byte header length/],
    ['5 bytes', Buffer.alloc(5), /too short/],
    ['a header length past the end', safetensorsBytes({}, Buffer.alloc(0), 1000n), /exceeds the \d+ bytes after the length prefix/],
    ['a header length of 2^63', safetensorsBytes({}, Buffer.alloc(0), 1n << 63n), /exceeds the limit/],
    ['a header length of 2^64 - 1', safetensorsBytes({}, Buffer.alloc(0), (1n << 64n) - 1n), /exceeds the limit/],
    ['a header that is not UTF-8', Buffer.concat([safetensorsBytes('{}').subarray(0, 8), Buffer.from([0xff, 0xfe])]).fill(2, 0, 1).fill(0, 1, 8), /not valid UTF-8/],
    ['a header that is not JSON', safetensorsBytes('{"a": '), /not valid JSON/],
    ['a header that is an array', safetensorsBytes('[]'), /must be a JSON object but is an array/],
    ['a header that is null', safetensorsBytes('null'), /must be a JSON object but is null/],
    ['a header with a BOM', safetensorsBytes('\ufeff{}'), /not valid JSON/],
    ['a tensor entry that is a number', safetensorsBytes({ w: 5 }), /tensor "w" must be an object/],
    ['an unknown dtype', safetensorsBytes(t('F128', [1], [0, 16]), d16), /unknown dtype "F128"/],
    ['an unsupported dtype', safetensorsBytes(t('U16', [8], [0, 16]), d16), /dtype U16, which resnode does not support/],
    ['a missing dtype', safetensorsBytes({ w: { shape: [4], data_offsets: [0, 16] } }, d16), /unknown dtype undefined/],
    ['a negative dim', safetensorsBytes(t('F32', [-4], [0, 16]), d16), /invalid shape \[-4\]/],
    ['a fractional dim', safetensorsBytes(t('F32', [1.5], [0, 16]), d16), /invalid shape/],
    ['a string dim', safetensorsBytes(t('F32', ['4'], [0, 16]), d16), /invalid shape/],
    ['a dim of 2^53', safetensorsBytes(t('F32', [2 ** 53], [0, 16]), d16), /invalid shape|data_offsets span/],
    ['dims whose product exceeds 2^64', safetensorsBytes(t('F32', [2 ** 40, 2 ** 40], [0, 16]), d16), /\(1208925819614629174706176 elements of F32 = 4835703278458516698824704 bytes\) but data_offsets span 16 bytes/],
    ['dims whose product exceeds 2^128', safetensorsBytes(t('F32', [2 ** 50, 2 ** 50, 2 ** 50], [0, 16]), d16), /more than 2\^128 elements/],
    ['a million dims', safetensorsBytes(t('U8', new Array(1_000_000).fill(2), [0, 16]), d16), /more than 2\^128 elements/],
    ['shape and offsets that disagree', safetensorsBytes(t('F32', [3], [0, 16]), d16), /shape \[3\] \(3 elements of F32 = 12 bytes\) but data_offsets span 16 bytes/],
    ['offsets of length 3', safetensorsBytes(t('F32', [4], [0, 8, 16]), d16), /invalid data_offsets/],
    ['begin > end', safetensorsBytes(t('F32', [0], [16, 8]), d16), /begin > end/],
    ['offsets past the data', safetensorsBytes(t('F32', [8], [0, 32]), d16), /beyond the end of the 16-byte data section/],
    ['negative offsets', safetensorsBytes(t('F32', [4], [-16, 0]), d16), /invalid data_offsets/],
    ['overlapping tensors', safetensorsBytes({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, d16), /overlapping data_offsets/],
    ['non-string metadata', safetensorsBytes({ __metadata__: { k: 5 } }), /__metadata__ value for key "k" must be a string but is a number/],
    ['metadata that is an array', safetensorsBytes({ __metadata__: [] }), /__metadata__ must be an object/],
    ['a file cut inside the data', valid.subarray(0, valid.length - 3), /beyond the end|truncated/],
    ['a file cut inside the header', valid.subarray(0, 20), /exceeds the \d+ bytes after the length prefix \(truncated file\?\)/],
    ['a file cut inside the length prefix', valid.subarray(0, 7), /too short/],
  ];
  for (let i = 0; i < 6; i++) out.push([`random bytes #${i}`, seededBytes(1000 + i, 64 + 97 * i), /./]);
  // a plausible prefix followed by random bytes
  for (let i = 0; i < 4; i++) {
    const body = seededBytes(2000 + i, 40);
    out.push([`a valid length prefix and random header #${i}`, Buffer.concat([safetensorsBytes('x'.repeat(40)).subarray(0, 8), body]), /./]);
  }
  return out;
}

export function readerCorpus(): Case[] {
  const out: Case[] = [];
  // ---- safetensors: every reader entry point on every bad image ----
  for (const [label, bytes, msg] of badSafetensors()) {
    const name = `bad-${label.replace(/[^a-z0-9]+/gi, '-')}.safetensors`;
    const f = file(path.join('st', name), bytes);
    const named = (m: RegExp) => E('ERR_RN_FORMAT', new RegExp(`^safetensors: ${lit(f)}: .*${m.source}`));
    out.push(
      C(`safetensors.parseSafetensors: ${label}`, () => io.parseSafetensors(bytes, name), E('ERR_RN_FORMAT', new RegExp(`^safetensors: ${lit(name)}: .*${msg.source}`))),
      C(`safetensors.readSafetensorsFile: ${label}`, () => io.readSafetensorsFile(f), named(msg)),
      C(`safetensors.readSafetensorsFileAsync: ${label}`, () => io.readSafetensorsFileAsync(f), named(msg)),
      C(`io.loadSafetensors: ${label}`, () => io.loadSafetensors(f), named(msg)),
      C(`io.loadCheckpoint: ${label}`, () => io.loadCheckpoint(f, { model: new rn.nn.Linear(2, 2) }), named(msg)),
    );
  }
  const goodSt = file('st/good.safetensors', io.serializeSafetensors({
    f32: { dtype: 'F32', shape: [2], data: Float32Array.of(1, NaN) }, f16: { dtype: 'F16', shape: [1], data: Uint16Array.of(0x7c00) },
    i64: { dtype: 'I64', shape: [], data: BigInt64Array.of(-1n) }, empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
    bool: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(0, 1) }, f64: { dtype: 'F64', shape: [1], data: Float64Array.of(1e300) },
  }));
  out.push(
    C('io.loadSafetensors: every dtype, NaN/Inf values, a 0-d and an empty tensor', () => io.loadSafetensors(goodSt), 'nan-propagates'),
    C('safetensors: trailing bytes after the data are allowed', () => io.parseSafetensors(Buffer.concat([io.serializeSafetensors({ a: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) } }), Buffer.alloc(9)]), 't'), 'ok'),
    C('safetensors: a "__proto__" tensor name stays data', () => io.parseSafetensors(safetensorsBytes({ __proto__: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, Buffer.alloc(1)), 'p'), 'ok'),
    C('safetensors.parseSafetensors: a string, not bytes', () => io.parseSafetensors('abc' as never), E('ERR_RN_ARG', /Expected a Uint8Array for buf/)),
    C('safetensors.readSafetensorsFile: path ""', () => io.readSafetensorsFile(''), E('ERR_RN_ARG', /for path/)),
    C('safetensors.readSafetensorsFile: a missing file (the fs error, naming it)', () => io.readSafetensorsFile('/nonexistent/x.safetensors'), E('ENOENT', /\/nonexistent\/x.safetensors/)),
    C('safetensors.readSafetensorsFile: a directory', () => io.readSafetensorsFile(scratch()), E(/^(EISDIR|ERR_RN_FORMAT)$/)),
    C('io.saveSafetensors: a non-tensor value', () => io.saveSafetensors(path.join(scratch(), 'o.safetensors'), { a: 5 as never }), E('ERR_RN_ARG', /saveSafetensors\(tensors\["a"\]\)/)),
    C('io.saveSafetensors: a disposed tensor', () => io.saveSafetensors(path.join(scratch(), 'o.safetensors'), { a: disposed([2]) }), E('ERR_RN_DISPOSED')),
    C('io.saveSafetensors: floatDtype "F8"', () => io.saveSafetensors(path.join(scratch(), 'o.safetensors'), { a: ramp([2]) }, undefined, { floatDtype: 'F8' as never }), E('ERR_RN_ARG', /floatDtype/)),
    C('io.saveSafetensors: into a missing folder (the fs error)', () => io.saveSafetensors('/nonexistent/dir/o.safetensors', { a: ramp([2]) }), E('ENOENT')),
    C('io.saveSafetensors: metadata with a number', () => io.saveSafetensors(path.join(scratch(), 'o.safetensors'), { a: ramp([2]) }, { k: 5 as never }), E('ERR_RN_ARG', /metadata\["k"\]/)),
    C('io.serializeSafetensors: a lone surrogate in a name', () => io.serializeSafetensors({ ['\ud800']: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) } }), E('ERR_RN_ARG', /a tensor name/)),
    C('io.serializeSafetensors: data/shape disagree', () => io.serializeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), E('ERR_RN_SHAPE', /has shape \[3\]/)),
  );

  // ---- IDX ----
  const idx = encodeIdx(Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i), [2, 3, 3], 'u8');
  const be32 = (...v: number[]) => { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeUInt32BE(x >>> 0, 4 * i)); return b; };
  const badIdx: [string, Buffer, RegExp][] = [
    ['an empty file', Buffer.alloc(0), /file has 0 bytes, too short for the 4-byte IDX magic/],
    ['3 bytes', Buffer.from([0, 0, 8]), /too short/],
    ['a bad magic', Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 5]), /bad magic 01 00 08 01/],
    ['an unknown element type', Buffer.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 5]), /unknown element type 0x0a/],
    ['0 dimensions', Buffer.from([0, 0, 8, 0]), /0 dimensions/],
    ['5 dimensions', Buffer.concat([Buffer.from([0, 0, 8, 5]), be32(1, 1, 1, 1, 1), Buffer.alloc(1)]), /5 dimensions/],
    ['a truncated header', Buffer.concat([Buffer.from([0, 0, 8, 3]), be32(2)]), /too short for a header with 3 dimensions/],
    ['a dimension of 0', Buffer.concat([Buffer.from([0, 0, 8, 2]), be32(0, 5)]), /dimension 0 equal to 0/],
    ['too little data', idx.subarray(0, idx.length - 1), /header says 2 images of 3x3 \(18 bytes\) but the file has 17 bytes of data/],
    ['too much data', Buffer.concat([idx, Buffer.alloc(1)]), /but the file has 19 bytes of data/],
    ['dims whose product exceeds 2^53', Buffer.concat([Buffer.from([0, 0, 0x0e, 4]), be32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)]), /over the limit of \d+ bytes/],
    ['f64 data cut mid-element', Buffer.concat([Buffer.from([0, 0, 0x0e, 1]), be32(2), Buffer.alloc(12)]), /but the file has 12 bytes of data/],
    ['corrupt gzip', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]), /corrupt gzip data/],
    ['truncated gzip', zlib.gzipSync(idx).subarray(0, 20), /corrupt gzip|but the decompressed file has|too short/],
    ['gzip that inflates past its header (a bomb)', zlib.gzipSync(Buffer.concat([idx, Buffer.alloc(1 << 22)])), /the decompressed file has more than 18 bytes of data/],
  ];
  for (let i = 0; i < 6; i++) badIdx.push([`random bytes #${i}`, seededBytes(3000 + i, 20 + 31 * i), /./]);
  for (let i = 0; i < 3; i++) badIdx.push([`a valid magic and random bytes #${i}`, Buffer.concat([Buffer.from([0, 0, 8, 3]), seededBytes(3100 + i, 24)]), /./]);
  for (const [label, bytes, msg] of badIdx) {
    const name = `bad-${label.replace(/[^a-z0-9^]+/gi, '-')}.idx`;
    const f = file(path.join('idx', name), bytes);
    out.push(
      C(`idx.parseIdx: ${label}`, () => parseIdx(bytes, name), E('ERR_RN_FORMAT', new RegExp(`^idx: ${lit(name)}: .*${msg.source}`))),
      C(`idx.readIdx: ${label}`, () => readIdx(f), E('ERR_RN_FORMAT', new RegExp(`^idx: ${lit(f)}: .*${msg.source}`))),
    );
  }
  out.push(
    C('idx.readIdx: options.maxBytes 0', () => readIdx(file('idx/ok.idx', idx), { maxBytes: 0 }), E('ERR_RN_RANGE', /options.maxBytes/)),
    C('idx.readIdx: options.maxBytes "1"', () => readIdx(file('idx/ok.idx', idx), { maxBytes: '1' as never }), E('ERR_RN_ARG', /options.maxBytes/)),
    C('idx.readIdx: a file over maxBytes', () => readIdx(file('idx/ok.idx', idx), { maxBytes: 10 }), FORMAT('over the limit of 10 bytes')),
    C('idx.readIdx: a missing file', () => readIdx('/nonexistent/x.idx'), E('ERR_RN_LOAD', /idx: \/nonexistent\/x.idx: cannot read file/)),
    C('idx.readIdx: a directory', () => readIdx(scratch()), E('ERR_RN_LOAD', /not a regular file/)),
    C('idx.parseIdx: a valid file', () => parseIdx(idx, 'ok.idx'), 'ok'),
    C('idx.parseIdx: a string', () => parseIdx('abc' as never, 'x'), E('ERR_RN_ARG', /for buf/)),
    C('idx.encodeIdx: shape [0]', () => encodeIdx([], [0], 'u8'), E('ERR_RN_ARG', /for shape/)),
    C('idx.encodeIdx: dtype "u16"', () => encodeIdx([1], [1], 'u16' as never), E('ERR_RN_ARG', /for dtype/)),
  );
  // readMnist: images and labels that disagree
  const mroot = path.join(scratch(), 'mnist-bad');
  fs.mkdirSync(mroot, { recursive: true });
  fs.writeFileSync(path.join(mroot, 'train-images-idx3-ubyte'), encodeIdx(new Uint8Array(2 * 2 * 2), [2, 2, 2], 'u8'));
  fs.writeFileSync(path.join(mroot, 'train-labels-idx1-ubyte'), encodeIdx(new Uint8Array(3), [3], 'u8'));
  fs.writeFileSync(path.join(mroot, 't10k-images-idx3-ubyte'), encodeIdx(new Uint8Array(8), [8], 'u8'));
  fs.writeFileSync(path.join(mroot, 't10k-labels-idx1-ubyte'), encodeIdx(new Uint8Array(8), [8], 'u8'));
  out.push(
    C('idx.readMnist: 2 images but 3 labels', () => readMnist(mroot), E('ERR_RN_FORMAT', new RegExp(`mnist: ${lit(mroot)}/train-images-idx3-ubyte has 2 images but ${lit(mroot)}/train-labels-idx1-ubyte has 3 labels`))),
    C('idx.readMnist: 1-D images', () => readMnist(mroot, { train: false }), E('ERR_RN_FORMAT', /expected u8 images of shape \[N, H, W\] but found u8 \[8\]/)),
    C('idx.readMnist: an empty folder', () => readMnist(scratch()), E('ERR_RN_LOAD', /mnist: no images file found; tried/)),
    C('data.MNIST: images and labels disagree (named)', () => new rn.data.MNIST({ root: mroot }), E('ERR_RN_FORMAT', /^MNIST: mnist: .*has 2 images but .* has 3 labels/)),
  );

  // ---- CIFAR ----
  const rec10 = (label: number) => Buffer.concat([Buffer.from([label]), Buffer.alloc(3072, 7)]);
  const badCifar: [string, Buffer, 'cifar10' | 'cifar100', RegExp][] = [
    ['an empty file', Buffer.alloc(0), 'cifar10', /file has 0 bytes, not a positive multiple of the CIFAR-10 record size 3073/],
    ['a record and a half', Buffer.concat([rec10(1), rec10(2).subarray(0, 1500)]), 'cifar10', /1 records and 1500 bytes left over/],
    ['label 10 in CIFAR-10', Buffer.concat([rec10(3), rec10(10)]), 'cifar10', /record 1 has label 10 but CIFAR-10 has 10 classes/],
    ['coarse label 20 in CIFAR-100', Buffer.concat([Buffer.from([20, 5]), Buffer.alloc(3072)]), 'cifar100', /record 0 has coarse label 20 but CIFAR-100 has 20 coarse classes/],
    ['fine label 255 in CIFAR-100', Buffer.concat([Buffer.from([1, 255]), Buffer.alloc(3072)]), 'cifar100', /record 0 has fine label 255/],
    ['a CIFAR-10 file read as CIFAR-100', Buffer.concat([rec10(1), rec10(2)]), 'cifar100', /not a positive multiple of the CIFAR-100 record size 3074/],
    ['random bytes', seededBytes(4000, 3073 * 2), 'cifar10', /label \d+ but CIFAR-10 has 10 classes/],
  ];
  for (const [label, bytes, variant, msg] of badCifar) {
    const name = `bad-${label.replace(/[^a-z0-9]+/gi, '-')}.bin`;
    out.push(C(`cifar.parseCifar (${variant}): ${label}`, () => parseCifar(bytes, name, { variant }), E('ERR_RN_FORMAT', new RegExp(`^cifar: ${lit(name)}: .*${msg.source}`))));
  }
  const croot = path.join(scratch(), 'cifar-10-bad');
  fs.mkdirSync(croot, { recursive: true });
  for (let i = 1; i <= 5; i++) fs.writeFileSync(path.join(croot, `data_batch_${i}.bin`), i === 4 ? rec10(1).subarray(0, 100) : rec10(i));
  const c100 = path.join(scratch(), 'cifar-100-bad');
  fs.mkdirSync(c100, { recursive: true });
  fs.writeFileSync(path.join(c100, 'test.bin'), seededBytes(4100, 3074 * 3));
  out.push(
    C('cifar.readCifar10: one truncated batch of five', () => readCifar10(croot), E('ERR_RN_FORMAT', new RegExp(`cifar: ${lit(path.join(croot, 'data_batch_4.bin'))}: file has 100 bytes`))),
    C('cifar.readCifar10: test batch missing', () => readCifar10(croot, { train: false }), E('ERR_RN_LOAD', /cifar10: dataset files not found; tried .*test_batch.bin/)),
    C('cifar.readCifar100: random bytes', () => readCifar100(c100, { train: false }), E('ERR_RN_FORMAT', new RegExp(`cifar: ${lit(path.join(c100, 'test.bin'))}: record \\d+ has`))),
    C('cifar.parseCifar: options missing', () => parseCifar(rec10(1), 'x', undefined as never), E('ERR_RN_ARG', /for options/)),
    C('cifar.parseCifar: variant "cifar11"', () => parseCifar(rec10(1), 'x', { variant: 'cifar11' as never }), E('ERR_RN_ARG', /options.variant/)),
    C('cifar.parseCifar: coarse labels of CIFAR-10', () => parseCifar(rec10(1), 'x', { variant: 'cifar10', labelMode: 'coarse' }), E('ERR_RN_ARG', /options.labelMode/)),
    C('cifar.parseCifar: a valid record', () => parseCifar(rec10(9), 'x', { variant: 'cifar10' }), 'ok'),
    C('data.CIFAR10: a truncated batch (named)', () => new rn.data.CIFAR10({ root: croot }), E('ERR_RN_FORMAT', /^CIFAR10: cifar: .*data_batch_4.bin: file has 100 bytes/)),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints and the CLI

import { main as cliMain } from '../../lib/cli/main';

function tinyModel(): rn.nn.Module {
  return new rn.nn.Sequential(new rn.nn.Conv2d(1, 2, 3, { padding: 1 }), new rn.nn.BatchNorm2d(2), new rn.nn.ReLU(), new rn.nn.Flatten(), new rn.nn.Linear(2 * 4 * 4, 3));
}

/** A checkpoint of tinyModel, then the same file with its metadata edited (the checksum covers tensors only). */
function checkpoints(): { good: string; edit: (name: string, meta: Record<string, string | undefined>) => string; bytes: Buffer } {
  const good = path.join(scratch(), 'ckpt', 'good.safetensors');
  fs.mkdirSync(path.dirname(good), { recursive: true });
  const m = tinyModel();
  const opt = new rn.optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  rn.tidy(() => {
    const loss = rn.F.crossEntropy(m.forward(ramp([2, 1, 4, 4])), rn.tensor(Int32Array.of(0, 2)));
    loss.backward();
    opt.step();
  });
  io.saveCheckpoint(good, { model: m, optimizer: opt, meta: { epoch: 1, config: { model: 'resnet20', dataset: 'mnist-digits' } }, extra: { t: rn.ones([2]) } });
  const bytes = fs.readFileSync(good);
  const edit = (name: string, meta: Record<string, string | undefined>) => {
    const c = io.parseSafetensors(bytes, good);
    const md: Record<string, string> = { ...c.metadata };
    for (const [k, v] of Object.entries(meta)) {
      if (v === undefined) delete md[k];
      else md[k] = v;
    }
    return file(path.join('ckpt', name), io.serializeSafetensors(c.tensors, md));
  };
  return { good, edit, bytes };
}

export function checkpointCorpus(): Case[] {
  const { good, edit, bytes } = checkpoints();
  const load = (f: string, over: Partial<io.LoadCheckpointArgs> = {}) => () => {
    const m = tinyModel();
    return io.loadCheckpoint(f, { model: m, optimizer: new rn.optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 }), ...over });
  };
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 5] ^= 0x40;
  const out: Case[] = [
    C('checkpoint: a valid file', load(good), 'ok'),
    C('checkpoint.readCheckpoint: a valid file', () => io.readCheckpoint(good), 'ok'),
    C('checkpoint: a flipped data bit', load(file('ckpt/flipped.safetensors', flipped)), FORMAT('checksum mismatch')),
    C('checkpoint: cut in half', load(file('ckpt/half.safetensors', bytes.subarray(0, bytes.length >> 1))), E('ERR_RN_FORMAT', /^safetensors: .*half.safetensors: .*truncated file/)),
    C('checkpoint: not a checkpoint (plain weights)', load(file('ckpt/weights.safetensors', io.serializeSafetensors({ a: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } }))), FORMAT('not a resnode checkpoint (metadata format is null)')),
    C('checkpoint: version 99', load(edit('v99.safetensors', { version: '99' })), FORMAT('version 99 is newer than this resnode supports')),
    C('checkpoint: version "abc"', load(edit('vabc.safetensors', { version: 'abc' })), E('ERR_RN_FORMAT', /vabc.safetensors/)),
    C('checkpoint: checksum missing', load(edit('nosum.safetensors', { sha256: undefined })), FORMAT('checksum mismatch')),
    C('checkpoint: meta that is not JSON', load(edit('metajson.safetensors', { meta: '{' })), FORMAT('metadata is not valid JSON')),
    C('checkpoint: meta missing', load(edit('nometa.safetensors', { meta: undefined })), E('ERR_RN_FORMAT', /nometa.safetensors/)),
    C('checkpoint: meta null', load(edit('metanull.safetensors', { meta: 'null' })), E('ERR_RN_FORMAT', /metanull.safetensors: .*meta/)),
    C('checkpoint: meta an array', load(edit('metaarr.safetensors', { meta: '[1]' })), E('ERR_RN_FORMAT', /metaarr.safetensors: .*meta/)),
    C('checkpoint: a bad RNG state in meta', load(edit('rng.safetensors', { meta: JSON.stringify({ epoch: 1, rng: { seed: -1, offset: 'x' } }) })), E('ERR_RN_FORMAT', /rng.safetensors: .*rng/)),
    C('checkpoint: optimizer refers to a missing tensor', load(edit('opt-missing.safetensors', { optimizer: JSON.stringify({ state: { 0: { momentum_buffer: { __tensor__: 'nope' } } }, paramGroups: [] }) })), FORMAT('refers to a missing tensor "nope"')),
    C('checkpoint: optimizer state of another shape', load(edit('opt-garbage.safetensors', { optimizer: JSON.stringify({ state: 5, paramGroups: 'x' }) })), E(/^ERR_RN_(FORMAT|STATE|ARG)$/)),
    C('checkpoint: optimizer null but an optimizer given', load(edit('opt-null.safetensors', { optimizer: 'null' })), E('ERR_RN_STATE', /holds no optimizer state/)),
    C('checkpoint: optimizer not JSON', load(edit('opt-json.safetensors', { optimizer: 'nope' })), FORMAT('metadata is not valid JSON')),
    C('checkpoint: into a different model', () => io.loadCheckpoint(good, { model: new rn.nn.Linear(2, 2) }), E('ERR_RN_STATE', /has no "weight" \(shape \[2, 2\] in the model\)/)),
    C('checkpoint: into a model with one more layer', () => io.loadCheckpoint(good, { model: new rn.nn.Sequential(...(tinyModel() as rn.nn.Sequential).children(), new rn.nn.ReLU(), new rn.nn.Linear(3, 3)) }), E('ERR_RN_STATE', /has no "6.weight"/)),
    C('checkpoint: into a model with wider layers', () => io.loadCheckpoint(good, { model: new rn.nn.Sequential(new rn.nn.Conv2d(1, 4, 3, { padding: 1 }), new rn.nn.BatchNorm2d(4), new rn.nn.ReLU(), new rn.nn.Flatten(), new rn.nn.Linear(4 * 4 * 4, 3)) }), E('ERR_RN_STATE', /"0.weight" has shape \[2, 1, 3, 3\] in .* but \[4, 1, 3, 3\] in the model/)),
    C('checkpoint: model null', () => io.loadCheckpoint(good, { model: null as never }), E('ERR_RN_ARG', /loadCheckpoint\(model\)/)),
    C('checkpoint: args missing', () => io.loadCheckpoint(good, undefined as never), E('ERR_RN_ARG', /loadCheckpoint/)),
    C('checkpoint: a missing file', load('/nonexistent/ckpt.safetensors'), E('ENOENT', /\/nonexistent\/ckpt.safetensors/)),
    C('checkpoint.saveCheckpoint: model 5', () => io.saveCheckpoint(path.join(scratch(), 'ckpt', 'x.safetensors'), { model: 5 as never }), E('ERR_RN_ARG', /saveCheckpoint\(model\)/)),
    C('checkpoint.saveCheckpoint: a bfloat16 tensor in extra', () => io.saveCheckpoint(path.join(scratch(), 'ckpt', 'x.safetensors'), { model: tinyModel(), extra: { t: rn.ones([2]).to('bfloat16') } }), E(/^ERR_RN_DTYPE$/)),
    C('checkpoint.saveCheckpoint: a disposed tensor in extra', () => io.saveCheckpoint(path.join(scratch(), 'ckpt', 'x.safetensors'), { model: tinyModel(), extra: { t: disposed([2]) } }), E('ERR_RN_DISPOSED')),
    C('checkpoint.saveCheckpoint: NaN and Infinity in meta survive', () => { const f = path.join(scratch(), 'ckpt', 'nan.safetensors'); io.saveCheckpoint(f, { model: tinyModel(), extra: { a: NaN, b: -Infinity } }); const e = io.readCheckpoint(f).extra as { a: number; b: number }; if (!Number.isNaN(e.a) || e.b !== -Infinity) throw new Error('lost'); }, 'ok'),
  ];
  for (let i = 0; i < 4; i++) {
    const cut = Math.floor((bytes.length * (i + 1)) / 5);
    out.push(C(`checkpoint: truncated at ${cut} of ${bytes.length} bytes`, load(file(`ckpt/cut${i}.safetensors`, bytes.subarray(0, cut))), E('ERR_RN_FORMAT', new RegExp(`cut${i}.safetensors`))));
  }
  return out;
}

/** Runs `resnode <argv>` in-process; a non-zero exit becomes an Error with the code printed in brackets. */
export async function cli(argv: string[]): Promise<string> {
  const logs: string[] = [];
  const errs: string[] = [];
  const log = console.log;
  const error = console.error;
  const write = process.stdout.write;
  console.log = (...a: unknown[]) => void logs.push(a.join(' '));
  console.error = (...a: unknown[]) => void errs.push(a.join(' '));
  // train writes its progress to process.stdout directly
  process.stdout.write = ((chunk: unknown) => (logs.push(String(chunk)), true)) as typeof process.stdout.write;
  let rc: number;
  try {
    rc = await cliMain(argv);
  } finally {
    console.log = log;
    console.error = error;
    process.stdout.write = write;
  }
  if (rc === 0) return logs.join('\n');
  const text = errs.join('\n') || logs.join('\n');
  const code = /\[(ERR_RN_[A-Z_]+|E[A-Z]+)\]\s*$/.exec(text)?.[1] ?? `EXIT_${rc}`;
  throw Object.assign(new Error(text), { code, exitCode: rc });
}

export function cliCorpus(): Case[] {
  const { good, edit } = checkpoints();
  const out = path.join(scratch(), 'runs');
  const noModel = edit('cli-nomodel.safetensors', { meta: JSON.stringify({ epoch: 1, config: {} }) });
  const junk = file('cli-junk.safetensors', seededBytes(5000, 300));
  const metrics = file('runs-bad/metrics.jsonl', Buffer.from('{"type":"epoch","epoch":1}\nnot json\n{"type":"epoch","epoch":2}\n'));
  const base = ['--dataset', 'mnist-digits', '--limit', '32', '--test-limit', '16', '--batch-size', '16', '--epochs', '1', '--no-workers', '--out'];
  const train = (extra: string[], o = `${out}/t`) => () => cli(['train', ...base, o, ...extra]);
  const A = (m: string | RegExp) => E('ERR_RN_ARG', typeof m === 'string' ? re(m) : m);
  const R = (m: string | RegExp) => E('ERR_RN_RANGE', typeof m === 'string' ? re(m) : m);
  return [
    C('cli: no command (usage)', () => cli([]), 'ok'),
    C('cli: unknown command', () => cli(['nope']), A('unknown command "nope"')),
    C('cli train: --help', () => cli(['train', '--help']), 'ok'),
    C('cli train: unknown option', train(['--nope']), A('unknown option --nope')),
    C('cli train: --epochs abc', train(['--epochs', 'abc']), A('expected a number for --epochs but received "abc"')),
    C('cli train: --lr NaN', train(['--lr', 'NaN']), A('expected a number for --lr')),
    C('cli train: --lr without a value', () => cli(['train', '--lr']), A('option --lr needs a value')),
    C('cli train: --epochs 0', train(['--epochs', '0']), R('--epochs')),
    C('cli train: --epochs -1', train(['--epochs', '-1']), R('--epochs')),
    C('cli train: --epochs 1.5', train(['--epochs', '1.5']), R('--epochs')),
    C('cli train: --batch-size 0', train(['--batch-size', '0']), R('--batch-size')),
    C('cli train: --batch-size 1e20', train(['--batch-size', '1e20']), R('--batch-size')),
    C('cli train: --limit 0', train(['--limit', '0']), R('--limit')),
    C('cli train: --limit -5', train(['--limit', '-5']), R('--limit')),
    C('cli train: --test-limit 2.5', train(['--test-limit', '2.5']), R('--test-limit')),
    C('cli train: --threads 0', train(['--threads', '0']), R('--threads')),
    C('cli train: --threads 1e9', train(['--threads', '1e9']), R('--threads')),
    C('cli train: --seed -1', train(['--seed', '-1']), R('--seed')),
    C('cli train: --lr -1', train(['--lr', '-1']), R('--lr')),
    C('cli train: --momentum Infinity', train(['--momentum', 'Infinity']), A('expected a number for --momentum')),
    C('cli train: --label-smoothing 2', train(['--label-smoothing', '2']), R('--label-smoothing')),
    C('cli train: --optimizer adam', train(['--optimizer', 'adam']), A('--optimizer')),
    C('cli train: --schedule linear', train(['--schedule', 'linear']), A('--schedule')),
    C('cli train: --model nope', train(['--model', 'nope']), A('unknown model "nope"')),
    C('cli train: --model ResNet (a class, not a factory)', train(['--model', 'ResNet']), A('unknown model "ResNet"')),
    C('cli train: --dataset nope', train(['--dataset', 'nope']), A('unknown dataset "nope"')),
    C('cli train: --dataset mnist without --root', () => cli(['train', '--dataset', 'mnist', '--out', `${out}/m`]), A('MNIST(root)')),
    C('cli train: --dataset cifar10 --root /nonexistent', () => cli(['train', '--dataset', 'cifar10', '--root', '/nonexistent', '--out', `${out}/c`]), E('ERR_RN_LOAD', /dataset files not found/)),
    C('cli train: --out ""', () => cli(['train', ...base, '']), A('--out')),
    C('cli train: --resume without a checkpoint', train(['--resume'], `${out}/empty`), E('ERR_RN_LOAD', /no checkpoint at/)),
    C('cli train: --resume from random bytes', () => { fs.mkdirSync(`${out}/junk`, { recursive: true }); fs.copyFileSync(junk, `${out}/junk/last.safetensors`); return cli(['train', ...base, `${out}/junk`, '--resume']); }, E('ERR_RN_FORMAT', /junk\/last.safetensors/)),
    C('cli train: --resume from another model', () => { fs.mkdirSync(`${out}/other`, { recursive: true }); fs.copyFileSync(good, `${out}/other/last.safetensors`); return cli(['train', ...base, `${out}/other`, '--resume']); }, E('ERR_RN_STATE', /other\/last.safetensors/)),
    C('cli train: a diverging run stops on NaN (exit 3)', () => cli(['train', ...base, `${out}/nan`, '--lr', '1e30', '--model', 'resnet20']), E('EXIT_3', /the loss became NaN/)),
    C('cli eval: no --checkpoint', () => cli(['eval']), A('--checkpoint <file> is required')),
    C('cli eval: a missing checkpoint', () => cli(['eval', '--checkpoint', '/nonexistent.safetensors']), E('ENOENT', /\/nonexistent.safetensors/)),
    C('cli eval: random bytes', () => cli(['eval', '--checkpoint', junk]), E('ERR_RN_FORMAT', re(junk))),
    C('cli eval: a checkpoint without config.model', () => cli(['eval', '--checkpoint', noModel]), E('ERR_RN_FORMAT', /does not say which model it holds/)),
    C('cli eval: --batch-size 0', () => cli(['eval', '--checkpoint', good, '--batch-size', '0']), R('eval --batch-size')),
    C('cli probe: --model nope', () => cli(['probe', '--model', 'nope', '--dataset', 'mnist-digits']), A('unknown model "nope"')),
    C('cli probe: --batch-size 0', () => cli(['probe', '--model', 'resnet20', '--dataset', 'mnist-digits', '--batch-size', '0']), R('--batch-size')),
    C('cli probe: --batch-size -3', () => cli(['probe', '--model', 'resnet20', '--dataset', 'mnist-digits', '--batch-size', '-3']), R('--batch-size')),
    C('cli plot: no runs', () => cli(['plot']), A('give at least one run folder')),
    C('cli plot: a missing run', () => cli(['plot', '/nonexistent/run', '-o', path.join(scratch(), 'p.svg')]), E('ERR_RN_LOAD', /\/nonexistent\/run/)),
    C('cli plot: a corrupt metrics.jsonl', () => cli(['plot', path.dirname(metrics), '-o', path.join(scratch(), 'p.svg')]), E('ERR_RN_FORMAT', re(metrics))),
    C('cli plot: -o without a file', () => cli(['plot', path.dirname(metrics), '-o']), A('-o needs a file name')),
    C('cli bench: no subcommand (usage, exit 2)', () => cli(['bench']), E('EXIT_2', /bench train/)),
    C('cli bench train: --cases nope', () => cli(['bench', 'train', '--cases', 'nope']), A('bench: unknown case "nope"')),
    C('cli bench train: --cases ResNet (a class)', () => cli(['bench', 'train', '--cases', 'ResNet']), A('bench: unknown case "ResNet"')),
    C('cli bench train: --cases ","', () => cli(['bench', 'train', '--cases', ',']), A('names no case')),
    C('cli bench train: --steps 0', () => cli(['bench', 'train', '--cases', 'resnet20', '--steps', '0']), R('bench --steps')),
    C('cli bench train: --rounds 0', () => cli(['bench', 'train', '--cases', 'resnet20', '--rounds', '0']), R('bench --rounds')),
    C('cli bench train: --warmup -1', () => cli(['bench', 'train', '--cases', 'resnet20', '--warmup', '-1']), R('bench --warmup')),
    C('cli bench train: --steps 1.5', () => cli(['bench', 'train', '--cases', 'resnet20', '--steps', '1.5']), R('bench --steps')),
    C('cli bench: an unknown subcommand', () => cli(['bench', 'nope']), A('unknown subcommand "nope"')),
    C('cli bench kernels: --filter matching no case', () => cli(['bench', 'kernels', '--filter', 'nope']), A('--filter "nope" matches no case')),
    C('cli bench kernels: a stray argument', () => cli(['bench', 'kernels', 'fwd']), A('unexpected argument "fwd"')),
    C('cli bench kernels: --reps 0', () => cli(['bench', 'kernels', '--reps', '0']), R('bench kernels --reps')),
    C('cli bench kernels: --copy-mb 0', () => cli(['bench', 'kernels', '--copy-mb', '0']), R('bench kernels --copy-mb')),
    C('cli bench kernels: --threads 0.5', () => cli(['bench', 'kernels', '--threads', '0.5']), R('bench kernels --threads')),
    C('cli bench kernels: --compare-torch without a python', () => cli(['bench', 'kernels', '--compare-torch', '--python', '/nonexistent/python3', '--filter', 'bn+relu fwd 128x64x8x8 NCHW']), E('ERR_RN_LOAD', /needs a python with torch/)),
    C('cli doctor: --json', () => cli(['doctor', '--json']), 'ok'),
  ];
}
