/**
 * The backward table: one entry per recorded op. A rule gets the node (inputs + what forward
 * saved), the gradient of the output and the output itself, and returns one gradient per input
 * (null where none is needed). Rules run under noGrad inside a tidy scope owned by backward().
 */
import { binding, Handle } from './binding';
import type { GradNode } from './autograd';
import type { Tensor } from './tensor';

type Rule = (n: GradNode, g: Tensor, out: Tensor, acc: Accumulate) => (Tensor | null)[];

/**
 * Offered to a rule by backward(): the gradient already collected for input i (from another path
 * through the graph, e.g. a residual shortcut), when backward() owns it alone. A rule that adds its
 * own result into it in place takes it and returns it as input i's gradient; backward() then skips
 * its separate add.
 */
export interface Accumulate {
  peek(i: number): Tensor | null;
  take(i: number): Tensor;
}
// Loaded lazily: tensor.ts -> autograd.ts -> this file -> tensor.ts would be a cycle at load time.
const T = () => require('./tensor') as typeof import('./tensor');
const F = () => require('./functional') as typeof import('./functional');
const B = () => binding();
const W = (n: Parameters<typeof import('./tensor').wrap>[0]) => T().wrap(n);
const S = <X>(n: GradNode, k: string) => n.saved[k] as X;
const need = (n: GradNode, i: number) => !!n.inputs[i]?.requiresGrad;
const hn = (t: Tensor | null): Handle | null => (t ? t.h : null);

/**
 * The native sum over dims, in g's dtype: a bfloat16 / float16 gradient (mixed precision) is
 * summed in float32 (the reduction kernels' type) and cast back.
 */
function sumDims(g: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (g.dtype === 'float32') return W(B().sum(g.h, dims, keepdim, 1));
  const g32 = F().to(g, 'float32');
  const s = W(B().sum(g32.h, dims, keepdim, 1));
  return F().to(s, g.dtype);
}

/** Sum g down to `shape` (undo broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  return F().reshape(sumDims(g, dims, true), shape);
}

/** g (shaped like a reduced output) broadcast back to `shape`, times scale. */
function unreduce(g: Tensor, dims: number[], keepdim: boolean, shape: readonly number[], scale: number): Tensor {
  const ks = shape.map((s, i) => (dims.includes(i) ? 1 : s));
  const gk = keepdim ? g : F().reshape(g, ks);
  const out = T().empty(shape, { device: g.device, dtype: g.dtype }); // on g's device (a cuda sum backward must stay on cuda)
  B().copy_(out.h, gk.h);
  return scale === 1 ? out : F().mul(out, scale);
}

export const RULES = {
  identity: (_n, g) => [g],
  // a float -> float cast (mixed precision): the gradient goes back in the source's dtype
  cast: (n, g) => [F().to(g, S<import('./tensor').DType>(n, 'from'))],
  reshape: (n, g) => [F().reshape(g, S<number[]>(n, 'shape'))],
  permute: (n, g) => {
    const d = S<number[]>(n, 'dims');
    const inv = new Array(d.length);
    d.forEach((v, i) => (inv[v] = i));
    return [F().permute(g, inv)];
  },
  slice: (n, g) => {
    const shape = S<number[]>(n, 'shape');
    // in g's memory format: a channels-last network's gradients stay channels-last (no layout
    // conversion where this one meets the other path's gradient)
    const z = F().emptyLayoutOf(g, shape);
    B().fill_(z.h, 0);
    if (g.numel > 0) {
      const dim = S<number>(n, 'dim');
      const v = F().slice(z, dim, S<number>(n, 'start'), undefined, S<number>(n, 'step')).slice(dim, 0, g.shape[dim]);
      B().copy_(v.h, g.h);
    }
    return [z];
  },
  expand: (n, g) => [sumTo(g, S<number[]>(n, 'shape'))],
  cat: (n, g) => F().split(g, S<number[]>(n, 'sizes'), S<number>(n, 'dim')),
  pad: (n, g) => {
    const before = S<number[]>(n, 'before');
    const shape = S<number[]>(n, 'shape');
    let v = g;
    before.forEach((b, d) => {
      if (b || shape[d] !== g.shape[d]) v = F().slice(v, d, b, b + shape[d]);
    });
    return [v];
  },
  add: (n, g) => [need(n, 0) ? sumTo(g, S(n, 'aShape')) : null, need(n, 1) ? sumTo(g, S(n, 'bShape')) : null],
  sub: (n, g) => [need(n, 0) ? sumTo(g, S(n, 'aShape')) : null, need(n, 1) ? sumTo(F().neg(g), S(n, 'bShape')) : null],
  mul: (n, g) => [
    need(n, 0) ? sumTo(F().mul(g, S<Tensor>(n, 'b')), S(n, 'aShape')) : null,
    need(n, 1) ? sumTo(F().mul(g, S<Tensor>(n, 'a')), S(n, 'bShape')) : null,
  ],
  div: (n, g) => {
    const a = S<Tensor>(n, 'a');
    const b = S<Tensor>(n, 'b');
    return [
      need(n, 0) ? sumTo(F().div(g, b), S(n, 'aShape')) : null,
      need(n, 1) ? sumTo(F().neg(F().div(F().mul(g, a), F().mul(b, b))), S(n, 'bShape')) : null,
    ];
  },
  addScalar: (_n, g) => [g],
  mulScalar: (n, g) => [F().mul(g, S<number>(n, 's'))],
  rsubScalar: (_n, g) => [F().neg(g)],
  rdivScalar: (n, g) => {
    const x = S<Tensor>(n, 'x');
    return [F().mul(F().div(g, F().mul(x, x)), -S<number>(n, 's'))];
  },
  powScalar: (n, g) => {
    const p = S<number>(n, 's');
    return [F().mul(F().mul(g, F().pow(S<Tensor>(n, 'x'), p - 1)), p)];
  },
  unary: (n, g) => {
    const t = S<Tensor | null>(n, 't');
    if (!t) return [F().neg(g)];
    const usesInput = S<boolean>(n, 'usesInput');
    return [W(B().unaryBackward(S<number>(n, 'code'), g.h, usesInput ? t.h : null, usesInput ? null : t.h))];
  },
  dropout: (n, g) => [W(B().dropoutBackward(g.h, S(n, 'p'), S(n, 'seed'), S(n, 'off')))],
  sum: (n, g) => [unreduce(g, S(n, 'dims'), S(n, 'keepdim'), S(n, 'shape'), S(n, 'scale'))],
  matmul: (n, g) => {
    const a = S<Tensor>(n, 'a');
    const b = S<Tensor>(n, 'b');
    const fit = (x: Tensor, shape: readonly number[]) => {
      if (x.shape.join() === shape.join()) return x;
      // a broadcast batch (2-D operand, or batch 1) sums over the batch dimension
      return F().reshape(sumDims(x, [0], shape.length === 3), shape);
    };
    return [
      need(n, 0) ? fit(W(B().matmul(g.h, b.h, false, true)), a.shape) : null,
      need(n, 1) ? fit(W(B().matmul(a.h, g.h, true, false)), b.shape) : null,
    ];
  },
  linear: (n, g) => {
    const x2 = S<Tensor>(n, 'x2');
    const w = S<Tensor>(n, 'w');
    const outF = w.shape[0];
    const g2 = F().reshape(g, [x2.shape[0], outF]);
    return [
      need(n, 0) ? F().reshape(W(B().matmul(g2.h, w.h, false, false)), S(n, 'xShape')) : null,
      need(n, 1) ? W(B().matmul(g2.h, x2.h, true, false)) : null,
      need(n, 2) ? sumDims(g2, [0], false) : null,
    ];
  },
  conv2d: (n, g, _out, acc) => {
    const x = S<Tensor>(n, 'x');
    const w = S<Tensor>(n, 'w');
    const p = S<number[]>(n, 'params');
    const cl = S<boolean>(n, 'channelsLast');
    // a residual block's input gradient = shortcut path + this conv's: added as the kernel stores
    const prev = need(n, 0) ? acc.peek(0) : null;
    const into = prev && prev.device === 'cpu' && prev.dtype === 'float32' && g.dtype === 'float32' &&
      (cl ? prev.isChannelsLast() : prev.isContiguous()) ? acc.take(0) : null;
    return [
      need(n, 0) ? W(B().conv2dBackwardData(g.h, w.h, x.shape.slice(), cl, p, into ? into.h : null)) : null,
      need(n, 1) ? W(B().conv2dBackwardWeight(g.h, x.h, w.shape.slice(), p)) : null,
      need(n, 2) ? sumDims(g, [0, 2, 3], false) : null,
    ];
  },
  batchNorm2d: (n, g) => {
    const [dx, dw, db] = B().batchNormBackward(g.h, S<Tensor>(n, 'x').h, hn(S<Tensor | null>(n, 'w')), S<Tensor>(n, 'mean').h,
      S<Tensor>(n, 'invstd').h, S(n, 'training'), S(n, 'eps'));
    const [tx, tw, tb] = [W(dx), W(dw), W(db)];
    return [tx, need(n, 1) ? tw : null, need(n, 2) ? tb : null];
  },
  layerNorm: (n, g) => {
    const [dx, dw, db] = B().layerNormBackward(g.h, S<Tensor>(n, 'x').h, hn(S<Tensor | null>(n, 'w')), S<Tensor>(n, 'mean').h,
      S<Tensor>(n, 'rstd').h, S(n, 'D'));
    const [tx, tw, tb] = [W(dx), W(dw), W(db)];
    const wIn = n.inputs[1];
    return [tx, wIn ? F().reshape(tw, wIn.shape) : null, n.inputs[2] ? F().reshape(tb, n.inputs[2]!.shape) : null];
  },
  maxPool2d: (n, g) => [W(B().maxPool2dBackward(g.h, S<Tensor>(n, 'idx').h, S(n, 'shape'), S(n, 'p')))],
  avgPool2d: (n, g) => [W(B().avgPool2dBackward(g.h, S(n, 'shape'), S(n, 'p')))],
  adaptiveAvgPool2d: (n, g) => [W(B().adaptiveAvgPool2dBackward(g.h, S(n, 'shape')))],
  softmax: (n, g) => [W(B().softmaxBackward(g.h, S<Tensor>(n, 'y').h, S(n, 'dim'), S(n, 'log')))],
  crossEntropy: (n, g) => [
    W(B().crossEntropyBackward(g.h, S<Tensor>(n, 'logp').h, S<Tensor>(n, 'target').h, S<Tensor>(n, 'count').h, S(n, 'red'), S(n, 'ls'), S(n, 'ig'))),
  ],
  // fused batch norm (+ residual add) + relu (F.batchNormAddRelu / F.batchNormRelu): inputs [x, residual, weight, bias]
  batchNormAddRelu: (n, g) => {
    const [dx, dr, dw, db] = B().bnAddReluBackward(g.h, S<Tensor>(n, 'y').h, S<Tensor>(n, 'x').h, hn(S<Tensor | null>(n, 'w')),
      S<Tensor>(n, 'mean').h, S<Tensor>(n, 'invstd').h, S(n, 'training'), S(n, 'hasResidual'));
    const [tx, tr, tw, tb] = [W(dx), dr ? W(dr) : null, W(dw), W(db)];
    return [tx, need(n, 1) ? tr : null, need(n, 2) ? tw : null, need(n, 3) ? tb : null];
  },
} satisfies Record<string, Rule>;
