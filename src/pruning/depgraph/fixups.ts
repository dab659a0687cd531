// Apply-time fixups: the attribute and shape-constant edits that follow from
// the kept channels (a depthwise conv's group, Reshape targets, Split sizes,
// Slice bounds, Resize sizes). A rule registers one while the graph is built;
// it runs when a selection is applied and sees only how many positions survive.

import { attr, setAttrInts } from '../../onnx/attributes';
import { int64Tensor, newTensor } from '../../onnx/build';
import type { NodeProto, TensorProto } from '../../onnx/schema';
import { DataType, tensorInts } from '../../onnx/tensor';
import type { RuleContext } from './context';
import type { FixupContext } from './types';

/** A small integer constant of the model's own index type (INT32 stays INT32). */
export function intTensor(name: string, dims: number[], values: number[], dataType = DataType.INT64): TensorProto {
  if (dataType !== DataType.INT32) return int64Tensor(name, dims, values);
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setInt32(i * 4, Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, v)), true));
  return newTensor(name, DataType.INT32, dims, bytes);
}

/** The values node.input[input] has now: the original, or what an earlier fixup put there. */
function currentInts(f: FixupContext, node: NodeProto, input: number, originalName: string, original: number[]): number[] {
  const name = node.input[input];
  if (name === originalName) return original.slice();
  const t = f.model.graph.initializer.find((i) => i.name === name);
  return t ? tensorInts(t, f.model.external) : original.slice();
}

/**
 * Makes entry `j` of the shape vector node.input[input] (a Reshape target,
 * Resize sizes, Slice bounds) equal `want` once the selection is known, and
 * returns undefined; or returns why it cannot, and the caller freezes.
 *  - Every entry static (a constant, or a computation such as Shape → Gather
 *    → Div whose result does not depend on the input size): the vector is
 *    replaced by a constant of the same type.
 *  - The entry copies a dim of a value that carries these same channels
 *    (`follows`, through Shape → Gather/Slice → Concat): it follows by itself.
 *  - A Concat of parts, some of them run-time sizes such as the batch: the
 *    part that holds the entry is handled the same way, the others stay.
 */
export function shapeEntryFixup(
  ctx: RuleContext, node: NodeProto, input: number, j: number, want: (f: FixupContext) => number, follows?: Int32Array,
): string | undefined {
  const name = node.input[input];
  if (!name) return `${ctx.index.nameOf(node)} has no input ${input}`;
  const origin = ctx.origins(name)?.[j];
  if (origin && follows) {
    const ch = ctx.block(origin.value);
    if (ch && !ch.split && ch.axis === origin.axis && sameLabels(ch.labels, follows)) return undefined;
  }
  const values = ctx.ints(name);
  if (values) {
    const dims = ctx.dims(name);
    const shape = dims && dims.every((d): d is number => typeof d === 'number') ? dims : [values.length];
    const type = ctx.elemType(name) ?? DataType.INT64;
    // A computed vector is replaced even when its value stays: it may have read a channel count that changes.
    const computed = !ctx.constant(name);
    ctx.fixup((f) => {
      const next = currentInts(f, node, input, name, values);
      const v = want(f);
      if (next[j] === v && !(computed && node.input[input] === name)) return;
      next[j] = v;
      // A second edit of the same vector rewrites the constant the first one made.
      const mine = node.input[input] !== name ? f.model.graph.initializer.find((t) => t.name === node.input[input]) : undefined;
      if (mine) Object.assign(mine, intTensor(mine.name!, shape, next, type));
      else f.setConstantInput(node, input, intTensor(`${name}_pruned`, shape, next, type));
    });
    return undefined;
  }
  const producer = ctx.index.producer(name);
  if (producer?.op_type === 'Concat' && ctx.index.consumers(name).length === 1 && !ctx.index.graphOutputs.has(name)) {
    let off = 0;
    for (let p = 0; p < producer.input.length; p++) {
      const len = ctx.dimValues(producer.input[p])?.length ?? ctx.dims(producer.input[p])?.[0];
      if (typeof len !== 'number') break;
      if (j < off + len) return shapeEntryFixup(ctx, producer, p, j - off, want, follows);
      off += len;
    }
  }
  return `${ctx.index.nameOf(node)} gets a shape from a run-time computation that fixes the channel count`;
}

function sameLabels(a: Int32Array, b: Int32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A depthwise op's `group` follows its input channel count. */
export function groupFixup(ctx: RuleContext, inputChannels: Int32Array): void {
  const node = ctx.node;
  ctx.fixup((f) => {
    const kept = f.kept(inputChannels).length;
    if (kept !== inputChannels.length) {
      const a = attr(node, 'group')!;
      a.i = kept;
    }
  });
}

/** Split sizes become the kept count of each part (an input from opset 13, an attribute before). */
export function splitSizesFixup(ctx: RuleContext, parts: Int32Array[], original: number[]): void {
  const { node, opset, name } = ctx;
  // Sizes computed at run time (from a Shape) are replaced even when they stay: they may read a count that changes.
  const computed = opset >= 13 && !!node.input[1] && !ctx.constant(node.input[1]);
  ctx.fixup((f) => {
    const kept = parts.map((p) => f.kept(p).length);
    if (kept.every((k, i) => k === original[i]) && !computed) return;
    if (opset >= 13) {
      f.setConstantInput(node, 1, int64Tensor(`${name}_split`, [parts.length], kept));
      node.attribute = node.attribute.filter((at) => at.name !== 'num_outputs');
    } else {
      setAttrInts(node, 'split', kept);
    }
  });
}

/**
 * A Slice's bounds on the channel axis (entry j) are renumbered: the kept
 * channels before the range, and those inside it. `all` is every channel of
 * the sliced axis. Returns why not, if not.
 */
export function sliceBoundsFixup(
  ctx: RuleContext, j: number, starts: number[], ends: number[], all: Int32Array, before: Int32Array, inside: Int32Array,
): string | undefined {
  const { node } = ctx;
  // A bound keeps its original value where that still lands on the right channel (an INT64_MAX end stays
  // one); a negative bound counts from the end, so it moves when channels after it are cut.
  const bound = (raw: number, want: (f: FixupContext) => number) => (f: FixupContext) => {
    const n = f.kept(all).length;
    const w = want(f);
    return Math.min(n, Math.max(0, raw < 0 ? raw + n : raw)) === w ? raw : w;
  };
  const newStart = bound(starts[j], (f) => f.kept(before).length);
  const newEnd = bound(ends[j], (f) => f.kept(before).length + f.kept(inside).length);
  if (ctx.opset >= 10) return shapeEntryFixup(ctx, node, 1, j, newStart) ?? shapeEntryFixup(ctx, node, 2, j, newEnd);
  ctx.fixup((f) => {
    const ns = newStart(f);
    const ne = newEnd(f);
    if (ns === starts[j] && ne === ends[j]) return;
    const s = starts.slice();
    const e = ends.slice();
    s[j] = ns;
    e[j] = ne;
    setAttrInts(node, 'starts', s);
    setAttrInts(node, 'ends', e);
  });
  return undefined;
}
