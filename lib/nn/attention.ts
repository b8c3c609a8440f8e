/**
 * Multi-head attention (torch.nn.MultiheadAttention with batch_first=True) and the patch
 * embedding of Vision Transformers.
 *
 * MultiheadAttention keeps torch's parameter names and layout, so its state dict loads in
 * PyTorch unchanged: `in_proj_weight` [3E, E] (rows: q, then k, then v), `in_proj_bias` [3E],
 * `out_proj.weight` [E, E], `out_proj.bias` [E]; and torch's initialisation (xavier-uniform
 * in_proj_weight, zero biases, out_proj.weight as nn.Linear).
 *
 *   q, k, v = split(x W_in^T + b_in)                 (self-attention: one GEMM)
 *   per head h: softmax(q_h k_h^T / sqrt(d) + mask) v_h
 *   out = concat_h(...) W_out^T + b_out
 *
 * The optional causal mask hides future positions (key j > query i) with -inf, as torch's
 * `nn.Transformer.generate_square_subsequent_mask`.
 */
import { Tensor, tensor, empty, zeros } from '../tensor';
import * as F from '../functional';
import { Module } from './module';
import { Conv2d, Linear } from './layers';
import * as init from './init';
import { invalidArg, rnError } from '../errors';
import { keep } from '../memory';

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights (training only). */
  dropout?: number;
  bias?: boolean;
  /** Apply a causal (square subsequent) mask in every call. */
  causal?: boolean;
}

export class MultiheadAttention extends Module {
  in_proj_weight: Tensor;
  in_proj_bias: Tensor | null;
  out_proj: Linear;
  readonly headDim: number;
  readonly dropout: number;
  readonly causal: boolean;
  private readonly maskCache = new Map<string, Tensor>();
  constructor(readonly embedDim: number, readonly numHeads: number, o: MultiheadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || embedDim < 1) throw invalidArg('a positive integer', 'MultiheadAttention(embedDim)', embedDim, 'ERR_RN_RANGE');
    if (!Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads)
      throw invalidArg(`a positive integer dividing embedDim ${embedDim}`, 'MultiheadAttention(numHeads)', numHeads, 'ERR_RN_RANGE');
    this.headDim = embedDim / numHeads;
    this.dropout = o.dropout ?? 0;
    this.causal = o.causal ?? false;
    const bias = o.bias ?? true;
    this.in_proj_weight = this.registerParameter('in_proj_weight', init.xavierUniform_(empty([3 * embedDim, embedDim])));
    this.in_proj_bias = this.registerParameter('in_proj_bias', bias ? zeros([3 * embedDim]) : null);
    this.out_proj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias }));
    if (this.out_proj.bias) init.zeros_(this.out_proj.bias);
  }

  /** The additive causal mask [L, S]: 0 where key j <= query i, -inf above the diagonal. */
  causalMask(L: number, S = L): Tensor {
    const key = `${L}x${S}`;
    let m = this.maskCache.get(key);
    if (!m || m.isDisposed) {
      const d = new Float32Array(L * S);
      for (let i = 0; i < L; i++) for (let j = i + 1; j < S; j++) d[i * S + j] = -Infinity;
      m = keep(tensor(d, { shape: [L, S] }));
      this.maskCache.set(key, m);
    }
    return m;
  }

  /**
   * query [B, L, E]; key and value [B, S, E] (default: query, i.e. self-attention); attnMask an
   * optional additive float mask [L, S] or [B * numHeads, L, S]. Returns [B, L, E].
   */
  forward(query: Tensor, key: Tensor = query, value: Tensor = key, attnMask?: Tensor): Tensor {
    const E = this.embedDim;
    const H = this.numHeads;
    const D = this.headDim;
    for (const [n, t] of [['query', query], ['key', key], ['value', value]] as const) {
      F.checkTensor(t, 'MultiheadAttention', n);
      if (t.ndim !== 3 || t.shape[2] !== E)
        throw rnError('ERR_RN_SHAPE', `MultiheadAttention: expected ${n} of shape [batch, length, ${E}] but received [${t.shape.join(', ')}]`);
    }
    const [B, L] = query.shape;
    const S = key.shape[1];
    if (key.shape[0] !== B || value.shape[0] !== B || value.shape[1] !== S)
      throw rnError('ERR_RN_SHAPE', `MultiheadAttention: query [${query.shape.join(', ')}], key [${key.shape.join(', ')}] and value [${value.shape.join(', ')}] do not match`);

    let q: Tensor, k: Tensor, v: Tensor;
    if (key === query && value === query) {
      [q, k, v] = F.split(F.linear(query, this.in_proj_weight, this.in_proj_bias), E, 2);
    } else {
      const [wq, wk, wv] = F.split(this.in_proj_weight, E, 0);
      const [bq, bk, bv] = this.in_proj_bias ? F.split(this.in_proj_bias, E, 0) : [null, null, null];
      q = F.linear(query, wq, bq);
      k = F.linear(key, wk, bk);
      v = F.linear(value, wv, bv);
    }
    // [B, T, E] -> [B * H, T, D]
    const heads = (t: Tensor, T: number) => F.reshape(F.permute(F.reshape(t, [B, T, H, D]), [0, 2, 1, 3]), [B * H, T, D]);
    const qh = F.mul(heads(q, L), 1 / Math.sqrt(D));
    const kh = heads(k, S);
    const vh = heads(v, S);
    let scores = F.matmul(qh, F.transpose(kh, 1, 2)); // [B*H, L, S]
    if (this.causal) scores = F.add(scores, this.causalMask(L, S));
    if (attnMask) scores = F.add(scores, attnMask);
    let attn = F.softmax(scores, -1);
    if (this.dropout > 0) attn = F.dropout(attn, this.dropout, this.training);
    const ctx = F.matmul(attn, vh); // [B*H, L, D]
    const merged = F.reshape(F.permute(F.reshape(ctx, [B, H, L, D]), [0, 2, 1, 3]), [B, L, E]);
    return this.out_proj.forward(merged);
  }
  extraRepr(): string {
    return `embed=${this.embedDim}, heads=${this.numHeads}${this.causal ? ', causal' : ''}`;
  }
}

/**
 * Patch embedding of a Vision Transformer: a convolution whose kernel and stride are the patch
 * size (`proj`, as timm), then [B, E, H/p, W/p] -> [B, N, E] tokens (N = (H/p) * (W/p)).
 */
export class PatchEmbedding extends Module {
  proj: Conv2d;
  constructor(readonly inChannels: number, readonly embedDim: number, readonly patchSize: number) {
    super();
    this.proj = this.registerModule('proj', new Conv2d(inChannels, embedDim, patchSize, { stride: patchSize }));
  }
  /** Number of patches for an image of size h x w. */
  numPatches(h: number, w = h): number {
    return Math.floor(h / this.patchSize) * Math.floor(w / this.patchSize);
  }
  forward(x: Tensor): Tensor {
    const y = this.proj.forward(x);
    return F.transpose(F.flatten(y, 2), 1, 2);
  }
  extraRepr(): string {
    return `${this.inChannels} -> ${this.embedDim}, patch=${this.patchSize}`;
  }
}
