/**
 * The part of a DataLoader that runs off the main thread: derive per-batch seeds, gather
 * samples, apply transforms. The same functions run inline (workers: false), so worker and
 * inline modes give identical batches by construction.
 *
 * Randomness never depends on scheduling: the epoch's order comes from seed(seed, epoch) and a
 * batch's augmentation Rng from seed(seed, epoch, batchIndex), whichever thread prepares it.
 *
 * This module must stay free of the native addon and of tensors (it is what a worker loads).
 * Worker entry: `runWorker()`, called by the bootstrap in loader.ts.
 */
import type { Dataset } from './dataset';
import { SharedSource, sharedDataset } from './gather';
import { Rng, Shape4, Transform, TransformSpec, transformFromSpec } from './transforms';

/** A prepared batch on the host. */
export interface HostBatch {
  /** NCHW float32 images (after the transform). */
  images: Float32Array;
  labels: Int32Array;
  /** [B, C, H, W] of `images`. */
  shape: Shape4;
}

function mix32(a: number): number {
  a = Math.imul(a ^ (a >>> 16), 0x21f0aaad);
  a = Math.imul(a ^ (a >>> 15), 0x735a2d97);
  return (a ^ (a >>> 15)) >>> 0;
}

/** Stream ids for deriveSeed. */
export const STREAM_SHUFFLE = 0;
export const STREAM_AUGMENT = 1;

/**
 * A 53-bit seed for an Rng, hashed from (seed, epoch, batch, stream): nearby inputs give
 * unrelated streams, and the result depends on nothing else.
 */
export function deriveSeed(seed: number, epoch: number, batch: number, stream: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let a = mix32((lo + 0x9e3779b9) | 0);
  a = mix32(((a ^ hi) + 0x632be5ab) | 0);
  a = mix32(((a ^ (epoch >>> 0)) + 0x85ebca6b) | 0);
  a = mix32(((a ^ (Math.floor(epoch / 4294967296) >>> 0)) + 0x27d4eb2f) | 0);
  a = mix32(((a ^ (batch >>> 0)) + 0x165667b1) | 0);
  a = mix32(((a ^ stream) + 0xd3a2646c) | 0);
  const b = mix32((a ^ 0x5bd1e995) >>> 0);
  return a + (b & 0x1fffff) * 4294967296;
}

/** The sample order of an epoch: 0..n-1, or a permutation from (seed, epoch) when shuffling. */
export function epochOrder(n: number, shuffle: boolean, seed: number, epoch: number): Int32Array {
  if (shuffle) return new Rng(deriveSeed(seed, epoch, 0, STREAM_SHUFFLE)).permutation(n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** The Rng a batch's transform draws from. */
export function batchRng(seed: number, epoch: number, batch: number): Rng {
  return new Rng(deriveSeed(seed, epoch, batch, STREAM_AUGMENT));
}

/** Applies `transform` to a gathered batch with the batch's own Rng. */
export function applyTransform(b: HostBatch, transform: Transform, seed: number, epoch: number, batch: number): HostBatch {
  const r = transform(b.images, b.shape, batchRng(seed, epoch, batch));
  if (!(r && r.data instanceof Float32Array && Array.isArray(r.shape) && r.shape.length === 4 && r.shape[0] === b.shape[0]))
    throw Object.assign(new TypeError(`DataLoader: the transform must return { data: Float32Array, shape: [${b.shape[0]}, C, H, W] }`), { code: 'ERR_RN_ARG' });
  return { images: r.data, labels: b.labels, shape: [r.shape[0], r.shape[1], r.shape[2], r.shape[3]] };
}

/** Gathers `indices` and, if given, transforms them. */
export function prepareBatch(ds: Dataset, indices: Int32Array, transform: Transform | null, seed: number, epoch: number, batch: number): HostBatch {
  const { images, labels } = ds.getBatch(indices);
  const [c, h, w] = ds.shape;
  const shape: Shape4 = [indices.length, c, h, w];
  if (images.length !== indices.length * c * h * w || labels.length !== indices.length)
    throw Object.assign(new Error(`DataLoader: dataset.getBatch returned ${images.length} values and ${labels.length} labels for ${indices.length} samples of shape [${c}, ${h}, ${w}]`), { code: 'ERR_RN_SHAPE' });
  const b: HostBatch = { images, labels, shape };
  return transform ? applyTransform(b, transform, seed, epoch, batch) : b;
}

/** What the main thread puts in workerData.payload. */
export interface WorkerPayload {
  source: SharedSource;
  transform: TransformSpec | null;
  seed: number;
}
export interface BatchRequest {
  id: number;
  epoch: number;
  batch: number;
  indices: Int32Array;
}
export type WorkerReply =
  | { id: number; ok: true; images: Float32Array; labels: Int32Array; shape: Shape4 }
  | { id: number; ok: false; message: string; code?: string; name?: string; stack?: string };

/** Worker-thread main loop: answer batch requests until terminated. */
export function runWorker(): void {
  // Required lazily so that importing this module on the main thread costs nothing.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { parentPort, workerData } = require('worker_threads') as typeof import('worker_threads');
  if (!parentPort) throw new Error('runWorker: not in a worker thread');
  const payload = (workerData as { payload: WorkerPayload }).payload;
  const ds = sharedDataset(payload.source);
  const transform = payload.transform ? transformFromSpec(payload.transform) : null;
  parentPort.on('message', (req: BatchRequest) => {
    let reply: WorkerReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const b = prepareBatch(ds, req.indices, transform, payload.seed, req.epoch, req.batch);
      reply = { id: req.id, ok: true, images: b.images, labels: b.labels, shape: b.shape };
      transfer = [b.images.buffer as ArrayBuffer, b.labels.buffer as ArrayBuffer];
      if ((transfer[0] as unknown) === transfer[1] || transfer.some((t) => !(t instanceof ArrayBuffer))) transfer = [];
    } catch (e) {
      const err = e as Error & { code?: string };
      reply = { id: req.id, ok: false, message: String(err?.message ?? err), code: err?.code, name: err?.name, stack: err?.stack };
    }
    parentPort.postMessage(reply, transfer);
  });
}
