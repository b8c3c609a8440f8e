/** `resnode probe --model resnet56`: per-block activation and gradient norms at initialisation. */
import { registerCommand } from './main';
import { parseArgs, helpText, ArgSpec } from './args';
import { buildModel, openDatasetFor } from './train';
import * as rn from '../index';
import { signal, format } from '../probe';
import { invalidArg } from '../errors';

const SPEC = {
  model: { type: 'string', default: 'resnet56', help: 'model name' },
  dataset: { type: 'string', default: 'fashion-mnist', help: 'dataset for the probe batch' },
  root: { type: 'string', help: 'dataset folder' },
  batchSize: { type: 'number', default: 64, help: 'probe batch size' },
  seed: { type: 'number', default: 0, help: 'seed for the initialisation' },
  json: { type: 'boolean', default: false, help: 'print JSON' },
} satisfies ArgSpec;

registerCommand('probe', {
  summary: 'signal propagation: per-block activation and gradient norms of a model at initialisation',
  run: (argv) => {
    if (argv.includes('--help')) {
      console.log(helpText('probe', 'signal-propagation probe', SPEC));
      return 0;
    }
    const a = parseArgs(argv, SPEC, 'probe');
    const bs = a.batchSize as number;
    // training-mode batch norm needs at least 2 samples
    if (!Number.isInteger(bs) || bs < 2 || bs > 2 ** 31 - 1) throw invalidArg('an integer in [2, 2147483647]', 'probe --batch-size', bs, 'ERR_RN_RANGE');
    if (!Number.isSafeInteger(a.seed) || (a.seed as number) < 0) throw invalidArg('a non-negative integer', 'probe --seed', a.seed, 'ERR_RN_RANGE');
    const { dataset, norm } = openDatasetFor(a.dataset as string, true, a.root as string | undefined);
    rn.manualSeed(a.seed as number);
    const model = buildModel(a.model as string, dataset.numClasses, dataset.shape[0]);
    const n = Math.min(a.batchSize as number, dataset.length);
    const b = dataset.getBatch(Int32Array.from({ length: n }, (_, i) => i));
    const t = rn.data.transforms.normalize(norm.mean, norm.std)(b.images, [n, ...dataset.shape] as [number, number, number, number], new rn.data.Rng(0));
    const r = signal(model, rn.tensor(t.data, { shape: t.shape }), rn.tensor(b.labels));
    console.log(a.json ? JSON.stringify(r) : format(r));
    return 0;
  },
});
