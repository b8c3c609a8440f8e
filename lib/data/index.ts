/**
 * `rn.data`: datasets, the DataLoader, seeded host transforms and the raw file readers.
 *
 *   const train = new rn.data.FashionMNIST({ train: true });
 *   const { randomCrop, randomHorizontalFlip, compose, normalize } = rn.data.transforms;
 *   const loader = new rn.data.DataLoader(train, {
 *     batchSize: 128, shuffle: true, seed: 0,
 *     transform: compose([randomCrop(28, 2), randomHorizontalFlip(), normalize(train.mean, train.std)]),
 *   });
 *   for await (const { x, y } of loader) { ... }
 */
export {
  ArrayDataset, FashionMNIST, MNIST, CIFAR10, CIFAR100, MnistDigits, computeMeanStd, fashionMnistSearchPath,
  NORMALIZATION, MNIST_CLASSES, FASHION_MNIST_CLASSES, CIFAR10_CLASSES, CIFAR100_CLASSES, CIFAR100_COARSE_CLASSES,
} from './dataset';
export type { Dataset, DataBatch, Normalization, ArrayDatasetOptions, MnistLikeOptions, CifarDatasetOptions, MnistDigitsOptions } from './dataset';
export { DataLoader } from './loader';
export type { DataLoaderOptions, TensorBatch, LoaderArrays, LoaderState, HostBatch } from './loader';
export * as transforms from './transforms';
export { Rng, transformSpec, transformFromSpec } from './transforms';
export type { Transform, TransformSpec, Shape4, Batch } from './transforms';
export { readIdx, parseIdx, encodeIdx, readMnist } from './idx';
export type { IdxArray, IdxDtype, IdxData, ImageLabelSet } from './idx';
export { readCifar10, readCifar100, parseCifar, cifarNumClasses } from './cifar';
export type { CifarSet, CifarVariant, CifarLabelMode } from './cifar';
export { loadMnistPackage } from './mnist_pkg';
export type { MnistPkgSet, MnistPkgOptions } from './mnist_pkg';
