/**
 * Plain CIFAR networks (the ResNet paper's baselines for the degradation problem): the CIFAR
 * ResNet skeleton of depth 6n + 2 with every block's skip removed (rn.nn.PlainBlock). Same names
 * and parameter counts as the option-A ResNet of the same depth. plain20 trains fine; plain56
 * trains *worse* (higher training error) than plain20, while resnet56 beats resnet20.
 */
import { invalidArg } from '../errors';
import { CifarNet, CifarResNetOptions } from './cifar_resnet';

export type PlainNetOptions = Omit<CifarResNetOptions, 'shortcut' | 'dropPathRate' | 'zeroInitResidual'>;

export class PlainNet extends CifarNet {
  constructor(depth: number, o: PlainNetOptions = {}) {
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6) throw invalidArg('a depth of the form 6n + 2 (20, 32, 44, 56, 110)', 'PlainNet(depth)', depth, 'ERR_RN_RANGE');
    super((depth - 2) / 6, false, o);
  }
}

export const plain20 = (o: PlainNetOptions = {}) => new PlainNet(20, o);
export const plain32 = (o: PlainNetOptions = {}) => new PlainNet(32, o);
export const plain44 = (o: PlainNetOptions = {}) => new PlainNet(44, o);
export const plain56 = (o: PlainNetOptions = {}) => new PlainNet(56, o);
export const plain110 = (o: PlainNetOptions = {}) => new PlainNet(110, o);
