// The terminal front end: `prune-lens analyze | prune | validate | sensitivity`.
// Each command lives in its own file and shares the core with the extension.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { isPruneLensError } from '../onnx/errors';
import { analyzeCommand } from './analyze';
import { pruneCommand } from './prune';
import { sensitivityCommand } from './sensitivity';
import { validateCommand } from './validate';

const HELP = `prune-lens: inspect and prune ONNX models

usage:
  prune-lens analyze MODEL [--json] [--progress] [--seq-len N] [--input-shape 1x3x96x96 | --data X.npy]
                                               the layer table: channels, norms, BN gammas, attention heads, params,
                                               MACs (a language model's at N tokens, else per token; a model with
                                               named dims at the given input size)
  prune-lens prune MODEL (--plan P.prune.json | --method M --amount A [--structured] [--global] [--ignore NAME]...) [-o OUT] [--json]
                                               apply a pruning plan or a one-step shortcut; writes a new file, never the original
  prune-lens validate ORIGINAL PRUNED [--data X.npy --labels Y.npy] [--ep cuda,webgpu,cpu] [--batch N] [--json]
                                               accuracy, agreement and latency of a pruned model against its original
  prune-lens sensitivity MODEL --data X.npy [--labels Y.npy] [--ratios 0.1,...,0.9] [--suggest F [-o PLAN]] [--json]
                                               accuracy (or agreement) per layer group as it is pruned alone; suggests a plan
  prune-lens help [COMMAND], --help, -h        this text, or one command's usage
  prune-lens --version, -V                     the version

exit status: 0 done, 1 failed (a bad model or data, a failed run), 2 wrong usage, 130 cancelled (Ctrl-C)
`;

type Command = (argv: string[], signal: AbortSignal) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  analyze: (argv, signal) => analyzeCommand(argv, undefined, signal),
  prune: (argv, signal) => pruneCommand(argv, undefined, signal),
  validate: (argv) => validateCommand(argv),
  sensitivity: (argv) => sensitivityCommand(argv),
};

const isHelp = (a: string) => a === '--help' || a === '-h';

/** One command's lines of HELP (its usage and what it does). */
function commandHelp(cmd: string): string {
  const lines = HELP.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  prune-lens ${cmd} `));
  let end = start + 1;
  while (end < lines.length && /^ {20,}/.test(lines[end])) end++;
  return `usage:\n${lines.slice(start, end).join('\n')}\n`;
}

/** The version of the package this bundle (dist/cli.js) or source file belongs to. */
export function version(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'prune-lens' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // No command is a usage error (stderr, 2); asking for help is not (stdout, 0).
  if (!cmd) {
    process.stderr.write(HELP);
    return 2;
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`prune-lens ${version()}\n`);
    return 0;
  }
  if (cmd === 'help' || isHelp(cmd)) {
    const topic = rest[0];
    if (topic && COMMANDS[topic]) process.stdout.write(commandHelp(topic));
    else process.stdout.write(HELP);
    return 0;
  }
  const run = COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`prune-lens: unknown command "${cmd}"\n\n${HELP}`);
    return 2;
  }
  if (rest.some(isHelp)) {
    process.stdout.write(commandHelp(cmd));
    return 0;
  }
  // Ctrl-C cancels the work (nothing half-written is left); a second one ends the process at once.
  const cancel = new AbortController();
  const onInt = () => {
    if (cancel.signal.aborted) process.exit(130);
    process.stderr.write('\ncancelling (Ctrl-C again to quit at once)\n');
    cancel.abort();
  };
  process.on('SIGINT', onInt);
  try {
    return await run(rest, cancel.signal);
  } catch (e) {
    const err = e as Error & { usage?: boolean };
    if (err.usage) {
      process.stderr.write(`prune-lens ${cmd}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`prune-lens ${cmd}: ${isPruneLensError(e) ? e.message : err.stack ?? String(e)}\n`);
    return isPruneLensError(e) && e.code === 'cancelled' ? 130 : 1;
  } finally {
    process.off('SIGINT', onInt);
  }
}

if (require.main === module) {
  // exitCode, not exit(): a piped stdout must drain before the process ends.
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
