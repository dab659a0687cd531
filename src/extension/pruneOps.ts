// The extension's way into the pruning engine: a prune request from the UI
// becomes a one-step plan, and every prune (dialog, palette, plan file,
// webview) goes through the same runPlan + savePruned as the CLI. The pruned
// file and its report are written atomically, both or neither.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PruneLensError } from '../onnx/errors';
import { loadModel } from '../onnx/model';
import { runPlan, savePruned } from '../pruning/plan';
import { reportPathFor } from '../pruning/plan/output';
import type { PlanStep, PrunePlan } from '../pruning/plan/types';
import type { PruneReport } from '../pruning/report';
import type { Scope } from '../protocol';

/**
 * The methods the prune flow offers (the plan's method names); 'bn-gamma'
 * ranks channels by |BN gamma| (network slimming).
 */
export type PruneMethod = 'l1' | 'l2' | 'bn-gamma' | 'random';
export const PRUNE_METHODS: readonly PruneMethod[] = ['l1', 'l2', 'bn-gamma', 'random'];

export interface PruneRequest {
  method: PruneMethod;
  /** Fraction in (0, 1) of the channels (structured) or weights (unstructured) to prune. */
  amount: number;
  scope: Scope;
  structured: boolean;
  /** Layers left out, by name or glob (node name, module path or weight name). */
  ignore?: string[];
  /** Only these layers (all prunable ones when absent). */
  layers?: string[];
}

/** The plan the dialog's answers stand for; also what "Generate Plan" writes. */
export function planFromRequest(r: PruneRequest): PrunePlan {
  const step: PlanStep = { method: r.method, structured: r.structured, scope: r.scope, amount: r.amount };
  // Unstructured bn-gamma ranks whole filters by their BN's gamma: the engine needs that said.
  if (!r.structured && r.method === 'bn-gamma') step.granularity = 'filter';
  if (r.layers?.length) step.layers = r.layers;
  if (r.ignore?.length) step.ignore = r.ignore;
  return { steps: [step] };
}

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: (message: string, fraction: number) => void;
  /** Folder relative plan files (masks) resolve against. */
  baseDir?: string;
  /** Replace an existing output (never the source). */
  overwrite?: boolean;
}

/** Loads `source`, runs `plan`, writes `output` and `<output>.report.json`. */
export async function prunePlanToFile(source: string, plan: PrunePlan, output: string, opts: RunOptions = {}): Promise<PruneReport> {
  if (path.resolve(output) === path.resolve(source)) {
    throw new PruneLensError('io', 'the output would replace the model being pruned; choose another file name', {}, output);
  }
  opts.onProgress?.('reading the model', 0);
  const model = await loadModel(source, { signal: opts.signal });
  const report = await runPlan(model, plan, {
    signal: opts.signal,
    baseDir: opts.baseDir ?? path.dirname(source),
    onProgress: (p) => opts.onProgress?.(p.step < p.steps ? `step ${p.step + 1}/${p.steps}: ${p.label}` : 'writing', p.steps ? (p.step / p.steps) * 0.9 : 0),
  });
  opts.signal?.throwIfAborted();
  return savePruned(model, report, output, { overwrite: opts.overwrite });
}

/** The report written next to a pruned model, if there is one. */
export async function readReportFor(prunedFile: string): Promise<PruneReport | undefined> {
  try {
    return JSON.parse(await fs.promises.readFile(reportPathFor(prunedFile), 'utf8')) as PruneReport;
  } catch {
    return undefined;
  }
}

/**
 * The model a plan file prunes: the *.onnx with the plan's stem next to it
 * (`vgg.prune.json` → `vgg.onnx`); for `vgg.global50.prune.json` also `vgg.onnx`.
 */
export function modelForPlan(planFile: string): string | undefined {
  const dir = path.dirname(planFile);
  let stem = path.basename(planFile).replace(/(\.prune)?\.jsonc?$/i, '');
  for (;;) {
    const candidate = path.join(dir, `${stem}.onnx`);
    if (fs.existsSync(candidate)) return candidate;
    const dot = stem.lastIndexOf('.');
    if (dot <= 0) return undefined;
    stem = stem.slice(0, dot);
  }
}
