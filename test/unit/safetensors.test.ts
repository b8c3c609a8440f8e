/**
 * safetensors reader/writer and atomic file writes.
 *
 * Golden bytes come from the reference implementation's own tests (huggingface/safetensors,
 * safetensors/src/tensor.rs) and from test/fixtures/make_safetensors_fixture.py, an independent
 * struct+json writer whose output is committed as test/fixtures/tiny.safetensors.
 */
import * as os from 'os';
import * as path from 'path';
import {
  parseSafetensors,
  serializeSafetensors,
  readSafetensorsFile,
  readSafetensorsFileAsync,
  writeSafetensorsFile,
  writeSafetensorsFileAsync,
  bf16ToF32,
  f32ToBf16,
  f16ToF32,
  f32ToF16,
  RawTensor,
  SafeDType,
  MAX_HEADER_BYTES,
} from '../../lib/io/safetensors';
import { writeFileAtomic, writeFileAtomicAsync } from '../../lib/io/atomic';

// The real module object (not an import wrapper), so jest.spyOn reaches the code under test.
import fs = require('fs');

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'tiny.safetensors');

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-safetensors-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// helpers

/** Bits of float32 values, for exact comparisons (NaN payloads, -0). */
function f32Bits(values: number[]): number[] {
  return [...new Uint32Array(Float32Array.from(values).buffer)];
}
function bitsToF32(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}

/** Assemble a file from a header (object, JSON text or raw bytes) and data bytes. */
function makeFile(header: unknown, data: Uint8Array | number = 0, lengthOverride?: bigint): Buffer {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const body = typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data);
  return Buffer.concat([prefix, json, body]);
}

function formatErrorOf(fn: () => unknown): { code: unknown; message: string } {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code?: unknown }).code, message: (e as Error).message };
  }
  throw new Error('expected a throw');
}

/** Small deterministic generator (Numerical Recipes LCG), so fuzz failures reproduce. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 8; // the low bits of an LCG have short periods
  };
}

function sampleTensors(): Map<string, RawTensor> {
  return new Map<string, RawTensor>([
    ['f64', { dtype: 'F64', shape: [3], data: Float64Array.from([Math.PI, -0, 1e-300]) }],
    ['f32', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, Infinity, -Infinity, 1e-40]) }],
    ['f16', { dtype: 'F16', shape: [3], data: Uint16Array.from([0x3c00, 0x8001, 0x7bff]) }],
    ['bf16', { dtype: 'BF16', shape: [1, 2], data: Uint16Array.from([0x3f80, 0xff80]) }],
    ['i64', { dtype: 'I64', shape: [5], data: BigInt64Array.from([0n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]) }],
    ['i32', { dtype: 'I32', shape: [2, 2], data: Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, -7]) }],
    ['i16', { dtype: 'I16', shape: [2], data: Int16Array.from([-32768, 32767]) }],
    ['i8', { dtype: 'I8', shape: [3], data: Int8Array.from([-128, 0, 127]) }],
    ['u8', { dtype: 'U8', shape: [2, 1, 2], data: Uint8Array.from([0, 1, 254, 255]) }],
    ['bool', { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) }],
  ]);
}

function expectSameTensor(actual: RawTensor | undefined, expected: RawTensor): void {
  expect(actual).toBeDefined();
  expect(actual!.dtype).toBe(expected.dtype);
  expect(actual!.shape).toEqual(expected.shape);
  expect(actual!.data.constructor).toBe(expected.data.constructor);
  // Compare bytes: exact for NaN, -0 and BigInt alike.
  const bytes = (a: RawTensor['data']) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  expect(bytes(actual!.data).equals(bytes(expected.data))).toBe(true);
}

// ---------------------------------------------------------------------------------------------

describe('float16 / bfloat16 conversion', () => {
  test('f32ToF16 matches known bit patterns, including rounding, subnormals and overflow', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [65504, 0x7bff], // largest finite
      [65519, 0x7bff], // below the half-way point to 65536
      [65520, 0x7c00], // half-way: ties to even, which is inf
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // exactly half of it: ties to even (zero)
      [3 * 2 ** -25, 0x0002], // 1.5 ulp: ties to even (2)
      [-(2 ** -24), 0x8001],
      [1e-10, 0x0000],
      [1 + 2 ** -11, 0x3c00], // half-way between 1 and next: even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // half-way between odd and even: up
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above half-way: up
      [2047.5, 0x6800], // 2047.5 is between 2047 and 2048 (ulp 1): ties to 2048
    ];
    const out = f32ToF16(Float32Array.from(cases.map((c) => c[0])));
    expect([...out].map((x) => x.toString(16))).toEqual(cases.map((c) => c[1].toString(16)));
    // 2^-25 plus one f32 ulp is above the half-way point and must round up.
    const above = bitsToF32([f32Bits([2 ** -25])[0] + 1]);
    expect(f32ToF16(above)[0]).toBe(0x0001);
  });

  test('f32ToF16 keeps NaN as NaN (quiet), for quiet and signalling inputs', () => {
    const out = f32ToF16(bitsToF32([0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000]));
    expect([...out].map((x) => x.toString(16))).toEqual(['7e00', 'fe00', '7e00', '7f00']);
  });

  test('f16ToF32 decodes known bit patterns exactly', () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x7bff, 65504],
      [0x0400, 2 ** -14],
      [0x03ff, 1023 * 2 ** -24],
      [0x0001, 2 ** -24],
      [0x8001, -(2 ** -24)],
      [0x3555, 0.333251953125],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    const out = f16ToF32(Uint16Array.from(cases.map((c) => c[0])));
    expect([...out]).toEqual(cases.map((c) => c[1]));
    expect(Object.is(f16ToF32(Uint16Array.of(0x8000))[0], -0)).toBe(true);
    const nan = f16ToF32(Uint16Array.of(0x7e00, 0xfd01));
    expect(Number.isNaN(nan[0]) && Number.isNaN(nan[1])).toBe(true);
  });

  test('every float16 value survives f16 -> f32 -> f16 unchanged (NaNs stay NaN)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN16) {
        expect((back[i] & 0x7c00) === 0x7c00 && (back[i] & 0x3ff) !== 0).toBe(true);
      } else if (back[i] !== i) {
        throw new Error(`f16 0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
      }
    }
  });

  test('f32ToBf16 rounds to nearest even and handles inf/NaN; bf16ToF32 is exact', () => {
    const input = bitsToF32([
      0x3f800000, // 1
      0x3f808000, // half-way, kept bit even: down
      0x3f818000, // half-way, kept bit odd: up
      0x3f808001, // above half-way: up
      0x3f807fff, // below half-way: down
      0x7f7fffff, // max f32 rounds to inf
      0xff800000, // -inf
      0x80000000, // -0
      0x7fc00000, // quiet NaN
      0x7f800001, // signalling NaN whose payload would truncate to zero: must not become inf
      0x00000001, // smallest f32 subnormal rounds to zero
    ]);
    expect([...f32ToBf16(input)].map((x) => x.toString(16))).toEqual(
      ['3f80', '3f80', '3f82', '3f81', '3f80', '7f80', 'ff80', '8000', '7fc0', '7fc0', '0'],
    );
    expect([...bf16ToF32(Uint16Array.from([0x3f80, 0x4049, 0xc2f7, 0x7f80, 0x0001]))]).toEqual(
      [1, 3.140625, -123.5, Infinity, 2 ** -133],
    );
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = f32ToBf16(bf16ToF32(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN16 = (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
      if (!isNaN16 && back[i] !== i) throw new Error(`bf16 0x${i.toString(16)} came back as 0x${back[i].toString(16)}`);
    }
  });

  test('conversions read typed-array views at their own offset', () => {
    const f = Float32Array.from([9, 1, -2, 9]).subarray(1, 3);
    expect([...f32ToF16(f)]).toEqual([0x3c00, 0xc000]);
    expect([...f32ToBf16(f)]).toEqual([0x3f80, 0xc000]);
    const h = Uint16Array.from([0, 0x3c00, 0]).subarray(1, 2);
    expect([...f16ToF32(h)]).toEqual([1]);
    expect([...bf16ToF32(Uint16Array.from([0, 0x3f80]).subarray(1))]).toEqual([1]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('round trips', () => {
  test('every dtype round-trips bit for bit, into its own typed array', () => {
    const tensors = sampleTensors();
    const parsed = parseSafetensors(serializeSafetensors(tensors));
    expect([...parsed.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) expectSameTensor(parsed.tensors.get(name), t);
    expect(parsed.metadata).toEqual({});
  });

  test('int64 values beyond 2^53 and negative survive', () => {
    const values = [2n ** 53n + 1n, -(2n ** 53n) - 3n, -(2n ** 63n), 2n ** 63n - 1n, -1n];
    const buf = serializeSafetensors({ n: { dtype: 'I64', shape: [5], data: BigInt64Array.from(values) } });
    expect([...(parsed(buf).get('n')!.data as BigInt64Array)]).toEqual(values);
  });

  test('empty tensors (shape [0], [2, 0, 3]) and scalars (shape [])', () => {
    const tensors: Record<string, RawTensor> = {
      empty: { dtype: 'F32', shape: [0], data: new Float32Array(0) },
      empty3: { dtype: 'I64', shape: [2, 0, 3], data: new BigInt64Array(0) },
      scalar: { dtype: 'F32', shape: [], data: Float32Array.of(42) },
      scalarI64: { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) },
    };
    const out = parsed(serializeSafetensors(tensors));
    for (const [name, t] of Object.entries(tensors)) expectSameTensor(out.get(name), t);
    // An empty map is a valid file too: the reference writer gives exactly these bytes.
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('{}      ')]);
    expect(parseSafetensors(serializeSafetensors(new Map())).tensors.size).toBe(0);
  });

  test('metadata round-trips, including awkward keys', () => {
    const metadata = { format: 'pt', '10': 'ten', '2': 'two', __proto__x: 'p', 'ünï': 'çødé ✓', empty: '' };
    const out = parseSafetensors(serializeSafetensors(sampleTensors(), metadata));
    expect(out.metadata).toEqual(metadata);
    // A "__proto__" key in a file is data, not a prototype.
    const file = makeFile('{"__metadata__":{"__proto__":"x","a":"b"}}');
    const md = parseSafetensors(file).metadata;
    expect(Object.keys(md)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(md)).toBe(Object.prototype);
    // null metadata is treated as absent, as the reference reader does.
    expect(parseSafetensors(makeFile('{"__metadata__":null}')).metadata).toEqual({});
  });

  test('output is deterministic and laid out like the reference writer', () => {
    const a = sampleTensors();
    const b = new Map([...a].reverse());
    const rec = Object.fromEntries(a);
    const bytes = serializeSafetensors(a, { y: '1', x: '2' });
    expect(serializeSafetensors(b, { x: '2', y: '1' }).equals(bytes)).toBe(true);
    expect(serializeSafetensors(rec, { x: '2', y: '1' }).equals(bytes)).toBe(true);

    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text).toMatch(/^\{"__metadata__":\{"x":"2","y":"1"\},/);
    expect(text.trimEnd().length).toBeGreaterThan(n - 8); // only space padding (< 8 bytes)
    const header = JSON.parse(text);
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    // Descending dtype alignment, then name; contiguous offsets covering the whole buffer;
    // every tensor aligned to its element size within the file.
    expect(names).toEqual(['i64', 'f64', 'f32', 'i32', 'bf16', 'f16', 'i16', 'i8', 'u8', 'bool']);
    let end = 0;
    for (const name of names) {
      const [b0, b1] = header[name].data_offsets;
      expect(b0).toBe(end);
      expect((8 + n + b0) % a.get(name)!.data.BYTES_PER_ELEMENT).toBe(0);
      end = b1;
    }
    expect(8 + n + end).toBe(bytes.length);
  });

  test('matches the reference implementation byte for byte', () => {
    // From safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement,
    // test_empty (with metadata).
    const data = Float32Array.from([0, 1, 2, 3, 4, 5]);
    const body = [...Buffer.from(data.buffer)];
    const hdr1 = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect([...serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data } })]).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from(hdr1), ...body,
    ]);
    const hdr2 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
    expect([...serializeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data } })]).toEqual([
      72, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from(hdr2), ...body,
    ]);
    expect([...serializeSafetensors({}, { framework: 'pt' })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('{"__metadata__":{"framework":"pt"}}     '),
    ]);
  });

  test('typed-array views serialize only their window', () => {
    const base = Float32Array.from([9, 1, 2, 3, 9]);
    const out = parsed(serializeSafetensors({ v: { dtype: 'F32', shape: [3], data: base.subarray(1, 4) } }));
    expect([...(out.get('v')!.data as Float32Array)]).toEqual([1, 2, 3]);
  });

  test('parsing an unaligned buffer yields aligned copies that do not alias the input', () => {
    const file = serializeSafetensors(sampleTensors());
    for (const shift of [1, 3, 5]) {
      const big = new Uint8Array(file.length + shift);
      big.set(file, shift);
      const view = big.subarray(shift);
      const out = parseSafetensors(view);
      for (const [name, t] of sampleTensors()) {
        const got = out.tensors.get(name)!;
        expectSameTensor(got, t);
        expect(got.data.buffer).not.toBe(big.buffer);
        expect(got.data.byteOffset % got.data.BYTES_PER_ELEMENT).toBe(0);
      }
      big.fill(0);
      expectSameTensor(out.tensors.get('f64'), sampleTensors().get('f64')!);
    }
  });

  test('files: sync and async read/write agree', async () => {
    const p = path.join(tmp, 'w.safetensors');
    writeSafetensorsFile(p, sampleTensors(), { a: 'b' });
    const viaFile = readSafetensorsFile(p);
    const viaAsync = await readSafetensorsFileAsync(p);
    for (const [name, t] of sampleTensors()) {
      expectSameTensor(viaFile.tensors.get(name), t);
      expectSameTensor(viaAsync.tensors.get(name), t);
    }
    expect(viaFile.metadata).toEqual({ a: 'b' });
    expect(viaAsync.metadata).toEqual({ a: 'b' });
    const p2 = path.join(tmp, 'w2.safetensors');
    await writeSafetensorsFileAsync(p2, sampleTensors(), { a: 'b' });
    expect(fs.readFileSync(p2).equals(fs.readFileSync(p))).toBe(true);
    expect(fs.readFileSync(p).equals(serializeSafetensors(sampleTensors(), { a: 'b' }))).toBe(true);
  });
});

function parsed(buf: Uint8Array): Map<string, RawTensor> {
  return parseSafetensors(buf).tensors;
}

// ---------------------------------------------------------------------------------------------

describe('file written by an independent Python writer', () => {
  // Values as written by test/fixtures/make_safetensors_fixture.py.
  test('parses with the expected dtypes, shapes and values', () => {
    const { tensors, metadata } = readSafetensorsFile(FIXTURE);
    expect(metadata).toEqual({ format: 'pt', note: 'résumé' });
    expect([...tensors.keys()].sort()).toEqual(
      ['big', 'bn1.num_batches_tracked', 'brain', 'café.über', 'conv1.weight', 'empty', 'half', 'idx', 'mask', 'scalar'],
    );
    const get = (n: string) => tensors.get(n)!;
    expect(get('conv1.weight')).toMatchObject({ dtype: 'F32', shape: [2, 1, 2, 2] });
    expect(f32Bits([...get('conv1.weight').data as Float32Array])).toEqual(
      f32Bits([0.5, -1.25, 3.0, 1e-3, -0, 2.5, 1e30, -7.75]),
    );
    expect(get('bn1.num_batches_tracked')).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.of(2n ** 53n + 1n) });
    expect([...get('big').data as BigInt64Array]).toEqual([-(2n ** 63n), 2n ** 63n - 1n, -123456789012345n]);
    expect(get('half')).toEqual({ dtype: 'F16', shape: [2, 2], data: Uint16Array.from([0x3c00, 0xc100, 0x7bff, 0x0001]) });
    expect([...f16ToF32(get('half').data as Uint16Array)]).toEqual([1, -2.5, 65504, 2 ** -24]);
    expect(get('brain')).toEqual({ dtype: 'BF16', shape: [3], data: Uint16Array.from([0x3f80, 0x4049, 0x8000]) });
    expect(get('idx')).toEqual({ dtype: 'I32', shape: [2, 2], data: Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31)]) });
    expect(get('mask')).toEqual({ dtype: 'U8', shape: [5], data: Uint8Array.from([0, 1, 127, 128, 255]) });
    expect(get('empty')).toEqual({ dtype: 'F32', shape: [0], data: new Float32Array(0) });
    expect(get('scalar')).toEqual({ dtype: 'F32', shape: [], data: Float32Array.of(42) });
    expect(get('café.über')).toEqual({ dtype: 'U8', shape: [1], data: Uint8Array.of(7) });
  });

  test('our writer reproduces the file byte for byte', () => {
    const { tensors, metadata } = readSafetensorsFile(FIXTURE);
    expect(serializeSafetensors(tensors, metadata).equals(fs.readFileSync(FIXTURE))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('malformed files are rejected with ERR_RN_FORMAT', () => {
  const F32x4 = { dtype: 'F32', shape: [4], data_offsets: [0, 16] };
  const cases: [string, Buffer, string][] = [
    ['empty file', Buffer.alloc(0), 'file is 0 bytes, too short for the 8-byte header length'],
    ['7 bytes', Buffer.alloc(7), 'file is 7 bytes, too short for the 8-byte header length'],
    ['header length beyond the file', makeFile('{}', 4, 100n), 'header length 100 exceeds the 6 bytes after the length prefix'],
    ['header length 2^60', makeFile('{}', 0, 2n ** 60n), `header length ${2n ** 60n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`],
    ['header length 2^64-1', makeFile('{}', 0, 2n ** 64n - 1n), 'exceeds the limit of 100000000 bytes'],
    ['header length just over the limit', makeFile('{}', 0, 100_000_001n), 'header length 100000001 exceeds the limit'],
    ['empty header', makeFile(''), 'header is not valid JSON'],
    ['invalid UTF-8', makeFile(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 'header is not valid UTF-8'],
    ['overlong UTF-8', makeFile(Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])), 'header is not valid UTF-8'],
    ['byte-order mark', makeFile('\ufeff{}'), 'header is not valid JSON'],
    ['truncated JSON', makeFile('{"a":'), 'header is not valid JSON'],
    ['trailing garbage', makeFile('{} x'), 'header is not valid JSON'],
    ['header is an array', makeFile('[]'), 'header must be a JSON object but is an array'],
    ['header is a number', makeFile('42'), 'header must be a JSON object but is a number'],
    ['header is null', makeFile('null'), 'header must be a JSON object but is null'],
    ['header is a string', makeFile('"{}"'), 'header must be a JSON object but is a string'],
    ['entry is not an object', makeFile({ w: 3 }), 'tensor "w" must be an object with dtype, shape and data_offsets but is a number'],
    ['entry is an array', makeFile({ w: [] }), 'tensor "w" must be an object with dtype, shape and data_offsets but is an array'],
    ['unknown dtype', makeFile({ w: { ...F32x4, dtype: 'F128' } }, 16), 'tensor "w" has unknown dtype "F128" (expected one of'],
    ['dtype from Object.prototype', makeFile({ w: { ...F32x4, dtype: 'toString' } }, 16), 'tensor "w" has unknown dtype "toString"'],
    ['lower-case dtype', makeFile({ w: { ...F32x4, dtype: 'f32' } }, 16), 'tensor "w" has unknown dtype "f32"'],
    ['missing dtype', makeFile({ w: { shape: [4], data_offsets: [0, 16] } }, 16), 'tensor "w" has unknown dtype undefined'],
    ['unsupported dtype', makeFile({ w: { ...F32x4, dtype: 'U16', shape: [8] } }, 16), 'tensor "w" has dtype U16, which resnode does not support'],
    ['negative dim', makeFile({ w: { ...F32x4, shape: [2, -1] } }, 16), 'tensor "w" has invalid shape [2, -1]: expected an array of non-negative integers'],
    ['fractional dim', makeFile({ w: { ...F32x4, shape: [1.5] } }, 16), 'tensor "w" has invalid shape [1.5]'],
    ['dim beyond 2^53', makeFile({ w: { ...F32x4, shape: [1e300] } }, 16), 'tensor "w" has invalid shape [1e+300]'],
    ['string dim', makeFile({ w: { ...F32x4, shape: ['4'] } }, 16), 'tensor "w" has invalid shape ["4"]'],
    ['shape not an array', makeFile({ w: { ...F32x4, shape: 4 } }, 16), 'tensor "w" has invalid shape 4'],
    ['missing shape', makeFile({ w: { dtype: 'F32', data_offsets: [0, 16] } }, 16), 'tensor "w" has invalid shape undefined'],
    ['offsets reversed', makeFile({ w: { ...F32x4, data_offsets: [16, 0] } }, 16), 'tensor "w" has data_offsets [16, 0] with begin > end'],
    ['one offset', makeFile({ w: { ...F32x4, data_offsets: [0] } }, 16), 'tensor "w" has invalid data_offsets [0]: expected [begin, end]'],
    ['negative offset', makeFile({ w: { ...F32x4, data_offsets: [-16, 0] } }, 16), 'tensor "w" has invalid data_offsets [-16, 0]'],
    ['fractional offset', makeFile({ w: { ...F32x4, data_offsets: [0, 15.5] } }, 16), 'tensor "w" has invalid data_offsets [0, 15.5]'],
    ['missing offsets', makeFile({ w: { dtype: 'F32', shape: [4] } }, 16), 'tensor "w" has invalid data_offsets undefined'],
    ['offsets out of file', makeFile({ w: F32x4 }, 8), 'tensor "w" has data_offsets [0, 16] beyond the end of the 8-byte data section'],
    ['offsets far out of file', makeFile({ w: { ...F32x4, data_offsets: [2 ** 50, 2 ** 50 + 16] } }, 16), `beyond the end of the 16-byte data section`],
    [
      'overlapping ranges',
      makeFile({ a: F32x4, b: { ...F32x4, data_offsets: [8, 24] } }, 24),
      'tensors "a" [0, 16] and "b" [8, 24] have overlapping data_offsets',
    ],
    [
      'identical ranges',
      makeFile({ a: F32x4, b: F32x4 }, 16),
      'tensors "a" [0, 16] and "b" [0, 16] have overlapping data_offsets',
    ],
    [
      'range nested in an earlier one',
      makeFile({ a: { dtype: 'U8', shape: [32], data_offsets: [0, 32] }, b: { dtype: 'U8', shape: [4], data_offsets: [20, 24] }, c: F32x4 }, 32),
      'have overlapping data_offsets',
    ],
    [
      'shape x size mismatch',
      makeFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, 16),
      'tensor "w" has shape [2, 3] (6 elements of F32 = 24 bytes) but data_offsets span 16 bytes',
    ],
    [
      'huge lying shape',
      makeFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] } }, 16),
      `tensor "w" has shape [${2 ** 40}, ${2 ** 40}] (${2n ** 80n} elements of F32 = ${2n ** 82n} bytes) but data_offsets span 16 bytes`,
    ],
    [
      // 2^52 * 2^12 * 4 bytes = 2^66, which wraps to 0 in 64-bit arithmetic.
      'shape that wraps to zero bytes in u64 math',
      makeFile({ w: { dtype: 'F32', shape: [2 ** 52, 2 ** 12], data_offsets: [0, 0] } }),
      `(${2n ** 64n} elements of F32 = ${2n ** 66n} bytes) but data_offsets span 0 bytes`,
    ],
    [
      'shape with a thousand dimensions',
      makeFile({ w: { dtype: 'U8', shape: Array(1000).fill(2), data_offsets: [0, 16] } }, 16),
      'tensor "w" has shape [2, 2, 2, 2, 2, 2, 2, 2, …] (more than 2^128 elements) but data_offsets span 16 bytes',
    ],
    ['metadata value not a string', makeFile({ __metadata__: { a: 1 } }), '__metadata__ value for key "a" must be a string but is a number'],
    ['metadata value an object', makeFile({ __metadata__: { a: { b: 'c' } } }), '__metadata__ value for key "a" must be a string but is an object'],
    ['metadata is an array', makeFile({ __metadata__: ['a'] }), '__metadata__ must be an object of strings but is an array'],
    ['metadata is a string', makeFile({ __metadata__: 'a' }), '__metadata__ must be an object of strings but is a string'],
  ];

  test.each(cases)('%s', (_name, file, message) => {
    const err = formatErrorOf(() => parseSafetensors(file, 'bad.safetensors'));
    expect(err.code).toBe('ERR_RN_FORMAT');
    expect(err.message.startsWith('safetensors: bad.safetensors: ')).toBe(true);
    expect(err.message).toContain(message);
  });

  test('the message names the file, tensor, shape and sizes exactly', () => {
    const file = makeFile({ 'conv1.weight': { dtype: 'F32', shape: [64, 3, 7, 7], data_offsets: [0, 100] } }, 100);
    expect(() => parseSafetensors(file, 'w.safetensors')).toThrow(
      'safetensors: w.safetensors: tensor "conv1.weight" has shape [64, 3, 7, 7] (9408 elements of F32 = 37632 bytes) but data_offsets span 100 bytes',
    );
    expect(formatErrorOf(() => parseSafetensors(Buffer.alloc(3))).message).toBe(
      'safetensors: <buffer>: file is 3 bytes, too short for the 8-byte header length',
    );
  });

  test('a valid file cut short is rejected, in memory and on disk', async () => {
    const good = serializeSafetensors(sampleTensors());
    const cut = good.subarray(0, good.length - 1);
    expect(formatErrorOf(() => parseSafetensors(cut)).message).toContain('tensor "bool" has data_offsets');
    const p = path.join(tmp, 'cut.safetensors');
    fs.writeFileSync(p, cut);
    const err = formatErrorOf(() => readSafetensorsFile(p));
    expect(err.code).toBe('ERR_RN_FORMAT');
    expect(err.message).toContain(`safetensors: ${p}: tensor "bool" has data_offsets`);
    await expect(readSafetensorsFileAsync(p)).rejects.toMatchObject({ code: 'ERR_RN_FORMAT' });
    fs.writeFileSync(p, Buffer.alloc(5));
    expect(formatErrorOf(() => readSafetensorsFile(p)).message).toBe(`safetensors: ${p}: file is 5 bytes, too short for the 8-byte header length`);
  });

  test('a very long tensor name is truncated in messages', () => {
    const name = 'x'.repeat(10_000);
    const err = formatErrorOf(() => parseSafetensors(makeFile({ [name]: { dtype: 'F32', shape: [1], data_offsets: [0, 3] } }, 3)));
    expect(err.code).toBe('ERR_RN_FORMAT');
    expect(err.message.length).toBeLessThan(400);
  });

  test('leniency: gaps, trailing bytes, unknown fields, a "__proto__" tensor', () => {
    const file = makeFile(
      {
        __proto__x: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
        b: { dtype: 'U8', shape: [2], data_offsets: [4, 6], extra: true },
      },
      Uint8Array.from([1, 0, 0, 0, 2, 3, 9, 9]),
    );
    const out = parsed(file);
    expect([...out.get('b')!.data]).toEqual([2, 3]);
    const proto = parsed(makeFile('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', Uint8Array.of(5)));
    expect(proto.get('__proto__')).toEqual({ dtype: 'U8', shape: [1], data: Uint8Array.of(5) });
  });

  test('200 seeded random buffers: each parses or throws ERR_RN_FORMAT', () => {
    const rand = lcg(12345);
    const outcomes = { parsed: 0, format: 0 };
    for (let i = 0; i < 200; i++) {
      const len = rand() % 96;
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) buf[j] = rand() & 0xff;
      // Half of them get a plausible header length so that the JSON stage is reached too.
      if (i % 2 === 1 && len >= 8) buf.writeBigUInt64LE(BigInt(rand() % (len - 7)), 0);
      checkOutcome(buf, outcomes);
    }
    expect(outcomes.parsed + outcomes.format).toBe(200);
  });

  test('500 seeded mutations of a valid file: each parses or throws ERR_RN_FORMAT', () => {
    const good = serializeSafetensors(sampleTensors(), { a: 'b' });
    const n = Number(good.readBigUInt64LE(0));
    const rand = lcg(777);
    const outcomes = { parsed: 0, format: 0 };
    const alphabet = Buffer.from('{}[]",:0123456789-.eE ');
    for (let i = 0; i < 500; i++) {
      const buf = Buffer.from(good);
      const edits = 1 + (rand() % 4);
      for (let k = 0; k < edits; k++) {
        // Mostly hit the header (where the structure is); sometimes the prefix.
        const pos = rand() % 8 === 0 ? rand() % 8 : 8 + (rand() % n);
        buf[pos] = rand() % 2 ? alphabet[rand() % alphabet.length] : rand() & 0xff;
      }
      const cut = rand() % 5 === 0 ? buf.subarray(0, rand() % buf.length) : buf;
      checkOutcome(cut, outcomes);
    }
    // Both outcomes must actually occur, or the mutation is not exercising anything.
    expect(outcomes.parsed).toBeGreaterThan(0);
    expect(outcomes.format).toBeGreaterThan(0);
  });

  function checkOutcome(buf: Uint8Array, outcomes: { parsed: number; format: number }): void {
    let result;
    try {
      result = parseSafetensors(buf);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_RN_FORMAT') {
        throw new Error(`non-format error for ${Buffer.from(buf).toString('hex')}: ${(e as Error).stack}`);
      }
      outcomes.format++;
      return;
    }
    for (const t of result.tensors.values()) {
      expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
    }
    outcomes.parsed++;
  }
});

// ---------------------------------------------------------------------------------------------

describe('serialize validates its input', () => {
  const err = (fn: () => unknown) => formatErrorOf(fn);
  const f32 = (shape: number[], n: number): RawTensor => ({ dtype: 'F32', shape, data: new Float32Array(n) });

  test('unknown dtype', () => {
    const e = err(() => serializeSafetensors({ x: { dtype: 'F128' as SafeDType, shape: [1], data: new Float32Array(1) } }));
    expect(e.code).toBe('ERR_RN_ARG');
    expect(e.message).toBe(
      'Expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL for tensors["x"].dtype but received "F128" of type string',
    );
  });

  test('typed array that does not match the dtype', () => {
    const e = err(() => serializeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }));
    expect(e.code).toBe('ERR_RN_ARG');
    expect(e.message).toBe('Expected a Float32Array for dtype F32 for tensors["x"].data but received Float64Array of type object');
    expect(err(() => serializeSafetensors({ x: { dtype: 'I64', shape: [1], data: [1] as unknown as BigInt64Array } })).code).toBe('ERR_RN_ARG');
  });

  test('data length that does not match the shape', () => {
    const e = err(() => serializeSafetensors({ x: f32([2, 3], 5) }));
    expect(e.code).toBe('ERR_RN_SHAPE');
    expect(e.message).toBe('safetensors: tensor "x" has shape [2, 3] (6 elements) but its Float32Array has 5 elements');
    expect(err(() => serializeSafetensors({ x: f32([], 0) })).code).toBe('ERR_RN_SHAPE');
    expect(err(() => serializeSafetensors({ x: f32([2 ** 40, 2 ** 40], 0) })).code).toBe('ERR_RN_SHAPE');
  });

  test('bad shapes, names, metadata and containers', () => {
    expect(err(() => serializeSafetensors({ x: f32([-1], 0) })).code).toBe('ERR_RN_ARG');
    expect(err(() => serializeSafetensors({ x: f32([1.5], 0) })).code).toBe('ERR_RN_ARG');
    expect(err(() => serializeSafetensors({ __metadata__: f32([1], 1) })).message).toContain('"__metadata__"');
    expect(err(() => serializeSafetensors({ ['a\ud800']: f32([1], 1) })).code).toBe('ERR_RN_ARG');
    expect(err(() => serializeSafetensors(new Map([[1 as unknown as string, f32([1], 1)]]))).code).toBe('ERR_RN_ARG');
    expect(err(() => serializeSafetensors({ x: null as unknown as RawTensor })).code).toBe('ERR_RN_ARG');
    expect(err(() => serializeSafetensors({}, { a: 1 as unknown as string })).message).toBe(
      'Expected a well-formed string for metadata["a"] but received 1 of type number',
    );
    expect(err(() => serializeSafetensors({}, [] as unknown as Record<string, string>)).code).toBe('ERR_RN_ARG');
    expect(err(() => serializeSafetensors(null as unknown as Record<string, RawTensor>)).code).toBe('ERR_RN_ARG');
    expect(err(() => parseSafetensors('abc' as unknown as Uint8Array)).code).toBe('ERR_RN_ARG');
  });
});

// ---------------------------------------------------------------------------------------------

describe('writeFileAtomic', () => {
  const listing = () => fs.readdirSync(tmp).sort();

  test('creates, then replaces, leaving no temporary files', () => {
    const p = path.join(tmp, 'out.bin');
    writeFileAtomic(p, Buffer.from('first'));
    expect(fs.readFileSync(p, 'utf8')).toBe('first');
    writeFileAtomic(p, [Buffer.from('sec'), new Uint8Array(0), Uint8Array.from([0x6f, 0x6e, 0x64])]);
    expect(fs.readFileSync(p, 'utf8')).toBe('second');
    writeFileAtomic(p, []);
    expect(fs.readFileSync(p).length).toBe(0);
    expect(listing()).toEqual(['out.bin']);
  });

  test('a failure part-way leaves the old file intact and removes the temporary file', () => {
    const p = path.join(tmp, 'out.bin');
    fs.writeFileSync(p, 'old');
    const boom = Object.assign(new Error('EIO: simulated'), { code: 'EIO' });
    const spy = jest.spyOn(fs, 'fsyncSync').mockImplementationOnce(() => {
      throw boom;
    });
    expect(() => writeFileAtomic(p, Buffer.from('new contents'))).toThrow(boom);
    expect(spy).toHaveBeenCalled();
    expect(fs.readFileSync(p, 'utf8')).toBe('old');
    expect(listing()).toEqual(['out.bin']);
  });

  test('a failing rename (target is a directory) cleans up, sync and async', async () => {
    const d = path.join(tmp, 'dir');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'keep'), 'x');
    expect(() => writeFileAtomic(d, Buffer.from('x'))).toThrow();
    await expect(writeFileAtomicAsync(d, Buffer.from('x'))).rejects.toThrow();
    expect(listing()).toEqual(['dir']);
    expect(fs.readdirSync(d)).toEqual(['keep']);
  });

  test('invalid arguments throw ERR_RN_ARG before touching the disk', () => {
    const p = path.join(tmp, 'out.bin');
    fs.writeFileSync(p, 'old');
    expect(formatErrorOf(() => writeFileAtomic(p, [Buffer.from('a'), 'b' as unknown as Uint8Array])).message).toBe(
      'Expected a Uint8Array for data[1] but received "b" of type string',
    );
    expect(formatErrorOf(() => writeFileAtomic('', Buffer.from('a'))).code).toBe('ERR_RN_ARG');
    expect(fs.readFileSync(p, 'utf8')).toBe('old');
    expect(listing()).toEqual(['out.bin']);
  });

  test('keeps the mode of the file it replaces, and writes through a symlink', () => {
    if (process.platform === 'win32') return;
    const p = path.join(tmp, 'real.bin');
    fs.writeFileSync(p, 'old');
    fs.chmodSync(p, 0o640);
    const link = path.join(tmp, 'link.bin');
    fs.symlinkSync(p, link);
    writeFileAtomic(link, Buffer.from('new'));
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(p, 'utf8')).toBe('new');
    expect(fs.statSync(p).mode & 0o777).toBe(0o640);
    expect(listing()).toEqual(['link.bin', 'real.bin']);
  });

  test('async variant replaces atomically', async () => {
    const p = path.join(tmp, 'out.bin');
    fs.writeFileSync(p, 'old');
    await writeFileAtomicAsync(p, [Buffer.from('ne'), Buffer.from('w')]);
    expect(fs.readFileSync(p, 'utf8')).toBe('new');
    expect(listing()).toEqual(['out.bin']);
  });

  test('writeSafetensorsFile with invalid tensors leaves the old file intact', () => {
    const p = path.join(tmp, 'w.safetensors');
    writeSafetensorsFile(p, sampleTensors());
    const before = fs.readFileSync(p);
    expect(() => writeSafetensorsFile(p, { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      expect.objectContaining({ code: 'ERR_RN_SHAPE' }),
    );
    expect(fs.readFileSync(p).equals(before)).toBe(true);
    expect(listing()).toEqual(['w.safetensors']);
  });
});
