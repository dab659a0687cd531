// Where the current ratio would cut: per layer, the importance threshold and
// how many output channels fall at or below it. Pure, so it is unit-tested and
// mirrors what the pruning engine does (drop the k lowest-scoring channels).

import type { LayerInfo } from '../src/analysis/types';
import type { Criterion, Scope } from '../src/protocol';

export interface LayerCut {
  /** Channels with a score <= threshold would be removed; -Infinity removes none. */
  threshold: number;
  removed: number;
  total: number;
}

export interface CutPlan {
  criterion: Criterion;
  ratio: number;
  scope: Scope;
  /** Only layers that have scores for the criterion (gamma: only layers followed by a BatchNorm). */
  layers: Map<string, LayerCut>;
  /** The one threshold shared by all layers in global scope. */
  globalThreshold?: number;
}

/** One importance score per output channel, or undefined when the layer has none for this criterion. */
export function layerScores(layer: LayerInfo, criterion: Criterion): number[] | undefined {
  switch (criterion) {
    case 'l1':
      return layer.out.l1;
    case 'l2':
      return layer.out.l2;
    case 'gamma':
      return layer.batchNorm?.gamma.map(Math.abs);
  }
}

/** How many of n channels a ratio removes. The epsilon keeps 0.29 * 100 at 29, not 28.999… → 28. */
export function removalCount(n: number, ratio: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`ratio must be in [0, 1], got ${ratio}`);
  return Math.min(n, Math.floor(ratio * n + 1e-9));
}

/**
 * The score of the k-th lowest channel, k = removalCount(n, ratio): every
 * channel scoring at or below it goes. Ties at the threshold all go, as in
 * Torch-Pruning (`imp <= thres`), so exactly-zero channels are never split.
 */
export function ratioThreshold(scores: readonly number[], ratio: number): number {
  const k = removalCount(scores.length, ratio);
  if (k === 0) return -Infinity;
  const sorted = Float64Array.from(scores).sort();
  return sorted[k - 1];
}

export function countAtOrBelow(scores: readonly number[], threshold: number): number {
  let count = 0;
  for (const s of scores) if (s <= threshold) count++;
  return count;
}

/**
 * Local: each layer's threshold is the ratio-quantile of its own scores.
 * Global: one threshold, the ratio-quantile over the scores of all layers that
 * have the criterion, so weak layers lose more channels than strong ones.
 */
export function planCut(layers: readonly LayerInfo[], criterion: Criterion, ratio: number, scope: Scope): CutPlan {
  const scored: { name: string; scores: number[] }[] = [];
  for (const layer of layers) {
    const scores = layerScores(layer, criterion);
    if (scores && scores.length > 0) scored.push({ name: layer.name, scores });
  }
  const plan: CutPlan = { criterion, ratio, scope, layers: new Map() };
  if (scope === 'global') {
    const threshold = ratioThreshold(
      scored.flatMap((l) => l.scores),
      ratio,
    );
    plan.globalThreshold = threshold;
    for (const { name, scores } of scored) {
      plan.layers.set(name, { threshold, removed: countAtOrBelow(scores, threshold), total: scores.length });
    }
  } else {
    for (const { name, scores } of scored) {
      const threshold = ratioThreshold(scores, ratio);
      plan.layers.set(name, { threshold, removed: countAtOrBelow(scores, threshold), total: scores.length });
    }
  }
  return plan;
}
