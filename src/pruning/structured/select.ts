// Choosing which channels to remove from scores: per group (local), or one
// threshold across the model (global, as Torch-Pruning's MetaPruner does it),
// with per-layer overrides, round_to and a maximum ratio per group.

import { PruneLensError } from '../../onnx/errors';
import type { DepGraph } from '../depgraph';
import { resolveLayers } from '../match';
import { shareTies } from './ties';

export interface SelectOptions {
  /** 'local': each group loses `ratio` of its channels. 'global': one score threshold across all groups. */
  scope?: 'local' | 'global';
  /** Fraction of channels to remove, in [0, 1). */
  ratio?: number;
  /** Layer name or glob → ratio for the groups those layers define (overrides `ratio`; taken out of the global pool). */
  perLayer?: Record<string, number>;
  /** Layer name or glob → channels to keep (overrides perLayer). */
  keep?: Record<string, number>;
  /** Group id → number of channels to remove (overrides everything). */
  perGroupCount?: Record<number, number>;
  /** Keep a multiple of this many channels per group (rounded up, so fewer are removed). */
  roundTo?: number;
  /** Never remove more than this fraction of a group. At least one channel always stays. */
  maxRatio?: number;
}

export interface Selection {
  /** Group id → group channel indices to remove, ascending. */
  remove: Map<number, number[]>;
  warnings: string[];
  /** Channels that roundTo kept although the amount (after the other caps) would have removed them: its cost. */
  keptByRounding: number;
}

const EPS = 1e-9;

/** Channels kept when a fraction `ratio` of `size` goes: Torch-Pruning's int(size * (1 - ratio)). */
export function keptCount(size: number, ratio: number): number {
  return Math.floor(size * (1 - ratio) + EPS);
}

export function selectChannels(graph: DepGraph, scores: Map<number, Float64Array>, opts: SelectOptions = {}): Selection {
  const ratio = opts.ratio ?? 0;
  checkRatio(ratio, 'ratio');
  if (opts.maxRatio !== undefined) checkRatio(opts.maxRatio, 'maxRatio', true);
  if (opts.roundTo !== undefined && !(Number.isInteger(opts.roundTo) && opts.roundTo >= 1)) {
    throw new PruneLensError('plan', `roundTo must be a whole number of channels of at least 1, not ${opts.roundTo}`);
  }
  const warnings: string[] = [];
  const explicit = explicitCounts(graph, opts, warnings);
  const remove = new Map<number, number[]>();
  let keptByRounding = 0;
  const limit = (size: number, n: number) => {
    let count = Math.min(n, size - 1);
    if (opts.maxRatio !== undefined) count = Math.min(count, Math.floor(size * opts.maxRatio + EPS));
    if (opts.roundTo && count > 0) {
      const kept = Math.min(size, Math.ceil((size - count) / opts.roundTo) * opts.roundTo);
      keptByRounding += count - (size - kept);
      count = size - kept;
    }
    return Math.max(0, count);
  };
  for (const [gid, n] of explicit) {
    const s = scores.get(gid);
    if (!s) {
      warnings.push(`group of ${graph.groups[gid].roots.join(', ')} has no scores under this criterion; it is kept whole`);
      continue;
    }
    remove.set(gid, lowest(s, limit(s.length, n)));
  }
  const pool = [...scores.keys()].filter((gid) => !explicit.has(gid) && !graph.groups[gid].frozen);
  if ((opts.scope ?? 'local') === 'local') {
    for (const gid of pool) {
      const s = scores.get(gid)!;
      remove.set(gid, lowest(s, limit(s.length, s.length - keptCount(s.length, ratio))));
    }
  } else {
    globalThreshold(pool, scores, ratio, limit, remove);
  }
  for (const [gid, list] of remove) evenOut(graph, gid, list, scores.get(gid)!, remove, warnings);
  for (const [gid, list] of remove) if (!list.length) remove.delete(gid);
  keepEveryValueNonEmpty(graph, scores, remove, warnings, opts.roundTo);
  return { remove, warnings, keptByRounding };
}

/**
 * Torch-Pruning's global step: concatenate the scores of all groups, remove
 * n = total - int(total * (1 - ratio)) channels by taking the n-th smallest
 * score as the threshold and cutting every channel below it; then each
 * group's caps (maxRatio, one channel kept, roundTo) apply.
 *
 * Channels tied at the threshold are where we differ on purpose: Torch-Pruning
 * cuts all of them, which on an untrained network (every BN gamma exactly 1)
 * empties every layer but one channel. Here the tied channels share what is
 * left of the n, in proportion to how many each group holds.
 */
function globalThreshold(pool: number[], scores: Map<number, Float64Array>, ratio: number,
  limit: (size: number, n: number) => number, remove: Map<number, number[]>): void {
  const total = pool.reduce((s, gid) => s + scores.get(gid)!.length, 0);
  const n = total - keptCount(total, ratio);
  if (n <= 0) return;
  const all = new Float64Array(total);
  let off = 0;
  for (const gid of pool) {
    all.set(scores.get(gid)!, off);
    off += scores.get(gid)!.length;
  }
  all.sort();
  const threshold = all[n - 1];
  const below = new Map<number, number>();
  const tied = new Map<number, number>();
  let belowTotal = 0;
  for (const gid of pool) {
    let b = 0;
    let t = 0;
    for (const v of scores.get(gid)!) {
      if (v < threshold) b++;
      else if (v === threshold) t++;
    }
    below.set(gid, b);
    tied.set(gid, t);
    belowTotal += b;
  }
  const share = shareTies(pool, tied, n - belowTotal);
  for (const gid of pool) {
    const s = scores.get(gid)!;
    remove.set(gid, lowest(s, limit(s.length, below.get(gid)! + share.get(gid)!)));
  }
}

/** Indices of the n lowest scores, ties broken by index, returned ascending. */
export function lowest(s: Float64Array, n: number): number[] {
  if (n <= 0) return [];
  const order = Array.from(s.keys()).sort((a, b) => s[a] - s[b] || a - b);
  return order.slice(0, n).sort((a, b) => a - b);
}

function checkRatio(r: number, name: string, inclusive = false): void {
  if (!(Number.isFinite(r) && r >= 0 && (inclusive ? r <= 1 : r < 1))) {
    throw new PruneLensError('plan', `${name} must be a fraction between 0 and ${inclusive ? '1' : 'just below 1'}, not ${r}`);
  }
}

/** Group id → channels to remove, from perGroupCount, keep and perLayer, in rising priority. */
function explicitCounts(graph: DepGraph, opts: SelectOptions, warnings: string[]): Map<number, number> {
  const out = new Map<number, number>();
  const layers = graph.layers.map((l) => l.layer);
  const groupOfLayer = new Map(graph.layers.map((l) => [l.layer, l.out && l.out.length
    ? graph.unitGroup.get(graph.units.find(l.out[0]))?.group : undefined]));
  const groupsFor = (pattern: string) => {
    const ids = new Set<number>();
    for (const l of resolveLayers(pattern, layers)) {
      const g = groupOfLayer.get(l);
      if (g === undefined) continue;
      if (graph.groups[g].frozen) warnings.push(`${l.displayName} is not pruned: ${graph.groups[g].frozen}`);
      else ids.add(g);
    }
    return ids;
  };
  for (const [pattern, r] of Object.entries(opts.perLayer ?? {})) {
    checkRatio(r, `the ratio for ${pattern}`);
    for (const g of groupsFor(pattern)) out.set(g, graph.groups[g].size - keptCount(graph.groups[g].size, r));
  }
  for (const [pattern, k] of Object.entries(opts.keep ?? {})) {
    if (!(Number.isInteger(k) && k >= 1)) throw new PruneLensError('plan', `the channels to keep for ${pattern} must be a whole number of at least 1, not ${k}`);
    for (const g of groupsFor(pattern)) {
      const size = graph.groups[g].size;
      if (k > size) warnings.push(`${pattern}: asked to keep ${k} channels, but its group has only ${size}`);
      out.set(g, Math.max(0, size - k));
    }
  }
  for (const [key, n] of Object.entries(opts.perGroupCount ?? {})) {
    const g = graph.groups[Number(key)];
    if (!g) throw new PruneLensError('plan', `there is no channel group ${key}; the model has ${graph.groups.length}`);
    if (!(Number.isInteger(n) && n >= 0)) throw new PruneLensError('plan', `the count for group ${key} must be a whole number, not ${n}`);
    if (g.frozen) warnings.push(`group ${key} (${g.roots.join(', ')}) is not pruned: ${g.frozen}`);
    else out.set(g.id, n);
  }
  return out;
}

/**
 * A value can hold only part of a group (one output of a Split, a half of a
 * channel shuffle). If every one of its channels were selected, it would be
 * left with none: put back its best-scored channel, say so, and round the
 * group's kept count up to `roundTo` again.
 */
function keepEveryValueNonEmpty(graph: DepGraph, scores: Map<number, Float64Array>, remove: Map<number, number[]>,
  warnings: string[], roundTo = 1): void {
  const removed = new Set<number>();
  for (const [gid, list] of remove) for (const i of list) removed.add(graph.groups[gid].units[i]);
  if (!removed.size) return;
  const score = (gid: number, i: number) => scores.get(gid)?.[i] ?? 0;
  for (const [name, ch] of graph.values) {
    let best = -1;
    let bestScore = -Infinity;
    let alive = false;
    for (const u of ch.labels) {
      const r = graph.units.find(u);
      if (!removed.has(r)) {
        alive = true;
        break;
      }
      const at = graph.unitGroup.get(r)!;
      const sc = score(at.group, at.index);
      if (sc > bestScore) {
        bestScore = sc;
        best = r;
      }
    }
    if (alive || best < 0) continue;
    const { group: gid, index } = graph.unitGroup.get(best)!;
    const g = graph.groups[gid];
    let list = remove.get(gid)!.filter((i) => i !== index);
    const back = [index];
    // Put back the next best channels until the kept count is a multiple of roundTo again.
    while (list.length && (g.size - list.length) % roundTo !== 0) {
      const i = list.reduce((b, x) => (score(gid, x) > score(gid, b) ? x : b), list[0]);
      list = list.filter((x) => x !== i);
      back.push(i);
    }
    for (const i of back) removed.delete(g.units[i]);
    remove.set(gid, list);
    warnings.push(`${name} would lose every channel: ${back.length} channel(s) of ${g.roots.join(', ')} are kept (${back.join(', ')})`);
  }
  for (const [gid, list] of remove) if (!list.length) remove.delete(gid);
}

/**
 * A group whose channels fall into blocks that must lose equal numbers (GQA's
 * query heads per kv head) loses ⌊n / blocks⌋ of the lowest-scored channels of
 * each block instead of the n lowest overall.
 */
function evenOut(graph: DepGraph, gid: number, list: number[], s: Float64Array, remove: Map<number, number[]>, warnings: string[]): void {
  const blocks = graph.groups[gid].evenBlocks;
  if (!blocks?.length || !list.length) return;
  const per = Math.min(Math.floor(list.length / blocks.length), Math.min(...blocks.map((b) => b.length)) - 1);
  if (per * blocks.length !== list.length) {
    warnings.push(`${graph.groups[gid].roots.join(', ')}: ${list.length} channels asked, ${per * blocks.length} removed, so that each of its ${blocks.length} blocks (kv groups) loses the same number`);
  }
  const out: number[] = [];
  for (const b of blocks) {
    const local = lowest(Float64Array.from(b, (i) => s[i]), per);
    out.push(...local.map((i) => b[i]));
  }
  remove.set(gid, out.sort((a, b) => a - b));
}
