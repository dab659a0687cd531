// Small summaries of per-channel scores for the tree's descriptions and the
// hovers: mean, min/median/max, the lowest channels, counts under a threshold.
// Pure functions (no vscode), unit-tested in Node. What a prune would remove
// comes from the structured engine itself (groups.ts), never from here.

import { inputSizeLabel, macsDependOn } from '../analysis/inputShape';
export { inputSizeNote } from '../analysis/inputShape';
import type { EmbeddingInfo, HeadScores, LayerInfo, LayerTable, NormInfo } from '../analysis/types';

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

/** `Conv 64→64 · L1 μ 0.42 · γ min 0.003 (20 of 32 below 0.01) · 12% zeros`, plus the weakest head of a projection. */
export function layerDescription(layer: LayerInfo, gammaThreshold: number): string {
  const parts = [`${layer.op} ${layer.inChannels}→${layer.outChannels}`];
  const l1 = summarize(layer.out.l1);
  if (l1) parts.push(`L1 μ ${fmt(l1.mean)}`);
  const gamma = layer.batchNorm?.gamma;
  if (gamma && gamma.length) parts.push(gammaSummary(gamma, gammaThreshold));
  if (layer.heads) parts.push(headSummary(layer.heads));
  if (layer.tiedTo) parts.push(`tied to ${layer.tiedTo}`);
  parts.push(`${percent(layer.sparsity)} zeros`);
  return parts.join(' · ');
}

function gammaSummary(gamma: readonly number[], threshold: number): string {
  const g = summarize(gamma.map(Math.abs))!;
  return `γ min ${fmt(g.min)} (${countBelow(gamma, threshold)} of ${gamma.length} below ${fmt(threshold)})`;
}

/** `4 heads: L1 min 75 (#3)` (`2 kv heads` for k and v): the head that an L1 head prune would take first. */
export function headSummary(h: HeadScores): string {
  const [low] = lowest(h.l1, 1);
  return `${h.count} ${h.role === 'k' || h.role === 'v' ? 'kv heads' : 'heads'}: L1 min ${fmt(low.value)} (#${low.index})`;
}

/** `LayerNorm 128 · γ min 0.41 (0/128 < 0.01) · β` */
export function normDescription(norm: NormInfo, gammaThreshold: number): string {
  const parts = [`${norm.kind} ${norm.gamma.length}${norm.decomposed ? ' (decomposed)' : ''}`];
  if (norm.gamma.length) parts.push(gammaSummary(norm.gamma, gammaThreshold));
  if (norm.beta) parts.push('β');
  return parts.join(' · ');
}

/** `Embedding 256×128 · tied to lm_head` */
export function embeddingDescription(e: EmbeddingInfo, tiedNames: readonly string[]): string {
  return [`Embedding ${e.rows}×${e.dim}`, ...(tiedNames.length ? [`tied to ${tiedNames.join(', ')}`] : [])].join(' · ');
}

/**
 * The model's MACs and the input size they were counted at, for a model whose
 * count depends on named dims: `MACs 31.1M at images 1×3×96×96`, or
 * `MACs unknown (depend on height, width)`. Undefined for a model whose count
 * is exact whatever the input (nothing to say), or a token model (per token).
 */
export function modelMacsDescription(table: Pick<LayerTable, 'layers' | 'totals' | 'assumedInput'>): string | undefined {
  const open = macsDependOn(table);
  if (open.length) return `MACs unknown (depend on ${open.join(', ')})`;
  if (!table.totals.macsFormula || !table.assumedInput) return undefined;
  return `MACs ${compact(table.totals.macs)} at ${inputSizeLabel(table.assumedInput.shapes)}`;
}
