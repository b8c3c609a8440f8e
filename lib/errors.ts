/**
 * Errors thrown by resnode. Every error carries a stable `code`; messages follow one format:
 * `Expected <what> for <name> but received <value> of type <type>` for arguments, and
 * `<op>: <problem>` naming both shapes for op errors.
 */
export type ErrorCode =
  | 'ERR_RN_ARG'
  | 'ERR_RN_RANGE'
  | 'ERR_RN_SHAPE'
  | 'ERR_RN_DTYPE'
  | 'ERR_RN_DEVICE'
  | 'ERR_RN_DISPOSED'
  | 'ERR_RN_FORMAT'
  | 'ERR_RN_NO_CUDA'
  | 'ERR_RN_OOM'
  | 'ERR_RN_INDEX'
  | 'ERR_RN_AUTOGRAD'
  | 'ERR_RN_STATE'
  | 'ERR_RN_NAN'
  | 'ERR_RN_LOAD'
  | 'ERR_RN_INTERNAL';

export interface RnError extends Error {
  code: ErrorCode;
}

function withCode<E extends Error>(e: E, code: ErrorCode): E & { code: ErrorCode } {
  Object.defineProperty(e, 'code', { value: code, enumerable: true, writable: false });
  return e as E & { code: ErrorCode };
}

export function rnError(code: ErrorCode, message: string): RnError {
  return withCode(new Error(message), code);
}
export function rnTypeError(code: ErrorCode, message: string): RnError {
  return withCode(new TypeError(message), code);
}
export function rnRangeError(code: ErrorCode, message: string): RnError {
  return withCode(new RangeError(message), code);
}

/** A short, safe rendering of any received value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  if (Array.isArray(v)) return v.length > 8 ? `[${v.slice(0, 8).map(describe).join(', ')}, …]` : `[${v.map(describe).join(', ')}]`;
  const ctor = (v as object).constructor?.name;
  return ctor && ctor !== 'Object' ? ctor : 'object';
}

export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** `Expected <what> for <name> but received <value> of type <type>` */
export function invalidArg(what: string, name: string, value: unknown, code: ErrorCode = 'ERR_RN_ARG'): RnError {
  const msg = `Expected ${what} for ${name} but received ${describe(value)} of type ${typeOf(value)}`;
  return code === 'ERR_RN_RANGE' ? rnRangeError(code, msg) : rnTypeError(code, msg);
}
