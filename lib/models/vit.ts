/**
 * A small Vision Transformer (Dosovitskiy et al. 2021) with pre-norm blocks, for exercising
 * rn.nn.TransformerBlock on small images:
 *
 *   patch_embed (conv, stride = patch) -> prepend cls_token -> + pos_embed
 *   -> blocks.0 .. blocks.{depth-1} (TransformerBlock) -> norm -> head(token 0)
 *
 * Names follow timm's VisionTransformer (`cls_token`, `pos_embed`, `patch_embed.proj`,
 * `blocks.i.attn.in_proj_weight`, `norm`, `head`). Initialisation as timm: cls_token and
 * pos_embed truncated normal (std 0.02), Linear weights truncated normal (std 0.02) with zero
 * bias, LayerNorm weight 1 / bias 0, the patch convolution torch's default.
 */
import { Tensor, empty } from '../tensor';
import * as F from '../functional';
import { LayerNorm, Linear, Sequential } from '../nn/layers';
import { PatchEmbedding } from '../nn/attention';
import { TransformerBlock } from '../nn/blocks/transformer';
import { linearDropPathRates } from '../nn/blocks/droppath';
import * as init from '../nn/init';
import { invalidArg } from '../errors';
import { ModelOptions, posIntOpt, Model, checkModelOptions } from './common';

export interface ViTOptions extends ModelOptions {
  /** Square input size (default 32). */
  imageSize?: number;
  /** Patch size (default 4). */
  patchSize?: number;
  /** Token width (default 64). */
  dim?: number;
  /** Number of TransformerBlocks (default 6). */
  depth?: number;
  /** Attention heads (default 4). */
  heads?: number;
  /** MLP hidden width / dim (default 4). */
  mlpRatio?: number;
  dropout?: number;
  /** Stochastic depth of the last block, rising linearly from 0 (default 0). */
  dropPathRate?: number;
}

export class VisionTransformer extends Model {
  cls_token: Tensor;
  pos_embed: Tensor;
  patch_embed: PatchEmbedding;
  blocks: Sequential;
  norm: LayerNorm;
  head: Linear;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly dim: number;
  readonly numPatches: number;
  constructor(o: ViTOptions = {}) {
    super();
    checkModelOptions(o, 'VisionTransformer');
    this.numClasses = posIntOpt(o.numClasses, 10, 'numClasses');
    this.inChannels = posIntOpt(o.inChannels, 3, 'inChannels');
    const imageSize = posIntOpt(o.imageSize, 32, 'imageSize');
    const patch = posIntOpt(o.patchSize, 4, 'patchSize');
    if (imageSize % patch) throw invalidArg(`a patch size dividing imageSize ${imageSize}`, 'VisionTransformer(patchSize)', patch, 'ERR_RN_RANGE');
    this.dim = posIntOpt(o.dim, 64, 'dim');
    const depth = posIntOpt(o.depth, 6, 'depth');
    const heads = posIntOpt(o.heads, 4, 'heads');
    this.numPatches = (imageSize / patch) ** 2;
    this.cls_token = this.registerParameter('cls_token', init.truncNormal_(empty([1, 1, this.dim]), 0, 0.02));
    this.pos_embed = this.registerParameter('pos_embed', init.truncNormal_(empty([1, this.numPatches + 1, this.dim]), 0, 0.02));
    this.patch_embed = this.registerModule('patch_embed', new PatchEmbedding(this.inChannels, this.dim, patch));
    const rates = linearDropPathRates(depth, o.dropPathRate ?? 0);
    this.blocks = this.registerModule('blocks', new Sequential());
    for (let i = 0; i < depth; i++)
      this.blocks.append(new TransformerBlock(this.dim, heads, { mlpRatio: o.mlpRatio, dropout: o.dropout, dropPath: rates[i], eps: 1e-6 }));
    this.norm = this.registerModule('norm', new LayerNorm(this.dim, 1e-6));
    this.head = this.registerModule('head', new Linear(this.dim, this.numClasses));
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        init.truncNormal_(m.weight, 0, 0.02);
        if (m.bias) init.zeros_(m.bias);
      }
    }
  }
  forward(x: Tensor): Tensor {
    const tokens = this.patch_embed.forward(x); // [B, N, dim]
    const B = tokens.shape[0];
    if (tokens.shape[1] !== this.numPatches)
      throw invalidArg(`an image giving ${this.numPatches} patches`, 'VisionTransformer.forward(x)', `shape [${x.shape.join(', ')}]`);
    const cls = F.expand(this.cls_token, [B, 1, this.dim]);
    const seq = F.cat([cls, tokens], 1);
    const h0 = F.add(seq, this.pos_embed);
    seq.dispose();
    const h = this.blocks.forward(h0);
    const n = this.norm.forward(h);
    const first = F.reshape(F.slice(n, 1, 0, 1), [B, this.dim]);
    return this.head.forward(first);
  }
}

export const vit = (o: ViTOptions = {}) => new VisionTransformer(o);
