#!/usr/bin/env bash
# Release binary for the npm package: CUDA kernels included when nvcc is on the PATH, cudart and
# OpenBLAS static, stripped, only the N-API registration symbols exported.
# Output: prebuilds/linux-x64/resnode.node (the path lib/binding.ts loads in an installed package).
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js compile --out build   # same Release configuration as `npm run build:native`
mkdir -p prebuilds/linux-x64
strip --strip-unneeded -o prebuilds/linux-x64/resnode.node build/Release/resnode.node
echo "prebuilds/linux-x64/resnode.node: $(stat -c %s prebuilds/linux-x64/resnode.node) bytes"
