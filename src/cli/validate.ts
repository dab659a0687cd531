// `prune-lens validate ORIGINAL PRUNED [--data X] [--labels Y] [--ep LIST] [--batch N] [--json]`:
// what pruning cost, in accuracy, agreement with the original and speed.

import { analyzeFile } from '../analysis';
import type { ValidationReport } from '../validation';
import { validate, type WorkerClientOptions } from '../worker';
import { bytes, fixed, human, percent, table } from './format';

const USAGE = `usage: prune-lens validate ORIGINAL PRUNED [options]
  --data FILE|DIR     .npy, .npz or a folder of .npy files (default: seeded random inputs)
  --labels FILE       .npy of class indices, one per sample; or [N, T] next-token targets
                      for a language model (logits [N, T, V]): perplexity and next-token accuracy
  --ep LIST           execution providers in order of preference, e.g. cuda,webgpu,cpu
  --batch N           samples per batch (default 32)
  --samples N         use at most N samples (generated data: exactly N, default 256)
  --warmup N          untimed runs before timing (default 3)
  --seed N            seed for generated inputs (default 0)
  --dim NAME=SIZE     size of a symbolic input dimension, for generated inputs (repeatable)
  --cuda-path DIR     folder with libonnxruntime_providers_cuda.so and the CUDA libraries
  --memory-limit MIB  the worker's memory budget; past it: "ran out of memory at batch K"
                      (default: three quarters of this machine's memory)
  --json              print the report as JSON`;

const VALUE_OPTIONS = ['--data', '--labels', '--ep', '--batch', '--samples', '--warmup', '--seed', '--dim', '--cuda-path', '--memory-limit'];

interface Parsed {
  files: string[];
  values: Map<string, string[]>;
  json: boolean;
}

function parse(argv: string[]): Parsed {
  const parsed: Parsed = { files: [], values: new Map(), json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') && !arg.startsWith('--dim=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--json') parsed.json = true;
    else if (VALUE_OPTIONS.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw usage(`${name} needs a value`);
      parsed.values.set(name, [...(parsed.values.get(name) ?? []), value]);
    } else if (arg.startsWith('--')) throw usage(`unknown option ${arg}`);
    else parsed.files.push(arg);
  }
  if (parsed.files.length !== 2) throw usage(parsed.files.length < 2 ? 'give ORIGINAL and PRUNED models' : `unexpected argument ${parsed.files[2]}`);
  return parsed;
}

function usage(why: string): Error {
  return Object.assign(new Error(`${why}\n${USAGE}`), { usage: true });
}

function integer(parsed: Parsed, name: string, min: number): number | undefined {
  const text = parsed.values.get(name)?.at(-1);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw usage(`${name} must be an integer of at least ${min}, not '${text}'`);
  return n;
}

function dims(parsed: Parsed): Record<string, number> | undefined {
  const entries = parsed.values.get('--dim');
  if (!entries) return undefined;
  return Object.fromEntries(entries.map((e) => {
    const m = /^(.+)=(\d+)$/.exec(e);
    if (!m || Number(m[2]) < 1) throw usage(`--dim takes NAME=SIZE, not '${e}'`);
    return [m[1], Number(m[2])];
  }));
}

export async function validateCommand(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s + '\n'),
  clientOptions: WorkerClientOptions = {},
): Promise<number> {
  const parsed = parse(argv);
  const last = (name: string) => parsed.values.get(name)?.at(-1);
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  const showProgress = !parsed.json && process.stderr.isTTY;
  try {
    const report = await validate({
      original: parsed.files[0],
      pruned: parsed.files[1],
      data: last('--data'),
      labels: last('--labels'),
      providers: last('--ep')?.split(','),
      batchSize: integer(parsed, '--batch', 1),
      samples: integer(parsed, '--samples', 1),
      warmup: integer(parsed, '--warmup', 0),
      seed: integer(parsed, '--seed', 0),
      dims: dims(parsed),
      measure: async (file) => {
        const { params, macs } = (await analyzeFile(file)).totals;
        return { params, macs };
      },
      clientOptions: {
        ...clientOptions,
        cudaLibraryPath: last('--cuda-path') ?? clientOptions.cudaLibraryPath,
        memoryLimitMb: integer(parsed, '--memory-limit', 64) ?? clientOptions.memoryLimitMb,
      },
      signal: controller.signal,
      onProgress: showProgress ? (e) => process.stderr.write(`\r\x1b[K${e.message}`) : undefined,
    });
    if (showProgress) process.stderr.write('\r\x1b[K');
    out(parsed.json ? JSON.stringify(report, null, 2) : render(report));
    return 0;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function ms(n: number): string {
  return Number.isFinite(n) ? `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms` : '-';
}

function change(before: number, after: number): string {
  if (!before || !Number.isFinite(before) || !Number.isFinite(after)) return '';
  const f = after / before - 1;
  return `${f > 0 ? '+' : ''}${(f * 100).toFixed(1)}%`;
}

export function render(r: ValidationReport): string {
  const o = r.original;
  const p = r.pruned;
  const skipped = r.attempts.filter((a) => !a.ok).map((a) => `  ${a.provider} skipped: ${a.reason}`);
  const rows: string[][] = [
    ['size', bytes(o.bytes), bytes(p.bytes), change(o.bytes, p.bytes)],
    ['params', o.params ? human(o.params) : '-', p.params ? human(p.params) : '-', change(o.params, p.params)],
    ['MACs', o.macs ? human(o.macs) : '-', p.macs ? human(p.macs) : '-', change(o.macs, p.macs)],
    ...(o.perplexity !== undefined && p.perplexity !== undefined
      ? [['perplexity', fixed(o.perplexity, 3), fixed(p.perplexity, 3), change(o.perplexity, p.perplexity)]]
      : []),
    ...(o.accuracy !== undefined && p.accuracy !== undefined
      ? [[r.tokens !== undefined ? 'next-token accuracy' : 'accuracy', percent(o.accuracy), percent(p.accuracy), `${p.accuracy >= o.accuracy ? '+' : ''}${((p.accuracy - o.accuracy) * 100).toFixed(1)} pt`]]
      : []),
    ['latency p50 / batch', ms(o.latency.p50), ms(p.latency.p50), change(o.latency.p50, p.latency.p50)],
    ['latency p95 / batch', ms(o.latency.p95), ms(p.latency.p95), change(o.latency.p95, p.latency.p95)],
    ['throughput (samples/s)', human(Math.round(o.latency.throughput)), human(Math.round(p.latency.throughput)), change(o.latency.throughput, p.latency.throughput)],
  ];
  return [
    `original  ${o.file}`,
    `pruned    ${p.file}`,
    `data      ${r.data}: ${r.samples} samples${r.tokens !== undefined ? ` (${r.tokens} tokens)` : ''} in batches of ${r.batchSize}${r.labels ? ', with labels' : ''}`,
    `provider  ${r.provider}`,
    ...skipped,
    '',
    table(['', 'original', 'pruned', 'change'], rows),
    '',
    `top-1 agreement${r.tokens !== undefined ? ' per token' : ''} ${percent(r.agreement)} · output ${r.output ?? ''} max |diff| ${fixed(r.maxAbsDiff, 4)}, mean |diff| ${fixed(r.meanAbsDiff, 4)}, cosine ${fixed(r.cosine, 4)} · speedup ${fixed(r.speedup, 2)}x`,
    ...(r.warnings ?? []).map((w) => `warning: ${w}`),
  ].join('\n');
}
