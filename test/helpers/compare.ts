/**
 * Numeric comparison helpers for the parity and gradient tests.
 *
 * Written as plain loops on purpose: jest's toEqual/toBeCloseTo on big (typed) arrays is extremely
 * slow and its diff output is useless for a few thousand floats. A failure message says the
 * label, the tolerance, the max abs/rel error and the first offending index instead.
 *
 * Tolerance rule (one for every tensor): with scale = max(1, max_i |expected_i|),
 *     |actual_i - expected_i| <= atol + rtol * scale     for every i,
 * i.e. the error is measured relative to the largest magnitude in that tensor (not per element,
 * which would make tiny expected values impossible to match in float32). NaN/Infinity must match
 * exactly (a NaN where a number is expected, or the reverse, always fails).
 */

export type Numeric = ArrayLike<number>;

// Inside jest's sandbox, global Math/Number calls in hot loops are ~40x slower than cached
// references, and arrays from the addon (another realm) index slowly: cache and re-view.
const abs = Math.abs;
const isFinite_ = Number.isFinite;
const isNaN_ = Number.isNaN;
const min = Math.min;
function local(a: Numeric): Numeric {
  const tag = Object.prototype.toString.call(a);
  if (tag === '[object Float32Array]' && !(a instanceof Float32Array)) {
    const f = a as Float32Array;
    return new Float32Array(f.buffer, f.byteOffset, f.length);
  }
  return a;
}

export interface CloseOptions {
  /** relative tolerance, scaled by max(1, max|expected|); default 1e-4 */
  rtol?: number;
  /** absolute tolerance added on top; default 0 */
  atol?: number;
  /** what is being compared, shown in the failure message */
  label?: string;
}

export interface CloseReport {
  ok: boolean;
  /** max_i |actual_i - expected_i| */
  maxAbsErr: number;
  /** max_i |actual_i - expected_i| / |expected_i| over elements with |expected_i| > 1e-6 */
  maxRelErr: number;
  /** the allowed absolute error: atol + rtol * max(1, max|expected|) */
  tol: number;
  /** first index whose error exceeds tol (or whose NaN-ness differs); -1 when none */
  firstBad: number;
  /** index of the max abs error (0 when all errors are 0) */
  worst: number;
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(7) : String(v);
}

/** Compute the comparison without throwing. */
export function compareClose(actual0: Numeric, expected0: Numeric, opts: CloseOptions = {}): CloseReport {
  const actual = local(actual0);
  const expected = local(expected0);
  const rtol = opts.rtol ?? 1e-4;
  const atol = opts.atol ?? 0;
  let scale = 1;
  for (let i = 0; i < expected.length; i++) {
    const a = abs(expected[i]);
    if (isFinite_(a) && a > scale) scale = a;
  }
  const tol = atol + rtol * scale;
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let firstBad = -1;
  let worst = 0;
  const n = min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    const a = actual[i];
    const e = expected[i];
    let err: number;
    if (isFinite_(e)) {
      err = isFinite_(a) ? abs(a - e) : Infinity;
    } else {
      err = Object.is(a, e) || (isNaN_(a) && isNaN_(e)) ? 0 : Infinity;
    }
    if (err > maxAbsErr) {
      maxAbsErr = err;
      worst = i;
    }
    const ae = abs(e);
    if (ae > 1e-6 && isFinite_(ae)) {
      const rel = err / ae;
      if (rel > maxRelErr) maxRelErr = rel;
    }
    if (firstBad < 0 && !(err <= tol)) firstBad = i;
  }
  const ok = actual.length === expected.length && firstBad < 0;
  return { ok, maxAbsErr, maxRelErr, tol, firstBad, worst };
}

/** Throws (failing the test) with a compact report unless actual ≈ expected (see the rule above). */
export function expectClose(actual: Numeric, expected: Numeric, opts: CloseOptions = {}): CloseReport {
  const r = compareClose(actual, expected, opts);
  if (r.ok) return r;
  const label = opts.label ?? 'values';
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} but expected ${expected.length}`);
  }
  const i = r.firstBad;
  const lines = [
    `${label}: not close (rtol=${opts.rtol ?? 1e-4}, atol=${opts.atol ?? 0}, allowed abs err ${fmt(r.tol)})`,
    `  max abs err ${fmt(r.maxAbsErr)} at index ${r.worst} (actual ${fmt(actual[r.worst])}, expected ${fmt(expected[r.worst])})`,
    `  max rel err ${fmt(r.maxRelErr)}`,
    `  first offending index ${i}: actual ${fmt(actual[i])}, expected ${fmt(expected[i])}`,
    `  (${countBad(actual, expected, r.tol)} of ${expected.length} elements out of tolerance)`,
  ];
  throw new Error(lines.join('\n'));
}

function countBad(actual: Numeric, expected: Numeric, tol: number): number {
  let n = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const ok = isFinite_(e) ? abs(a - e) <= tol : Object.is(a, e) || (isNaN_(a) && isNaN_(e));
    if (!ok) n++;
  }
  return n;
}

/** Exact comparison of small integer lists (shapes, int32 data), with a readable message. */
export function expectSameInts(actual: ArrayLike<number>, expected: ArrayLike<number>, label = 'values'): void {
  let same = actual.length === expected.length;
  for (let i = 0; same && i < expected.length; i++) same = actual[i] === expected[i];
  if (!same) {
    throw new Error(`${label}: got [${Array.from(actual).join(', ')}] but expected [${Array.from(expected).join(', ')}]`);
  }
}

/** Shape equality ([] for scalars). */
export function expectShape(actual: ArrayLike<number>, expected: ArrayLike<number>, label = 'shape'): void {
  expectSameInts(actual, expected, label);
}
