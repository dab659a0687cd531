// The models view's shape, apart from VS Code: a model's layers nested by
// module path. Generic over the uri type so it is tested in plain Node.

import type { LayerInfo } from '../analysis/types';

export type TreeNode<U> =
  | { kind: 'model'; uri: U }
  | { kind: 'group'; uri: U; label: string; path: string; children: TreeNode<U>[] }
  | { kind: 'layer'; uri: U; label: string; layer: LayerInfo }
  | { kind: 'message'; uri: U; label: string; detail?: string; error: boolean };

export function countLayers<U>(node: TreeNode<U>): number {
  if (node.kind === 'layer') return 1;
  if (node.kind === 'group') return node.children.reduce((n, c) => n + countLayers(c), 0);
  return 0;
}

interface Trie {
  children: Map<string, Trie>;
  layers: LayerInfo[];
}

/**
 * Nests layers by the dotted segments of their module path. A folder holding a
 * single entry is merged into it (`stem › 0` shows as `stem.0`), so the tree is
 * only as deep as the model's real structure. Siblings keep the model's order.
 */
export function nestLayers<U>(uri: U, layers: readonly LayerInfo[]): TreeNode<U>[] {
  const root: Trie = { children: new Map(), layers: [] };
  for (const layer of layers) {
    const segments = layer.displayName.split('.').filter(Boolean);
    let t = root;
    for (const s of segments.slice(0, -1)) {
      let next = t.children.get(s);
      if (!next) t.children.set(s, (next = { children: new Map(), layers: [] }));
      t = next;
    }
    const leaf = segments[segments.length - 1] ?? layer.name;
    let slot = t.children.get(leaf);
    if (!slot) t.children.set(leaf, (slot = { children: new Map(), layers: [] }));
    slot.layers.push(layer);
  }
  const build = (t: Trie, prefix: string): TreeNode<U>[] => {
    const out: TreeNode<U>[] = [];
    for (const [segment, child] of t.children) {
      const full = prefix ? `${prefix}.${segment}` : segment;
      const kids = build(child, full);
      const layerNodes: TreeNode<U>[] = child.layers.map((layer) => ({ kind: 'layer', uri, label: segment, layer }));
      if (layerNodes.length === 1 && kids.length === 0) {
        out.push(layerNodes[0]);
        continue;
      }
      if (layerNodes.length === 0 && kids.length === 1) {
        // A folder with one entry merges into it: `stem` › `0` becomes `stem.0`.
        const only = kids[0];
        if (only.kind === 'layer' || only.kind === 'group') {
          out.push({ ...only, label: `${segment}.${only.label}` });
          continue;
        }
      }
      out.push({ kind: 'group', uri, label: segment, path: full, children: [...layerNodes, ...kids] });
    }
    return out;
  };
  return build(root, '');
}
