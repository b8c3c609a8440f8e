// What a machine without a usable GPU sees (CI, most laptops): the addon loads, reports why CUDA is
// not available, and every way of asking for a CUDA tensor throws ERR_RN_NO_CUDA with that reason
// and where cuDNN / cuBLAS would be looked for. Also the library loader's search order and
// companion preloading, with stub libraries built here (no GPU involved: loading a library never
// touches the device). Where a GPU is present these checks are skipped (the GPU suite runs instead).
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as rn from '../../lib';
import { binding, bindingPath } from '../../lib/binding';
import { thrown } from '../helpers/thrown';

const available = rn.cuda.isAvailable();
const builtWithCuda = !/built without CUDA/.test(rn.cuda.status());
const describeNoGpu = available ? describe.skip : describe;


describeNoGpu(`without a GPU${available ? ' (skipped: this machine has one)' : ''}`, () => {
  test('the addon loads and says why CUDA is not available', () => {
    expect(rn.cuda.isAvailable()).toBe(false);
    expect(rn.cuda.deviceCount()).toBe(0);
    const s = rn.cuda.status();
    expect(s).toMatch(builtWithCuda ? /built with CUDA .*(no NVIDIA driver: libcuda\.so\.1|no device is usable|no CUDA device)/ : /built without CUDA/);
    expect(rn.buildInfo().cuda).toBe(false);
    expect(rn.buildInfo().cudaStatus).toBe(s);
  });
  test('tensor.to("cuda") throws ERR_RN_NO_CUDA naming the reason and the library search', () => {
    const e = thrown(() => rn.zeros([2, 3]).to('cuda'));
    expect(e.code).toBe('ERR_RN_NO_CUDA');
    expect(e.message).toContain('to: device "cuda" is not available: ' + rn.cuda.status());
    if (builtWithCuda) {
      expect(e.message).toMatch(/libcuda\.so\.1|device/);
      expect(e.message).toContain('RESNODE_CUDA_LIB_DIRS');
      expect(e.message).toContain('nvidia/cudnn/lib');
    }
    for (const d of ['cuda:0', 'cuda:1']) expect(thrown(() => rn.ones([1]).to(d)).code).toBe('ERR_RN_NO_CUDA');
  });
  test('creating on the device throws the same way (zeros, rand, tensor)', () => {
    for (const f of [() => rn.zeros([2], { device: 'cuda' }), () => rn.randn([2], { device: 'cuda:0' }),
      () => rn.tensor([1, 2, 3], { device: 'cuda' }), () => rn.empty([1], { device: 'cuda' })]) {
      const e = thrown(f);
      expect(e.code).toBe('ERR_RN_NO_CUDA');
      expect(e.message).toContain(rn.cuda.status());
    }
  });
  test('the native boundary refuses device 1 with ERR_RN_NO_CUDA too', () => {
    const b = binding() as unknown as { empty(s: number[], d: number, dev: number): unknown; toDevice(h: unknown, d: number): unknown };
    expect(thrown(() => b.empty([2], 0, 1)).code).toBe('ERR_RN_NO_CUDA');
    expect(thrown(() => b.toDevice(rn.zeros([2]).h, 1)).code).toBe('ERR_RN_NO_CUDA');
    expect(thrown(() => b.toDevice(rn.zeros([2]).h, 7)).code).toBe('ERR_RN_DEVICE');
  });
  test('rn.cuda helpers are safe without a device', () => {
    expect(() => rn.cuda.emptyCache()).not.toThrow();
    expect(() => rn.cuda.synchronize()).not.toThrow();
    expect(() => rn.sync()).not.toThrow();
    expect(rn.memory.stats('cuda')).toMatchObject({ live: 0, peak: 0, cached: 0, allocs: 0 });
    expect(thrown(() => rn.cuda.properties()).code).toBe('ERR_RN_NO_CUDA');
    expect(rn.cuda.getAllowTF32()).toBe(false);
    const info = rn.cuda.info();
    expect(info.available).toBe(false);
    expect(info.initialized).toBe(false);
  });
  test('rn.cuda.libraries() says what was searched for cuDNN 9 and cuBLAS', () => {
    const libs = rn.cuda.libraries();
    expect(libs.map((l) => l.name)).toEqual(['cudnn', 'cublas']);
    for (const l of libs) {
      expect(l.loaded).toBe(false);
      if (!builtWithCuda) continue;
      expect(l.error).toContain('RESNODE_CUDA_LIB_DIRS');
      expect(l.error).toContain('default loader path');
    }
    if (builtWithCuda) {
      expect(libs[0].error).toContain('libcudnn.so.9');
      expect(libs[1].error).toMatch(/libcublas\.so\.13.*libcublas\.so\.12/);
    }
  });
});

// ---- the loader, with stub libraries ----
// A child process (the loader runs once per process) with RESNODE_CUDA_LIB_DIRS pointing at stub
// libcudnn.so.9 / libcublas.so.13 whose sonames depend on companions (libcudnn_graph.so.9,
// libcublasLt.so.13) that only the loader's preloading from the same folder can satisfy.
function haveCc(): boolean {
  return spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
}
const describeLoader = builtWithCuda && haveCc() ? describe : describe.skip;
describeLoader(`library loader (stub libraries)${builtWithCuda ? '' : ' (skipped: built without CUDA)'}`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-cudalibs-'));
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-cudalibs-bad-'));
  const header = fs.readFileSync(path.join(__dirname, '../../native/cuda/cudnn_api.h'), 'utf8');
  const blasHeader = fs.readFileSync(path.join(__dirname, '../../native/cuda/cublas_api.h'), 'utf8');
  // every function name in the X-macro lists
  const names = (h: string) => [...h.matchAll(/X\((cu\w+),/g)].map((m) => m[1]);
  const cudnnFns = names(header), blasFns = names(blasHeader);
  function build(out: string, soname: string, src: string, needs: string[] = [], cwd = dir): void {
    const c = path.join(cwd, soname + '.c');
    fs.writeFileSync(c, src);
    execFileSync('cc', ['-shared', '-fPIC', '-o', path.join(cwd, out), `-Wl,-soname,${soname}`, c, `-L${cwd}`, ...needs.map((n) => `-l:${n}`)]);
  }
  beforeAll(() => {
    build('libcudnn_graph.so.9', 'libcudnn_graph.so.9', 'int rn_stub_graph(void) { return 6; }\n');
    build('libcublasLt.so.13', 'libcublasLt.so.13', 'int rn_stub_lt(void) { return 13; }\n');
    const fn = (n: string, body: string) => `long ${n}(void) { ${body} }\n`;
    build('libcudnn.so.9', 'libcudnn.so.9',
      'int rn_stub_graph(void);\n' + cudnnFns.map((n) => fn(n, n === 'cudnnGetVersion' ? 'return 90000 + 100 * rn_stub_graph();' : 'return 0;')).join(''),
      ['libcudnn_graph.so.9']);
    build('libcublas.so.13', 'libcublas.so.13', 'int rn_stub_lt(void);\n' + blasFns.map((n) => fn(n, 'return rn_stub_lt() - 13;')).join(''), ['libcublasLt.so.13']);
    // a cuDNN that lacks a function
    build('libcudnn.so.9', 'libcudnn.so.9', cudnnFns.filter((n) => n !== 'cudnnConvolutionBackwardFilter').map((n) => fn(n, n === 'cudnnGetVersion' ? 'return 90100;' : 'return 0;')).join(''), [], bad);
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(bad, { recursive: true, force: true });
  });
  function libsIn(dirs: string): { name: string; loaded: boolean; version: number; path: string; error: string }[] {
    const script = `const b = require(${JSON.stringify(bindingPath())}); process.stdout.write(JSON.stringify(b.cudaLibraries()));`;
    const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, RESNODE_CUDA_LIB_DIRS: dirs, RESNODE_PYTHON: 'rn-no-such-python' }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout);
  }
  test('RESNODE_CUDA_LIB_DIRS is searched first, companions preloaded from the same folder', () => {
    const [dnn, blas] = libsIn(`/nonexistent-rn-dir:${dir}`);
    expect(dnn).toMatchObject({ name: 'cudnn', loaded: true, version: 90600, path: path.join(dir, 'libcudnn.so.9'), error: '' });
    expect(blas).toMatchObject({ name: 'cublas', loaded: true, version: 13, path: path.join(dir, 'libcublas.so.13'), error: '' });
  });
  test('a library without a needed function is refused, naming the function', () => {
    const [dnn] = libsIn(bad);
    expect(dnn.loaded).toBe(false);
    expect(dnn.error).toContain(path.join(bad, 'libcudnn.so.9'));
    expect(dnn.error).toContain('cudnnConvolutionBackwardFilter');
  });
  test('nothing found: every path tried is named', () => {
    const [dnn, blas] = libsIn('/nonexistent-rn-a:/nonexistent-rn-b');
    expect(dnn.loaded).toBe(false);
    expect(dnn.error).toContain('/nonexistent-rn-a/libcudnn.so.9 (not found)');
    expect(dnn.error).toContain('/nonexistent-rn-b/libcudnn.so.9 (not found)');
    expect(dnn.error).toContain('libcudnn.so.9 on the default loader path');
    expect(dnn.error).toContain('no python3 site-packages');
    expect(blas.error).toContain('/nonexistent-rn-a/libcublas.so.13 (not found)');
  });
});
