// The model summary at the top of the report.

import type { LayerTable } from '../../src/analysis/types';
import { h } from '../dom';
import { formatBytes, formatCount, formatPercent } from '../format';

export function renderSummary(table: LayerTable | undefined): HTMLElement {
  if (!table) {
    return h('header', { class: 'summary' }, h('h1', {}, 'Prune Lens'), h('p', { class: 'muted' }, 'Waiting for the model analysis…'));
  }
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
      stat('MACs', formatCount(table.totals.macs), `${table.totals.macs.toLocaleString('en-US')} multiply-accumulates per sample`),
      stat('size', formatBytes(table.totals.bytes)),
      stat('sparsity', formatPercent(table.totals.sparsity), `${table.totals.zeros.toLocaleString('en-US')} zero weights`),
      stat('prunable layers', String(table.layers.length)),
      stat('with BatchNorm', String(bnLayers), bnLayers === 0 ? 'No BatchNorm layers: the |gamma| criterion is unavailable' : undefined),
    ),
  );
}
