/**
 * The pre-norm transformer block (GPT-2 / ViT): two residual blocks in a row,
 *
 *   x = x + drop_path(attn(norm1(x)))
 *   x = x + drop_path(mlp(norm2(x)))        mlp: fc1 (dim -> ratio * dim), GELU, fc2 (back to dim)
 *
 * on tokens [B, N, dim]. Names follow timm's ViT (`norm1`, `attn`, `norm2`, `mlp.fc1`, `mlp.fc2`);
 * `attn` is rn.nn.MultiheadAttention with torch's parameter names (`attn.in_proj_weight`, ...).
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Module } from '../module';
import { Dropout, GELU, LayerNorm, Linear } from '../layers';
import { MultiheadAttention } from '../attention';
import { Block, free } from './base';
import { DropPath, maybeDropPath } from './droppath';

/** The transformer MLP: fc1, act (GELU), drop, fc2 — an inverted bottleneck. */
export class Mlp extends Module {
  fc1: Linear;
  act: GELU;
  fc2: Linear;
  drop: Dropout | null;
  constructor(readonly dim: number, readonly hidden: number, dropout = 0) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(dim, hidden));
    this.act = this.registerModule('act', new GELU());
    this.fc2 = this.registerModule('fc2', new Linear(hidden, dim));
    this.drop = this.registerModule('drop', dropout > 0 ? new Dropout(dropout) : null);
  }
  forward(x: Tensor): Tensor {
    const a = this.fc1.forward(x);
    let h = this.act.forward(a);
    free([x], a);
    if (this.drop) h = this.drop.forward(h);
    const y = this.fc2.forward(h);
    free([x, y], h);
    return y;
  }
}

export interface TransformerBlockOptions {
  /** Hidden width of the MLP as a multiple of dim (default 4). */
  mlpRatio?: number;
  /** Causal self-attention (for sequence models). */
  causal?: boolean;
  /** Dropout on attention weights and in the MLP. */
  dropout?: number;
  /** Stochastic-depth drop rate of both residual branches (0: none). */
  dropPath?: number;
  /** LayerNorm epsilon (default 1e-5; timm's ViT uses 1e-6). */
  eps?: number;
}

export class TransformerBlock extends Block {
  readonly blockKind = 'residual' as const;
  norm1: LayerNorm;
  attn: MultiheadAttention;
  norm2: LayerNorm;
  mlp: Mlp;
  drop_path: DropPath | null;
  constructor(readonly dim: number, readonly numHeads: number, o: TransformerBlockOptions = {}) {
    super();
    const eps = o.eps ?? 1e-5;
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, eps));
    this.attn = this.registerModule('attn', new MultiheadAttention(dim, numHeads, { causal: o.causal, dropout: o.dropout }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim, eps));
    this.mlp = this.registerModule('mlp', new Mlp(dim, Math.round(dim * (o.mlpRatio ?? 4)), o.dropout ?? 0));
    this.drop_path = this.registerModule('drop_path', maybeDropPath(o.dropPath));
  }
  forward(x: Tensor): Tensor {
    const n1 = this.norm1.forward(x);
    const a = this.attn.forward(n1);
    const ad = this.drop_path ? this.drop_path.forward(a) : a;
    const x1 = F.add(x, ad);
    free([x, x1], n1, a, ad);
    const n2 = this.norm2.forward(x1);
    const m = this.mlp.forward(n2);
    const md = this.drop_path ? this.drop_path.forward(m) : m;
    const y = F.add(x1, md);
    free([x, y], x1, n2, m, md);
    return y;
  }
  extraRepr(): string {
    return `dim=${this.dim}, heads=${this.numHeads}`;
  }
}
