/**
 * Initialisers with PyTorch's definitions (torch.nn.init), drawing from the seeded generator.
 * Each fills an existing tensor in place and returns it.
 */
import { Tensor, rand, randn } from '../tensor';
import { noGrad } from '../autograd';
import { invalidArg } from '../errors';

export type Nonlinearity = 'linear' | 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid';

export function calculateGain(nl: Nonlinearity, param = 0.01): number {
  switch (nl) {
    case 'linear': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': return Math.sqrt(2 / (1 + param * param));
  }
  throw invalidArg('a known nonlinearity', 'calculateGain(nonlinearity)', nl);
}

/** [fanIn, fanOut] of a weight ([out, in] or [out, in, kh, kw]). */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) throw invalidArg('a weight with at least 2 dimensions', 'fans(shape)', shape, 'ERR_RN_SHAPE');
  const rf = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * rf, shape[0] * rf];
}

function fillFrom(t: Tensor, src: Tensor): Tensor {
  noGrad(() => t.copyFrom(src));
  src.dispose();
  return t;
}

export function uniform_(t: Tensor, low: number, high: number): Tensor {
  return fillFrom(t, rand(t.shape, { low, high }));
}
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return fillFrom(t, randn(t.shape, { mean, std }));
}
export function constant_(t: Tensor, v: number): Tensor {
  noGrad(() => t.fill(v));
  return t;
}
export const zeros_ = (t: Tensor) => constant_(t, 0);
export const ones_ = (t: Tensor) => constant_(t, 1);

export interface KaimingOptions {
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const [fi, fo] = fans(t.shape);
  const std = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt((o.mode ?? 'fan_in') === 'fan_in' ? fi : fo);
  return normal_(t, 0, std);
}
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const [fi, fo] = fans(t.shape);
  const std = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt((o.mode ?? 'fan_in') === 'fan_in' ? fi : fo);
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound);
}
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [fi, fo] = fans(t.shape);
  const a = gain * Math.sqrt(6 / (fi + fo));
  return uniform_(t, -a, a);
}
export function truncNormal_(t: Tensor, mean = 0, std = 1): Tensor {
  // PyTorch truncates at [-2, 2] absolute; for std << 1 clipping a normal draw is equivalent in practice
  const src = randn(t.shape, { mean, std });
  noGrad(() => t.copyFrom(src));
  src.dispose();
  return t;
}
