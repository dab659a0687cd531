// `prune-lens sensitivity MODEL --data X [--labels Y] [--ratios 0.1,…] [--json] [--suggest F -o PLAN]`:
// how much each layer (channel group) tolerates pruning on its own, and
// optionally a plan that removes a share F of the MACs with the least predicted loss.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeModel } from '../analysis';
import { loadModel, writeAtomic } from '../onnx/model';
import { PruneLensError } from '../onnx/errors';
import { analyzeSensitivity, DEFAULT_RATIOS, sensitivityByKind, suggestPlan } from '../pruning/sensitivity';
import { isOneOf, readMethod, STRUCTURED_METHODS } from '../pruning/methods';
import { openCalibration } from '../validation/activations';
import { fixed, percent, table } from './format';

const KIND_WORDS = { attention: 'heads', mlp: 'MLP', hidden: 'hidden size' } as const;

const USAGE = `usage: prune-lens sensitivity MODEL --data X [options]
  --data FILE|DIR      validation inputs: .npy, .npz or a folder of .npy files
  --labels FILE        .npy of class indices (without: agreement with the unpruned model)
  --ratios LIST        pruning ratios to measure (default ${DEFAULT_RATIOS.join(',')})
  --criterion NAME     how channels are ranked: ${STRUCTURED_METHODS.join(', ')} (default l1)
  --calibration FILE   calibration inputs for wanda, activation-norm and fluctuation (default: --data)
  --ignore NAME        a layer never pruned, by name or glob (repeatable)
  --samples N          use at most N samples
  --batch N            samples per run (default 64)
  --suggest F          also suggest a plan that removes the share F of the MACs (e.g. 0.5)
  -o, --out FILE       where the suggested plan goes (default MODEL-name.suggested.prune.json)
  --json               print the report (and suggestion) as JSON`;

const VALUE_OPTIONS = ['--data', '--labels', '--ratios', '--criterion', '--calibration', '--ignore', '--samples', '--batch', '--suggest', '--out', '-o'];

function usage(why: string): Error {
  return Object.assign(new Error(`${why}\n${USAGE}`), { usage: true });
}

export async function sensitivityCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<number> {
  const files: string[] = [];
  const values = new Map<string, string[]>();
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (name === '--json') json = true;
    else if (VALUE_OPTIONS.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw usage(`${name} needs a value`);
      const key = name === '-o' ? '--out' : name;
      values.set(key, [...(values.get(key) ?? []), value]);
    } else if (arg.startsWith('-')) throw usage(`unknown option ${arg}`);
    else files.push(arg);
  }
  if (files.length !== 1) throw usage(files.length ? `unexpected argument ${files[1]}` : 'give a MODEL');
  const last = (n: string) => values.get(n)?.at(-1);
  const data = last('--data');
  if (!data) throw usage('--data is required: sensitivity is measured on validation data');
  const number = (n: string, check: (v: number) => boolean, what: string) => {
    const t = last(n);
    if (t === undefined) return undefined;
    const v = Number(t);
    if (!check(v)) throw usage(`${n} must be ${what}, not '${t}'`);
    return v;
  };
  const samples = number('--samples', (v) => Number.isInteger(v) && v >= 1, 'a whole number of at least 1');
  const batch = number('--batch', (v) => Number.isInteger(v) && v >= 1, 'a whole number of at least 1') ?? 64;
  const target = number('--suggest', (v) => v > 0 && v < 1, 'a fraction between 0 and 1');
  const ratios = last('--ratios')?.split(',').map((t) => {
    const v = Number(t);
    if (!(v > 0 && v < 1)) throw usage(`--ratios takes fractions between 0 and 1, not '${t}'`);
    return v;
  });
  const word = readMethod(last('--criterion') ?? 'l1');
  if (!word || !isOneOf(STRUCTURED_METHODS, word.method)) throw usage(`--criterion ${last('--criterion')} is not a method that ranks channels (one of ${STRUCTURED_METHODS.join(', ')})`);
  if (word.deprecated) process.stderr.write(`warning: ${word.deprecated}\n`);
  const criterion = word.method;

  const modelFile = files[0];
  const planFile = target === undefined ? undefined
    : last('--out') ?? path.join(path.dirname(modelFile), `${path.basename(modelFile, '.onnx')}.suggested.prune.json`);
  if (planFile && fs.existsSync(planFile)) throw new PruneLensError('io', 'the plan file already exists; choose another with -o', {}, planFile);
  const model = await loadModel(modelFile);
  const source = await openCalibration(model, { data, labels: last('--labels'), size: samples ?? Number.MAX_SAFE_INTEGER, batch });
  const calibrationFile = last('--calibration');
  const calibration = calibrationFile ? await openCalibration(model, { data: calibrationFile, batch }) : undefined;
  const progress = !json && process.stderr.isTTY;
  const report = await analyzeSensitivity(model, source, {
    ratios, criterion, ignore: values.get('--ignore'), calibration,
    onProgress: progress ? (p) => process.stderr.write(`\r\x1b[K${p.done}/${p.total} ${p.layer}`) : undefined,
  });
  if (progress) process.stderr.write('\r\x1b[K');

  let suggestion: Awaited<ReturnType<typeof suggestPlan>> | undefined;
  if (target !== undefined && planFile) {
    suggestion = await suggestPlan(model, report, {
      target, method: criterion, calibration: calibrationFile ? { data: path.relative(path.dirname(planFile), path.resolve(calibrationFile)) } : undefined,
    });
    await writeAtomic(planFile, [Buffer.from(JSON.stringify(suggestion.plan, null, 2) + '\n')]);
  }

  if (json) {
    out(JSON.stringify(suggestion ? { ...report, suggestion: { file: planFile, ...suggestion } } : report, null, 2));
    return 0;
  }
  const shown = new Map(analyzeModel(model).layers.map((l) => [l.name, l.displayName]));
  const label = (layers: string[]) => layers.map((l) => shown.get(l) ?? l).join(' + ');
  const r = report.curves[0]?.ratios ?? ratios ?? DEFAULT_RATIOS;
  out(`${report.metricName} of ${path.basename(modelFile)} with one layer pruned at a time (unpruned: ${fixed(report.baseline)}), ${source.description}`);
  const named = (c: (typeof report.curves)[number]) => `${c.block ? `${c.block} ` : ''}${c.kind ? `${KIND_WORDS[c.kind]}: ` : ''}${label(c.layers ?? [c.layer])}`;
  out(table(['layer', ...r.map((v) => percent(v))], report.curves.map((c) => [named(c), ...c.metric.map((m) => fixed(m))])));
  const kinds = sensitivityByKind(report);
  if (kinds.length) {
    out(`\nby kind, mean (worst) over the groups of each kind:`);
    out(table(['kind', ...r.map((v) => percent(v))], kinds.map((k) => [`${KIND_WORDS[k.kind]} (${k.groups})`, ...k.mean.map((m, j) => `${fixed(m)} (${fixed(k.worst[j])})`)])));
  }
  if (suggestion) {
    out(`\nsuggested plan, ${percent(suggestion.macsReduction)} fewer MACs, predicted ${report.metricName} loss ${fixed(suggestion.predictedLoss)}: ${planFile}`);
    for (const s of suggestion.ratios) out(`  ${label(report.curves.find((c) => c.layer === s.layer)?.layers ?? [s.layer])}: ${percent(s.ratio)} of channels`);
  }
  return 0;
}
