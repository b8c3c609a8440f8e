// Packaging: `npm pack` ships the prebuilt binary, JS and types, the PyTorch reference scripts of
// `resnode bench --compare-torch` (with bench/README.md), and nothing superfluous; the
// tarball installs with --ignore-scripts into a fresh folder and works there with no compiler on
// the PATH — CommonJS require, ESM import, TypeScript types, and `npx resnode doctor`.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resnode-pack-'));
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

let tarball = '';
let files: { path: string; size: number }[] = [];
let packedSize = 0;

beforeAll(() => {
  run('bash', ['scripts/prebuild.sh']);
  run('npm', ['run', 'build:ts']);
  const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp]));
  tarball = path.join(tmp, out[0].filename);
  files = out[0].files;
  packedSize = out[0].size;
}, 300000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the tarball holds the binary, JS, types and sources — nothing else', () => {
  const names = files.map((f) => f.path);
  expect(names).toContain('prebuilds/linux-x64/resnode.node');
  expect(names).toContain('dist/index.js');
  expect(names).toContain('dist/index.mjs');
  expect(names).toContain('dist/index.d.ts');
  expect(names).toContain('dist/cli/main.js');
  expect(names).toContain('package.json');
  expect(names).toContain('README.md');
  // the PyTorch references of `resnode bench ... --compare-torch`, found from the package root
  expect(names).toContain('bench/e2e/torch_ref.py');
  expect(names).toContain('bench/e2e/torch_train.py');
  expect(names).toContain('bench/README.md');
  const allowed = /^(dist\/.*\.(js|mjs|d\.ts|d\.mts)|prebuilds\/linux-x64\/resnode\.node|native\/.*\.(cc|h|cu|json|map)|bench\/e2e\/[a-z0-9_]+\.py|CMakeLists\.txt|(bench\/)?README\.md|LICENSE|package\.json)$/;
  for (const n of names) expect(n).toMatch(allowed);
  expect(names.some((n) => n.startsWith('test/') || n.startsWith('build/') || n.startsWith('node_modules/'))).toBe(false);
  // compressed size: the static OpenBLAS (all CPU kernels) dominates
  expect(packedSize).toBeLessThan(16 * 1024 * 1024);
});

describe('installed from the tarball with --ignore-scripts and no compiler', () => {
  const app = path.join(tmp, 'app');
  const bin = path.join(tmp, 'bin');
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    fs.mkdirSync(app, { recursive: true });
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app });
    // a PATH with node/npm/npx only: no cc, c++, cmake, make, nvcc
    fs.mkdirSync(bin, { recursive: true });
    const nodeDir = path.dirname(process.execPath);
    for (const t of ['node', 'npm', 'npx']) fs.symlinkSync(fs.realpathSync(path.join(nodeDir, t)), path.join(bin, t));
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));  // npx runs bins through sh; a shell is not a compiler
    env = { ...process.env, PATH: bin, RESNODE_ADDON: '' };
    delete env.RESNODE_ADDON;
  }, 300000);

  test('no compiler is reachable on the test PATH', () => {
    for (const c of ['cc', 'c++', 'gcc', 'cmake', 'nvcc', 'make'])
      expect(fs.existsSync(path.join(bin, c))).toBe(false);
  });

  test('CommonJS require runs a training step on the prebuilt binary', () => {
    fs.writeFileSync(path.join(app, 'step.cjs'), `
      const rn = require('resnode');
      rn.manualSeed(0);
      const x = rn.randn([8, 1, 12, 12]);
      const y = rn.tensor(Int32Array.from([0,1,2,3,0,1,2,3]));
      const w = rn.randn([4, 1, 3, 3], { std: 0.3, requiresGrad: true });
      const fc = rn.randn([4, 4], { std: 0.3, requiresGrad: true });
      const losses = [];
      for (let i = 0; i < 5; i++) {
        const h = rn.F.adaptiveAvgPool2d(rn.F.relu(rn.F.conv2d(x, w, null, { padding: 1 })), 1).flatten(1);
        const loss = rn.F.crossEntropy(rn.F.linear(h, fc), y);
        loss.backward();
        rn.noGrad(() => { for (const p of [w, fc]) { p.addInPlace(p.grad, -0.5); p.grad = null; } });
        losses.push(loss.itemSync());
      }
      console.log(JSON.stringify({ losses, addon: rn.buildInfo().path }));
    `);
    const out = JSON.parse(run('node', ['step.cjs'], { cwd: app, env }));
    expect(out.addon).toContain(path.join('node_modules', 'resnode', 'prebuilds', 'linux-x64', 'resnode.node'));
    expect(out.losses[4]).toBeLessThan(out.losses[0]);
  });

  test('ESM import works, named and namespace', () => {
    fs.writeFileSync(path.join(app, 'esm.mjs'), `
      import * as rn from 'resnode';
      import { tensor, F } from 'resnode';
      console.log(JSON.stringify(F.relu(tensor([-1, 2])).toArray().concat(rn.sum(tensor([1, 2])).itemSync())));
    `);
    expect(JSON.parse(run('node', ['esm.mjs'], { cwd: app, env }))).toEqual([0, 2, 3]);
  });

  test('TypeScript consumers get types (node16 resolution, CJS and ESM)', () => {
    fs.writeFileSync(path.join(app, 'typed.ts'), `
      import * as rn from 'resnode';
      const t: rn.Tensor = rn.tensor([1, 2, 3]);
      const n: number = rn.sum(t).itemSync();
      // @ts-expect-error — relu takes a Tensor
      rn.F.relu(3);
      export { n };
    `);
    fs.writeFileSync(path.join(app, 'typed.mts'), `
      import { tensor, type Tensor } from 'resnode';
      const t: Tensor = tensor([1]);
      export { t };
    `);
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', '--typeRoots', path.join(root, 'node_modules', '@types'), 'typed.ts', 'typed.mts'], { cwd: app, env });
  });

  test('npx resnode bench kernels runs the fused-kernel suite; its PyTorch reference is in the package', () => {
    const argv = ['--no-install', 'resnode', 'bench', 'kernels', '--quick', '--json', '--reps', '2', '--copy-mb', '16', '--filter', 'bn+relu fwd 128x64x8x8 NCHW'];
    const out = JSON.parse(run('npx', argv, { cwd: app, env }));
    expect(out.ok).toBe(true);
    expect(out.rows.map((r: { impl: string }) => r.impl)).toContain('unfused');
    expect(fs.existsSync(path.join(app, 'node_modules', 'resnode', 'bench', 'e2e', 'torch_ref.py'))).toBe(true);
  });

  test('npx resnode doctor passes its self-test', () => {
    const out = run('npx', ['--no-install', 'resnode', 'doctor'], { cwd: app, env });
    expect(out).toMatch(/self-test cpu\s+ok/);
    expect(out).toContain('prebuilds/linux-x64/resnode.node');
  });
});
