// Sensitivity curves (Li et al. 2017, Fig. 2): the metric after pruning one
// layer alone at each ratio, one line per layer. Hovering a line or its legend
// entry highlights it; the selected layer is drawn thicker.

import type { SensitivityCurve, SensitivityReport } from '../../src/pruning/report';
import { sensitivityByKind } from '../../src/pruning/sensitivity/kinds';
import { h, s } from '../dom';
import { formatPercent } from '../format';
import { linearScale, niceTicks } from '../scale';

const W = 640;
const H = 300;
const M = { top: 16, right: 16, bottom: 40, left: 64 };
/** VS Code has six chart colours; beyond six layers the dash pattern tells lines apart. */
const COLOURS = 6;

export function seriesClass(i: number): string {
  return `series series-${i % COLOURS} dash-${Math.floor(i / COLOURS) % 3}`;
}

export function renderSensitivity(
  report: SensitivityReport,
  displayNames: Map<string, string>,
  selected: string | undefined,
  onSelect: (layer: string) => void,
): HTMLElement {
  const values = [report.baseline, ...report.curves.flatMap((c) => c.metric)].filter(Number.isFinite);
  const yTicks = niceTicks(Math.min(...values), Math.max(...values), 5);
  const y = linearScale(yTicks[0], yTicks[yTicks.length - 1], H - M.bottom, M.top);
  const x = linearScale(0, 1, M.left, W - M.right);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart sensitivity', role: 'img', 'aria-label': `${report.metricName} versus pruning ratio, per layer` });

  for (const t of yTicks) {
    svg.append(
      s('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }),
      s('text', { class: 'tick', x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end' }, formatPercent(t, t * 100 === Math.round(t * 100) ? 0 : 1)),
    );
  }
  for (const t of niceTicks(0, 1, 10)) {
    svg.append(s('text', { class: 'tick', x: x(t), y: H - M.bottom + 16, 'text-anchor': 'middle' }, t));
  }
  svg.append(
    s('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }),
    s('line', { class: 'baseline', x1: M.left, x2: W - M.right, y1: y(report.baseline), y2: y(report.baseline) }, s('title', {}, `unpruned: ${formatPercent(report.baseline)}`)),
    s('text', { class: 'axis-label', x: (M.left + W - M.right) / 2, y: H - 4, 'text-anchor': 'middle' }, 'pruning ratio (this layer alone)'),
    s('text', { class: 'axis-label', x: 12, y: (M.top + H - M.bottom) / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${(M.top + H - M.bottom) / 2})` },
      report.metricName === 'accuracy' ? 'accuracy' : 'top-1 agreement'),
  );

  const legend = h('ul', { class: 'legend' });
  const highlight = (layer: string | undefined) => {
    svg.classList.toggle('hovering', layer !== undefined);
    for (const el of Array.from(svg.querySelectorAll('.series'))) el.classList.toggle('hover', el.getAttribute('data-layer') === layer);
    for (const el of Array.from(legend.children)) el.classList.toggle('hover', el.getAttribute('data-layer') === layer);
  };

  report.curves.forEach((curve, i) => {
    // A group of coupled layers (a residual stream) is pruned as one: name them all.
    const layers = (curve.layers ?? [curve.layer]).map((l) => displayNames.get(l) ?? l).join(' + ');
    const name = curve.kind ? `${curve.block ? `${curve.block} · ` : ''}${KIND_LABELS[curve.kind]}: ${layers}` : layers;
    // Every curve starts at the unpruned model.
    const points: [number, number][] = curve.ratios[0] === 0 ? [] : [[0, report.baseline]];
    curve.ratios.forEach((r, j) => points.push([r, curve.metric[j]]));
    const d = points.map(([r, m], j) => `${j === 0 ? 'M' : 'L'}${x(r).toFixed(1)},${y(m).toFixed(1)}`).join('');
    const cls = `${seriesClass(i)}${curve.layer === selected ? ' selected' : ''}`;
    const group = s(
      'g',
      { class: cls, 'data-layer': curve.layer },
      s('title', {}, name),
      s('path', { d }),
      // A wide transparent copy of the line makes it easy to hover.
      s('path', { class: 'hit', d }),
      ...curve.ratios.map((r, j) => s('circle', { cx: x(r), cy: y(curve.metric[j]), r: 2.5 }, s('title', {}, `${name} at ${r}: ${formatPercent(curve.metric[j])}`))),
    );
    group.addEventListener('mouseenter', () => highlight(curve.layer));
    group.addEventListener('mouseleave', () => highlight(undefined));
    group.addEventListener('click', () => onSelect(curve.layer));
    svg.append(group);

    const item = h('li', { class: cls, 'data-layer': curve.layer, title: curve.layer, tabindex: 0 }, s('svg', { class: 'legend-line', viewBox: '0 0 24 8' }, s('path', { d: 'M0,4L24,4' })), name);
    item.addEventListener('mouseenter', () => highlight(curve.layer));
    item.addEventListener('mouseleave', () => highlight(undefined));
    item.addEventListener('focus', () => highlight(curve.layer));
    item.addEventListener('blur', () => highlight(undefined));
    item.addEventListener('click', () => onSelect(curve.layer));
    legend.append(item);
  });

  const metric = report.metricName === 'accuracy' ? 'accuracy' : 'top-1 agreement with the original';
  const byKind = kindTable(report);
  return h(
    'div',
    { class: 'sensitivity-view' },
    h('p', { class: 'muted' }, `${metric} after pruning each layer alone · unpruned ${formatPercent(report.baseline)} (dashed line)`),
    h('div', { class: 'card' }, svg),
    legend,
    ...(byKind ? [byKind] : []),
  );
}

const KIND_LABELS: Record<NonNullable<SensitivityCurve['kind']>, string> = { attention: 'attention heads', mlp: 'MLP neurons', hidden: 'hidden size' };

/** A transformer's curves by kind: per kind, the mean (worst) metric of its groups at each ratio. */
export function kindTable(report: SensitivityReport): HTMLElement | undefined {
  const kinds = sensitivityByKind(report);
  if (!kinds.length) return undefined;
  const ratios = kinds[0].ratios;
  const rows = kinds.map((k) => h('tr', { 'data-kind': k.kind },
    h('th', {}, `${KIND_LABELS[k.kind]} (${k.groups})`),
    ...ratios.map((_, j) => h('td', { title: `mean of ${k.groups} groups` }, Number.isFinite(k.mean[j]) ? `${formatPercent(k.mean[j])} (${formatPercent(k.worst[j])})` : '–'))));
  return h(
    'div',
    { class: 'card kind-table' },
    h('p', { class: 'muted' }, 'by kind: mean (worst) over the groups of each kind, each pruned alone'),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'kind'), ...ratios.map((r) => h('th', {}, String(r))))), h('tbody', {}, ...rows)),
  );
}
