// Validation results: where it ran, how the outputs agree, and the latency,
// accuracy and size of the original next to the pruned model.

import { isClassifierOutput, type ValidationReport } from '../../src/validation/report';
import { h } from '../dom';
import { formatBytes, formatCosine, formatCount, formatMs, formatPercent, formatScore } from '../format';

function stat(label: string, value: string, title?: string): HTMLElement {
  return h('div', { class: 'stat', title }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label));
}

/** One metric row: original, pruned, and a pair of bars scaled to the larger. */
function metricRow(label: string, original: number | undefined, pruned: number | undefined, format: (n: number) => string): HTMLElement {
  const max = Math.max(original ?? 0, pruned ?? 0);
  const bar = (value: number | undefined, cls: string) => {
    const meter = h('span', { class: 'meter' }, h('span', { class: `meter-fill ${cls}` }));
    (meter.firstChild as HTMLElement).style.setProperty('width', `${value !== undefined && max > 0 ? (100 * value) / max : 0}%`);
    return meter;
  };
  return h(
    'tr',
    {},
    h('th', { scope: 'row' }, label),
    h('td', { class: 'num' }, original === undefined ? '—' : format(original)),
    h('td', { class: 'num' }, pruned === undefined ? '—' : format(pruned)),
    h('td', { class: 'bars' }, bar(original, 'meter-original'), bar(pruned, 'meter-kept')),
  );
}

export function renderValidation(report: ValidationReport, outputShape?: readonly (number | string)[]): HTMLElement {
  // Top-1 agreement is a classifier's headline; for other outputs (boxes, sequences) the outputs' closeness is.
  const classifier = outputShape === undefined || isClassifierOutput(outputShape);
  const providers = h(
    'ul',
    { class: 'providers' },
    ...report.attempts.map((a) =>
      h(
        'li',
        { class: a.ok ? 'ok' : 'skipped' },
        h('vscode-badge', { variant: a.provider === report.provider ? 'counter' : 'default' }, a.provider),
        a.ok ? (a.provider === report.provider ? ' used' : ' available') : ` skipped: ${a.reason ?? 'no reason given'}`,
      ),
    ),
  );
  const o = report.original;
  const p = report.pruned;
  const metrics = h(
    'table',
    { class: 'metrics' },
    h('thead', {}, h('tr', {}, h('th'), h('th', { class: 'num', title: o.file }, 'original'), h('th', { class: 'num', title: p.file }, 'pruned'), h('th'))),
    h(
      'tbody',
      {},
      o.perplexity !== undefined ? metricRow('perplexity', o.perplexity, p.perplexity, (n) => n.toFixed(3)) : null,
      report.labels ? metricRow(report.tokens !== undefined ? 'next-token accuracy' : 'accuracy', o.accuracy, p.accuracy, (n) => formatPercent(n)) : null,
      metricRow('latency p50', o.latency.p50, p.latency.p50, formatMs),
      metricRow('latency p95', o.latency.p95, p.latency.p95, formatMs),
      metricRow('throughput', o.latency.throughput, p.latency.throughput, (n) => `${formatCount(n)}/s`),
      metricRow('size', o.bytes, p.bytes, formatBytes),
      metricRow('parameters', o.params, p.params, formatCount),
      metricRow('MACs', o.macs, p.macs, formatCount),
    ),
  );
  return h(
    'div',
    { class: 'validation-view' },
    h('p', { class: 'muted' }, `${report.samples} samples${report.tokens !== undefined ? ` (${report.tokens} tokens)` : ''} in batches of ${report.batchSize} · data: ${report.data}${report.labels ? '' : classifier ? ' (no labels: agreement only)' : ` · output ${report.output ?? ''} [${(outputShape ?? []).join(', ')}] is not a class score: compared by cosine and |diff|`}`),
    h(
      'div',
      { class: 'stats' },
      classifier ? stat('top-1 agreement', formatPercent(report.agreement), 'Samples whose top-1 class is the same in both models') : null,
      stat('cosine', formatCosine(report.cosine), `Cosine similarity of the outputs: ${report.cosine}`),
      stat('max |diff|', formatScore(report.maxAbsDiff), 'Largest absolute difference between the outputs'),
      stat('mean |diff|', formatScore(report.meanAbsDiff)),
      stat('speedup (p50)', `${report.speedup.toFixed(2)}×`, 'original p50 latency / pruned p50 latency'),
    ),
    h('h3', {}, 'Execution providers'),
    providers,
    h('h3', {}, 'Original vs pruned'),
    metrics,
  );
}
