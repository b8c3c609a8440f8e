// Shared helpers for the conv2d bench and checker: the native binding, tensors from/to Float32Array.
'use strict';
const path = require('path');
// RESNODE_ADDON: another build of the addon (for A/B runs); default the repo's build/Release.
const nb = require(process.env.RESNODE_ADDON || path.join(__dirname, '../../build/Release/resnode.node'));

function fromArray(a, shape) { return nb.fromBuffer(a, shape, 0); }
function randn(shape, seed, std = 1) {
  const t = nb.empty(shape, 0, 0);
  nb.rand_(t.h, true, seed, 0, 0, std);
  return t;
}
function read(t) { return nb.readSync(t.h); }
function outSize(H, R, st, pad, dil) { return Math.floor((H + 2 * pad - ((R - 1) * dil + 1)) / st) + 1; }
module.exports = { nb, fromArray, randn, read, outSize };
