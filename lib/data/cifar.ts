/**
 * Readers for the binary versions of CIFAR-10 and CIFAR-100
 * (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * CIFAR-10 record:  <1 label byte><3072 pixel bytes>
 * CIFAR-100 record: <1 coarse label byte><1 fine label byte><3072 pixel bytes>
 * The 3072 pixel bytes are the R, G and B planes of a 32x32 image, each row-major, so a run of
 * records' pixels is already NCHW.
 */
import * as fs from 'fs';
import * as path from 'path';
import { invalidArg, rnError } from '../errors';

export type CifarVariant = 'cifar10' | 'cifar100';
export type CifarLabelMode = 'fine' | 'coarse';

export interface CifarOptions {
  variant: CifarVariant;
  /** CIFAR-100 only: which of the two labels to return. Default 'fine' (100 classes). */
  labelMode?: CifarLabelMode;
}

export interface CifarSet {
  /** count*3*32*32 bytes, NCHW (channels R, G, B). */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
}

export const CIFAR_CHANNELS = 3;
export const CIFAR_SIZE = 32;
const PIXELS = CIFAR_CHANNELS * CIFAR_SIZE * CIFAR_SIZE; // 3072

export const CIFAR10_CLASSES: readonly string[] = Object.freeze([
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
]);

/** Number of classes for a variant and label mode. */
export function cifarNumClasses(variant: CifarVariant, labelMode: CifarLabelMode = 'fine'): number {
  return variant === 'cifar10' ? 10 : labelMode === 'coarse' ? 20 : 100;
}

function checkOptions(options: unknown): { variant: CifarVariant; labelMode: CifarLabelMode } {
  if (typeof options !== 'object' || options === null) {
    throw invalidArg('an object with a variant', 'options', options);
  }
  const { variant, labelMode } = options as Partial<CifarOptions>;
  if (variant !== 'cifar10' && variant !== 'cifar100') {
    throw invalidArg('"cifar10" or "cifar100"', 'options.variant', variant);
  }
  if (labelMode !== undefined && labelMode !== 'fine' && labelMode !== 'coarse') {
    throw invalidArg('"fine" or "coarse"', 'options.labelMode', labelMode);
  }
  if (variant === 'cifar10' && labelMode === 'coarse') {
    // CIFAR-10 has a single label per record; silently returning it would hide a mistake.
    throw invalidArg('"fine" or undefined (CIFAR-10 has no coarse labels)', 'options.labelMode', labelMode);
  }
  return { variant, labelMode: labelMode ?? 'fine' };
}

/** Parses one CIFAR binary batch. `fileName` is used only in error messages. */
export function parseCifar(buf: Uint8Array, fileName: string, options: CifarOptions): CifarSet {
  if (!(buf instanceof Uint8Array)) throw invalidArg('a Buffer or Uint8Array', 'buf', buf);
  if (typeof fileName !== 'string') throw invalidArg('a string', 'fileName', fileName);
  const { variant, labelMode } = checkOptions(options);
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const record = labelBytes + PIXELS;
  const name = variant === 'cifar10' ? 'CIFAR-10' : 'CIFAR-100';
  if (buf.length === 0 || buf.length % record !== 0) {
    throw rnError(
      'ERR_RN_FORMAT',
      `cifar: ${fileName}: file has ${buf.length} bytes, not a positive multiple of the ${name} record size ${record}` +
        (buf.length > 0 ? ` (${Math.floor(buf.length / record)} records and ${buf.length % record} bytes left over)` : ''),
    );
  }
  const count = buf.length / record;
  // Validate every label (both of CIFAR-100's) before allocating the outputs.
  const limits = variant === 'cifar10' ? [10] : [20, 100];
  const kinds = variant === 'cifar10' ? [''] : ['coarse ', 'fine '];
  for (let r = 0; r < count; r++) {
    for (let k = 0; k < labelBytes; k++) {
      const v = buf[r * record + k];
      if (v >= limits[k]) {
        throw rnError(
          'ERR_RN_FORMAT',
          `cifar: ${fileName}: record ${r} has ${kinds[k]}label ${v} but ${name} has ${limits[k]} ${kinds[k]}classes`,
        );
      }
    }
  }
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  const pick = variant === 'cifar100' && labelMode === 'fine' ? 1 : 0;
  for (let r = 0; r < count; r++) {
    const o = r * record;
    labels[r] = buf[o + pick];
    images.set(buf.subarray(o + labelBytes, o + record), r * PIXELS);
  }
  return { images, labels, count };
}

/**
 * Finds the first candidate directory holding every file in `names`; otherwise throws
 * ERR_RN_LOAD naming every path that was tried and not found.
 */
function locate(what: string, root: string, subdir: string, names: string[]): string[] {
  const missing: string[] = [];
  for (const dir of [root, path.join(root, subdir)]) {
    const paths = names.map((n) => path.join(dir, n));
    const absent = paths.filter((p) => !isFile(p));
    if (absent.length === 0) return paths;
    missing.push(...absent);
  }
  throw rnError('ERR_RN_LOAD', `${what}: dataset files not found; tried ${missing.join(', ')}`);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function readBatches(paths: string[], options: CifarOptions): CifarSet {
  const parts = paths.map((p) => {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(p);
    } catch (e) {
      throw rnError('ERR_RN_LOAD', `cifar: ${p}: cannot read file (${(e as Error).message})`);
    }
    return parseCifar(buf, p, options);
  });
  if (parts.length === 1) return parts[0];
  const count = parts.reduce((a, s) => a + s.count, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let n = 0;
  for (const s of parts) {
    images.set(s.images, n * PIXELS);
    labels.set(s.labels, n);
    n += s.count;
  }
  return { images, labels, count };
}

function checkRoot(root: unknown): string {
  if (typeof root !== 'string' || root === '') throw invalidArg('a non-empty string', 'root', root);
  return root;
}

function checkTrain(v: unknown): boolean {
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw invalidArg('a boolean', 'options.train', v);
  return v;
}

/**
 * Reads CIFAR-10 (binary version) from `root` or `root/cifar-10-batches-bin`:
 * data_batch_1..5.bin (50000 images) when `train` (default), test_batch.bin (10000) otherwise.
 */
export function readCifar10(root: string, options: { train?: boolean } = {}): CifarSet {
  const train = checkTrain(options?.train);
  const names = train ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  return readBatches(locate('cifar10', checkRoot(root), 'cifar-10-batches-bin', names), { variant: 'cifar10' });
}

/**
 * Reads CIFAR-100 (binary version) from `root` or `root/cifar-100-binary`: train.bin (50000)
 * when `train` (default), test.bin (10000) otherwise.
 */
export function readCifar100(root: string, options: { train?: boolean; labelMode?: CifarLabelMode } = {}): CifarSet {
  const train = checkTrain(options?.train);
  const opts: CifarOptions = { variant: 'cifar100', labelMode: options?.labelMode };
  checkOptions(opts); // reject a bad labelMode before touching the file system
  return readBatches(locate('cifar100', checkRoot(root), 'cifar-100-binary', [train ? 'train.bin' : 'test.bin']), opts);
}
