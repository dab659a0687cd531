// Channel importance for structured pruning. A criterion takes one channel
// group and returns a score per group channel (higher = more important), or
// undefined when it has nothing to say about the group (bn-gamma on a group
// without BatchNorm); such groups are not pruned. Criteria live in a registry,
// so a data-aware one (Wanda-style |W|·‖X‖, activation norms from calibration
// data) plugs in with registerCriterion without touching the engine.

import type { OnnxModel } from '../onnx/model';
import { PruneLensError } from '../onnx/errors';
import { axisStats } from '../analysis/norms';
import { tensorDims, tensorFloats } from '../onnx/tensor';
import type { ChannelGroup, DepGraph, MemberRole, SliceMember } from './depgraph';
import { normalize, type Normalizer } from './normalize';

/** How the scores of one channel from several members (roots, BNs, consumers) become one. */
export type GroupReduction = 'first' | 'mean' | 'sum' | 'max';
export { normalize, type Normalizer } from './normalize';

export interface ImportanceOptions {
  reduction?: GroupReduction;
  normalizer?: Normalizer;
  /** For l1/l2: the producers' filters (weight dim 0), the consumers' input slices (dim 1), or both. */
  side?: 'producer' | 'consumer' | 'both';
  /** Seed for `random`. */
  seed?: number;
}

export interface ImportanceContext {
  model: OnnxModel;
  graph: DepGraph;
  options: Required<ImportanceOptions>;
  /** The float values of a member's tensor (a read-only view; copy before writing). */
  values(member: SliceMember): Float32Array;
  /** The members of a group, by role, with the group index of each position. */
  membersOf(group: ChannelGroup, roles: readonly MemberRole[]): { member: SliceMember; index: Int32Array }[];
}

/** A criterion's scoring function: one score per group channel, or undefined for a group it cannot rank. */
export type ScoreFn = (group: ChannelGroup, ctx: ImportanceContext) => Float64Array | undefined;

const registry = new Map<string, ScoreFn>();

export function registerCriterion(name: string, fn: ScoreFn): void {
  registry.set(name, fn);
}

export function criterionNames(): string[] {
  return [...registry.keys()];
}

export function getCriterion(name: string): ScoreFn {
  const fn = registry.get(name);
  if (!fn) throw new PruneLensError('plan', `unknown importance criterion "${name}"; known: ${criterionNames().join(', ')}`);
  return fn;
}

/** Scores every group that may be cut. Frozen groups, and groups a criterion cannot score, are left out. */
export function scoreGroups(model: OnnxModel, graph: DepGraph, criterion: string | ScoreFn,
  opts: ImportanceOptions = {}): Map<number, Float64Array> {
  const fn = typeof criterion === 'string' ? getCriterion(criterion) : criterion;
  const options: Required<ImportanceOptions> = {
    reduction: opts.reduction ?? 'mean', normalizer: opts.normalizer ?? 'none', side: opts.side ?? 'producer',
    seed: opts.seed ?? 0,
  };
  const memberIndex = indexMembers(graph);
  const ctx: ImportanceContext = {
    model, graph, options,
    values: (m) => {
      const c = graph.constants.get(m.node.input[m.input]) ?? graph.index.constant(m.node.input[m.input]);
      if (!c) throw new PruneLensError('internal', `member ${m.node.input[m.input]} is not a constant`);
      return tensorFloats(c.tensor, model.external);
    },
    membersOf: (group, roles) => (memberIndex.get(group.id) ?? []).filter((e) => roles.includes(e.member.role)),
  };
  const scores = new Map<number, Float64Array>();
  for (const g of graph.groups) {
    if (g.frozen) continue;
    const s = fn(g, ctx);
    if (s) scores.set(g.id, normalize(s, options.normalizer));
  }
  return scores;
}

/** For each group, its members with the group index of each of their positions (-1: another group). */
function indexMembers(graph: DepGraph): Map<number, { member: SliceMember; index: Int32Array }[]> {
  const out = new Map<number, { member: SliceMember; index: Int32Array }[]>();
  // Group and index of each unit root in arrays, not the map: a language model's members have thousands of labels.
  const groupOf = new Int32Array(graph.units.size).fill(-1);
  const indexOf = new Int32Array(graph.units.size).fill(-1);
  for (const [root, at] of graph.unitGroup) {
    groupOf[root] = at.group;
    indexOf[root] = at.index;
  }
  for (const m of graph.members) {
    const index = new Int32Array(m.labels.length);
    const groupAt = new Int32Array(m.labels.length);
    const groups = new Set<number>();
    let last = -1;
    for (let p = 0; p < m.labels.length; p++) {
      const r = graph.units.find(m.labels[p]);
      index[p] = indexOf[r];
      const g = (groupAt[p] = groupOf[r]);
      if (g >= 0 && g !== last) groups.add((last = g));
    }
    for (const g of groups) {
      const own = groups.size === 1 ? index : index.map((v, p) => (groupAt[p] === g ? v : -1));
      if (!out.has(g)) out.set(g, []);
      out.get(g)!.push({ member: m, index: own });
    }
  }
  return out;
}

/**
 * Per group channel, the Lp norm of the slices of one member: all elements
 * whose index along the member's axis maps to that channel (a Flatten→Gemm
 * input slice spans H·W columns).
 */
export function memberNorms(values: Float32Array, dims: number[], axis: number, index: Int32Array, size: number,
  p: 1 | 2): Float64Array {
  const acc = new Float64Array(size);
  const axisLen = dims[axis];
  let inner = 1;
  for (let i = axis + 1; i < dims.length; i++) inner *= dims[i];
  const outer = values.length / (axisLen * inner);
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < axisLen; a++) {
      const g = index[a];
      if (g < 0) continue;
      const base = (o * axisLen + a) * inner;
      let s = 0;
      if (p === 1) for (let k = 0; k < inner; k++) s += Math.abs(values[base + k]);
      else for (let k = 0; k < inner; k++) s += values[base + k] * values[base + k];
      acc[g] += s;
    }
  }
  if (p === 2) for (let i = 0; i < size; i++) acc[i] = Math.sqrt(acc[i]);
  return acc;
}

/** Combines per-member score arrays (NaN where a member has no say on a channel). */
export function reduceScores(parts: Float64Array[], size: number, how: GroupReduction): Float64Array {
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let n = 0;
    let acc = how === 'max' ? -Infinity : 0;
    for (const p of parts) {
      const v = p[i];
      if (Number.isNaN(v)) continue;
      if (how === 'first') {
        if (n === 0) acc = v;
      } else if (how === 'max') {
        acc = Math.max(acc, v);
      } else {
        acc += v;
      }
      n++;
    }
    out[i] = n === 0 ? 0 : how === 'mean' ? acc / n : acc;
  }
  return out;
}

/** Scores from the members with the given roles, one array per member, NaN where it does not reach. */
function perMember(group: ChannelGroup, ctx: ImportanceContext, roles: readonly MemberRole[],
  score: (values: Float32Array, dims: number[], m: SliceMember, index: Int32Array) => Float64Array): Float64Array[] {
  return ctx.membersOf(group, roles).map(({ member, index }) => {
    const c = ctx.graph.constants.get(member.node.input[member.input]) ?? ctx.graph.index.constant(member.node.input[member.input])!;
    return maskUnseen(score(ctx.values(member), tensorDims(c.tensor), member, index), index, group.size);
  });
}

function weightNorm(p: 1 | 2): ScoreFn {
  return (group, ctx) => {
    const roles: MemberRole[] = ctx.options.side === 'producer' ? ['out', 'depthwise']
      : ctx.options.side === 'consumer' ? ['in'] : ['out', 'depthwise', 'in'];
    const parts = ctx.membersOf(group, roles).map(({ member, index }) => {
      const c = ctx.graph.constants.get(member.node.input[member.input]) ?? ctx.graph.index.constant(member.node.input[member.input])!;
      const dims = tensorDims(c.tensor);
      // Axis 0 or 1 of a matrix or kernel: the per-index sums are the analysis's (one fast pass, fp16 read
      // as bits, remembered for weights in external data); other axes sum the float values here.
      const s = dims.length >= 2 && member.axis <= 1
        ? normsFromSums(axisStats(c.tensor, dims, 1, ctx.model.external), member.axis, p, index, group.size)
        : memberNorms(ctx.values(member), dims, member.axis, index, group.size, p);
      return maskUnseen(s, index, group.size);
    });
    return parts.length ? reduceScores(parts, group.size, ctx.options.reduction) : undefined;
  };
}

/** Group norms from per-index sums of |x| and x² along axis 0 (rows) or 1 (columns). */
function normsFromSums(stats: ReturnType<typeof axisStats>, axis: number, p: 1 | 2, index: Int32Array, size: number): Float64Array {
  const sums = p === 1 ? (axis === 0 ? stats.l1a : stats.l1b) : (axis === 0 ? stats.l2a : stats.l2b);
  const acc = new Float64Array(size);
  for (let a = 0; a < index.length; a++) if (index[a] >= 0) acc[index[a]] += sums[a];
  if (p === 2) for (let i = 0; i < size; i++) acc[i] = Math.sqrt(acc[i]);
  return acc;
}

/** Channels a member does not carry are NaN, so they do not count in mean or first. */
function maskUnseen(s: Float64Array, index: Int32Array, size: number): Float64Array {
  const seen = new Uint8Array(size);
  for (const g of index) if (g >= 0) seen[g] = 1;
  return s.map((v, i) => (seen[i] ? v : NaN));
}

/** Network slimming: |gamma| of the BatchNorms in the group. */
const bnGamma: ScoreFn = (group, ctx) => {
  const parts = perMember(group, ctx, ['bn-scale'], (values, _dims, _m, index) => {
    const s = new Float64Array(group.size);
    index.forEach((g, p) => {
      if (g >= 0) s[g] = Math.abs(values[p]);
    });
    return s;
  });
  return parts.length ? reduceScores(parts, group.size, ctx.options.reduction) : undefined;
};

/** Uniform random scores from a seeded generator (mulberry32), so runs repeat. */
const random: ScoreFn = (group, ctx) => {
  let state = (ctx.options.seed * 0x9e3779b1 + group.id * 0x85ebca6b) >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Float64Array.from({ length: group.size }, next);
};

registerCriterion('l1', weightNorm(1));
registerCriterion('l2', weightNorm(2));
registerCriterion('bn-gamma', bnGamma);
registerCriterion('random', random);
