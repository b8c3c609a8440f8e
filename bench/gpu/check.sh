#!/usr/bin/env bash
# The GPU check: on a bare CUDA machine (nvcc, cmake, python3 with PyTorch and NVIDIA's cuDNN /
# cuBLAS wheels; no npm packages, no network), from the repository root:
#
#   bench/gpu/check.sh OUTDIR [--dry-run] [--skip-build] [--build-in-dry-run]
#
# 1. preflight: node (unpacked from .device/node.tar.xz if needed), N-API headers (.device/napi),
#    dist/ (the compiled TypeScript, carried along), OpenBLAS (system, or .device/openblas from
#    bench/gpu/prepare.sh), python3 + torch, cuDNN / cuBLAS headers and libraries in site-packages
# 2. the GPU (nvidia-smi)
# 3. ABI check: native/cuda/abi_check.cc against the real cudnn.h / cublas_api.h
# 4. build for the local GPU only (RESNODE_CUDA_ARCH=native) with cmake directly -> build/gpu/resnode.node
# 5. device + library report; 6. every GPU test (bench/gpu/run_tests.js: each op vs the CPU backend)
# 7. fused-kernel microbenchmarks (GB/s vs device copy bandwidth)
# 8. ResNet-20 / ResNet-50 (float32 + TF32) and ResNet-50 bf16 channels-last training throughput vs
#    PyTorch on the same GPU
# 9. OUTDIR/check.json + OUTDIR/check.txt + OUTDIR/logs.tar.gz (every step's log and JSON; they
#    are written to a work folder, build/gpu-check or RN_CHECK_WORK, so OUTDIR holds 3 files)
#
# Everything runs under one time budget (RN_CHECK_BUDGET seconds, default 470: under 8 minutes);
# a step that would not fit is skipped and says so. --dry-run exercises all of this on a machine
# without a GPU up to the first thing that needs one: the build is configured (for sm_80) but not
# compiled unless --build-in-dry-run, and the scripts run with their GPU side on the CPU.
# Prepare on the development machine: shared/device/prepare.sh (node, N-API headers), then
# bench/gpu/prepare.sh (OpenBLAS object, dist/); carry .device and dist.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
OUT=""
DRY=0
SKIP_BUILD=0
DRY_BUILD=0
for a in "$@"; do
  case "$a" in
    --dry-run) DRY=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    --build-in-dry-run) DRY_BUILD=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) echo "check.sh: unknown option $a" >&2; exit 2 ;;
    *) OUT="$a" ;;
  esac
done
if [ -z "$OUT" ]; then
  echo "usage: bench/gpu/check.sh OUTDIR [--dry-run] [--skip-build] [--build-in-dry-run]" >&2
  exit 2
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DEST=$OUT
OUT=${RN_CHECK_WORK:-$ROOT/build/gpu-check}  # every step writes here; DEST gets the summary
rm -rf "$OUT"
mkdir -p "$OUT"
: > "$OUT/steps.tsv"
LOG="$OUT/check.log"
: > "$LOG"
finish() {  # on any exit: the report, then 3 files into DEST
  local rc=$?
  if command -v node > /dev/null 2>&1 && [ ! -f "$OUT/check.json" ]; then node bench/gpu/report.js "$OUT" > "$OUT/report.log" 2>&1; fi
  cp -f "$OUT/check.json" "$OUT/check.txt" "$DEST/" 2>/dev/null
  tar -C "$OUT" -czf "$DEST/logs.tar.gz" . 2>/dev/null
  exit $rc
}
trap finish EXIT
BUDGET=${RN_CHECK_BUDGET:-470}
START=$SECONDS
FAILED=0

say() { echo "[check $((SECONDS - START))s] $*" | tee -a "$LOG"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$OUT/steps.tsv"; }
left() { echo $((BUDGET - (SECONDS - START))); }
# run NAME MAX_SECONDS CMD... : runs with a timeout that fits the budget, logs to OUT/NAME.log
run() {
  local name=$1 max=$2
  shift 2
  local rem
  rem=$(left)
  local t=$max
  [ "$rem" -lt "$t" ] && t=$rem
  if [ "$t" -lt 5 ]; then
    say "SKIP $name: out of time budget (${BUDGET}s)"
    record "$name" skipped 0 "out of time budget"
    return 3
  fi
  say "run  $name (timeout ${t}s): $*"
  local t0=$SECONDS rc
  timeout --kill-after=10 "$t" "$@" > "$OUT/$name.log" 2>&1
  rc=$?
  local dt=$((SECONDS - t0))
  tail -n 30 "$OUT/$name.log" | sed 's/^/    /' | tee -a "$LOG" > /dev/null
  if [ $rc -eq 0 ]; then
    record "$name" ok "$dt" ""
    say "ok   $name (${dt}s)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    record "$name" timeout "$dt" "killed after ${t}s; see $name.log"
    say "TIME $name after ${t}s (see $OUT/$name.log)"
    FAILED=1
  else
    record "$name" failed "$dt" "exit $rc; see $name.log: $(tail -n 1 "$OUT/$name.log" | cut -c1-200)"
    say "FAIL $name (exit $rc, ${dt}s): $(tail -n 3 "$OUT/$name.log" | tr '\n' ' ' | cut -c1-300)"
    FAILED=1
  fi
  return $rc
}
fail_pre() {  # a missing prerequisite: say what to do and stop
  say "PREFLIGHT FAILED: $*"
  record preflight failed 0 "$*"
  exit 1
}

# ---------------------------------------------------------------- 1. preflight
say "resnode GPU check in $ROOT -> $DEST (work folder $OUT)$([ $DRY = 1 ] && echo ' (dry run)')"
if ! command -v node > /dev/null 2>&1; then
  if [ -s .device/node.tar.xz ]; then
    say "unpacking node from .device/node.tar.xz"
    tar -C / -xJf .device/node.tar.xz || fail_pre "could not unpack .device/node.tar.xz"
    export PATH=/usr/bin:/usr/local/bin:$PATH
    hash -r
  fi
fi
command -v node > /dev/null 2>&1 || fail_pre "node not found and no .device/node.tar.xz: run shared/device/prepare.sh on the development machine and carry .device"
NODE_V=$(node --version)

NAPI=""
if [ -f .device/napi/node-addon-api/napi.h ] && [ -d .device/napi/node-api-headers/include ]; then
  NAPI=$ROOT/.device/napi
elif [ -f node_modules/node-addon-api/napi.h ] && [ -d node_modules/node-api-headers/include ]; then
  NAPI=$ROOT/node_modules
fi
[ -n "$NAPI" ] || fail_pre "N-API headers not found in .device/napi (or node_modules): run shared/device/prepare.sh on the development machine and carry .device"

[ -f dist/index.js ] && [ -f dist/binding.js ] || fail_pre "dist/ (compiled TypeScript) is missing: run 'npm run build:ts' (or bench/gpu/prepare.sh) on the development machine and carry dist"

command -v cmake > /dev/null 2>&1 || fail_pre "cmake not found"
NVCC=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
[ -n "$NVCC" ] || fail_pre "nvcc not found (the CUDA toolkit is needed to build)"
export PATH=$(dirname "$NVCC"):$PATH
CUDA_INC=""
for d in "$(dirname "$(readlink -f "$NVCC")")/../include" "$(dirname "$NVCC")/../include" /usr/local/cuda/include "${CUDA_HOME:-/nonexistent}/include"; do
  if [ -f "$d/cuda_runtime_api.h" ]; then CUDA_INC=$(cd "$d" && pwd); break; fi
done
[ -n "$CUDA_INC" ] || fail_pre "the CUDA toolkit's include folder (cuda_runtime_api.h) was not found next to $NVCC"
NVCC_V=$("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
GEN="Unix Makefiles"
command -v ninja > /dev/null 2>&1 && GEN=Ninja

BLAS=/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a
if [ ! -f "$BLAS" ]; then
  BLAS=$ROOT/.device/openblas/libopenblas_min.a
  if [ ! -f "$BLAS" ] && [ -f "$ROOT/.device/openblas/libopenblas_min.a.xz" ]; then
    xz -dk "$ROOT/.device/openblas/libopenblas_min.a.xz" || true
  fi
  [ -f "$BLAS" ] || fail_pre "no static OpenBLAS: neither /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a nor .device/openblas/libopenblas_min.a (make it with bench/gpu/prepare.sh on the development machine)"
fi

PY=""
for p in python3 /usr/bin/python3; do
  if command -v "$p" > /dev/null 2>&1 && "$p" -c 'import torch' > /dev/null 2>&1; then PY=$(command -v "$p"); break; fi
done
TORCH_V=""
[ -n "$PY" ] && TORCH_V=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)
SP=""
for p in python3 /usr/bin/python3; do
  command -v "$p" > /dev/null 2>&1 || continue
  SP=$("$p" -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) && break
done
CUDNN_INC=${RESNODE_CUDNN_INCLUDE:-}
CUBLAS_INC=${RESNODE_CUBLAS_INCLUDE:-}
for s in $SP; do
  [ -z "$CUDNN_INC" ] && [ -f "$s/nvidia/cudnn/include/cudnn.h" ] && CUDNN_INC=$s/nvidia/cudnn/include
  for d in nvidia/cu13/include nvidia/cublas/include; do
    [ -z "$CUBLAS_INC" ] && [ -f "$s/$d/cublas_api.h" ] && CUBLAS_INC=$s/$d
  done
done
[ -z "$CUDNN_INC" ] && [ -f /usr/include/cudnn.h ] && CUDNN_INC=/usr/include
[ -z "$CUBLAS_INC" ] && [ -f "$CUDA_INC/cublas_api.h" ] && CUBLAS_INC=$CUDA_INC
LIBS=""
for s in $SP; do for d in nvidia/cudnn/lib nvidia/cu13/lib nvidia/cublas/lib; do [ -d "$s/$d" ] && LIBS="$LIBS $s/$d"; done; done

GPU=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)
cat > "$OUT/env.json" <<EOF
{"dryRun": $([ $DRY = 1 ] && echo true || echo false), "node": "$NODE_V", "nvcc": "$NVCC_V", "cmake": "$(cmake --version | head -1 | awk '{print $3}')",
 "generator": "$GEN", "openblas": "$BLAS", "napi": "$NAPI", "python": "$PY", "torch": "$TORCH_V", "sitePackages": "$SP",
 "cudnnInclude": "$CUDNN_INC", "cublasInclude": "$CUBLAS_INC", "libraryDirs": "${LIBS# }", "gpu": "$GPU", "budgetSeconds": $BUDGET}
EOF
say "node $NODE_V, nvcc $NVCC_V, $GEN, openblas $BLAS, torch ${TORCH_V:-absent}"
say "headers: cudnn.h in ${CUDNN_INC:-(not found)}, cublas_api.h in ${CUBLAS_INC:-(not found)}; libraries in ${LIBS:-(no wheel folders: the default loader path is searched)}"
record preflight ok 0 "node $NODE_V nvcc $NVCC_V torch ${TORCH_V:-absent}"

# ---------------------------------------------------------------- 2. the GPU
if [ -n "$GPU" ]; then
  say "GPU: $GPU"
  record gpu ok 0 "$GPU"
elif [ $DRY = 1 ]; then
  say "no GPU (nvidia-smi found none): dry run, continuing with the script logic only"
  record gpu skipped 0 "no GPU (dry run)"
else
  say "no GPU: nvidia-smi lists none (driver missing or no device visible)"
  record gpu failed 0 "nvidia-smi lists no GPU"
  exit 1
fi

# ---------------------------------------------------------------- 3. ABI check
if [ -n "$CUDNN_INC" ] && [ -n "$CUBLAS_INC" ]; then
  run abi-check 60 c++ -std=c++17 -fsyntax-only -Wall -I native/cuda -I "$CUDNN_INC" -I "$CUBLAS_INC" -I "$CUDA_INC" native/cuda/abi_check.cc
else
  say "SKIP abi-check: cudnn.h / cublas_api.h not found (set RESNODE_CUDNN_INCLUDE / RESNODE_CUBLAS_INCLUDE)"
  record abi-check $([ $DRY = 1 ] && echo skipped || echo failed) 0 "headers not found (cudnn: ${CUDNN_INC:-none}, cublas: ${CUBLAS_INC:-none})"
  [ $DRY = 1 ] || FAILED=1
fi

# ---------------------------------------------------------------- 4. build
BUILD=$ROOT/build/gpu
ADDON=$BUILD/resnode.node
ARCH=native
[ $DRY = 1 ] && ARCH=80
if [ $SKIP_BUILD = 1 ] && [ -f "$ADDON" ]; then
  say "SKIP build: --skip-build, reusing $ADDON"
  record build skipped 0 "reused $ADDON"
else
  run configure 90 env NODE_PATH="$NAPI" RESNODE_CUDA_ARCH=$ARCH cmake -S . -B "$BUILD" -G "$GEN" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_JS_INC="$NAPI/node-api-headers/include" -DRESNODE_OPENBLAS_A="$BLAS" -DRESNODE_ABI_CHECK=OFF
  [ $? -eq 0 ] || exit 1
  if [ $DRY = 0 ] || [ $DRY_BUILD = 1 ]; then
    run build 300 cmake --build "$BUILD" -j "$(nproc)" || exit 1
  else
    say "SKIP build: dry run (configured only; --build-in-dry-run compiles too)"
    record build skipped 0 "dry run: configured for sm_80, not compiled"
  fi
fi
if [ -f "$ADDON" ] && { [ $DRY = 0 ] || [ $DRY_BUILD = 1 ] || [ $SKIP_BUILD = 1 ]; }; then
  export RESNODE_ADDON=$ADDON
elif [ $DRY = 1 ] && [ -f build/Release/resnode.node ]; then
  export RESNODE_ADDON=$ROOT/build/Release/resnode.node  # the development build (npm run build)
fi
say "addon: ${RESNODE_ADDON:-(lib/binding.ts default search)}"

# ---------------------------------------------------------------- 5. device and libraries
DRYF=""
[ $DRY = 1 ] && DRYF=--dry-run
run device 60 node -e '
const rn = require("./dist/index.js");
const out = { status: rn.cuda.status(), available: rn.cuda.isAvailable(), build: rn.buildInfo(), info: rn.cuda.info() };
if (out.available) { out.properties = rn.cuda.properties(); out.libraries = rn.cuda.libraries(); }
else out.libraries = rn.cuda.libraries();
require("fs").writeFileSync(process.argv[1], JSON.stringify(out, null, 2));
console.log(out.status);
for (const l of out.libraries) console.log(l.name, l.loaded ? l.path + " " + l.version : "not loaded: " + l.error);
if (!out.available && !process.argv[2]) process.exit(1);
' "$OUT/device.json" "$DRYF"

# ---------------------------------------------------------------- 6. tests
run tests 180 node bench/gpu/run_tests.js --json "$OUT/tests.json" $DRYF

# ---------------------------------------------------------------- 7. kernels
run kernels 90 node bench/gpu/bench_kernels.js --json "$OUT/kernels.json" $DRYF

# ---------------------------------------------------------------- 8. training throughput
# train_row NAME MODEL MAX_OURS MAX_TORCH FLAGS...: resnode and PyTorch with the same flags
train_row() {
  local name=$1 m=$2 t_ours=$3 t_torch=$4
  shift 4
  if [ $DRY = 1 ]; then  # script logic only: tiny batch, one step (a later --batch wins)
    run "train_$name" 60 node bench/gpu/bench_train.js --model $m "$@" --batch 2 --json "$OUT/train_$name.json" --dry-run
    if [ -n "$PY" ]; then
      run "torch_$name" 60 "$PY" bench/gpu/torch_ref.py --model $m "$@" --device cpu --batch 2 --steps 1 --warmup 1 --json "$OUT/torch_$name.json"
    fi
    return 0
  fi
  run "train_$name" "$t_ours" node bench/gpu/bench_train.js --model $m "$@" --json "$OUT/train_$name.json"
  if [ -n "$PY" ]; then
    run "torch_$name" "$t_torch" "$PY" bench/gpu/torch_ref.py --model $m "$@" --device cuda --json "$OUT/torch_$name.json"
  else
    say "SKIP torch_$name: no python3 with torch"
    record "torch_$name" skipped 0 "no python3 with torch"
  fi
}
train_row resnet20 resnet20 120 90 --tf32
# the issue's target (before the float32 ResNet-50 row, so the time budget reaches it first):
# ResNet-50 bf16 channels-last, batch 256 or the largest that fits
train_row resnet50_bf16_cl resnet50 150 120 --bf16 --channels-last --batch 256 --fit
train_row resnet50 resnet50 120 90 --tf32

# ---------------------------------------------------------------- 9. report
node bench/gpu/report.js "$OUT" > "$OUT/report.log" 2>&1 || say "report.js failed: $(tail -n 3 "$OUT/report.log")"
cat "$OUT/check.txt" 2>/dev/null | tee -a "$LOG"
say "done in $((SECONDS - START))s: $DEST/check.json, $DEST/check.txt, $DEST/logs.tar.gz (work folder $OUT)"
if [ -f "$OUT/tests.json" ] && grep -q '"failed": [1-9]' "$OUT/tests.json"; then FAILED=1; fi
exit $FAILED
