// What a prune amounted to, judged before anything is written: whether it
// removed anything at all (if not, no file is written and the frozen groups say
// why), and which layers it nearly emptied (named in a warning).

import { PruneLensError } from '../onnx/errors';
import type { FrozenGroup, LayerChange, PruneReport } from './report';

/** A layer that loses more than this fraction of its output channels is named in a warning before anything is written. */
export const DRASTIC_LOSS = 0.9;

/** Whether the prune changed nothing: no channel removed, no weight newly zeroed. */
export function removedNothing(report: PruneReport): boolean {
  const t = report.totals;
  return t.paramsAfter === t.paramsBefore && (t.zerosAfter ?? 0) === (t.zerosBefore ?? 0)
    && report.layers.every((l) => l.outAfter === l.outBefore && l.inAfter === l.inBefore);
}

/** Structured changes that leave a layer with less than 1 − DRASTIC_LOSS of its output channels. */
export function drasticLayers(report: PruneReport, loss = DRASTIC_LOSS): LayerChange[] {
  return report.layers.filter((l) => l.outBefore > 1 && l.outAfter < l.outBefore && l.outBefore - l.outAfter > loss * l.outBefore + 1e-9);
}

/**
 * The reason a group stayed whole, in the few words a summary groups by:
 * "reaches the graph output", "shape computed at run time", "op X has no rule",
 * "ignored"; anything else as the engine said it.
 */
export function frozenKind(reason: string): string {
  if (/graph output/.test(reason)) return 'reaches the graph output';
  if (/ is ignored$/.test(reason)) return 'ignored';
  const op = /\((\w+)\) has no pruning rule/.exec(reason);
  if (op) return `op ${op[1]} has no rule`;
  if (/computed at run time|unknown|not tracked|against a dim of \?/.test(reason)) return 'shape computed at run time';
  return reason;
}

/** Frozen groups by kind, most frequent first: "12 shape computed at run time, 1 reaches the graph output". */
export function summarizeFrozen(frozen: FrozenGroup[]): { kind: string; groups: FrozenGroup[] }[] {
  const byKind = new Map<string, FrozenGroup[]>();
  for (const f of frozen) {
    const k = frozenKind(f.reason);
    byKind.set(k, [...(byKind.get(k) ?? []), f]);
  }
  return [...byKind].map(([kind, groups]) => ({ kind, groups })).sort((a, b) => b.groups.length - a.groups.length);
}

export function describeFrozen(frozen: FrozenGroup[]): string {
  return summarizeFrozen(frozen)
    .map(({ kind, groups }) => `${groups.length} ${groups.length === 1 ? 'group' : 'groups'}: ${kind} (${groups[0].layers[0]}${groups.length > 1 ? ', …' : ''})`)
    .join('; ');
}

/** The error for a prune that removed nothing: nothing is written, and the frozen groups say why. */
export function nothingRemovedError(report: PruneReport): PruneLensError {
  const why = report.frozen.length
    ? `every channel group it could cut is frozen: ${describeFrozen(report.frozen)}`
    : 'the amount comes to zero channels or weights in every layer (after round_to, a small layer may keep all of its channels)';
  return new PruneLensError('nothing-pruned', `nothing was pruned, so no file was written: ${why}`);
}

/**
 * The warning for layers a prune nearly empties, or undefined: "2 layers lose more
 * than 90% of their channels: conv1 64→1, layer1.0.conv1 64→1".
 */
export function drasticWarning(report: PruneReport, name: (layer: string) => string = (l) => l): string | undefined {
  const drastic = drasticLayers(report);
  if (!drastic.length) return undefined;
  const who = drastic.length === 1 ? '1 layer loses' : `${drastic.length} layers lose`;
  return `${who} more than ${DRASTIC_LOSS * 100}% of ${drastic.length === 1 ? 'its' : 'their'} channels: ${describeDrastic(drastic, name)}`;
}

/** "conv1 64→1, layer1.0.conv1 64→1": the layers a prune nearly empties, with display names when given. */
export function describeDrastic(layers: LayerChange[], name: (layer: string) => string = (l) => l): string {
  return layers.map((l) => `${name(l.layer)} ${l.outBefore}→${l.outAfter}`).join(', ');
}

/**
 * A relative change for people: "−30%", "−0.4%" (256→255, not "−0%"),
 * "−99.6%" (256→1, not "−100%"), "+12%". Whole percents where that is honest,
 * otherwise as many decimals as it takes to tell the change from 0 and from 100%.
 */
export function formatChange(before: number, after: number): string {
  if (!(before > 0) || !Number.isFinite(after)) return '—';
  if (after === before) return '0%';
  const pct = (after / before - 1) * 100;
  const abs = Math.abs(pct);
  let digits = 0;
  while (digits < 6 && (Number(abs.toFixed(digits)) === 0 || (after !== 0 && Number(abs.toFixed(digits)) >= 100 && pct < 0))) digits++;
  if (digits === 0 && abs < 10 && abs !== Math.round(abs)) digits = 1;
  return `${pct < 0 ? '−' : '+'}${abs.toFixed(digits)}%`;
}
