#!/usr/bin/env bash
# Long fuzzing run for developers: the properties of test/reliability/fuzz.test.ts with many more
# runs, over several seeds. CI runs the same file with a ~20 s budget.
#
#   FUZZ_RUNS=20000 bash scripts/fuzz-long.sh          # runs per property (default 20000)
#   FUZZ_SEEDS="1 2 3" bash scripts/fuzz-long.sh       # seeds (default: 5 seeds from the clock)
#   RESNODE_ADDON=build-asan/Release/resnode.node ... # fuzz another build (with LD_PRELOAD for ASan)
#
# A failure prints the seed and the counterexample path; replay it with
#   FUZZ_SEED=<seed> FUZZ_RUNS=<n> npx jest test/reliability/fuzz.test.ts
# A crash (the jest worker dies) is a failure too: rerun that seed with CORPUS_TRACE unset and
# node --stack-trace-on-uncaught, or under scripts/asan.sh, to see where.
set -uo pipefail
cd "$(dirname "$0")/.."
export FUZZ_RUNS=${FUZZ_RUNS:-20000}
SEEDS=${FUZZ_SEEDS:-"$(date +%s) $(( $(date +%s) + 1 )) $(( $(date +%s) + 2 )) $(( $(date +%s) + 3 )) $(( $(date +%s) + 4 ))"}
FAIL=0
for s in $SEEDS; do
  echo "fuzz-long: seed $s, $FUZZ_RUNS runs per property"
  if ! FUZZ_SEED=$s npx jest --runInBand --testTimeout=86400000 test/reliability/fuzz.test.ts; then
    echo "fuzz-long: FAILED with seed $s (replay: FUZZ_SEED=$s FUZZ_RUNS=$FUZZ_RUNS npx jest test/reliability/fuzz.test.ts)"
    FAIL=1
  fi
done
[ $FAIL -eq 0 ] && echo "fuzz-long: all seeds passed" || exit 1
