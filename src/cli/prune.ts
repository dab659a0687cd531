// `prune-lens prune MODEL (--plan P | --method M ...) [-o OUT] [--force] [--json]`:
// applies a pruning plan, or a one-step plan built from flags, and writes
// `<name>.pruned.onnx` (never over the original) plus `<out>.report.json`.

import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { findPrunableLayers } from '../analysis';
import { isPruneLensError } from '../onnx/errors';
import { GraphIndex } from '../onnx/graph';
import { loadModel, type OnnxModel } from '../onnx/model';
import { elementCount } from '../onnx/tensor';
import {
  loadPlanFile, outputPathFor, reportPathFor, runPlan, savePruned, validatePlan,
  type PlanStep, type PrunePlan,
} from '../pruning/plan';
import { isOneOf, METHODS, RECOVERY_METHODS, type RecoveryMethod } from '../pruning/methods';
import type { PruneReport } from '../pruning/report';
import { amountRule } from '../pruning/plan/amount';
import { openCalibration } from '../validation/activations';
import { assumedInputLine, bytes, fixed, human, parseInputShape, percent, progressLine, table } from './format';

const USAGE = `usage: prune-lens prune MODEL --plan PLAN.prune.json [-o OUT] [--force] [--json]
       prune-lens prune MODEL --method METHOD (--amount F | --count N | --threshold T | --nm N:M | --mask F.npy) [options]

  -o, --out FILE        output model (default: <name>.pruned.onnx next to MODEL); the report goes to FILE.report.json
  --force               replace an existing output file (the old one stays until the new one is complete)
  --external-data-threshold MB
                        weights go to FILE.data when the .onnx would pass this size (default 1800;
                        a model read with external data is always written with external data)
  --json                print the report as JSON
  --input-shape S       count MACs at this input size (1x3x640x640, or NAME=SHAPE,...) when the model has named dims
one-step plans:
  --method M            ${METHODS.join(' | ')}   (--criterion is the same)
                        (l1 on single weights is magnitude pruning, nm its N:M form)
  --structured          remove channels instead of zeroing weights
  --global              one ranking across all chosen layers (default: each layer on its own)
  --granularity G       element | filter | channel | shape   (masks; default element)
  --layers GLOB         layers by name, module path or glob (repeatable)
  --op TYPE             only layers of this op type: Conv, ConvTranspose, Gemm, MatMul (repeatable)
  --ignore GLOB         leave these layers out (repeatable)
  --amount F  --count N  --threshold T  --nm N:M  --seed S  --bias
                        (wanda and sparsegpt without --structured: --amount F or --nm N:M per layer, e.g.
                         --method sparsegpt --nm 2:4 --layers 'layers.*' --calibration train_x.npy)
  --round-to K  --mask FILE.npy  --importance FILE.npy
  --normalizer N        structured: rescale scores per layer before a global ranking:
                        mean (default) | max | sum | minmax | gaussian | none (raw scores)
  --max-ratio F         no layer loses more than this fraction (structured default 0.9)
  --calibration FILE    calibration inputs (.npy, .npz or a folder; token ids [N, T] for language models)
                        for wanda, activation-norm, fluctuation, sparsegpt and recovery
  --calibration-size N  samples used, the first N (default 256)   --calibration-batch N  samples per run (default 64)
  --recovery M          ${RECOVERY_METHODS.join(' | ')}: repair a structured prune on the calibration data
the flags are the plan's step fields: the same plan from a file gives the same model, byte for byte

amount:
  masks       ${amountRule(false)}
  --structured ${amountRule(true)}
              For n = 10 and --amount 0.25: 3 channels removed, but 2 weights masked.`;

const OPTIONS = {
  plan: { type: 'string' },
  out: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
  'external-data-threshold': { type: 'string' },
  json: { type: 'boolean' },
  method: { type: 'string' },
  criterion: { type: 'string' },
  structured: { type: 'boolean' },
  global: { type: 'boolean' },
  granularity: { type: 'string' },
  layers: { type: 'string', multiple: true },
  op: { type: 'string', multiple: true },
  ignore: { type: 'string', multiple: true },
  amount: { type: 'string' },
  count: { type: 'string' },
  threshold: { type: 'string' },
  nm: { type: 'string' },
  seed: { type: 'string' },
  bias: { type: 'boolean' },
  'round-to': { type: 'string' },
  'max-ratio': { type: 'string' },
  normalizer: { type: 'string' },
  mask: { type: 'string' },
  importance: { type: 'string' },
  calibration: { type: 'string' },
  'calibration-size': { type: 'string' },
  'calibration-batch': { type: 'string' },
  recovery: { type: 'string' },
  'input-shape': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

export async function pruneCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'),
  signal?: AbortSignal): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    throw usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw usage(positionals.length ? `give one model (got ${positionals.join(', ')})` : 'missing MODEL');
  const modelFile = path.resolve(positionals[0]);
  externalThreshold(values['external-data-threshold']);

  const { plan, planFile } = values.plan ? await fromPlanFile(values) : { plan: planFromFlags(values), planFile: undefined };
  const model = await loadModel(modelFile, { signal });
  const outFile = values.out ? path.resolve(values.out) : outputPathFor(modelFile, plan.output, planFile);

  const progress = values.json || !process.stderr.isTTY ? undefined
    : (p: { step: number; steps: number; label: string }) => {
      if (p.step < p.steps) process.stderr.write(`step ${p.step + 1}/${p.steps}: ${p.label}\n`);
    };
  let inputShape: { shapes: number[] | Record<string, number[]>; source: string } | undefined;
  try {
    if (values['input-shape']) inputShape = { shapes: parseInputShape(values['input-shape']), source: '--input-shape' };
  } catch (e) {
    throw usage((e as Error).message);
  }
  const report = await runPlan(model, plan, {
    signal,
    baseDir: planFile ? path.dirname(planFile) : process.cwd(), onProgress: progress, inputShape,
    calibrate: (m, c) => openCalibration(m, { data: c.data, size: c.size, batch: c.batch }),
    onBlock: progress && ((b) => {
      if (b.done < b.total) process.stderr.write(`  block ${b.block} (${b.done + 1} of ${b.total})\n`);
    }),
  })
    .catch((e: unknown) => {
      // A plan that does not fit the model is the plan file's problem: name it.
      throw planFile && isPruneLensError(e) && e.code === 'plan' ? e.inFile(planFile) : e;
    });
  const writing = progress ? progressLine(`writing ${path.basename(outFile)}`) : undefined;
  const saved = await savePruned(model, report, outFile, {
    overwrite: values.force, externalThreshold: externalThreshold(values['external-data-threshold']), signal, onProgress: writing?.update,
  }).finally(() => writing?.end());
  out(values.json ? JSON.stringify(saved, null, 2) : render(saved, layerLabels(model)));
  return 0;
}

async function fromPlanFile(values: Values): Promise<{ plan: PrunePlan; planFile: string }> {
  const stepFlags = Object.keys(values).filter((k) => !['plan', 'out', 'force', 'json', 'input-shape', 'external-data-threshold'].includes(k));
  if (stepFlags.length) throw usage(`--plan cannot be combined with --${stepFlags[0]}; put the options in the plan's steps`);
  const planFile = path.resolve(values.plan!);
  return { plan: await loadPlanFile(planFile), planFile };
}

/** A one-step plan from the shortcut flags, checked like a plan file. */
export function planFromFlags(values: Values): PrunePlan {
  if (values.method && values.criterion && values.method !== values.criterion) {
    throw usage(`--method ${values.method} and --criterion ${values.criterion} disagree; give one`);
  }
  const method = values.method ?? values.criterion;
  if (!method) throw usage('give --plan FILE, or --method with its options');
  const number = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw usage(`--${flag} ${v} is not a number`);
    return n;
  };
  const step: Record<string, unknown> = {
    method,
    structured: values.structured,
    scope: values.global ? 'global' : undefined,
    granularity: values.granularity,
    layers: values.layers,
    ops: values.op,
    ignore: values.ignore,
    amount: number('amount', values.amount),
    count: number('count', values.count),
    threshold: number('threshold', values.threshold),
    nm: values.nm,
    seed: number('seed', values.seed),
    bias: values.bias,
    round_to: number('round-to', values['round-to']),
    max_ratio: number('max-ratio', values['max-ratio']),
    normalizer: values.normalizer,
    mask: values.mask,
    importance: values.importance,
    calibration: calibrationFromFlags(values, number),
    recovery: recoveryFromFlags(values.recovery),
  };
  for (const k of Object.keys(step)) if (step[k] === undefined) delete step[k];
  const plan = { steps: [step as unknown as PlanStep] };
  const errors = validatePlan(plan).filter((i) => i.severity === 'error');
  // Messages name plan fields; say "--flag" instead, which is what the user typed.
  if (errors.length) throw usage(errors.map((e) => flagWords(e.message.replace(/^step 1: /, ''))).join('; '));
  return plan;
}

/** The step's calibration from --calibration FILE, --calibration-size N and --calibration-batch N. */
function calibrationFromFlags(values: Values, number: (flag: string, v: string | undefined) => number | undefined): Record<string, unknown> | undefined {
  const size = number('calibration-size', values['calibration-size']);
  const batch = number('calibration-batch', values['calibration-batch']);
  if (values.calibration === undefined) {
    if (size !== undefined || batch !== undefined) throw usage(`--calibration-${size !== undefined ? 'size' : 'batch'} needs --calibration FILE`);
    return undefined;
  }
  const c: Record<string, unknown> = { data: values.calibration };
  if (size !== undefined) c.size = size;
  if (batch !== undefined) c.batch = batch;
  return c;
}

/** The step's recovery from --recovery M. */
function recoveryFromFlags(method: string | undefined): { method: RecoveryMethod } | undefined {
  if (method === undefined) return undefined;
  if (!isOneOf(RECOVERY_METHODS, method)) throw usage(`--recovery ${method} is not one of ${RECOVERY_METHODS.join(', ')}`);
  return { method };
}

/** A plan message in the words of the flags: "calibration": { "data": ... } is --calibration FILE, "round_to" is --round-to. */
function flagWords(message: string): string {
  return message
    .replace(/"calibration": \{ "data": \.\.\. \}( to the step)?/g, '--calibration FILE')
    .replace(/"structured": true/g, '--structured')
    .replace(/"calibration\.(\w+)"/g, (_, k: string) => `--calibration-${k}`)
    .replace(/"(\w+)"/g, (_, k: string) => `--${k.replace(/_/g, '-')}`);
}

interface LayerLabel { displayName: string; weights: number }

/** Module paths and weight sizes of the pruned model's layers, for the summary. */
function layerLabels(model: OnnxModel): Map<string, LayerLabel> {
  return new Map(findPrunableLayers(new GraphIndex(model.graph))
    .map((l) => [l.name, { displayName: l.displayName, weights: elementCount(l.dims) }]));
}

export function render(r: PruneReport, labels: Map<string, LayerLabel>): string {
  const rows = r.layers.map((l) => {
    const label = labels.get(l.layer);
    const elems = label?.weights ?? 0;
    const shape = l.outBefore !== l.outAfter || l.inBefore !== l.inAfter
      ? `${l.inBefore}→${l.outBefore}  ⇒  ${l.inAfter}→${l.outAfter}` : `${l.inAfter}→${l.outAfter}`;
    return [
      label?.displayName ?? l.layer, l.op, shape, `${human(l.paramsBefore)} → ${human(l.paramsAfter)}`,
      `${l.zerosBefore ?? 0} → ${l.zerosAfter ?? 0}`, elems ? percent((l.zerosAfter ?? 0) / elems) : '-',
    ];
  });
  const t = r.totals;
  const lines = [
    `${path.basename(r.source)} → ${r.output}`,
    ...(r.steps ?? []).map((s) => `  step ${s.step}: ${s.label}: ${s.layers.length} layer${s.layers.length === 1 ? '' : 's'}${s.zeroed !== undefined ? `, ${s.zeroed} set to zero` : ''}` +
      (s.keptByRounding !== undefined ? `, ${s.keptByRounding} channel${s.keptByRounding === 1 ? '' : 's'} kept to round to multiples` : '')),
    '',
    table(['layer', 'op', 'in→out', 'params', 'zero weights', 'sparsity'], rows),
    '',
    `params ${human(t.paramsBefore)} → ${human(t.paramsAfter)} · MACs ${human(t.macsBefore)} → ${human(t.macsAfter)}` +
      (t.zerosAfter !== undefined ? ` · zero weights ${t.zerosBefore} → ${t.zerosAfter}` : '') +
      ` · ${bytes(t.bytesBefore)} → ${bytes(t.bytesAfter)}`,
    ...(r.assumedInput ? [assumedInputLine(r.assumedInput)] : []),
    ...recoveryLines(r, labels),
    `report: ${reportPathFor(r.output)}`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  return lines.join('\n');
}

/** Least-squares recovery: each refit layer's output error (unexplained variance) before → after. */
function recoveryLines(r: PruneReport, labels: Map<string, LayerLabel>): string[] {
  if (!r.recovery?.length) return [];
  const rows = r.recovery.map((e) => [labels.get(e.layer)?.displayName ?? e.layer, fixed(e.errorBefore), fixed(e.errorAfter)]);
  return ['', `recovery: ${r.recovery.length} layer${r.recovery.length === 1 ? '' : 's'} refit on the calibration data`,
    table(['layer', 'error before', 'error after'], rows)];
}

/** --external-data-threshold MB as bytes (undefined: the default). */
function externalThreshold(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const mb = Number(v);
  if (v.trim() === '' || !Number.isFinite(mb) || mb < 0) throw usage(`--external-data-threshold ${v} is not a size in MB`);
  return mb * 1e6;
}

function usage(why: string): Error {
  return Object.assign(new Error(`${why}\n${USAGE}`), { usage: true });
}
