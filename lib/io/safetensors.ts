/**
 * safetensors: read and write the format used by Hugging Face and PyTorch for weights.
 *
 *   [u64 little-endian N] [N bytes UTF-8 JSON header] [byte buffer]
 *
 * The header maps each tensor name to `{ "dtype": "F32", "shape": [..], "data_offsets": [b, e] }`
 * (offsets relative to the start of the byte buffer) plus an optional `"__metadata__"` object of
 * string -> string. Data is little-endian and C-contiguous.
 *
 * This module is pure data: no dependency on the engine's Tensor. Files are untrusted input, so
 * the whole header is validated before a single tensor is allocated: lengths are bounded, element
 * counts are multiplied in BigInt (a lying shape such as [2^40, 2^40] is rejected without any
 * allocation or wrap-around), every range must lie inside the byte buffer and no two may overlap. Every problem
 * in a file is an `ERR_RN_FORMAT` error naming the file, the problem and the tensor.
 *
 * Reading is more lenient than the reference Rust reader in one respect: gaps between ranges and
 * trailing bytes after the last range are allowed (they are harmless to a copying reader).
 * Writing reproduces the reference writer byte for byte: tensors ordered by descending dtype
 * alignment and then by name, compact JSON with `__metadata__` first, the header padded with
 * spaces to a multiple of 8 bytes, contiguous offsets. That keeps every tensor aligned to its
 * element size in the file, which zero-copy (mmap) readers rely on.
 */
import * as fs from 'fs';
import { rnError, invalidArg, RnError } from '../errors';
import { writeFileAtomic, writeFileAtomicAsync } from './atomic';

// ---------------------------------------------------------------------------------------------
// Types and dtype table

/** Element types resnode reads and writes. F16/BF16 are kept as raw bits; I64 as BigInt64. */
export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export type RawTensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A tensor as plain data. `data.length` is the product of `shape` (1 for a scalar, shape []). */
export interface RawTensor {
  dtype: SafeDType;
  shape: number[];
  data: RawTensorData;
}

export interface SafetensorsContents {
  /** In file (offset) order. */
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

interface DTypeInfo {
  size: number;
  /** Position in the reference implementation's Dtype enum, which orders dtypes by alignment. */
  rank: number;
  /** Name of the typed array that holds it, as its @@toStringTag reports it. */
  array: string;
  make(buffer: ArrayBuffer, length: number): RawTensorData;
}

// A Map, not an object literal, so that names like "toString" or "__proto__" in a hostile header
// cannot hit Object.prototype.
const DTYPES = new Map<string, DTypeInfo>([
  ['BOOL', { size: 1, rank: 0, array: 'Uint8Array', make: (b, n) => new Uint8Array(b, 0, n) }],
  ['U8', { size: 1, rank: 1, array: 'Uint8Array', make: (b, n) => new Uint8Array(b, 0, n) }],
  ['I8', { size: 1, rank: 2, array: 'Int8Array', make: (b, n) => new Int8Array(b, 0, n) }],
  ['I16', { size: 2, rank: 5, array: 'Int16Array', make: (b, n) => new Int16Array(b, 0, n) }],
  ['F16', { size: 2, rank: 7, array: 'Uint16Array', make: (b, n) => new Uint16Array(b, 0, n) }],
  ['BF16', { size: 2, rank: 8, array: 'Uint16Array', make: (b, n) => new Uint16Array(b, 0, n) }],
  ['I32', { size: 4, rank: 9, array: 'Int32Array', make: (b, n) => new Int32Array(b, 0, n) }],
  ['F32', { size: 4, rank: 11, array: 'Float32Array', make: (b, n) => new Float32Array(b, 0, n) }],
  ['F64', { size: 8, rank: 12, array: 'Float64Array', make: (b, n) => new Float64Array(b, 0, n) }],
  ['I64', { size: 8, rank: 13, array: 'BigInt64Array', make: (b, n) => new BigInt64Array(b, 0, n) }],
]);
/** Valid in the format but without a resnode representation: a clearer error than "unknown". */
const UNSUPPORTED_DTYPES = new Set(['U16', 'U32', 'U64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2']);
const DTYPE_LIST = 'F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL';

/** The reference reader's limit; a larger header is certainly not a weights file. */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;

// ---------------------------------------------------------------------------------------------
// Float16 / BFloat16 conversion (bit exact, round-to-nearest-even)

/** bfloat16 bits -> float32: bf16 is the top half of an f32, so this is exact. */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

/** float32 -> bfloat16 bits, round-to-nearest-even; NaN stays NaN (quietened), overflow -> inf. */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7fffffff) > 0x7f800000) {
      // Truncating a NaN could clear every mantissa bit and produce inf; set the quiet bit.
      out[i] = (x >>> 16) | 0x0040;
    } else {
      // Adding 0x7fff plus the lowest kept bit rounds half-way cases to even. Carry out of the
      // mantissa bumps the exponent, which is exactly right (up to inf on overflow).
      out[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
    }
  }
  return out;
}

/** float16 bits -> float32, exact (subnormals normalised, inf/NaN and payloads kept). */
export function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0x1f) {
      u[i] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else if (exp !== 0) {
      u[i] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 -> 127
    } else if (mant === 0) {
      u[i] = sign >>> 0;
    } else {
      // Subnormal m * 2^-24: shift the leading one up to the implicit bit position.
      let e = 113; // biased f32 exponent of 2^-14
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      u[i] = (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
    }
  }
  return out;
}

/** float32 -> float16 bits, round-to-nearest-even, with subnormals, overflow to inf and NaN. */
export function f32ToF16(values: Float32Array): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      // inf stays inf; NaN keeps its top payload bits and gets the quiet bit so it stays NaN.
      out[i] = sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
      continue;
    }
    const e = exp - 127 + 15; // biased f16 exponent
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00; // too large even before rounding
    } else if (e <= 0) {
      // Result is subnormal (or zero): value / 2^-24 = significand >> (14 - e).
      if (e < -10) {
        out[i] = sign; // below half the smallest subnormal: rounds to zero
        continue;
      }
      const m = mant | 0x800000; // explicit leading one (f32 subnormals land in e < -10)
      const shift = 14 - e; // 14..24
      let h = m >>> shift;
      const rem = m & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && (h & 1) !== 0)) h++; // may carry into the smallest normal
      out[i] = sign | h;
    } else {
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carry may reach inf: correct
      out[i] = sign | h;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Message helpers. Header values are untrusted: render them without recursion and with a cap.

function quote(name: string): string {
  return JSON.stringify(name.length > 200 ? name.slice(0, 200) + '…' : name);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function show(v: unknown): string {
  if (Array.isArray(v)) {
    const items = v.slice(0, 8).map((x) => (Array.isArray(x) ? '[…]' : x !== null && typeof x === 'object' ? '{…}' : show(x)));
    return `[${items.join(', ')}${v.length > 8 ? ', …' : ''}]`;
  }
  if (typeof v === 'string') return quote(v);
  if (v !== null && typeof v === 'object') return '{…}';
  return String(v);
}

function formatError(file: string, problem: string): RnError {
  return rnError('ERR_RN_FORMAT', `safetensors: ${file}: ${problem}`);
}

// ---------------------------------------------------------------------------------------------
// Reading

interface Entry {
  name: string;
  dtype: SafeDType;
  info: DTypeInfo;
  shape: number[];
  begin: number;
  end: number;
}

interface Layout {
  headerBytes: number;
  entries: Entry[];
  metadata: Record<string, string>;
}

/** Validate the 8-byte prefix against the total length and return the header length. */
function checkPrefix(prefix: Uint8Array, totalBytes: number, file: string): number {
  if (totalBytes < 8) {
    throw formatError(file, `file is ${totalBytes} bytes, too short for the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw formatError(file, `header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  }
  if (n > BigInt(totalBytes - 8)) {
    throw formatError(file, `header length ${n} exceeds the ${totalBytes - 8} bytes after the length prefix (truncated file?)`);
  }
  return Number(n);
}

const COUNT_LIMIT_BITS = 128;
const COUNT_LIMIT = 1n << BigInt(COUNT_LIMIT_BITS);

/**
 * Number of elements of a shape, in BigInt so that a lying shape such as [2^40, 2^40] cannot wrap
 * around into a plausible byte count. Returns undefined above 2^128: no real tensor is that large,
 * and stopping early keeps a hostile shape of millions of dimensions from building a
 * million-digit BigInt (quadratic time).
 */
function countElements(shape: number[]): bigint | undefined {
  if (shape.includes(0)) return 0n;
  let n = 1n;
  for (const d of shape) {
    n *= BigInt(d);
    if (n > COUNT_LIMIT) return undefined;
  }
  return n;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parse and fully validate the JSON header; `dataBytes` is the size of the byte buffer. */
function parseHeader(headerBytes: Uint8Array, dataBytes: number, file: string): Layout {
  let text: string;
  try {
    // fatal: reject invalid UTF-8; ignoreBOM: keep a BOM in the text so JSON.parse rejects it,
    // as the reference reader does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw formatError(file, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw formatError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw formatError(file, `header must be a JSON object but is ${kindOf(header)}`);
  }

  // Assigned with defineProperty so that a "__proto__" key is kept as data, not as a prototype.
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null) continue; // the reference reader treats null as absent
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw formatError(file, `__metadata__ must be an object of strings but is ${kindOf(value)}`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') {
          throw formatError(file, `__metadata__ value for key ${quote(k)} must be a string but is ${kindOf(v)}`);
        }
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const t = `tensor ${quote(name)}`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw formatError(file, `${t} must be an object with dtype, shape and data_offsets but is ${kindOf(value)}`);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;

    const info = typeof dtype === 'string' ? DTYPES.get(dtype) : undefined;
    if (!info) {
      if (typeof dtype === 'string' && UNSUPPORTED_DTYPES.has(dtype)) {
        throw formatError(file, `${t} has dtype ${dtype}, which resnode does not support (supported: ${DTYPE_LIST})`);
      }
      throw formatError(file, `${t} has unknown dtype ${show(dtype)} (expected one of ${DTYPE_LIST})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw formatError(file, `${t} has invalid shape ${show(shape)}: expected an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw formatError(file, `${t} has invalid data_offsets ${show(offsets)}: expected [begin, end] with non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) {
      throw formatError(file, `${t} has data_offsets [${begin}, ${end}] with begin > end`);
    }
    const elements = countElements(shape);
    const bytes = elements === undefined ? undefined : elements * BigInt(info.size);
    if (bytes !== BigInt(end - begin)) {
      const size = elements === undefined ? `more than 2^${COUNT_LIMIT_BITS} elements` : `${elements} elements of ${dtype} = ${bytes} bytes`;
      throw formatError(file, `${t} has shape ${show(shape)} (${size}) but data_offsets span ${end - begin} bytes`);
    }
    if (end > dataBytes) {
      throw formatError(file, `${t} has data_offsets [${begin}, ${end}] beyond the end of the ${dataBytes}-byte data section`);
    }
    entries.push({ name, dtype: dtype as SafeDType, info, shape: shape as number[], begin, end });
  }

  // Overlap check on the ranges sorted by start; empty ranges occupy no bytes and never overlap.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let last: Entry | undefined;
  for (const e of entries) {
    if (e.begin === e.end) continue;
    if (last && e.begin < last.end) {
      throw formatError(
        file,
        `tensors ${quote(last.name)} [${last.begin}, ${last.end}] and ${quote(e.name)} [${e.begin}, ${e.end}] have overlapping data_offsets`,
      );
    }
    if (!last || e.end > last.end) last = e;
  }
  return { headerBytes: headerBytes.byteLength, entries, metadata };
}

/** Reverse the byte order of each element in place (only on big-endian hosts). */
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/** Allocate a fresh (hence aligned) buffer for entry `e`'s bytes. */
function allocate(e: Entry): Uint8Array {
  return new Uint8Array(new ArrayBuffer(e.end - e.begin));
}

/** Wrap bytes filled from the file (little-endian) as the typed array of `e`'s dtype. */
function finish(e: Entry, bytes: Uint8Array): RawTensor {
  if (!LITTLE_ENDIAN) swapBytes(bytes, e.info.size);
  return { dtype: e.dtype, shape: e.shape.slice(), data: e.info.make(bytes.buffer as ArrayBuffer, bytes.byteLength / e.info.size) };
}

function checkBuffer(buf: unknown): asserts buf is Uint8Array {
  if (typedArrayTag.call(buf) !== 'Uint8Array') throw invalidArg('a Uint8Array', 'buf', buf);
}

/**
 * Parse a whole safetensors file held in memory. Tensors are copied out into freshly allocated,
 * correctly aligned typed arrays; nothing returned aliases `buf`.
 */
export function parseSafetensors(buf: Uint8Array, fileName = '<buffer>'): SafetensorsContents {
  checkBuffer(buf);
  const n = checkPrefix(buf, buf.byteLength, fileName);
  const dataStart = 8 + n;
  const layout = parseHeader(buf.subarray(8, dataStart), buf.byteLength - dataStart, fileName);
  const tensors = new Map<string, RawTensor>();
  for (const e of layout.entries) {
    const bytes = allocate(e);
    bytes.set(buf.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, finish(e, bytes));
  }
  return { tensors, metadata: layout.metadata };
}

/** Fill `dst` from `fd` at `position`; a short read means the file shrank under us. */
function readExactly(fd: number, dst: Uint8Array, position: number, file: string): void {
  for (let off = 0; off < dst.byteLength; ) {
    const got = fs.readSync(fd, dst, off, Math.min(dst.byteLength - off, 1 << 30), position + off);
    if (got === 0) throw formatError(file, `file ended after ${position + off} bytes while reading (was it modified?)`);
    off += got;
  }
}

async function readExactlyAsync(fh: fs.promises.FileHandle, dst: Uint8Array, position: number, file: string): Promise<void> {
  for (let off = 0; off < dst.byteLength; ) {
    const { bytesRead } = await fh.read(dst, off, Math.min(dst.byteLength - off, 1 << 30), position + off);
    if (bytesRead === 0) throw formatError(file, `file ended after ${position + off} bytes while reading (was it modified?)`);
    off += bytesRead;
  }
}

/**
 * Read a safetensors file. The header is read and validated first, then each tensor is read
 * straight into its own typed array, so the file is never held in memory twice (and files over
 * Node's 2 GiB readFile limit work). File-system errors (ENOENT, EACCES, ...) propagate as is.
 */
export function readSafetensorsFile(file: string): SafetensorsContents {
  if (typeof file !== 'string' || file.length === 0) throw invalidArg('a non-empty string', 'path', file);
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const prefix = new Uint8Array(8);
    if (size >= 8) readExactly(fd, prefix, 0, file);
    const n = checkPrefix(prefix, size, file);
    const headerBytes = new Uint8Array(n);
    readExactly(fd, headerBytes, 8, file);
    const layout = parseHeader(headerBytes, size - 8 - n, file);
    const tensors = new Map<string, RawTensor>();
    for (const e of layout.entries) {
      const bytes = allocate(e);
      readExactly(fd, bytes, 8 + n + e.begin, file);
      tensors.set(e.name, finish(e, bytes));
    }
    return { tensors, metadata: layout.metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** Promise-returning variant of {@link readSafetensorsFile}. */
export async function readSafetensorsFileAsync(file: string): Promise<SafetensorsContents> {
  if (typeof file !== 'string' || file.length === 0) throw invalidArg('a non-empty string', 'path', file);
  const fh = await fs.promises.open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const prefix = new Uint8Array(8);
    if (size >= 8) await readExactlyAsync(fh, prefix, 0, file);
    const n = checkPrefix(prefix, size, file);
    const headerBytes = new Uint8Array(n);
    await readExactlyAsync(fh, headerBytes, 8, file);
    const layout = parseHeader(headerBytes, size - 8 - n, file);
    const tensors = new Map<string, RawTensor>();
    for (const e of layout.entries) {
      const bytes = allocate(e);
      await readExactlyAsync(fh, bytes, 8 + n + e.begin, file);
      tensors.set(e.name, finish(e, bytes));
    }
    return { tensors, metadata: layout.metadata };
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const SURROGATE = /\p{Cs}/u; // a lone surrogate: not representable in UTF-8

/** Order by UTF-8 bytes (= code points), as Rust's `String: Ord` does; differs from `<` on UTF-16. */
function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function checkString(s: unknown, what: string): string {
  if (typeof s !== 'string' || SURROGATE.test(s)) throw invalidArg('a well-formed string', what, s);
  return s;
}

interface Prepared {
  name: string;
  dtype: SafeDType;
  info: DTypeInfo;
  shape: number[];
  bytes: Uint8Array;
}

function prepareTensor(name: string, t: unknown): Prepared {
  const where = `tensors[${quote(name)}]`;
  if (t === null || typeof t !== 'object') throw invalidArg('a RawTensor {dtype, shape, data}', where, t);
  const { dtype, shape, data } = t as Record<string, unknown>;
  const info = typeof dtype === 'string' ? DTYPES.get(dtype) : undefined;
  if (!info) throw invalidArg(`one of ${DTYPE_LIST}`, `${where}.dtype`, dtype);
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw invalidArg('an array of non-negative integers', `${where}.shape`, shape);
  }
  const tag = typedArrayTag.call(data);
  if (tag !== info.array) throw invalidArg(`a ${info.array} for dtype ${dtype}`, `${where}.data`, data);
  const arr = data as RawTensorData;
  const elements = countElements(shape);
  if (elements !== BigInt(arr.length)) {
    const count = elements === undefined ? `more than 2^${COUNT_LIMIT_BITS}` : String(elements);
    throw rnError(
      'ERR_RN_SHAPE',
      `safetensors: tensor ${quote(name)} has shape ${show(shape)} (${count} elements) but its ${tag} has ${arr.length} elements`,
    );
  }
  let bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  if (!LITTLE_ENDIAN) {
    bytes = bytes.slice();
    swapBytes(bytes, info.size);
  }
  return { name, dtype: dtype as SafeDType, info, shape: (shape as number[]).slice(), bytes };
}

/**
 * The file as a list of chunks: [length prefix + header, tensor bytes...]. Tensor chunks are
 * views of the callers' arrays (on little-endian hosts), so writing to disk needs no big copy.
 */
function serializeParts(tensors: unknown, metadata: unknown): Uint8Array[] {
  let items: [string, unknown][];
  if (Object.prototype.toString.call(tensors) === '[object Map]') items = [...(tensors as Map<unknown, unknown>)].map(([k, v]) => [k as string, v]);
  else if (tensors !== null && typeof tensors === 'object' && !Array.isArray(tensors)) items = Object.entries(tensors);
  else throw invalidArg('a Map or object of RawTensor', 'tensors', tensors);

  const prepared = items.map(([name, t]) => {
    checkString(name, 'a tensor name');
    if (name === '__metadata__') throw invalidArg('a tensor name other than "__metadata__"', 'a tensor name', name);
    return prepareTensor(name, t);
  });
  // The reference writer's order: descending dtype alignment, then name.
  prepared.sort((a, b) => b.info.rank - a.info.rank || compareCodePoints(a.name, b.name));

  const parts: string[] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw invalidArg('an object of strings', 'metadata', metadata);
    }
    const keys = Object.keys(metadata).sort(compareCodePoints);
    for (const k of keys) {
      checkString(k, 'a metadata key');
      checkString((metadata as Record<string, unknown>)[k], `metadata[${quote(k)}]`);
    }
    // Built by hand: an object literal would move integer-like keys ("0", "12") to the front.
    if (keys.length > 0) {
      const body = keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify((metadata as Record<string, string>)[k])}`);
      parts.push(`"__metadata__":{${body.join(',')}}`);
    }
  }
  let offset = 0;
  for (const p of prepared) {
    const end = offset + p.bytes.byteLength;
    parts.push(`${JSON.stringify(p.name)}:{"dtype":"${p.dtype}","shape":[${p.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8; // keeps the byte buffer 8-byte aligned
  if (padded > MAX_HEADER_BYTES) {
    throw invalidArg(`a header under ${MAX_HEADER_BYTES} bytes`, 'tensors', `${padded}-byte header`);
  }
  const head = Buffer.alloc(8 + padded, 0x20); // space padding, as the reference writer does
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return [head, ...prepared.map((p) => p.bytes)];
}

/**
 * Serialize tensors (and optional string metadata) to a safetensors file image. Deterministic:
 * the same input always gives the same bytes, matching the reference Python/Rust writer.
 */
export function serializeSafetensors(
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Buffer {
  return Buffer.concat(serializeParts(tensors, metadata));
}

/** Write a safetensors file atomically (readers never see a partial file). */
export function writeSafetensorsFile(
  file: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(file, serializeParts(tensors, metadata));
}

/** Promise-returning variant of {@link writeSafetensorsFile}. */
export async function writeSafetensorsFileAsync(
  file: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomicAsync(file, serializeParts(tensors, metadata));
}
