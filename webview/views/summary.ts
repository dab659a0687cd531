// The model summary at the top of the report.

import { inputSizeLabel, inputSizeNote, macsDependOn } from '../../src/analysis/inputShape';
import { modelMacs } from '../../src/analysis/macs';
import type { LayerTable } from '../../src/analysis/types';
import { h } from '../dom';
import { formatBytes, formatCount, formatPercent } from '../format';

export function renderSummary(table: LayerTable | undefined, sequenceLength?: number, frozen: Readonly<Record<string, string>> = {}, failed = false): HTMLElement {
  if (!table) {
    // After a failed read there is nothing to wait for; the error above says why.
    return h('header', { class: 'summary' }, h('h1', {}, 'Prune Lens'), h('p', { class: 'muted' }, failed ? 'The model could not be read.' : 'Reading the model…'));
  }
  const frozenCount = table.layers.filter((l) => frozen[l.name] !== undefined).length;
  const fileName = table.file.split(/[\\/]/).pop() ?? table.file;
  const bnLayers = table.layers.filter((l) => l.batchNorm).length;
  const stat = (label: string, value: string, title?: string) =>
    h('div', { class: 'stat', title }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label));
  return h(
    'header',
    { class: 'summary' },
    h(
      'div',
      { class: 'summary-title' },
      h('h1', { title: table.file }, fileName),
      h('vscode-badge', { title: 'ONNX opset' }, `opset ${table.opset}`),
      table.producer ? h('span', { class: 'muted' }, table.producer) : null,
    ),
    h(
      'div',
      { class: 'stats' },
      stat('parameters', formatCount(table.totals.params), table.totals.params.toLocaleString('en-US')),
      macsStat(table, sequenceLength, stat),
      stat('size', formatBytes(table.totals.bytes)),
      stat('sparsity', formatPercent(table.totals.sparsity), `${table.totals.zeros.toLocaleString('en-US')} zero weights`),
      stat('layers', String(table.layers.length), 'Conv, ConvTranspose, Gemm and MatMul layers with constant weights'),
      stat('prunable', `${table.layers.length - frozenCount} of ${table.layers.length}`,
        frozenCount ? `${frozenCount} layer${frozenCount === 1 ? ' is' : 's are'} frozen: a structured prune cannot cut ${frozenCount === 1 ? 'its' : 'their'} output channels (reasons in the table)` : 'A structured prune can cut every layer'),
      stat('with BatchNorm', String(bnLayers), bnLayers === 0 ? 'No BatchNorm layers: the |gamma| criterion is unavailable' : undefined),
      attentionStat(table, stat),
      (table.norms ?? []).length ? stat('norms', String(table.norms.length), normKinds(table)) : null,
    ),
    sizeNote(table),
  );
}

type Stat = (label: string, value: string, title?: string) => HTMLElement;

/** Per sample; a language model's at the stated length, with the per-token figure beside it. */
function macsStat(table: LayerTable, length: number | undefined, stat: Stat): HTMLElement {
  const open = macsDependOn(table);
  if (open.length) return stat('MACs', 'unknown', `Depend on ${open.join(', ')}: set pruneLens.assumedInputShape to count them`);
  if (table.totals.macsFormula && table.assumedInput) {
    return stat(`MACs at ${inputSizeLabel(table.assumedInput.shapes)}`, formatCount(table.totals.macs), `${table.totals.macs.toLocaleString('en-US')} multiply-accumulates per sample = ${table.totals.macsFormula}`);
  }
  if (!table.sequenceDim) return stat('MACs', formatCount(table.totals.macs), `${table.totals.macs.toLocaleString('en-US')} multiply-accumulates per sample`);
  const m = modelMacs(table, length);
  const perToken = `${formatCount(m.perToken ?? 0)} per token`;
  if (!length) return stat('MACs per token', formatCount(m.perToken ?? 0), `Linear layers, per token of ${table.sequenceDim}; set pruneLens.sequenceLength or validation data for a length`);
  return stat(`MACs at ${length} tokens`, formatCount(m.atLength), `Linear layers at ${table.sequenceDim} = ${length} (${perToken}; attention scores not included)`);
}

/** Which input size the MACs are at, or what they depend on, for a model with named dims. */
function sizeNote(table: LayerTable): HTMLElement | null {
  const note = inputSizeNote(table);
  return note ? h('p', { class: 'muted size-note' }, note) : null;
}

function attentionStat(table: LayerTable, stat: Stat): HTMLElement | null {
  const blocks = table.attention ?? [];
  if (!blocks.length) return null;
  const shapes = [...new Set(blocks.map((a) => `${a.heads} heads${a.kvHeads !== a.heads ? ` (${a.kvHeads} kv)` : ''} of ${a.headDim}`))];
  return stat('attention blocks', String(blocks.length), shapes.join('; '));
}

function normKinds(table: LayerTable): string {
  const count = new Map<string, number>();
  for (const n of table.norms) count.set(n.kind, (count.get(n.kind) ?? 0) + 1);
  return [...count].map(([k, n]) => `${n} ${k}`).join(', ');
}
