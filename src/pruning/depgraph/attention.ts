// Attention rules: heads as channel units. A projection's output reshaped to
// [.., heads, head_dim] (or timm's fused [.., 3, heads, head_dim]) and then
// transposed is a head split: every position of one head (in q, k and v of a
// fused qkv alike) becomes one unit, so a head is cut whole and the Reshape's
// head count is rewritten. The batched MatMuls q·kᵀ and attn·v tie the heads
// of their operands, and GQA's Unsqueeze → Expand → Reshape repeats each kv
// head over its query heads: with `gqa: 'groups'` a kv head goes together
// with its query heads; with `gqa: 'even'` the kv heads stay and every group
// loses the same number of its own query heads (the Expand factor shrinks).

import { prodDims, type Dim } from '../../onnx/dims';
import type { NodeProto } from '../../onnx/schema';
import type { Rule, RuleContext } from './context';
import { expandedConstant } from './embeddings';
import { shapeEntryFixup } from './fixups';
import { expand } from './indexMapping';
import type { FixupContext, ValueChannels } from './types';

const sameDims = (a: Dim[], b: Dim[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * A Reshape of the last axis into [P?, heads, head_dim] read only by
 * Transposes that move the heads axis: returns the per-head units (on the
 * heads axis) after tying every position of a head together, or undefined
 * when the Reshape is not a head split.
 */
export function headSplit(ctx: RuleContext, x: ValueChannels, d: Dim[], od: Dim[]): ValueChannels | 'frozen' | undefined {
  const { node } = ctx;
  const c = x.axis;
  if (x.split || c !== d.length - 1 || od.length < c + 2 || od.length > c + 3) return undefined;
  if (!sameDims(od.slice(0, c), d.slice(0, c))) return undefined;
  const parts = od.slice(c);
  if (!parts.every((v): v is number => typeof v === 'number' && v >= 1) || prodDims(parts) !== x.labels.length) return undefined;
  const heads = parts[parts.length - 2] as number;
  const headDim = parts[parts.length - 1] as number;
  const at = od.length - 2;
  const consumers = ctx.index.consumers(node.output[0]);
  const movesHeads = (n: NodeProto) => {
    if (n.op_type !== 'Transpose') return false;
    const perm = n.attribute.find((a) => a.name === 'perm')?.ints?.map(Number);
    return !!perm && perm.indexOf(at) !== at;
  };
  if (!consumers.length || !consumers.every(movesHeads) || heads < 2) return undefined;
  // Position ((p · heads) + h) · head_dim + j belongs to head h.
  const perPart = heads * headDim;
  const partCount = parts.length === 3 ? (parts[0] as number) : 1;
  const units = new Int32Array(heads);
  for (let h = 0; h < heads; h++) {
    units[h] = x.labels[h * headDim];
    const head = x.labels.subarray(h * headDim, h * headDim + 1);
    for (let p = 0; p < partCount; p++) {
      for (let j = 0; j < headDim; j++) {
        const at = p * perPart + h * headDim + j;
        ctx.union(head, x.labels.subarray(at, at + 1));
      }
    }
  }
  ctx.tag(units, 'attention');
  const why = shapeEntryFixup(ctx, node, 1, at, (f) => f.kept(units).length);
  if (why) {
    ctx.freezeInputs(why);
    return 'frozen';
  }
  return { axis: at, labels: units };
}

/**
 * A Reshape that merges the channel axis with static axes next to it into one
 * ([B, kv, rep, T, d] → [B, kv·rep, T, d], GQA's repeat of k and v): each
 * merged position belongs to the channel it came from.
 */
export function mergeAround(ctx: RuleContext, x: ValueChannels, d: Dim[], od: Dim[], target: Dim[]): ValueChannels | 'frozen' | undefined {
  if (x.split) return undefined;
  const c = x.axis;
  for (let a = 0; a <= c; a++) {
    for (let b = 0; c + b < d.length; b++) {
      if (a + b === 0) continue;
      const merged = d.slice(c - a, c + b + 1);
      if (!merged.every((v) => typeof v === 'number')) continue;
      const total = prodDims(merged) as number;
      const start = c - a;
      if (od.length !== d.length - a - b || od[start] !== total) continue;
      if (!sameDims(od.slice(0, start), d.slice(0, start)) || !sameDims(od.slice(start + 1), d.slice(c + b + 1))) continue;
      const inner = prodDims(d.slice(c + 1, c + b + 1)) as number;
      const labels = expand(x.labels, inner, total);
      const why = target[start] === -1 ? undefined : shapeEntryFixup(ctx, ctx.node, 1, start, (f) => f.kept(labels).length);
      if (why) {
        ctx.freezeInputs(why);
        return 'frozen';
      }
      return { axis: start, labels };
    }
  }
  return undefined;
}

/**
 * MatMul of two computed tensors (q·kᵀ, attn·v): channels on a batch axis
 * (the heads) are shared by both operands and carried to the output; channels
 * on the two matrix axes are multiplied away, so they stay whole.
 */
export const batchedMatMul: Rule = (ctx) => {
  const { node } = ctx;
  const ins = [0, 1].map((i) => ({ name: node.input[i], ch: ctx.channels(node.input[i]), rank: ctx.dims(node.input[i])?.length }));
  const tracked = ins.filter((i) => i.ch);
  if (!tracked.length) return;
  const outRank = ctx.dims(node.output[0])?.length;
  if (outRank === undefined || ins.some((i) => i.rank === undefined)) return ctx.freezeInputs(`the ranks around ${ctx.name} are unknown`);
  let first: ValueChannels | undefined;
  let aligned = -1;
  for (const t of tracked) {
    if (t.ch!.axis >= t.rank! - 2) return ctx.freezeInputs(`${ctx.name} multiplies two computed tensors over their channels`);
    const a = t.ch!.axis + outRank - t.rank!;
    if (!first) {
      first = t.ch;
      aligned = a;
    } else if (a !== aligned || t.ch!.labels.length !== first.labels.length) {
      return ctx.freezeInputs(`${ctx.name} multiplies tensors whose heads do not line up`);
    } else {
      ctx.union(first.labels, t.ch!.labels);
    }
  }
  for (const i of ins) {
    if (i.ch) continue;
    const dim = ctx.dims(i.name)?.[aligned - (outRank - i.rank!)];
    if (dim !== undefined && dim !== 1) return ctx.freezeInputs(`${ctx.name} multiplies the heads with a tensor whose ${dim} heads are not tracked`);
  }
  ctx.set(node.output[0], { axis: aligned, labels: first!.labels });
};

/**
 * Expand: the channel axis must be kept as it is (its target entry follows
 * the kept count), or, for GQA in `even` mode, a size-1 axis right after it
 * that is repeated becomes the channels: the repeats are new units, the kv
 * heads stay whole.
 */
export const expandRule: Rule = (ctx) => {
  const { node } = ctx;
  const x = ctx.channels(node.input[0]);
  if (!x) {
    expandedConstant(ctx);
    return;
  }
  const d = ctx.dims(node.input[0]);
  const od = ctx.dims(node.output[0]);
  if (!d || !od) return ctx.freezeInputs(`the shapes around ${ctx.name} are unknown`);
  const c = x.axis + od.length - d.length;
  if (od[c] !== x.labels.length) return ctx.freezeInputs(`${ctx.name} broadcasts the channel axis`);
  const target = ctx.dimValues(node.input[1]);
  const shift = od.length - (target?.length ?? od.length);
  const repeat = od[c + 1];
  if (ctx.gqa === 'even' && d[x.axis + 1] === 1 && typeof repeat === 'number' && repeat > 1) {
    // Every (kv head, repeat) position is a unit of its own, so each group chooses its own query heads,
    // in equal numbers: the Expand factor is one number for all groups.
    const kv = x.labels.length;
    const reps = ctx.newUnits(kv * repeat);
    ctx.freeze(x.labels, `kv heads are kept whole: query heads go evenly from every group (gqa: 'even')`);
    ctx.evenBlocks(reps, kv);
    const why = shapeVectorFixup(ctx, node, c + 1 - shift, (f) => f.kept(reps).length / kv);
    if (why) return ctx.freezeInputs(why);
    return ctx.set(node.output[0], { axis: c, labels: reps, split: { sizes: [kv, repeat], shrink: 1, by: ctx.name } });
  }
  if (target && target[c - shift] !== 1) {
    const why = shapeVectorFixup(ctx, node, c - shift, (f) => f.kept(x.labels).length);
    if (why) return ctx.freezeInputs(why);
  }
  ctx.set(node.output[0], { axis: c, labels: x.labels });
};

/**
 * torch's expand exports its target as Where(Equal(shape, -1), 1, shape),
 * with `shape` a Reshape of a Concat: follow Where (its condition folded),
 * Cast and 1-D Reshape back to the vector whose entry `j` can be rewritten.
 */
function shapeVectorFixup(ctx: RuleContext, node: NodeProto, j: number, want: (f: FixupContext) => number): string | undefined {
  let at = { node, input: 1 };
  for (let hop = 0; hop < 8; hop++) {
    const value = at.node.input[at.input];
    const p = ctx.index.producer(value);
    if (!p) break;
    if (p.op_type === 'Where') {
      const cond = ctx.ints(p.input[0]);
      if (!cond || (!cond.every((v) => v === 0) && !cond.every((v) => v !== 0))) break;
      at = { node: p, input: cond.every((v) => v === 0) ? 2 : 1 };
    } else if (p.op_type === 'Cast' || (p.op_type === 'Reshape' && ctx.dims(p.input[0])?.length === 1)) {
      at = { node: p, input: 0 };
    } else break;
  }
  return shapeEntryFixup(ctx, at.node, at.input, j, want);
}
