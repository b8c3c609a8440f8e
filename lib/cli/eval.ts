/** `resnode eval --checkpoint runs/x/best.safetensors`: test loss and accuracy of a checkpoint. */
import { registerCommand } from './main';
import { parseArgs, helpText, ArgSpec } from './args';
import { readCheckpoint } from '../io/checkpoint';
import { buildModel, evaluate, openDatasetFor } from './train';
import * as data from '../data';
import { invalidArg, rnError } from '../errors';

const SPEC = {
  checkpoint: { type: 'string', help: 'checkpoint written by resnode train' },
  dataset: { type: 'string', help: 'dataset (default: the one the checkpoint was trained on)' },
  root: { type: 'string', help: 'dataset folder' },
  batchSize: { type: 'number', default: 500, help: 'batch size' },
  json: { type: 'boolean', default: false, help: 'print JSON' },
} satisfies ArgSpec;

registerCommand('eval', {
  summary: 'evaluate a checkpoint on the test split',
  run: async (argv) => {
    if (argv.includes('--help')) {
      console.log(helpText('eval', 'evaluate a checkpoint', SPEC));
      return 0;
    }
    const a = parseArgs(argv, SPEC, 'eval');
    if (typeof a.checkpoint !== 'string') throw rnError('ERR_RN_ARG', 'eval: --checkpoint <file> is required');
    const bs = a.batchSize as number;
    if (!Number.isInteger(bs) || bs < 1 || bs > 2 ** 31 - 1) throw invalidArg('an integer in [1, 2147483647]', 'eval --batch-size', bs, 'ERR_RN_RANGE');
    const c = readCheckpoint(a.checkpoint);
    const cfg = (c.meta.config ?? {}) as { model?: string; dataset?: string; root?: string };
    if (!cfg.model) throw rnError('ERR_RN_FORMAT', `eval: ${a.checkpoint} does not say which model it holds (no config.model in its metadata)`);
    const dsName = (a.dataset as string | undefined) ?? cfg.dataset ?? 'fashion-mnist';
    const { dataset, norm } = openDatasetFor(dsName, false, (a.root as string | undefined) ?? cfg.root);
    const model = buildModel(cfg.model, dataset.numClasses, dataset.shape[0]);
    model.loadStateDict(c.model);
    const loader = new data.DataLoader(dataset, { batchSize: a.batchSize as number, transform: data.transforms.normalize(norm.mean, norm.std) });
    const r = await evaluate(model, loader);
    const out = { checkpoint: a.checkpoint, model: cfg.model, dataset: dsName, epoch: c.meta.epoch, images: dataset.length, loss: r.loss, accuracy: r.acc };
    console.log(a.json ? JSON.stringify(out) : `${cfg.model} on ${dsName} (${dataset.length} test images, epoch ${c.meta.epoch}): loss ${r.loss.toFixed(4)}, accuracy ${(100 * r.acc).toFixed(2)}%`);
    return 0;
  },
});
