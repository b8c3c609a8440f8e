/**
 * Reverse-mode autograd on a tape. Each differentiable op records a GradNode on its output
 * (`record`); `backward()` walks the nodes in reverse topological order, calls the op's rule
 * from the one rule table (grad_rules.ts) and accumulates gradients with `+=`. Saved tensors are
 * released after backward unless `retainGraph` is set (PyTorch's semantics).
 */
import { invalidArg, rnError } from './errors';
import { tidy, keep } from './memory';
import type { Tensor } from './tensor';
import { RULES, Accumulate } from './grad_rules';
import { binding } from './binding';

export interface GradNode {
  op: keyof typeof RULES;
  inputs: (Tensor | null)[];
  /** Attributes and tensors the rule needs (saved tensors are separate handles, see `save`). */
  saved: Record<string, unknown>;
  /** Tensors created for backward only; disposed when the graph is released. */
  owned: Tensor[];
  released: boolean;
}

let gradEnabled = true;
let anomaly = false;

/**
 * Anomaly mode (opt-in, slow: every op's output is read back): the first op whose forward
 * output or backward gradient contains NaN or Inf throws ERR_RN_NAN naming the op.
 * `detectAnomaly(true)` / `detectAnomaly(false)`, or `detectAnomaly(fn)` for a scope.
 */
export function detectAnomaly(enabled: boolean): void;
export function detectAnomaly<T>(fn: () => T): T;
export function detectAnomaly<T>(arg: boolean | (() => T)): T | void {
  if (typeof arg === 'boolean') {
    anomaly = arg;
    return;
  }
  const prev = anomaly;
  anomaly = true;
  try {
    return arg();
  } finally {
    anomaly = prev;
  }
}
export function isAnomalyEnabled(): boolean {
  return anomaly;
}

function checkFinite(t: Tensor, what: () => string): void {
  if (t.dtype !== 'float32') return;
  const d = t.dataSync() as Float32Array;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v - v !== 0) throw rnError('ERR_RN_NAN', `detectAnomaly: ${what()} contains ${Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf'} (element ${i} of shape [${t.shape.join(', ')}])`);
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run fn without recording the graph (inference, optimiser updates). */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw invalidArg('a function', 'noGrad(fn)', fn);
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    const r = fn();
    if (r instanceof Promise) throw rnError('ERR_RN_ARG', 'noGrad: pass a synchronous function (await outside of it)');
    return r;
  } finally {
    gradEnabled = prev;
  }
}

export function enableGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw invalidArg('a function', 'enableGrad(fn)', fn);
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Whether an op on these inputs must record a node. */
export function needsGrad(inputs: readonly (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Attach a node to `out` if any input requires grad; otherwise free what was saved for backward
 * at once (inference keeps no activations).
 */
export function record(op: GradNode['op'], inputs: (Tensor | null | undefined)[], out: Tensor, saved: Record<string, unknown> = {}, owned: Tensor[] = []): Tensor {
  if (anomaly) {
    // inputs that are already bad were reported by the op that made them, or come from the user
    const cleanInputs = inputs.every((t) => !t || t.dtype !== 'float32' || (t.dataSync() as Float32Array).every(Number.isFinite));
    if (cleanInputs) checkFinite(out, () => `the output of ${(saved.name as string) ?? op} (forward)`);
  }
  if (!needsGrad(inputs)) {
    for (const t of owned) t.dispose();
    return out;
  }
  out.requiresGrad = true;
  out._node = { op, inputs: inputs.map((t) => t ?? null), saved, owned, released: false };
  return out;
}

function topo(root: Tensor): Tensor[] {
  // iterative DFS post-order over tensors that have nodes
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t._node ? t._node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c && c._node && c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

export function backward(root: Tensor, grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
  // Imported lazily to avoid a load-order cycle (tensor.ts imports this file).
  const F = require('./functional') as typeof import('./functional');
  if (!root.requiresGrad)
    throw rnError('ERR_RN_AUTOGRAD', 'backward: tensor does not require grad and has no grad function (did an input set requiresGrad?)');
  if (grad === undefined && root.numel !== 1)
    throw rnError('ERR_RN_AUTOGRAD', `backward: grad can be implicitly created only for scalar outputs, but the output has shape [${root.shape.join(', ')}]`);
  if (grad !== undefined) {
    F.checkTensor(grad, 'backward', 'grad');
    if (grad.shape.join() !== root.shape.join())
      throw rnError('ERR_RN_SHAPE', `backward: grad has shape [${grad.shape.join(', ')}] but the output has shape [${root.shape.join(', ')}]`);
  }
  const order = topo(root);
  for (const t of order) if (t._node?.released)
    throw rnError('ERR_RN_AUTOGRAD', `backward: trying to backward through the graph a second time (the saved tensors of ${t._node.op} were freed after the first backward); pass { retainGraph: true } to the first call`);
  const wasEnabled = isGradEnabled();
  tidy(() => {
    noGrad(() => {
      const grads = new Map<Tensor, Tensor>();
      const handedOut = new Set<Tensor>();
      const exclusive = new Set<Tensor>();
      // the caller's gradient is copied: rules may pass it on as views (reshape, permute, ...),
      // which a leaf could adopt as its .grad or a rule sum into in place (Accumulate), and the
      // caller's tensor must never change
      const seed = grad ? F.clone(grad) : F.onesLikeF(root);
      grads.set(root, seed);
      handedOut.add(seed);
      // a gradient has its tensor's dtype (mixed precision: a float32 seed for a bfloat16 output,
      // or a rule's float32 result for a half-precision input, is cast here)
      const asDtypeOf = (g: Tensor, t: Tensor) => (g.dtype === t.dtype ? g : F.to(g, t.dtype));
      const accumulateLeaf = (leaf: Tensor, g0: Tensor) => {
        const g = asDtypeOf(g0, leaf);
        if (leaf.grad && !leaf.grad.isDisposed) {
          leaf.grad.addInPlace(g);
          return;
        }
        // adopt g unless someone else holds it (pass-through rules return the same tensor); the
        // gradient takes the leaf's memory format (PyTorch's layout contract: a channels-last
        // parameter gets a channels-last gradient, any other a contiguous one)
        const cl = leaf.ndim === 4 && leaf.isChannelsLast() && !leaf.isContiguous();
        const dense = (t: Tensor) => (cl ? t.isChannelsLast() : t.isContiguous());
        if (!handedOut.has(g) && dense(g) && g.shape.join() === leaf.shape.join()) {
          handedOut.add(g);
          leaf.grad = keep(g);
          return;
        }
        // always a fresh buffer here: views (contiguous(), reshape()) may share g's memory
        const own = F.emptyLayoutOf(leaf, leaf.shape.slice());
        binding().copy_(own.h, (g.shape.join() === leaf.shape.join() ? g : F.reshape(g, leaf.shape)).h);
        handedOut.add(own);
        leaf.grad = keep(own);
      };
      if (!root._node) {
        accumulateLeaf(root, seed);
        return;
      }
      for (const t of order) {
        const node = t._node;
        const g0 = grads.get(t);
        if (!node || !g0) continue;
        const g = asDtypeOf(g0, t);
        const rule = RULES[node.op] as (n: GradNode, g: Tensor, out: Tensor, acc: Accumulate) => (Tensor | null)[];
        const taken: boolean[] = [];
        const acc: Accumulate = {
          peek: (i) => {
            const inp = node.inputs[i];
            if (!inp || !inp._node || node.inputs.indexOf(inp) !== node.inputs.lastIndexOf(inp)) return null;
            const prev = grads.get(inp);
            return prev && exclusive.has(prev) ? prev : null;
          },
          take: (i) => {
            const prev = acc.peek(i);
            if (!prev) throw rnError('ERR_RN_INTERNAL', `backward: ${node.op} took a gradient it was not offered`);
            taken[i] = true;
            return prev;
          },
        };
        const ig = rule(node, g, t, acc);
        if (anomaly) ig.forEach((gi, i) => gi && checkFinite(gi, () => `the gradient of input ${i} computed by the backward of ${(node.saved.name as string) ?? node.op}`));
        node.inputs.forEach((inp, i) => {
          const gi = ig[i];
          if (!inp || !gi || !inp.requiresGrad) return;
          if (!inp._node) accumulateLeaf(inp, gi);
          else {
            // `exclusive`: pending gradients that only backward() holds, which a rule may sum into
            // in place (Accumulate); a tensor handed out elsewhere is cloned before it is kept
            const prev = grads.get(inp);
            let own: Tensor;
            if (taken[i]) own = gi;  // the rule added into prev: gi is the sum, in prev's storage
            else if (prev) own = F.add(prev, gi);
            else {
              own = handedOut.has(gi) ? F.clone(gi) : gi;
              handedOut.add(gi);
            }
            grads.set(inp, own);
            exclusive.add(own);
          }
        });
      }
    });
  });
  void wasEnabled;
  if (!opts.retainGraph) {
    for (const t of order) {
      const n = t._node;
      if (!n || n.released) continue;
      for (const o of n.owned) o.dispose();
      n.owned = [];
      n.saved = {};
      n.released = true;
    }
  }
}
