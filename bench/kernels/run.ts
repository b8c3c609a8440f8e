/**
 * The kernel benchmarks from a checkout, without the CLI: the same code as `resnode bench kernels`
 * (lib/cli/bench_kernels.ts, lib/bench/), compiled by `npx tsc -p bench/tsconfig.json`:
 *   node bench/dist/bench/kernels/run.js [--json] [--compare-torch] [--quick] ...   (--help: all options)
 * The library's loader finds the addon in the repository's build/Release (or RESNODE_ADDON).
 * See bench/README.md for what is measured and how.
 */
import { benchKernels } from '../../lib/cli/bench_kernels';

benchKernels(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error & { code?: string }) => {
    console.error(`bench kernels: ${e.message}${e.code ? ` [${e.code}]` : ''}`);
    process.exitCode = e.code === 'ERR_RN_ARG' || e.code === 'ERR_RN_RANGE' ? 2 : 1;
  },
);
