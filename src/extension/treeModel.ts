// The models view's shape, apart from VS Code: a model's layers, norms and
// embeddings nested by module path, in the model's order, with attention
// blocks labelled by their heads. Generic over the uri type so it is tested in
// plain Node.

import { headsLabel } from '../analysis/macs';
import type { AttentionInfo, EmbeddingInfo, LayerInfo, LayerTable, NormInfo } from '../analysis/types';

export type TreeNode<U> =
  | { kind: 'model'; uri: U }
  | { kind: 'group'; uri: U; label: string; path: string; children: TreeNode<U>[]; attention?: AttentionInfo }
  | { kind: 'layer'; uri: U; label: string; layer: LayerInfo }
  | { kind: 'norm'; uri: U; label: string; norm: NormInfo }
  | { kind: 'embedding'; uri: U; label: string; embedding: EmbeddingInfo; tied: string[] }
  | { kind: 'message'; uri: U; label: string; detail?: string; error: boolean };

type Entry =
  | { kind: 'layer'; layer: LayerInfo }
  | { kind: 'norm'; norm: NormInfo }
  | { kind: 'embedding'; embedding: EmbeddingInfo; tied: string[] };

function entryInfo(e: Entry): { displayName: string; name: string; position: number } {
  return e.kind === 'layer' ? e.layer : e.kind === 'norm' ? e.norm : e.embedding;
}

export function countLayers<U>(node: TreeNode<U>): number {
  if (node.kind === 'layer') return 1;
  if (node.kind === 'group') return node.children.reduce((n, c) => n + countLayers(c), 0);
  return 0;
}

interface Trie {
  children: Map<string, Trie>;
  layers: Entry[];
}

/** The whole table: layers, norms and embeddings in graph order, attention blocks labelled. */
export function nestTable<U>(uri: U, table: Pick<LayerTable, 'layers' | 'norms' | 'embeddings' | 'attention'>): TreeNode<U>[] {
  return nestLayers(uri, table.layers, table);
}

/**
 * Nests layers (and norms and embeddings) by the dotted segments of their
 * module path. A folder holding a single entry is merged into it (`stem › 0`
 * shows as `stem.0`), so the tree is only as deep as the model's real
 * structure. Siblings keep the model's order. A folder that is an attention
 * block says so: `self_attn (8 heads, 2 kv, dim 16)`.
 */
export function nestLayers<U>(
  uri: U,
  layers: readonly LayerInfo[],
  more: { norms?: readonly NormInfo[]; embeddings?: readonly EmbeddingInfo[]; attention?: readonly AttentionInfo[] } = {},
): TreeNode<U>[] {
  const entries: Entry[] = [
    ...layers.map((layer): Entry => ({ kind: 'layer', layer })),
    ...(more.norms ?? []).map((norm): Entry => ({ kind: 'norm', norm })),
    // A tied head is named by its module path next to the table it shares.
    ...(more.embeddings ?? []).map((embedding): Entry => ({
      kind: 'embedding', embedding, tied: layers.filter((l) => embedding.tiedLayers.includes(l.name)).map((l) => l.displayName),
    })),
  ];
  // Stable: layers alone keep their order; norms and embeddings slot in where the graph has them.
  if (entries.length > layers.length) entries.sort((a, b) => entryInfo(a).position - entryInfo(b).position);
  const root: Trie = { children: new Map(), layers: [] };
  for (const entry of entries) {
    const info = entryInfo(entry);
    const segments = info.displayName.split('.').filter(Boolean);
    let t = root;
    for (const s of segments.slice(0, -1)) {
      let next = t.children.get(s);
      if (!next) t.children.set(s, (next = { children: new Map(), layers: [] }));
      t = next;
    }
    const leaf = segments[segments.length - 1] ?? info.name;
    let slot = t.children.get(leaf);
    if (!slot) t.children.set(leaf, (slot = { children: new Map(), layers: [] }));
    slot.layers.push(entry);
  }
  const attention = new Map((more.attention ?? []).map((a) => [a.name, a]));
  const build = (t: Trie, prefix: string): TreeNode<U>[] => {
    const out: TreeNode<U>[] = [];
    for (const [segment, child] of t.children) {
      const full = prefix ? `${prefix}.${segment}` : segment;
      const kids = build(child, full);
      const layerNodes: TreeNode<U>[] = child.layers.map((e): TreeNode<U> => ({ ...e, uri, label: segment }));
      if (layerNodes.length === 1 && kids.length === 0) {
        out.push(layerNodes[0]);
        continue;
      }
      if (layerNodes.length === 0 && kids.length === 1) {
        // A folder with one entry merges into it: `stem` › `0` becomes `stem.0`.
        const only = kids[0];
        if (only.kind === 'layer' || only.kind === 'group' || only.kind === 'norm' || only.kind === 'embedding') {
          out.push({ ...only, label: `${segment}.${only.label}` });
          continue;
        }
      }
      const a = attention.get(full);
      out.push({ kind: 'group', uri, label: a ? `${segment} (${headsLabel(a)})` : segment, path: full, children: [...layerNodes, ...kids], ...(a ? { attention: a } : {}) });
    }
    return out;
  };
  return build(root, '');
}
