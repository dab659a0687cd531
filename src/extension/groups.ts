// The structured engine's view of a model, reduced to plain data for hovers:
// which layers' channels are cut together, why a group may not be cut at all,
// and which channels the default prune would remove (the engine's own scoring
// and selection, not an estimate). Runs in the extension host or the analysis
// worker (no vscode).

import { loadModel } from '../onnx/model';
import type { WeightMethod } from '../pruning/methods';
import { STRUCTURED_DEFAULTS, type Normalizer } from '../pruning/plan/types';
import { buildDependencyGraph, scoreGroups, selectChannels } from '../pruning/structured';

export interface GroupSummary {
  id: number;
  /** Channels in the group (removed together, counted once). */
  size: number;
  /** Module paths of the layers whose out-channels define the group. */
  roots: string[];
  /** Every tensor slice the group touches, as `layer role`. */
  members: string[];
  /** Why the group is never cut; undefined when it may be. */
  frozen?: string;
  /** Group channel indices the previewed structured prune removes (ascending). */
  removed?: number[];
}

/** A structured prune to preview: the plan's method name, scope and fraction, and its step's normalizer, max_ratio and round_to. */
export interface PrunePreview {
  method: WeightMethod;
  scope: 'local' | 'global';
  ratio: number;
  normalizer?: Normalizer;
  maxRatio?: number;
  roundTo?: number;
}

/** Per root layer (node name, LayerInfo.name), the group its out-channels belong to. */
export type LayerGroups = Record<string, GroupSummary>;

export async function analyzeGroups(file: string, preview?: PrunePreview): Promise<LayerGroups> {
  const model = await loadModel(file);
  const graph = buildDependencyGraph(model);
  let removed: Map<number, number[]> | undefined;
  if (preview) {
    // The same criterion and options as the plan runner's structured steps.
    const scores = scoreGroups(model, graph, preview.method,
      { normalizer: preview.normalizer ?? STRUCTURED_DEFAULTS.normalizer });
    removed = selectChannels(graph, scores, {
      scope: preview.scope, ratio: preview.ratio, maxRatio: preview.maxRatio ?? STRUCTURED_DEFAULTS.max_ratio, roundTo: preview.roundTo,
    }).remove;
  }
  const byLayer: LayerGroups = {};
  for (const g of graph.groups) {
    const summary: GroupSummary = { id: g.id, size: g.size, roots: g.roots, members: g.members, frozen: g.frozen };
    if (removed) summary.removed = removed.get(g.id) ?? [];
    for (const node of g.rootNodes) byLayer[node] = summary;
  }
  return byLayer;
}
