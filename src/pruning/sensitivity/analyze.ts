// Sensitivity analysis in the style of Li et al. 2017 (Figure 2): each channel
// group (a layer, or layers whose channels are tied, such as a residual
// stream) is pruned alone at ratios 0.1 … 0.9 on a fresh copy of the model,
// and the copy is measured on validation data: accuracy with labels, top-1
// agreement with the unpruned model without. The curves show which layers
// tolerate pruning; suggest.ts turns them into a plan.

import { PruneLensError } from '../../onnx/errors';
import { parseModel, type OnnxModel } from '../../onnx/model';
import { DATA_AWARE_METHODS, isOneOf } from '../methods';
import { attachActivationStats, collectActivationStats } from '../recovery/importance';
import type { ActivationSource, ChannelStats } from '../recovery/source';
import type { SensitivityCurve, SensitivityReport } from '../report';
import { buildDependencyGraph, keptCount, pruneStructured } from '../structured';

export const DEFAULT_RATIOS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export interface SensitivityOptions {
  ratios?: number[];
  /** How channels are ranked within a group (default l1). */
  criterion?: string;
  /** Layers never pruned (for example the classifier). */
  ignore?: string[];
  /** Data-aware criteria: the calibration data their statistics come from (default: the validation data). */
  calibration?: ActivationSource;
  signal?: AbortSignal;
  onProgress?: (p: { layer: string; done: number; total: number }) => void;
}

/**
 * Curves for every group that may be cut. `model` is only read: each point
 * prunes a fresh parse of its bytes. `data` supplies the validation batches
 * (and labels, when it has them).
 */
export async function analyzeSensitivity(model: OnnxModel, data: ActivationSource,
  opts: SensitivityOptions = {}): Promise<SensitivityReport> {
  const ratios = opts.ratios ?? DEFAULT_RATIOS;
  for (const r of ratios) {
    if (!(r > 0 && r < 1)) throw new PruneLensError('plan', `sensitivity ratios must lie strictly between 0 and 1, not ${r}`);
  }
  const criterion = opts.criterion ?? 'l1';
  const fresh = () => parseModel(model.bytes, model.file);
  const output = model.graph.output[0]?.name;
  if (!output) throw new PruneLensError('graph', 'the model has no output to measure', {}, model.file);

  let stats: Map<string, ChannelStats> | undefined;
  if (isOneOf(DATA_AWARE_METHODS, criterion)) stats = await collectActivationStats(fresh(), opts.calibration ?? data, opts.signal);

  const reference = await predictions(fresh(), data, output);
  const labels = Array.from({ length: data.batches }, (_, b) => data.labels(b));
  const hasLabels = labels.every((l) => l !== undefined);
  const score = (pred: Int32Array[]) => {
    let right = 0;
    let total = 0;
    pred.forEach((p, b) => {
      const truth = hasLabels ? labels[b]! : reference[b];
      for (let i = 0; i < p.length; i++) if (p[i] === truth[i]) right++;
      total += p.length;
    });
    return right / total;
  };

  const graph = buildDependencyGraph(fresh(), { ignore: opts.ignore });
  const groups = graph.groups.filter((g) => !g.frozen && g.size > 1);
  const curves: SensitivityCurve[] = [];
  for (const [k, group] of groups.entries()) {
    opts.onProgress?.({ layer: group.roots.join(', '), done: k, total: groups.length });
    const curve: SensitivityCurve = { layer: group.rootNodes[0], layers: group.rootNodes.slice(), ratios: [], metric: [], macsSaved: [] };
    if (group.kind) {
      curve.kind = group.kind;
      const block = group.kind === 'hidden' ? undefined : blockOf(group.roots);
      if (block) curve.block = block;
    }
    for (const ratio of ratios) {
      if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'sensitivity analysis was cancelled');
      const copy = fresh();
      if (stats) attachActivationStats(copy, stats);
      const { report } = pruneStructured(copy, {
        criterion, ignore: opts.ignore, ratio: 0, perGroupCount: { [group.id]: group.size - keptCount(group.size, ratio) },
      });
      curve.ratios.push(ratio);
      curve.metric.push(score(await predictions(copy, data, output)));
      curve.macsSaved!.push(report.totals.macsBefore - report.totals.macsAfter);
    }
    curves.push(curve);
  }
  opts.onProgress?.({ layer: '', done: groups.length, total: groups.length });
  return {
    model: model.file ?? model.displayName,
    metricName: hasLabels ? 'accuracy' : 'agreement',
    baseline: hasLabels ? score(reference) : 1,
    curves,
  };
}

/**
 * The transformer block of a group's layers (`layers.2`, `h.0`, `blocks.1`):
 * the module path up to its first index, when every root shares it.
 */
export function blockOf(roots: string[]): string | undefined {
  const prefix = (name: string) => {
    const parts = name.split('.');
    const i = parts.findIndex((p) => /^\d+$/.test(p));
    return i > 0 ? parts.slice(0, i + 1).join('.') : undefined;
  };
  const blocks = new Set(roots.map(prefix));
  return blocks.size === 1 ? [...blocks][0] : undefined;
}

/** Top-1 class per prediction (per sample; per token for a language model's [N, T, V]), per batch. */
async function predictions(model: OnnxModel, data: ActivationSource, output: string): Promise<Int32Array[]> {
  const run = await data.open(model, [output]);
  try {
    const out: Int32Array[] = [];
    for (let b = 0; b < data.batches; b++) {
      const a = (await run.run(b)).get(output)!;
      const classes = a.dims.length > 2 ? a.dims[a.dims.length - 1] : a.data.length / a.dims[0];
      const rows = a.data.length / classes;
      const pred = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let c = 1; c < classes; c++) if (a.data[r * classes + c] > a.data[r * classes + best]) best = c;
        pred[r] = best;
      }
      out.push(pred);
    }
    return out;
  } finally {
    await run.release();
  }
}
