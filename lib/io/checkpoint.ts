/**
 * Training checkpoints: one safetensors file holding the model's state dict, the optimiser's and
 * scheduler's state (tensors and JSON), and a JSON metadata entry (epoch, step, config, metrics,
 * RNG and data-loader state, and a SHA-256 of the tensor data verified on load).
 *
 * Writes are atomic (temp file, fsync, rename, directory fsync): a process killed mid-write
 * leaves the previous checkpoint intact. Loading into a different model refuses with a message
 * naming the first mismatching key and both shapes.
 */
import { createHash } from 'crypto';
import { invalidArg, rnError } from '../errors';
import { Tensor, tensor } from '../tensor';
import { noGrad } from '../autograd';
import { keep } from '../memory';
import { Module } from '../nn/module';
import { getRngState, setRngState, RngState } from '../random';
import { readSafetensorsFile, writeSafetensorsFile, RawTensor, SafeDType } from './safetensors';

export const CHECKPOINT_FORMAT = 'resnode-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** Anything with PyTorch-style stateDict()/loadStateDict() (optimisers, schedulers, loaders). */
export interface Stateful {
  stateDict(): unknown;
  loadStateDict(s: never): unknown;
}

export interface CheckpointMeta {
  epoch?: number;
  step?: number;
  config?: unknown;
  metrics?: unknown;
  [k: string]: unknown;
}

export interface CheckpointContents {
  meta: CheckpointMeta & { rng: RngState; savedAt: string };
  model: Map<string, Tensor>;
  optimizer: unknown;
  scheduler: unknown;
  extra: unknown;
}

const DT: Record<string, SafeDType> = { float32: 'F32', int32: 'I32', uint8: 'U8', int64: 'I64' };
const FROM_DT: Partial<Record<SafeDType, 'float32' | 'int32' | 'uint8' | 'int64'>> = { F32: 'float32', I32: 'int32', U8: 'uint8', I64: 'int64' };

function toRaw(t: Tensor): RawTensor {
  const dtype = DT[t.dtype];
  if (!dtype) throw rnError('ERR_RN_DTYPE', `checkpoint: cannot store a ${t.dtype} tensor`);
  return { dtype, shape: t.shape.slice(), data: t.dataSync() as RawTensor['data'] };
}

/** Replace tensors inside a JSON-like value with {"__tensor__": key} and collect them. */
function flatten(v: unknown, prefix: string, out: Map<string, RawTensor>): unknown {
  if (v instanceof Tensor) {
    out.set(prefix, toRaw(v));
    return { __tensor__: prefix };
  }
  if (v instanceof Map) return { __map__: [...v.entries()].map(([k, x], i) => [k, flatten(x, `${prefix}.${i}`, out)]) };
  if (Array.isArray(v)) return v.map((x, i) => flatten(x, `${prefix}.${i}`, out));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = flatten(x, `${prefix}.${k}`, out);
    return o;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return { __number__: String(v) };
  return v;
}

function unflatten(v: unknown, tensors: Map<string, RawTensor>, file: string): unknown {
  if (Array.isArray(v)) return v.map((x) => unflatten(x, tensors, file));
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.__tensor__ === 'string') {
      const raw = tensors.get(o.__tensor__);
      if (!raw) throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: metadata refers to a missing tensor "${o.__tensor__}"`);
      return keep(fromRaw(raw, o.__tensor__, file));
    }
    if (Array.isArray(o.__map__)) return new Map((o.__map__ as [unknown, unknown][]).map(([k, x]) => [k, unflatten(x, tensors, file)]));
    if (typeof o.__number__ === 'string') return Number(o.__number__);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = unflatten(x, tensors, file);
    return out;
  }
  return v;
}

function fromRaw(raw: RawTensor, name: string, file: string): Tensor {
  const dt = FROM_DT[raw.dtype];
  if (!dt) throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: tensor "${name}" has unsupported dtype ${raw.dtype}`);
  return tensor(raw.data as Float32Array, { shape: raw.shape, dtype: dt });
}

function digest(tensors: Map<string, RawTensor>): string {
  const h = createHash('sha256');
  for (const k of [...tensors.keys()].sort()) {
    const t = tensors.get(k)!;
    h.update(`${k}|${t.dtype}|${t.shape.join(',')}|`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}

export interface SaveCheckpointArgs {
  model: Module;
  optimizer?: Stateful | null;
  scheduler?: Stateful | null;
  meta?: CheckpointMeta;
  /** Any other JSON-able state (e.g. the data loader's), tensors allowed. */
  extra?: unknown;
}

function checkArgs(args: unknown, op: string): void {
  if (args === null || typeof args !== 'object') throw invalidArg('an object { model, optimizer?, ... }', `${op}(args)`, args);
  const a = args as { model?: unknown; optimizer?: unknown; scheduler?: unknown };
  if (!(a.model instanceof Module)) throw invalidArg('a Module', `${op}(model)`, a.model);
  for (const k of ['optimizer', 'scheduler'] as const) {
    const v = a[k] as { stateDict?: unknown; loadStateDict?: unknown } | null | undefined;
    if (v !== undefined && v !== null && (typeof v !== 'object' || typeof v.stateDict !== 'function' || typeof v.loadStateDict !== 'function'))
      throw invalidArg('an object with stateDict() and loadStateDict()', `${op}(${k})`, v);
  }
}

/** Save atomically; returns the SHA-256 of the tensor data written. */
export function saveCheckpoint(file: string, args: SaveCheckpointArgs): string {
  if (typeof file !== 'string' || file === '') throw invalidArg('a non-empty string', 'saveCheckpoint(file)', file);
  checkArgs(args, 'saveCheckpoint');
  const tensors = new Map<string, RawTensor>();
  for (const [k, t] of args.model.stateDict()) tensors.set(`model.${k}`, toRaw(t));
  const optimizer = args.optimizer ? flatten(args.optimizer.stateDict(), 'optimizer', tensors) : null;
  const scheduler = args.scheduler ? flatten(args.scheduler.stateDict(), 'scheduler', tensors) : null;
  const extra = args.extra !== undefined ? flatten(args.extra, 'extra', tensors) : null;
  const sha256 = digest(tensors);
  const meta = { ...(args.meta ?? {}), rng: getRngState(), savedAt: new Date().toISOString() };
  writeSafetensorsFile(file, tensors, {
    format: CHECKPOINT_FORMAT,
    version: String(CHECKPOINT_VERSION),
    meta: JSON.stringify(meta),
    optimizer: JSON.stringify(optimizer),
    scheduler: JSON.stringify(scheduler),
    extra: JSON.stringify(extra),
    sha256,
  });
  return sha256;
}

/** Read and verify a checkpoint (format, checksum) without applying it. */
export function readCheckpoint(file: string): CheckpointContents {
  const { tensors, metadata } = readSafetensorsFile(file);
  if (metadata.format !== CHECKPOINT_FORMAT)
    throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: not a resnode checkpoint (metadata format is ${JSON.stringify(metadata.format ?? null)})`);
  const version = Number(metadata.version);
  if (!Number.isInteger(version) || version < 1)
    throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: version ${JSON.stringify(metadata.version ?? null)} is not a checkpoint version`);
  if (version > CHECKPOINT_VERSION)
    throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: version ${metadata.version} is newer than this resnode supports (${CHECKPOINT_VERSION})`);
  const sum = digest(tensors);
  if (sum !== metadata.sha256)
    throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: checksum mismatch (data ${sum.slice(0, 12)}…, metadata ${String(metadata.sha256).slice(0, 12)}…): the file is corrupt`);
  let parsed: Record<string, unknown>;
  try {
    parsed = { meta: JSON.parse(metadata.meta), optimizer: JSON.parse(metadata.optimizer ?? 'null'), scheduler: JSON.parse(metadata.scheduler ?? 'null'), extra: JSON.parse(metadata.extra ?? 'null') };
  } catch (e) {
    throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: metadata is not valid JSON (${(e as Error).message})`);
  }
  // the checksum covers the tensors only: the metadata is checked for what loading relies on
  const meta = parsed.meta as Record<string, unknown> | null;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: metadata "meta" must be a JSON object but is ${JSON.stringify(meta)?.slice(0, 40)}`);
  const rng = meta.rng as { seed?: unknown; offset?: unknown } | undefined;
  if (rng !== undefined && (rng === null || typeof rng !== 'object' || !Number.isSafeInteger(rng.seed) || !Number.isSafeInteger(rng.offset) || (rng.seed as number) < 0 || (rng.offset as number) < 0))
    throw rnError('ERR_RN_FORMAT', `checkpoint: ${file}: metadata meta.rng is not an RNG state {seed, offset} of non-negative integers`);
  const model = new Map<string, Tensor>();
  try {
    for (const [k, raw] of tensors) if (k.startsWith('model.')) model.set(k.slice(6), fromRaw(raw, k, file));
    return {
      meta: parsed.meta as CheckpointContents['meta'],
      model,
      optimizer: unflatten(parsed.optimizer, tensors, file),
      scheduler: unflatten(parsed.scheduler, tensors, file),
      extra: unflatten(parsed.extra, tensors, file),
    };
  } catch (e) {
    for (const t of model.values()) t.dispose();
    throw e;
  }
}

export interface LoadCheckpointArgs {
  model: Module;
  optimizer?: Stateful | null;
  scheduler?: Stateful | null;
  /** Restore the global RNG state saved with the checkpoint (default true). */
  restoreRng?: boolean;
}

/**
 * Load into model (and optimiser/scheduler). The model's keys and shapes must match exactly;
 * the first difference is named. Returns the metadata and the `extra` state.
 */
export function loadCheckpoint(file: string, args: LoadCheckpointArgs): { meta: CheckpointContents['meta']; extra: unknown } {
  checkArgs(args, 'loadCheckpoint');
  const c = readCheckpoint(file);
  try {
    const own = args.model.stateDict();
    for (const [k, t] of own) {
      const v = c.model.get(k);
      if (!v) throw rnError('ERR_RN_STATE', `loadCheckpoint: ${file} has no "${k}" (shape [${t.shape.join(', ')}] in the model): it was saved from a different model`);
      if (v.shape.join() !== t.shape.join())
        throw rnError('ERR_RN_STATE', `loadCheckpoint: "${k}" has shape [${v.shape.join(', ')}] in ${file} but [${t.shape.join(', ')}] in the model`);
    }
    for (const k of c.model.keys())
      if (!own.has(k)) throw rnError('ERR_RN_STATE', `loadCheckpoint: ${file} has "${k}", which the model does not have: it was saved from a different model`);
    noGrad(() => args.model.loadStateDict(c.model));
  } finally {
    for (const t of c.model.values()) t.dispose();
  }
  if (args.optimizer) {
    if (!c.optimizer) throw rnError('ERR_RN_STATE', `loadCheckpoint: ${file} holds no optimizer state`);
    args.optimizer.loadStateDict(c.optimizer as never);
  }
  if (args.scheduler && c.scheduler) args.scheduler.loadStateDict(c.scheduler as never);
  if (args.restoreRng !== false && c.meta.rng) setRngState(c.meta.rng);
  return { meta: c.meta, extra: c.extra };
}
