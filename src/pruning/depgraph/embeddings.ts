// The hidden size of a transformer (its residual stream) starts at constants
// that are not layers: the token and position embedding tables (Gather), and
// timm's cls token (Expand of a [1, 1, C] constant). Each becomes a source of
// channel units whose last axis is sliced with the stream. Gather on another
// axis (the cls token's pick of token 0) carries the channels through.

import { attrInt } from '../../onnx/attributes';
import { DataType } from '../../onnx/tensor';
import type { Rule, RuleContext } from './context';

const FLOATS = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE, DataType.BFLOAT16]);

/** A float constant of rank ≥ 2 whose last axis holds more than one value: channels of its own. */
function channelConstant(ctx: RuleContext, name: string | undefined): number[] | undefined {
  const d = ctx.constDims(name);
  const type = ctx.elemType(name);
  if (!d || d.length < 2 || d[d.length - 1] < 2 || type === undefined || !FLOATS.has(type)) return undefined;
  return d;
}

export const gather: Rule = (ctx) => {
  const { node } = ctx;
  const x = ctx.channels(node.input[0]);
  const rank = ctx.dims(node.input[0])?.length;
  const indexRank = ctx.dims(node.input[1])?.length;
  if (rank === undefined || indexRank === undefined) {
    if (x) ctx.freezeInputs(`the shapes around ${ctx.name} are unknown`);
    return;
  }
  const a = (attrInt(node, 'axis', 0) + rank) % rank;
  if (!x) {
    // An embedding table [V, C] looked up on axis 0: its C columns are the stream's channels.
    const d = channelConstant(ctx, node.input[0]);
    if (!d || d.length !== 2 || a !== 0) return;
    const units = ctx.newUnits(d[1]);
    ctx.tag(units, 'hidden');
    ctx.member(0, 1, units, 'operand');
    return ctx.set(node.output[0], { axis: indexRank, labels: units });
  }
  if (a === x.axis) return ctx.freezeInputs(`${ctx.name} picks channels by index`);
  ctx.set(node.output[0], { axis: x.axis < a ? x.axis : x.axis - 1 + indexRank, labels: x.labels });
};

/** An Expand of a constant that carries channels on its last axis (a cls token [1, 1, C]): a source of units. */
export function expandedConstant(ctx: RuleContext): boolean {
  const { node } = ctx;
  const d = channelConstant(ctx, node.input[0]);
  const od = ctx.dims(node.output[0]);
  if (!d || !od || od[od.length - 1] !== d[d.length - 1]) return false;
  const units = ctx.newUnits(d[d.length - 1]);
  ctx.tag(units, 'hidden');
  ctx.member(0, d.length - 1, units, 'operand');
  ctx.set(node.output[0], { axis: od.length - 1, labels: units });
  return true;
}
