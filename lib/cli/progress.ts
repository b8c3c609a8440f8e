/**
 * Progress display for training epochs.
 *
 * On a terminal, one line is redrawn in place:
 *   `epoch 3/10 [=========>        ] 212/391  loss 0.4123  acc 87.2%  412 img/s  ETA 0:35`
 * Elsewhere (CI logs, files, pipes), where \r and escape codes would leave garbage, it prints plain lines, at most
 * one per `logEvery` steps (10% of the epoch by default), plus the final line from done().
 */
import { invalidArg } from '../errors';

/** What the bar writes to: process.stdout / process.stderr, or anything shaped like them (tests). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** Terminal width; 80 when unknown. */
  columns?: number;
}

export type ProgressFields = Record<string, string | number>;

export interface ProgressBarOptions {
  /** Steps in the epoch (batches). */
  total: number;
  label?: string;
  stream?: ProgressStream;
  /** Redraw in place; defaults to stream.isTTY. */
  tty?: boolean;
  /** Clock in milliseconds (injectable for tests); defaults to performance.now. */
  now?: () => number;
  /** Least time between two redraws on a TTY; 100 ms keeps redraws at ~10/s, cheap for terminal and training loop. */
  minIntervalMs?: number;
  /** Steps between two log lines when not on a TTY; defaults to 10% of total. */
  logEvery?: number;
}

const CLEAR_LINE = '\r\x1b[2K';
const MAX_BAR = 30;
const MIN_BAR = 6;

/** `0:35`, `12:04`, `1:02:03`; `--:--` for unknown (negative, NaN, infinite) durations. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * A number for a status line. Fixed decimals per magnitude rather than significant digits, so that a value that
 * drifts (a loss going 0.4123 → 0.4100) keeps its width and the line does not jitter.
 */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a < 1e-3) return v.toExponential(2);
  if (a < 10) return v.toFixed(4);
  if (a < 100) return v.toFixed(2);
  return v.toFixed(0);
}

/** `loss 0.4123`; keys that read as a unit (containing '/', like img/s) follow the value: `412 img/s`. */
export function formatField(key: string, value: string | number): string {
  const v = typeof value === 'number' ? formatNumber(value) : value;
  if (key === '') return v;
  return key.includes('/') ? `${v} ${key}` : `${key} ${v}`;
}

function formatFields(fields: ProgressFields): string {
  return Object.entries(fields)
    .map(([k, v]) => formatField(k, v))
    .join('  ');
}

export class ProgressBar {
  readonly total: number;
  readonly label: string;
  readonly tty: boolean;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly minIntervalMs: number;
  private readonly logEvery: number;
  private readonly start: number;
  private step = 0;
  private fields: ProgressFields = {};
  private lastDraw = -Infinity;
  private lastLogged = 0;
  /** Whether the TTY line currently shows the bar (log() has to clear and redraw it). */
  private drawn = false;
  private finished = false;

  constructor(opts: ProgressBarOptions) {
    if (typeof opts !== 'object' || opts === null) throw invalidArg('an options object', 'ProgressBar(opts)', opts);
    const { total } = opts;
    if (typeof total !== 'number' || !Number.isInteger(total) || total < 1) {
      throw invalidArg('a positive integer', 'ProgressBar opts.total', total, 'ERR_RN_RANGE');
    }
    this.total = total;
    this.label = opts.label ?? '';
    this.stream = opts.stream ?? process.stdout;
    this.tty = opts.tty ?? this.stream.isTTY === true;
    this.now = opts.now ?? (() => performance.now());
    this.minIntervalMs = opts.minIntervalMs ?? 100;
    this.logEvery = Math.max(1, Math.floor(opts.logEvery ?? Math.ceil(total / 10)));
    this.start = this.now();
  }

  /** Seconds since the bar was created. */
  get elapsed(): number {
    return (this.now() - this.start) / 1000;
  }

  /** Records that `step` of `total` steps are done, with the latest fields. Ignored after done(). */
  update(step: number, fields: ProgressFields = {}): void {
    if (typeof step !== 'number' || Number.isNaN(step)) throw invalidArg('a number', 'ProgressBar.update(step)', step);
    if (this.finished) return;
    this.step = Math.max(0, Math.min(this.total, Math.floor(step)));
    this.fields = fields;
    if (this.tty) {
      const t = this.now();
      if (t - this.lastDraw < this.minIntervalMs) return;
      this.lastDraw = t;
      this.draw();
    } else if (this.step < this.total && Math.floor(this.step / this.logEvery) > Math.floor(this.lastLogged / this.logEvery)) {
      // Logged when a multiple of logEvery is crossed, so irregular update() calls cannot shift the cadence; the
      // last step is left to done(), which would otherwise repeat it.
      this.lastLogged = this.step;
      this.stream.write(this.line(false) + '\n');
    }
  }

  /** Prints the final line (last step, summary fields or else the last fields, total time) and ends it. Idempotent. */
  done(summaryFields?: ProgressFields): void {
    if (this.finished) return;
    this.finished = true;
    if (summaryFields) this.fields = summaryFields;
    this.stream.write((this.tty ? CLEAR_LINE : '') + this.line(true) + '\n');
    this.drawn = false;
  }

  /** Prints a message line without corrupting the bar (on a TTY: clear, print, redraw). */
  log(message: string): void {
    if (this.tty && this.drawn) {
      this.stream.write(CLEAR_LINE + message + '\n');
      this.draw();
    } else {
      this.stream.write(message + '\n');
    }
  }

  private draw(): void {
    this.stream.write(CLEAR_LINE + this.line(false));
    this.drawn = true;
  }

  private tail(final: boolean): string {
    if (final) return `in ${formatDuration(this.elapsed)}`;
    const eta = this.step > 0 ? (this.elapsed / this.step) * (this.total - this.step) : NaN;
    return `ETA ${formatDuration(eta)}`;
  }

  /** The status line; on a TTY fitted to stream.columns - 1 (writing the last column makes some terminals wrap). */
  private line(final: boolean): string {
    const count = `${String(this.step).padStart(String(this.total).length)}/${this.total}`;
    const fields = formatFields(this.fields);
    const rest = [count, fields, this.tail(final)].filter((s) => s !== '').join('  ');
    const label = this.label === '' ? '' : this.label + ' ';
    if (!this.tty) {
      return `${label}${count} (${Math.floor((100 * this.step) / this.total)}%)${rest.slice(count.length)}`;
    }
    const max = Math.max(20, (this.stream.columns ?? 80) - 1);
    const barWidth = Math.min(MAX_BAR, max - label.length - rest.length - 3);
    const line = barWidth >= MIN_BAR ? `${label}[${this.bar(barWidth)}] ${rest}` : `${label}${rest}`;
    return line.length > max ? line.slice(0, max - 1) + '…' : line;
  }

  private bar(width: number): string {
    if (this.step >= this.total) return '='.repeat(width);
    const filled = Math.floor((this.step / this.total) * width);
    return '='.repeat(filled) + '>' + ' '.repeat(width - filled - 1);
  }
}
