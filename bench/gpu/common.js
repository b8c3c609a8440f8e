'use strict';
/**
 * Shared by the GPU check scripts (plain node: a GPU machine has no npm packages): load resnode
 * from dist/ (compiled TypeScript, carried along) with the addon from RESNODE_ADDON (the cmake
 * build bench/gpu/check.sh makes), parse flags, write JSON.
 */
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '../..');

function load() {
  const dist = path.join(ROOT, 'dist', 'index.js');
  if (!fs.existsSync(dist))
    throw new Error(`${dist} not found: build the TypeScript (npm run build:ts) on a machine with npm and carry dist/ along`);
  const rn = require(dist);
  const b = require(path.join(ROOT, 'dist', 'binding.js'));
  return { rn, binding: b.binding, codes: { Unary: b.Unary, BinaryOp: b.BinaryOp, ScalarOp: b.ScalarOp }, bindingPath: b.bindingPath };
}

/** --name value / --flag  ->  { name: value | true } */
function flags(argv = process.argv.slice(2)) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    const k = a.slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[k] = argv[++i];
    else out[k] = true;
  }
  return out;
}

function writeJson(file, obj) {
  if (!file || file === true) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj, null, 2) + '\n');
}

/** The device these scripts target: 'cuda', or 'cpu' for a dry run (script logic only). */
function targetDevice(rn, f) {
  if (f['dry-run']) return 'cpu';
  if (!rn.cuda.isAvailable()) {
    const s = rn.cuda.status();
    throw Object.assign(new Error(`CUDA is not available: ${s} (use --dry-run to exercise the script without a GPU)`), { code: 'ERR_RN_NO_CUDA' });
  }
  return 'cuda';
}

module.exports = { ROOT, load, flags, writeJson, targetDevice };
