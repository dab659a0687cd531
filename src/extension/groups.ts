// The structured engine's channel groups of a model, reduced to plain data for
// hovers: which layers' channels are cut together, and why a group may not be
// cut at all. Runs in the extension host or the analysis worker (no vscode).

import { loadModel } from '../onnx/model';
import { buildDependencyGraph } from '../pruning/depgraph';

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
}

/** Per root layer (node name, LayerInfo.name), the group its out-channels belong to. */
export type LayerGroups = Record<string, GroupSummary>;

export async function analyzeGroups(file: string): Promise<LayerGroups> {
  const graph = buildDependencyGraph(await loadModel(file));
  const byLayer: LayerGroups = {};
  for (const g of graph.groups) {
    const summary: GroupSummary = { id: g.id, size: g.size, roots: g.roots, members: g.members, frozen: g.frozen };
    for (const node of g.rootNodes) byLayer[node] = summary;
  }
  return byLayer;
}
