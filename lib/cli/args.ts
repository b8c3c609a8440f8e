/** A small, strict command-line parser: --name value, --name=value, --flag, --no-flag. */
import { rnError } from '../errors';

export type ArgSpec = Record<string, { type: 'string' | 'number' | 'boolean'; default?: string | number | boolean; help: string }>;
export type Parsed = { _: string[] } & Record<string, string | number | boolean | string[] | undefined>;

export function parseArgs(argv: string[], spec: ArgSpec, command: string): Parsed {
  const out: Parsed = { _: [] };
  for (const [k, s] of Object.entries(spec)) if (s.default !== undefined) out[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    let [name, value] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const camel = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    let key = camel;
    let s = spec[key];
    if (!s && camel.startsWith('no') && spec[camel[2]?.toLowerCase() + camel.slice(3)]?.type === 'boolean') {
      key = camel[2].toLowerCase() + camel.slice(3);
      out[key] = false;
      continue;
    }
    if (!s) throw rnError('ERR_RN_ARG', `${command}: unknown option --${name} (see resnode ${command} --help)`);
    if (s.type === 'boolean') {
      out[key] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw rnError('ERR_RN_ARG', `${command}: option --${name} needs a value`);
    }
    if (s.type === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw rnError('ERR_RN_ARG', `${command}: expected a number for --${name} but received "${value}"`);
      out[key] = n;
    } else out[key] = value;
    s = spec[key];
  }
  return out;
}

export function helpText(command: string, summary: string, spec: ArgSpec): string {
  const lines = [`resnode ${command} — ${summary}`, '', 'Options:'];
  for (const [k, s] of Object.entries(spec)) {
    const flag = '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    lines.push(`  ${(flag + (s.type === 'boolean' ? '' : ` <${s.type}>`)).padEnd(30)} ${s.help}${s.default !== undefined ? ` (default: ${s.default})` : ''}`);
  }
  return lines.join('\n');
}
