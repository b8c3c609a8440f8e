/**
 * Gathering samples from NCHW storage into a float32 batch. Its own small module because a
 * DataLoader worker thread loads it (with transforms.ts) and nothing else from lib/data.
 */
import { invalidArg, rnError } from '../errors';

/** What a worker thread needs to gather from an ArrayDataset's (shared) memory. */
export interface SharedSource {
  images: Uint8Array | Float32Array;
  labels: Int32Array;
  shape: [number, number, number];
  numClasses: number;
  scale: number;
}

/** Gathers `indices` into a fresh float32 batch (x * scale) and their labels. */
export function gather(
  images: Uint8Array | Float32Array,
  labels: Int32Array,
  shape: readonly [number, number, number],
  scale: number,
  indices: Int32Array,
  name: string,
): { images: Float32Array; labels: Int32Array } {
  if (!(indices instanceof Int32Array)) throw invalidArg('an Int32Array', `${name}.getBatch(indices)`, indices);
  const n = labels.length;
  const b = indices.length;
  const per = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(b * per);
  const lab = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < n))
      throw rnError('ERR_RN_INDEX', `${name}.getBatch: index ${j} (position ${i}) is out of range for a dataset of ${n} samples`);
    lab[i] = labels[j];
    const src = j * per;
    const dst = i * per;
    if (scale === 1 && images instanceof Float32Array) out.set(images.subarray(src, src + per), dst);
    else for (let k = 0; k < per; k++) out[dst + k] = images[src + k] * scale;
  }
  return { images: out, labels: lab };
}

/** A minimal dataset over a SharedSource (what a worker thread gathers from). */
export function sharedDataset(s: SharedSource): {
  length: number; shape: readonly [number, number, number]; numClasses: number; getBatch(i: Int32Array): { images: Float32Array; labels: Int32Array };
} {
  return {
    length: s.labels.length,
    shape: s.shape,
    numClasses: s.numClasses,
    getBatch: (indices) => gather(s.images, s.labels, s.shape, s.scale, indices, 'ArrayDataset'),
  };
}
