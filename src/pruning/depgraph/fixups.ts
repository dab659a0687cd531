// Apply-time fixups: the attribute and shape-constant edits that follow from
// the kept channels (a depthwise conv's group, Reshape targets, Split sizes,
// Slice bounds, Resize sizes). A rule registers one while the graph is built;
// it runs when a selection is applied and sees only how many positions survive.

import { attr, setAttrInts } from '../../onnx/attributes';
import { int64Tensor } from '../../onnx/build';
import type { RuleContext } from './context';

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

/** A Reshape's constant target gets the kept count on the channel axis. */
export function reshapeTargetFixup(ctx: RuleContext, target: number[], axis: number, labels: Int32Array): void {
  const { node } = ctx;
  const entry = target[axis];
  ctx.fixup((f) => {
    const kept = f.kept(labels).length;
    if (kept === entry) return;
    const shape = target.slice();
    shape[axis] = kept;
    f.setConstantInput(node, 1, int64Tensor(`${node.input[1]}_pruned`, [shape.length], shape));
  });
}

/** Split sizes become the kept count of each part (an input from opset 13, an attribute before). */
export function splitSizesFixup(ctx: RuleContext, parts: Int32Array[], original: number[]): void {
  const { node, opset, name } = ctx;
  ctx.fixup((f) => {
    const kept = parts.map((p) => f.kept(p).length);
    if (kept.every((k, i) => k === original[i])) return;
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
 * channels before the range, and those inside it.
 */
export function sliceBoundsFixup(
  ctx: RuleContext, j: number, starts: number[], ends: number[], before: Int32Array, inside: Int32Array,
): void {
  const { node, name } = ctx;
  const fromInputs = ctx.opset >= 10;
  const s = before.length;
  const e = s + inside.length;
  ctx.fixup((f) => {
    const ns = f.kept(before).length;
    const ne = ns + f.kept(inside).length;
    if (ns === s && ne === e) return;
    const newStarts = starts.slice();
    const newEnds = ends.slice();
    newStarts[j] = ns;
    newEnds[j] = ne;
    if (fromInputs) {
      f.setConstantInput(node, 1, int64Tensor(`${name}_starts`, [newStarts.length], newStarts));
      f.setConstantInput(node, 2, int64Tensor(`${name}_ends`, [newEnds.length], newEnds));
    } else {
      setAttrInts(node, 'starts', newStarts);
      setAttrInts(node, 'ends', newEnds);
    }
  });
}

/** A Resize's explicit output sizes get the kept count on the channel axis. */
export function resizeSizesFixup(ctx: RuleContext, sizes: number[], axis: number, labels: Int32Array): void {
  const { node, name } = ctx;
  ctx.fixup((f) => {
    const kept = f.kept(labels).length;
    if (kept === sizes[axis]) return;
    const next = sizes.slice();
    next[axis] = kept;
    f.setConstantInput(node, 3, int64Tensor(`${name}_sizes`, [next.length], next));
  });
}
