/**
 * State dicts <-> safetensors files, through rn.Tensor.
 *
 *   const sd = rn.io.loadSafetensors('resnet18.safetensors');   // Map<string, Tensor>
 *   model.loadStateDict(sd);
 *   rn.io.saveSafetensors('out.safetensors', model.stateDict(), { format: 'pt' });
 *
 * Loading (the header is validated by ./safetensors.ts, which fails with ERR_RN_FORMAT naming
 * the file, the tensor and the problem): F32 -> float32; F16, BF16 and F64 -> float32 (converted,
 * exactly for F16/BF16); I64 -> int64 (so `num_batches_tracked` round-trips); I32, I16, I8 ->
 * int32; U8 and BOOL -> uint8.
 *
 * Saving: float32 -> F32 (or F16 / BF16 with `{ floatDtype }`), int64 -> I64, int32 -> I32,
 * uint8 -> U8, bfloat16 -> BF16, float16 -> F16. Non-contiguous tensors are written in logical
 * (row-major) order. The file is written atomically with the reference writer's layout.
 */
import { Tensor, tensor } from '../tensor';
import { Module } from '../nn/module';
import { invalidArg } from '../errors';
import {
  RawTensor,
  SafeDType,
  SafetensorsContents,
  bf16ToF32,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  readSafetensorsFile,
  readSafetensorsFileAsync,
  writeSafetensorsFile,
  writeSafetensorsFileAsync,
} from './safetensors';

export interface SaveOptions {
  /** Store float32 tensors as F32 (default), F16 or BF16. */
  floatDtype?: 'F32' | 'F16' | 'BF16';
}

/** A RawTensor (plain data) as an rn.Tensor. */
export function rawToTensor(r: RawTensor): Tensor {
  const shape = r.shape.slice();
  switch (r.dtype) {
    case 'F32':
      return tensor(r.data as Float32Array, { shape });
    case 'F16':
      return tensor(f16ToF32(r.data as Uint16Array), { shape });
    case 'BF16':
      return tensor(bf16ToF32(r.data as Uint16Array), { shape });
    case 'F64':
      return tensor(Float32Array.from(r.data as Float64Array), { shape });
    case 'I64':
      return tensor(r.data as BigInt64Array, { shape });
    case 'I32':
      return tensor(r.data as Int32Array, { shape });
    case 'I16':
    case 'I8':
      return tensor(Int32Array.from(r.data as Int16Array | Int8Array), { shape });
    case 'U8':
    case 'BOOL':
      return tensor(r.data as Uint8Array, { shape });
  }
}

/** An rn.Tensor as a RawTensor (reads the data back, waiting for queued ops). */
export function tensorToRaw(t: Tensor, o: SaveOptions = {}): RawTensor {
  const shape = t.shape.slice();
  const data = t.dataSync();
  switch (t.dtype) {
    case 'float32': {
      const f = data as Float32Array;
      const fd = o.floatDtype ?? 'F32';
      if (fd === 'F16') return { dtype: 'F16', shape, data: f32ToF16(f) };
      if (fd === 'BF16') return { dtype: 'BF16', shape, data: f32ToBf16(f) };
      return { dtype: 'F32', shape, data: f };
    }
    case 'int64':
      return { dtype: 'I64', shape, data: data as BigInt64Array };
    case 'int32':
      return { dtype: 'I32', shape, data: data as Int32Array };
    case 'uint8':
      return { dtype: 'U8', shape, data: data as Uint8Array };
    case 'bfloat16':
      return { dtype: 'BF16', shape, data: data as Uint16Array };
    case 'float16':
      return { dtype: 'F16', shape, data: data as Uint16Array };
  }
}

function toMap(contents: SafetensorsContents): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, r] of contents.tensors) out.set(k, rawToTensor(r));
  return out;
}

/** Read a safetensors file into a Map of tensors, in file order. */
export function loadSafetensors(path: string): Map<string, Tensor> {
  return toMap(readSafetensorsFile(path));
}
export async function loadSafetensorsAsync(path: string): Promise<Map<string, Tensor>> {
  return toMap(await readSafetensorsFileAsync(path));
}
/** The `__metadata__` strings of a safetensors file (with its tensors). */
export function loadSafetensorsWithMetadata(path: string): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const c = readSafetensorsFile(path);
  return { tensors: toMap(c), metadata: c.metadata };
}

type Source = Map<string, Tensor> | Record<string, Tensor> | Module;

function rawMap(src: Source, o: SaveOptions): Map<string, RawTensor> {
  let entries: [string, Tensor][];
  if (src instanceof Module) entries = [...src.stateDict()];
  else if (src instanceof Map) entries = [...src];
  else if (src !== null && typeof src === 'object') entries = Object.entries(src);
  else throw invalidArg('a Map of tensors, a state dict or a Module', 'saveSafetensors(tensors)', src);
  if (o.floatDtype !== undefined && !['F32', 'F16', 'BF16'].includes(o.floatDtype))
    throw invalidArg('"F32", "F16" or "BF16"', 'saveSafetensors(floatDtype)', o.floatDtype);
  const out = new Map<string, RawTensor>();
  for (const [k, t] of entries) {
    if (!(t instanceof Tensor)) throw invalidArg('a Tensor', `saveSafetensors(tensors[${JSON.stringify(k)}])`, t);
    out.set(k, tensorToRaw(t, o));
  }
  return out;
}

/**
 * Write tensors (a Map, a plain object, a state dict or a Module, whose stateDict() is saved) to
 * a safetensors file, with optional string metadata.
 */
export function saveSafetensors(path: string, tensors: Source, metadata?: Record<string, string>, o: SaveOptions = {}): void {
  writeSafetensorsFile(path, rawMap(tensors, o), metadata);
}
export async function saveSafetensorsAsync(path: string, tensors: Source, metadata?: Record<string, string>, o: SaveOptions = {}): Promise<void> {
  await writeSafetensorsFileAsync(path, rawMap(tensors, o), metadata);
}

export type { SafeDType };
