// Seeded property-based fuzzing (fast-check) of the native op entry points, the rn.F facade and
// the file readers (safetensors, IDX, CIFAR, checkpoints). Every input must either work or give
// an Error with an ERR_RN_ code (and, for files, a message naming the file); nothing may crash.
//
//   FUZZ_RUNS=<n>   runs per property (default: a CI budget of ~20 s in total)
//   FUZZ_SEED=<n>   seed (default 20240611); a failure prints the seed and path to replay it
// scripts/fuzz-long.sh runs this file with a large FUZZ_RUNS.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import fc from 'fast-check';
import * as rn from '../../lib';
import { Tensor } from '../../lib';
import { binding } from '../../lib/binding';
import * as io from '../../lib/io';
import { parseIdx, encodeIdx } from '../../lib/data/idx';
import { parseCifar } from '../../lib/data/cifar';
import { isError, nativeSpecs, scratch } from './corpus';

const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : null;
const runs = (ci: number) => RUNS ?? ci;
const params = (ci: number) => ({ seed: SEED, numRuns: runs(ci), endOnFailure: true });
const stats = { calls: 0, ok: 0, errors: 0 };

/** Must be an Error with an ERR_RN_ code (optionally one of `codes`). */
function checkError(e: unknown, what: string, codes?: RegExp): void {
  if (!isError(e)) throw new Error(`${what}: threw a non-Error: ${String(e)}`);
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !(codes ?? /^ERR_RN_/).test(code)) throw new Error(`${what}: threw ${e.name} [${String(code)}] ${e.message}`);
  if (!e.message) throw new Error(`${what}: empty message`);
}

function readAll(v: unknown): void {
  const seen: Tensor[] = [];
  const walk = (x: unknown, d: number) => {
    if (d > 3 || x === null || typeof x !== 'object') return;
    if (x instanceof Tensor) seen.push(x);
    else if (Array.isArray(x)) x.forEach((y) => walk(y, d + 1));
    else if (x instanceof Map) x.forEach((y) => walk(y, d + 1));
    else if (Object.getPrototypeOf(x) === Object.prototype) Object.values(x).forEach((y) => walk(y, d + 1));
  };
  walk(v, 0);
  for (const t of seen) if (!t.isDisposed && t.numel < 1 << 22) t.dataSync();
}

/** Runs fn in a tidy scope; success or an ERR_RN_ error; then the stream must be clean. */
function guard(what: string, fn: () => unknown): void {
  stats.calls++;
  try {
    rn.tidy(() => readAll(fn()));
    stats.ok++;
  } catch (e) {
    stats.errors++;
    checkError(e, what);
  }
  try {
    rn.sync();
  } catch (e) {
    throw new Error(`${what}: left a deferred error on the stream: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const smallDim = fc.integer({ min: 0, max: 4 });
const shapeArb = fc.array(smallDim, { minLength: 0, maxLength: 4 });
const extremeInt = fc.constantFrom(-1, -(2 ** 31), 2 ** 31, 2 ** 32 + 1, 2 ** 40, 2 ** 53 - 1, -(2 ** 53) + 1);
const intArb = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: -2, max: 6 }) }, { weight: 1, arbitrary: extremeInt }, { weight: 1, arbitrary: fc.constantFrom(0.5, NaN, Infinity) });
const numArb = fc.oneof(fc.double({ min: -4, max: 4, noNaN: true }), fc.constantFrom(0, 1, 1e-5, NaN, Infinity, -Infinity, 1e30, -1e-45));
const garbageArb = fc.constantFrom<unknown>(null, undefined, 'x', {}, [], [1, 'a'], true, 10n, () => 1, new Float64Array(2));

type TensorSpec = { shape: number[]; dtype: 'float32' | 'int32'; view: 'none' | 'transpose' | 'expand' | 'slice' | 'channelsLast'; fill: number };
const tensorSpecArb: fc.Arbitrary<TensorSpec> = fc.record({
  shape: shapeArb,
  dtype: fc.constantFrom<'float32' | 'int32'>('float32', 'float32', 'float32', 'int32'),
  view: fc.constantFrom<TensorSpec['view']>('none', 'none', 'none', 'transpose', 'expand', 'slice', 'channelsLast'),
  fill: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.constantFrom(NaN, Infinity, 0.5)),
});
function makeTensor(s: TensorSpec): Tensor {
  const n = s.shape.reduce((a, b) => a * b, 1);
  let t = s.dtype === 'int32' ? rn.tensor(Int32Array.from({ length: n }, (_, i) => (Number.isFinite(s.fill) ? s.fill + (i % 3) : i % 3)), { shape: s.shape })
    : rn.tensor(Float32Array.from({ length: n }, (_, i) => s.fill + ((i * 37) % 11) / 7), { shape: s.shape });
  if (s.view === 'transpose' && t.ndim >= 2) t = t.transpose(0, t.ndim - 1);
  else if (s.view === 'expand' && t.ndim >= 1) t = t.slice(0, 0, 1).expand([3, ...t.shape.slice(1)]);
  else if (s.view === 'slice' && t.ndim >= 1) t = t.slice(t.ndim - 1, 0, undefined, 2);
  else if (s.view === 'channelsLast' && t.ndim === 4 && s.dtype === 'float32') t = t.toChannelsLast();
  return t;
}
/** A value of a binding argument kind (see corpus.ts), usually plausible, sometimes garbage. */
function argOf(kind: string): fc.Arbitrary<unknown> {
  const tensorH = tensorSpecArb.map((s) => new Lazy(() => makeTensor(s).h));
  const plausible: Record<string, fc.Arbitrary<unknown>> = {
    h: tensorH, oh: fc.oneof(tensorH, fc.constant(null)),
    i: intArb, u: fc.oneof(fc.nat(64), extremeInt), n: numArb, b: fc.boolean(),
    ints: fc.array(intArb, { maxLength: 4 }), shape: fc.oneof({ weight: 6, arbitrary: shapeArb }, { weight: 1, arbitrary: fc.array(extremeInt, { minLength: 1, maxLength: 3 }) }),
    p7: fc.array(fc.integer({ min: -1, max: 4 }), { minLength: 7, maxLength: 7 }), p8: fc.array(fc.integer({ min: -1, max: 4 }), { minLength: 8, maxLength: 8 }),
    hs: fc.array(tensorH, { maxLength: 3 }), ohs: fc.array(fc.oneof(tensorH, fc.constant(null)), { maxLength: 3 }), gs: fc.array(tensorH, { maxLength: 3 }),
    maybeHs: fc.oneof(fc.constant(null), fc.array(tensorH, { maxLength: 2 })), bools: fc.array(fc.boolean(), { maxLength: 3 }), nums: fc.array(numArb, { maxLength: 3 }),
    ta: fc.tuple(fc.constantFrom('f32', 'i32', 'u8', 'f64'), fc.nat(16)).map(([k, n]) => (k === 'f32' ? new Float32Array(n) : k === 'i32' ? new Int32Array(n) : k === 'u8' ? new Uint8Array(n) : new Float64Array(n))),
    dtype: fc.integer({ min: -1, max: 7 }), device: fc.integer({ min: -1, max: 2 }), op: fc.integer({ min: -1, max: 14 }),
  };
  return fc.oneof({ weight: 9, arbitrary: plausible[kind] ?? garbageArb }, { weight: 1, arbitrary: garbageArb });
}
/** Tensor makers are materialised inside the property's tidy scope (so they are freed). */
class Lazy {
  constructor(readonly make: () => unknown) {}
  toString(): string {
    return 'tensor';
  }
}
const materialise = (v: unknown): unknown => (v instanceof Lazy ? v.make() : Array.isArray(v) ? v.map(materialise) : v);

// settings and benchmarks stay out: they change global state or hold the stream on purpose
const SKIP = new Set(['setNumThreads', 'bnAddReluVersion', 'bnAddReluNtBytes', 'benchCopy', 'benchFlush', 'cudaSetAllowTF32']);

afterAll(() => {
  process.stdout.write(`fuzz: seed ${SEED}, ${stats.calls} calls (${stats.ok} succeeded, ${stats.errors} coded errors), no crash\n`);
});

test('native Binding entry points: template mutations and random arguments', () => {
  const B = binding() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const specs = nativeSpecs().filter((s) => !SKIP.has(s.fn) && s.kinds.length > 0);
  // every spec gets its own property so a failure names the function
  for (const s of specs) {
    const argsArb = fc.tuple(...s.kinds.map((k) => argOf(k)));
    const maskArb = fc.array(fc.boolean(), { minLength: s.kinds.length, maxLength: s.kinds.length });
    fc.assert(
      fc.property(argsArb, maskArb, (rand, mask) => {
        guard(`binding.${s.fn}`, () => {
          // keep some template arguments (valid) and replace the others with random ones
          const tmpl = s.args();
          const args = tmpl.map((v, i) => (mask[i] ? materialise(rand[i]) : v));
          const r = B[s.fn](...args);
          if (r instanceof Promise) return undefined;
          const wrapT = (x: unknown) => (x && typeof x === 'object' && 'h' in (x as object) && 'dtype' in (x as object) ? new Tensor(x as never) : x);
          return Array.isArray(r) ? r.map(wrapT) : wrapT(r);
        });
      }),
      params(300),
    );
  }
});

test('rn.F ops: random shapes, dtypes, views and options', () => {
  const ops: [string, (x: Tensor, y: Tensor, o: Record<string, unknown>) => unknown][] = [
    ['conv2d', (x, w, o) => rn.F.conv2d(x, w, null, o)], ['maxPool2d', (x, _, o) => rn.F.maxPool2d(x, o as never)],
    ['avgPool2d', (x, _, o) => rn.F.avgPool2d(x, o as never)], ['adaptiveAvgPool2d', (x, _, o) => rn.F.adaptiveAvgPool2d(x, o.kernelSize as number)],
    ['batchNorm2d', (x, w, o) => rn.F.batchNorm2d(x, null, null, w, null, o)], ['batchNormAddRelu', (x, r, o) => rn.F.batchNormAddRelu(x, r, null, null, null, null, o)],
    ['layerNorm', (x, w) => rn.F.layerNorm(x, x.shape.slice(-1), w)], ['linear', (x, w) => rn.F.linear(x, w)], ['matmul', (x, y) => rn.matmul(x, y)],
    ['add', (x, y) => rn.add(x, y)], ['mul', (x, y) => rn.mul(x, y)], ['softmax', (x, _, o) => rn.F.softmax(x, o.dim as number)],
    ['sum', (x, _, o) => rn.sum(x, o.dim as number)], ['max', (x, _, o) => rn.max(x, o.dim as number)], ['crossEntropy', (x, t) => rn.F.crossEntropy(x, t)],
    ['cat', (x, y, o) => rn.cat([x, y], o.dim as number)], ['reshape', (x, _, o) => x.reshape([o.dim as number, -1])], ['slice', (x, _, o) => x.slice(0, o.dim as number, o.stride as number)],
    ['pad', (x, _, o) => rn.F.pad(x, [o.padding as number, o.dim as number])], ['dropout', (x, _, o) => rn.F.dropout(x, o.p as number)],
    ['relu+backward', (x) => { const p = x.dtype === 'float32' ? x.detach().requiresGrad_() : x; rn.F.relu(p).sum().backward(); return p.grad; }],
    ['conv2d+backward', (x, w, o) => { const p = w.dtype === 'float32' ? w.detach().requiresGrad_() : w; rn.F.conv2d(x, p, null, o).sum().backward(); return p.grad; }],
  ];
  const optsArb = fc.record({
    kernelSize: fc.oneof(fc.integer({ min: 0, max: 4 }), extremeInt), stride: fc.integer({ min: 0, max: 3 }), padding: fc.integer({ min: -1, max: 3 }),
    dim: fc.integer({ min: -3, max: 3 }), p: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(NaN, 1.5)), training: fc.boolean(), groups: fc.integer({ min: 0, max: 3 }),
  });
  fc.assert(
    fc.property(fc.constantFrom(...ops), tensorSpecArb, tensorSpecArb, optsArb, ([name, op], xs, ys, o) => {
      guard(`F.${name}`, () => op(makeTensor(xs), makeTensor(ys), o));
    }),
    params(3000),
  );
});

// ---------------------------------------------------------------------------------------------
// File readers

const mutationArb = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x22, 0x5b, 0x7d) }),
  ),
  { minLength: 1, maxLength: 4 },
);
function mutate(src: Buffer, muts: { kind: string; at: number; bit?: number; bytes?: Uint8Array; value?: number }[]): Buffer {
  let b = Buffer.from(src);
  for (const m of muts) {
    const at = b.length ? m.at % (b.length + (m.kind === 'insert' ? 1 : 0)) : 0;
    if (m.kind === 'flip' && b.length) b[at] ^= 1 << m.bit!;
    else if (m.kind === 'set' && b.length) b[at] = m.value!;
    else if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes!), b.subarray(at)]);
  }
  return b;
}

const rawTensorArb = fc.record({
  dtype: fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'),
  shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
});
const ARRAYS: Record<string, (n: number) => io.RawTensor['data']> = {
  F32: (n) => new Float32Array(n).fill(1.5), F16: (n) => new Uint16Array(n).fill(0x3c00), BF16: (n) => new Uint16Array(n).fill(0x3f80), F64: (n) => new Float64Array(n).fill(2),
  I64: (n) => new BigInt64Array(n).fill(3n), I32: (n) => new Int32Array(n).fill(-4), I16: (n) => new Int16Array(n).fill(5), I8: (n) => new Int8Array(n).fill(-6),
  U8: (n) => new Uint8Array(n).fill(7), BOOL: (n) => new Uint8Array(n).fill(1),
};

test('safetensors: mutated valid files and random headers', () => {
  const name = 'fuzz.safetensors';
  const named = (e: unknown) => {
    checkError(e, 'parseSafetensors', /^ERR_RN_FORMAT$/);
    if (!(e as Error).message.startsWith(`safetensors: ${name}: `)) throw new Error(`message does not name the file: ${(e as Error).message}`);
  };
  fc.assert(
    fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), rawTensorArb, { maxKeys: 4 }), mutationArb, fc.boolean(), (spec, muts, load) => {
      const tensors: Record<string, io.RawTensor> = {};
      for (const [k, t] of Object.entries(spec)) {
        if (k === '__metadata__') continue;
        tensors[k] = { dtype: t.dtype as io.SafeDType, shape: t.shape, data: ARRAYS[t.dtype](t.shape.reduce((a, b) => a * b, 1)) };
      }
      const bytes = mutate(io.serializeSafetensors(tensors, { note: 'fuzz' }), muts);
      stats.calls++;
      try {
        const c = io.parseSafetensors(bytes, name);
        for (const [k, t] of c.tensors) {
          const n = t.shape.reduce((a, b) => a * b, 1);
          if (t.data.length !== n) throw new Error(`tensor ${k}: ${t.data.length} elements for shape [${t.shape}]`);
        }
        if (load) rn.tidy(() => { for (const [, t] of c.tensors) io.rawToTensor(t); });
        stats.ok++;
      } catch (e) {
        stats.errors++;
        named(e);
      }
    }),
    params(3000),
  );
  // headers that are arbitrary JSON
  fc.assert(
    fc.property(fc.jsonValue(), fc.nat(64), (header, extra) => {
      const json = Buffer.from(JSON.stringify(header) ?? 'null');
      const pre = Buffer.alloc(8);
      pre.writeBigUInt64LE(BigInt(json.length));
      stats.calls++;
      try {
        io.parseSafetensors(Buffer.concat([pre, json, Buffer.alloc(extra)]), name);
        stats.ok++;
      } catch (e) {
        stats.errors++;
        named(e);
      }
    }),
    params(1500),
  );
});

test('IDX and CIFAR: random headers, lengths and bytes', () => {
  const idxArb = fc.record({
    type: fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x0a, 0xff),
    dims: fc.array(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(0xffffffff, 0x10000, 0x7fffffff)), { minLength: 0, maxLength: 6 }),
    slack: fc.integer({ min: -9, max: 9 }), gzip: fc.boolean(), magic: fc.constantFrom(0, 0, 0, 1),
  });
  fc.assert(
    fc.property(idxArb, mutationArb, fc.boolean(), (h, muts, doMutate) => {
      const sizes: Record<number, number> = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 };
      const n = h.dims.reduce((a, b) => a * b, 1);
      const dataLen = Math.max(0, Math.min(4096, n * (sizes[h.type] ?? 1)) + h.slack);
      const head = Buffer.alloc(4 + 4 * h.dims.length);
      head[0] = h.magic;
      head[2] = h.type;
      head[3] = h.dims.length;
      h.dims.forEach((d, i) => head.writeUInt32BE(d >>> 0, 4 + 4 * i));
      let bytes: Buffer = Buffer.concat([head, Buffer.alloc(dataLen, 1)]);
      if (h.gzip) bytes = zlib.gzipSync(bytes);
      if (doMutate) bytes = mutate(bytes, muts);
      stats.calls++;
      try {
        const r = parseIdx(bytes, 'fuzz.idx', { maxBytes: 1 << 20 });
        if (r.data.length !== r.shape.reduce((a, b) => a * b, 1)) throw new Error('element count does not match the shape');
        stats.ok++;
      } catch (e) {
        stats.errors++;
        checkError(e, 'parseIdx', /^ERR_RN_FORMAT$/);
        if (!(e as Error).message.startsWith('idx: fuzz.idx: ')) throw new Error(`message does not name the file: ${(e as Error).message}`);
      }
    }),
    params(3000),
  );
  fc.assert(
    fc.property(fc.constantFrom<'cifar10' | 'cifar100'>('cifar10', 'cifar100'), fc.integer({ min: 0, max: 4 }), fc.integer({ min: -3, max: 3 }), fc.uint8Array({ minLength: 2, maxLength: 2 }), (variant, records, slack, labels) => {
      const rec = variant === 'cifar10' ? 3073 : 3074;
      const bytes = Buffer.alloc(Math.max(0, records * rec + slack), 3);
      for (let r = 0; r < records && (r + 1) * rec <= bytes.length; r++) bytes.set(variant === 'cifar10' ? labels.subarray(0, 1) : labels, r * rec);
      stats.calls++;
      try {
        const c = parseCifar(bytes, 'fuzz.bin', { variant });
        if (c.count * rec !== bytes.length || c.labels.some((l) => l < 0 || l >= (variant === 'cifar10' ? 10 : 100))) throw new Error('accepted a bad file');
        stats.ok++;
      } catch (e) {
        stats.errors++;
        checkError(e, 'parseCifar', /^ERR_RN_FORMAT$/);
        if (!(e as Error).message.startsWith('cifar: fuzz.bin: ')) throw new Error(`message does not name the file: ${(e as Error).message}`);
      }
    }),
    params(1000),
  );
});

test('checkpoints: mutated bytes and random metadata', () => {
  const dir = path.join(scratch(), 'fuzz-ckpt');
  fs.mkdirSync(dir, { recursive: true });
  const model = () => new rn.nn.Sequential(new rn.nn.Linear(3, 4), new rn.nn.BatchNorm2d(4), new rn.nn.Linear(4, 2));
  const m0 = model();
  const good = path.join(dir, 'good.safetensors');
  const opt0 = new rn.optim.AdamW(m0.parameters(), { lr: 1e-3 });
  for (const p of m0.parameters()) p.grad = rn.onesLike(p).keep();
  opt0.step();
  io.saveCheckpoint(good, { model: m0, optimizer: opt0, meta: { epoch: 3 } });
  const bytes = fs.readFileSync(good);
  const contents = io.parseSafetensors(bytes, good);
  const f = path.join(dir, 'fuzz.safetensors');
  const metaKeys = ['format', 'version', 'meta', 'optimizer', 'scheduler', 'extra', 'sha256'];
  fc.assert(
    fc.property(
      fc.oneof(
        mutationArb.map((m) => ({ kind: 'bytes' as const, m })),
        fc.record({ kind: fc.constant('meta' as const), key: fc.constantFrom(...metaKeys), value: fc.oneof(fc.json(), fc.string(), fc.constant('null')) }),
      ),
      (c) => {
        const data = c.kind === 'bytes' ? mutate(bytes, c.m) : io.serializeSafetensors(contents.tensors, { ...contents.metadata, [c.key]: c.value });
        fs.writeFileSync(f, data);
        const m = model();
        stats.calls++;
        try {
          rn.tidy(() => io.loadCheckpoint(f, { model: m, optimizer: new rn.optim.AdamW(m.parameters(), { lr: 1e-3 }), restoreRng: false }));
          stats.ok++;
        } catch (e) {
          stats.errors++;
          checkError(e, 'loadCheckpoint');
          const code = (e as { code: string }).code;
          if (code === 'ERR_RN_FORMAT' && !(e as Error).message.includes(f)) throw new Error(`message does not name the file: ${(e as Error).message}`);
        }
      },
    ),
    params(400),
  );
});
