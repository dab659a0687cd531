// Histogram of the selected layer's channel scores, with the bins split into
// removed and kept channels and the threshold drawn as a vertical line.

import type { LayerInfo } from '../../src/analysis/types';
import type { PreviewMethod } from '../../src/pruning/methods';
import { emptyState, h, s } from '../dom';
import { formatScore } from '../format';
import { binScores, preferredScale, type HistogramScale } from '../histogram';
import { linearScale, niceTicks } from '../scale';
import { layerScores, type LayerCut } from '../threshold';

export const CRITERION_LABEL: Record<PreviewMethod, string> = {
  l1: 'filter L1 norm',
  l2: 'filter L2 norm',
  'bn-gamma': 'BatchNorm |gamma|',
};

const W = 520;
const H = 240;
const M = { top: 28, right: 16, bottom: 36, left: 40 };
/** Log scale: room left of the axis for the bar of exact zeros. */
const ZERO_SLOT = 28;

export function renderHistogram(
  layer: LayerInfo | undefined,
  criterion: PreviewMethod,
  cut: LayerCut | undefined,
  scaleSetting: 'auto' | HistogramScale,
  onScale: (scale: HistogramScale) => void,
  /** Why the structured engine keeps this layer whole, when it does. */
  frozen?: string,
): HTMLElement {
  if (!layer) return emptyState('Select a layer in the table to see its channel scores.');
  const scores = layerScores(layer, criterion);
  const title = h('h2', { title: layer.name }, layer.displayName || layer.name);
  if (!scores || scores.length === 0 || !cut) {
    const why = frozen
      ? `A structured prune keeps all ${layer.outChannels} output channels of this layer: ${frozen}.`
      : criterion === 'bn-gamma'
        ? 'This layer has no BatchNorm after it, so it has no |gamma| to rank. Choose L1 or L2, or select a layer with BatchNorm.'
        : 'This layer has no output channels to score.';
    return h('div', { class: 'card' }, title, emptyState(why));
  }

  const scale = scaleSetting === 'auto' ? preferredScale(scores) : scaleSetting;
  const log = scale === 'log';
  const hist = binScores(scores, { removed: cut.removed, threshold: cut.threshold, scale });
  const hasZeroBar = log && hist.zero.kept + hist.zero.removed > 0;
  const axis = log ? Math.log10 : (v: number) => v;
  const lo = axis(hist.edges[0]);
  const hi = axis(hist.edges[hist.edges.length - 1]);
  const left = M.left + (hasZeroBar ? ZERO_SLOT : 0);
  const x = linearScale(lo, hi, left, W - M.right);
  const maxCount = Math.max(1, hist.zero.kept + hist.zero.removed, ...hist.kept.map((k, i) => k + hist.removed[i]));
  const y = linearScale(0, maxCount, H - M.bottom, M.top);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `Histogram of ${CRITERION_LABEL[criterion]}` });

  // Count axis: integer ticks only.
  for (const t of niceTicks(0, maxCount, 4).filter((t) => Number.isInteger(t) && t <= maxCount)) {
    svg.append(
      s('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }),
      s('text', { class: 'tick', x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end' }, t),
    );
  }
  // Score axis: round values, or whole powers of ten on the log axis.
  const xTicks = log
    ? Array.from({ length: Math.floor(hi) - Math.ceil(lo) + 1 }, (_, i) => Math.ceil(lo) + i).filter((_, i, all) => all.length <= 6 || i % Math.ceil(all.length / 6) === 0)
    : niceTicks(lo, hi, 5).filter((t) => t >= lo - 1e-12 && t <= hi + 1e-12);
  for (const t of xTicks) svg.append(s('text', { class: 'tick', x: x(t), y: H - M.bottom + 16, 'text-anchor': 'middle' }, log ? powerOfTen(t) : formatScore(t)));
  svg.append(s('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }));

  const bar = (x0: number, width: number, below: number, count: number, cls: string, label: string) => {
    if (count > 0) svg.append(s('rect', { class: cls, x: x0, width, y: y(below + count), height: y(below) - y(below + count) }, s('title', {}, label)));
  };
  hist.kept.forEach((kept, i) => {
    const removed = hist.removed[i];
    const x0 = x(axis(hist.edges[i])) + 0.5;
    const width = Math.max(1, x(axis(hist.edges[i + 1])) - x(axis(hist.edges[i])) - 1);
    const range = `${formatScore(hist.edges[i])} – ${formatScore(hist.edges[i + 1])}`;
    bar(x0, width, 0, removed, 'bar-removed', `${range}: ${removed} removed`);
    bar(x0, width, removed, kept, 'bar-kept', `${range}: ${kept} kept`);
  });
  if (hasZeroBar) {
    const { kept, removed } = hist.zero;
    bar(M.left + 4, ZERO_SLOT - 10, 0, removed, 'bar-removed', `exactly 0: ${removed} removed`);
    bar(M.left + 4, ZERO_SLOT - 10, removed, kept, 'bar-kept', `exactly 0: ${kept} kept`);
    svg.append(s('text', { class: 'tick', x: M.left + ZERO_SLOT / 2 - 1, y: H - M.bottom + 16, 'text-anchor': 'middle' }, '0'));
  }

  // On a log axis a threshold <= 0 sits on the zero bar.
  if (Number.isFinite(cut.threshold) && (!log || cut.threshold > 0 || hasZeroBar)) {
    const tx = log && cut.threshold <= 0 ? left - 3 : x(axis(cut.threshold));
    const anchor = tx > W / 2 ? 'end' : 'start';
    svg.append(
      s('line', { class: 'threshold', x1: tx, x2: tx, y1: M.top - 8, y2: H - M.bottom }),
      s('text', { class: 'threshold-label', x: tx + (anchor === 'start' ? 4 : -4), y: M.top - 12, 'text-anchor': anchor }, `threshold ${formatScore(cut.threshold)}`),
    );
  }
  svg.append(s('text', { class: 'axis-label', x: (left + W - M.right) / 2, y: H - 4, 'text-anchor': 'middle' }, `${CRITERION_LABEL[criterion]}${log ? ' (log scale)' : ''}`));

  const toggle = h('vscode-button', { secondary: true, class: 'scale-toggle', title: 'Switch the score axis between linear and logarithmic' }, log ? 'Linear scale' : 'Log scale');
  toggle.addEventListener('click', () => onScale(log ? 'linear' : 'log'));
  const caption = h(
    'p',
    { class: 'caption' },
    h('span', { class: 'swatch swatch-removed' }),
    `${cut.removed.length} removed`,
    h('span', { class: 'swatch swatch-kept' }),
    `${cut.total - cut.removed.length} kept of ${cut.total} channels`,
  );
  return h('div', { class: 'card histogram' }, h('div', { class: 'card-title' }, title, toggle), svg, caption);
}

/** 10^k as a short label: 1e-8, 0.01, 1, 100, 1e4. */
function powerOfTen(k: number): string {
  return k >= -2 && k <= 3 ? String(Number((10 ** k).toPrecision(1))) : `1e${k}`;
}
