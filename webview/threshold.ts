// Where the current ratio would cut: per layer, which output channels go and
// the importance threshold that separates them. Pure, so it is unit-tested.
//
// Exactly k = floor(ratio * n) channels go, the k lowest scores, and no layer
// loses its last channel. A plain `score <= threshold` rule (Torch-Pruning's)
// gives the same result when scores are distinct, but removes every tied
// channel: an untrained BatchNorm has all gammas equal to 1, and that rule
// would empty every layer at any ratio. Ties are broken by relative position
// in the layer (channel / channels), so equal scores are cut evenly across
// layers rather than emptying the first layers.

import type { LayerInfo } from '../src/analysis/types';
import type { Criterion, Scope } from '../src/protocol';

export interface LayerCut {
  /** Output channel indices that go, ascending. */
  removed: number[];
  total: number;
  /** The highest removed score (-Infinity when none go), over all layers in global scope: the line on the histogram. */
  threshold: number;
}

export interface CutPlan {
  criterion: Criterion;
  ratio: number;
  scope: Scope;
  /** Only layers that have scores for the criterion (gamma: only layers followed by a BatchNorm). */
  layers: Map<string, LayerCut>;
  /** Global scope: the highest removed score over all layers. */
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

interface Scored {
  name: string;
  scores: number[];
}

/**
 * The k lowest-scoring channels over the given layers, as a removed-index list
 * per layer, skipping any channel that would be the last of its layer.
 */
function lowest(layers: readonly Scored[], k: number): { removed: Map<string, number[]>; threshold: number } {
  const all: { layer: number; channel: number; score: number; position: number }[] = [];
  layers.forEach((l, layer) => l.scores.forEach((score, channel) => all.push({ layer, channel, score, position: channel / l.scores.length })));
  all.sort((a, b) => a.score - b.score || a.position - b.position || a.layer - b.layer);
  const removed = layers.map(() => [] as number[]);
  let threshold = -Infinity;
  let taken = 0;
  for (const c of all) {
    if (taken === k) break;
    if (removed[c.layer].length === layers[c.layer].scores.length - 1) continue;
    removed[c.layer].push(c.channel);
    threshold = c.score;
    taken++;
  }
  for (const list of removed) list.sort((a, b) => a - b);
  return { removed: new Map(layers.map((l, i) => [l.name, removed[i]])), threshold };
}

/**
 * Local: each layer loses `ratio` of its own channels. Global: `ratio` of all
 * channels of the layers that have the criterion, the lowest scores wherever
 * they are, so weak layers lose more than strong ones.
 */
export function planCut(layers: readonly LayerInfo[], criterion: Criterion, ratio: number, scope: Scope): CutPlan {
  const scored: Scored[] = [];
  for (const layer of layers) {
    const scores = layerScores(layer, criterion);
    if (scores && scores.length > 0) scored.push({ name: layer.name, scores });
  }
  const plan: CutPlan = { criterion, ratio, scope, layers: new Map() };
  if (scope === 'global') {
    const total = scored.reduce((s, l) => s + l.scores.length, 0);
    const { removed, threshold } = lowest(scored, removalCount(total, ratio));
    plan.globalThreshold = threshold;
    for (const l of scored) {
      const indices = removed.get(l.name)!;
      plan.layers.set(l.name, { removed: indices, total: l.scores.length, threshold });
    }
  } else {
    for (const l of scored) {
      const { removed, threshold } = lowest([l], removalCount(l.scores.length, ratio));
      plan.layers.set(l.name, { removed: removed.get(l.name)!, total: l.scores.length, threshold });
    }
  }
  return plan;
}
