/**
 * DataLoader: seeded shuffling, batching and augmentation, prepared off the main thread.
 *
 *   const loader = new rn.data.DataLoader(ds, { batchSize: 128, shuffle: true, seed: 0,
 *     transform: rn.data.transforms.compose([randomCrop(28, 2), randomHorizontalFlip()]) });
 *   for (let epoch = 0; epoch < 10; epoch++) {
 *     loader.setEpoch(epoch);                      // optional: epochs also advance by themselves
 *     for await (const { x, y } of loader) {       // x [B,C,H,W] float32, y [B] int32
 *       ...
 *     }
 *   }
 *   checkpoint.loader = loader.state();            // exact resume, even mid-epoch
 *
 * Workers: with an ArrayDataset (every built-in dataset is one) the images and labels are moved
 * into SharedArrayBuffers once, and worker_threads gather and transform batches while the main
 * thread computes; `prefetch` batches are kept in flight. Only the TypedArrays cross threads:
 * tensors are made on the main thread when the consumer pulls a batch, in the consumer's async
 * context, so `rn.tidy` scopes see them. Transforms built by `rn.data.transforms` run in the
 * workers (they are rebuilt there from their spec); any other function runs on the main thread
 * after the worker's gather, with the same per-batch Rng, so results never depend on the mode.
 *
 * Worker code: the worker is started from a small JavaScript bootstrap (eval) that requires the
 * sibling `loader_worker.js` of this file, or `loader_worker.ts` when running from sources
 * (ts-jest, ts-node), transpiled with the `typescript` package; the transpiled code is cached
 * per process so only the first worker pays for it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { invalidArg, rnError, typeOf } from '../errors';
import { _uniformJs } from '../random';
import { Tensor, tensor } from '../tensor';
import type { Dataset } from './dataset';
import { Shape4, Transform, transformSpec } from './transforms';
import {
  applyTransform, BatchRequest, epochOrder, HostBatch, prepareBatch, WorkerPayload, WorkerReply,
} from './loader_worker';

export type { HostBatch };

export interface DataLoaderOptions {
  /** Samples per batch. Default 1. */
  batchSize?: number;
  /** Reshuffle every epoch with a permutation drawn from (seed, epoch). Default false. */
  shuffle?: boolean;
  /** Drop the last batch if it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Applied per batch to the NCHW float32 images, with an Rng derived from (seed, epoch, batch). */
  transform?: Transform | null;
  /** Seed for shuffling and augmentation. Default: drawn from the global generator (rn.manualSeed). */
  seed?: number;
  /** Batches prepared ahead of the one being consumed (worker mode). Default 2. */
  prefetch?: number;
  /**
   * Worker threads: false or 0 runs inline on the main thread; true uses
   * min(4, availableParallelism - 1) (at least 1); a number sets the count. Default: true for an
   * ArrayDataset (every built-in dataset), else false. Use prefetch >= workers to keep all busy.
   */
  workers?: boolean | number;
  /**
   * Dispose a batch's x and y when the next batch is pulled or the iteration ends, unless they
   * were kept (`x.keep()`). Default false (they are ordinary tensors owned by the consumer).
   */
  autoDispose?: boolean;
}

/** What iterating a DataLoader yields. */
export interface TensorBatch {
  /** [B, C, H, W] float32 */
  x: Tensor;
  /** [B] int32 */
  y: Tensor;
  epoch: number;
  /** Batch index within the epoch. */
  index: number;
}

/** A host batch from `loader.arrays()`. */
export interface LoaderArrays extends HostBatch {
  epoch: number;
  index: number;
}

/** Resume point of a DataLoader: JSON-serializable. */
export interface LoaderState {
  seed: number;
  /** Epoch of the next batch. */
  epoch: number;
  /** Index (within the epoch) of the next batch. */
  batch: number;
  /** Checked on loadState: the order depends on them. */
  datasetLength: number;
  batchSize: number;
  shuffle: boolean;
  dropLast: boolean;
}

function defaultWorkerCount(): number {
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cpus - 1));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const shareable = (ds: Dataset): boolean => typeof (ds as { _shared?: unknown })._shared === 'function';

function checkBool(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw invalidArg('a boolean', name, v);
  return v;
}
function checkInt(v: unknown, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const what = min > 0 ? 'a positive integer' : 'a non-negative integer';
  if (typeof v !== 'number') throw invalidArg(what, name, v);
  if (!Number.isSafeInteger(v) || v < min) throw invalidArg(what, name, v, 'ERR_RN_RANGE');
  return v;
}

function checkDataset(ds: unknown): Dataset {
  const what = 'a dataset with length, shape [C, H, W] and getBatch(indices)';
  if (!isObj(ds) || typeof ds.getBatch !== 'function') throw invalidArg(what, 'DataLoader(dataset)', ds);
  const len = ds.length;
  const shape = ds.shape;
  if (typeof len !== 'number' || !Number.isSafeInteger(len) || len < 0 || len > 2 ** 31 - 1 ||
      !Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw invalidArg(what, 'DataLoader(dataset)', ds);
  }
  return ds as unknown as Dataset;
}

/** Where the worker module is: compiled .js next to this file, else the .ts source. */
export function _workerEntry(): string {
  const base = path.join(__dirname, 'loader_worker');
  return fs.existsSync(base + '.js') ? base + '.js' : base + '.ts';
}

/** Transpiled worker sources (ts mode), reused by every later worker of this process. */
const compiledCache: Record<string, { src: string; code: string }> = {};

/**
 * Plain JavaScript, run with `eval: true`: loads the worker module and starts it. When the
 * module is TypeScript, installs a minimal `.ts` loader (typescript.transpileModule) and sends the
 * transpiled code back so later workers skip the compiler.
 */
const BOOTSTRAP = `'use strict';
const { workerData, parentPort } = require('worker_threads');
const Module = require('module');
const fs = require('fs');
const entry = workerData.entry;
const fresh = {};
if (entry.endsWith('.ts') && !Module._extensions['.ts']) {
  const cache = workerData.compiled || {};
  let ts = null;
  Module._extensions['.ts'] = function (m, filename) {
    const src = fs.readFileSync(filename, 'utf8');
    const hit = cache[filename];
    let code = hit && hit.src === src ? hit.code : null;
    if (code === null) {
      if (!ts) {
        try { ts = Module.createRequire(entry)('typescript'); }
        catch (e) { throw new Error('resnode DataLoader worker: running from TypeScript sources (' + entry + ') needs the "typescript" package: ' + e.message); }
      }
      code = ts.transpileModule(src, { fileName: filename, compilerOptions: {
        module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false } }).outputText;
      fresh[filename] = { src, code };
    }
    m._compile(code, filename);
  };
}
const mod = Module.createRequire(entry)(entry);
mod.runWorker();
parentPort.postMessage(Object.keys(fresh).length ? { ready: true, compiled: fresh } : { ready: true });
`;

interface Pending {
  promise: Promise<HostBatch | null>;
  resolve: (b: HostBatch | null) => void;
  reject: (e: unknown) => void;
}
type ReadyMessage = { ready: true; compiled?: typeof compiledCache };
interface WorkerSlot {
  w: Worker;
  busy: number;
}

function reviveError(r: Extract<WorkerReply, { ok: false }>): Error {
  const E = r.name === 'TypeError' ? TypeError : r.name === 'RangeError' ? RangeError : Error;
  const e = new E(r.message);
  if (r.code) Object.defineProperty(e, 'code', { value: r.code, enumerable: true });
  if (r.stack) e.stack = `${e.name}: ${r.message}\n    (in a DataLoader worker)\n${r.stack.split('\n').slice(1).join('\n')}`;
  return e;
}

/** Re-wraps arrays that arrived from a worker with this realm's constructors (zero-copy). */
function local<T extends Float32Array | Int32Array>(a: T, Ctor: new (b: ArrayBuffer, o: number, n: number) => T): T {
  return a instanceof Ctor ? a : new Ctor(a.buffer as ArrayBuffer, a.byteOffset, a.length);
}

/** One pass over (the rest of) an epoch. */
class BatchStream {
  private order: Int32Array | null = null;
  private nextIdx: number;
  private requested: number;
  private readonly pending = new Map<number, Pending>();
  private workers: WorkerSlot[] = [];
  private closed = false;
  private failed: unknown = null;
  private finished = false;
  private chain: Promise<unknown> = Promise.resolve();
  private mainTransform: Transform | null;
  private payload: WorkerPayload | null = null;
  private toSpawn = 0;

  constructor(
    private readonly loader: DataLoader,
    readonly epoch: number,
    start: number,
    readonly gen: number,
  ) {
    this.nextIdx = start;
    this.requested = start;
    this.mainTransform = loader.transform;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private indices(b: number): Int32Array {
    if (!this.order) this.order = this.loader.order(this.epoch);
    const bs = this.loader.batchSize;
    return this.order.slice(b * bs, Math.min((b + 1) * bs, this.order.length));
  }

  private startWorkers(): void {
    const L = this.loader;
    const ds = L.dataset as Dataset & { _shared(): WorkerPayload['source'] };
    const spec = L.transform ? transformSpec(L.transform) ?? null : null;
    this.mainTransform = L.transform && !spec ? L.transform : null;
    this.payload = { source: ds._shared(), transform: spec, seed: L.seed };
    // From TypeScript sources, the first worker transpiles the worker modules; the others start
    // once it is ready and reuse its output instead of all loading the compiler at once.
    const cold = _workerEntry().endsWith('.ts') && Object.keys(compiledCache).length === 0;
    this.toSpawn = L.numWorkers;
    this.spawn(cold ? 1 : L.numWorkers);
  }

  private spawn(count: number): void {
    const entry = _workerEntry();
    for (let i = 0; i < count && this.toSpawn > 0; i++) {
      this.toSpawn--;
      const w = new Worker(BOOTSTRAP, { eval: true, workerData: { entry, compiled: compiledCache, payload: this.payload } });
      const slot: WorkerSlot = { w, busy: 0 };
      w.unref();
      w.on('message', (m: WorkerReply | ReadyMessage) => this.onMessage(slot, m));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (!this.closed) this.fail(rnError('ERR_RN_INTERNAL', `DataLoader: a worker thread exited unexpectedly (code ${code})`));
      });
      this.workers.push(slot);
    }
  }

  private onMessage(slot: WorkerSlot, m: WorkerReply | ReadyMessage): void {
    if ('ready' in m) {
      if (m.compiled) Object.assign(compiledCache, m.compiled);
      if (!this.closed) this.spawn(this.toSpawn);
      return;
    }
    const p = this.pending.get(m.id);
    slot.busy--;
    if (slot.busy === 0) slot.w.unref();
    if (!p) return;
    if (m.ok) {
      p.resolve({ images: local(m.images, Float32Array), labels: local(m.labels, Int32Array), shape: [m.shape[0], m.shape[1], m.shape[2], m.shape[3]] });
    } else p.reject(reviveError(m));
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    void this.close();
  }

  /** Sends requests until `upto` (exclusive) batches are requested. */
  private request(upto: number): void {
    upto = Math.min(upto, this.loader.length);
    while (this.requested < upto) {
      const b = this.requested++;
      let resolve!: Pending['resolve'];
      let reject!: Pending['reject'];
      const promise = new Promise<HostBatch | null>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // rejections surface when the batch is awaited, not before
      const p: Pending = { promise, resolve, reject };
      this.pending.set(b, p);
      let slot = this.workers[0];
      for (const s of this.workers) if (s.busy < slot.busy) slot = s;
      if (slot.busy++ === 0) slot.w.ref(); // keep the process alive while work is outstanding
      const indices = this.indices(b);
      const req: BatchRequest = { id: b, epoch: this.epoch, batch: b, indices };
      slot.w.postMessage(req, [indices.buffer as ArrayBuffer]);
    }
  }

  /** The next batch, or null at the end of the epoch (or once closed). Calls are served in order. */
  next(): Promise<LoaderArrays | null> {
    const r = this.chain.then(() => this.step());
    this.chain = r.catch(() => {});
    return r;
  }

  private async step(): Promise<LoaderArrays | null> {
    if (this.failed) throw this.failed;
    if (this.closed) return null;
    const L = this.loader;
    const b = this.nextIdx;
    if (b >= L.length) {
      this.finish();
      return null;
    }
    let batch: HostBatch | null;
    try {
      if (L.numWorkers === 0) {
        batch = prepareBatch(L.dataset, this.indices(b), L.transform, L.seed, this.epoch, b);
      } else {
        if (this.workers.length === 0) this.startWorkers();
        this.request(b + Math.max(L.prefetch, 1));
        const p = this.pending.get(b)!;
        batch = await p.promise;
        this.pending.delete(b);
        if (batch && this.mainTransform) batch = applyTransform(batch, this.mainTransform, L.seed, this.epoch, b);
      }
    } catch (e) {
      this.failed ??= e;
      await this.close();
      throw e;
    }
    if (!batch || this.closed) return null;
    this.nextIdx = b + 1;
    // Refill right away, so the workers run while the consumer computes.
    if (L.numWorkers > 0) this.request(this.nextIdx + L.prefetch);
    L._advance(this, b + 1);
    return { ...batch, epoch: this.epoch, index: b };
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.loader._advance(this, this.loader.length);
    void this.close();
  }

  /** Stops the workers; a pending next() resolves to null. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.resolve(null);
    this.pending.clear();
    const ws = this.workers;
    this.workers = [];
    if (ws.length === 0) {
      this.loader._closed(this);
      return;
    }
    // A terminating worker does not reliably keep the event loop alive until its 'exit' (seen
    // with idle, unref'd workers): the process could end while the consumer awaits close().
    // A timer holds the loop open until every thread has stopped.
    const hold = setInterval(() => {}, 1000);
    try {
      await Promise.all(ws.map((s) => s.w.terminate()));
    } finally {
      clearInterval(hold);
    }
    this.loader._closed(this);
  }
}

/**
 * Batches a dataset: `for await (const { x, y } of loader)`. See the file comment for threading
 * and determinism.
 */
export class DataLoader implements AsyncIterable<TensorBatch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly transform: Transform | null;
  readonly seed: number;
  readonly prefetch: number;
  /** Worker threads used per iteration; 0 = inline. */
  readonly numWorkers: number;
  readonly autoDispose: boolean;
  private _epoch = 0;
  private _batch = 0;
  private gen = 0;
  private active: BatchStream | null = null;
  private orderCache: { epoch: number; order: Int32Array } | null = null;

  constructor(dataset: Dataset, options: DataLoaderOptions = {}) {
    this.dataset = checkDataset(dataset);
    if (!isObj(options)) throw invalidArg('an options object', 'DataLoader(options)', options);
    this.batchSize = checkInt(options.batchSize, 'DataLoader(batchSize)', 1, 1);
    this.shuffle = checkBool(options.shuffle, 'DataLoader(shuffle)', false);
    this.dropLast = checkBool(options.dropLast, 'DataLoader(dropLast)', false);
    const t = options.transform;
    if (t !== undefined && t !== null && typeof t !== 'function')
      throw invalidArg('a transform function (batch, shape, rng) => { data, shape }', 'DataLoader(transform)', t);
    this.transform = (t ?? null) as Transform | null;
    this.seed = options.seed === undefined ? Math.floor(_uniformJs() * 4294967296) : checkInt(options.seed, 'DataLoader(seed)', 0, 0);
    this.prefetch = checkInt(options.prefetch, 'DataLoader(prefetch)', 2, 0);
    this.autoDispose = checkBool(options.autoDispose, 'DataLoader(autoDispose)', false);
    const w = options.workers;
    let n: number;
    if (w === undefined) n = shareable(this.dataset) ? defaultWorkerCount() : 0;
    else if (typeof w === 'boolean') n = w ? defaultWorkerCount() : 0;
    else n = checkInt(w, 'DataLoader(workers)', 0, 0);
    // each worker is a thread with its own V8 heap: a count far past the cores is a mistake (1e6 would
    // exhaust memory when iteration starts), so refuse it here
    const maxWorkers = Math.max(16, 2 * (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
    if (n > maxWorkers) throw invalidArg(`a worker count of at most ${maxWorkers} (twice the CPU count)`, 'DataLoader(workers)', w, 'ERR_RN_RANGE');
    if (n > 0 && !shareable(this.dataset))
      throw invalidArg(
        'workers: false for a dataset that is not an ArrayDataset (worker threads can only share ArrayDataset arrays)',
        'DataLoader(workers)', w,
      );
    this.numWorkers = n;
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Epoch of the next batch (advances by itself after each full pass). */
  get epoch(): number {
    return this._epoch;
  }

  /** Starts the next iteration at the beginning of epoch `e` (its order and augmentation). */
  setEpoch(e: number): void {
    this._epoch = checkInt(e, 'setEpoch(epoch)', 0, 0);
    this._batch = 0;
    this.gen++;
  }

  /** The sample order of an epoch (default: the current one). */
  order(epoch = this._epoch): Int32Array {
    checkInt(epoch, 'order(epoch)', 0, 0);
    if (this.orderCache?.epoch !== epoch) this.orderCache = { epoch, order: epochOrder(this.dataset.length, this.shuffle, this.seed, epoch) };
    return this.orderCache.order;
  }

  /** Position for an exact resume: the next batch to deliver. */
  state(): LoaderState {
    return {
      seed: this.seed, epoch: this._epoch, batch: this._batch, datasetLength: this.dataset.length,
      batchSize: this.batchSize, shuffle: this.shuffle, dropLast: this.dropLast,
    };
  }

  /**
   * Resumes from `state()`: the next iteration starts at that epoch and batch. The seed is taken
   * from the state; dataset length, batch size, shuffle and dropLast must match this loader.
   */
  loadState(s: LoaderState): void {
    const what = 'a DataLoader state from state()';
    if (!isObj(s)) throw invalidArg(what, 'loadState(state)', s);
    for (const k of ['seed', 'epoch', 'batch', 'datasetLength', 'batchSize'] as const)
      if (typeof s[k] !== 'number' || !Number.isSafeInteger(s[k]) || s[k] < 0) throw invalidArg(`${what} (${k} a non-negative integer)`, 'loadState(state)', s);
    const mismatch: string[] = [];
    if (s.datasetLength !== this.dataset.length) mismatch.push(`dataset length ${s.datasetLength} vs ${this.dataset.length}`);
    if (s.batchSize !== this.batchSize) mismatch.push(`batchSize ${s.batchSize} vs ${this.batchSize}`);
    if (s.shuffle !== undefined && s.shuffle !== this.shuffle) mismatch.push(`shuffle ${s.shuffle} vs ${this.shuffle}`);
    if (s.dropLast !== undefined && s.dropLast !== this.dropLast) mismatch.push(`dropLast ${s.dropLast} vs ${this.dropLast}`);
    if (mismatch.length) throw rnError('ERR_RN_STATE', `DataLoader.loadState: the state was saved by a different loader (${mismatch.join(', ')})`);
    if (s.batch > this.length) throw rnError('ERR_RN_STATE', `DataLoader.loadState: batch ${s.batch} is past the end of an epoch of ${this.length} batches`);
    (this as { seed: number }).seed = s.seed;
    this.orderCache = null;
    this._epoch = s.epoch;
    this._batch = s.batch;
    if (this._batch === this.length && this.length > 0) {
      this._epoch++;
      this._batch = 0;
    }
    this.gen++;
  }

  /** Host batches (TypedArrays, no tensors): same order, state and threading as iterating tensors. */
  arrays(): AsyncIterableIterator<LoaderArrays> {
    const stream = this.open();
    const it: AsyncIterableIterator<LoaderArrays> = {
      next: async () => {
        const b = await stream.next();
        return b ? { done: false, value: b } : { done: true, value: undefined };
      },
      return: async () => {
        await stream.close();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /**
   * Tensor batches. x and y are made when the consumer pulls them (inside `next()`), so they
   * belong to the consumer's current tidy scope.
   */
  [Symbol.asyncIterator](): AsyncIterator<TensorBatch> {
    const stream = this.open();
    let last: TensorBatch | null = null;
    const drop = (): void => {
      if (this.autoDispose && last) {
        if (!last.x._kept) last.x.dispose();
        if (!last.y._kept) last.y.dispose();
      }
      last = null;
    };
    return {
      next: async () => {
        drop();
        const b = await stream.next();
        if (!b) return { done: true, value: undefined };
        const x = tensor(b.images, { shape: b.shape });
        const y = tensor(b.labels, { shape: [b.labels.length] });
        last = { x, y, epoch: b.epoch, index: b.index };
        return { done: false, value: last };
      },
      return: async () => {
        drop();
        await stream.close();
        return { done: true, value: undefined };
      },
    };
  }

  /** Stops an iteration in progress (terminates its workers); later iterations still work. */
  async close(): Promise<void> {
    await this.active?.close();
  }

  /** Is an iteration in progress (workers may be running)? */
  get isActive(): boolean {
    return this.active !== null && !this.active.isClosed;
  }

  private open(): BatchStream {
    // A new iteration replaces an unfinished one (its workers are stopped).
    if (this.active) void this.active.close();
    const s = new BatchStream(this, this._epoch, this._batch, this.gen);
    this.active = s;
    return s;
  }

  /** @internal a stream delivered batch `next - 1` (or reached the end when next === length) */
  _advance(s: BatchStream, next: number): void {
    if (s.gen !== this.gen) return;
    if (next >= this.length) {
      this._epoch = s.epoch + 1;
      this._batch = 0;
    } else {
      this._epoch = s.epoch;
      this._batch = next;
    }
  }

  /** @internal */
  _closed(s: BatchStream): void {
    if (this.active === s) this.active = null;
  }

  toString(): string {
    return `DataLoader(${typeOf(this.dataset) === 'object' ? this.dataset.constructor.name : 'dataset'}: ${this.dataset.length} samples, ` +
      `batchSize=${this.batchSize}, ${this.length} batches, shuffle=${this.shuffle}, workers=${this.numWorkers})`;
  }
}
