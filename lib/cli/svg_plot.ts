/**
 * Dependency-free SVG line charts for the training CLI (curves.svg after training, `resnode plot` overlays).
 *
 * Output is plain SVG 1.1 with presentation attributes only (no CSS, no scripts, no external fonts), so that it
 * renders the same in browsers, GitHub previews, rsvg-convert and ImageMagick. Output is deterministic: the same
 * input always yields the same string.
 */
import { readFileSync } from 'fs';
import { invalidArg, rnError } from '../errors';

export type Point = readonly [number, number];

export interface Series {
  name: string;
  /** [x, y] pairs, drawn in the given order. Non-finite values (and y <= 0 on a log axis) leave a gap. */
  points: readonly Point[];
  dashed?: boolean;
  /** Any SVG colour; defaults to the palette colour for the series' index. */
  color?: string;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Logarithmic y axis; points with y <= 0 are skipped. */
  logY?: boolean;
  /** Fixed y domain; lines leaving it are clipped at the plot frame. */
  yRange?: readonly [number, number];
}

/** One epoch of a training run, as plotted by trainingCurves. Accuracies may be fractions (0..1) or percent. */
export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  testLoss?: number;
  trainAcc?: number;
  testAcc?: number;
}

/** One `type: 'epoch'` record of metrics.jsonl. */
export interface EpochMetrics extends EpochPoint {
  lr?: number;
  seconds?: number;
  imgPerSec?: number;
}

export interface RunCurves {
  name: string;
  epochs: readonly EpochPoint[];
}

export interface TrainingCurvesOptions {
  title?: string;
  width?: number;
  height?: number;
}

/**
 * Okabe–Ito colours (distinguishable under the common colour-vision deficiencies), minus its yellow, which has too
 * little contrast on white. Charts with more series than colours cycle through it.
 */
export const PALETTE: readonly string[] = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];

const FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const FONT_SIZE = 12;
const TITLE_SIZE = 15;
const TEXT_COLOR = '#222222';
const MUTED_COLOR = '#555555';
const GRID_COLOR = '#e3e3e3';
const FRAME_COLOR = '#888888';
/** Colour of the train/test line-style key in trainingCurves' legend: neutral, so it reads as "style", not "run". */
const KEY_COLOR = '#666666';
const DASH = '6 4';

// ---------------------------------------------------------------------------------------------------------------
// Text and number helpers

/** Escapes the five XML special characters, and drops characters XML 1.0 cannot hold at all. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Pixel coordinate with at most 2 decimals. Clamped so far-off points stay plain numbers (the clip path hides them). */
function px(v: number): string {
  const c = Math.max(-1e6, Math.min(1e6, v));
  const r = Math.round(c * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Rough rendered width of a text; exact metrics need a font engine, and this only has to avoid overlaps. */
function textWidth(s: string, size = FONT_SIZE): number {
  return s.length * size * 0.6;
}

type Attrs = Record<string, string | number | undefined>;

function attrs(a: Attrs): string {
  let out = '';
  for (const [k, v] of Object.entries(a)) {
    if (v === undefined) continue;
    out += ` ${k}="${escapeXml(typeof v === 'number' ? px(v) : v)}"`;
  }
  return out;
}

function tag(name: string, a: Attrs, body?: string): string {
  return body === undefined ? `<${name}${attrs(a)}/>` : `<${name}${attrs(a)}>${body}</${name}>`;
}

function text(x: number, y: number, s: string, a: Attrs = {}): string {
  return tag('text', { x, y, ...a }, escapeXml(s));
}

/** Short label for exponential form: 1e-7, 2.5e6. */
function expLabel(v: number): string {
  return Number(v.toPrecision(6)).toExponential().replace('e+', 'e');
}

// ---------------------------------------------------------------------------------------------------------------
// Ticks

/** The smallest 1-2-5 step (1, 2 or 5 times a power of ten) that is >= raw. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    // Tolerance: log10 rounding can leave raw a hair above an exact 1-2-5 value.
    if (m * mag >= raw * (1 - 1e-9)) return m * mag;
  }
  return 10 * mag;
}

/** Decimal places needed to print multiples of a 1-2-5 step exactly. */
function stepDecimals(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** Rounds away float noise such as 0.30000000000000004 from i * step. */
function cleanMultiple(i: number, step: number): number {
  const v = Number((i * step).toFixed(Math.min(20, stepDecimals(step) + 2)));
  return Object.is(v, -0) ? 0 : v;
}

interface Ticks {
  min: number;
  max: number;
  values: number[];
  step: number;
}

/**
 * Linear ticks at multiples of a 1-2-5 step, about `target` of them. Without `fixed`, the domain is widened to the
 * outermost ticks around [min, max]; with it, the domain is exactly [min, max] and only the ticks inside are kept.
 */
function linearTicks(min: number, max: number, target: number, fixed: boolean, minStep = 0): Ticks {
  // A flat line, or one whose spread is float noise: centre it in a small window. Besides avoiding a division by
  // zero, this keeps min / step far below 2^53, where i++ below would stop changing i.
  if (max - min <= Math.max(Math.abs(min), Math.abs(max)) * 1e-12) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = Math.max(niceStep((max - min) / Math.max(1, target)), minStep);
  const eps = 1e-9;
  const i0 = fixed ? Math.ceil(min / step - eps) : Math.floor(min / step + eps);
  const i1 = fixed ? Math.floor(max / step + eps) : Math.ceil(max / step - eps);
  const values: number[] = [];
  for (let i = i0; i <= i1 && values.length < 100; i++) values.push(cleanMultiple(i, step));
  return fixed ? { min, max, values, step } : { min: values[0], max: values[values.length - 1], values, step };
}

/**
 * Ticks for `target`-ish labels between min and max, at multiples of a 1-2-5 step (…, 0.1, 0.2, 0.5, 1, 2, 5, 10, …),
 * covering the data: the first tick is <= min and the last >= max.
 */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw invalidArg('finite numbers', 'niceTicks(min, max)', [min, max]);
  if (min > max) [min, max] = [max, min];
  return linearTicks(min, max, target, false).values;
}

/** 1, 2 and 5 times powers of ten from the one <= min up to the one >= max. */
function logCandidates(min: number, max: number): number[] {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(min)) - 1; k <= Math.ceil(Math.log10(max)) + 1; k++) {
    for (const m of [1, 2, 5]) out.push(Number((m * Math.pow(10, k)).toPrecision(12)));
  }
  const lo = out.filter((v) => v <= min * (1 + 1e-12)).pop() ?? out[0];
  const hi = out.find((v) => v >= max * (1 - 1e-12)) ?? out[out.length - 1];
  return out.filter((v) => v >= lo && v <= hi);
}

/**
 * Log-axis ticks: 1-2-5 values when they are few enough, otherwise powers of ten (every n-th one for very wide
 * ranges). Without `fixed`, the domain snaps to the outer ticks.
 */
function logTicks(min: number, max: number, target: number, fixed: boolean): Ticks {
  if (min === max) {
    min /= 2;
    max *= 2;
  }
  let values = logCandidates(min, max);
  if (values.length > Math.ceil(target * 1.6)) {
    const k0 = fixed ? Math.ceil(Math.log10(min) - 1e-9) : Math.floor(Math.log10(min) + 1e-9);
    const k1 = fixed ? Math.floor(Math.log10(max) + 1e-9) : Math.ceil(Math.log10(max) - 1e-9);
    const every = Math.max(1, Math.ceil((k1 - k0 + 1) / Math.ceil(target * 1.6)));
    values = [];
    for (let k = k0; k <= k1; k += every) values.push(Number(Math.pow(10, k).toPrecision(12)));
  }
  if (fixed) {
    values = values.filter((v) => v >= min * (1 - 1e-12) && v <= max * (1 + 1e-12));
    return { min, max, values, step: 0 };
  }
  return { min: values[0], max: values[values.length - 1], values, step: 0 };
}

/**
 * Tick labels for one axis. Exponent form is chosen per axis, not per tick, so that an axis never mixes
 * "500000" with "1e6".
 */
function tickLabels(t: Ticks, log: boolean): string[] {
  const abs = t.values.map(Math.abs).filter((a) => a > 0);
  const maxAbs = Math.max(0, ...abs);
  const minAbs = Math.min(Infinity, ...abs);
  const exp = maxAbs >= 1e6 || (log ? minAbs < 1e-3 : maxAbs > 0 && maxAbs < 1e-3);
  return t.values.map((v) => {
    if (v === 0) return '0';
    if (exp) return expLabel(v);
    return log ? String(Number(v.toPrecision(12))) : v.toFixed(stepDecimals(t.step));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Panels

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface LegendItem {
  label: string;
  color: string;
  dashed: boolean;
}

interface PanelSpec {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  series: readonly Series[];
  logY: boolean;
  yRange?: readonly [number, number];
  /** Integer x ticks (epochs): never a step below 1. */
  integerX?: boolean;
  /** Drawn under the panel title; trainingCurves passes none and draws one shared legend instead. */
  legend?: LegendItem[];
  /** Unique id prefix for this panel's clip path. */
  id: string;
}

function isDrawable(p: Point, logY: boolean): boolean {
  return Number.isFinite(p[0]) && Number.isFinite(p[1]) && (!logY || p[1] > 0);
}

function extent(values: number[]): [number, number] | undefined {
  if (values.length === 0) return undefined;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Lays legend items out in rows that wrap at maxWidth; returns the markup and the height used. */
function renderLegend(items: readonly LegendItem[], x: number, y: number, maxWidth: number): { svg: string; height: number } {
  if (items.length === 0) return { svg: '', height: 0 };
  const rowH = FONT_SIZE + 8;
  const swatch = 22;
  let cx = x;
  let cy = y + rowH / 2;
  const parts: string[] = [];
  for (const it of items) {
    const w = swatch + 6 + textWidth(it.label) + 18;
    if (cx > x && cx + w - 18 > x + maxWidth) {
      cx = x;
      cy += rowH;
    }
    parts.push(
      tag('line', {
        x1: cx,
        y1: cy,
        x2: cx + swatch,
        y2: cy,
        stroke: it.color,
        'stroke-width': 2.5,
        'stroke-dasharray': it.dashed ? DASH : undefined,
      }),
      text(cx + swatch + 6, cy + FONT_SIZE * 0.35, it.label, { fill: TEXT_COLOR }),
    );
    cx += w;
  }
  return { svg: tag('g', { class: 'legend' }, parts.join('')), height: cy - y + rowH / 2 };
}

function renderPanel(spec: PanelSpec, box: Box): string {
  const out: string[] = [];
  let top = box.y + 8;
  if (spec.title) {
    out.push(text(box.x + box.w / 2, top + TITLE_SIZE, spec.title, { 'text-anchor': 'middle', 'font-size': TITLE_SIZE, 'font-weight': 'bold', fill: TEXT_COLOR }));
    top += TITLE_SIZE + 10;
  }

  // Data extents over drawable points only, so a NaN or a non-positive value on a log axis cannot poison the domain.
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of spec.series) {
    for (const p of s.points) {
      if (!isDrawable(p, spec.logY)) continue;
      xs.push(p[0]);
      ys.push(p[1]);
    }
  }
  const xe = extent(xs) ?? [0, 1];
  const ye = spec.yRange ?? extent(ys) ?? (spec.logY ? [1, 10] : [0, 1]);

  // Legend first: its height depends on the width, and the plot area gets what is left.
  const legendLeft = box.x + 16;
  const legend = renderLegend(spec.legend ?? [], legendLeft, top, box.w - 32);
  if (legend.height > 0) top += legend.height + 10;
  out.push(legend.svg);

  const bottomSpace = FONT_SIZE + 10 + (spec.xLabel ? FONT_SIZE + 12 : 0);
  const plotH = Math.max(20, box.y + box.h - bottomSpace - 8 - top);
  const yT = spec.logY
    ? logTicks(ye[0], ye[1], Math.max(2, Math.round(plotH / 45)), spec.yRange !== undefined)
    : linearTicks(ye[0], ye[1], Math.max(2, Math.round(plotH / 45)), spec.yRange !== undefined);
  const yLabels = tickLabels(yT, spec.logY);
  const yLabelW = Math.max(0, ...yLabels.map((s) => textWidth(s)));
  const left = box.x + 10 + (spec.yLabel ? FONT_SIZE + 12 : 0) + yLabelW + 8;
  const right = box.x + box.w - 18;
  const plotW = Math.max(20, right - left);
  const bottom = top + plotH;
  // x tick count from the room each label needs, measured on the wider end of the range.
  const xLabelW = Math.max(...xe.map((v) => textWidth(String(Number(v.toPrecision(4))))));
  const xT = linearTicks(xe[0], xe[1], Math.max(2, Math.floor(plotW / Math.max(60, xLabelW + 30))), false, spec.integerX ? 1 : 0);

  const sx = (v: number): number => left + ((v - xT.min) / (xT.max - xT.min)) * plotW;
  const sy = spec.logY
    ? (v: number): number => bottom - ((Math.log10(v) - Math.log10(yT.min)) / (Math.log10(yT.max) - Math.log10(yT.min))) * plotH
    : (v: number): number => bottom - ((v - yT.min) / (yT.max - yT.min)) * plotH;

  // Grid and tick labels.
  const grid: string[] = [];
  const labels: string[] = [];
  yT.values.forEach((v, i) => {
    const y = sy(v);
    grid.push(tag('line', { x1: left, y1: y, x2: right, y2: y }));
    labels.push(text(left - 8, y + FONT_SIZE * 0.35, yLabels[i], { 'text-anchor': 'end' }));
  });
  const xLabels = tickLabels(xT, false);
  xT.values.forEach((v, i) => {
    const x = sx(v);
    grid.push(tag('line', { x1: x, y1: top, x2: x, y2: bottom }));
    labels.push(text(x, bottom + FONT_SIZE + 6, xLabels[i], { 'text-anchor': 'middle' }));
  });
  out.push(tag('g', { class: 'grid', stroke: GRID_COLOR, 'stroke-width': 1 }, grid.join('')));
  out.push(tag('g', { class: 'ticks', fill: MUTED_COLOR }, labels.join('')));
  out.push(tag('rect', { x: left, y: top, width: plotW, height: plotH, fill: 'none', stroke: FRAME_COLOR, 'stroke-width': 1 }));

  if (spec.xLabel) {
    out.push(text(left + plotW / 2, bottom + 2 * FONT_SIZE + 16, spec.xLabel, { 'text-anchor': 'middle', fill: TEXT_COLOR }));
  }
  if (spec.yLabel) {
    const x = box.x + 10 + FONT_SIZE;
    const y = top + plotH / 2;
    out.push(text(x, y, spec.yLabel, { 'text-anchor': 'middle', fill: TEXT_COLOR, transform: `rotate(-90 ${px(x)} ${px(y)})` }));
  }

  // Series, clipped to the frame (matters with yRange, and for the stroke width at the edges).
  const clipId = `${spec.id}-clip`;
  out.push(tag('defs', {}, tag('clipPath', { id: clipId }, tag('rect', { x: left, y: top, width: plotW, height: plotH }))));
  const lines: string[] = [];
  let drawn = 0;
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const drawable = s.points.filter((p) => isDrawable(p, spec.logY));
    drawn += drawable.length;
    // Markers make short curves (a few epochs) readable; on dense curves they would only add ink.
    const markers = drawable.length > 0 && drawable.length <= 60 && plotW / drawable.length >= 8;
    const segments: Point[][] = [[]];
    for (const p of s.points) {
      if (isDrawable(p, spec.logY)) segments[segments.length - 1].push(p);
      else if (segments[segments.length - 1].length > 0) segments.push([]);
    }
    const body: string[] = [];
    for (const seg of segments) {
      if (seg.length >= 2) {
        body.push(
          tag('polyline', {
            points: seg.map((p) => `${px(sx(p[0]))},${px(sy(p[1]))}`).join(' '),
            fill: 'none',
            stroke: color,
            'stroke-width': 2,
            'stroke-linejoin': 'round',
            'stroke-linecap': 'round',
            'stroke-dasharray': s.dashed ? DASH : undefined,
          }),
        );
      }
      // An isolated point would otherwise be invisible, so it always gets a marker.
      if (markers || seg.length === 1) {
        for (const p of seg) body.push(tag('circle', { cx: sx(p[0]), cy: sy(p[1]), r: s.dashed ? 2.5 : 3, fill: s.dashed ? '#ffffff' : color, stroke: color, 'stroke-width': 1.5 }));
      }
    }
    lines.push(tag('g', { class: 'series', 'data-name': s.name }, body.join('')));
  });
  out.push(tag('g', { 'clip-path': `url(#${clipId})` }, lines.join('')));
  if (drawn === 0) {
    out.push(text(left + plotW / 2, top + plotH / 2, 'no data', { 'text-anchor': 'middle', fill: MUTED_COLOR, 'font-style': 'italic' }));
  }
  return tag('g', { class: 'panel' }, out.join(''));
}

// ---------------------------------------------------------------------------------------------------------------
// Public charts

/** FNV-1a, to derive ids that differ between charts yet keep the output deterministic. */
function hashId(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return 'rn' + (h >>> 0).toString(36);
}

function checkSize(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 100 || v > 20000) throw invalidArg('a number of pixels in [100, 20000]', name, v, 'ERR_RN_RANGE');
  return v;
}

function checkSeries(series: unknown, name: string): readonly Series[] {
  if (!Array.isArray(series)) throw invalidArg('an array of series', name, series);
  series.forEach((s: unknown, i) => {
    const ok = typeof s === 'object' && s !== null && typeof (s as Series).name === 'string' && Array.isArray((s as Series).points);
    if (!ok) throw invalidArg('a series { name: string, points: [x, y][] }', `${name}[${i}]`, s);
  });
  return series as readonly Series[];
}

function svgDocument(width: number, height: number, title: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1"${attrs({ width, height, viewBox: `0 0 ${px(width)} ${px(height)}`, 'font-family': FONT_FAMILY, 'font-size': FONT_SIZE })}>` +
    (title ? `<title>${escapeXml(title)}</title>` : '') +
    tag('rect', { width: '100%', height: '100%', fill: '#ffffff' }) +
    body +
    '</svg>\n'
  );
}

/** A single line chart: title, legend (series with a non-empty name), grid, 1-2-5 ticks, axis labels. */
export function lineChart(opts: LineChartOptions): string {
  if (typeof opts !== 'object' || opts === null) throw invalidArg('an options object', 'lineChart(opts)', opts);
  const width = checkSize(opts.width ?? 720, 'lineChart opts.width');
  const height = checkSize(opts.height ?? 420, 'lineChart opts.height');
  const series = checkSeries(opts.series, 'lineChart opts.series');
  const logY = opts.logY === true;
  const yRange = opts.yRange;
  if (yRange !== undefined) {
    const ok = Array.isArray(yRange) && yRange.length === 2 && yRange.every(Number.isFinite) && yRange[0] < yRange[1] && (!logY || yRange[0] > 0);
    if (!ok) throw invalidArg(`[min, max] with min < max${logY ? ' and min > 0 (log axis)' : ''}`, 'lineChart opts.yRange', yRange, 'ERR_RN_RANGE');
  }
  const legend = series
    .map((s, i) => ({ label: s.name, color: s.color ?? PALETTE[i % PALETTE.length], dashed: s.dashed === true }))
    .filter((it) => it.label !== '');
  const id = hashId(JSON.stringify([opts.title, width, height, series.map((s) => s.name)]));
  const panel = renderPanel(
    { title: opts.title, xLabel: opts.xLabel, yLabel: opts.yLabel, series, logY, yRange, legend, id: `${id}-0` },
    { x: 0, y: 0, w: width, h: height },
  );
  return svgDocument(width, height, opts.title ?? '', panel);
}

/** Accuracies stored as fractions are shown in percent; decided over all runs so runs stay comparable. */
function accuracyScale(runs: readonly RunCurves[]): number {
  let max = -Infinity;
  for (const r of runs) {
    for (const e of r.epochs) {
      for (const v of [e.trainAcc, e.testAcc]) if (v !== undefined && Number.isFinite(v) && v > max) max = v;
    }
  }
  return max <= 1 ? 100 : 1;
}

/**
 * Loss (left) and accuracy (right) per epoch for one or more runs: one colour per run, train solid, test dashed.
 * The loss axis is logarithmic when losses are positive and span a factor of 10 or more. Without any accuracy
 * values, the loss panel takes the full width.
 */
export function trainingCurves(runs: readonly RunCurves[], opts: TrainingCurvesOptions = {}): string {
  // `as unknown`: Array.isArray would otherwise narrow the readonly array to any[].
  if (!Array.isArray(runs as unknown)) throw invalidArg('an array of runs { name, epochs }', 'trainingCurves(runs)', runs);
  runs.forEach((r: unknown, i) => {
    const ok = typeof r === 'object' && r !== null && typeof (r as RunCurves).name === 'string' && Array.isArray((r as RunCurves).epochs);
    if (!ok) throw invalidArg('a run { name: string, epochs: [] }', `trainingCurves(runs)[${i}]`, r);
  });
  const width = checkSize(opts.width ?? 1080, 'trainingCurves opts.width');
  const height = checkSize(opts.height ?? 440, 'trainingCurves opts.height');

  const color = (i: number): string => PALETTE[i % PALETTE.length];
  const pts = (r: RunCurves, f: (e: EpochPoint) => number | undefined, scale = 1): Point[] =>
    r.epochs.filter((e) => f(e) !== undefined).map((e) => [e.epoch, f(e)! * scale] as const);

  const lossSeries: Series[] = [];
  const accSeries: Series[] = [];
  const accScale = accuracyScale(runs);
  runs.forEach((r, i) => {
    lossSeries.push({ name: `${r.name} train`, points: pts(r, (e) => e.trainLoss), color: color(i) });
    lossSeries.push({ name: `${r.name} test`, points: pts(r, (e) => e.testLoss), color: color(i), dashed: true });
    accSeries.push({ name: `${r.name} train`, points: pts(r, (e) => e.trainAcc, accScale), color: color(i) });
    accSeries.push({ name: `${r.name} test`, points: pts(r, (e) => e.testAcc, accScale), color: color(i), dashed: true });
  });
  const finite = (ss: Series[]): number[] => ss.flatMap((s) => s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1])).map((p) => p[1]));
  const losses = finite(lossSeries);
  const lossExtent = extent(losses);
  const logLoss = lossExtent !== undefined && lossExtent[0] > 0 && lossExtent[1] / lossExtent[0] >= 10;
  const hasAcc = finite(accSeries).length > 0;
  const hasTest = runs.some((r) => r.epochs.some((e) => e.testLoss !== undefined || e.testAcc !== undefined));

  // One shared legend: a colour per run, then the line-style key.
  const items: LegendItem[] = runs.map((r, i) => ({ label: r.name, color: color(i), dashed: false }));
  items.push({ label: 'train', color: KEY_COLOR, dashed: false });
  if (hasTest) items.push({ label: 'test', color: KEY_COLOR, dashed: true });

  const parts: string[] = [];
  let top = 0;
  if (opts.title) {
    parts.push(text(width / 2, 8 + TITLE_SIZE, opts.title, { 'text-anchor': 'middle', 'font-size': TITLE_SIZE, 'font-weight': 'bold', fill: TEXT_COLOR }));
    top = TITLE_SIZE + 14;
  }
  const legend = renderLegend(items, 16, top + 10, width - 32);
  parts.push(legend.svg);
  top += legend.height + 14;

  const id = hashId(JSON.stringify(['curves', opts.title, width, height, runs.map((r) => r.name)]));
  const panelW = hasAcc ? width / 2 : width;
  parts.push(
    renderPanel(
      { title: 'Loss', xLabel: 'epoch', yLabel: logLoss ? 'loss (log scale)' : 'loss', series: lossSeries, logY: logLoss, integerX: true, id: `${id}-0` },
      { x: 0, y: top, w: panelW, h: height - top },
    ),
  );
  if (hasAcc) {
    parts.push(
      renderPanel(
        { title: 'Accuracy', xLabel: 'epoch', yLabel: 'accuracy (%)', series: accSeries, logY: false, integerX: true, id: `${id}-1` },
        { x: panelW, y: top, w: panelW, h: height - top },
      ),
    );
  }
  return svgDocument(width, height, opts.title ?? `Training curves: ${runs.map((r) => r.name).join(', ')}`, parts.join(''));
}

// ---------------------------------------------------------------------------------------------------------------
// metrics.jsonl

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  // JSON cannot hold NaN or Infinity: JSON.stringify writes them as null, so a null means "diverged" (a gap).
  if (v === null) return NaN;
  return undefined;
}

/**
 * Parses metrics.jsonl text into epoch records, sorted by epoch. Lines of other types are ignored; a last line that
 * is not valid JSON (a run killed mid-write) is dropped; when an epoch appears twice (a resumed run), the later
 * record wins. `source` only names the input in errors.
 */
export function parseMetricsJsonl(textIn: string, source = 'metrics.jsonl'): EpochMetrics[] {
  const lines = textIn.split('\n');
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  const byEpoch = new Map<number, EpochMetrics>();
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const last = i === lines.length - 1;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      if (last) return;
      throw rnError('ERR_RN_FORMAT', `readMetricsJsonl: line ${i + 1} of ${source} is not valid JSON`);
    }
    if (typeof rec !== 'object' || rec === null || (rec as { type?: unknown }).type !== 'epoch') return;
    const r = rec as Record<string, unknown>;
    if (typeof r.epoch !== 'number' || !Number.isFinite(r.epoch)) {
      throw rnError('ERR_RN_FORMAT', `readMetricsJsonl: line ${i + 1} of ${source} has no numeric epoch`);
    }
    const e: EpochMetrics = { epoch: r.epoch, trainLoss: num(r.trainLoss) ?? NaN };
    const optional = ['testLoss', 'trainAcc', 'testAcc', 'lr', 'seconds', 'imgPerSec'] as const;
    for (const k of optional) {
      const v = num(r[k]);
      if (v !== undefined) e[k] = v;
    }
    byEpoch.set(e.epoch, e);
  });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** Reads a run's metrics.jsonl (see parseMetricsJsonl). */
export function readMetricsJsonl(path: string): EpochMetrics[] {
  if (typeof path !== 'string' || path === '') throw invalidArg('a file path', 'readMetricsJsonl(path)', path);
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (err) {
    throw rnError('ERR_RN_LOAD', `readMetricsJsonl: cannot read ${path}: ${(err as Error).message}`);
  }
  return parseMetricsJsonl(content, path);
}
