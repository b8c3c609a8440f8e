#!/usr/bin/env node
/**
 * The `resnode` command: train, eval, probe, plot, bench, doctor.
 * Each command lives in its own file; this one only dispatches and turns errors into messages.
 */
import { doctor, formatDoctor } from './doctor';

type Command = { summary: string; run: (argv: string[]) => Promise<number> | number };

const COMMANDS: Record<string, Command> = {
  doctor: {
    summary: 'show how resnode is installed and run a self-test on each device',
    run: (argv) => {
      const r = doctor();
      console.log(argv.includes('--json') ? JSON.stringify(r, null, 2) : formatDoctor(r));
      return r.selfTest.every((s) => s.ok) ? 0 : 1;
    },
  },
};

/** Other command files register themselves here (train, eval, probe, plot, bench). */
export function registerCommand(name: string, c: Command): void {
  COMMANDS[name] = c;
}

function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return ['Usage: resnode <command> [options]', '', 'Commands:', ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(w)}  ${c.summary}`), '', 'resnode <command> --help for the options of a command.'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  loadCommands();
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    console.error(`${usage()}\n\nresnode: unknown command "${cmd}" [ERR_RN_ARG]`);
    return 2;
  }
  try {
    return await c.run(rest);
  } catch (e) {
    const err = e as Error & { code?: string };
    console.error(`resnode ${cmd}: ${err.message}${err.code ? ` [${err.code}]` : ''}`);
    return 1;
  }
}

function loadCommands(): void {
  for (const m of ['./train', './eval', './probe_cmd', './plot', './bench']) {
    try {
      require(m);
    } catch (e) {
      if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND' || !String((e as Error).message).includes(m.slice(2))) throw e;
    }
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
