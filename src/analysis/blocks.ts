// Transformer blocks and the kind of each layer in them: attention (its
// heads), MLP (its neurons), or outside every block (embeddings' head, stem).
// Sensitivity per block and per kind reads this, so curves can be grouped as
// `layers.2 · attention` vs `layers.2 · mlp` without re-reading the graph.

import type { LayerTable } from './types';

export type PartKind = 'attention' | 'mlp' | 'other';

export interface BlockInfo {
  /** Module path of the block (`layers.0`), the attention block's parent. */
  name: string;
  /** The attention block's module path. */
  attention: string;
  /** Layer names (LayerInfo.name) of the attention projections and of the MLP, in graph order. */
  attentionLayers: string[];
  mlpLayers: string[];
}

/**
 * One block per attention block: its projections, and as MLP the other layers
 * under the same parent module (`layers.0.gate_proj`, `blocks.0.mlp.0`).
 */
export function transformerBlocks(table: Pick<LayerTable, 'layers' | 'attention'>): BlockInfo[] {
  return table.attention.map((a) => {
    const cut = a.name.lastIndexOf('.');
    const name = cut > 0 ? a.name.slice(0, cut) : a.name;
    const projections = new Set([a.q, a.k, a.v, a.qkv, a.o].filter((n): n is string => !!n));
    const inBlock = table.layers.filter((l) => l.displayName.startsWith(name + '.'));
    return {
      name,
      attention: a.name,
      attentionLayers: inBlock.filter((l) => projections.has(l.name)).map((l) => l.name),
      mlpLayers: cut > 0 ? inBlock.filter((l) => !projections.has(l.name) && !l.displayName.startsWith(a.name + '.')).map((l) => l.name) : [],
    };
  });
}

/** The block and kind of every layer (layer name → part); layers outside every block are `other`. */
export function layerParts(table: Pick<LayerTable, 'layers' | 'attention'>): Map<string, { block?: string; kind: PartKind }> {
  const parts = new Map<string, { block?: string; kind: PartKind }>(table.layers.map((l) => [l.name, { kind: 'other' }]));
  for (const b of transformerBlocks(table)) {
    for (const n of b.attentionLayers) parts.set(n, { block: b.name, kind: 'attention' });
    for (const n of b.mlpLayers) parts.set(n, { block: b.name, kind: 'mlp' });
  }
  return parts;
}
