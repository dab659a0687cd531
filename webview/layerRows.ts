// The layer table's rows (one per prunable layer) and their sorting. Pure.

import { macsAt } from '../src/analysis/macs';
import type { HeadScores, LayerTable } from '../src/analysis/types';
import type { CutPlan } from './threshold';

export interface LayerRow {
  /** Position in the model (graph order), the default sort. */
  index: number;
  name: string;
  displayName: string;
  op: string;
  inChannels: number;
  outChannels: number;
  params: number;
  /** Per sample; for a language model at the stated sequence length (per token without one). */
  macs: number;
  /** Sizes the MAC count leaves out (no input size binds them): the count is unknown. */
  macsDependsOn?: string[];
  sparsity: number;
  l1Mean: number;
  l1Min: number;
  /** Smallest |gamma| of the BatchNorm after the layer; undefined without one. */
  gammaMin?: number;
  /** Output channels the current cut removes; undefined when the layer has no score for the criterion. */
  removed?: number;
  /** Why the engine will not cut this layer's channels (the model's output, an op without a rule). */
  frozen?: string;
  /** `8 × 16` for a projection of an attention block (kv heads for k and v). */
  heads?: string;
  /** The lowest per-head L1 (a head is the sum over its rows). */
  headMin?: number;
  /** Every head's L1 and L2, for the cell's tooltip. */
  headScores?: string;
}

export type SortKey = Exclude<keyof LayerRow, 'name' | 'headScores' | 'macsDependsOn'>;
export type SortDirection = 'asc' | 'desc';

export const SORT_KEYS: readonly SortKey[] = [
  'index',
  'displayName',
  'op',
  'inChannels',
  'outChannels',
  'params',
  'macs',
  'sparsity',
  'l1Mean',
  'l1Min',
  'gammaMin',
  'headMin',
  'removed',
];

export function layerRows(table: LayerTable, plan: CutPlan | undefined, frozen: Readonly<Record<string, string>> = {}, sequenceLength?: number): LayerRow[] {
  return table.layers.map((layer, index) => {
    const l1 = layer.out.l1;
    const gamma = layer.batchNorm?.gamma;
    return {
      index,
      name: layer.name,
      displayName: layer.displayName || layer.name,
      op: layer.op,
      inChannels: layer.inChannels,
      outChannels: layer.outChannels,
      params: layer.params,
      macs: macsAt(layer, sequenceLength),
      ...(layer.macsDependsOn && !layer.tokenAxis ? { macsDependsOn: layer.macsDependsOn } : {}),
      sparsity: layer.sparsity,
      l1Mean: l1.length ? l1.reduce((a, b) => a + b, 0) / l1.length : NaN,
      l1Min: l1.length ? minOf(l1) : NaN,
      gammaMin: gamma && gamma.length ? minOf(gamma.map(Math.abs)) : undefined,
      removed: plan?.layers.get(layer.name)?.removed.length,
      frozen: frozen[layer.name],
      ...(layer.heads ? headColumns(layer.heads) : {}),
    };
  });
}

function headColumns(h: HeadScores): Pick<LayerRow, 'heads' | 'headMin' | 'headScores'> {
  const list = (v: number[]) => v.map((x, i) => `#${i} ${x.toPrecision(3)}`).join(', ');
  return {
    heads: `${h.count} × ${h.dim}`,
    headMin: minOf(h.l1),
    headScores: `${h.role === 'o' ? 'Input' : 'Output'} heads of ${h.attention}, each the sum over its ${h.dim} ${h.role === 'o' ? 'columns' : 'rows'}\nL1: ${list(h.l1)}\nL2: ${list(h.l2)}`,
  };
}

// A loop, not Math.min(...values): a vocabulary-sized layer would overflow the argument list.
function minOf(values: readonly number[]): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min;
}

/**
 * Stable sort by one column. Rows without a value (no BN, no score) go last in
 * both directions: they are not "smallest", they are not comparable. Names
 * compare naturally, so layer2 comes before layer10.
 */
export function sortRows(rows: readonly LayerRow[], key: SortKey, direction: SortDirection): LayerRow[] {
  const sign = direction === 'asc' ? 1 : -1;
  const missing = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isNaN(v));
  return rows
    .map((row, position) => ({ row, position }))
    .sort((a, b) => {
      const va = a.row[key];
      const vb = b.row[key];
      if (missing(va) || missing(vb)) {
        if (missing(va) && missing(vb)) return a.position - b.position;
        return missing(va) ? 1 : -1;
      }
      const order =
        typeof va === 'string' && typeof vb === 'string'
          ? va.localeCompare(vb, undefined, { numeric: true })
          : (va as number) - (vb as number);
      return order !== 0 ? sign * order : a.position - b.position;
    })
    .map(({ row }) => row);
}
