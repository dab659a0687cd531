// Reshape and Transpose: the rules that move the channel axis. A Reshape may
// keep the channel axes, merge them into one, flatten them with what follows
// (x.view(N, -1) before a Linear), or spread one channel axis over several
// (a channel shuffle's [g, C/g], a head split). Spread channels are tied so
// that every one of the leading blocks loses the same positions: only the
// last of the new axes shrinks, and the Reshape's target entry for it is
// rewritten, even when the target is computed at run time from Shape.

import { attrInt, attrInts } from '../../onnx/attributes';
import { prodDims, type Dim } from '../../onnx/dims';
import { headSplit, mergeAround } from './attention';
import type { Rule } from './context';
import { shapeEntryFixup } from './fixups';
import { expand, permuteBlock, tieGroups } from './indexMapping';
import type { FixupContext, ValueChannels } from './types';

const sameDims = (a: Dim[], b: Dim[]) => a.length === b.length && a.every((v, i) => v === b[i]);

export const reshape: Rule = (ctx) => {
  const { node } = ctx;
  const x = ctx.block(node.input[0]);
  if (!x) return;
  const d = ctx.dims(node.input[0]);
  const od = ctx.dims(node.output[0]);
  const target = ctx.dimValues(node.input[1]);
  if (!d || !od || !target || target.length !== od.length) return ctx.freezeInputs(`the shapes around ${ctx.name} are unknown`);
  const c = x.axis;
  // Attention (attention.ts): a head split, or GQA's merge of kv heads with their repeats.
  const attention = (found: ValueChannels | 'frozen' | undefined): boolean => {
    if (found && found !== 'frozen') ctx.set(node.output[0], found);
    return !!found;
  };
  if (attention(headSplit(ctx, x, d, od))) return;
  const sizes = x.split?.sizes ?? [x.labels.length];
  const span = sizes.length;
  const count = x.labels.length;
  if (!sameDims(od.slice(0, c), d.slice(0, c)) && attention(mergeAround(ctx, x, d, od, target))) return;
  if (!sameDims(od.slice(0, c), d.slice(0, c))) return ctx.freezeInputs(`${ctx.name} reshapes the dims before the channels`);
  const rest = prodDims(d.slice(c + span));
  const allowZero = attrInt(node, 'allowzero', 0) === 1;
  /** Entry e of the target must become want(f); a 0 that copies the same axis follows by itself. */
  const fix = (e: number, want: (f: FixupContext) => number, follows?: Int32Array, copies = false): boolean => {
    if (target[e] === -1 || (copies && target[e] === 0 && !allowZero)) return true;
    const why = shapeEntryFixup(ctx, node, 1, e, want, follows);
    if (why) ctx.freezeInputs(why);
    return !why;
  };

  if (od.length >= c + span && sameDims(od.slice(c, c + span), d.slice(c, c + span))) {
    // The channel axes stay where they are.
    if (x.split) {
      const { shrink } = x.split;
      const groups = count / sizes[shrink];
      if (!fix(c + shrink, (f) => f.kept(x.labels).length / groups, undefined, true)) return;
    } else if (!fix(c, (f) => f.kept(x.labels).length, x.labels, true)) return;
    return ctx.set(node.output[0], x);
  }
  if (od[c] === count && prodDims(od.slice(c + 1)) === rest) {
    // Merged into one axis, row-major: the end of a channel shuffle.
    if (!fix(c, (f) => f.kept(x.labels).length, x.split ? undefined : x.labels)) return;
    return ctx.set(node.output[0], { axis: c, labels: x.labels });
  }
  if (od.length === c + 1 && typeof rest === 'number' && od[c] === count * rest) {
    // Flattened with the dims after them.
    const labels = expand(x.labels, rest, count * rest);
    if (!fix(c, (f) => f.kept(labels).length)) return;
    return ctx.set(node.output[0], { axis: c, labels });
  }
  if (!x.split) {
    const k = splitCount(od, c, count, rest);
    if (k) {
      const parts = od.slice(c, c + k) as number[];
      const last = parts[k - 1];
      const groups = count / last;
      tieGroups(ctx, x.labels, groups);
      for (let e = c; e < c + k - 1; e++) {
        // The leading entries (g of a shuffle) keep their values; a computed one may have read the channel count.
        if (!fix(e, () => parts[e - c])) return;
      }
      if (!fix(c + k - 1, (f) => f.kept(x.labels).length / groups)) return;
      return ctx.set(node.output[0], { axis: c, labels: x.labels, split: { sizes: parts, shrink: k - 1, by: ctx.name } });
    }
  }
  if (attention(mergeAround(ctx, x, d, od, target))) return;
  ctx.freezeInputs(`${ctx.name} reshapes the channel axis into other dims`);
};

/** k ≥ 2 when output axes c..c+k-1 are static and hold exactly the `count` channels, the rest unchanged. */
function splitCount(od: Dim[], c: number, count: number, rest: Dim): number | undefined {
  let p = 1;
  for (let k = 1; c + k <= od.length; k++) {
    const v = od[c + k - 1];
    if (typeof v !== 'number' || v < 1) return undefined;
    p *= v;
    if (p === count) return k >= 2 && prodDims(od.slice(c + k)) === rest ? k : undefined;
    if (p > count) return undefined;
  }
  return undefined;
}

export const transpose: Rule = (ctx) => {
  const x = ctx.block(ctx.node.input[0]);
  const rank = ctx.dims(ctx.node.input[0])?.length;
  if (!x) return;
  const perm = attrInts(ctx.node, 'perm') ?? (rank === undefined ? undefined : Array.from({ length: rank }, (_, i) => rank - 1 - i));
  if (!perm) return ctx.freezeInputs(`the rank of the input of ${ctx.name} is unknown`);
  if (!x.split) return ctx.set(ctx.node.output[0], { axis: perm.indexOf(x.axis), labels: x.labels });
  const moved = permutedBlock(x, perm);
  if (!moved) return ctx.freezeInputs(`${ctx.name} moves the channel axes apart`);
  ctx.set(ctx.node.output[0], moved);
};

/** The block after a Transpose, when its axes stay next to each other. */
function permutedBlock(x: ValueChannels, perm: number[]): ValueChannels | undefined {
  const { sizes, shrink, by } = x.split!;
  const c = x.axis;
  const at = sizes.map((_, i) => perm.indexOf(c + i));
  const first = Math.min(...at);
  const order = sizes.map((_, j) => perm[first + j] - c);
  if (order.some((o) => o < 0 || o >= sizes.length)) return undefined;
  return {
    axis: first,
    labels: permuteBlock(x.labels, sizes, order),
    split: { sizes: order.map((o) => sizes[o]), shrink: order.indexOf(shrink), by },
  };
}

