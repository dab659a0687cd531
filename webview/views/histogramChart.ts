// Histogram of the selected layer's channel scores, with the bins split into
// removed and kept channels and the threshold drawn as a vertical line.

import type { LayerInfo } from '../../src/analysis/types';
import type { Criterion } from '../../src/protocol';
import { emptyState, h, s } from '../dom';
import { formatScore } from '../format';
import { binScores } from '../histogram';
import { linearScale, niceTicks } from '../scale';
import { layerScores, type LayerCut } from '../threshold';

export const CRITERION_LABEL: Record<Criterion, string> = {
  l1: 'filter L1 norm',
  l2: 'filter L2 norm',
  gamma: 'BatchNorm |gamma|',
};

const W = 520;
const H = 240;
const M = { top: 28, right: 16, bottom: 36, left: 40 };

export function renderHistogram(layer: LayerInfo | undefined, criterion: Criterion, cut: LayerCut | undefined): HTMLElement {
  if (!layer) return emptyState('Select a layer in the table to see its channel scores.');
  const scores = layerScores(layer, criterion);
  const title = h('h2', { title: layer.name }, layer.displayName || layer.name);
  if (!scores || scores.length === 0 || !cut) {
    const why =
      criterion === 'gamma'
        ? 'This layer has no BatchNorm after it, so it has no |gamma| to rank. Choose L1 or L2, or select a layer with BatchNorm.'
        : 'This layer has no output channels to score.';
    return h('div', { class: 'card' }, title, emptyState(why));
  }

  const hist = binScores(scores, cut.threshold);
  const lo = hist.edges[0];
  const hi = hist.edges[hist.edges.length - 1];
  const maxCount = Math.max(1, ...hist.kept.map((k, i) => k + hist.removed[i]));
  const x = linearScale(lo, hi, M.left, W - M.right);
  const y = linearScale(0, maxCount, H - M.bottom, M.top);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `Histogram of ${CRITERION_LABEL[criterion]}` });

  // Count axis: integer ticks only.
  for (const t of niceTicks(0, maxCount, 4).filter((t) => Number.isInteger(t) && t <= maxCount)) {
    svg.append(
      s('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }),
      s('text', { class: 'tick', x: M.left - 6, y: y(t) + 4, 'text-anchor': 'end' }, t),
    );
  }
  const xTicks = niceTicks(lo, hi, 5).filter((t) => t >= lo - 1e-12 && t <= hi + 1e-12);
  for (const t of xTicks) svg.append(s('text', { class: 'tick', x: x(t), y: H - M.bottom + 16, 'text-anchor': 'middle' }, formatScore(t)));
  svg.append(s('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }));

  hist.kept.forEach((kept, i) => {
    const removed = hist.removed[i];
    const x0 = x(hist.edges[i]) + 0.5;
    const width = Math.max(1, x(hist.edges[i + 1]) - x(hist.edges[i]) - 1);
    const range = `${formatScore(hist.edges[i])} – ${formatScore(hist.edges[i + 1])}`;
    if (removed > 0) {
      svg.append(
        s('rect', { class: 'bar-removed', x: x0, width, y: y(removed), height: y(0) - y(removed) }, s('title', {}, `${range}: ${removed} removed`)),
      );
    }
    if (kept > 0) {
      svg.append(
        s('rect', { class: 'bar-kept', x: x0, width, y: y(removed + kept), height: y(removed) - y(removed + kept) }, s('title', {}, `${range}: ${kept} kept`)),
      );
    }
  });

  if (Number.isFinite(cut.threshold)) {
    const tx = x(cut.threshold);
    const anchor = tx > W / 2 ? 'end' : 'start';
    svg.append(
      s('line', { class: 'threshold', x1: tx, x2: tx, y1: M.top - 8, y2: H - M.bottom }),
      s('text', { class: 'threshold-label', x: tx + (anchor === 'start' ? 4 : -4), y: M.top - 12, 'text-anchor': anchor }, `threshold ${formatScore(cut.threshold)}`),
    );
  }
  svg.append(s('text', { class: 'axis-label', x: (M.left + W - M.right) / 2, y: H - 4, 'text-anchor': 'middle' }, CRITERION_LABEL[criterion]));

  const caption = h(
    'p',
    { class: 'caption' },
    h('span', { class: 'swatch swatch-removed' }),
    `${cut.removed} removed`,
    h('span', { class: 'swatch swatch-kept' }),
    `${cut.total - cut.removed} kept of ${cut.total} channels`,
  );
  return h('div', { class: 'card' }, title, svg, caption);
}
