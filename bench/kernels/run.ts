/**
 * Kernel benchmarks. Build and run (from the repository root):
 *   npx cmake-js compile --out build && npx tsc -p bench/tsconfig.json
 *   node bench/dist/bench/kernels/run.js                 # table
 *   node bench/dist/bench/kernels/run.js --json          # machine-readable
 *   node bench/dist/bench/kernels/run.js --compare-torch # + PyTorch (bench/e2e/torch_ref.py), alternating rounds
 * See bench/README.md for what is measured and how.
 */
import * as path from 'path';

// The compiled library lives in bench/dist/lib, so point its loader at the repository's build.
process.env.RESNODE_ADDON ??= path.resolve(__dirname, '../../../../build/Release/resnode.node');
// eslint-disable-next-line @typescript-eslint/no-var-requires
require('./main')
  .main(process.argv.slice(2))
  .catch((e: Error) => {
    console.error(e);
    process.exit(1);
  });
