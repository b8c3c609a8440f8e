// The built addon needs nothing at run time beyond glibc, libstdc++, libm and libgcc, and exports
// only the N-API registration symbols (OpenBLAS is linked statically and hidden).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as rn from '../../lib';
import { bindingPath } from '../../lib/binding';

const ALLOWED = /^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2)$/;

describe('native addon', () => {
  rn.zeros([1]);  // load it
  const file = bindingPath();
  test('was loaded from a build or prebuild', () => {
    expect(fs.existsSync(file)).toBe(true);
  });
  test('depends only on the C/C++ runtime (readelf NEEDED)', () => {
    const out = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
    const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    expect(needed.length).toBeGreaterThan(0);
    for (const lib of needed) expect(lib).toMatch(ALLOWED);
    expect(needed.join(' ')).not.toMatch(/openblas|gfortran|cudart|cublas|cudnn/);
  });
  test('ldd resolves nothing outside the allowed set', () => {
    const out = execFileSync('ldd', [file], { encoding: 'utf8' });
    for (const line of out.trim().split('\n')) {
      const name = line.trim().split(/\s+/)[0].replace(/^.*\//, '');
      expect(name).toMatch(ALLOWED);
    }
  });
  test('exports only the registration symbols', () => {
    const out = execFileSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8' });
    const syms = out.trim().split('\n').map((l) => l.trim().split(/\s+/).pop()).sort();
    expect(syms).toEqual(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  });
  test('reports its build', () => {
    const info = rn.buildInfo();
    expect(info.napiVersion).toBe(8);
    expect(['avx512', 'avx2', 'baseline']).toContain(info.simd);
    expect(typeof info.cudaStatus).toBe('string');
    expect(rn.cuda.isAvailable()).toBe(false);  // no GPU on CI
  });
});
