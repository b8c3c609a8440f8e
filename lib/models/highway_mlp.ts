/**
 * A highway MLP (Srivastava et al. 2015): flatten the image, a Linear + ReLU to `width`
 * (`stem`), `depth` highway layers (rn.nn.HighwayBlock, gate bias -2 so carry dominates at
 * initialisation), and a Linear classifier (`fc`). The gated-skip counterpart of a residual MLP.
 */
import { Tensor } from '../tensor';
import * as F from '../functional';
import { Linear, Sequential } from '../nn/layers';
import { HighwayBlock } from '../nn/blocks/highway';
import { ModelOptions, posIntOpt, Model, checkModelOptions } from './common';

export interface HighwayMlpOptions extends ModelOptions {
  /** Input height = width (default 28, MNIST-like). */
  imageSize?: number;
  /** Hidden width (default 64). */
  width?: number;
  /** Number of highway layers (default 10). */
  depth?: number;
  /** Coupled gates C = 1 - T (default true). */
  coupled?: boolean;
  /** Transform-gate bias at initialisation (default -2). */
  gateBias?: number;
}

export class HighwayMLP extends Model {
  stem: Linear;
  layers: Sequential;
  fc: Linear;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly inFeatures: number;
  constructor(o: HighwayMlpOptions = {}) {
    super();
    checkModelOptions(o, 'HighwayMLP');
    this.numClasses = posIntOpt(o.numClasses, 10, 'numClasses');
    this.inChannels = posIntOpt(o.inChannels, 1, 'inChannels');
    const size = posIntOpt(o.imageSize, 28, 'imageSize');
    const width = posIntOpt(o.width, 64, 'width');
    const depth = posIntOpt(o.depth, 10, 'depth');
    this.inFeatures = this.inChannels * size * size;
    this.stem = this.registerModule('stem', new Linear(this.inFeatures, width));
    this.layers = this.registerModule('layers', new Sequential());
    for (let i = 0; i < depth; i++) this.layers.append(new HighwayBlock(width, { coupled: o.coupled, gateBias: o.gateBias }));
    this.fc = this.registerModule('fc', new Linear(width, this.numClasses));
  }
  forward(x: Tensor): Tensor {
    const flat = F.flatten(x, 1);
    const s = this.stem.forward(flat);
    const h = F.relu(s);
    s.dispose();
    const y = this.layers.forward(h);
    const out = this.fc.forward(y);
    return out;
  }
}

export const highwayMlp = (o: HighwayMlpOptions = {}) => new HighwayMLP(o);
