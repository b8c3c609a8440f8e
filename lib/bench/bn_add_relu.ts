/**
 * Cases for the fused batch norm (+ add) + relu kernel (native/cpu/bn_add_relu.cc).
 *
 * For each shape, layout (NCHW / NHWC), variant (bn+relu, bn+add+relu) and pass (fwd, fwd+bwd),
 * in training mode, three implementations are timed, each as the op sequence autograd would
 * enqueue, called through the binding (no tape, so only kernels are timed):
 *   fused      bnAddReluForward [+ bnAddReluBackward], best kernel version for this CPU
 *   fused v1   the same with the portable kernel (loops GCC vectorises), for comparison
 *   unfused    batchNormForward -> add -> relu [-> relu backward -> batchNormBackward]: what
 *              resnode runs with rn.setFusion(false) (the reference every case is validated against)
 *
 * Both fused versions run as in training with autograd recording: the forward also saves the
 * ReLU mask for backward, as bits where the kernel makes them (v2, AVX-512), else backward reads y.
 *
 * Bytes the best fused kernel must move (E elements of 4 bytes; with bits, m = E / 8 bytes):
 *   fwd      bn+add+relu: x twice (statistics, then normalise), r, y, [m]     = 4 E [+ m]
 *            bn+relu:     x twice, y, [m]                                     = 3 E [+ m]
 *   bwd      with bits, bn+add+relu: pass 1 reads dy, m, x, writes g = dy*mask (= dr);
 *                                    pass 2 reads g, x, writes dx             = 6 E + m
 *                       bn+relu:     pass 1 reads dy, m, x (sums only);
 *                                    pass 2 reads dy, m, x, writes dx         = 5 E + 2 m
 *            from y (v1): pass 1 reads dy, y, x, writes g (dr, or into dx); pass 2 reads g, x,
 *            writes dx                                                        = 7 E
 *   fwd+bwd  with bits 10 E + 2 m (bn+add+relu), 8 E + 3 m (bn+relu); from y 11 E, 10 E
 */
import type * as RN from '../index';
import { BinaryOp, Binding, Handle, NativeTensor, Unary } from '../binding';
import type { Group, Impl } from './harness';

export const SHAPES: number[][] = [
  [32, 64, 56, 56],
  [128, 16, 32, 32],
  [128, 64, 8, 8],
];
export const LAYOUTS = ['NCHW', 'NHWC'] as const;
export const VARIANTS = ['bn+relu', 'bn+add+relu'] as const;
export const PASSES = ['fwd', 'fwd+bwd'] as const;

export function keyOf(variant: string, pass: string, shape: number[], layout: string): string {
  return `${variant} ${pass} ${shape.join('x')} ${layout}`;
}

/** Every group's key (cheap; tensors are made by `make`). */
export function keys(filter: string | null): { key: string; variant: string; pass: string; shape: number[]; layout: 'NCHW' | 'NHWC' }[] {
  const out = [];
  for (const shape of SHAPES)
    for (const layout of LAYOUTS)
      for (const variant of VARIANTS)
        for (const pass of PASSES) {
          const key = keyOf(variant, pass, shape, layout);
          if (!filter || key.includes(filter)) out.push({ key, variant, pass, shape, layout });
        }
  return out;
}

/** max |a - e| / max(1, max |e|), skipping the indices in `skip` */
function maxRelErr(a: ArrayLike<number>, e: ArrayLike<number>, skip: Set<number> | null = null): number {
  let scale = 1;
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]));
  let m = 0;
  for (let i = 0; i < e.length; i++) {
    if (skip && skip.has(i)) continue;
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return a.length === e.length ? m / scale : Infinity;
}

export function make(rn: typeof RN, B: Binding, k: ReturnType<typeof keys>[number]): Group {
  const { shape, layout, variant, pass } = k;
  const C = shape[1];
  const E = shape.reduce((a, b) => a * b, 1);
  const residual = variant === 'bn+add+relu';
  const bwd = pass === 'fwd+bwd';
  const owned: RN.Tensor[] = [];
  const t = (x: RN.Tensor) => {
    owned.push(x);
    return x;
  };
  const act = (x: RN.Tensor) => (layout === 'NHWC' ? t(x.toChannelsLast()) : x);
  const x = act(t(rn.randn(shape, { mean: 0.5, std: 2 })));
  const r = residual ? act(t(rn.randn(shape))) : null;
  const dy = bwd ? act(t(rn.randn(shape))) : null;
  const w = t(rn.randn([C], { mean: 1, std: 0.1 }));
  const b = t(rn.randn([C], { std: 0.1 }));
  const rm0 = t(rn.zeros([C]));
  const rv0 = t(rn.ones([C]));
  let rm = rm0;
  let rv = rv0;
  const eps = 1e-5;
  const momentum = 0.1;

  type Out = { handles: Handle[]; named: Record<string, NativeTensor> };
  const fused = (): Out => {
    const [y, m, s, mk] = B.bnAddReluForward(x.h, r ? r.h : null, w.h, b.h, rm.h, rv.h, true, momentum, eps, true);
    const fh = [y.h, m.h, s.h, ...(mk ? [mk.h] : [])];
    if (!bwd) return { handles: fh, named: { y } };
    const [dx, dr, dw, db] = B.bnAddReluBackward(dy!.h, (mk ?? y).h, x.h, w.h, m.h, s.h, true, residual);
    const named: Record<string, NativeTensor> = { y, dx, dw, db };
    if (dr) named.dr = dr;
    return { handles: [...fh, dx.h, dw.h, db.h, ...(dr ? [dr.h] : [])], named };
  };
  const unfused = (): Out => {
    const [bn, m, s] = B.batchNormForward(x.h, w.h, b.h, rm.h, rv.h, true, momentum, eps);
    const z = r ? B.binary(BinaryOp.add, bn.h, r.h) : null;
    const y = B.unary(Unary.relu, (z ?? bn).h);
    const handles = [bn.h, m!.h, s!.h, y.h, ...(z ? [z.h] : [])];
    if (!bwd) return { handles, named: { y } };
    // autograd's rules: relu backward (from y), add backward (identity: dr = dz), batchNorm2d backward
    const gz = B.unaryBackward(Unary.relu, dy!.h, null, y.h);
    const [dx, dw, db] = B.batchNormBackward(gz.h, x.h, w.h, m!.h, s!.h, true, eps);
    const named: Record<string, NativeTensor> = { y, dx, dw, db };
    if (residual) named.dr = gz;
    return { handles: [...handles, gz.h, dx.h, dw.h, db.h], named };
  };
  const withVersion = (v: number, f: () => Out) => () => {
    B.bnAddReluVersion(v);
    try {
      return f();
    } finally {
      B.bnAddReluVersion(0);
    }
  };
  const best = B.bnAddReluVersion();
  const execs: Record<string, () => Out> = { fused, unfused };
  const impls: Impl[] = [
    { name: `fused v${best}`, run: () => fused().handles },
    ...(best !== 1
      ? [{ name: 'fused v1', run: () => fused().handles, enter: () => void B.bnAddReluVersion(1), leave: () => void B.bnAddReluVersion(0) }]
      : []),
    { name: 'unfused', run: () => unfused().handles },
  ];
  if (best !== 1) execs['fused v1'] = withVersion(1, fused);

  // the best version's bytes (bits exactly when it is v2, bnAddReluVersion above)
  const bits = best === 2;
  const m = bits ? Math.ceil(E / 8) : 0;
  const fwdBytes = (residual ? 4 : 3) * E * 4 + m;
  const bwdBytes = !bits ? 7 * E * 4 : residual ? 6 * E * 4 + m : 5 * E * 4 + 2 * m;
  const bytes = fwdBytes + (bwd ? bwdBytes : 0);
  const tensors = (residual ? 4 : 3) + (bwd ? (!bits ? 7 : residual ? 6 : 5) : 0);
  const bitPasses = bits ? (bwd ? (residual ? 2 : 3) : 1) : 0;
  return {
    key: k.key,
    variant,
    pass,
    shape,
    layout,
    bytes,
    bytesNote: `${tensors} x ${E} x 4 B` + (bitPasses ? ` + ${bitPasses} x ${m} B of mask bits` : ''),
    impls,
    reference: 'unfused',
    validate() {
      const results: Record<string, Record<string, Float32Array>> = {};
      for (const [name, f] of Object.entries(execs)) {
        // fresh running statistics for each implementation, compared too
        rm = t(rm0.clone());
        rv = t(rv0.clone());
        const o = f();
        const read = (n: NativeTensor) => Float32Array.from(B.readSync(n.h) as Float32Array);
        results[name] = Object.fromEntries(Object.entries(o.named).map(([kk, v]) => [kk, read(v)]));
        results[name].rm = Float32Array.from(B.readSync(rm.h) as Float32Array);
        results[name].rv = Float32Array.from(B.readSync(rv.h) as Float32Array);
        for (const h of o.handles) B.dispose(h);
      }
      rm = rm0;
      rv = rv0;
      const ref = results.unfused;
      const dyData = dy ? (B.readSync(dy.h) as Float32Array) : null;
      return Object.keys(results)
        .filter((n) => n !== 'unfused')
        .map((n) => {
          // ReLU kinks: where rounding puts z = bn(x) + r on different sides of 0 (|z| ~ 1e-7; a few
          // of 6.4M elements), y agrees to rounding but the mask (dr, dx) legitimately differs
          const flips = new Set<number>();
          const ya = results[n].y;
          const ye = ref.y;
          for (let i = 0; i < ye.length; i++) if (ya[i] > 0 !== ye[i] > 0) flips.add(i);
          // ... and each flip moves its channel's dbias by dy_i and dweight by dy_i * xhat_i: allow
          // 8 * sum |dy_i| over the flips (|xhat| < 7 here) on top of the tolerance for those two
          let flipMass = 0;
          if (dyData) for (const i of flips) flipMass += Math.abs(dyData[i]);
          let m = 0;
          let worst = '';
          for (const kk of Object.keys(ref)) {
            let e = maxRelErr(results[n][kk], ref[kk], kk === 'dr' || kk === 'dx' ? flips : null);
            if ((kk === 'dw' || kk === 'db') && flips.size) {
              let scale = 1;
              for (let i = 0; i < ref[kk].length; i++) scale = Math.max(scale, Math.abs(ref[kk][i]));
              e = Math.max(0, e - (8 * flipMass) / scale);
            }
            if (e > m || !worst) [m, worst] = [e, kk];
          }
          if (flips.size > Math.max(8, ye.length * 1e-5)) [m, worst] = [Infinity, `${flips.size} mask flips`];
          else if (flips.size) worst += ` (${flips.size} mask flip${flips.size > 1 ? 's' : ''} at |z| ~ 0 skipped in dr/dx)`;
          return { impl: n === 'fused' ? `fused v${best}` : n, maxRelErr: m, worst, ok: m <= 1e-5 };
        });
    },
    dispose() {
      for (const o of owned) o.dispose();
    },
  };
}
