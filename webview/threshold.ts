// Where the current ratio would cut: per layer, which output channels go and
// the importance threshold that separates them. Pure, so it is unit-tested.
//
// It mirrors the pruning engine's selection (src/pruning/structured/select.ts,
// itself Torch-Pruning's): a ratio removes n - floor(n * (1 - ratio)) channels;
// local scope takes each layer's lowest scores, ties by index; global scope
// takes the k-th lowest score over all layers as the threshold, removes every
// channel below it, and lets the channels tied at it share what is left of k
// (the engine's shareTies). No layer loses its last channel, and layers whose
// channels cannot be cut (frozen: the model's output, an op without a rule)
// are left out. The engine
// works on coupled channel groups, so where layers share channels (residual
// Adds) its counts can differ from this per-layer preview.

import type { LayerInfo } from '../src/analysis/types';
import { normalize, type Normalizer } from '../src/pruning/normalize';
import { shareTies } from '../src/pruning/structured/ties';
import type { PreviewMethod } from '../src/pruning/methods';
import type { Scope } from '../src/protocol';

export interface LayerCut {
  /** Output channel indices that go, ascending. */
  removed: number[];
  total: number;
  /** The highest removed score, or in global scope the shared threshold; -Infinity when none go. */
  threshold: number;
}

/** How the engine ranks and caps a structured prune (the plan step's normalizer, max_ratio, round_to). Absent: raw scores, no caps. */
export interface CutOptions {
  normalizer?: Normalizer;
  maxRatio?: number;
  roundTo?: number;
}

export interface CutPlan {
  criterion: PreviewMethod;
  ratio: number;
  scope: Scope;
  /** Only layers that have scores for the criterion (bn-gamma: only layers followed by a BatchNorm). */
  layers: Map<string, LayerCut>;
  /** Global scope: the one threshold over all layers. */
  globalThreshold?: number;
}

/** One importance score per output channel, or undefined when the layer has none for this criterion. */
export function layerScores(layer: LayerInfo, criterion: PreviewMethod): number[] | undefined {
  switch (criterion) {
    case 'l1':
      return layer.out.l1;
    case 'l2':
      return layer.out.l2;
    case 'bn-gamma':
      return layer.batchNorm?.gamma.map(Math.abs);
  }
}

/**
 * How many of n channels a ratio removes: n minus Torch-Pruning's kept count
 * int(n * (1 - ratio)). The epsilon keeps 0.71 * 100 at 71, not 70.999… → 70.
 */
export function removalCount(n: number, ratio: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`ratio must be in [0, 1], got ${ratio}`);
  return n - Math.floor(n * (1 - ratio) + 1e-9);
}

/** Indices of the n lowest scores (ties by index), ascending; never all of them. */
function lowest(scores: readonly number[], n: number): number[] {
  const count = Math.min(n, scores.length - 1);
  if (count <= 0) return [];
  const order = Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b] || a - b);
  return order.slice(0, count).sort((a, b) => a - b);
}

/**
 * Local: each layer loses `ratio` of its own channels. Global: one threshold
 * over the scores of all layers that have the criterion, so weak layers lose
 * more channels than strong ones.
 */
export function planCut(layers: readonly LayerInfo[], criterion: PreviewMethod, ratio: number, scope: Scope,
  frozen: Readonly<Record<string, string>> = {}, options: CutOptions = {}): CutPlan {
  const scored: { name: string; scores: number[]; normalized: Float64Array }[] = [];
  const normalizer = options.normalizer ?? 'none';
  for (const layer of layers) {
    if (frozen[layer.name] !== undefined) continue;
    const scores = layerScores(layer, criterion);
    if (scores && scores.length > 0) scored.push({ name: layer.name, scores, normalized: normalize(Float64Array.from(scores), normalizer) });
  }
  const plan: CutPlan = { criterion, ratio, scope, layers: new Map() };
  if (scope === 'global') {
    const all = Float64Array.from(scored.flatMap((l) => [...l.normalized])).sort();
    const k = removalCount(all.length, ratio);
    const threshold = k > 0 ? all[k - 1] : -Infinity;
    plan.globalThreshold = threshold;
    const below = new Map(scored.map((l) => [l.name, l.normalized.filter((s) => s < threshold).length]));
    const tied = new Map(scored.map((l) => [l.name, l.normalized.filter((s) => s === threshold).length]));
    let belowTotal = 0;
    for (const n of below.values()) belowTotal += n;
    const share = shareTies(scored.map((l) => l.name), tied, k - belowTotal);
    for (const { name, scores } of scored) {
      const removed = lowest(scores, limit(scores.length, below.get(name)! + share.get(name)!, options));
      // Raw scores: the line each layer's histogram draws. Normalised, the global threshold is one number; per layer it is not.
      const line = normalizer === 'none' ? threshold : removed.reduce((max, i) => Math.max(max, scores[i]), -Infinity);
      plan.layers.set(name, { removed, total: scores.length, threshold: line });
    }
  } else {
    for (const { name, scores } of scored) {
      const removed = lowest(scores, limit(scores.length, removalCount(scores.length, ratio), options));
      const threshold = removed.reduce((max, i) => Math.max(max, scores[i]), -Infinity);
      plan.layers.set(name, { removed, total: scores.length, threshold });
    }
  }
  return plan;
}

/** The engine's caps per layer: at most maxRatio of it, and a multiple of roundTo kept. */
function limit(size: number, n: number, o: CutOptions): number {
  let count = Math.min(n, size - 1);
  if (o.maxRatio !== undefined) count = Math.min(count, Math.floor(size * o.maxRatio + 1e-9));
  if (o.roundTo && o.roundTo > 1 && count > 0) count = size - Math.min(size, Math.ceil((size - count) / o.roundTo) * o.roundTo);
  return Math.max(0, count);
}
