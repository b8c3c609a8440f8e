#!/usr/bin/env bash
# Run on the development machine (npm packages, the Debian OpenBLAS) before carrying the checkout
# to a bare CUDA machine for bench/gpu/check.sh:
#   1. shared/device/prepare.sh: .device/node.tar.xz and .device/napi (node + N-API headers)
#      (RN_DEVICE_PREPARE names it when it is not at shared/ or ../shared/)
#   2. .device/openblas/libopenblas_min.a.xz: the part of the static OpenBLAS that resnode links
#      (cblas_sgemm and what it pulls in, ~1.4 MB compressed; the full archive is 58 MB), since the
#      GPU machine has no libopenblas-pthread-dev
#   3. dist/: the compiled TypeScript (npm run build:ts), which the GPU machine cannot build
# Then carry ".device" and "dist" (ignored paths) with the working tree.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

if [ ! -s .device/node.tar.xz ] || [ ! -d .device/napi/node-addon-api ]; then
  P=${RN_DEVICE_PREPARE:-}
  for c in shared/device/prepare.sh ../shared/device/prepare.sh; do
    [ -z "$P" ] && [ -f "$c" ] && P=$c
  done
  if [ -z "$P" ]; then
    echo "prepare: shared/device/prepare.sh not found (set RN_DEVICE_PREPARE to its path)" >&2
    exit 1
  fi
  bash "$P"
fi

BLAS=${RESNODE_OPENBLAS_A:-/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a}
if [ ! -s .device/openblas/libopenblas_min.a.xz ]; then
  [ -f "$BLAS" ] || { echo "prepare: $BLAS not found (apt-get install libopenblas-pthread-dev)" >&2; exit 1; }
  mkdir -p .device/openblas
  tmp=$(mktemp -d)
  # a relocatable object with only the archive members cblas_sgemm (and the thread setting) need
  ld -r -u cblas_sgemm -u openblas_set_num_threads "$BLAS" -o "$tmp/openblas_min.o"
  strip --strip-debug "$tmp/openblas_min.o"
  ar rcs "$tmp/libopenblas_min.a" "$tmp/openblas_min.o"
  xz -T2 -6 -c "$tmp/libopenblas_min.a" > .device/openblas/libopenblas_min.a.xz
  rm -rf "$tmp"
fi

if [ ! -f dist/index.js ] || [ -n "$(find lib -name '*.ts' -newer dist/index.js -print -quit)" ]; then
  npm run build:ts
fi
du -sh .device dist
echo 'carry: [".device", "dist"]; then on the GPU machine: bench/gpu/check.sh $OUT'
