/**
 * Seeded data augmentation on host batches: NCHW Float32Array in, NCHW Float32Array out.
 *
 * Every transform has the signature `(batch, shape, rng) => { data, shape }`, works per sample,
 * never modifies its input (the output is always a fresh array) and draws all its randomness
 * from the `Rng` it is given, so a run is reproducible from a seed and resumable from
 * `rng.state()`. The number and order of draws per sample is part of each transform's contract
 * (documented below) so results stay stable across versions.
 */
import { invalidArg, rnError } from '../errors';

export type Shape4 = [number, number, number, number];
export interface Batch {
  data: Float32Array;
  shape: Shape4;
}
export type Transform = (batch: Float32Array, shape: Shape4, rng: Rng) => Batch;

// ---------------------------------------------------------------------------------------------
// PRNG

/** splitmix32: spreads a seed over the state so nearby seeds give unrelated streams. */
function splitmix32(a: number): number {
  let t = a ^ (a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  return (t ^ (t >>> 15)) >>> 0;
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/**
 * xoshiro128** (Blackman & Vigna): 128-bit state, period 2^128 - 1, fast in 32-bit JS integer
 * arithmetic. `state()` / `setState()` capture and restore the exact position in the stream.
 */
export class Rng {
  private s = new Uint32Array(4);

  /** `seed`: a non-negative safe integer (default 0). */
  constructor(seed = 0) {
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
      throw invalidArg('a non-negative safe integer', 'seed', seed, typeof seed === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
    }
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    let x = (lo ^ Math.imul(hi, 0x85ebca6b)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.s[i] = splitmix32(x);
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1; // the all-zero state is a fixed point
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1). One draw. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform float in [lo, hi). One draw. */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n) for a positive integer n ≤ 2^32. One draw. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
      throw invalidArg('an integer in [1, 2^32]', 'n', n, 'ERR_RN_RANGE');
    }
    // Bias is at most n / 2^32, irrelevant for image-sized ranges.
    return Math.floor(this.next() * n);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates, n-1 draws). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
      throw invalidArg('a non-negative integer', 'n', n, 'ERR_RN_RANGE');
    }
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** The current state: four unsigned 32-bit integers, JSON-serializable. */
  state(): [number, number, number, number] {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  /** Restores a state returned by `state()`. */
  setState(state: readonly number[]): void {
    if (!Array.isArray(state) || state.length !== 4 ||
        !state.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) || state.every((v) => v === 0)) {
      throw invalidArg('an array of 4 unsigned 32-bit integers, not all zero', 'state', state);
    }
    this.s.set(state);
  }

  /** An independent copy at the same position in the stream. */
  clone(): Rng {
    const r = new Rng();
    r.setState(this.state());
    return r;
  }
}

// ---------------------------------------------------------------------------------------------
// Argument checks

function checkProbability(p: unknown, name: string): number {
  if (typeof p !== 'number') throw invalidArg('a number between 0 and 1', name, p);
  if (!(p >= 0 && p <= 1)) throw invalidArg('a number between 0 and 1', name, p, 'ERR_RN_RANGE');
  return p;
}

function checkNonNegInt(v: unknown, name: string): number {
  if (typeof v !== 'number') throw invalidArg('a non-negative integer', name, v);
  if (!Number.isInteger(v) || v < 0) throw invalidArg('a non-negative integer', name, v, 'ERR_RN_RANGE');
  return v;
}

function checkNumberArray(v: unknown, name: string, what: string, ok: (x: number) => boolean): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number')) {
    throw invalidArg(what, name, v);
  }
  if (!v.every((x: number) => Number.isFinite(x) && ok(x))) throw invalidArg(what, name, v, 'ERR_RN_RANGE');
  return v.slice();
}

function checkRange(v: unknown, name: string, lo: number, hi: number, inclusiveLo: boolean): [number, number] {
  const what = `an array [min, max] with ${lo} ${inclusiveLo ? '<=' : '<'} min <= max${hi === Infinity ? '' : ` <= ${hi}`}`;
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'number') {
    throw invalidArg(what, name, v);
  }
  const [a, b] = v as [number, number];
  const loOk = inclusiveLo ? a >= lo : a > lo;
  if (!(loOk && a <= b && b <= hi) || !Number.isFinite(b)) throw invalidArg(what, name, v, 'ERR_RN_RANGE');
  return [a, b];
}

/** Validates a transform's inputs; returns the shape as plain numbers. */
function checkBatch(op: string, batch: unknown, shape: unknown, rng: unknown): Shape4 {
  if (!(batch instanceof Float32Array)) throw invalidArg('a Float32Array', `${op} batch`, batch);
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw invalidArg('an array [N, C, H, W] of non-negative integers', `${op} shape`, shape);
  }
  const [n, c, h, w] = shape as Shape4;
  if (n * c * h * w !== batch.length) {
    throw rnError('ERR_RN_SHAPE', `${op}: batch has ${batch.length} elements but shape [${shape.join(', ')}] needs ${n * c * h * w}`);
  }
  if (!(rng instanceof Rng)) throw invalidArg('an Rng', `${op} rng`, rng);
  return [n, c, h, w];
}

// ---------------------------------------------------------------------------------------------
// Transforms

/** Converts bytes to floats, `x * scale` (default 1/255, i.e. [0, 1]). */
export function toFloat(images: Uint8Array, scale = 1 / 255): Float32Array {
  if (!(images instanceof Uint8Array)) throw invalidArg('a Uint8Array', 'images', images);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw invalidArg('a finite number', 'scale', scale);
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = images[i] * scale;
  return out;
}

/**
 * Per-channel `(x - mean[c]) / std[c]`, like torchvision Normalize. mean and std must have one
 * entry per channel. No draws.
 */
export function normalize(mean: readonly number[], std: readonly number[]): Transform {
  const m = checkNumberArray(mean, 'mean', 'a non-empty array of finite numbers', () => true);
  const s = checkNumberArray(std, 'std', 'a non-empty array of positive finite numbers', (x) => x > 0);
  if (s.length !== m.length) throw invalidArg(`an array of ${m.length} numbers (one per mean entry)`, 'std', std, 'ERR_RN_SHAPE');
  return withSpec('normalize', [m, s], (batch, shape, rng) => {
    const [n, c, h, w] = checkBatch('normalize', batch, shape, rng);
    if (c !== m.length) throw rnError('ERR_RN_SHAPE', `normalize: batch has ${c} channels but mean and std have ${m.length}`);
    const out = new Float32Array(batch.length);
    const plane = h * w;
    for (let i = 0; i < n * c; i++) {
      const mc = m[i % c];
      const sc = s[i % c];
      for (let k = i * plane, end = k + plane; k < end; k++) out[k] = (batch[k] - mc) / sc;
    }
    return { data: out, shape: [n, c, h, w] };
  });
}

/**
 * Like torchvision RandomCrop(size, padding): pads each side with `padding` zeros, then cuts a
 * `size` window at a uniformly random position. Two draws per sample: top = rng.int(Hp - h + 1),
 * then left = rng.int(Wp - w + 1), where Hp, Wp are the padded sizes. `size` is a number (square)
 * or [h, w].
 */
export function randomCrop(size: number | readonly [number, number], padding = 0): Transform {
  const sizeWhat = 'a positive integer or an array [height, width] of positive integers';
  const hw = typeof size === 'number' ? [size, size] : size;
  if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((d) => typeof d === 'number')) throw invalidArg(sizeWhat, 'size', size);
  if (!hw.every((d: number) => Number.isInteger(d) && d >= 1)) throw invalidArg(sizeWhat, 'size', size, 'ERR_RN_RANGE');
  const [ch, cw] = hw as [number, number];
  const pad = checkNonNegInt(padding, 'padding');
  return withSpec('randomCrop', [[ch, cw], pad], (batch, shape, rng) => {
    const [n, c, h, w] = checkBatch('randomCrop', batch, shape, rng);
    const hp = h + 2 * pad;
    const wp = w + 2 * pad;
    if (ch > hp || cw > wp) {
      throw rnError('ERR_RN_SHAPE', `randomCrop: crop ${ch}x${cw} is larger than the padded image ${hp}x${wp} (${h}x${w} + padding ${pad})`);
    }
    const out = new Float32Array(n * c * ch * cw); // zeros: the padding
    for (let s = 0; s < n; s++) {
      // Window origin in input coordinates (may be negative: that part is padding).
      const top = rng.int(hp - ch + 1) - pad;
      const left = rng.int(wp - cw + 1) - pad;
      const y0 = Math.max(0, -top);
      const y1 = Math.min(ch, h - top);
      const x0 = Math.max(0, -left);
      const x1 = Math.min(cw, w - left);
      if (y0 >= y1 || x0 >= x1) continue;
      for (let k = 0; k < c; k++) {
        const src = (s * c + k) * h * w;
        const dst = (s * c + k) * ch * cw;
        for (let y = y0; y < y1; y++) {
          const from = src + (y + top) * w + left;
          out.set(batch.subarray(from + x0, from + x1), dst + y * cw + x0);
        }
      }
    }
    return { data: out, shape: [n, c, ch, cw] };
  });
}

/** Mirrors each sample left-right with probability p. One draw per sample: flip if rng.next() < p. */
export function randomHorizontalFlip(p = 0.5): Transform {
  const prob = checkProbability(p, 'p');
  return withSpec('randomHorizontalFlip', [prob], (batch, shape, rng) => {
    const [n, c, h, w] = checkBatch('randomHorizontalFlip', batch, shape, rng);
    const out = new Float32Array(batch);
    const sample = c * h * w;
    for (let s = 0; s < n; s++) {
      if (!(rng.next() < prob)) continue;
      for (let row = s * sample, end = row + sample; row < end; row += w) {
        for (let x = 0; x < w; x++) out[row + x] = batch[row + w - 1 - x];
      }
    }
    return { data: out, shape: [n, c, h, w] };
  });
}

export interface RandomErasingOptions {
  /** Probability of erasing a sample. Default 0.5. */
  p?: number;
  /** Range of the erased area as a fraction of the image. Default [0.02, 0.33]. */
  scale?: [number, number];
  /** Range of the erased rectangle's aspect ratio (h/w), sampled log-uniformly. Default [0.3, 3.3]. */
  ratio?: [number, number];
  /** Fill value: one number, or one per channel. Default 0. */
  value?: number | number[];
}

/**
 * Random Erasing (Zhong et al. 2017), following torchvision RandomErasing: with probability p,
 * fill one rectangle of every channel with `value`. Draws per sample: one (erase if
 * rng.next() < p); then for each of up to 10 attempts, two (area fraction, log aspect ratio),
 * plus two (top, left) for the attempt that fits, which ends the loop. If no attempt fits
 * (h < H and w < W), the sample is left unchanged.
 */
export function randomErasing(options: RandomErasingOptions = {}): Transform {
  if (typeof options !== 'object' || options === null) throw invalidArg('an object', 'options', options);
  const prob = checkProbability(options.p ?? 0.5, 'options.p');
  const [s0, s1] = checkRange(options.scale ?? [0.02, 0.33], 'options.scale', 0, 1, true);
  const [r0, r1] = checkRange(options.ratio ?? [0.3, 3.3], 'options.ratio', 0, Infinity, false);
  const valueOpt = options.value ?? 0;
  let values: number[] | null = null; // per-channel fill, or null for the scalar `fill`
  let fill = 0;
  const valueWhat = 'a finite number or an array of finite numbers';
  if (typeof valueOpt === 'number') {
    if (!Number.isFinite(valueOpt)) throw invalidArg(valueWhat, 'options.value', valueOpt, 'ERR_RN_RANGE');
    fill = valueOpt;
  } else {
    values = checkNumberArray(valueOpt, 'options.value', valueWhat, () => true);
  }
  const logR0 = Math.log(r0);
  const logR1 = Math.log(r1);

  const spec: RandomErasingOptions = { p: prob, scale: [s0, s1], ratio: [r0, r1], value: values ?? fill };
  return withSpec('randomErasing', [spec], (batch, shape, rng) => {
    const [n, c, h, w] = checkBatch('randomErasing', batch, shape, rng);
    if (values && values.length !== c) {
      throw rnError('ERR_RN_SHAPE', `randomErasing: batch has ${c} channels but options.value has ${values.length} entries`);
    }
    const out = new Float32Array(batch);
    const area = h * w;
    for (let s = 0; s < n; s++) {
      if (!(rng.next() < prob)) continue;
      for (let attempt = 0; attempt < 10; attempt++) {
        const eraseArea = area * rng.uniform(s0, s1);
        const aspect = Math.exp(rng.uniform(logR0, logR1));
        const eh = Math.round(Math.sqrt(eraseArea * aspect));
        const ew = Math.round(Math.sqrt(eraseArea / aspect));
        if (!(eh < h && ew < w)) continue;
        const top = rng.int(h - eh + 1);
        const left = rng.int(w - ew + 1);
        for (let k = 0; k < c; k++) {
          const v = values ? values[k] : fill;
          const base = (s * c + k) * area;
          for (let y = top; y < top + eh; y++) out.fill(v, base + y * w + left, base + y * w + left + ew);
        }
        break;
      }
    }
    return { data: out, shape: [n, c, h, w] };
  });
}

/** Applies transforms in order, threading the shape and the same rng through them. */
export function compose(transforms: readonly Transform[]): Transform {
  if (!Array.isArray(transforms) || !transforms.every((t) => typeof t === 'function')) {
    throw invalidArg('an array of transforms (functions)', 'transforms', transforms);
  }
  const list = transforms.slice();
  const fn: Transform = (batch, shape, rng) => {
    const checked = checkBatch('compose', batch, shape, rng);
    if (list.length === 0) return { data: new Float32Array(batch), shape: checked };
    let cur: Batch = { data: batch, shape: checked };
    for (const t of list) cur = t(cur.data, cur.shape, rng);
    return cur;
  };
  // Describable only if every part is (a custom function cannot be rebuilt elsewhere).
  const parts = list.map((t) => SPECS.get(t));
  if (parts.every((p): p is TransformSpec => p !== undefined)) SPECS.set(fn, { name: 'compose', args: [parts] });
  return fn;
}

// ---------------------------------------------------------------------------------------------
// Specs: how a built-in transform was made, so another thread (a DataLoader worker) can rebuild
// an identical one. Transforms are closures and cannot be sent to a worker; their specs can.

export type TransformName = 'normalize' | 'randomCrop' | 'randomHorizontalFlip' | 'randomErasing' | 'compose';
/** Plain, structured-clonable description of a built-in transform: the factory and its arguments. */
export interface TransformSpec {
  name: TransformName;
  args: unknown[];
}

const SPECS = new WeakMap<Transform, TransformSpec>();

function withSpec(name: TransformName, args: unknown[], t: Transform): Transform {
  SPECS.set(t, { name, args });
  return t;
}

/**
 * The spec of a transform made by this module's factories (compose included when all its parts
 * are), or undefined for any other function.
 */
export function transformSpec(t: Transform): TransformSpec | undefined {
  return SPECS.get(t);
}

/** Rebuilds a transform from `transformSpec(t)`; the result draws exactly as `t` does. */
export function transformFromSpec(spec: TransformSpec): Transform {
  const bad = (): Error => invalidArg('a transform spec { name, args } from transformSpec()', 'spec', spec);
  if (typeof spec !== 'object' || spec === null || !Array.isArray(spec.args)) throw bad();
  const a = spec.args as never[];
  switch (spec.name) {
    case 'normalize': return normalize(a[0], a[1]);
    case 'randomCrop': return randomCrop(a[0], a[1]);
    case 'randomHorizontalFlip': return randomHorizontalFlip(a[0]);
    case 'randomErasing': return randomErasing(a[0]);
    case 'compose': {
      if (!Array.isArray(a[0])) throw bad();
      return compose((a[0] as TransformSpec[]).map(transformFromSpec));
    }
    default: throw bad();
  }
}
