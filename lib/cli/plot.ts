/** `resnode plot runs/a runs/b -o cmp.svg`: overlay the training curves of several runs. */
import * as fs from 'fs';
import * as path from 'path';
import { registerCommand } from './main';
import { readMetricsJsonl, trainingCurves } from './svg_plot';
import { rnError } from '../errors';

export function plotRuns(dirs: string[], out: string): string {
  if (!dirs.length) throw rnError('ERR_RN_ARG', 'plot: give at least one run folder (holding metrics.jsonl)');
  const runs = dirs.map((d) => {
    const file = fs.existsSync(d) && fs.statSync(d).isDirectory() ? path.join(d, 'metrics.jsonl') : d;
    return { name: path.basename(path.resolve(d)), epochs: readMetricsJsonl(file) };
  });
  const svg = trainingCurves(runs, { title: runs.map((r) => r.name).join(' vs ') });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, svg);
  return out;
}

registerCommand('plot', {
  summary: 'overlay training curves of runs: resnode plot runs/a runs/b -o cmp.svg',
  run: (argv) => {
    if (argv.includes('--help')) {
      console.log('resnode plot <run folder or metrics.jsonl>... [-o out.svg]  (default out: curves-compare.svg)');
      return 0;
    }
    const o = argv.findIndex((a) => a === '-o' || a === '--out');
    const out = o >= 0 ? argv[o + 1] : 'curves-compare.svg';
    if (o >= 0 && !out) throw rnError('ERR_RN_ARG', 'plot: -o needs a file name');
    const dirs = argv.filter((_, i) => i !== o && i !== o + 1 || o < 0);
    console.log(`wrote ${plotRuns(dirs, out)}`);
    return 0;
  },
});
