// Data-aware channel importance from calibration activations:
//   activation-norm: ‖X_c‖₂, the norm of channel c as its consumers read it;
//   wanda: Σ over consumers of |W[:, c]|₁ · ‖X_c‖₂ (Wanda's |W|·‖X‖, summed
//   over each of the channel's input slices);
//   fluctuation: Σ over consumers of Var(X_c) · ‖W[:, c]‖₂² (FLAP).
// Both read per-channel statistics of the consumers' inputs, gathered once
// with collectActivationStats and attached to the model, so the registered
// criteria work through the same registry as l1 or bn-gamma (pruneStructured,
// plans, the CLI and the extension).

import { findPrunableLayers } from '../../analysis/layers';
import { PruneLensError } from '../../onnx/errors';
import { GraphIndex } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import { tensorDims } from '../../onnx/tensor';
import { memberNorms, reduceScores, registerCriterion, type ScoreFn, type ImportanceContext } from '../importance';
import type { ChannelGroup } from '../depgraph';
import { channelStatistics, type ActivationSource, type ChannelStats } from './source';

const attached = new WeakMap<OnnxModel, Map<string, ChannelStats>>();

/** Values read per calibration run; all of them at once could hold too many activations of a large model. */
const VALUES_PER_RUN = 8;

/** Per-channel statistics of the input of every prunable layer, on the calibration data. */
export async function collectActivationStats(model: OnnxModel, source: ActivationSource, signal?: AbortSignal): Promise<Map<string, ChannelStats>> {
  const layers = findPrunableLayers(new GraphIndex(model.graph));
  const values = [...new Set(layers.map((l) => l.node.input[0]).filter(Boolean))];
  // A Linear (MatMul, Gemm) reads its features on the last axis: [N, T, C] in a transformer.
  const axes = new Map(layers.filter((l) => l.op === 'MatMul' || l.op === 'Gemm').map((l) => [l.node.input[0], -1]));
  const stats = new Map<string, ChannelStats>();
  for (let i = 0; i < values.length; i += VALUES_PER_RUN) {
    for (const [k, v] of await channelStatistics(source, model, values.slice(i, i + VALUES_PER_RUN), signal, axes)) stats.set(k, v);
  }
  return stats;
}

/** Makes `stats` what the registered data-aware criteria read for this model object. */
export function attachActivationStats(model: OnnxModel, stats: Map<string, ChannelStats>): void {
  attached.set(model, stats);
}

function statsOf(ctx: ImportanceContext, name: string): Map<string, ChannelStats> {
  const s = attached.get(ctx.model);
  if (!s) {
    throw new PruneLensError('plan', `the ${name} criterion needs calibration data: give a plan step a "calibration" with "data", or --calibration on the command line`);
  }
  return s;
}

/** Per position of the consumer's in-axis, √(Σx²) of the activation channel it reads; undefined when they do not line up. */
function inputNorms(stats: Map<string, ChannelStats>, value: string, positions: number): Float64Array | undefined {
  const s = stats.get(value);
  if (!s || s.sumSq.length !== positions) return undefined;
  return s.sumSq.map(Math.sqrt);
}

function consumerScores(group: ChannelGroup, ctx: ImportanceContext, stats: Map<string, ChannelStats>,
  score: (l1: Float64Array, norms: Float64Array, index: Int32Array) => Float64Array): Float64Array[] {
  const parts: Float64Array[] = [];
  for (const { member, index } of ctx.membersOf(group, ['in'])) {
    const c = ctx.graph.constants.get(member.node.input[member.input]) ?? ctx.graph.index.constant(member.node.input[member.input]);
    if (!c) continue;
    const dims = tensorDims(c.tensor);
    const norms = inputNorms(stats, member.node.input[0], dims[member.axis]);
    if (!norms) continue;
    const identity = Int32Array.from({ length: dims[member.axis] }, (_, i) => i);
    const weightL1 = memberNorms(ctx.values(member), dims, member.axis, identity, dims[member.axis], 1);
    const part = score(weightL1, norms, index);
    const seen = new Uint8Array(group.size);
    for (const g of index) if (g >= 0) seen[g] = 1;
    parts.push(part.map((v, i) => (seen[i] ? v : NaN)));
  }
  return parts;
}

/** Wanda: Σ over consumers and their input positions of |W|₁ · ‖X‖₂. */
export function wandaCriterion(stats: Map<string, ChannelStats>): ScoreFn {
  return (group, ctx) => {
    const parts = consumerScores(group, ctx, stats, (l1, norms, index) => {
      const s = new Float64Array(group.size);
      index.forEach((g, p) => {
        if (g >= 0) s[g] += l1[p] * norms[p];
      });
      return s;
    });
    return parts.length ? reduceScores(parts, group.size, 'sum') : undefined;
  };
}

/** ‖X_c‖₂ over the channel's positions, as each consumer reads it, reduced over consumers. */
export function activationNormCriterion(stats: Map<string, ChannelStats>): ScoreFn {
  return (group, ctx) => {
    const parts = consumerScores(group, ctx, stats, (_l1, norms, index) => {
      const s = new Float64Array(group.size);
      index.forEach((g, p) => {
        if (g >= 0) s[g] += norms[p] * norms[p];
      });
      return s.map(Math.sqrt);
    });
    return parts.length ? reduceScores(parts, group.size, ctx.options.reduction) : undefined;
  };
}

/**
 * FLAP's fluctuation: Σ over consumers and their input positions of the
 * channel's variance on the calibration data times ‖W[:, c]‖² (how much the
 * consumer's output moves with it; a constant channel can go into the bias).
 */
export function fluctuationCriterion(stats: Map<string, ChannelStats>): ScoreFn {
  return (group, ctx) => {
    const parts: Float64Array[] = [];
    for (const { member, index } of ctx.membersOf(group, ['in'])) {
      const c = ctx.graph.constants.get(member.node.input[member.input]) ?? ctx.graph.index.constant(member.node.input[member.input]);
      const s = c && stats.get(member.node.input[0]);
      if (!c || !s) continue;
      const dims = tensorDims(c.tensor);
      if (s.sumSq.length !== dims[member.axis] || !s.count) continue;
      const identity = Int32Array.from({ length: dims[member.axis] }, (_, i) => i);
      const l2 = memberNorms(ctx.values(member), dims, member.axis, identity, dims[member.axis], 2);
      const part = new Float64Array(group.size);
      const seen = new Uint8Array(group.size);
      index.forEach((g, p) => {
        if (g < 0) return;
        const mean = s.sum[p] / s.count;
        part[g] += Math.max(0, s.sumSq[p] / s.count - mean * mean) * l2[p] * l2[p];
        seen[g] = 1;
      });
      parts.push(part.map((v, i) => (seen[i] ? v : NaN)));
    }
    return parts.length ? reduceScores(parts, group.size, 'sum') : undefined;
  };
}

registerCriterion('wanda', (group, ctx) => wandaCriterion(statsOf(ctx, 'wanda'))(group, ctx));
registerCriterion('activation-norm', (group, ctx) => activationNormCriterion(statsOf(ctx, 'activation-norm'))(group, ctx));
registerCriterion('fluctuation', (group, ctx) => fluctuationCriterion(statsOf(ctx, 'fluctuation'))(group, ctx));
