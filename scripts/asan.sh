#!/usr/bin/env bash
# Build the addon with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and run
# test suites against it. Prints "asan: clean" (exit 0) or "asan: NOT clean" (exit 1).
#
#   bash scripts/asan.sh                       # unit tests + the reliability corpus
#   bash scripts/asan.sh test/unit/errors.test.ts   # chosen test files / patterns
#   ASAN_SKIP_BUILD=1 bash scripts/asan.sh     # reuse build-asan/
#
# node itself is not ASan-built, so libasan is LD_PRELOADed and the link-order check is off;
# leak detection is off (V8 keeps memory until exit, which LSan reports as leaks). CUDA is off
# (nvcc output is not instrumented and the GPU is not the point here). Slow (~10x): not in CI.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=build-asan
LOG=${ASAN_LOG:-$OUT/asan-test.log}
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

if [ -z "${ASAN_SKIP_BUILD:-}" ]; then
  echo "asan: building $OUT/Release/resnode.node (CUDA off, -fsanitize=address,undefined)"
  npx cmake-js compile --out "$OUT" \
    --CDRESNODE_CUDA=OFF \
    "--CDCMAKE_CXX_FLAGS=$SAN -g -O1" \
    "--CDCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" >"$OUT.build.log" 2>&1 || {
      mkdir -p "$OUT"; mv -f "$OUT.build.log" "$OUT/build.log" 2>/dev/null
      echo "asan: build failed (see $OUT/build.log)"; exit 2; }
  mkdir -p "$OUT" && mv -f "$OUT.build.log" "$OUT/build.log"
fi
# keep the build out of git without touching the root .gitignore
echo '*' >"$OUT/.gitignore"
ADDON="$OUT/Release/resnode.node"
[ -f "$ADDON" ] || { echo "asan: $ADDON missing"; exit 2; }
LIBASAN=$(gcc -print-file-name=libasan.so)
LIBUBSAN=$(gcc -print-file-name=libubsan.so)

export RESNODE_ADDON="$PWD/$ADDON"
export LD_PRELOAD="$LIBASAN $LIBUBSAN"
export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:allocator_may_return_null=1:abort_on_error=1:allow_user_segv_handler=1:handle_segv=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# allocator_may_return_null: the tests ask for absurd sizes on purpose (they must fail with
# ERR_RN_OOM); ASan would otherwise abort on any request over its 1 TiB limit.
# the addon really loaded must be the instrumented one
node -e "const b=require('./dist/binding'); b.binding(); if (b.bindingPath() !== process.env.RESNODE_ADDON) { console.error('asan: loaded ' + b.bindingPath()); process.exit(1) }" ||
  { echo "asan: the ASan addon did not load (is dist/ built? npm run build)"; exit 2; }
# the soak test measures RSS and time, meaningless under ASan; the default set is the unit tests
# is the corpus, the fuzzers and the worker-thread test (its thresholds are exact native byte
# counts, which ASan does not change). Left out: test/unit/build.test.ts, which checks the release
# binary's dependencies (an ASan build needs libasan), and test/unit/execution.test.ts, whose
# precondition is a wall-clock time (a "long" step of > 300 ms).
TESTS=("$@")
[ ${#TESTS[@]} -eq 0 ] && TESTS=(test/unit test/reliability/corpus.test.ts test/reliability/fuzz.test.ts test/reliability/concurrency.test.ts)
echo "asan: running jest ${TESTS[*]} against $ADDON"
npx jest --runInBand "${TESTS[@]}" --testPathIgnorePatterns "(build|execution)\.test\.ts$" >"$LOG" 2>&1
RC=$?
tail -n 8 "$LOG"
FINDINGS=$(grep -cE "ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|Undefined)" "$LOG")
if [ "$FINDINGS" -gt 0 ]; then
  grep -nE -A 30 "ERROR: AddressSanitizer|runtime error:" "$LOG" | head -n 120
  echo "asan: NOT clean ($FINDINGS sanitizer reports; jest exit $RC; log $LOG)"
  exit 1
fi
if [ $RC -ne 0 ]; then
  echo "asan: no sanitizer reports, but jest exited $RC (log $LOG)"
  exit 1
fi
echo "asan: clean (jest exit 0, no sanitizer reports; log $LOG)"
