// The sortable layer table. A plain <table> styled with theme variables:
// vscode-table has no sorting and fixed column sizing that fights long names.

import { h } from '../dom';
import { formatCount, formatPercent, formatScore } from '../format';
import type { LayerRow, SortDirection, SortKey } from '../layerRows';

interface Column {
  key: SortKey;
  label: string;
  title: string;
  numeric: boolean;
  cell: (row: LayerRow) => Node | string;
}

/** `unknown` where the count depends on sizes no input size binds, saying which. */
function macsCell(r: LayerRow): Node | string {
  if (!r.macsDependsOn) return formatCount(r.macs);
  return h('span', { class: 'muted', title: `Depends on ${r.macsDependsOn.join(', ')}: set pruneLens.assumedInputShape to count it` }, 'unknown');
}

const COLUMNS: Column[] = [
  { key: 'index', label: '#', title: 'Position in the graph', numeric: true, cell: (r) => String(r.index + 1) },
  // Long module paths end in an ellipsis; the whole name and the node name are in the tooltip.
  { key: 'displayName', label: 'Layer', title: 'Module path (ONNX node name on hover)', numeric: false,
    cell: (r) => h('span', { class: 'layer-name', title: r.displayName === r.name ? r.name : `${r.displayName}\n${r.name}` }, r.displayName) },
  { key: 'op', label: 'Op', title: 'ONNX operator', numeric: false, cell: (r) => r.op },
  { key: 'outChannels', label: 'In → Out', title: 'Input and output channels', numeric: true, cell: (r) => `${r.inChannels} → ${r.outChannels}` },
  { key: 'params', label: 'Params', title: 'Weights and bias', numeric: true, cell: (r) => formatCount(r.params) },
  { key: 'macs', label: 'MACs', title: 'Multiply-accumulates per sample (for a language model, at the stated sequence length)', numeric: true, cell: macsCell },
  { key: 'sparsity', label: 'Sparsity', title: 'Fraction of zero weights', numeric: true, cell: (r) => formatPercent(r.sparsity) },
  { key: 'l1Mean', label: 'L1 mean', title: 'Mean L1 norm of the filters', numeric: true, cell: (r) => formatScore(r.l1Mean) },
  { key: 'l1Min', label: 'L1 min', title: 'Smallest filter L1 norm', numeric: true, cell: (r) => formatScore(r.l1Min) },
  { key: 'gammaMin', label: 'γ min', title: 'Smallest |gamma| of the BatchNorm after the layer', numeric: true, cell: (r) => (r.gammaMin === undefined ? '—' : formatScore(r.gammaMin)) },
  { key: 'headMin', label: 'Heads', title: 'Attention heads of the projection, and the lowest per-head L1 (a head is the sum over its rows); every head on hover', numeric: true, cell: headsCell },
  { key: 'removed', label: 'Removes', title: 'Output channels the current ratio would remove', numeric: true, cell: removedCell },
];

function headsCell(row: LayerRow): Node | string {
  if (row.heads === undefined || row.headMin === undefined) return '—';
  return h('span', { class: 'heads-cell', title: row.headScores }, `${row.heads} · min ${formatScore(row.headMin)}`);
}

function removedCell(row: LayerRow): Node | string {
  if (row.frozen !== undefined) return h('span', { class: 'frozen-cell', title: row.frozen }, 'kept');
  if (row.removed === undefined) return '—';
  const meter = h('span', { class: 'meter' }, h('span', { class: 'meter-fill' }));
  (meter.firstChild as HTMLElement).style.setProperty('width', `${(100 * row.removed) / Math.max(1, row.outChannels)}%`);
  return h('span', { class: 'removed-cell' }, h('span', {}, `${row.removed} / ${row.outChannels}`), meter);
}

export interface LayerTableHandlers {
  onSort: (key: SortKey) => void;
  onSelect: (layer: string) => void;
}

export function renderLayerTable(
  rows: readonly LayerRow[],
  sortKey: SortKey,
  direction: SortDirection,
  selected: string | undefined,
  handlers: LayerTableHandlers,
): HTMLElement {
  const header = h(
    'tr',
    {},
    ...COLUMNS.map((col) => {
      const active = col.key === sortKey;
      const th = h(
        'th',
        {
          class: `${col.numeric ? 'num' : ''} ${active ? 'sorted' : ''}`.trim() || undefined,
          title: col.title,
          tabindex: 0,
          'aria-sort': active ? (direction === 'asc' ? 'ascending' : 'descending') : 'none',
        },
        col.label,
        h('span', { class: 'sort-mark' }, active ? (direction === 'asc' ? '▲' : '▼') : ''),
      );
      th.addEventListener('click', () => handlers.onSort(col.key));
      th.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          handlers.onSort(col.key);
        }
      });
      return th;
    }),
  );
  const body = h('tbody');
  rows.forEach((row, i) => {
    const tr = h(
      'tr',
      { tabindex: 0, title: row.name, 'aria-selected': row.name === selected ? 'true' : 'false', 'data-layer': row.name },
      ...COLUMNS.map((col) => h('td', { class: col.numeric ? 'num' : col.key === 'displayName' ? 'name' : undefined }, col.cell(row))),
    );
    tr.addEventListener('click', () => handlers.onSelect(row.name));
    // Arrow keys walk the rows in their displayed order, Enter/Space selects.
    tr.addEventListener('keydown', (e) => {
      const target = e.key === 'ArrowDown' ? rows[i + 1] : e.key === 'ArrowUp' ? rows[i - 1] : e.key === 'Enter' || e.key === ' ' ? row : undefined;
      if (!target) return;
      e.preventDefault();
      handlers.onSelect(target.name);
    });
    body.append(tr);
  });
  return h('div', { class: 'table-scroll' }, h('table', { class: 'layers' }, h('thead', {}, header), body));
}
