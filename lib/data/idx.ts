/**
 * Reader for the IDX format used by MNIST, Fashion-MNIST, EMNIST, KMNIST, ...
 *
 * Layout: magic `00 00 <type> <ndims>`, then `ndims` big-endian u32 dimensions, then the
 * elements, big-endian, row-major. Files are often gzipped.
 *
 * Everything in the header is untrusted: the shape is validated and the element count is
 * checked against the bytes actually present (both too few and too many are rejected) before
 * any array is allocated from it. Gzipped input is decompressed with a hard output bound, so a
 * gzip bomb fails fast instead of exhausting memory.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { constants as bufferConstants } from 'buffer';
import { invalidArg, rnError } from '../errors';

export type IdxDtype = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  /** Host-endian elements in their own, exactly-sized ArrayBuffer (byteOffset 0). */
  data: IdxData;
}

export interface IdxOptions {
  /**
   * Largest data size (decompressed, header included) that will be accepted; bounds memory use
   * for hostile files. Default 1 GiB, which covers EMNIST-byclass (~550 MB).
   */
  maxBytes?: number;
}

/** Default for IdxOptions.maxBytes. */
export const IDX_DEFAULT_MAX_BYTES = 2 ** 30;

interface DtypeInfo {
  dtype: IdxDtype;
  size: number;
}

const TYPE_CODES: Record<number, DtypeInfo> = {
  0x08: { dtype: 'u8', size: 1 },
  0x09: { dtype: 'i8', size: 1 },
  0x0b: { dtype: 'i16', size: 2 },
  0x0c: { dtype: 'i32', size: 4 },
  0x0d: { dtype: 'f32', size: 4 },
  0x0e: { dtype: 'f64', size: 8 },
};

const CODE_OF: Record<IdxDtype, number> = { u8: 0x08, i8: 0x09, i16: 0x0b, i32: 0x0c, f32: 0x0d, f64: 0x0e };

const MAX_NDIMS = 4;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function formatError(file: string, problem: string): Error {
  return rnError('ERR_RN_FORMAT', `idx: ${file}: ${problem}`);
}

function isGzip(bytes: Uint8Array, fileName: string): boolean {
  return fileName.endsWith('.gz') || (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b);
}

function checkMaxBytes(v: unknown): number {
  if (v === undefined) return IDX_DEFAULT_MAX_BYTES;
  if (typeof v !== 'number') throw invalidArg('a positive integer', 'options.maxBytes', v);
  if (!Number.isSafeInteger(v) || v < 1) throw invalidArg('a positive integer', 'options.maxBytes', v, 'ERR_RN_RANGE');
  // zlib cannot produce a single buffer larger than this anyway.
  return Math.min(v, bufferConstants.MAX_LENGTH);
}

interface Header {
  info: DtypeInfo;
  shape: number[];
  headerBytes: number;
  dataBytes: number;
}

/** Human wording of a shape for error messages: `60000 images of 28x28`. */
function describeShape(h: { info: DtypeInfo; shape: number[] }): string {
  const [n, ...rest] = h.shape;
  const noun = rest.length === 2 ? 'images' : 'items';
  const what = rest.length === 0 ? `${n} ${noun}` : `${n} ${noun} of ${rest.join('x')}`;
  return h.info.dtype === 'u8' ? what : `${what} ${h.info.dtype}`;
}

/**
 * Validates the header found at the start of `bytes` (which may be a prefix of the data) and
 * computes the size the data must have. Allocates nothing sized by the header.
 */
function parseHeader(bytes: Uint8Array, file: string, maxBytes: number): Header {
  if (bytes.length < 4) {
    throw formatError(file, `file has ${bytes.length} bytes, too short for the 4-byte IDX magic`);
  }
  const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw formatError(file, `bad magic ${hex}, expected 00 00 <type> <ndims> (not an IDX file)`);
  }
  const info = TYPE_CODES[bytes[2]];
  if (!info) {
    throw formatError(file, `bad magic ${hex}: unknown element type 0x${hex.slice(6, 8)} (expected 08, 09, 0b, 0c, 0d or 0e)`);
  }
  const ndims = bytes[3];
  if (ndims < 1 || ndims > MAX_NDIMS) {
    throw formatError(file, `bad magic ${hex}: ${ndims} dimensions (supported: 1 to ${MAX_NDIMS})`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw formatError(file, `file has ${bytes.length} bytes, too short for a header with ${ndims} dimensions (${headerBytes} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const zero = shape.indexOf(0);
  if (zero >= 0) throw formatError(file, `header has dimension ${zero} equal to 0 (shape [${shape.join(', ')}])`);
  // Each factor is < 2^32, so stopping as soon as we pass maxBytes keeps the product exact.
  let dataBytes = info.size;
  for (const d of shape) {
    dataBytes *= d;
    if (dataBytes + headerBytes > maxBytes) {
      const total = shape.reduce((a, b) => a * b, info.size);
      throw formatError(file, `header says ${describeShape({ info, shape })} (${total} bytes), over the limit of ${maxBytes} bytes (options.maxBytes)`);
    }
  }
  return { info, shape, headerBytes, dataBytes };
}

/**
 * Reads just enough of a gzip stream to see the IDX header. Decompressing a truncated prefix
 * with Z_SYNC_FLUSH yields the output available so far; a 1 KiB prefix expands to at most
 * ~1 MB even for a bomb, and a longer prefix is only tried when the gzip header itself is long
 * (file name or comment fields).
 */
function gzipHeaderPrefix(bytes: Uint8Array, file: string): Uint8Array {
  for (const n of [1024, 65536]) {
    let out: Buffer;
    try {
      out = zlib.gunzipSync(bytes.subarray(0, n), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      throw formatError(file, `corrupt gzip data (${(e as Error).message})`);
    }
    if (out.length >= 4 + 4 * MAX_NDIMS || n >= bytes.length) return out;
  }
  throw formatError(file, 'cannot find the IDX header in the first 64 KiB of gzip data');
}

function gunzipBounded(bytes: Uint8Array, file: string, h: Header): Buffer {
  const expected = h.headerBytes + h.dataBytes;
  try {
    // Exactly the size the (already bounded) header promises: anything more is an error.
    return zlib.gunzipSync(bytes, { maxOutputLength: expected });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw formatError(
        file,
        `header says ${describeShape(h)} (${h.dataBytes} bytes) but the decompressed file has more than ${h.dataBytes} bytes of data`,
      );
    }
    throw formatError(file, `corrupt gzip data (${(e as Error).message})`);
  }
}

function decode(bytes: Uint8Array, h: Header): IdxData {
  const { dtype, size } = h.info;
  // Copy into a fresh buffer: callers may hand `data.buffer` to native code, so it must not
  // alias the input (or a pooled Buffer slab) and must start at offset 0.
  const out = new ArrayBuffer(h.dataBytes);
  const u8 = new Uint8Array(out);
  u8.set(bytes.subarray(h.headerBytes, h.headerBytes + h.dataBytes));
  if (size > 1 && HOST_LITTLE_ENDIAN) {
    const b = Buffer.from(out);
    if (size === 2) b.swap16();
    else if (size === 4) b.swap32();
    else b.swap64();
  }
  switch (dtype) {
    case 'u8': return u8;
    case 'i8': return new Int8Array(out);
    case 'i16': return new Int16Array(out);
    case 'i32': return new Int32Array(out);
    case 'f32': return new Float32Array(out);
    case 'f64': return new Float64Array(out);
  }
}

/**
 * Parses IDX bytes (raw or gzipped). `fileName` is used in error messages and, if it ends in
 * `.gz`, forces gzip decoding (gzip is also detected from the 1f 8b magic).
 */
export function parseIdx(buf: Uint8Array, fileName: string, options: IdxOptions = {}): IdxArray {
  if (!(buf instanceof Uint8Array)) throw invalidArg('a Buffer or Uint8Array', 'buf', buf);
  if (typeof fileName !== 'string') throw invalidArg('a string', 'fileName', fileName);
  const maxBytes = checkMaxBytes(options?.maxBytes);

  let bytes: Uint8Array = buf;
  let where = 'the file';
  let header: Header;
  if (isGzip(buf, fileName)) {
    header = parseHeader(gzipHeaderPrefix(buf, fileName), fileName, maxBytes);
    bytes = gunzipBounded(buf, fileName, header);
    where = 'the decompressed file';
  } else {
    header = parseHeader(buf, fileName, maxBytes);
  }
  const have = bytes.length - header.headerBytes;
  if (have !== header.dataBytes) {
    throw formatError(fileName, `header says ${describeShape(header)} (${header.dataBytes} bytes) but ${where} has ${have} bytes of data`);
  }
  return { dtype: header.info.dtype, shape: header.shape, data: decode(bytes, header) };
}

/** Reads and parses an IDX file (gzipped if it ends in .gz or starts with the gzip magic). */
export function readIdx(filePath: string, options: IdxOptions = {}): IdxArray {
  if (typeof filePath !== 'string' || filePath === '') throw invalidArg('a non-empty string', 'path', filePath);
  const maxBytes = checkMaxBytes(options?.maxBytes);
  let st: fs.Stats;
  try {
    st = fs.statSync(filePath);
  } catch (e) {
    throw rnError('ERR_RN_LOAD', `idx: ${filePath}: cannot read file (${(e as Error).message})`);
  }
  if (!st.isFile()) throw rnError('ERR_RN_LOAD', `idx: ${filePath}: not a regular file`);
  const size = st.size;
  // The on-disk size bounds the data for raw files and, compressed, can only be smaller.
  if (size > maxBytes) {
    throw formatError(filePath, `file is ${size} bytes, over the limit of ${maxBytes} bytes (options.maxBytes)`);
  }
  return parseIdx(fs.readFileSync(filePath), filePath, { maxBytes });
}

/**
 * Encodes an array as IDX bytes (uncompressed; gzip the result with zlib.gzipSync if needed).
 * Useful for tests and for exporting data to tools that read IDX.
 */
export function encodeIdx(data: IdxData | ArrayLike<number>, shape: readonly number[], dtype: IdxDtype): Buffer {
  const code = CODE_OF[dtype];
  if (code === undefined) throw invalidArg('one of "u8", "i8", "i16", "i32", "f32", "f64"', 'dtype', dtype);
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > MAX_NDIMS ||
      !shape.every((d) => Number.isInteger(d) && d >= 1 && d <= 0xffffffff)) {
    throw invalidArg(`an array of 1 to ${MAX_NDIMS} positive integer dimensions`, 'shape', shape);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) {
    throw rnError('ERR_RN_SHAPE', `encodeIdx: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
  }
  const size = TYPE_CODES[code].size;
  const headerBytes = 4 + 4 * shape.length;
  const out = Buffer.alloc(headerBytes + n * size);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  for (let i = 0; i < n; i++) {
    const v = Number(data[i]);
    const o = headerBytes + i * size;
    switch (dtype) {
      case 'u8': out.writeUInt8(v, o); break;
      case 'i8': out.writeInt8(v, o); break;
      case 'i16': out.writeInt16BE(v, o); break;
      case 'i32': out.writeInt32BE(v, o); break;
      case 'f32': out.writeFloatBE(v, o); break;
      case 'f64': out.writeDoubleBE(v, o); break;
    }
  }
  return out;
}

export interface ImageLabelSet {
  /** N*H*W bytes (one channel, row-major). */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
}

/**
 * Reads an MNIST-layout dataset (MNIST, Fashion-MNIST, KMNIST, ...) from a directory holding
 * `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` (the `images.idx3` spelling is accepted too).
 */
export function readMnist(root: string, options: { train?: boolean } & IdxOptions = {}): ImageLabelSet {
  if (typeof root !== 'string' || root === '') throw invalidArg('a non-empty string', 'root', root);
  const train = options.train ?? true;
  if (typeof train !== 'boolean') throw invalidArg('a boolean', 'options.train', train);
  const prefix = train ? 'train' : 't10k';
  const find = (kind: 'images-idx3' | 'labels-idx1'): string => {
    const dotted = kind.replace('-', '.');
    const tried: string[] = [];
    for (const base of [`${prefix}-${kind}-ubyte`, `${prefix}-${dotted}-ubyte`]) {
      for (const name of [base + '.gz', base]) {
        const p = path.join(root, name);
        tried.push(p);
        if (fs.existsSync(p)) return p;
      }
    }
    throw rnError('ERR_RN_LOAD', `mnist: no ${kind.split('-')[0]} file found; tried ${tried.join(', ')}`);
  };
  const imgPath = find('images-idx3');
  const lblPath = find('labels-idx1');
  const img = readIdx(imgPath, options);
  const lbl = readIdx(lblPath, options);
  if (img.dtype !== 'u8' || img.shape.length !== 3) {
    throw formatError(imgPath, `expected u8 images of shape [N, H, W] but found ${img.dtype} [${img.shape.join(', ')}]`);
  }
  if (lbl.dtype !== 'u8' || lbl.shape.length !== 1) {
    throw formatError(lblPath, `expected u8 labels of shape [N] but found ${lbl.dtype} [${lbl.shape.join(', ')}]`);
  }
  if (img.shape[0] !== lbl.shape[0]) {
    throw rnError('ERR_RN_FORMAT', `mnist: ${imgPath} has ${img.shape[0]} images but ${lblPath} has ${lbl.shape[0]} labels`);
  }
  return {
    images: img.data as Uint8Array,
    labels: Int32Array.from(lbl.data as Uint8Array),
    count: img.shape[0],
    height: img.shape[1],
    width: img.shape[2],
  };
}
