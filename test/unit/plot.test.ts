/**
 * The training CLI's presentation layer: SVG charts (lib/cli/svg_plot.ts) and the progress bar (lib/cli/progress.ts).
 * No engine, no native addon. The SVG is checked with a tiny XML parser below, and rendered to PNG when a working
 * rsvg-convert or ImageMagick is installed.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { inflateSync } from 'zlib';
import {
  escapeXml,
  lineChart,
  niceStep,
  niceTicks,
  PALETTE,
  parseMetricsJsonl,
  readMetricsJsonl,
  trainingCurves,
  type EpochPoint,
  type RunCurves,
  type Series,
} from '../../lib/cli/svg_plot';
import { formatDuration, formatField, formatNumber, ProgressBar } from '../../lib/cli/progress';

// ---------------------------------------------------------------------------------------------------------------
// A tiny, strict XML parser: enough to prove well-formedness and to query the SVG tree.

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** Decoded character data directly inside this element. */
  text: string;
}

const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#(\d+)|#x([0-9a-fA-F]+));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, where: string): string {
  // Every & must start a known entity; a bare & or < is not well-formed.
  if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s)) throw new Error(`bare & in ${where}: ${s.slice(0, 60)}`);
  if (s.includes('<')) throw new Error(`bare < in ${where}`);
  return s.replace(ENTITY, (_, n: string | undefined, d: string | undefined, h: string | undefined) =>
    n ? NAMED[n] : String.fromCodePoint(d ? parseInt(d, 10) : parseInt(h!, 16)),
  );
}

function parseXml(xml: string): XmlNode {
  const tagRe = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
  const attrRe = /([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  const root: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const chars = decode(lt < 0 ? xml.slice(i) : xml.slice(i, lt), 'text');
    const top = stack[stack.length - 1];
    if (top === root && chars.trim() !== '') throw new Error(`text outside the root element: ${chars.slice(0, 40)}`);
    top.text += chars;
    if (lt < 0) break;
    tagRe.lastIndex = lt;
    const m = tagRe.exec(xml);
    if (!m) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, close, name, rawAttrs, selfClose] = m;
    if (close) {
      if (rawAttrs.trim() !== '' || selfClose) throw new Error(`malformed end tag </${name}>`);
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name}>`);
    } else {
      const node: XmlNode = { name, attrs: {}, children: [], text: '' };
      for (const a of rawAttrs.matchAll(attrRe)) {
        if (a[1] in node.attrs) throw new Error(`duplicate attribute ${a[1]} on <${name}>`);
        node.attrs[a[1]] = decode(a[2] ?? a[3], `attribute ${a[1]}`);
      }
      if (stack.length === 1 && root.children.length > 0) throw new Error('more than one root element');
      stack[stack.length - 1].children.push(node);
      if (!selfClose) stack.push(node);
    }
    i = tagRe.lastIndex;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1) throw new Error('no root element');
  return root.children[0];
}

function all(node: XmlNode, pred: (n: XmlNode) => boolean, out: XmlNode[] = []): XmlNode[] {
  if (pred(node)) out.push(node);
  for (const c of node.children) all(c, pred, out);
  return out;
}
const byName = (node: XmlNode, name: string): XmlNode[] => all(node, (n) => n.name === name);
const byClass = (node: XmlNode, cls: string): XmlNode[] => all(node, (n) => n.attrs.class === cls);
const textOf = (node: XmlNode): string => node.text + node.children.map(textOf).join('');

function polylinePoints(p: XmlNode): [number, number][] {
  return p.attrs.points.split(' ').map((xy) => xy.split(',').map(Number) as [number, number]);
}

/** True for 1, 2 or 5 times a power of ten. */
function is125(step: number): boolean {
  const mant = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
  return [1, 2, 5, 10].some((m) => Math.abs(mant - m) < 1e-6);
}

/** Numeric tick labels of a panel's y axis (text-anchor end) and x axis (middle). */
function tickLabels(panel: XmlNode): { x: number[]; y: number[] } {
  const texts = byClass(panel, 'ticks').flatMap((g) => byName(g, 'text'));
  const nums = (anchor: string): number[] => texts.filter((t) => t.attrs['text-anchor'] === anchor).map((t) => Number(t.text));
  return { x: nums('middle'), y: nums('end') };
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

const range = (n: number, f: (i: number) => number): [number, number][] => Array.from({ length: n }, (_, i) => [i, f(i)]);

function run(name: string, epochs: number, k: number, withTest = true): RunCurves {
  const e: EpochPoint[] = [];
  for (let i = 1; i <= epochs; i++) {
    const decay = Math.exp(-i / k);
    e.push({
      epoch: i,
      trainLoss: 2.3 * decay + 0.02,
      trainAcc: 1 - 0.9 * decay,
      ...(withTest ? { testLoss: 2.3 * decay + 0.1, testAcc: 0.97 - 0.87 * decay } : {}),
    });
  }
  return { name, epochs: e };
}

// ---------------------------------------------------------------------------------------------------------------

describe('the XML checker used by these tests', () => {
  it('rejects what is not well-formed', () => {
    expect(() => parseXml('<a><b></a>')).toThrow();
    expect(() => parseXml('<a>x & y</a>')).toThrow(/bare &/);
    expect(() => parseXml('<a t="1" t="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml('<a/><b/>')).toThrow(/root/);
    expect(() => parseXml('<a>')).toThrow(/unclosed/);
    expect(parseXml('<a x="&lt;&amp;">1 &gt; 0</a>')).toMatchObject({ name: 'a', attrs: { x: '<&' }, text: '1 > 0' });
  });
});

describe('ticks', () => {
  it('niceStep picks the smallest 1-2-5 value at or above the raw step', () => {
    expect(niceStep(0.13)).toBeCloseTo(0.2);
    expect(niceStep(3)).toBe(5);
    expect(niceStep(7)).toBe(10);
    expect(niceStep(1)).toBe(1);
    expect(niceStep(0.05)).toBeCloseTo(0.05);
    expect(niceStep(2e6)).toBe(2e6);
  });

  it('niceTicks covers the range with evenly spaced 1-2-5 steps and clean decimals', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.1, 0.7)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(0.1, 0.7, 8)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    // Random ranges at many magnitudes: check the invariants rather than exact values.
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 300; trial++) {
      const scale = Math.pow(10, Math.floor(rand() * 12) - 6);
      const a = (rand() - 0.5) * 100 * scale;
      const b = a + rand() * 50 * scale + scale * 1e-3;
      const t = niceTicks(a, b);
      expect(t[0]).toBeLessThanOrEqual(a);
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(b);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(12);
      const step = t[1] - t[0];
      expect(is125(step)).toBe(true);
      for (let i = 1; i < t.length; i++) expect(Math.abs(t[i] - t[i - 1] - step)).toBeLessThan(step * 1e-6);
      for (const v of t) expect(Number(v.toPrecision(12))).toBe(v); // no 0.30000000000000004 leftovers
    }
  });

  it('niceTicks handles a flat range and rejects non-finite bounds', () => {
    const t = niceTicks(3, 3);
    expect(t[0]).toBeLessThan(3);
    expect(t[t.length - 1]).toBeGreaterThan(3);
    expect(() => niceTicks(0, NaN)).toThrow(expect.objectContaining({ code: 'ERR_RN_ARG' }));
    // A spread of a few ulps must not hang the tick loop.
    expect(niceTicks(1, 1 + 4e-16).length).toBeLessThan(12);
    expect(niceTicks(1e20, 1e20 + 1e5).length).toBeLessThan(12);
  });
});

describe('lineChart', () => {
  const series: Series[] = [
    { name: 'sgd', points: range(50, (i) => 2 * Math.exp(-i / 10)) },
    { name: 'adam', points: range(50, (i) => 1.5 * Math.exp(-i / 8)), dashed: true },
    { name: 'custom', points: range(50, (i) => 0.5 + i / 100), color: '#123456' },
  ];

  it('is a well-formed svg with the requested size', () => {
    const svg = lineChart({ title: 'Loss', xLabel: 'step', yLabel: 'loss', series, width: 800, height: 500 });
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs).toMatchObject({ xmlns: 'http://www.w3.org/2000/svg', width: '800', height: '500', viewBox: '0 0 800 500' });
    const def = parseXml(lineChart({ series }));
    expect(def.attrs).toMatchObject({ width: '720', height: '420' });
  });

  it('draws one polyline per series, in distinct colours, dashed where asked', () => {
    const root = parseXml(lineChart({ title: 't', series }));
    const groups = byClass(root, 'series');
    expect(groups.map((g) => g.attrs['data-name'])).toEqual(['sgd', 'adam', 'custom']);
    const strokes = groups.map((g) => byName(g, 'polyline')[0].attrs.stroke);
    expect(strokes).toEqual([PALETTE[0], PALETTE[1], '#123456']);
    expect(byName(groups[0], 'polyline')[0].attrs['stroke-dasharray']).toBeUndefined();
    expect(byName(groups[1], 'polyline')[0].attrs['stroke-dasharray']).toBeDefined();
    for (const g of groups) expect(polylinePoints(byName(g, 'polyline')[0])).toHaveLength(50);
  });

  it('keeps every point inside the frame and the canvas', () => {
    const root = parseXml(lineChart({ series }));
    const frame = byName(root, 'rect').find((r) => r.attrs.stroke !== undefined)!;
    const [fx, fy, fw, fh] = ['x', 'y', 'width', 'height'].map((k) => Number(frame.attrs[k]));
    for (const p of byName(root, 'polyline').flatMap(polylinePoints)) {
      expect(p[0]).toBeGreaterThanOrEqual(fx - 0.01);
      expect(p[0]).toBeLessThanOrEqual(fx + fw + 0.01);
      expect(p[1]).toBeGreaterThanOrEqual(fy - 0.01);
      expect(p[1]).toBeLessThanOrEqual(fy + fh + 0.01);
    }
    expect(fx + fw).toBeLessThanOrEqual(720);
    expect(fy + fh).toBeLessThanOrEqual(420);
  });

  it('has a legend with every named series', () => {
    const root = parseXml(lineChart({ series: [...series, { name: '', points: [[0, 1]] }] }));
    const legend = byClass(root, 'legend')[0];
    expect(byName(legend, 'text').map((t) => t.text)).toEqual(['sgd', 'adam', 'custom']);
    // The legend swatch of a dashed series is dashed too.
    expect(byName(legend, 'line')[1].attrs['stroke-dasharray']).toBeDefined();
  });

  it('wraps a long legend into rows that stay on the canvas', () => {
    const many = Array.from({ length: 14 }, (_, i) => ({ name: `series number ${i}`, points: range(5, (j) => i + j) }));
    const root = parseXml(lineChart({ series: many }));
    const texts = byName(byClass(root, 'legend')[0], 'text');
    expect(new Set(texts.map((t) => t.attrs.y)).size).toBeGreaterThan(1);
    for (const t of texts) expect(Number(t.attrs.x) + t.text.length * 7.2).toBeLessThanOrEqual(720);
    // Colours cycle through the palette rather than run out.
    expect(byName(byClass(root, 'series')[PALETTE.length], 'polyline')[0].attrs.stroke).toBe(PALETTE[0]);
  });

  it('escapes XML special characters in title, labels and series names', () => {
    const nasty = `a < b && c > "d" 'e'`;
    const svg = lineChart({ title: nasty, xLabel: '<x>', yLabel: 'y & z', series: [{ name: '<script>alert(1)</script>', points: [[0, 0], [1, 1]] }] });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('a &lt; b &amp;&amp; c &gt; &quot;d&quot; &#39;e&#39;');
    const root = parseXml(svg);
    const texts = byName(root, 'text').map((t) => t.text);
    expect(texts).toEqual(expect.arrayContaining([nasty, '<x>', 'y & z', '<script>alert(1)</script>']));
    expect(byName(root, 'title')[0].text).toBe(nasty);
    expect(byClass(root, 'series')[0].attrs['data-name']).toBe('<script>alert(1)</script>');
    expect(escapeXml('a\u0001b')).toBe('ab'); // control characters are not allowed in XML 1.0 at all
  });

  it('skips NaN and Infinity points, leaving gaps', () => {
    const pts: [number, number][] = range(30, (i) => i);
    pts[10] = [10, NaN];
    pts[20] = [20, Infinity];
    pts[25] = [NaN, 3];
    const svg = lineChart({ series: [{ name: 'gappy', points: pts }, { name: 'all bad', points: [[0, NaN], [1, -Infinity]] }] });
    expect(svg).not.toMatch(/NaN|Infinity/);
    const root = parseXml(svg);
    const lines = byName(byClass(root, 'series')[0], 'polyline').map(polylinePoints);
    expect(lines.map((l) => l.length)).toEqual([10, 9, 4, 4]);
    expect(byName(byClass(root, 'series')[1], 'polyline')).toHaveLength(0);
  });

  it('marks an isolated point, which a polyline could not show', () => {
    const root = parseXml(lineChart({ series: [{ name: 'one', points: [[3, 4]] }] }));
    const g = byClass(root, 'series')[0];
    expect(byName(g, 'polyline')).toHaveLength(0);
    expect(byName(g, 'circle')).toHaveLength(1);
  });

  it('handles no series and empty series', () => {
    for (const s of [[], [{ name: 'empty', points: [] }]]) {
      const svg = lineChart({ title: 'nothing yet', series: s });
      const root = parseXml(svg);
      expect(byName(root, 'polyline')).toHaveLength(0);
      expect(byName(root, 'text').map((t) => t.text)).toContain('no data');
      expect(svg).not.toMatch(/NaN|Infinity/);
    }
  });

  it('labels axes with 1-2-5 ticks that enclose the data', () => {
    const root = parseXml(lineChart({ series: [{ name: 'a', points: range(37, (i) => 0.13 + i * 0.021) }] }));
    const { x, y } = tickLabels(root);
    for (const axis of [x, y]) {
      expect(axis.length).toBeGreaterThanOrEqual(3);
      expect(axis.every(Number.isFinite)).toBe(true);
      const step = axis[1] - axis[0];
      expect(is125(Math.abs(step))).toBe(true);
      for (let i = 1; i < axis.length; i++) expect(axis[i] - axis[i - 1]).toBeCloseTo(step, 9);
    }
    expect(x[0]).toBeLessThanOrEqual(0);
    expect(x[x.length - 1]).toBeGreaterThanOrEqual(36);
    expect(y[0]).toBeLessThanOrEqual(0.13);
    expect(y[y.length - 1]).toBeGreaterThanOrEqual(0.13 + 36 * 0.021);
  });

  it('supports a log y axis with 1-2-5 or decade ticks, skipping non-positive values', () => {
    const pts = range(40, (i) => Math.pow(10, -i / 8));
    pts[5] = [5, 0];
    pts[6] = [6, -1];
    const root = parseXml(lineChart({ logY: true, series: [{ name: 'a', points: pts }] }));
    const { y } = tickLabels(root);
    expect(y.length).toBeGreaterThanOrEqual(3);
    for (const v of y) {
      expect(v).toBeGreaterThan(0);
      expect(is125(v)).toBe(true);
    }
    expect(byName(byClass(root, 'series')[0], 'polyline').map((p) => polylinePoints(p).length)).toEqual([5, 33]);
    // Equal ratios are equal distances on a log axis.
    const ys = polylinePoints(byName(root, 'polyline')[1]).map((p) => p[1]);
    expect(ys[9] - ys[1]).toBeCloseTo(ys[17] - ys[9], 1);

    const narrow = tickLabels(parseXml(lineChart({ logY: true, series: [{ name: 'b', points: range(10, (i) => 0.3 + i * 0.2) }] }))).y;
    expect(narrow).toEqual([0.2, 0.5, 1, 2, 5]);
  });

  it('honours yRange: ticks stay inside it and lines are clipped to the frame', () => {
    const root = parseXml(lineChart({ yRange: [0, 1], series: [{ name: 'a', points: range(20, (i) => i / 5) }] }));
    const { y } = tickLabels(root);
    expect(y[0]).toBe(0);
    expect(y[y.length - 1]).toBe(1);
    const clip = byName(root, 'clipPath')[0];
    expect(clip.attrs.id).toBeTruthy();
    const clipped = all(root, (n) => n.attrs['clip-path'] === `url(#${clip.attrs.id})`);
    expect(byName(clipped[0], 'polyline')).toHaveLength(1);
  });

  it('gives different charts different clip ids, and the same chart the same output', () => {
    const a = lineChart({ title: 'a', series });
    const b = lineChart({ title: 'b', series });
    expect(lineChart({ title: 'a', series })).toBe(a);
    expect(byName(parseXml(a), 'clipPath')[0].attrs.id).not.toBe(byName(parseXml(b), 'clipPath')[0].attrs.id);
  });

  it('rejects bad options with resnode error codes', () => {
    expect(() => lineChart({ series, width: 0 })).toThrow(expect.objectContaining({ code: 'ERR_RN_RANGE' }));
    expect(() => lineChart({ series: 'x' as unknown as Series[] })).toThrow(expect.objectContaining({ code: 'ERR_RN_ARG' }));
    expect(() => lineChart({ series: [{ name: 'a' } as Series] })).toThrow(/Expected a series/);
    expect(() => lineChart({ series, yRange: [1, 0] })).toThrow(expect.objectContaining({ code: 'ERR_RN_RANGE' }));
    expect(() => lineChart({ series, logY: true, yRange: [0, 1] })).toThrow(/log axis/);
  });
});

describe('trainingCurves', () => {
  const runs = [run('resnet20', 20, 4), run('resnet56 <wide>', 20, 6)];

  it('draws loss and accuracy panels side by side, one colour per run, test dashed', () => {
    const root = parseXml(trainingCurves(runs));
    expect(root.attrs).toMatchObject({ width: '1080', height: '440' });
    const panels = byClass(root, 'panel');
    expect(panels).toHaveLength(2);
    const titles = panels.map((p) => byName(p, 'text').find((t) => t.attrs['font-weight'] === 'bold')!.text);
    expect(titles).toEqual(['Loss', 'Accuracy']);
    // Loss panel left of the accuracy panel: compare their frames.
    const frames = panels.map((p) => byName(p, 'rect').find((r) => r.attrs.stroke !== undefined)!);
    expect(Number(frames[0].attrs.x) + Number(frames[0].attrs.width)).toBeLessThan(Number(frames[1].attrs.x));
    for (const p of panels) {
      const groups = byClass(p, 'series');
      expect(groups.map((g) => g.attrs['data-name'])).toEqual(['resnet20 train', 'resnet20 test', 'resnet56 <wide> train', 'resnet56 <wide> test']);
      const lines = groups.map((g) => byName(g, 'polyline')[0]);
      expect(lines.map((l) => l.attrs.stroke)).toEqual([PALETTE[0], PALETTE[0], PALETTE[1], PALETTE[1]]);
      expect(lines.map((l) => l.attrs['stroke-dasharray'] !== undefined)).toEqual([false, true, false, true]);
      for (const l of lines) expect(polylinePoints(l)).toHaveLength(20);
    }
  });

  it('has one shared legend: runs, then the train/test line styles', () => {
    const root = parseXml(trainingCurves(runs));
    const legends = byClass(root, 'legend');
    expect(legends).toHaveLength(1);
    expect(byName(legends[0], 'text').map((t) => t.text)).toEqual(['resnet20', 'resnet56 <wide>', 'train', 'test']);
    const noTest = parseXml(trainingCurves([run('a', 5, 2, false)]));
    expect(byName(byClass(noTest, 'legend')[0], 'text').map((t) => t.text)).toEqual(['a', 'train']);
  });

  it('shows fractional accuracies in percent, with integer epoch ticks', () => {
    const acc = byClass(parseXml(trainingCurves(runs)), 'panel')[1];
    const { x, y } = tickLabels(acc);
    expect(Math.max(...y)).toBeLessThanOrEqual(100);
    expect(Math.max(...y)).toBeGreaterThan(50);
    expect(x.every(Number.isInteger)).toBe(true);
    expect(byName(acc, 'text').map((t) => t.text)).toContain('accuracy (%)');
    // Already in percent: not scaled again.
    const pct = runs.map((r) => ({ ...r, epochs: r.epochs.map((e) => ({ ...e, trainAcc: e.trainAcc! * 100, testAcc: e.testAcc! * 100 })) }));
    expect(tickLabels(byClass(parseXml(trainingCurves(pct)), 'panel')[1]).y).toEqual(y);
    // Three epochs must not produce 0.5-epoch ticks.
    expect(tickLabels(byClass(parseXml(trainingCurves([run('short', 3, 2)])), 'panel')[0]).x.every(Number.isInteger)).toBe(true);
  });

  it('uses a log loss axis when losses span a factor of ten, linear otherwise', () => {
    const wide = byClass(parseXml(trainingCurves(runs)), 'panel')[0];
    expect(byName(wide, 'text').map((t) => t.text)).toContain('loss (log scale)');
    expect(tickLabels(wide).y.every(is125)).toBe(true);
    const flat = { name: 'flat', epochs: [1, 2, 3].map((epoch) => ({ epoch, trainLoss: 0.5 - epoch * 0.05 })) };
    expect(byName(byClass(parseXml(trainingCurves([flat])), 'panel')[0], 'text').map((t) => t.text)).toContain('loss');
  });

  it('uses the full width for loss when no run has accuracies', () => {
    const root = parseXml(trainingCurves([{ name: 'x', epochs: [{ epoch: 1, trainLoss: 1 }, { epoch: 2, trainLoss: 0.8 }] }]));
    const panels = byClass(root, 'panel');
    expect(panels).toHaveLength(1);
    const frame = byName(panels[0], 'rect').find((r) => r.attrs.stroke !== undefined)!;
    expect(Number(frame.attrs.width)).toBeGreaterThan(800);
  });

  it('copes with no runs, an empty run, a single epoch and a diverged (NaN) loss', () => {
    for (const rs of [[], [{ name: 'empty', epochs: [] }], [run('one', 1, 2)]]) {
      const svg = trainingCurves(rs);
      expect(() => parseXml(svg)).not.toThrow();
      expect(svg).not.toMatch(/NaN|Infinity/);
    }
    const diverged = run('boom', 6, 3);
    diverged.epochs = diverged.epochs.map((e) => (e.epoch >= 4 ? { ...e, trainLoss: NaN, testLoss: NaN } : e));
    const svg = trainingCurves([diverged]);
    expect(svg).not.toMatch(/NaN|Infinity/);
    const loss = byClass(parseXml(svg), 'panel')[0];
    expect(polylinePoints(byName(byClass(loss, 'series')[0], 'polyline')[0])).toHaveLength(3);
    expect(() => trainingCurves({} as unknown as RunCurves[])).toThrow(expect.objectContaining({ code: 'ERR_RN_ARG' }));
  });

  // Renders with a real SVG renderer when one works here; decoding the PNG ourselves keeps this test free of npm
  // dependencies and of ImageMagick's `-format %[fx:mean]`.
  it('renders to a non-blank PNG of the right size (needs rsvg-convert or ImageMagick)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rn-plot-'));
    try {
      const render = findRenderer(dir);
      if (!render) {
        console.log('plot.test: no working rsvg-convert or ImageMagick on the PATH; skipping the PNG rendering check');
        return;
      }
      const svgPath = join(dir, 'curves.svg');
      const pngPath = join(dir, 'curves.png');
      writeFileSync(svgPath, trainingCurves(runs, { title: 'ResNet on CIFAR-10 & friends' }));
      const r = render(svgPath, pngPath);
      expect(r.error ?? r.stderr).toBeFalsy();
      const png = decodePng(readFileSync(pngPath));
      expect([png.width, png.height]).toEqual([1080, 440]);
      let ink = 0;
      const seen = new Set<string>();
      for (let i = 0; i < png.width * png.height; i++) {
        const [r_, g, b] = png.rgb(i);
        if (r_ + g + b < 700) ink++;
        for (const c of PALETTE.slice(0, 2)) if (near([r_, g, b], c)) seen.add(c);
      }
      const fraction = ink / (png.width * png.height);
      expect(fraction).toBeGreaterThan(0.01); // not blank
      expect(fraction).toBeLessThan(0.5); // not a solid block either
      expect([...seen].sort()).toEqual(PALETTE.slice(0, 2).sort()); // both runs' colours made it onto the canvas
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

type Renderer = (svg: string, png: string) => { error?: Error; stderr: string };

/** A renderer that actually converts a trivial SVG, or undefined (a `convert` on the PATH may be a stub). */
function findRenderer(dir: string): Renderer | undefined {
  const run_ = (cmd: string, args: string[]): { error?: Error; stderr: string } => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
    return { error: r.error ?? (r.status !== 0 ? new Error(`${cmd} exited with ${r.status}: ${r.stderr}`) : undefined), stderr: '' };
  };
  const candidates: Renderer[] = [
    (svg, png) => run_('rsvg-convert', ['-f', 'png', '-o', png, svg]),
    (svg, png) => run_('magick', [svg, `PNG32:${png}`]),
    (svg, png) => run_('convert', [svg, `PNG32:${png}`]),
  ];
  const probeSvg = join(dir, 'probe.svg');
  const probePng = join(dir, 'probe.png');
  writeFileSync(probeSvg, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#000"/></svg>');
  for (const c of candidates) {
    rmSync(probePng, { force: true });
    if (c(probeSvg, probePng).error) continue;
    try {
      if (decodePng(readFileSync(probePng)).width === 10) return c;
    } catch {
      // not a PNG we can read: try the next renderer
    }
  }
  return undefined;
}

function near(rgb: [number, number, number], hex: string): boolean {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return rgb.every((v, i) => Math.abs(v - c[i]) <= 12);
}

/** Minimal PNG decoder: 8-bit grey/RGB/palette/grey+alpha/RGBA, not interlaced. Composites alpha on white. */
function decodePng(buf: Buffer): { width: number; height: number; rgb: (i: number) => [number, number, number] } {
  if (buf.subarray(0, 8).toString('hex') !== '89504e470d0a1a0a') throw new Error('not a PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  let palette: Buffer = Buffer.alloc(0);
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      colorType = data[9];
      if (data[8] !== 8 || data[12] !== 0) throw new Error('only 8-bit, non-interlaced PNGs');
    } else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const cur = raw[y * (stride + 1) + 1 + x];
      const a = x >= channels ? px[y * stride + x - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels] : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[y * stride + x] = (cur + pred) & 0xff;
    }
  }
  const rgb = (i: number): [number, number, number] => {
    const o = i * channels;
    let r: number;
    let g: number;
    let b: number;
    let alpha = 255;
    if (colorType === 3) [r, g, b] = [palette[px[o] * 3], palette[px[o] * 3 + 1], palette[px[o] * 3 + 2]];
    else if (channels <= 2) r = g = b = px[o];
    else [r, g, b] = [px[o], px[o + 1], px[o + 2]];
    if (channels === 2) alpha = px[o + 1];
    if (channels === 4) alpha = px[o + 3];
    const over = (v: number): number => Math.round((v * alpha + 255 * (255 - alpha)) / 255);
    return [over(r), over(g), over(b)];
  };
  return { width, height, rgb };
}

describe('metrics.jsonl', () => {
  const lines = [
    JSON.stringify({ type: 'config', model: 'resnet20' }),
    JSON.stringify({ type: 'epoch', epoch: 1, trainLoss: 1.9, trainAcc: 0.31, testLoss: 1.6, testAcc: 0.42, lr: 0.1, seconds: 30.5, imgPerSec: 1640 }),
    JSON.stringify({ type: 'step', step: 100, loss: 1.2 }),
    '',
    JSON.stringify({ type: 'epoch', epoch: 2, trainLoss: 1.2, trainAcc: 0.55, testLoss: null, testAcc: 0.6, lr: 0.1, seconds: 29.9, imgPerSec: 1672 }),
  ];

  it('keeps epoch records, ignores other types, maps null (a NaN that JSON could not hold) to NaN', () => {
    const epochs = parseMetricsJsonl(lines.join('\n') + '\n');
    expect(epochs).toHaveLength(2);
    expect(epochs[0]).toEqual({ epoch: 1, trainLoss: 1.9, trainAcc: 0.31, testLoss: 1.6, testAcc: 0.42, lr: 0.1, seconds: 30.5, imgPerSec: 1640 });
    expect(epochs[1].testLoss).toBeNaN();
    expect(epochs[1].testAcc).toBe(0.6);
  });

  it('tolerates a truncated last line but not a broken line in the middle', () => {
    const truncated = lines.join('\n') + '\n{"type":"epoch","epoch":3,"trainLo';
    expect(parseMetricsJsonl(truncated).map((e) => e.epoch)).toEqual([1, 2]);
    const broken = [lines[1], '{"type":"ep', lines[4]].join('\n');
    expect(() => parseMetricsJsonl(broken, 'runs/a/metrics.jsonl')).toThrow(expect.objectContaining({ code: 'ERR_RN_FORMAT', message: expect.stringContaining('line 2 of runs/a/metrics.jsonl') }));
    expect(() => parseMetricsJsonl('{"type":"epoch","trainLoss":1}\n{}')).toThrow(/no numeric epoch/);
  });

  it('sorts by epoch and keeps the later record of a repeated epoch (a resumed run)', () => {
    const text = [lines[4], lines[1], JSON.stringify({ type: 'epoch', epoch: 2, trainLoss: 1.1 })].join('\n');
    const epochs = parseMetricsJsonl(text);
    expect(epochs.map((e) => [e.epoch, e.trainLoss])).toEqual([[1, 1.9], [2, 1.1]]);
  });

  it('reads a file, and reports a missing one as ERR_RN_LOAD', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rn-metrics-'));
    try {
      const path = join(dir, 'metrics.jsonl');
      writeFileSync(path, lines.join('\n'));
      const epochs = readMetricsJsonl(path);
      expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
      expect(() => parseXml(trainingCurves([{ name: 'file', epochs }]))).not.toThrow();
      expect(() => readMetricsJsonl(join(dir, 'nope.jsonl'))).toThrow(expect.objectContaining({ code: 'ERR_RN_LOAD' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Progress bar

class FakeStream {
  chunks: string[] = [];
  constructor(
    public isTTY: boolean,
    public columns?: number,
  ) {}
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  get output(): string {
    return this.chunks.join('');
  }
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000; // an arbitrary origin: only differences matter
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** What the terminal shows for a redraw chunk: the text after the last clear-line. */
const visible = (chunk: string): string => chunk.slice(chunk.lastIndexOf('\x1b[2K') + 4).replace(/\n$/, '');

describe('formatting helpers', () => {
  it('formatDuration', () => {
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(35)).toBe('0:35');
    expect(formatDuration(59.6)).toBe('1:00');
    expect(formatDuration(62)).toBe('1:02');
    expect(formatDuration(3723)).toBe('1:02:03');
    expect(formatDuration(36000)).toBe('10:00:00');
    expect(formatDuration(NaN)).toBe('--:--');
    expect(formatDuration(Infinity)).toBe('--:--');
    expect(formatDuration(-1)).toBe('--:--');
  });

  it('formatNumber and formatField', () => {
    expect(formatNumber(0.41234)).toBe('0.4123');
    expect(formatNumber(0.41)).toBe('0.4100');
    expect(formatNumber(12.345)).toBe('12.35');
    expect(formatNumber(412.3)).toBe('412');
    expect(formatNumber(3)).toBe('3');
    expect(formatNumber(0.0001)).toBe('1.00e-4');
    expect(formatNumber(NaN)).toBe('NaN');
    expect(formatField('loss', 0.4123)).toBe('loss 0.4123');
    expect(formatField('acc', '87.2%')).toBe('acc 87.2%');
    expect(formatField('img/s', 412.4)).toBe('412 img/s');
  });
});

describe('ProgressBar on a TTY', () => {
  const fields = { loss: 0.41234, acc: '87.2%', 'img/s': 412.2 };

  it('redraws one line in place with bar, count, fields and ETA', () => {
    const s = new FakeStream(true, 120);
    const c = clock();
    const bar = new ProgressBar({ total: 100, label: 'epoch 3/10', stream: s, now: c.now });
    c.advance(10_000);
    bar.update(25, fields);
    expect(s.chunks).toHaveLength(1);
    expect(s.chunks[0].startsWith('\r\x1b[2K')).toBe(true);
    expect(s.chunks[0]).not.toContain('\n');
    // 10 s for 25 steps: 30 s for the remaining 75.
    expect(visible(s.chunks[0])).toMatch(/^epoch 3\/10 \[=+>\s*\]  25\/100  loss 0\.4123  acc 87\.2%  412 img\/s  ETA 0:30$/);
  });

  it('fills the bar in proportion to the step', () => {
    const s = new FakeStream(true, 200);
    const c = clock();
    const bar = new ProgressBar({ total: 10, stream: s, now: c.now });
    for (const step of [0, 5, 10]) {
      c.advance(1000);
      bar.update(step);
    }
    const bars = s.chunks.map((ch) => /\[([^\]]*)\]/.exec(visible(ch))![1]);
    expect(bars[0]).toBe('>' + ' '.repeat(29));
    expect(bars[1]).toBe('='.repeat(15) + '>' + ' '.repeat(14));
    expect(bars[2]).toBe('='.repeat(30));
    expect(visible(s.chunks[0])).toContain('ETA --:--'); // no step done yet: no estimate
  });

  it('throttles redraws to about 10 per second', () => {
    const s = new FakeStream(true, 100);
    const c = clock();
    const bar = new ProgressBar({ total: 1000, stream: s, now: c.now });
    for (let i = 1; i <= 1000; i++) {
      c.advance(2); // 500 steps per second for two seconds
      bar.update(i, fields);
    }
    expect(s.chunks.length).toBeGreaterThanOrEqual(19);
    expect(s.chunks.length).toBeLessThanOrEqual(21);
  });

  it('fits the line to the terminal width', () => {
    for (const columns of [40, 60, 80, 200]) {
      const s = new FakeStream(true, columns);
      const bar = new ProgressBar({ total: 50000, label: 'epoch 12/200', stream: s, now: clock().now });
      bar.update(1234, fields);
      const line = visible(s.chunks[0]);
      expect(line.length).toBeLessThanOrEqual(columns - 1);
      expect(line).toContain('1234/50000');
      if (columns >= 80) expect(line).toContain('[');
    }
    // Without columns (not a real terminal width), 80 is assumed.
    const s = new FakeStream(true);
    new ProgressBar({ total: 10, stream: s, now: clock().now }).update(1, fields);
    expect(visible(s.chunks[0]).length).toBeLessThanOrEqual(79);
  });

  it('done() draws the final line with the summary and total time, once', () => {
    const s = new FakeStream(true, 120);
    const c = clock();
    const bar = new ProgressBar({ total: 4, label: 'train', stream: s, now: c.now });
    for (let i = 1; i <= 4; i++) {
      c.advance(15_500);
      bar.update(i, fields);
    }
    bar.done({ loss: 0.39, 'test acc': '88.1%' });
    const last = s.chunks[s.chunks.length - 1];
    expect(last.startsWith('\r\x1b[2K')).toBe(true);
    expect(last.endsWith('\n')).toBe(true);
    expect(visible(last)).toMatch(/^train \[=+\] 4\/4  loss 0\.3900  test acc 88\.1%  in 1:02$/);
    const n = s.chunks.length;
    bar.done();
    bar.update(2, fields);
    expect(s.chunks).toHaveLength(n);
  });

  it('log() prints above the bar and redraws it', () => {
    const s = new FakeStream(true, 100);
    const bar = new ProgressBar({ total: 10, label: 'x', stream: s, now: clock().now });
    bar.update(3, fields);
    bar.log('checkpoint saved');
    expect(s.chunks[1]).toBe('\r\x1b[2Kcheckpoint saved\n');
    expect(visible(s.chunks[2])).toBe(visible(s.chunks[0]));
  });
});

describe('ProgressBar elsewhere (pipes, CI logs)', () => {
  it('prints plain lines every 10% and a final line, without escape codes', () => {
    const s = new FakeStream(false);
    const c = clock();
    const bar = new ProgressBar({ total: 391, label: 'epoch 1/5', stream: s, now: c.now });
    for (let i = 1; i <= 391; i++) {
      c.advance(100);
      bar.update(i, { loss: 2.3 - i / 200 });
    }
    bar.done({ loss: 0.35, 'img/s': 1280 });
    const lines = s.output.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(10); // 40, 80, …, 360, then done()
    expect(s.output).not.toMatch(/[\r\x1b]/);
    expect(lines[0]).toMatch(/^epoch 1\/5  40\/391 \(10%\)  loss 2\.1000  ETA 0:35$/);
    expect(lines[9]).toBe('epoch 1/5 391/391 (100%)  loss 0.3500  1280 img/s  in 0:39');
  });

  it('defaults to TTY mode from stream.isTTY, and honours tty and logEvery', () => {
    const tty = new FakeStream(true, 80);
    expect(new ProgressBar({ total: 5, stream: tty }).tty).toBe(true);
    const pipe = new FakeStream(false);
    expect(new ProgressBar({ total: 5, stream: pipe }).tty).toBe(false);
    expect(new ProgressBar({ total: 5, stream: tty, tty: false }).tty).toBe(false);

    const s = new FakeStream(false);
    const bar = new ProgressBar({ total: 10, stream: s, logEvery: 3, now: clock().now });
    for (const step of [1, 2, 4, 5, 7, 9, 10]) bar.update(step);
    expect(s.chunks.map((l) => /(\d+)\/10/.exec(l)![1])).toEqual(['4', '7', '9']);
  });

  it('validates its arguments', () => {
    const s = new FakeStream(false);
    expect(() => new ProgressBar({ total: 0, stream: s })).toThrow(expect.objectContaining({ code: 'ERR_RN_RANGE' }));
    expect(() => new ProgressBar({ total: 2.5, stream: s })).toThrow(/positive integer/);
    expect(() => new ProgressBar({ total: 3, stream: s }).update(NaN)).toThrow(expect.objectContaining({ code: 'ERR_RN_ARG' }));
  });
});
