/** rn.models: ready-made networks with PyTorch/torchvision names. Every constructor takes { numClasses, inChannels }. */
export { ResNet, resnet18, resnet34, resnet50, resnet101, resnet152, wide_resnet50_2, wideResnet50_2, resnext50_32x4d } from './resnet';
export type { ResNetOptions, ResNetBlock } from './resnet';
export { CifarNet, CifarResNet, resnet20, resnet32, resnet44, resnet56, resnet110, resnet1202 } from './cifar_resnet';
export type { CifarResNetOptions } from './cifar_resnet';
export { PlainNet, plain20, plain32, plain44, plain56, plain110 } from './plain';
export type { PlainNetOptions } from './plain';
export { PreActResNet, preactResnet18, preactResnet164 } from './preact_resnet';
export type { PreActResNetOptions } from './preact_resnet';
export { DenseNetCifar, densenetBC, densenetBC100 } from './densenet';
export type { DenseNetOptions } from './densenet';
export { VisionTransformer, vit } from './vit';
export type { ViTOptions } from './vit';
export { HighwayMLP, highwayMlp } from './highway_mlp';
export type { HighwayMlpOptions } from './highway_mlp';
export type { ModelOptions } from './common';
export { Model, resyncBatchNorm } from './common';
