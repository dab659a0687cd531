// MACs at a stated sequence length. The layer table counts a token model's
// layers per token (its sequence dim is symbolic); the front ends scale them
// to the length the user states (a setting, or the sample data's length), so
// one cached analysis serves every length.

import type { AttentionInfo, LayerInfo, LayerTable } from './types';

/** A layer's MACs per sample at `length` tokens; without a length, as analysed (per token). */
export function macsAt(layer: Pick<LayerInfo, 'macs' | 'tokenAxis'>, length?: number): number {
  return layer.tokenAxis && length ? layer.macs * length : layer.macs;
}

/** Q·Kᵀ and A·V of one block: 2 · heads · length² · head dim per sample. */
export function attentionMacs(a: Pick<AttentionInfo, 'heads' | 'headDim'>, length: number): number {
  return 2 * a.heads * length * length * a.headDim;
}

/** The model's layer MACs per sample at `length` tokens, and per token when it has a sequence dim. */
export function modelMacs(table: Pick<LayerTable, 'layers' | 'sequenceDim'>, length?: number): { atLength: number; perToken?: number } {
  let atLength = 0;
  let perToken = 0;
  for (const l of table.layers) {
    atLength += macsAt(l, length);
    if (l.tokenAxis) perToken += l.macs;
  }
  return { atLength, perToken: table.sequenceDim ? perToken : undefined };
}

/** `8 heads, 2 kv, dim 16` (kv only when it differs). */
export function headsLabel(a: Pick<AttentionInfo, 'heads' | 'kvHeads' | 'headDim'>): string {
  return `${a.heads} heads${a.kvHeads !== a.heads ? `, ${a.kvHeads} kv` : ''}, dim ${a.headDim}`;
}
