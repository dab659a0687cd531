// The plan runner: the one entry point the CLI and the extension call to prune.
// It checks the whole plan against the model first (every step's layers and
// files), then runs the steps in order, mask steps here and structured steps
// in the structured engine, and describes the result as a PruneReport.
//
// The model is changed in place. Files are written only by savePruned
// (output.ts), so a failure never leaves a half-written file; after a failure
// the in-memory model may be partly pruned and should be discarded.

import * as path from 'node:path';
import { analyzeModel, analyzeModelAsync, findPrunableLayers, type LayerInfo, type LayerTable } from '../../analysis';
import type { PrunableLayer } from '../../analysis/layers';
import { PruneLensError } from '../../onnx/errors';
import { modelTensors } from '../../onnx/external';
import { GraphIndex } from '../../onnx/graph';
import { parseModel, serializeModel, type OnnxModel } from '../../onnx/model';
import { countDeferredZeros } from '../../onnx/slicePool';
import { concatChunks } from '../../onnx/wire';
import { drasticWarning } from '../outcome';
import type { FrozenGroup, LayerChange, PruneReport, PruneStepSummary } from '../report';
import { pruneStructured } from '../structured';
import { applyMaskStep, pruneCalibrated, type MaskResult, type MaskStep } from '../unstructured';
import { attachActivationStats, collectActivationStats, recover, type ActivationSource } from '../recovery';
import { loadCustomArrays, selectStepLayers } from './resolve';
import { CALIBRATED_MASK_METHODS, DATA_AWARE_METHODS, isOneOf, MASK_METHODS, readMethod } from '../methods';
import { STRUCTURED_DEFAULTS, type CalibrationOptions, type PlanStep, type PrunePlan } from './types';
import { validatePlan } from './validate';

export interface PlanProgress {
  /** 0-based index of the step starting now; equals `steps` when all are done. */
  step: number;
  steps: number;
  label: string;
}

export interface RunPlanOptions {
  signal?: AbortSignal;
  onProgress?: (p: PlanProgress) => void;
  /** Folder that relative files in the plan (masks, importance) resolve against: the plan's folder. */
  baseDir?: string;
  /**
   * Opens a step's calibration data (its path already resolved against baseDir)
   * for data-aware criteria and recovery; the front end supplies onnxruntime
   * here (src/validation/activations.ts openCalibration). Without it, such steps fail.
   */
  calibrate?: (model: OnnxModel, calibration: CalibrationOptions) => Promise<ActivationSource>;
  /** The input size MACs are counted at when the model has named dims (the report says which). */
  inputShape?: { shapes: Record<string, number[]> | number[]; source: string };
  /** Within a wanda or sparsegpt mask step (0-based `step`): the block being measured and pruned, of how many. */
  onBlock?: (p: { step: number; block: string; done: number; total: number }) => void;
  /** Within a structured step with recovery (0-based `step`): the layer being refit, of how many. */
  onRecovery?: (p: { step: number; stage: 'reconstruct' | 'bn'; layer: string; done: number; total: number }) => void;
}

interface Prepared {
  index: number;
  step: PlanStep;
  /** Selected layers, by PrunableLayer.name (stable across steps; objects are re-found). */
  names: string[];
  arrays?: Map<string, Float32Array>;
  warnings: string[];
}

export async function runPlan(model: OnnxModel, given: PrunePlan, opts: RunPlanOptions = {}): Promise<PruneReport> {
  const modelName = model.displayName;
  const issues = validatePlan(given);
  const planErrors = issues.filter((i) => i.severity === 'error');
  if (planErrors.length) throw new PruneLensError('plan', planErrors.map((i) => i.message).join('; '));
  // A plan may still spell a method the old way (validatePlan warned): from here on, the current word.
  const plan: PrunePlan = { ...given, steps: given.steps.map((s) => ({ ...s, method: readMethod(s.method)!.method })) };
  // Weights in external data are read here once, on all cores; the criteria reuse these norms.
  const before = await analyzeModelAsync(model, { signal: opts.signal, inputShape: opts.inputShape });
  const prepared = prepare(model, plan, modelName, opts.baseDir ?? process.cwd());

  const warnings = issues.map((i) => i.message);
  const summaries: PruneStepSummary[] = [];
  const touched = new Set<string>();
  const removed = new Map<string, number[]>();
  const frozen: FrozenGroup[] = [];
  const recovery: NonNullable<PruneReport['recovery']> = [];
  // Per layer, the original indices of the output channels still there, so that
  // channels removed by a later structured step are reported in the original numbering.
  const alive = new Map(before.layers.map((l) => [l.name, Array.from({ length: l.outChannels }, (_, i) => i)]));
  for (const p of prepared) {
    if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'pruning was cancelled', { step: p.index });
    const label = describeStep(p.step);
    opts.onProgress?.({ step: p.index, steps: prepared.length, label });
    warnings.push(...p.warnings);
    if (p.step.structured) {
      const r = await runStructuredStep(model, p, alive, opts);
      if (r.report.recovery) recovery.push(...r.report.recovery);
      r.report.layers.forEach((c) => {
        touched.add(c.layer);
        if (c.removed.length) removed.set(c.layer, [...(removed.get(c.layer) ?? []), ...c.removed].sort((a, b) => a - b));
      });
      frozen.push(...r.report.frozen);
      warnings.push(...r.report.warnings.map((w) => `step ${p.index + 1}: ${w}`));
      summaries.push({
        step: p.index + 1, label, structured: true, layers: r.report.layers.filter((c) => c.removed.length).map((c) => c.layer),
        method: p.step.method, amount: p.step.amount, scope: p.step.scope ?? 'local',
        channelsRemoved: r.channelsRemoved, groupsCut: r.groupsCut,
        ...(p.step.round_to && p.step.round_to > 1 ? { keptByRounding: r.keptByRounding } : {}),
      });
      await new Promise((res) => setImmediate(res));
      continue;
    }
    const layers = currentLayers(model, p.names);
    const result = isOneOf(CALIBRATED_MASK_METHODS, p.step.method)
      ? await runCalibratedStep(model, layers, p, opts)
      : applyMaskStep(model, layers, toMaskStep(p.step, p.arrays));
    warnings.push(...result.warnings.map((w) => `step ${p.index + 1}: ${w}`));
    let zeroed = 0;
    for (const c of result.layers) {
      zeroed += c.zerosAfter - c.zerosBefore + (c.biasZerosAfter ?? 0) - (c.biasZerosBefore ?? 0);
      touched.add(c.layer);
    }
    summaries.push({
      step: p.index + 1, label, structured: false, layers: result.layers.map((c) => c.layer), zeroed,
      method: p.step.method, amount: p.step.amount, scope: p.step.scope ?? 'local',
    });
    // Let the event loop breathe between steps, so cancellation and progress reach the caller.
    await new Promise((r) => setImmediate(r));
  }
  opts.onProgress?.({ step: prepared.length, steps: prepared.length, label: 'done' });

  // The report needs channels, params, MACs and zeros after the prune, not norms. Cuts not made yet
  // (the writer makes them) know their zeros, or have them counted here on worker threads.
  await countDeferredZeros(modelTensors(model.proto), { signal: opts.signal });
  const after = analyzeModel(model, { zerosOnly: true, inputShape: opts.inputShape });
  const report = buildReport(model, plan, before, after, touched, removed, frozen, summaries, warnings);
  if (recovery.length) report.recovery = recovery;
  if (before.assumedInput) report.assumedInput = before.assumedInput;
  const names = new Map(before.layers.map((l) => [l.name, l.displayName]));
  const drastic = drasticWarning(report, (l) => names.get(l) ?? l);
  if (drastic) report.warnings.unshift(drastic);
  return report;
}

/** Resolves every step before anything is changed, so plan errors surface at once. */
function prepare(model: OnnxModel, plan: PrunePlan, modelName: string, baseDir: string): Prepared[] {
  const all = findPrunableLayers(new GraphIndex(model.graph));
  if (all.length === 0) throw new PruneLensError('plan', `${modelName} has no prunable layers (Conv, ConvTranspose, Gemm, MatMul with constant weights)`);
  return plan.steps.map((step, index) => {
    const { layers, issues } = selectStepLayers(step, index, all, modelName);
    const errors = issues.filter((i) => i.severity === 'error');
    if (errors.length) throw new PruneLensError('plan', errors.map((i) => i.message).join('; '));
    const arrays = step.method === 'custom' ? loadCustomArrays(step, index, layers, baseDir) : undefined;
    return { index, step, names: layers.map((l) => l.name), arrays, warnings: issues.map((i) => i.message) };
  });
}

/** The layers named, as they are in the model now (a structured step may have replaced tensors). */
function currentLayers(model: OnnxModel, names: string[]): PrunableLayer[] {
  const byName = new Map(findPrunableLayers(new GraphIndex(model.graph)).map((l) => [l.name, l]));
  return names.map((n) => byName.get(n)).filter((l): l is PrunableLayer => l !== undefined);
}

/**
 * A structured step through the structured engine. The step's layer selection
 * becomes the engine's ignore list (every prunable layer not selected), so
 * unselected layers keep all their filters. Removed indices come back in the
 * original numbering.
 */
async function runStructuredStep(model: OnnxModel, p: Prepared, alive: Map<string, number[]>, opts: RunPlanOptions): Promise<{ report: PruneReport; keptByRounding: number; channelsRemoved: number; groupsCut: number }> {
  const selected = new Set(p.names);
  const ignore = findPrunableLayers(new GraphIndex(model.graph)).filter((l) => !selected.has(l.name)).map((l) => l.name);
  const s = p.step;
  let source: ActivationSource | undefined;
  let unpruned: OnnxModel | undefined;
  if (s.calibration) {
    if (!opts.calibrate) throw new PruneLensError('unsupported', `step ${p.index + 1} uses calibration data, which this front end cannot run`, { step: p.index });
    const data = path.resolve(opts.baseDir ?? process.cwd(), s.calibration.data);
    source = await opts.calibrate(model, { ...s.calibration, data });
    if (isOneOf(DATA_AWARE_METHODS, s.method)) attachActivationStats(model, await collectActivationStats(model, source, opts.signal));
    // Reconstruction matches the outputs of the model as it was before this step.
    if (s.recovery && s.recovery.method !== 'none') unpruned = parseModel(concatChunks(serializeModel(model)), model.file);
  }
  const { report, selection } = pruneStructured(model, {
    ignore,
    criterion: s.method,
    seed: s.seed,
    scope: s.scope ?? 'local',
    ratio: s.amount,
    roundTo: s.round_to,
    maxRatio: s.max_ratio ?? STRUCTURED_DEFAULTS.max_ratio,
    normalizer: s.normalizer ?? STRUCTURED_DEFAULTS.normalizer,
    inputShape: opts.inputShape,
  });
  if (unpruned && source && s.recovery) {
    report.recovery = await recover(unpruned, model, report, source, {
      method: s.recovery.method === 'least-squares' || s.recovery.method === 'bias-compensation' ? s.recovery.method : 'none',
      ridge: s.recovery.ridge,
      bnRecalibration: s.recovery.method === 'bn-recalibration' || s.recovery.bnRecalibration === true,
      signal: opts.signal,
      onProgress: opts.onRecovery && ((r) => opts.onRecovery!({ step: p.index, ...r })),
    });
  }
  for (const c of report.layers) {
    const left = alive.get(c.layer);
    if (!left || !c.removed.length) continue;
    const gone = new Set(c.removed);
    c.removed = c.removed.map((i) => left[i]);
    alive.set(c.layer, left.filter((_, i) => !gone.has(i)));
  }
  let channelsRemoved = 0;
  for (const list of selection.remove.values()) channelsRemoved += list.length;
  return { report, keptByRounding: selection.keptByRounding, channelsRemoved, groupsCut: selection.remove.size };
}

/** wanda or sparsegpt zeroing weights: calibration passes block by block, in the calibrated engine. */
async function runCalibratedStep(model: OnnxModel, layers: PrunableLayer[], p: Prepared, opts: RunPlanOptions): Promise<MaskResult> {
  const s = p.step;
  if (!opts.calibrate) throw new PruneLensError('unsupported', `step ${p.index + 1} uses calibration data, which this front end cannot run`, { step: p.index });
  const data = path.resolve(opts.baseDir ?? process.cwd(), s.calibration!.data);
  const source = await opts.calibrate(model, { ...s.calibration!, data });
  const nm = s.nm?.split(':').map(Number);
  if (!isOneOf(CALIBRATED_MASK_METHODS, s.method)) throw new PruneLensError('internal', `method ${s.method} has no calibrated mask step`);
  return pruneCalibrated(model, layers, {
    method: s.method,
    target: nm ? { n: nm[0], m: nm[1] } : { fraction: s.amount! },
  }, source, {
    signal: opts.signal,
    onProgress: opts.onBlock && ((b) => opts.onBlock!({ step: p.index, ...b })),
  });
}

function toMaskStep(s: PlanStep, arrays?: Map<string, Float32Array>): MaskStep {
  // validatePlan sends ranking by activations to the structured engine.
  if (!isOneOf(MASK_METHODS, s.method)) throw new PruneLensError('internal', `method ${s.method} has no mask step`);
  const nm = s.nm ? s.nm.split(':').map(Number) : undefined;
  return {
    method: s.method,
    granularity: s.granularity ?? 'element',
    scope: s.scope ?? 'local',
    amount: s.amount !== undefined ? { fraction: s.amount } : s.count !== undefined ? { count: s.count } : undefined,
    threshold: s.threshold,
    nm: nm ? { n: nm[0], m: nm[1] } : undefined,
    seed: s.seed,
    bias: s.bias,
    maxRatio: s.max_ratio,
    roundTo: s.round_to,
    masks: s.mask !== undefined ? arrays : undefined,
    importance: s.importance !== undefined ? arrays : undefined,
  };
}

/** "l1, global, 20% of weights" — for progress, the report and the terminal. */
export function describeStep(s: PlanStep): string {
  const units = s.structured ? 'channels' : ({ element: 'weights', filter: 'filters', channel: 'input channels', shape: 'kernel positions' })[s.granularity ?? 'element'];
  const parts: string[] = [s.name ? `${s.name}: ${s.method}` : s.method];
  if (s.structured) parts.push('structured');
  if (s.scope === 'global') parts.push(s.structured ? `global, normalizer ${s.normalizer ?? STRUCTURED_DEFAULTS.normalizer}` : 'global');
  if (s.amount !== undefined) parts.push(`${+(s.amount * 100).toFixed(2)}% of ${units}`);
  else if (s.count !== undefined) parts.push(`${s.count} ${units}`);
  else if (s.threshold !== undefined) parts.push(`${units} with ${s.granularity && s.granularity !== 'element' ? 'norm' : '|w|'} <= ${s.threshold}`);
  else if (s.nm) parts.push(`${s.nm} along the input`);
  else if (s.mask !== undefined) parts.push('custom mask');
  if (s.round_to && s.round_to > 1) parts.push(`round_to ${s.round_to}`);
  if (s.bias) parts.push('with biases');
  return parts.join(', ');
}

function buildReport(model: OnnxModel, plan: PrunePlan, before: LayerTable, after: LayerTable, touched: Set<string>,
  removed: Map<string, number[]>, frozen: FrozenGroup[], steps: PruneStepSummary[], warnings: string[]): PruneReport {
  const afterByName = new Map(after.layers.map((l) => [l.name, l]));
  const layers: LayerChange[] = before.layers
    .filter((l) => touched.has(l.name))
    .map((b) => layerChange(b, afterByName.get(b.name), removed.get(b.name) ?? []));
  const methods = [...new Set(plan.steps.map((s) => s.method))];
  return {
    source: model.file ?? '',
    output: '',
    method: methods.join(' + '),
    structured: plan.steps.some((s) => s.structured === true),
    layers,
    frozen,
    totals: {
      paramsBefore: before.totals.params,
      paramsAfter: after.totals.params,
      macsBefore: before.totals.macs,
      macsAfter: after.totals.macs,
      bytesBefore: model.fileBytes,
      // Known once written (savePruned); until then, the source's size.
      bytesAfter: model.fileBytes,
      zerosBefore: before.totals.zeros,
      zerosAfter: after.totals.zeros,
    },
    steps,
    warnings,
  };
}

function layerChange(b: LayerInfo, a: LayerInfo | undefined, removed: number[]): LayerChange {
  const now = a ?? b;
  return {
    layer: b.name,
    op: b.op,
    outBefore: b.outChannels,
    outAfter: a ? now.outChannels : 0,
    inBefore: b.inChannels,
    inAfter: a ? now.inChannels : 0,
    paramsBefore: b.params,
    paramsAfter: a ? now.params : 0,
    macsBefore: b.macs,
    macsAfter: a ? now.macs : 0,
    removed,
    zerosBefore: b.zeros,
    zerosAfter: a ? now.zeros : 0,
  };
}
