// Small summaries of per-channel scores for the tree's descriptions and the
// hovers: mean, min/median/max, the lowest channels, counts under a threshold,
// and what the default prune would take from a layer. Pure functions of a
// LayerTable (no vscode), unit-tested in Node.

import type { LayerInfo, LayerTable } from '../analysis/types';
import type { Criterion, Scope } from '../protocol';

export interface Summary {
  min: number;
  median: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return { min: sorted[0], median, max: sorted[sorted.length - 1], mean };
}

/** The `k` lowest-scoring channels, lowest first; ties broken by index. */
export function lowest(values: readonly number[], k: number): { index: number; value: number }[] {
  return values
    .map((value, index) => ({ index, value }))
    .sort((a, b) => a.value - b.value || a.index - b.index)
    .slice(0, k);
}

export function countBelow(values: readonly number[], threshold: number): number {
  let n = 0;
  for (const v of values) if (Math.abs(v) < threshold) n++;
  return n;
}

/** A channel's score under `criterion`; undefined when the layer has no BN for 'gamma'. */
export function channelScores(layer: LayerInfo, criterion: Criterion): number[] | undefined {
  switch (criterion) {
    case 'l1': return layer.out.l1;
    case 'l2': return layer.out.l2;
    case 'gamma': return layer.batchNorm?.gamma.map(Math.abs);
  }
}

export interface DefaultPrunePreview {
  criterion: Criterion;
  scope: Scope;
  ratio: number;
  /** Per layer name: output channels the default would remove, lowest score first. */
  removed: Map<string, number[]>;
}

/**
 * Which output channels a prune at `ratio` would remove, ranked by `criterion`:
 * per layer (local), or by one threshold across every scored channel of the
 * model (global; raw scores, no normalisation). Layers without a score (no BN
 * for 'gamma') are left out. A preview for hovers: the engine decides the
 * actual cut, which also respects coupled and frozen channel groups.
 */
export function previewPrune(table: LayerTable, criterion: Criterion, scope: Scope, ratio: number): DefaultPrunePreview {
  const removed = new Map<string, number[]>();
  const scored = table.layers
    .map((layer) => ({ layer, scores: channelScores(layer, criterion) }))
    .filter((s): s is { layer: LayerInfo; scores: number[] } => !!s.scores && s.scores.length > 0);
  if (scope === 'local') {
    for (const { layer, scores } of scored) {
      const k = Math.min(scores.length - 1, Math.round(ratio * scores.length));
      removed.set(layer.name, lowest(scores, Math.max(0, k)).map((c) => c.index));
    }
  } else {
    const all: { layer: string; index: number; value: number }[] = [];
    for (const { layer, scores } of scored) scores.forEach((value, index) => all.push({ layer: layer.name, index, value }));
    all.sort((a, b) => a.value - b.value);
    for (const { layer } of scored) removed.set(layer.name, []);
    const take = Math.round(ratio * all.length);
    for (const c of all.slice(0, take)) removed.get(c.layer)!.push(c.index);
  }
  return { criterion, scope, ratio, removed };
}

/** 3 significant digits, switching to exponent form for tiny or huge values. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

/** 1234567 → "1.23M". */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${fmt(n / 1e9)}G`;
  if (a >= 1e6) return `${fmt(n / 1e6)}M`;
  if (a >= 1e4) return `${fmt(n / 1e3)}k`;
  return String(n);
}

export function percent(fraction: number): string {
  const p = fraction * 100;
  return `${p > 0 && p < 1 ? p.toFixed(1) : Math.round(p)}%`;
}

/** `Conv 64→64 · L1 μ 0.42 · γ min 0.003 (20/32 < 0.01) · 12% zeros` */
export function layerDescription(layer: LayerInfo, gammaThreshold: number): string {
  const parts = [`${layer.op} ${layer.inChannels}→${layer.outChannels}`];
  const l1 = summarize(layer.out.l1);
  if (l1) parts.push(`L1 μ ${fmt(l1.mean)}`);
  const gamma = layer.batchNorm?.gamma;
  if (gamma && gamma.length) {
    const g = summarize(gamma.map(Math.abs))!;
    parts.push(`γ min ${fmt(g.min)} (${countBelow(gamma, gammaThreshold)}/${gamma.length} < ${fmt(gammaThreshold)})`);
  }
  parts.push(`${percent(layer.sparsity)} zeros`);
  return parts.join(' · ');
}
