'use strict';
/**
 * GPU test cases: every CUDA op of resnode against the CPU backend, in plain JavaScript so they
 * run both under jest (test/gpu/ops.gpu.test.ts, against lib/) and as a plain node script on a GPU
 * machine where jest is not installed (bench/gpu/run_tests.js, against dist/).
 *
 *   makeCases(rn, binding, { device }) -> [{ name, group, needsCuda?, run() -> checks }]
 *   check = { name, err, tol }   pass when err <= tol
 *
 * err is the comparison rule of test/helpers/compare.ts: max_i |gpu_i - cpu_i| / max(1, max_i |cpu_i|)
 * (NaN / Infinity must match exactly: a mismatch gives err = Infinity). Exact checks use tol 0.
 * Tolerances: float32 1e-4 (the issue's bar; most ops land near 1e-6), bfloat16 storage 2e-2 and
 * float16 storage 4e-3 for the fused BatchNorm kernels (inputs, outputs and gradients rounded to
 * 8 / 11 significant bits: a few ulp of bf16 = 2^-8 relative, of f16 = 2^-11).
 *
 * device: 'cuda' (the real run) or 'cpu' (a self-test of this file on a machine without a GPU: the
 * "GPU" side runs on the CPU too, so every check passes trivially but every code path of the cases
 * runs; cases that need CUDA-only features are skipped).
 */

const F32 = 1e-4;
const BF16 = 2e-2;
const F16 = 4e-3;

function makeCases(rn, binding, opts = {}) {
  const dev = opts.device || 'cuda';
  const onGpu = dev === 'cuda';
  const B = () => binding();
  const W = (n) => new rn.Tensor(n);
  const U = opts.codes.Unary;
  const BO = opts.codes.BinaryOp;
  const SO = opts.codes.ScalarOp;
  const devCode = onGpu ? 1 : 0;

  // ---- data ----
  let state = 0x2545f491;
  function rng() {  // xorshift32 in [0, 1)
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state / 4294967296;
  }
  function randArr(n, lo = -1, hi = 1) {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng();
    return a;
  }
  const numel = (shape) => shape.reduce((a, b) => a * b, 1);
  const cpuT = (shape, lo, hi) => rn.tensor(randArr(numel(shape), lo, hi), { shape });
  const ints = (shape, n) => rn.tensor(Int32Array.from({ length: numel(shape) }, () => Math.floor(rng() * n)), { shape });
  const toDev = (t) => t.to(dev);
  const toCpu = (t) => t.to('cpu');

  // ---- comparison ----
  function values(t) {
    const d = t.dataSync();
    return d instanceof BigInt64Array ? Array.from(d, Number) : d;
  }
  function errOf(a, b) {
    if (a.length !== b.length) return Infinity;
    let scale = 1, e = 0;
    for (let i = 0; i < b.length; i++) if (Number.isFinite(b[i])) scale = Math.max(scale, Math.abs(b[i]));
    for (let i = 0; i < b.length; i++) {
      const x = a[i], y = b[i];
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        if (!(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)))) return Infinity;
        continue;
      }
      e = Math.max(e, Math.abs(x - y) / scale);
    }
    return e;
  }
  function exactErr(a, b) {
    if (a.length !== b.length) return Infinity;
    let bad = 0;
    for (let i = 0; i < b.length; i++) if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) bad++;
    return bad;
  }
  /** compare a device tensor with a CPU tensor (shape and dtype too) */
  function close(name, g, c, tol = F32) {
    if (g.device !== dev) return { name: `${name} (device ${g.device})`, err: Infinity, tol };
    if (g.shape.join() !== c.shape.join() || g.dtype !== c.dtype)
      return { name: `${name} (shape [${g.shape}] ${g.dtype} vs [${c.shape}] ${c.dtype})`, err: Infinity, tol };
    return { name, err: tol === 0 ? exactErr(values(g), values(c)) : errOf(values(g), values(c)), tol };
  }
  const exact = (name, g, c) => close(name, g, c, 0);
  /** a round trip back on the host: compare values, shape and dtype (the device is the CPU on purpose) */
  const exactHost = (name, h, c) =>
    h.device !== 'cpu' || h.shape.join() !== c.shape.join() || h.dtype !== c.dtype
      ? { name: `${name} (device ${h.device}, shape [${h.shape}] ${h.dtype})`, err: Infinity, tol: 0 }
      : { name, err: exactErr(values(h), values(c)), tol: 0 };
  /** the same op on both backends: f(...cpuInputs) vs f(...gpuInputs) */
  function both(name, f, inputs, tol = F32) {
    const gi = inputs.map((t) => (t && t.device !== undefined ? toDev(t) : t));
    const c = f(...inputs), g = f(...gi);
    const cs = Array.isArray(c) ? c : [c], gs = Array.isArray(g) ? g : [g];
    return cs.map((ct, i) => (ct === null ? { name: `${name}[${i}] null`, err: gs[i] === null ? 0 : Infinity, tol } : close(cs.length > 1 ? `${name}[${i}]` : name, gs[i], ct, tol)));
  }
  const nat = (h) => (h ? h.h : null);
  const wrapAll = (arr) => arr.map((n) => (n ? W(n) : null));

  // bfloat16 / float16 rounding (round to nearest even) for expected values
  const f32buf = new Float32Array(1), u32buf = new Uint32Array(f32buf.buffer);
  function bf16Round(x) {
    f32buf[0] = x;
    const u = u32buf[0];
    if ((u & 0x7f800000) === 0x7f800000) return x;
    const r = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
    u32buf[0] = r >>> 0;
    return f32buf[0];
  }

  const cases = [];
  const add = (group, name, run, extra = {}) => cases.push({ group, name: `${group}: ${name}`, run, ...extra });

  // BatchNorm kernel generations (bn_add_relu.cu, RESNODE_CUDA_BN): on a GPU every BatchNorm case
  // runs with v1 and with v2; on the CPU (self-test) once.
  const hasBnVersion = onGpu && typeof B()._cudaBnAddReluVersion === 'function';
  const bnVersions = hasBnVersion ? [1, 2] : [0];
  const bnTag = (v) => (v ? ` (v${v})` : '');
  function withBnVersion(v, fn) {
    if (!v) return fn();
    B()._cudaBnAddReluVersion(v);
    try {
      return fn();
    } finally {
      B()._cudaBnAddReluVersion(0);
    }
  }

  // ================= memory: transfers, copies, casts, fills =================
  add('memory', 'to(cuda) / to(cpu) round trip for every dtype', () => {
    const out = [];
    const f = cpuT([3, 5, 7]);
    out.push(exactHost('float32', toCpu(toDev(f)), f));
    const i = rn.tensor(Int32Array.from([1, -2, 3, 2147483647, -2147483648, 0]), { shape: [2, 3] });
    out.push(exactHost('int32', toCpu(toDev(i)), i));
    const u = rn.tensor(Uint8Array.from([0, 1, 255, 128]), { shape: [4] });
    out.push(exactHost('uint8', toCpu(toDev(u)), u));
    const l = rn.tensor(BigInt64Array.from([1n, -5n, 1n << 40n]), { shape: [3] });
    out.push(exactHost('int64', toCpu(toDev(l)), l));
    const s = rn.tensor(3.5);
    out.push(exactHost('0-d', toCpu(toDev(s)), s));
    const e = rn.zeros([0, 4]);
    out.push(exactHost('empty', toCpu(toDev(e)), e));
    const big = cpuT([3, 1 << 20]);  // > one 32 MiB upload chunk? 12 MiB: one chunk; the next one is 48 MiB
    out.push(exactHost('12 MiB', toCpu(toDev(big)), big));
    const huge = cpuT([12, 1 << 20]);
    out.push(exactHost('48 MiB (two upload chunks)', toCpu(toDev(huge)), huge));
    return out;
  });
  add('memory', 'layouts survive the move: channels-last, strided views, offsets', () => {
    const x = cpuT([2, 3, 4, 5]);
    const cl = x.toChannelsLast();
    const g = toDev(cl);
    const out = [exactHost('channels-last values', toCpu(g), cl)];
    out.push({ name: 'channels-last strides kept', err: g.isChannelsLast() && !g.isContiguous() ? 0 : 1, tol: 0 });
    const t = x.transpose(1, 3);
    out.push(exactHost('transposed view', toCpu(toDev(t)), t.contiguous()));
    const sl = x.slice(1, 1, 3);
    out.push(exactHost('sliced view (offset)', toCpu(toDev(sl)), sl.contiguous()));
    // views of a device tensor read back through the gather kernel
    const gx = toDev(x);
    out.push(exact('device view read', gx.transpose(0, 2).contiguous(), x.transpose(0, 2).contiguous()));
    out.push(exactHost('device strided dataSync', toCpu(gx.permute([3, 1, 0, 2])), x.permute([3, 1, 0, 2]).contiguous()));
    return out;
  });
  add('memory', 'async reads (await data()) and item()', async () => {
    const x = cpuT([1000]);
    const g = toDev(x);
    const d = await g.data();
    const s = rn.tensor(2.25).to(dev);
    return [
      { name: 'data()', err: exactErr(d, values(x)), tol: 0 },
      { name: 'item()', err: (await s.item()) === 2.25 ? 0 : 1, tol: 0 },
      { name: 'itemSync()', err: s.itemSync() === 2.25 ? 0 : 1, tol: 0 },
    ];
  });
  add('memory', 'fill / zeros / ones / full on the device, every dtype, strided views', () => {
    const out = [];
    for (const dtype of ['float32', 'int32', 'uint8', 'int64']) {
      out.push(exact(`full ${dtype}`, rn.full([3, 4], 7, { dtype, device: dev }), rn.full([3, 4], 7, { dtype })));
      out.push(exact(`zeros ${dtype}`, rn.zeros([5], { dtype, device: dev }), rn.zeros([5], { dtype })));
    }
    const c = rn.zeros([4, 6]), g = rn.zeros([4, 6], { device: dev });
    c.transpose(0, 1).slice(0, 1, 4).fill(3);
    g.transpose(0, 1).slice(0, 1, 4).fill(3);
    out.push(exact('fill of a strided view', g, c));
    return out;
  });
  add('memory', 'copy_ with broadcasting, cat, pad, clone, contiguous', () => {
    const out = [];
    const a = cpuT([4, 1, 3]), dst = rn.zeros([2, 4, 5, 3]), gd = rn.zeros([2, 4, 5, 3], { device: dev });
    dst.copyFrom(a);
    gd.copyFrom(toDev(a));
    out.push(exact('broadcast copy', gd, dst));
    out.push(...both('cat', (x, y) => rn.cat([x, y], 1), [cpuT([2, 3, 4]), cpuT([2, 5, 4])], 0));
    out.push(...both('pad', (x) => rn.F.pad(x, [1, 2, 0, 1], 0.5), [cpuT([2, 3, 4])], 0));
    out.push(...both('clone', (x) => rn.clone(x), [cpuT([3, 3])], 0));
    out.push(...both('contiguous of permute', (x) => x.permute([2, 0, 1]).contiguous(), [cpuT([3, 4, 5])], 0));
    out.push(...both('toChannelsLast', (x) => x.toChannelsLast().contiguous(), [cpuT([2, 3, 4, 5])], 0));
    return out;
  });
  add('memory', 'casts between integer and float dtypes', () => {
    const out = [];
    const x = rn.tensor(Float32Array.from([-3.7, -1.2, 0, 0.5, 2.9, 100.25]), { shape: [6] });
    for (const dt of ['int32', 'int64', 'float32']) out.push(exact(`float32 -> ${dt}`, toDev(x).to(dt), x.to(dt)));
    const u = rn.tensor(Uint8Array.from([0, 7, 200, 255]), { shape: [4] });
    out.push(exact('uint8 -> float32', toDev(u).to('float32'), u.to('float32')));
    const i = rn.tensor(Int32Array.from([-5, 0, 12345678]), { shape: [3] });
    out.push(exact('int32 -> float32', toDev(i).to('float32'), i.to('float32')));
    return out;
  });
  add('memory', 'bfloat16 / float16 casts (round to nearest even)', () => {
    const src = Float32Array.from([1, -2.5, 3.14159265, 1e-3, 65504, -0.0001, 1234.5678, 0.333333]);
    const x = rn.tensor(src, { shape: [src.length] }).to(dev);
    const bf = x.to('bfloat16').to('float32');
    const expected = rn.tensor(Float32Array.from(src, bf16Round), { shape: [src.length] });
    const h = x.to('float16').to('float32');
    const hv = values(h);
    let herr = 0;
    for (let k = 0; k < src.length; k++) herr = Math.max(herr, Math.abs(hv[k] - src[k]) / Math.max(1, Math.abs(src[k])));
    return [exact('f32 -> bf16 -> f32', bf, expected), { name: 'f32 -> f16 -> f32', err: herr, tol: 1e-3 }];
  }, { needsCuda: true });
  add('memory', 'rand / randn: the CPU generator, the same numbers', () => {
    rn.manualSeed(123);
    const a = rn.rand([1000]), b = rn.randn([777], { mean: 1, std: 2 });
    rn.manualSeed(123);
    const ga = rn.rand([1000], { device: dev }), gb = rn.randn([777], { mean: 1, std: 2, device: dev });
    return [exact('rand', ga, a), close('randn', gb, b, 1e-6)];
  });
  add('memory', 'caching allocator: stats, reuse, emptyCache', () => {
    if (!onGpu) return [];
    rn.cuda.synchronize();
    const s0 = rn.memory.stats('cuda');
    let t = rn.zeros([1 << 20], { device: dev });  // 4 MiB
    const s1 = rn.memory.stats('cuda');
    t.dispose();
    const s2 = rn.memory.stats('cuda');
    t = rn.zeros([1 << 20], { device: dev });
    const s3 = rn.memory.stats('cuda');
    t.dispose();
    rn.cuda.synchronize();
    rn.cuda.emptyCache();
    const s4 = rn.memory.stats('cuda');
    return [
      { name: 'live grows by the block', err: s1.live - s0.live >= 4 << 20 ? 0 : 1, tol: 0 },
      { name: 'freed block is cached', err: s2.cached - s0.cached >= 4 << 20 ? 0 : 1, tol: 0 },
      // a reuse moves bytes from cached to live; a new cudaMalloc would grow live + cached
      // (frees by the GC in between only move bytes from live to cached)
      { name: 'cached block is reused (live + cached unchanged)', err: s3.live + s3.cached === s2.live + s2.cached ? 0 : 1, tol: 0 },
      { name: 'peak >= live', err: s3.peak >= s3.live ? 0 : 1, tol: 0 },
      { name: 'emptyCache returns the cache', err: s4.cached === 0 ? 0 : 1, tol: 0 },
    ];
  });
  add('memory', 'mixed devices are refused with ERR_RN_DEVICE', () => {
    if (!onGpu) return [];
    const a = rn.ones([3]), g = rn.ones([3], { device: dev });
    let code = '';
    try {
      rn.add(a, g);
    } catch (e) {
      code = e.code;
    }
    return [{ name: `add(cpu, cuda) throws ERR_RN_DEVICE (got ${code})`, err: code === 'ERR_RN_DEVICE' ? 0 : 1, tol: 0 }];
  });

  // ================= elementwise =================
  add('elementwise', 'unary forward and backward (every op)', () => {
    const out = [];
    for (const [name, code] of Object.entries(U)) {
      const pos = ['log', 'sqrt', 'rsqrt', 'reciprocal'].includes(name);
      const x = cpuT([4, 33, 7], pos ? 0.1 : -3, 3);
      const dy = cpuT([4, 33, 7]);
      const fwd = (t) => W(B().unary(code, t.h));
      const yc = fwd(x), gx = toDev(x), yg = fwd(gx);
      out.push(close(`${name} forward`, yg, yc));
      const bwd = (d, xx, yy) => W(B().unaryBackward(code, d.h, xx.h, yy.h));
      out.push(close(`${name} backward`, bwd(toDev(dy), gx, yg), bwd(dy, x, yc)));
    }
    // channels-last input keeps its layout
    const x = cpuT([2, 3, 4, 5]).toChannelsLast();
    const yg = rn.F.relu(toDev(x));
    out.push({ name: 'relu keeps channels-last', err: yg.isChannelsLast() ? 0 : 1, tol: 0 });
    out.push(close('relu channels-last values', yg.contiguous(), rn.F.relu(x).contiguous()));
    return out;
  });
  add('elementwise', 'binary ops with broadcasting and strided operands', () => {
    const out = [];
    const pairs = [
      [[4, 5], [4, 5]], [[4, 5], [5]], [[4, 1], [1, 5]], [[2, 3, 4, 5], [3, 1, 1]], [[7], []], [[2, 1, 6], [3, 1]],
    ];
    for (const [name, code] of Object.entries(BO)) {
      for (const [sa, sb] of pairs) {
        const a = cpuT(sa, name === 'pow' ? 0.5 : -2, 2), b = cpuT(sb, name === 'div' ? 0.5 : -2, 2);
        out.push(...both(`${name} [${sa}] x [${sb}]`, (p, q) => W(B().binary(code, p.h, q.h)), [a, b]));
      }
    }
    const a = cpuT([5, 6]), b = cpuT([6, 5]);
    out.push(...both('add of a transposed operand', (p, q) => rn.add(p, q.t()), [a, b]));
    const c1 = cpuT([2, 3, 4, 5]).toChannelsLast(), c2 = cpuT([2, 3, 4, 5]).toChannelsLast();
    out.push(...both('mul, both channels-last', (p, q) => rn.mul(p, q).contiguous(), [c1, c2]));
    return out;
  });
  add('elementwise', 'scalar ops and add_ (axpy)', () => {
    const out = [];
    for (const [name, code] of Object.entries(SO)) {
      const x = cpuT([3, 50], name === 'pow' || name === 'rdiv' ? 0.5 : -2, 2);
      out.push(...both(`scalar ${name}`, (t) => W(B().scalar(code, t.h, 1.75)), [x]));
    }
    const y = cpuT([1000]), x = cpuT([1000]);
    const gy = toDev(y);
    gy.addInPlace(toDev(x), -0.3);
    y.addInPlace(x, -0.3);
    out.push(close('add_', gy, y));
    return out;
  });
  add('elementwise', 'dropout: the same masks as the CPU (same seed)', () => {
    const x = cpuT([64, 129]);
    const fwd = (t) => W(B().dropoutForward(t.h, 0.3, 42, 1000));
    const bwd = (t) => W(B().dropoutBackward(t.h, 0.3, 42, 1000));
    return [exact('forward', fwd(toDev(x)), fwd(x)), exact('backward', bwd(toDev(x)), bwd(x))];
  });

  // ================= reductions =================
  add('reduce', 'sum over dims (small and large r, keepdim, scale)', () => {
    const out = [];
    const shapes = [[[5, 7, 9], [1]], [[5, 7, 9], [0, 2]], [[5, 7, 9], [0, 1, 2]], [[3, 100000], [1]], [[100000, 3], [0]],
      [[2, 3, 4, 5], [0, 2, 3]], [[1, 1 << 20], [1]], [[0, 3], [0]]];
    for (const [shape, dims] of shapes) {
      const x = cpuT(shape);
      out.push(...both(`sum [${shape}] over [${dims}]`, (t) => W(B().sum(t.h, dims, false, 1)), [x]));
      out.push(...both(`mean-scaled sum [${shape}] over [${dims}] keepdim`, (t) => W(B().sum(t.h, dims, true, 0.25)), [x]));
    }
    out.push(...both('sum of everything', (t) => rn.sum(t), [cpuT([333, 77])]));
    return out;
  });
  add('reduce', 'max / argmax, with ties and NaN (the CPU rule: first NaN, else first max)', () => {
    const out = [];
    const x = cpuT([6, 40, 5]);
    for (const d of [0, 1, 2])
      out.push(...both(`max dim ${d}`, (t) => wrapAll(B().maxDim(t.h, d, false)), [x], 0));
    const ties = rn.tensor(Float32Array.from([1, 3, 3, 2, NaN, 5, NaN, 0, -Infinity, -Infinity]), { shape: [2, 5] });
    out.push(...both('ties and NaN', (t) => wrapAll(B().maxDim(t.h, 1, true)), [ties], 0));
    const wide = cpuT([3, 100]);
    out.push(...both('argmax over 100', (t) => rn.argmax(t, 1), [wide], 0));
    return out;
  });

  // ================= matmul (cuBLAS) =================
  add('matmul', 'cuBLAS GEMM: 2-D, transposes, batched, broadcast batch', () => {
    const out = [];
    const cases_ = [
      [[37, 53], [53, 29], false, false], [[53, 37], [53, 29], true, false], [[37, 53], [29, 53], false, true],
      [[53, 37], [29, 53], true, true], [[4, 17, 33], [4, 33, 9], false, false], [[4, 17, 33], [33, 9], false, false],
      [[17, 33], [4, 33, 9], false, false], [[3, 33, 17], [3, 9, 33], true, true], [[256, 512], [512, 384], false, false],
    ];
    for (const [sa, sb, ta, tb] of cases_)
      out.push(...both(`[${sa}]${ta ? 'T' : ''} x [${sb}]${tb ? 'T' : ''}`, (a, b) => W(B().matmul(a.h, b.h, ta, tb)), [cpuT(sa), cpuT(sb)]));
    out.push(...both('linear (x W^T + b)', (x, w, b) => rn.F.linear(x, w, b), [cpuT([8, 64]), cpuT([10, 64]), cpuT([10])]));
    return out;
  });

  // ================= conv2d (cuDNN) =================
  const convShapes = [
    // x, w, stride, padding, dilation, groups, bias
    [[8, 16, 32, 32], [16, 16, 3, 3], 1, 1, 1, 1, false],
    [[8, 16, 32, 32], [32, 16, 3, 3], 2, 1, 1, 1, false],
    [[4, 64, 14, 14], [256, 64, 1, 1], 1, 0, 1, 1, false],
    [[4, 3, 33, 31], [8, 3, 7, 7], 2, 3, 1, 1, true],
    [[2, 8, 16, 16], [8, 4, 3, 3], 1, 2, 2, 2, true],
    [[2, 32, 9, 9], [32, 1, 3, 3], 1, 1, 1, 32, false],
  ];
  for (const cl of [false, true])
    add('conv2d', `cuDNN forward / backward-data / backward-weight (${cl ? 'channels-last' : 'NCHW'})`, () => {
      const out = [];
      for (const [xs, ws, s, p, d, g, bias] of convShapes) {
        const tag = `x[${xs}] w[${ws}] s${s} p${p} d${d} g${g}${bias ? ' +bias' : ''}`;
        const params = [s, s, p, p, d, d, g];
        let x = cpuT(xs);
        if (cl) x = x.toChannelsLast();
        const w = cpuT(ws, -0.3, 0.3), b = bias ? cpuT([ws[0]]) : null;
        const fwd = (xx, ww, bb) => W(B().conv2dForward(xx.h, ww.h, nat(bb), params));
        const yc = fwd(x, w, b), yg = fwd(toDev(x), toDev(w), b && toDev(b));
        out.push(close(`${tag} forward`, yg.contiguous(), yc.contiguous()));
        if (cl) out.push({ name: `${tag} output stays channels-last`, err: yg.isChannelsLast() ? 0 : 1, tol: 0 });
        const dy = cpuT(yc.shape.slice());
        const dyc = cl ? dy.toChannelsLast() : dy;
        const bd = (d_, ww) => W(B().conv2dBackwardData(d_.h, ww.h, xs, cl, params));
        out.push(close(`${tag} backward-data`, bd(toDev(dyc), toDev(w)).contiguous(), bd(dyc, w).contiguous()));
        const bw = (d_, xx) => W(B().conv2dBackwardWeight(d_.h, xx.h, ws, params));
        out.push(close(`${tag} backward-weight`, bw(toDev(dyc), toDev(x)), bw(dyc, x)));
      }
      return out;
    });

  // ================= batch norm =================
  for (const ver of bnVersions)
  for (const cl of [false, true])
    add('batchnorm', `batchNorm2d train / eval forward and backward (${cl ? 'channels-last' : 'NCHW'})${bnTag(ver)}`, () => withBnVersion(ver, () => {
      const out = [];
      for (const shape of [[8, 16, 10, 10], [4, 3, 7, 9], [32, 64, 4, 4]]) {
        const C = shape[1];
        let x = cpuT(shape, -1, 3);
        if (cl) x = x.toChannelsLast();
        const w = cpuT([C], 0.5, 1.5), b = cpuT([C]);
        const rmC = cpuT([C]), rvC = cpuT([C], 0.5, 2);
        const rmG = toDev(rmC.clone()), rvG = toDev(rvC.clone());
        const fw = (xx, ww, bb, rm, rv, tr) => wrapAll(B().batchNormForward(xx.h, ww.h, bb.h, rm.h, rv.h, tr, 0.1, 1e-5));
        const [yc, mc, ic] = fw(x, w, b, rmC, rvC, true);
        const [yg, mg, ig] = fw(toDev(x), toDev(w), toDev(b), rmG, rvG, true);
        const tag = `[${shape}]`;
        out.push(close(`${tag} train y`, yg.contiguous(), yc.contiguous()));
        out.push(close(`${tag} save_mean`, mg, mc), close(`${tag} save_invstd`, ig, ic));
        out.push(close(`${tag} running_mean`, rmG, rmC), close(`${tag} running_var`, rvG, rvC));
        const dy = cl ? cpuT(shape).toChannelsLast() : cpuT(shape);
        const bw = (d, xx, ww, m, s, tr) => wrapAll(B().batchNormBackward(d.h, xx.h, ww.h, m.h, s.h, tr, 1e-5));
        const [dxc, dgc, dbc] = bw(dy, x, w, mc, ic, true);
        const [dxg, dgg, dbg] = bw(toDev(dy), toDev(x), toDev(w), mg, ig, true);
        out.push(close(`${tag} train dx`, dxg.contiguous(), dxc.contiguous()), close(`${tag} dgamma`, dgg, dgc), close(`${tag} dbeta`, dbg, dbc));
        const [ec] = fw(x, w, b, rmC, rvC, false);
        const [eg] = fw(toDev(x), toDev(w), toDev(b), toDev(rmC), toDev(rvC), false);
        out.push(close(`${tag} eval y`, eg.contiguous(), ec.contiguous()));
        const [edc, egc, ebc] = bw(dy, x, w, rmC, rvC, false);
        const [edg, egg, ebg] = bw(toDev(dy), toDev(x), toDev(w), toDev(rmC), toDev(rvC), false);
        out.push(close(`${tag} eval dx`, edg.contiguous(), edc.contiguous()), close(`${tag} eval dgamma`, egg, egc), close(`${tag} eval dbeta`, ebg, ebc));
      }
      // BatchNorm1d-style input [N, C]
      const x2 = cpuT([50, 7]);
      out.push(...both('2-D input train', (xx) => wrapAll(B().batchNormForward(xx.h, null, null, null, null, true, 0.1, 1e-5)), [x2]));
      return out;
    }));

  // ================= fused BatchNorm (+add) + ReLU (bn_add_relu.cu) =================
  // The GPU kernel through its test entry (_cudaBnAddReluForward / Backward) against the CPU fused
  // op; with bfloat16 / float16 storage, inputs are rounded to the storage type first and the
  // results compared with the storage type's tolerance. The reference backward is given the
  // device's y (as float32 on the host), so both sides take the same ReLU mask: a mask that differs
  // where the two forwards put a pre-activation on either side of 0 (likely at large sizes even in
  // float32) changes that element's dx by gamma * invstd * dy, an error of order max |dx|.
  const H = () => B();
  function fusedCase(shape, cl, residual, training, dtype) {
    const C = shape[1];
    const tag = `[${shape}] ${cl ? 'NHWC' : 'NCHW'} ${residual ? 'bn+add+relu' : 'bn+relu'} ${training ? 'train' : 'eval'} ${dtype}`;
    const round = (t) => (dtype === 'float32' ? t : toDev(t).to(dtype).to('float32').to('cpu'));
    let x = round(cpuT(shape, -1, 3)), r = residual ? round(cpuT(shape)) : null, dy = round(cpuT(shape));
    if (cl) {
      x = x.toChannelsLast();
      if (r) r = r.toChannelsLast();
      dy = dy.toChannelsLast();
    }
    const w = cpuT([C], 0.5, 1.5), b = cpuT([C]);
    const rmC = cpuT([C]), rvC = cpuT([C], 0.5, 2), rmG = toDev(rmC.clone()), rvG = toDev(rvC.clone());
    const [yc, mc, ic] = wrapAll(H().bnAddReluForward(x.h, nat(r), w.h, b.h, rmC.h, rvC.h, training, 0.1, 1e-5));
    const st = (t) => (t ? (dtype === 'float32' ? toDev(t) : toDev(t).to(dtype)) : null);
    const fwdG = onGpu ? H()._cudaBnAddReluForward : H().bnAddReluForward;
    const bwdG = onGpu ? H()._cudaBnAddReluBackward : H().bnAddReluBackward;
    const [yg, mg, ig] = wrapAll(fwdG(st(x).h, nat(st(r)), toDev(w).h, toDev(b).h, rmG.h, rvG.h, training, 0.1, 1e-5));
    const [dxg, drg, dgg, dbg] = wrapAll(bwdG(st(dy).h, yg.h, st(x).h, toDev(w).h, mg.h, ig.h, training, !!r));
    const tol = dtype === 'bfloat16' ? BF16 : dtype === 'float16' ? F16 : F32;
    const f = (t) => (dtype === 'float32' ? t : t.to('float32'));
    const yh = toCpu(f(yg));  // the device's y: the reference backward's ReLU mask
    const [dxc, drc, dgc, dbc] = wrapAll(H().bnAddReluBackward(dy.h, yh.h, x.h, w.h, mc.h, ic.h, training, !!r));
    const out = [
      close(`${tag} y`, f(yg).contiguous(), yc.contiguous(), tol),
      close(`${tag} save_mean`, mg, mc, tol),
      close(`${tag} save_invstd`, ig, ic, tol),
      close(`${tag} dx`, f(dxg).contiguous(), dxc.contiguous(), tol),
      close(`${tag} dgamma`, dgg, dgc, tol),
      close(`${tag} dbeta`, dbg, dbc, tol),
    ];
    if (training) out.push(close(`${tag} running_mean`, rmG, rmC, tol), close(`${tag} running_var`, rvG, rvC, tol));
    if (r) out.push(close(`${tag} dresidual`, f(drg).contiguous(), drc.contiguous(), tol));
    if (cl) out.push({ name: `${tag} y stays channels-last`, err: yg.isChannelsLast() ? 0 : 1, tol: 0 });
    return out;
  }
  for (const ver of bnVersions)
    for (const dtype of ['float32', 'bfloat16', 'float16']) {
      add('bn_add_relu', `fused kernels, ${dtype} storage${bnTag(ver)}`, () => withBnVersion(ver, () => {
        const out = [];
        for (const shape of [[8, 16, 10, 10], [4, 64, 7, 7], [2, 12, 5, 3]])
          for (const cl of [false, true])
            for (const residual of [false, true])
              for (const training of [true, false]) out.push(...fusedCase(shape, cl, residual, training, dtype));
        return out;
      }), { needsCuda: dtype !== 'float32' });
      // Sizes the small cases do not reach: 10^5 - 5 * 10^5 elements per channel (many blocks per
      // channel, long per-thread sums), C not a multiple of 8 (every vector width: 16 / 8 bytes and
      // scalar, NCHW with odd H * W), and [N, C] (HW = 1: the channels-last path).
      add('bn_add_relu', `fused kernels at large N*H*W per channel, ${dtype} storage${bnTag(ver)}`, () => withBnVersion(ver, () => {
        const out = [];
        for (const shape of [[64, 12, 40, 40], [32, 6, 45, 45], [2, 3, 512, 512], [4096, 40]])
          for (const cl of shape.length === 4 ? [false, true] : [false])
            for (const training of [true, false]) out.push(...fusedCase(shape, cl, true, training, dtype));
        return out;
      }), { needsCuda: dtype !== 'float32' });
    }

  // ================= pooling =================
  add('pool', 'max / avg / adaptive pooling forward and backward', () => {
    const out = [];
    const x = cpuT([3, 5, 13, 11]);
    const pools = [
      [3, 3, 2, 2, 1, 1, 0, 0], [2, 2, 2, 2, 0, 0, 0, 0], [3, 3, 2, 2, 1, 1, 1, 0], [3, 2, 1, 2, 1, 0, 1, 1], [4, 4, 3, 3, 2, 2, 1, 1],
    ];
    for (const p of pools) {
      const [yc, ic] = wrapAll(B().maxPool2dForward(x.h, p));
      const gx = toDev(x);
      const [yg, ig] = wrapAll(B().maxPool2dForward(gx.h, p));
      out.push(exact(`max [${p}] y`, yg, yc), exact(`max [${p}] indices`, ig, ic));
      const dy = cpuT(yc.shape.slice());
      out.push(close(`max [${p}] dx`, W(B().maxPool2dBackward(toDev(dy).h, ig.h, x.shape.slice(), p)), W(B().maxPool2dBackward(dy.h, ic.h, x.shape.slice(), p))));
      out.push(...both(`avg [${p}] y`, (t) => W(B().avgPool2dForward(t.h, p)), [x]));
      out.push(...both(`avg [${p}] dx`, (d) => W(B().avgPool2dBackward(d.h, x.shape.slice(), p)), [cpuT(yc.shape.slice())]));
    }
    for (const [P, Q] of [[1, 1], [3, 4], [13, 11], [5, 2]]) {
      out.push(...both(`adaptive ${P}x${Q} y`, (t) => W(B().adaptiveAvgPool2dForward(t.h, P, Q)), [x]));
      out.push(...both(`adaptive ${P}x${Q} dx`, (d) => W(B().adaptiveAvgPool2dBackward(d.h, x.shape.slice())), [cpuT([3, 5, P, Q])]));
    }
    return out;
  });

  // ================= softmax / cross entropy / layer norm =================
  add('softmax', 'softmax / logSoftmax forward and backward over every dim', () => {
    const out = [];
    const x = cpuT([6, 10, 7], -5, 5);
    for (const dim of [0, 1, 2])
      for (const log of [false, true]) {
        const yc = W(B().softmaxForward(x.h, dim, log)), yg = W(B().softmaxForward(toDev(x).h, dim, log));
        out.push(close(`${log ? 'log' : ''}softmax dim ${dim}`, yg, yc));
        const dy = cpuT([6, 10, 7]);
        out.push(close(`${log ? 'log' : ''}softmax dim ${dim} backward`, W(B().softmaxBackward(toDev(dy).h, yg.h, dim, log)), W(B().softmaxBackward(dy.h, yc.h, dim, log))));
      }
    out.push(...both('softmax over 5000 classes', (t) => rn.F.softmax(t, 1), [cpuT([4, 5000], -10, 10)]));
    return out;
  });
  add('softmax', 'crossEntropy forward / backward (reductions, smoothing, ignore index, [N, C, H, W])', () => {
    const out = [];
    for (const [xs, C] of [[[16, 10], 10], [[4, 7, 3, 5], 7], [[3, 1000], 1000]]) {
      const x = cpuT(xs, -4, 4);
      const ts = xs.slice(0, 1).concat(xs.slice(2));
      const tv = Int32Array.from({ length: numel(ts) }, () => Math.floor(rng() * C));
      tv[0] = -100;  // ignored
      const t = rn.tensor(tv, { shape: ts });
      for (const reduction of [0, 1, 2])
        for (const smoothing of [0, 0.1]) {
          const tag = `[${xs}] reduction ${reduction} smoothing ${smoothing}`;
          const fc = wrapAll(B().crossEntropyForward(x.h, t.h, reduction, smoothing, -100));
          const fg = wrapAll(B().crossEntropyForward(toDev(x).h, toDev(t).h, reduction, smoothing, -100));
          out.push(close(`${tag} loss`, fg[0], fc[0]), close(`${tag} logp`, fg[1], fc[1]), exact(`${tag} count`, fg[2], fc[2]));
          const dl = reduction === 0 ? cpuT(ts) : rn.tensor(1.5);
          const bc = W(B().crossEntropyBackward(dl.h, fc[1].h, t.h, fc[2].h, reduction, smoothing, -100));
          const bg = W(B().crossEntropyBackward(toDev(dl).h, fg[1].h, toDev(t).h, fg[2].h, reduction, smoothing, -100));
          out.push(close(`${tag} dx`, bg, bc));
        }
    }
    return out;
  });
  add('softmax', 'crossEntropy: an out-of-range target is ERR_RN_INDEX at the next read, as on the CPU', () => {
    const x = cpuT([4, 5]);
    const t = rn.tensor(Int32Array.from([1, 7, 2, -3]), { shape: [4] });
    const run = (xx, tt) => {
      try {
        rn.F.crossEntropy(xx, tt).itemSync();
        return { code: 'none', message: '' };
      } catch (e) {
        return { code: e.code, message: e.message };
      }
    };
    const c = run(x, t), g = run(toDev(x), toDev(t));
    // the stream stays usable afterwards
    const after = toDev(x).sum().itemSync();
    return [
      { name: `code ${g.code} (cpu ${c.code})`, err: g.code === 'ERR_RN_INDEX' && c.code === 'ERR_RN_INDEX' ? 0 : 1, tol: 0 },
      { name: `message "${g.message}"`, err: g.message === c.message ? 0 : 1, tol: 0 },
      { name: 'later reads work', err: Number.isFinite(after) ? 0 : 1, tol: 0 },
    ];
  });
  add('layernorm', 'layerNorm forward / backward (with and without affine)', () => {
    const out = [];
    for (const [shape, D] of [[[8, 17, 64], 64], [[5, 1000], 1000], [[300, 12], 12], [[2, 3, 4, 5], 20]]) {
      const x = cpuT(shape, -2, 3), g = cpuT([D], 0.5, 1.5), b = cpuT([D]);
      for (const affine of [true, false]) {
        const tag = `[${shape}] D=${D}${affine ? '' : ' no affine'}`;
        const fc = wrapAll(B().layerNormForward(x.h, D, affine ? g.h : null, affine ? b.h : null, 1e-5));
        const fg = wrapAll(B().layerNormForward(toDev(x).h, D, affine ? toDev(g).h : null, affine ? toDev(b).h : null, 1e-5));
        out.push(close(`${tag} y`, fg[0], fc[0]), close(`${tag} mean`, fg[1], fc[1]), close(`${tag} rstd`, fg[2], fc[2]));
        const dy = cpuT(shape);
        const bc = wrapAll(B().layerNormBackward(dy.h, x.h, affine ? g.h : null, fc[1].h, fc[2].h, D));
        const bg = wrapAll(B().layerNormBackward(toDev(dy).h, toDev(x).h, affine ? toDev(g).h : null, fg[1].h, fg[2].h, D));
        out.push(close(`${tag} dx`, bg[0], bc[0]), close(`${tag} dgamma`, bg[1], bc[1]), close(`${tag} dbeta`, bg[2], bc[2]));
      }
    }
    return out;
  });

  // ================= optimisers (optim.cu) =================
  add('optim', 'fused SGD / AdamW updates: bit-identical to the CPU kernels (FMA variant)', () => {
    const out = [];
    const sizes = [1, 33, 4096, 100003];
    const mk = () => sizes.map((n) => cpuT([n]));
    for (const [mom, nesterov, wd, damp] of [[0, false, 0, 0], [0.9, false, 5e-4, 0], [0.9, true, 1e-4, 0], [0.5, false, 0, 0.1]]) {
      const P = mk(), G = mk(), M = mk();
      const Pg = P.map(toDev), Gg = G.map(toDev), Mg = M.map(toDev);
      for (const init of [true, false]) {
        const initA = sizes.map(() => init);
        B().sgdStep(P.map((t) => t.h), G.map((t) => t.h), mom ? M.map((t) => t.h) : P.map(() => null), initA, 0.05, mom, damp, wd, nesterov, false);
        const step = onGpu ? B()._cudaSgdStep : B().sgdStep;
        step(Pg.map((t) => t.h), Gg.map((t) => t.h), mom ? Mg.map((t) => t.h) : Pg.map(() => null), initA, 0.05, mom, damp, wd, nesterov, false);
      }
      P.forEach((p, i) => out.push(close(`sgd m=${mom} nesterov=${nesterov} wd=${wd} param ${sizes[i]}`, Pg[i], p, 1e-6)));
      if (mom) M.forEach((m, i) => out.push(close(`sgd m=${mom} buf ${sizes[i]}`, Mg[i], m, 1e-6)));
    }
    for (const ams of [false, true]) {
      const P = mk(), G = mk(), M = sizes.map((n) => rn.zeros([n])), V = sizes.map((n) => rn.zeros([n])), VM = sizes.map((n) => rn.zeros([n]));
      const Pg = P.map(toDev), Gg = G.map(toDev), Mg = M.map(toDev), Vg = V.map(toDev), VMg = VM.map(toDev);
      for (const stepNo of [1, 2, 3]) {
        const steps = sizes.map(() => stepNo);
        B().adamwStep(P.map((t) => t.h), G.map((t) => t.h), M.map((t) => t.h), V.map((t) => t.h), ams ? VM.map((t) => t.h) : null, steps, 1e-3, 0.9, 0.999, 1e-8, 0.01, ams, false);
        const step = onGpu ? B()._cudaAdamwStep : B().adamwStep;
        step(Pg.map((t) => t.h), Gg.map((t) => t.h), Mg.map((t) => t.h), Vg.map((t) => t.h), ams ? VMg.map((t) => t.h) : null, steps, 1e-3, 0.9, 0.999, 1e-8, 0.01, ams, false);
      }
      P.forEach((p, i) => out.push(close(`adamw amsgrad=${ams} param ${sizes[i]}`, Pg[i], p, 1e-6)));
      V.forEach((v, i) => out.push(close(`adamw amsgrad=${ams} exp_avg_sq ${sizes[i]}`, Vg[i], v, 1e-6)));
    }
    return out;
  });

  add('optim', 'rn.optim.SGD / AdamW and clipGradNorm on device parameters (the real dispatch) vs the CPU', () => {
    const out = [];
    const sizes = [5, 4096];
    for (const kind of ['sgd', 'adamw']) {
      const P = sizes.map((n) => cpuT([n])), G = sizes.map((n) => cpuT([n], -3, 3));
      // own copies on the device side (in the CPU self-test, to('cpu') returns the same tensor)
      const Pg = P.map((t) => toDev(t.clone())), Gg = G.map((t) => toDev(t.clone()));
      P.forEach((p, i) => { p.grad = G[i]; });
      Pg.forEach((p, i) => { p.grad = Gg[i]; });
      const nc = rn.optim.clipGradNorm(P, 1.5, 2), ng = rn.optim.clipGradNorm(Pg, 1.5, 2);
      out.push(close(`${kind} clipGradNorm total`, ng, nc, 1e-5));
      Gg.forEach((g, i) => out.push(close(`${kind} clipped grad ${sizes[i]}`, g, G[i], 1e-5)));
      const mk = (ps) => (kind === 'sgd' ? new rn.optim.SGD(ps, { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }) : new rn.optim.AdamW(ps, { lr: 1e-3, weightDecay: 0.01 }));
      const oc = mk(P), og = mk(Pg);
      for (let s = 0; s < 2; s++) { oc.step(); og.step(); }
      P.forEach((p, i) => out.push(close(`${kind} param ${sizes[i]} after 2 steps`, Pg[i], p, 1e-5)));
    }
    return out;
  });

  // ================= end to end =================
  add('model', 'ResNet-20 forward (eval, unfused ops) on the device vs the CPU', () => {
    rn.manualSeed(7);
    const fusion = rn.getFusion();
    rn.setFusion(false);
    try {
      const m = rn.models.resnet20({ numClasses: 10 });
      m.eval();
      const x = cpuT([4, 3, 32, 32]);
      const yc = rn.noGrad(() => m.forward(x));
      for (const t of [...m.parameters(), ...m.buffers()]) t._moveTo_(dev);
      const yg = rn.noGrad(() => m.forward(toDev(x)));
      return [close('logits', yg, yc, 1e-4)];
    } finally {
      rn.setFusion(fusion);
    }
  });

  return cases;
}

/** Runs the cases; returns { results: [{name, group, ok, checks, error?, ms}], passed, failed, skipped } */
async function runCases(cases, { device = 'cuda', filter = null, log = () => {} } = {}) {
  const results = [];
  let passed = 0, failed = 0, skipped = 0;
  for (const c of cases) {
    if (filter && !c.name.includes(filter)) continue;
    if (c.needsCuda && device !== 'cuda') {
      skipped++;
      results.push({ name: c.name, group: c.group, ok: true, skipped: true, checks: [], ms: 0 });
      log(`SKIP ${c.name} (needs CUDA)`);
      continue;
    }
    const t0 = Date.now();
    let checks = [], error = null;
    try {
      checks = await c.run();
    } catch (e) {
      error = `${e.code || e.name}: ${e.message}\n${(e.stack || '').split('\n').slice(1, 4).join('\n')}`;
    }
    const bad = checks.filter((k) => !(k.err <= k.tol));
    const ok = !error && bad.length === 0;
    const worst = checks.reduce((m, k) => (k.tol > 0 && k.err / k.tol > m.r ? { r: k.err / k.tol, k } : m), { r: 0, k: null });
    results.push({ name: c.name, group: c.group, ok, error, checks, failures: bad, ms: Date.now() - t0, worst: worst.k });
    if (ok) passed++;
    else failed++;
    log(`${ok ? 'PASS' : 'FAIL'} ${c.name} (${checks.length} checks, ${Date.now() - t0} ms${worst.k ? `, worst ${worst.k.name}: ${worst.k.err.toExponential(2)} / tol ${worst.k.tol}` : ''})`);
    if (error) log(`  error: ${error}`);
    for (const k of bad.slice(0, 10)) log(`  ${k.name}: err ${k.err} > tol ${k.tol}`);
  }
  return { results, passed, failed, skipped };
}

module.exports = { makeCases, runCases, TOL: { F32, BF16, F16 } };
