'use strict';
/**
 * GPU model cases: whole-network checks on the CUDA backend against the CPU backend, in plain
 * JavaScript so they run under jest (test/gpu/model.gpu.test.ts, against lib/) and as a plain node
 * script on a GPU machine without jest (bench/gpu/run_tests.js, against dist/). Same case format
 * and runner as test/gpu/cases.js (its runCases).
 *
 *   makeModelCases(rn, { device }) -> [{ group, name, needsCuda?, run() -> checks }]
 *
 * 1. Module.to('cuda') moves every parameter and buffer (and gradient) in place.
 * 2. resnet20, one SGD step (train mode, float32, TF32 off) on cuda vs the same step on the CPU.
 * 3. resnet20 with toChannelsLast() under rn.autocast('bf16') on cuda vs the float32 CPU step.
 *
 * Whole-network gradients are compared by direction (err = 1 - cosine similarity) besides values
 * where values are robust: a pre-activation within rounding of 0 can fall on the other side of a
 * ReLU on the other backend, and its gradient then differs by the whole upstream gradient (with
 * batch statistics, over its channel); losses, logits, running statistics and updated weights do
 * not feel that and are held to the float32 bar (1e-4, scaled by the tensor's largest magnitude,
 * as in cases.js). The learning rate (0.01) keeps one such element's effect on an update far below
 * that bar. bfloat16: loss within 2e-2 relative, gradient cosine > 0.99, gradients float32.
 *
 * device 'cpu' (no GPU): a self-test of this file; the "GPU" side runs on the CPU too, autocast
 * then changes nothing (CPU tensors are never cast), so the bf16 case expects float32 there.
 */

const F32 = 1e-4;
const BF16_LOSS = 2e-2;
const BF16_COS = 1e-2;   // 1 - cosine
const F32_COS = 1e-4;

function makeModelCases(rn, opts = {}) {
  const dev = opts.device || 'cuda';
  const onGpu = dev === 'cuda';
  const F = rn.F;

  const vals = (t) => {
    const d = t.to('float32').to('cpu').contiguous().dataSync();  // cast on the device (the CPU has no bf16 casts)
    return d instanceof BigInt64Array ? Float64Array.from(d, Number) : d;
  };
  /** cases.js's rule: max_i |a_i - b_i| / max(1, max_i |b_i|) */
  function errOf(a, b) {
    if (a.length !== b.length) return Infinity;
    let scale = 1, e = 0;
    for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (!(d <= e)) e = Number.isNaN(d) ? Infinity : d;
    }
    return e / scale;
  }
  function cosErr(a, b) {
    if (a.length !== b.length) return Infinity;
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < a.length; i++) {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
    }
    if (aa === 0 && bb === 0) return 0;
    const c = ab / Math.sqrt(aa * bb);
    return Number.isFinite(c) ? 1 - c : Infinity;
  }
  const close = (name, g, c, tol = F32) => ({ name, err: errOf(vals(g), vals(c)), tol });
  const relErr = (a, b) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
  const flag = (name, ok) => ({ name, err: ok ? 0 : 1, tol: 0 });
  const withTF32 = (on, fn) => async () => {
    const prev = onGpu ? rn.cuda.getAllowTF32() : false;
    if (onGpu) rn.cuda.setAllowTF32(on);  // conv / matmul in true float32 (PyTorch's default is TF32 for convs)
    try {
      return await fn();
    } finally {
      if (onGpu) rn.cuda.setAllowTF32(prev);
    }
  };

  /** two identical resnet20s (same seed), one to be moved; input and labels on the CPU */
  function twins(batch = 8) {
    rn.manualSeed(20);
    const ref = rn.models.resnet20({ numClasses: 10 });
    rn.manualSeed(20);
    const m = rn.models.resnet20({ numClasses: 10 });
    rn.manualSeed(21);
    const x = rn.randn([batch, 3, 32, 32]);
    const y = rn.tensor(Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10), { shape: [batch] });
    return { ref, m, x, y };
  }
  const names = (m) => [...m.namedParameters()].map(([n]) => n);

  const cases = [];
  const add = (name, run, extra = {}) => cases.push({ group: 'model', name: `model: ${name}`, run, ...extra });

  add('Module.to(cuda) moves parameters, buffers and gradients in place', () => {
    const out = [];
    const { ref, m, x, y } = twins(2);
    F.crossEntropy(m.forward(x), y).backward();
    const params = m.parameters();
    const bufs = m.buffers();
    const grads = params.map((p) => p.grad);
    const opt = new rn.optim.SGD(params, { lr: 0.1 });
    const before = [...m.stateDict()].map(([k, t]) => [k, t, vals(t)]);
    out.push(flag('returns the model', m.to(dev) === m));
    out.push(flag('same parameter objects', m.parameters().every((p, i) => p === params[i])));
    out.push(flag('same buffer objects', m.buffers().every((b, i) => b === bufs[i])));
    out.push(flag('same optimiser parameters', opt.paramGroups[0].params.every((p, i) => p === params[i])));
    out.push(flag(`every parameter and buffer on ${dev}`, [...params, ...bufs].every((t) => t.device === dev)));
    out.push(flag('gradients moved with them (same objects)', params.every((p, i) => p.grad === grads[i] && p.grad.device === dev)));
    for (const [k, t, v] of before) out.push({ name: `${k} values`, err: errOf(vals(t), v), tol: 0 });
    // a CPU state dict loads into the moved model (copied across devices, in place)
    const w0 = params[0];
    rn.noGrad(() => ref.parameters()[0].fill(0.5));
    m.loadStateDict(ref.stateDict());
    out.push(flag('loadStateDict from CPU tensors: in place, on the device', m.parameters()[0] === w0 && w0.device === dev));
    out.push({ name: 'loadStateDict values', err: errOf(vals(w0), vals(ref.parameters()[0])), tol: 0 });
    out.push(flag("to('cpu') brings them back", m.to('cpu') === m && params.every((p) => p.device === 'cpu')));
    out.push(...before.slice(1, 3).map(([k, t, v]) => ({ name: `${k} after the round trip`, err: errOf(vals(t), v), tol: 0 })));
    return out;
  }, { needsCuda: true });

  add('resnet20 SGD step (float32, TF32 off): cuda vs CPU', withTF32(false, () => {
    const out = [];
    const { ref, m, x, y } = twins(8);
    m.to(dev);
    const hp = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
    const optRef = new rn.optim.SGD(ref.parameters(), hp);
    const opt = new rn.optim.SGD(m.parameters(), hp);
    const lgRef = ref.forward(x), lossRef = F.crossEntropy(lgRef, y);
    const lg = m.forward(x.to(dev)), loss = F.crossEntropy(lg, y.to(dev));
    lossRef.backward();
    loss.backward();
    out.push({ name: 'loss', err: relErr(loss.itemSync(), lossRef.itemSync()), tol: F32 });
    out.push(close('logits', lg, lgRef));
    out.push(flag('logits on the device', lg.device === dev && loss.device === dev));
    const nm = names(m);
    const pr = ref.parameters(), pm = m.parameters();
    pm.forEach((p, i) => {
      out.push(flag(`${nm[i]} grad on the device, float32`, p.grad && p.grad.device === dev && p.grad.dtype === 'float32'));
      out.push({ name: `${nm[i]} grad direction (1 - cos)`, err: cosErr(vals(p.grad), vals(pr[i].grad)), tol: F32_COS });
    });
    const br = ref.buffers(), bm = m.buffers();
    bm.forEach((b, i) => out.push(close(`buffer ${i} (running statistics) after the forward`, b, br[i])));
    optRef.step();
    try {
      opt.step();
      pm.forEach((p, i) => out.push(close(`${nm[i]} after the step`, p, pr[i])));
    } catch (e) {
      out.push({ name: `SGD step on ${dev}: ${e.code || e.name}: ${e.message}`, err: Infinity, tol: 0 });
    }
    return out;
  }));

  add('resnet20 bf16 autocast + channels-last on cuda vs the float32 CPU step', async () => {
    const out = [];
    const { ref, m, x, y } = twins(8);
    m.to(dev).toChannelsLast();
    const params = m.parameters();
    out.push(flag('conv weights channels-last, same objects', params.every((p) => p.ndim !== 4 || (p.isChannelsLast() && !p.isContiguous()))));
    const lossRef = F.crossEntropy(ref.forward(x), y);
    lossRef.backward();
    const convs = [];
    const isConv = (_n, mod) => mod instanceof rn.nn.Conv2d;
    // fn async on purpose: the scope spans the await
    const { logits, loss } = await rn.autocast('bf16', async () => {
      await new Promise((r) => setTimeout(r, 1));
      const lg = rn.nn.withForwardHooks(m, isConv, (name, _mod, args, next) => {
        const o = next(args);
        convs.push([name, o.dtype, o.isChannelsLast() && !o.isContiguous()]);
        return o;
      }, () => m.forward(x.to(dev)));
      return { logits: lg, loss: F.crossEntropy(lg, y.to(dev)) };
    });
    out.push(flag('scope ended', !rn.isAutocastEnabled()));
    loss.backward();
    const half = onGpu ? 'bfloat16' : 'float32';  // the CPU (dry run) is never cast
    out.push(flag(`${convs.length} conv outputs are ${half}`, convs.length === 19 && convs.every(([, d]) => d === half)));
    out.push(flag('conv outputs channels-last', convs.every(([, , cl]) => cl)));
    out.push(flag(`logits ${half} (linear), loss float32`, logits.dtype === half && loss.dtype === 'float32'));
    out.push({ name: 'loss vs float32 CPU (relative)', err: relErr(loss.itemSync(), lossRef.itemSync()), tol: BF16_LOSS });
    const nm = names(m);
    const pr = ref.parameters();
    params.forEach((p, i) => {
      out.push(flag(`${nm[i]} grad float32 on the master weight`, p.grad && p.grad.dtype === 'float32' && p.grad.device === dev && p.dtype === 'float32'));
      out.push({ name: `${nm[i]} grad direction (1 - cos)`, err: cosErr(vals(p.grad), vals(pr[i].grad)), tol: BF16_COS });
    });
    return out;
  });

  return cases;
}

module.exports = { makeModelCases, TOL: { F32, BF16_LOSS, BF16_COS, F32_COS } };
