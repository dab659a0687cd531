// Before/after comparison of a prune: totals, then per layer channels, params
// and MACs with bars showing how much of each is left.

import type { LayerTable } from '../../src/analysis/types';
import { formatChange } from '../../src/pruning/outcome';
import type { LayerChange, PruneReport } from '../../src/pruning/report';
import { inputSizeLabel, macsDependOn } from '../../src/analysis/inputShape';
import { h } from '../dom';
import { formatBytes, formatCount, formatPercent, formatScore } from '../format';

/** "1.2M → 640K" with a bar of after/before and the change in percent. */
function beforeAfter(before: number, after: number, format: (n: number) => string): HTMLElement {
  const left = before > 0 ? after / before : 1;
  const bar = h('span', { class: 'meter' }, h('span', { class: 'meter-fill meter-kept' }));
  (bar.firstChild as HTMLElement).style.setProperty('width', `${Math.min(100, 100 * left)}%`);
  const change = before > 0 && after !== before ? h('span', { class: after < before ? 'delta-good' : 'delta-bad' }, ` ${formatChange(before, after)}`) : null;
  return h('span', { class: 'before-after', title: `${before.toLocaleString('en-US')} → ${after.toLocaleString('en-US')}` }, `${format(before)} → ${format(after)}`, change, bar);
}

function totalCard(label: string, before: number, after: number, format: (n: number) => string): HTMLElement {
  return h('div', { class: 'stat wide' }, beforeAfter(before, after, format), h('span', { class: 'stat-label' }, label));
}

function channelsCell(change: LayerChange, structured: boolean): HTMLElement | string {
  if (structured) return beforeAfter(change.outBefore, change.outAfter, String);
  if (change.zerosAfter === undefined) return '—';
  const total = change.paramsBefore;
  return h('span', { title: 'zero weights before → after' }, `${formatPercent((change.zerosBefore ?? 0) / total)} → ${formatPercent(change.zerosAfter / total)} zeros`);
}

/** What was asked, step by step: criterion, scope (with its normalizer), amount (the plan's own words). */
export function pruneDescription(report: PruneReport): string[] {
  if (report.steps?.length) return report.steps.map((s) => (report.steps!.length > 1 ? `step ${s.step}: ${s.label}` : s.label));
  return [report.method, report.method.includes('structured') ? '' : report.structured ? 'structured' : 'unstructured'];
}

/** The input size the MACs are at; or, without one, that they count each named dim as 1. */
function sizeNote(report: PruneReport, after: LayerTable | undefined): HTMLElement | null {
  if (report.assumedInput) return h('p', { class: 'muted size-note' }, `MACs per sample at ${inputSizeLabel(report.assumedInput.shapes)}, from ${report.assumedInput.source}.`);
  const open = after ? macsDependOn(after) : [];
  if (!open.length) return null;
  return h('p', { class: 'muted size-note' }, `MACs unknown: they depend on ${open.join(', ')}, counted as 1 here; set pruneLens.assumedInputShape to count them.`);
}

export function renderCompare(report: PruneReport, after: LayerTable | undefined, displayNames: Map<string, string>): HTMLElement {
  const t = report.totals;
  const totals = h(
    'div',
    { class: 'stats' },
    totalCard('parameters', t.paramsBefore, t.paramsAfter, formatCount),
    totalCard('MACs', t.macsBefore, t.macsAfter, formatCount),
    totalCard('file size', t.bytesBefore, t.bytesAfter, formatBytes),
    // Unstructured pruning shows its effect as sparsity, not as smaller tensors.
    after && !report.structured ? h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, formatPercent(after.totals.sparsity)), h('span', { class: 'stat-label' }, 'sparsity after')) : null,
  );

  const rows = report.layers.map((c) =>
    h(
      'tr',
      { title: c.layer },
      h('td', {}, displayNames.get(c.layer) ?? c.layer),
      h('td', {}, c.op),
      h('td', { class: 'num' }, channelsCell(c, report.structured)),
      h('td', { class: 'num' }, beforeAfter(c.paramsBefore, c.paramsAfter, formatCount)),
      h('td', { class: 'num' }, beforeAfter(c.macsBefore, c.macsAfter, formatCount)),
    ),
  );
  const table = h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      { class: 'compare' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Layer'), h('th', {}, 'Op'), h('th', { class: 'num' }, report.structured ? 'Out channels' : 'Zeros'), h('th', { class: 'num' }, 'Params'), h('th', { class: 'num' }, 'MACs'))),
      h('tbody', {}, ...rows),
      h(
        'tfoot',
        {},
        h('tr', {}, h('td', {}, 'Total'), h('td'), h('td'), h('td', { class: 'num' }, beforeAfter(t.paramsBefore, t.paramsAfter, formatCount)), h('td', { class: 'num' }, beforeAfter(t.macsBefore, t.macsAfter, formatCount))),
      ),
    ),
  );

  const sections: (HTMLElement | null)[] = [
    h('p', { class: 'muted compare-header', title: `${report.source} → ${report.output}` }, [...pruneDescription(report), report.output.split(/[\\/]/).pop()].filter(Boolean).join(' · ')),
    totals,
    sizeNote(report, after),
    table,
  ];
  if (report.recovery && report.recovery.length > 0) {
    sections.push(
      h('h3', {}, 'Recovery (reconstruction error)'),
      h(
        'table',
        { class: 'compare' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Layer'), h('th', { class: 'num' }, 'before'), h('th', { class: 'num' }, 'after'))),
        h('tbody', {}, ...report.recovery.map((r) => h('tr', {}, h('td', {}, displayNames.get(r.layer) ?? r.layer), h('td', { class: 'num' }, formatScore(r.errorBefore)), h('td', { class: 'num' }, formatScore(r.errorAfter))))),
      ),
    );
  }
  if (report.frozen.length > 0) {
    sections.push(
      h('h3', {}, `Not pruned (${report.frozen.length} frozen group${report.frozen.length === 1 ? '' : 's'})`),
      h('ul', { class: 'notes' }, ...report.frozen.map((g) => h('li', {}, h('strong', {}, g.layers.map((l) => displayNames.get(l) ?? l).join(', ')), ': ', g.reason))),
    );
  }
  if (report.warnings.length > 0) {
    sections.push(h('h3', {}, 'Warnings'), h('ul', { class: 'notes warnings' }, ...report.warnings.map((w) => h('li', {}, w))));
  }
  return h('div', { class: 'compare-view' }, ...sections);
}
