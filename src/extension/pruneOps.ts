// The extension's way into the pruning engine: a prune request from the UI
// becomes a one-step plan, and every prune (dialog, palette, plan file,
// webview) runs as a plan in the worker process (jobs.ts), as the CLI runs it.
// Nothing here loads a model: these are the plain rules the commands share.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { reportPathFor } from '../pruning/plan/output';
import {
  CALIBRATED_MASK_METHODS, DATA_AWARE_METHODS, isOneOf, WEIGHT_METHODS, type CalibratedMaskMethod, type RecoveryMethod, type StructuredMethod,
} from '../pruning/methods';
import { STRUCTURED_DEFAULTS, type Normalizer, type PlanStep, type PrunePlan } from '../pruning/plan/types';
import { formatChange } from '../pruning/outcome';
import type { PruneReport } from '../pruning/report';
import type { Scope } from '../protocol';

/**
 * The methods the dialog offers for a structured prune, in its order: those
 * that need only the weights (the settings' defaults), then those that rank by
 * activations on calibration data. An unstructured prune offers WEIGHT_METHODS.
 */
export const DIALOG_STRUCTURED_METHODS: readonly StructuredMethod[] = [...WEIGHT_METHODS, ...DATA_AWARE_METHODS];

/**
 * The methods the dialog offers for an unstructured prune: those that need
 * only the weights, then wanda and sparsegpt, which measure each layer's
 * inputs on calibration data block by block (at a sparsity or an N:M pattern).
 */
export const DIALOG_UNSTRUCTURED_METHODS: readonly (StructuredMethod | CalibratedMaskMethod)[] = [...WEIGHT_METHODS, ...CALIBRATED_MASK_METHODS];

/** "2:4" → { n: 2, m: 4 }: N weights kept in every M along a layer's input, 0 < N < M. Undefined for anything else. */
export function parseNm(text: string): { n: number; m: number } | undefined {
  const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(text);
  if (!match) return undefined;
  const [n, m] = [Number(match[1]), Number(match[2])];
  return n >= 1 && n < m && m <= 256 ? { n, m } : undefined;
}

export interface CalibrationRequest {
  /** .npy/.npz file or folder of inputs; an absolute path (the plan has no folder of its own). */
  data: string;
  /** Samples used, the first rows of the data. */
  size?: number;
}

export interface PruneRequest {
  /** sparsegpt only unstructured (and wanda unstructured is the calibrated mask step, not a channel ranking). */
  method: StructuredMethod | CalibratedMaskMethod;
  /** Fraction in (0, 1) of the channels (structured) or weights (unstructured) to prune; with `nm`, the pattern's sparsity (1 − N/M), for names. */
  amount: number;
  /** Unstructured wanda and sparsegpt: an N:M pattern ("2:4") instead of a fraction per layer. */
  nm?: string;
  scope: Scope;
  structured: boolean;
  /** Layers left out, by name or glob (node name, module path or weight name). */
  ignore?: string[];
  /** Only these layers (all prunable ones when absent). */
  layers?: string[];
  /** Structured only: repair the pruned layers on the calibration data. */
  recovery?: RecoveryMethod;
  /** Needed by the data-aware methods and by recovery; ignored otherwise. */
  calibration?: CalibrationRequest;
  /** Structured only: the plan step's normalizer, max_ratio and round_to (the plan's defaults when absent). */
  normalizer?: Normalizer;
  maxRatio?: number;
  roundTo?: number;
}

/** Whether the request ranks by activations or recovers, and so needs calibration data (and onnxruntime). */
export function needsCalibration(r: Pick<PruneRequest, 'method' | 'recovery'>): boolean {
  return isOneOf(DATA_AWARE_METHODS, r.method) || isOneOf(CALIBRATED_MASK_METHODS, r.method) || (r.recovery !== undefined && r.recovery !== 'none');
}

/** Unstructured wanda or sparsegpt: weights zeroed per layer on calibration data (pruning/unstructured/calibrated.ts). */
export function isCalibratedMask(r: Pick<PruneRequest, 'method' | 'structured'>): boolean {
  return !r.structured && isOneOf(CALIBRATED_MASK_METHODS, r.method);
}

/** `c` when its data exists and its size is a whole number; otherwise an error naming where the value came from. */
export function checkCalibration(c: CalibrationRequest, from: string): CalibrationRequest {
  if (!fs.existsSync(c.data)) throw new Error(`calibration data not found: ${c.data} (from ${from})`);
  if (!(Number.isSafeInteger(c.size) && c.size! >= 1)) throw new Error(`calibration size must be a whole number of at least 1 (got ${c.size})`);
  return c;
}

/** The plan the dialog's answers stand for; also what "Generate Plan" writes. */
export function planFromRequest(r: PruneRequest): PrunePlan {
  // The calibrated mask step prunes each layer on its own (no scope) at a sparsity or an N:M pattern.
  const step: PlanStep = isCalibratedMask(r)
    ? { method: r.method, structured: false, ...(r.nm ? { nm: r.nm } : { amount: r.amount }) }
    : { method: r.method, structured: r.structured, scope: r.scope, amount: r.amount };
  // Unstructured bn-gamma ranks whole filters by their BN's gamma: the engine needs that said.
  if (!r.structured && r.method === 'bn-gamma') step.granularity = 'filter';
  if (r.layers?.length) step.layers = r.layers;
  if (r.ignore?.length) step.ignore = r.ignore;
  if (needsCalibration(r) && r.calibration) {
    step.calibration = { data: r.calibration.data, ...(r.calibration.size ? { size: r.calibration.size } : {}) };
  }
  if (r.recovery && r.recovery !== 'none') step.recovery = { method: r.recovery };
  if (r.structured) {
    // Written out, so a generated plan says what the prune did.
    if (r.scope === 'global') step.normalizer = r.normalizer ?? STRUCTURED_DEFAULTS.normalizer;
    step.max_ratio = r.maxRatio ?? STRUCTURED_DEFAULTS.max_ratio;
    if (r.roundTo && r.roundTo > 1) step.round_to = r.roundTo;
  }
  return { steps: [step] };
}

/**
 * Whether running `plan` loads onnxruntime (native code) in the worker: steps
 * that rank by activations, or calibrate and recover. Those wait for workspace trust.
 */
export function planNeedsNative(plan: PrunePlan): boolean {
  return plan.steps.some((s) => s.calibration !== undefined || (s.recovery !== undefined && s.recovery.method !== 'none')
    || isOneOf(DATA_AWARE_METHODS, s.method) || isOneOf(CALIBRATED_MASK_METHODS, s.method));
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

/**
 * The prune toast's words: "removed 412 channels in 9 groups (3 frozen), 20 more
 * kept by round_to; params −44%, MACs −53%" for a structured prune, "zeroed
 * 1,234 weights; 41.3% of all parameters are now zero (…)" for masks.
 */
export function pruneSummary(report: PruneReport): string {
  const t = report.totals;
  const size = `params ${formatChange(t.paramsBefore, t.paramsAfter)}, MACs ${formatChange(t.macsBefore, t.macsAfter)}`;
  if (!report.structured) {
    // Masks keep every weight in the file, so params and MACs do not move: the sparsity is what changed.
    const zeroed = (t.zerosAfter ?? 0) - (t.zerosBefore ?? 0);
    const sparsity = t.paramsAfter ? `${((100 * (t.zerosAfter ?? 0)) / t.paramsAfter).toFixed(1)}%` : 'unknown';
    return `zeroed ${zeroed.toLocaleString('en-US')} weights; ${sparsity} of all parameters are now zero (masks keep the model's size)`;
  }
  const steps = (report.steps ?? []).filter((s) => s.structured);
  const channels = steps.reduce((n, s) => n + (s.channelsRemoved ?? 0), 0);
  const groups = steps.reduce((n, s) => n + (s.groupsCut ?? 0), 0);
  const frozen = report.frozen.length ? ` (${report.frozen.length} frozen)` : '';
  const rounding = steps.reduce((n, s) => n + (s.keptByRounding ?? 0), 0);
  const kept = rounding ? `, ${rounding} more kept by round_to` : '';
  return `removed ${channels.toLocaleString('en-US')} channels in ${groups} group${groups === 1 ? '' : 's'}${frozen}${kept}; ${size}`;
}

/**
 * Pruned versions of `original` next to it (their report names it as the
 * source), newest first: what "Validate" offers when started from the original.
 */
export async function prunedVersions(original: string): Promise<string[]> {
  const dir = path.dirname(original);
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  const found: { file: string; mtime: number }[] = [];
  for (const n of names) {
    if (!n.toLowerCase().endsWith('.onnx')) continue;
    const file = path.join(dir, n);
    if (file === path.resolve(original)) continue;
    const report = await readReportFor(file);
    if (!report || path.resolve(report.source) !== path.resolve(original)) continue;
    found.push({ file, mtime: (await fs.promises.stat(file)).mtimeMs });
  }
  return found.sort((a, b) => b.mtime - a.mtime || a.file.localeCompare(b.file)).map((f) => f.file);
}
