// Channel rules: how the channel units of an op's inputs map to its outputs,
// which constant inputs are sliced with them, and what gets frozen and why.
// One small function per channel kind of the op table (onnx/ops.ts); index
// mapping lives in indexMapping.ts and apply-time edits in fixups.ts.

import { attr, attrInt, attrInts } from '../../onnx/attributes';
import type { ChannelKind } from '../../onnx/ops';
import type { Dim } from '../../onnx/shapes';
import { tensorFloats } from '../../onnx/tensor';
import { batchedMatMul, expandRule } from './attention';
import type { Rule, RuleContext } from './context';
import { gather } from './embeddings';
import { groupFixup, shapeEntryFixup, sliceBoundsFixup, splitSizesFixup } from './fixups';
import { expand, repeatEach, tieGroups } from './indexMapping';
import { reshape, transpose } from './reshape';
import type { ValueChannels } from './types';

const numeric = (d: Dim | undefined): d is number => typeof d === 'number';
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const product = (dims: Dim[]): number | undefined =>
  dims.every(numeric) ? (dims as number[]).reduce((p, v) => p * v, 1) : undefined;

/** Channels pass through unchanged: activations, Identity, Cast, Dropout's output. */
const passThrough: Rule = (ctx) => {
  const x = ctx.block(ctx.node.input[0]);
  if (x) ctx.set(ctx.node.output[0], x);
};

/** Pools and other ops over the spatial axes 2.. of NCHW: the channel axis must be 1. */
const spatial: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  if (!x) return;
  if (x.axis !== 1) return ctx.freezeInputs(`${ctx.name} pools over axis ${x.axis}, which holds the channels`);
  ctx.set(ctx.node.output[0], x);
};

/** Ops that only read a tensor's shape. */
const shapeOnly: Rule = () => undefined;

/**
 * Elementwise ops with numpy broadcasting: every operand that carries the
 * channel axis shares one channel space. A constant operand with the channel
 * dim (a per-channel scale, a PRelu slope) is sliced with it; one with size 1
 * there broadcasts and is left alone.
 */
export function elementwise(ctx: RuleContext, inputs = ctx.node.input.map((_, i) => i)): void {
  const { node } = ctx;
  const outRank = ctx.dims(node.output[0])?.length
    ?? Math.max(...inputs.map((i) => ctx.dims(node.input[i])?.length ?? -1));
  let first: ValueChannels | undefined;
  let aligned = -1;
  for (const i of inputs) {
    const x = ctx.channels(node.input[i]);
    if (!x) continue;
    const rank = ctx.dims(node.input[i])?.length;
    if (rank === undefined || outRank < 0) return ctx.freezeInputs(`the rank of the inputs of ${ctx.name} is unknown`);
    const a = x.axis + outRank - rank;
    if (!first) {
      first = x;
      aligned = a;
    } else if (a !== aligned || x.labels.length !== first.labels.length) {
      return ctx.freezeInputs(`${ctx.name} combines channels on different axes or of different counts`);
    } else {
      ctx.union(first.labels, x.labels);
    }
  }
  if (!first) return;
  const size = first.labels.length;
  for (const i of inputs) {
    const name = node.input[i];
    if (!name || ctx.channels(name)) continue;
    const cdims = ctx.constDims(name);
    const d = cdims ?? ctx.dims(name);
    if (!d) return ctx.freezeInputs(`${ctx.name} combines the channels with a tensor of unknown shape`);
    const a = aligned - (outRank - d.length);
    if (a < 0 || d[a] === 1) continue;
    if (d[a] !== size) {
      return ctx.freezeInputs(`${ctx.name} broadcasts ${size} channels against a dim of ${d[a]}`);
    }
    if (!cdims) return ctx.freezeInputs(`${ctx.name} combines the channels with a computed tensor that is not tracked`);
    ctx.member(i, a, first.labels, 'operand');
  }
  ctx.set(node.output[0], { axis: aligned, labels: first.labels });
}

const batchNorm: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  if (!x) return;
  if (x.axis !== 1) return ctx.freezeInputs(`${ctx.name} normalises axis 1, not the channel axis ${x.axis}`);
  const roles = ['bn-scale', 'bn-bias', 'bn-mean', 'bn-var'] as const;
  for (let i = 1; i <= 4; i++) {
    const d = ctx.constDims(ctx.node.input[i]);
    if (!d || d.length !== 1 || d[0] !== x.labels.length) {
      return ctx.freezeInputs(`${ctx.name} has a parameter that is not a constant of ${x.labels.length} values`);
    }
  }
  roles.forEach((role, k) => ctx.member(k + 1, 0, x.labels, role));
  ctx.set(ctx.node.output[0], x);
};

const instanceNorm: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  if (!x) return;
  if (x.axis !== 1) return ctx.freezeInputs(`${ctx.name} normalises per channel on axis 1, not ${x.axis}`);
  for (const i of [1, 2]) {
    const d = ctx.constDims(ctx.node.input[i]);
    if (!d || d.length !== 1 || d[0] !== x.labels.length) return ctx.freezeInputs(`${ctx.name} has a parameter that is not a per-channel constant`);
  }
  ctx.member(1, 0, x.labels, 'norm-scale');
  ctx.member(2, 0, x.labels, 'norm-bias');
  ctx.set(ctx.node.output[0], x);
};

/**
 * LayerNorm over the channel axis alone ([N, T, C], axis -1) keeps its scale
 * and bias per channel, so they are sliced (the statistics then cover the kept
 * channels, as in Torch-Pruning). Over more axes the channel cannot be cut.
 */
const layerNorm: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  const rank = ctx.dims(ctx.node.input[0])?.length;
  if (!x) return;
  if (rank === undefined) return ctx.freezeInputs(`the rank of the input of ${ctx.name} is unknown`);
  const a = norm(attrInt(ctx.node, 'axis', -1), rank);
  if (x.axis < a) return ctx.set(ctx.node.output[0], x);
  if (x.axis !== a || a !== rank - 1) return ctx.freezeInputs(`${ctx.name} normalises the channels together with other axes`);
  for (const [i, role] of [[1, 'norm-scale'], [2, 'norm-bias']] as const) {
    const name = ctx.node.input[i];
    if (!name) continue;
    const d = ctx.constDims(name);
    if (!d || d[d.length - 1] !== x.labels.length) return ctx.freezeInputs(`${ctx.name} has a parameter that is not a per-channel constant`);
    ctx.member(i, d.length - 1, x.labels, role);
  }
  ctx.set(ctx.node.output[0], x);
};

/**
 * GroupNorm: every group must keep the same number of channels, so channel k
 * of each group is cut together (per group, like a grouped conv). Scale and
 * bias of shape [C] (opset 21) are sliced; per-group ones (opset 18) are not.
 */
const groupNorm: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  if (!x) return;
  const groups = attrInt(ctx.node, 'num_groups', 0);
  const c = x.labels.length;
  if (x.axis !== 1 || groups < 1 || c % groups) return ctx.freezeInputs(`${ctx.name} groups the channels in a way that is not handled`);
  if (groups === c) return ctx.freezeInputs(`${ctx.name} has one channel per group; cutting one would change num_groups`);
  tieGroups(ctx, x.labels, groups);
  for (const [i, role] of [[1, 'norm-scale'], [2, 'norm-bias']] as const) {
    const d = ctx.constDims(ctx.node.input[i]);
    if (!d || d.length !== 1) return ctx.freezeInputs(`${ctx.name} has a parameter that is not a constant vector`);
    if (d[0] === c && c !== groups) ctx.member(i, 0, x.labels, role);
  }
  ctx.set(ctx.node.output[0], x);
};

/** Input channels that do not match the layer are frozen and not tracked further. */
function layerInput(ctx: RuleContext, expectAxis: number, expectSize: number): ValueChannels | undefined {
  const x = ctx.channels(ctx.node.input[0]);
  if (!x) return undefined;
  if (x.axis !== expectAxis || x.labels.length !== expectSize) {
    ctx.freeze(x.labels, `${ctx.name} reads ${x.labels.length} channels on axis ${x.axis}, but its weight expects ${expectSize} on axis ${expectAxis}`);
    return undefined;
  }
  return x;
}

function biasMember(ctx: RuleContext, input: number, out: Int32Array): boolean {
  const name = ctx.node.input[input];
  if (!name) return true;
  const d = ctx.constDims(name);
  if (!d) {
    ctx.freeze(out, `the bias of ${ctx.name} is computed at run time`);
    return false;
  }
  if (d.length && d[d.length - 1] === out.length) ctx.member(input, d.length - 1, out, 'bias');
  return true;
}

const conv: Rule = (ctx) => {
  const layer = ctx.layer();
  if (!layer) return ctx.freezeInputs(`the weight of ${ctx.name} is computed at run time`);
  const [cout, perGroupIn] = layer.dims;
  const groups = layer.groups;
  const x = layerInput(ctx, 1, perGroupIn * groups);
  if (groups > 1 && perGroupIn === 1) {
    // Depthwise: one filter (or `cout / cin` filters) per input channel, so in and out are cut together.
    if (!x) return;
    const out = repeatEach(x.labels, cout / groups);
    ctx.member(1, 0, out, 'depthwise');
    biasMember(ctx, 2, out);
    ctx.layerChannels(out, x.labels);
    groupFixup(ctx, x.labels);
    return ctx.set(ctx.node.output[0], { axis: 1, labels: out });
  }
  const out = ctx.newUnits(cout);
  if (groups > 1) {
    // Grouped: every group must keep the same number of channels, so channel k
    // of each group is cut together, on both sides.
    tieGroups(ctx, out, groups);
    if (x) tieGroups(ctx, x.labels, groups);
  }
  ctx.member(1, 0, out, 'out');
  if (x) ctx.member(1, 1, x.labels.subarray(0, perGroupIn), 'in');
  biasMember(ctx, 2, out);
  ctx.layerChannels(out, x?.labels);
  ctx.set(ctx.node.output[0], { axis: 1, labels: out });
};

const convTranspose: Rule = (ctx) => {
  const layer = ctx.layer();
  if (!layer) return ctx.freezeInputs(`the weight of ${ctx.name} is computed at run time`);
  const [cin, perGroupOut] = layer.dims;
  const groups = layer.groups;
  const x = layerInput(ctx, 1, cin);
  if (groups > 1) {
    if (!x || groups !== cin) return ctx.freezeInputs(`${ctx.name} is a grouped ConvTranspose, which is not pruned`);
    const out = repeatEach(x.labels, perGroupOut);
    ctx.member(1, 0, x.labels, 'depthwise');
    biasMember(ctx, 2, out);
    ctx.layerChannels(out, x.labels);
    groupFixup(ctx, x.labels);
    return ctx.set(ctx.node.output[0], { axis: 1, labels: out });
  }
  const out = ctx.newUnits(perGroupOut);
  ctx.member(1, 1, out, 'out');
  if (x) ctx.member(1, 0, x.labels, 'in');
  biasMember(ctx, 2, out);
  ctx.layerChannels(out, x?.labels);
  ctx.set(ctx.node.output[0], { axis: 1, labels: out });
};

const gemm: Rule = (ctx) => {
  const layer = ctx.layer();
  if (!layer) return ctx.freezeInputs(`${ctx.name} has no constant weight, or a transposed input`);
  const k = layer.dims[layer.inAxis];
  const n = layer.dims[layer.outAxis];
  const x = layerInput(ctx, 1, k);
  const out = ctx.newUnits(n);
  ctx.member(1, layer.outAxis, out, 'out');
  if (x) ctx.member(1, layer.inAxis, x.labels, 'in');
  biasMember(ctx, 2, out);
  ctx.layerChannels(out, x?.labels);
  ctx.set(ctx.node.output[0], { axis: 1, labels: out });
};

const matMul: Rule = (ctx) => {
  const layer = ctx.layer();
  if (!layer) return batchedMatMul(ctx);
  const [k, n] = layer.dims;
  const rank = ctx.dims(ctx.node.input[0])?.length;
  const outRank = ctx.dims(ctx.node.output[0])?.length ?? rank;
  const x = layerInput(ctx, (rank ?? 0) - 1, k);
  const out = ctx.newUnits(n);
  ctx.member(1, 1, out, 'out');
  if (x) ctx.member(1, 0, x.labels, 'in');
  ctx.layerChannels(out, x?.labels);
  if (outRank === undefined) return ctx.freeze(out, `the rank of the output of ${ctx.name} is unknown`);
  ctx.set(ctx.node.output[0], { axis: outRank - 1, labels: out });
};

const flatten: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  const d = ctx.dims(ctx.node.input[0]);
  if (!x) return;
  if (!d) return ctx.freezeInputs(`the shape of the input of ${ctx.name} is unknown`);
  const a = norm(attrInt(ctx.node, 'axis', 1), d.length);
  if (x.axis < a) return ctx.freezeInputs(`${ctx.name} folds the channels into the leading dim`);
  const inner = product(d.slice(x.axis + 1));
  const total = product(d.slice(a));
  if (inner === undefined || total === undefined) return ctx.freezeInputs(`${ctx.name} flattens dims of unknown size`);
  ctx.set(ctx.node.output[0], { axis: 1, labels: expand(x.labels, inner, total) });
};

const concat: Rule = (ctx) => {
  const { node } = ctx;
  const inputs = node.input.map((name) => ({ name, ch: ctx.channels(name) }));
  const tracked = inputs.filter((i) => i.ch);
  if (!tracked.length) return;
  const rank = ctx.dims(node.output[0])?.length ?? ctx.dims(tracked[0].name)?.length;
  if (rank === undefined) return ctx.freezeInputs(`the rank of ${ctx.name} is unknown`);
  const a = norm(attrInt(node, 'axis', 0), rank);
  const axis = tracked[0].ch!.axis;
  if (tracked.some((t) => t.ch!.axis !== axis)) return ctx.freezeInputs(`${ctx.name} joins tensors whose channels are on different axes`);
  if (a !== axis) return elementwise(ctx);
  const parts: Int32Array[] = [];
  for (const i of inputs) {
    if (i.ch) {
      parts.push(i.ch.labels);
      continue;
    }
    const n = (ctx.constDims(i.name) ?? ctx.dims(i.name))?.[a];
    if (!numeric(n)) return ctx.freezeInputs(`${ctx.name} joins a tensor whose channel count is unknown`);
    parts.push(ctx.newUnits(n));
    ctx.freeze(parts[parts.length - 1], `${ctx.name} joins channels that are not produced by a prunable layer`);
  }
  const labels = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    labels.set(p, off);
    off += p.length;
  }
  ctx.set(node.output[0], { axis, labels });
};

const split: Rule = (ctx) => {
  const { node } = ctx;
  const x = ctx.channels(node.input[0]);
  const rank = ctx.dims(node.input[0])?.length;
  if (!x) return;
  if (rank === undefined) return ctx.freezeInputs(`the rank of the input of ${ctx.name} is unknown`);
  const a = norm(attrInt(node, 'axis', 0), rank);
  if (a !== x.axis) {
    for (const o of node.output) ctx.set(o, x);
    return;
  }
  const c = x.labels.length;
  const n = node.output.length;
  let sizes = ctx.opset >= 13 ? (node.input[1] ? ctx.ints(node.input[1]) : undefined) : attrInts(node, 'split');
  if (ctx.opset >= 13 && node.input[1] && !sizes) return ctx.freezeInputs(`the split sizes of ${ctx.name} are computed at run time`);
  if (!sizes) {
    // Equal parts; opset 18's num_outputs makes the last part smaller when C does not divide.
    const part = Math.ceil(c / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, c - i * part)));
  }
  if (sizes.length !== n || sizes.reduce((s, v) => s + v, 0) !== c) return ctx.freezeInputs(`the split sizes of ${ctx.name} do not add up to ${c}`);
  const parts: Int32Array[] = [];
  let off = 0;
  for (let i = 0; i < n; i++) {
    parts.push(x.labels.slice(off, off + sizes[i]));
    off += sizes[i];
    ctx.set(node.output[i], { axis: a, labels: parts[i] });
  }
  splitSizesFixup(ctx, parts, sizes);
};

/**
 * Slice with step 1 on the channel axis keeps a range of channels; its bounds
 * are renumbered, also when they are computed (torch.chunk's Shape → Div).
 * The axes must be known: channels are never tracked on a guessed axis.
 */
const slice: Rule = (ctx) => {
  const { node } = ctx;
  const x = ctx.channels(node.input[0]);
  const rank = ctx.dims(node.input[0])?.length;
  if (!x) return;
  if (rank === undefined) return ctx.freezeInputs(`the rank of the input of ${ctx.name} is unknown`);
  const fromInputs = ctx.opset >= 10;
  const starts = fromInputs ? ctx.dimValues(node.input[1]) : attrInts(node, 'starts');
  const ends = fromInputs ? ctx.dimValues(node.input[2]) : attrInts(node, 'ends');
  if (!starts || !ends) return ctx.freezeInputs(`the bounds of ${ctx.name} are computed at run time`);
  const axes = fromInputs
    ? (node.input[3] ? ctx.ints(node.input[3]) : starts.map((_, i) => i))
    : (attrInts(node, 'axes') ?? starts.map((_, i) => i));
  if (!axes) return ctx.freezeInputs(`the axes of ${ctx.name} are computed at run time`);
  const steps = fromInputs && node.input[4] ? ctx.ints(node.input[4]) : starts.map(() => 1);
  if (!steps) return ctx.freezeInputs(`the steps of ${ctx.name} are computed at run time`);
  // One bound per axis; bounds whose counts differ (a broken shape computation) cannot be renumbered into a Slice that loads.
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    return ctx.freezeInputs(`${ctx.name} has ${starts.length} starts, ${ends.length} ends, ${axes.length} axes and ${steps.length} steps`);
  }
  const j = axes.findIndex((v) => norm(v, rank) === x.axis);
  if (j < 0) return ctx.set(node.output[0], x);
  if (steps[j] !== 1) return ctx.freezeInputs(`${ctx.name} slices the channels with step ${steps[j]}`);
  const start = starts[j];
  const end = ends[j];
  if (!numeric(start) || !numeric(end)) return ctx.freezeInputs(`the bounds of ${ctx.name} on the channel axis are computed at run time`);
  const c = x.labels.length;
  const clamp = (v: number) => Math.min(c, Math.max(0, v < 0 ? v + c : v));
  const s = clamp(start);
  const e = Math.max(s, clamp(end));
  const labels = x.labels.slice(s, e);
  const before = x.labels.slice(0, s);
  const rawStarts = starts.map((v) => (numeric(v) ? v : 0));
  const rawEnds = ends.map((v) => (numeric(v) ? v : 0));
  const why = sliceBoundsFixup(ctx, j, rawStarts, rawEnds, x.labels, before, labels);
  if (why) return ctx.freezeInputs(why);
  ctx.set(node.output[0], { axis: x.axis, labels });
};

/** Axes from the input (opset 13) or the attribute; undefined when given but not resolvable. */
function axesOf(ctx: RuleContext): { given: boolean; axes?: number[] } {
  const { node } = ctx;
  if (node.input[1]) return { given: true, axes: ctx.ints(node.input[1]) };
  const a = attrInts(node, 'axes');
  return { given: !!a, axes: a };
}

const squeeze: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  const d = ctx.dims(ctx.node.input[0]);
  if (!x) return;
  if (!d) return ctx.freezeInputs(`the shape of the input of ${ctx.name} is unknown`);
  const { given, axes: listed } = axesOf(ctx);
  if (given && !listed) return ctx.freezeInputs(`the axes of ${ctx.name} are computed at run time`);
  // Without axes every dim of size 1 goes, which a symbolic dim may be at run time.
  if (!given && d.some((v) => !numeric(v))) return ctx.freezeInputs(`${ctx.name} has no axes, and which dims are 1 depends on the input`);
  const axes = (listed ?? d.flatMap((v, i) => (v === 1 ? [i] : []))).map((a) => norm(a, d.length));
  if (axes.includes(x.axis)) return ctx.freezeInputs(`${ctx.name} squeezes the channel axis`);
  ctx.set(ctx.node.output[0], { axis: x.axis - axes.filter((a) => a < x.axis).length, labels: x.labels });
};

const unsqueeze: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  const rank = ctx.dims(ctx.node.input[0])?.length;
  const { axes } = axesOf(ctx);
  if (!x) return;
  if (rank === undefined || !axes) return ctx.freezeInputs(`the axes of ${ctx.name} are unknown`);
  const outRank = rank + axes.length;
  const inserted = new Set(axes.map((a) => norm(a, outRank)));
  const kept = Array.from({ length: outRank }, (_, i) => i).filter((i) => !inserted.has(i));
  ctx.set(ctx.node.output[0], { axis: kept[x.axis], labels: x.labels });
};

const reduce: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  const rank = ctx.dims(ctx.node.input[0])?.length;
  if (!x) return;
  if (rank === undefined) return ctx.freezeInputs(`the rank of the input of ${ctx.name} is unknown`);
  const { given: listed, axes: given } = axesOf(ctx);
  if (listed && !given) return ctx.freezeInputs(`the axes of ${ctx.name} are computed at run time`);
  const axes = (given?.length ? given : Array.from({ length: rank }, (_, i) => i)).map((a) => norm(a, rank));
  if (axes.includes(x.axis)) return ctx.freezeInputs(`${ctx.name} reduces over the channel axis`);
  const keep = attrInt(ctx.node, 'keepdims', 1) === 1;
  ctx.set(ctx.node.output[0], { axis: keep ? x.axis : x.axis - axes.filter((a) => a < x.axis).length, labels: x.labels });
};

const softmax: Rule = (ctx) => {
  const x = ctx.channels(ctx.node.input[0]);
  const rank = ctx.dims(ctx.node.input[0])?.length;
  if (!x) return;
  if (rank === undefined) return ctx.freezeInputs(`the rank of the input of ${ctx.name} is unknown`);
  const a = norm(attrInt(ctx.node, 'axis', ctx.opset >= 13 ? -1 : 1), rank);
  // Before opset 13 the op flattens every axis from `axis` on into one.
  const touches = ctx.opset >= 13 ? a === x.axis : x.axis >= a;
  if (touches) return ctx.freezeInputs(`${ctx.name} normalises across the channels`);
  ctx.set(ctx.node.output[0], x);
};

/**
 * Resize/Upsample: the channel axis must have scale 1; explicit sizes follow
 * the kept channels (computed ones from Shape follow by themselves).
 */
const resize: Rule = (ctx) => {
  const { node } = ctx;
  const x = ctx.channels(node.input[0]);
  if (!x) return;
  if (attr(node, 'axes')) return ctx.freezeInputs(`${ctx.name} resizes selected axes, which is not handled`);
  // Resize-10 takes (X, scales); roi came before scales at opset 11 (as in shape inference).
  const resize11 = node.op_type === 'Resize' && ctx.opset >= 11;
  const scalesName = resize11 ? node.input[2] : node.input[1];
  const sizesName = resize11 ? node.input[3] : undefined;
  if (sizesName) {
    const why = shapeEntryFixup(ctx, node, 3, x.axis, (f) => f.kept(x.labels).length, x.labels);
    if (why) return ctx.freezeInputs(why);
    return ctx.set(node.output[0], x);
  }
  const scalesRef = scalesName ? ctx.constant(scalesName) : undefined;
  const scales = scalesRef
    ? Array.from(tensorFloats(scalesRef.tensor))
    : scalesName ? ctx.dimValues(scalesName) : attr(node, 'scales')?.floats;
  if (!scales) return ctx.freezeInputs(`the scales of ${ctx.name} are computed at run time`);
  if (scales[x.axis] !== 1) return ctx.freezeInputs(`${ctx.name} scales the channel axis`);
  ctx.set(node.output[0], x);
};

const pad: Rule = (ctx) => {
  const { node } = ctx;
  const x = ctx.channels(node.input[0]);
  const rank = ctx.dims(node.input[0])?.length;
  if (!x) return;
  if (node.input[3]) return ctx.freezeInputs(`${ctx.name} pads selected axes, which is not handled`);
  const pads = ctx.opset >= 11 ? ctx.dimValues(node.input[1]) : attrInts(node, 'pads');
  if (!pads || rank === undefined) return ctx.freezeInputs(`the pads of ${ctx.name} are computed at run time`);
  if (pads[x.axis] !== 0 || pads[x.axis + rank] !== 0) return ctx.freezeInputs(`${ctx.name} pads the channel axis`);
  ctx.set(node.output[0], x);
};

/** The rule of each channel kind of the op table. */
export const CHANNEL_RULES: Record<ChannelKind, Rule> = {
  passThrough,
  spatial,
  elementwise: (ctx) => elementwise(ctx),
  reduce,
  shapeOnly,
  softmax,
  batchNorm,
  instanceNorm,
  layerNorm,
  groupNorm,
  conv,
  convTranspose,
  gemm,
  matMul,
  flatten,
  reshape,
  concat,
  split,
  slice,
  transpose,
  squeeze,
  unsqueeze,
  resize,
  pad,
  expand: expandRule,
  gather,
};
