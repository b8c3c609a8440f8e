/**
 * The highway layer (Srivastava, Greff & Schmidhuber 2015), a gated skip on features [B, D]:
 *
 *   y = H(x) * T(x) + x * C(x)         H(x) = relu(h(x)),  T(x) = sigmoid(transform(x))
 *   coupled (default):   C(x) = 1 - T(x)
 *   uncoupled:           C(x) = sigmoid(carry(x))
 *
 * Initialisation (SCIENCE.md): the transform gate's bias is negative (`gateBias`, default -2,
 * the paper uses -1 to -3) so that the carry path dominates at the start. An uncoupled carry
 * gate gets the opposite bias (+2 by default), i.e. it starts open as well. With the carry
 * gate held open the layer is a ResNet-like identity skip.
 */
import { Tensor } from '../../tensor';
import * as F from '../../functional';
import { Linear } from '../layers';
import * as init from '../init';
import { Block, free } from './base';

export interface HighwayOptions {
  /** C = 1 - T (true, default) or a separate carry gate (false). */
  coupled?: boolean;
  /** Initial bias of the transform gate (default -2). */
  gateBias?: number;
  /** Initial bias of the uncoupled carry gate (default -gateBias). */
  carryBias?: number;
}

export class HighwayBlock extends Block {
  readonly blockKind = 'highway' as const;
  h: Linear;
  transform: Linear;
  carry: Linear | null;
  readonly coupled: boolean;
  constructor(readonly dim: number, o: HighwayOptions = {}) {
    super();
    this.coupled = o.coupled ?? true;
    const gateBias = o.gateBias ?? -2;
    this.h = this.registerModule('h', new Linear(dim, dim));
    this.transform = this.registerModule('transform', new Linear(dim, dim));
    init.constant_(this.transform.bias!, gateBias);
    this.carry = this.registerModule('carry', this.coupled ? null : new Linear(dim, dim));
    if (this.carry) init.constant_(this.carry.bias!, o.carryBias ?? -gateBias);
  }
  forward(x: Tensor): Tensor {
    const hl = this.h.forward(x);
    const H = F.relu(hl);
    const tl = this.transform.forward(x);
    const T = F.sigmoid(tl);
    const ht = F.mul(H, T);
    free([x], hl, H, tl);
    let C: Tensor;
    if (this.carry) {
      const cl = this.carry.forward(x);
      C = F.sigmoid(cl);
      free([x], cl);
    } else {
      C = F.sub(1, T);
    }
    const xc = F.mul(x, C);
    const y = F.add(ht, xc);
    free([x, y], T, C, ht, xc);
    return y;
  }
  extraRepr(): string {
    return `dim=${this.dim}, ${this.coupled ? 'coupled' : 'uncoupled'}`;
  }
}
