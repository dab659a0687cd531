// Shape inference for the ops pruning and analysis need. Dims are numbers, or
// symbolic expressions over the model's named dims (dims.ts), which are
// carried, not failed on. Small tensors that shape computations produce
// (Shape → Gather → Div → Concat → Reshape, Range, ConstantOfShape, Where)
// are evaluated along the way with symbolic entries, so Reshape, Slice, Split
// and Resize see real numbers wherever they are in fact static, and a rank is
// known even where a size is not.

import { attr, attrInt, attrInts, attrString } from './attributes';
import {
  addDims, ceilDiv, exactDiv, floorDiv, isKnown, mulDims, prodDims, scaleDim, subDims, UNKNOWN, type Dim,
} from './dims';
import { PruneLensError } from './errors';
import { GraphIndex } from './graph';
import type { OnnxModel } from './model';
import { opBehaviour } from './ops';
import type { NodeProto, TensorProto, ValueInfoProto } from './schema';
import { DataType, tensorDims, tensorFloats, tensorInts, toNumber } from './tensor';

export type { Dim } from './dims';
export { prodDims } from './dims';

export interface ValueShape {
  elemType: number;
  /** undefined when even the rank is unknown. */
  dims?: Dim[];
}

/** Entry i of a shape vector that is dim `axis` of `value` at run time (it came from a Shape). */
export interface DimOrigin {
  value: string;
  axis: number;
}

export interface ShapeInfo {
  shapes: Map<string, ValueShape>;
  /** Folded values of small integer tensors whose every element is a known number. */
  values: Map<string, number[]>;
  /**
   * Folded values of small tensors: integer entries as dims (the Shape of
   * [batch, 3, h, w] is those four dims), float entries as numbers.
   */
  dimValues: Map<string, Dim[]>;
  /** For folded shape vectors, which entries copy a dim of another value. */
  origins: Map<string, (DimOrigin | undefined)[]>;
  /** The input size that counts (MACs) are evaluated at, when one was stated. */
  assumed?: AssumedInput;
}

/** Values for the named dims of the graph inputs, and where they came from (a setting, a data file). */
export interface AssumedInput {
  dims: Record<string, number>;
  /** The input shapes as stated, for reports: `images [1,3,96,96]`. */
  shapes: Record<string, number[]>;
  source: string;
}

/**
 * Binds the named dims of the graph inputs from stated input shapes (by input
 * name, or one shape for a model with one input). Counts are per sample, so a
 * named leading (batch) dim is 1 whatever the shape says.
 */
export function assumeInputShape(model: OnnxModel, info: ShapeInfo, stated: Record<string, number[]> | number[], source: string): AssumedInput {
  const index = new GraphIndex(model.graph);
  const inputs = model.graph.input.filter((v) => v.name && !index.initializer(v.name));
  const byName: Record<string, number[]> = Array.isArray(stated)
    ? (inputs.length === 1 ? { [inputs[0].name!]: stated } : {})
    : stated;
  if (Array.isArray(stated) && inputs.length !== 1) {
    throw new PruneLensError('shape', `the model has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ')}); give the shape of each by name`);
  }
  const dims: Record<string, number> = {};
  const shapes: Record<string, number[]> = {};
  for (const [name, shape] of Object.entries(byName)) {
    const declared = info.shapes.get(name)?.dims;
    if (!inputs.some((v) => v.name === name) || !declared) throw new PruneLensError('shape', `the model has no input named ${name}`);
    if (declared.length !== shape.length || shape.some((v) => !Number.isInteger(v) || v < 1)) {
      throw new PruneLensError('shape', `input ${name} has ${declared.length} dims [${declared.join(',')}]; [${shape.join(',')}] does not fit it`);
    }
    declared.forEach((d, i) => {
      if (typeof d === 'number') {
        if (d !== shape[i]) throw new PruneLensError('shape', `input ${name} has size ${d} on axis ${i}, not ${shape[i]}`);
      } else if (isKnown(d)) dims[d] = i === 0 ? 1 : shape[i];
    });
    shapes[name] = shape;
  }
  info.assumed = { dims, shapes, source };
  return info.assumed;
}

const MAX_FOLD = 64;
/** Dims of one tensor: far above any real model (numpy allows 64). */
const MAX_RANK = 64;
const FLOATS = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not']);

export function valueInfoShape(v: ValueInfoProto): ValueShape | undefined {
  const tt = v.type?.tensor_type;
  if (!tt) return undefined;
  // A negative declared dim is no size: unknown. One past 2^53 is refused: arithmetic on it is no longer
  // exact, so what we infer from it would differ from what onnxruntime infers.
  const declared = (d: number, i: number): Dim => {
    if (d > Number.MAX_SAFE_INTEGER) throw new PruneLensError('limit', `${v.name} declares dim ${i} as ${d}, past 2^53`, { tensor: v.name });
    return Number.isSafeInteger(d) && d >= 0 ? d : UNKNOWN;
  };
  const dims = tt.shape ? tt.shape.dim.map((d, i): Dim => (d.dim_value !== undefined ? declared(toNumber(d.dim_value), i) : d.dim_param || UNKNOWN)) : undefined;
  return { elemType: tt.elem_type ?? 0, dims };
}

export function inferShapes(model: OnnxModel, index = new GraphIndex(model.graph)): ShapeInfo {
  const info: ShapeInfo = { shapes: new Map(), values: new Map(), dimValues: new Map(), origins: new Map() };
  const g = model.graph;
  const ctx: Ctx = { ...info, model, opset: model.opset() };
  for (const v of g.input) {
    const s = valueInfoShape(v);
    if (v.name && s) info.shapes.set(v.name, s);
  }
  for (const t of g.initializer) {
    if (!t.name) continue;
    const dims = tensorDims(t);
    info.shapes.set(t.name, { elemType: t.data_type ?? 0, dims });
    foldConstant(ctx, t.name, t);
  }
  // value_info from the file: used where our rules have nothing to say.
  const declared = new Map<string, ValueShape>();
  for (const v of [...g.value_info, ...g.output]) {
    const s = valueInfoShape(v);
    if (v.name && s) declared.set(v.name, s);
  }
  for (const node of index.topoOrder()) {
    let outs: (ValueShape | undefined)[] = [];
    try {
      outs = inferNode(node, ctx);
    } catch (e) {
      if (e instanceof PruneLensError) throw new PruneLensError(e.code, e.detail, { ...e.location, node: index.nameOf(node) });
      throw e;
    }
    node.output.forEach((o, i) => {
      if (!o) return;
      const s = better(outs[i], declared.get(o));
      if (s) info.shapes.set(o, s);
    });
  }
  return info;
}

/** Ours, unless the file declares a shape where ours has no rank. */
function better(ours: ValueShape | undefined, file: ValueShape | undefined): ValueShape | undefined {
  if (!ours) return file;
  if (!ours.dims && file?.dims) return { elemType: ours.elemType || file.elemType, dims: file.dims };
  return ours;
}

interface Ctx extends ShapeInfo {
  model: OnnxModel;
  opset: number;
}

function setValue(ctx: Ctx, name: string | undefined, vals: Dim[], origins?: (DimOrigin | undefined)[]): void {
  if (!name || vals.length > MAX_FOLD) return;
  ctx.dimValues.set(name, vals);
  if (vals.every((v) => typeof v === 'number' && Number.isInteger(v))) ctx.values.set(name, vals as number[]);
  if (origins?.some((o) => o)) ctx.origins.set(name, origins);
}

function foldConstant(ctx: Ctx, name: string, t: TensorProto): void {
  const dims = tensorDims(t);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_FOLD) return;
  const dt = t.data_type;
  if (dt === DataType.INT64 || dt === DataType.INT32) {
    setValue(ctx, name, tensorInts(t, ctx.model.external));
  } else if (FLOATS.has(dt ?? 0)) {
    setValue(ctx, name, Array.from(tensorFloats(t, ctx.model.external)));
  }
}

function inferNode(node: NodeProto, ctx: Ctx): (ValueShape | undefined)[] {
  const op = node.op_type ?? '';
  const kind = opBehaviour(op, node.domain ?? '').shape;
  if (!kind) return [];
  const inS = (i: number) => (node.input[i] ? ctx.shapes.get(node.input[i]) : undefined);
  const inV = (i: number) => (node.input[i] ? ctx.dimValues.get(node.input[i]) : undefined);
  const inN = (i: number) => numbers(inV(i));
  const inO = (i: number) => (node.input[i] ? ctx.origins.get(node.input[i]) : undefined);
  const out0 = node.output[0];
  const x = inS(0);
  const et = x?.elemType ?? DataType.FLOAT;
  const same = (dims?: Dim[]) => [{ elemType: et, dims }];
  const opset = ctx.opset;
  /** The length of a 1-D input (a shape or axes vector), when known; it is a rank, so a huge one is refused. */
  const vecLen = (i: number): number | undefined => {
    const v = inV(i);
    if (v) return v.length;
    const d = inS(i)?.dims;
    const n = d?.length === 1 && typeof d[0] === 'number' ? d[0] : undefined;
    if (n !== undefined && n > MAX_RANK) {
      throw new PruneLensError('limit', `${node.input[i]} has ${n} entries on dim 0, and as a shape or axes vector that is a rank; ` +
        `Prune Lens handles at most ${MAX_RANK} dims`, { tensor: node.input[i] });
    }
    return n;
  };
  const unknownDims = (rank: number | undefined) =>
    (rank !== undefined && Number.isInteger(rank) && rank >= 0 ? new Array<Dim>(rank).fill(UNKNOWN) : undefined);

  if (kind === 'constant') {
    const t = attr(node, 'value')?.t;
    const vi = attr(node, 'value_ints');
    const v1 = attr(node, 'value_int');
    const vf = attr(node, 'value_floats');
    const f1 = attr(node, 'value_float');
    if (t) {
      foldConstant(ctx, out0, t);
      return [{ elemType: t.data_type ?? 0, dims: tensorDims(t) }];
    }
    if (vi) { setValue(ctx, out0, vi.ints.map(toNumber)); return [{ elemType: DataType.INT64, dims: [vi.ints.length] }]; }
    if (v1) { setValue(ctx, out0, [toNumber(v1.i ?? 0)]); return [{ elemType: DataType.INT64, dims: [] }]; }
    if (vf) { setValue(ctx, out0, vf.floats.slice()); return [{ elemType: DataType.FLOAT, dims: [vf.floats.length] }]; }
    if (f1) { setValue(ctx, out0, [f1.f ?? 0]); return [{ elemType: DataType.FLOAT, dims: [] }]; }
    return [];
  }
  if (kind === 'unary') {
    const v = inV(0);
    if (v && op === 'Identity') setValue(ctx, out0, v, inO(0));
    if (v && op === 'Neg') setValue(ctx, out0, v.map((d) => mulDims(d, -1)));
    return [{ elemType: BOOL_OUT.has(op) ? DataType.BOOL : et, dims: x?.dims }];
  }
  if (kind === 'dropout') return [x, x && { elemType: DataType.BOOL, dims: x.dims }];
  if (kind === 'cast') {
    const to = attrInt(node, 'to', 1);
    const v = inV(0);
    if (v) {
      const toInt = !FLOATS.has(to) && FLOATS.has(et);
      setValue(ctx, out0, toInt ? v.map((d) => (typeof d === 'number' ? Math.trunc(d) : floorDiv(d, 1))) : v, inO(0));
    }
    return [{ elemType: to, dims: x?.dims }];
  }
  if (kind === 'broadcast') {
    const outType = BOOL_OUT.has(op) ? DataType.BOOL : op === 'Where' ? (inS(1)?.elemType ?? et) : et;
    const ins = node.input.map((_, i) => inS(i));
    if (ins.some((s) => !s?.dims)) {
      // The rank is still the largest rank, when every input has one.
      return [{ elemType: outType, dims: undefined }];
    }
    const dims = broadcast(ins.map((s) => s!.dims!), node);
    foldElementwise(op, node, ctx, outType);
    return [{ elemType: outType, dims }];
  }
  if (kind === 'shape') {
    if (!x?.dims) return [{ elemType: DataType.INT64, dims: [UNKNOWN] }];
    const d = x.dims;
    const start = clampAxis(attrInt(node, 'start', 0), d.length);
    const end = clampAxis(attrInt(node, 'end', d.length), d.length);
    const part = d.slice(start, end);
    setValue(ctx, out0, part, part.map((_, i) => ({ value: node.input[0], axis: start + i })));
    return [{ elemType: DataType.INT64, dims: [part.length] }];
  }
  if (kind === 'size') {
    if (x?.dims) setValue(ctx, out0, [prodDims(x.dims)]);
    return [{ elemType: DataType.INT64, dims: [] }];
  }
  if (kind === 'constantOfShape') {
    const shape = inV(0);
    const t = attr(node, 'value')?.t;
    const elemType = t?.data_type ?? DataType.FLOAT;
    if (shape) {
      const n = numbers(shape);
      if (n && t && n.reduce((a, b) => a * b, 1) <= MAX_FOLD) {
        const fill = FLOATS.has(elemType) ? tensorFloats(t, ctx.model.external)[0] : tensorInts(t, ctx.model.external)[0];
        setValue(ctx, out0, new Array(n.reduce((a, b) => a * b, 1)).fill(fill ?? 0));
      } else if (n && !t && n.reduce((a, b) => a * b, 1) <= MAX_FOLD) {
        setValue(ctx, out0, new Array(n.reduce((a, b) => a * b, 1)).fill(0));
      }
    }
    return [{ elemType, dims: shape ?? unknownDims(vecLen(0)) }];
  }
  if (kind === 'range') {
    const [start, limit, delta] = [inV(0)?.[0], inV(1)?.[0], inV(2)?.[0]];
    let n: Dim = UNKNOWN;
    if (typeof start === 'number' && typeof limit === 'number' && typeof delta === 'number' && delta !== 0) {
      n = Math.max(0, Math.ceil((limit - start) / delta));
      if (n <= MAX_FOLD) setValue(ctx, out0, Array.from({ length: n }, (_, i) => start + i * delta));
    } else if (start !== undefined && limit !== undefined && delta === 1) {
      n = subDims(limit, start);
    }
    return [{ elemType: et, dims: [n] }];
  }
  if (!x?.dims) {
    // Without the input's shape, some ops still know their output rank.
    if (kind === 'reshape') return same(unknownDims(vecLen(1)));
    if (kind === 'expand') return same(undefined);
    return [];
  }
  const d = x.dims;
  switch (kind) {
    case 'conv': {
      const w = inS(1)?.dims;
      if (!w) return same(unknownDims(d.length));
      const k = attrInts(node, 'kernel_shape') ?? w.slice(2).map(num);
      checkConvChannels(node, d, w);
      return same([d[0], w[0], ...spatial(node, d.slice(2), k, false)]);
    }
    case 'convTranspose': {
      const w = inS(1)?.dims;
      if (!w) return same(unknownDims(d.length));
      const group = attrInt(node, 'group', 1);
      const k = attrInts(node, 'kernel_shape') ?? w.slice(2).map(num);
      if (typeof d[1] === 'number' && typeof w[0] === 'number' && d[1] !== w[0]) {
        throw new PruneLensError('shape', `${node.input[0]} has ${d[1]} channels on dim 1, but the weight ${node.input[1]} takes ${w[0]}`, { tensor: node.input[0] });
      }
      const outShape = attrInts(node, 'output_shape');
      const s = attrInts(node, 'strides') ?? k.map(() => 1);
      const dil = attrInts(node, 'dilations') ?? k.map(() => 1);
      const pads = attrInts(node, 'pads') ?? k.map(() => 0).concat(k.map(() => 0));
      const op_ = attrInts(node, 'output_padding') ?? k.map(() => 0);
      const sp = outShape ?? d.slice(2).map((v, i) =>
        addDims(mulDims(s[i], subDims(v, 1)), op_[i] + (k[i] - 1) * dil[i] + 1 - pads[i] - pads[i + k.length]));
      return same([d[0], mulDims(w[1], group), ...sp]);
    }
    case 'gemm': {
      const a = d;
      const b = inS(1)?.dims;
      if (!b || a.length !== 2 || b.length !== 2) return same(unknownDims(2));
      const m = attrInt(node, 'transA', 0) ? a[1] : a[0];
      const n = attrInt(node, 'transB', 0) ? b[0] : b[1];
      return same([m, n]);
    }
    case 'matMul': {
      const b = inS(1)?.dims;
      if (!b) return same(undefined);
      return same(matmulShape(d, b, node));
    }
    case 'flatten': {
      let axis = attrInt(node, 'axis', 1);
      if (axis < 0) axis += d.length;
      return same([prodDims(d.slice(0, axis)), prodDims(d.slice(axis))]);
    }
    case 'reshape': {
      const target = inV(1) ?? attrInts(node, 'shape');
      const v = inV(0);
      // A folded vector keeps its values through a Reshape (row-major order is unchanged).
      if (v) setValue(ctx, out0, v, inO(0));
      if (!target) return same(unknownDims(vecLen(1)));
      return same(reshape(d, target, attrInt(node, 'allowzero', 0) === 1, node));
    }
    case 'transpose': {
      const perm = attrInts(node, 'perm') ?? d.map((_, i) => d.length - 1 - i);
      return same(perm.map((p) => d[p]));
    }
    case 'concat': {
      const axis = normAxis(attrInt(node, 'axis', 0), d.length);
      const ins = node.input.map((_, i) => inS(i)?.dims);
      checkConcatInputs(node, ins, axis);
      // Off the joined axis, every input has the same size: a number any of them knows is the output's (as
      // onnxruntime's inference merges them), so a later mismatch is seen here and not only in a pruned copy.
      const out = d.map((v, j) => {
        if (j === axis) return ins.some((s) => !s) ? UNKNOWN : ins.reduce<Dim>((acc, s) => addDims(acc, s![axis]), 0);
        const sizes = ins.map((s) => s?.[j]);
        return sizes.find((x) => typeof x === 'number') ?? sizes.find(isKnown) ?? v;
      });
      const vals = node.input.map((_, i) => inV(i));
      if (d.length === 1 && vals.every((v) => v)) {
        setValue(ctx, out0, vals.flat() as Dim[], node.input.flatMap((_, i) => inO(i) ?? new Array(vals[i]!.length).fill(undefined)));
      }
      return same(out);
    }
    case 'split': {
      const axis = normAxis(attrInt(node, 'axis', 0), d.length);
      const n = node.output.length;
      const sizes: Dim[] | undefined = (opset >= 13 ? inV(1) : attrInts(node, 'split')) ?? attrInts(node, 'split');
      const len = d[axis];
      const v = inV(0);
      let off = 0;
      return node.output.map((o, i) => {
        const out = d.slice();
        if (sizes) out[axis] = sizes[i] ?? UNKNOWN;
        else if (typeof len === 'number') {
          const chunk = Math.ceil(len / n);
          out[axis] = Math.max(0, Math.min(chunk, len - chunk * i));
        } else out[axis] = opset >= 18 && attr(node, 'num_outputs') ? ceilOrLast(len, n, i) : exactDiv(len, n);
        if (v && d.length === 1 && typeof out[axis] === 'number') {
          setValue(ctx, o, v.slice(off, off + (out[axis] as number)), inO(0)?.slice(off, off + (out[axis] as number)));
          off += out[axis] as number;
        }
        return { elemType: et, dims: out };
      });
    }
    case 'slice': {
      const starts = opset >= 10 ? inN(1) : attrInts(node, 'starts');
      const ends = opset >= 10 ? inN(2) : attrInts(node, 'ends');
      if (!starts || !ends) return same(unknownDims(d.length));
      const axesIn = opset >= 10 ? (node.input[3] ? inN(3) : starts.map((_, i) => i)) : (attrInts(node, 'axes') ?? starts.map((_, i) => i));
      if (!axesIn) return same(unknownDims(d.length));
      const steps = (opset >= 10 && node.input[4] ? inN(4) : starts.map(() => 1));
      if (!steps) return same(unknownDims(d.length));
      const out = d.slice();
      const src = inV(0);
      const srcOrigins = inO(0);
      axesIn.forEach((a0, i) => {
        const a = normAxis(a0, d.length);
        out[a] = sliceDim(d[a], starts[i], ends[i], steps[i]);
        if (src && d.length === 1) {
          const idx = sliceIndices(src.length, starts[i], ends[i], steps[i]);
          setValue(ctx, out0, idx.map((j) => src[j]), srcOrigins && idx.map((j) => srcOrigins[j]));
        }
      });
      return same(out);
    }
    case 'squeeze': {
      const hasAxes = opset >= 13 ? !!node.input[1] : !!attr(node, 'axes');
      const axesRaw = opset >= 13 ? inN(1) : attrInts(node, 'axes');
      if (hasAxes && !axesRaw) return same(unknownDims(d.length - (vecLen(1) ?? NaN)));
      const axes = axesRaw?.map((a) => normAxis(a, d.length));
      const out = d.filter((v, i) => (axes ? !axes.includes(i) : v !== 1));
      const v = inV(0);
      if (v) setValue(ctx, out0, v, inO(0));
      return same(out);
    }
    case 'unsqueeze': {
      const axes = opset >= 13 ? inN(1) : attrInts(node, 'axes');
      if (!axes) return same(opset >= 13 ? unknownDims(vecLen(1) === undefined ? undefined : d.length + vecLen(1)!) : undefined);
      const rank = d.length + axes.length;
      const norm = axes.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
      const out = d.slice();
      for (const a of norm) out.splice(a, 0, 1);
      const v = inV(0);
      if (v) setValue(ctx, out0, v, inO(0));
      return same(out);
    }
    case 'gather': {
      const idx = inS(1)?.dims;
      if (!idx) return same(undefined);
      const axis = normAxis(attrInt(node, 'axis', 0), d.length);
      const v = inV(0);
      const iv = inN(1);
      // Constant indices past the axis fail when the model runs; in a shape computation they would read as an unknown dim.
      const n = d[axis];
      const bad = typeof n === 'number' ? iv?.find((i) => i < -n || i >= n) : undefined;
      if (bad !== undefined) {
        throw new PruneLensError('shape', `Gather index ${bad} (${node.input[1]}) is out of range for dim ${axis} of ${node.input[0]}, of size ${n}`, { tensor: node.input[1] });
      }
      if (v && iv && d.length === 1) {
        const at = iv.map((i) => (i < 0 ? i + v.length : i));
        const o = inO(0);
        setValue(ctx, out0, at.map((i) => v[i] ?? UNKNOWN), o && at.map((i) => o[i]));
      }
      return same([...d.slice(0, axis), ...idx, ...d.slice(axis + 1)]);
    }
    case 'resize': {
      const sizes = op === 'Resize' && opset >= 11 ? inV(3) : undefined;
      if (sizes && sizes.length === d.length) return same(sizes);
      // Resize-10 takes (X, scales); roi came before scales at opset 11.
      const scalesInput = op === 'Resize' && opset >= 11 ? 2 : 1;
      const scales = op === 'Upsample' && opset < 9 ? attr(node, 'scales')?.floats : numbers(inV(scalesInput));
      if (!scales || scales.length !== d.length) return same(d.map((v, i) => (i < 2 ? v : UNKNOWN)));
      return same(d.map((v, i) => scaleDim(v, scales[i])));
    }
    case 'pad': {
      const pads = opset >= 11 ? inV(1) : attrInts(node, 'pads');
      if (!pads || (opset >= 11 && node.input[3])) return same(unknownDims(d.length));
      return same(d.map((v, i) => addDims(addDims(v, pads[i]), pads[i + d.length])));
    }
    case 'tile': {
      const reps = inV(1);
      if (!reps || reps.length !== d.length) return same(unknownDims(d.length));
      return same(d.map((v, i) => mulDims(v, reps[i])));
    }
    case 'expand': {
      const shape = inV(1);
      if (!shape) {
        const n = vecLen(1);
        return same(n === undefined ? undefined : unknownDims(Math.max(n, d.length)));
      }
      const out = broadcast([d, shape], node);
      const v = inV(0);
      const size = numbers(out)?.reduce((a, b) => a * b, 1);
      if (v && size !== undefined && size <= MAX_FOLD && out.length <= 1) {
        setValue(ctx, out0, out.length ? Array.from({ length: size }, (_, i) => v[v.length === 1 ? 0 : i]) : v);
      }
      return same(out);
    }
    case 'pool': {
      const k = attrInts(node, 'kernel_shape') ?? [];
      const outs: ValueShape[] = [{ elemType: et, dims: [d[0], d[1], ...spatial(node, d.slice(2), k, attrInt(node, 'ceil_mode', 0) === 1)] }];
      if (node.output.length > 1) outs.push({ elemType: DataType.INT64, dims: outs[0].dims });
      return outs;
    }
    case 'globalPool':
      return same([d[0], d[1], ...d.slice(2).map(() => 1)]);
    case 'reduce': {
      const keep = attrInt(node, 'keepdims', 1) === 1;
      const isArg = op.startsWith('Arg');
      const fromInput = !isArg && (opset >= 18 || (op === 'ReduceSum' && opset >= 13));
      const axesRaw = isArg ? [attrInt(node, 'axis', 0)] : fromInput ? inN(1) : attrInts(node, 'axes');
      const outType = isArg ? DataType.INT64 : et;
      if (fromInput && node.input[1] && !axesRaw) {
        return [{ elemType: outType, dims: keep ? unknownDims(d.length) : unknownDims(d.length - (vecLen(1) ?? NaN)) }];
      }
      const noop = fromInput && !node.input[1] && attrInt(node, 'noop_with_empty_axes', 0) === 1;
      const axes = noop ? [] : (axesRaw?.length ? axesRaw : d.map((_, i) => i)).map((a) => normAxis(a, d.length));
      const out = keep ? d.map((v, i) => (axes.includes(i) ? 1 : v)) : d.filter((_, i) => !axes.includes(i));
      return [{ elemType: outType, dims: out }];
    }
  }
  return [];
}

/** Part i of opset 18's Split by num_outputs: ceil(len / n), the last one the rest. */
function ceilOrLast(len: Dim, n: number, i: number): Dim {
  const part = ceilDiv(len, n);
  return i < n - 1 ? part : subDims(len, mulDims(part, n - 1));
}

function numbers(v: Dim[] | undefined): number[] | undefined {
  return v && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
}

function num(d: Dim): number {
  return typeof d === 'number' ? d : NaN;
}

/**
 * Concat's inputs agree on every axis but the one joined. A model whose known
 * sizes disagree cannot run (onnxruntime fails on its first input, or refuses
 * the file once a pruned copy makes the sizes visible to its own inference).
 */
function checkConcatInputs(node: NodeProto, ins: (Dim[] | undefined)[], axis: number): void {
  const first = ins.findIndex((s) => s);
  if (first < 0) return;
  const a = ins[first]!;
  ins.forEach((b, i) => {
    if (!b || i === first) return;
    if (b.length !== a.length) {
      throw new PruneLensError('shape', `Concat joins ${node.input[first]} of rank ${a.length} with ${node.input[i]} of rank ${b.length}`, { tensor: node.input[i] });
    }
    const k = b.findIndex((v, j) => j !== axis && typeof v === 'number' && typeof a[j] === 'number' && v !== a[j]);
    if (k >= 0) {
      throw new PruneLensError('shape', `Concat on axis ${axis} joins ${node.input[first]} of size ${a[k]} with ${node.input[i]} of size ${b[k]} on dim ${k}`, { tensor: node.input[i] });
    }
  });
}

/** A Conv's input channels are the weight's dim 1 times group, where both are known. */
function checkConvChannels(node: NodeProto, x: Dim[], w: Dim[]): void {
  const group = attrInt(node, 'group', 1);
  const c = x[1];
  const per = w[1];
  if (typeof c !== 'number' || typeof per !== 'number' || c === per * group) return;
  throw new PruneLensError('shape', `${node.input[0]} has ${c} channels on dim 1, but the weight ${node.input[1]} takes ${per}` +
    (group !== 1 ? ` per group × group ${group} = ${per * group}` : ''), { tensor: node.input[0] });
}

/** Output spatial sizes of Conv and the pools (explicit pads or auto_pad), symbolic ones included. */
function spatial(node: NodeProto, inDims: Dim[], k: number[], ceil: boolean): Dim[] {
  const n = inDims.length;
  const s = attrInts(node, 'strides') ?? inDims.map(() => 1);
  const dil = attrInts(node, 'dilations') ?? inDims.map(() => 1);
  const pads = attrInts(node, 'pads') ?? new Array(2 * n).fill(0);
  const auto = attrString(node, 'auto_pad', 'NOTSET');
  return inDims.map((v, i) => {
    if (!isKnown(v) || !Number.isFinite(k[i])) return UNKNOWN;
    const eff = (k[i] - 1) * (dil[i] ?? 1) + 1;
    const st = s[i] ?? 1;
    if (st <= 0) throw new PruneLensError('shape', `stride ${st} is not positive`);
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') return ceilDiv(v, st);
    if (auto === 'VALID') return ceilDiv(subDims(v, eff - 1), st);
    const total = addDims(v, pads[i] + pads[i + n] - eff);
    const out = addDims(ceil ? ceilDiv(total, st) : floorDiv(total, st), 1);
    if (typeof out === 'number' && out <= 0) throw new PruneLensError('shape', `a ${k.join('x')} window does not fit a spatial size of ${v}`);
    return out;
  });
}

export function broadcast(list: Dim[][], node?: NodeProto): Dim[] {
  const rank = Math.max(...list.map((l) => l.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const l of list) {
      const v = l[i - (rank - l.length)];
      if (v === undefined || v === 1) continue;
      if (d === 1) d = v;
      else if (typeof d === 'number' && typeof v === 'number' && d !== v) {
        throw new PruneLensError('shape', `cannot broadcast [${list.map((l) => l.join(',')).join('] with [')}]`, { node: node?.name });
      } else if (typeof d === 'string' && typeof v === 'number') d = v;
      else if (d === UNKNOWN && typeof v === 'string') d = v;
    }
    out.push(d);
  }
  return out;
}

function matmulShape(a: Dim[], b: Dim[], node: NodeProto): Dim[] {
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)], node);
  const out = [...batch, a2[a2.length - 2], b2[b2.length - 1]];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (b.length === 1) out.pop();
  return out;
}

function reshape(d: Dim[], target: Dim[], allowZero: boolean, node: NodeProto): Dim[] {
  const out: Dim[] = target.map((t, i) => (t === 0 && !allowZero ? (d[i] ?? UNKNOWN) : t));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    const total = prodDims(d);
    const known = prodDims(out.filter((_, i) => i !== minus));
    out[minus] = known === 0 ? UNKNOWN : exactDiv(total, known);
    if (typeof out[minus] === 'number' && !Number.isInteger(out[minus])) {
      throw new PruneLensError('shape', `cannot reshape [${d.join(',')}] to [${target.join(',')}]`, { node: node.name });
    }
  }
  return out.map((v) => (typeof v === 'number' && v < 0 ? UNKNOWN : v));
}

/** An axis in [-rank, rank) as an index; anything else is a broken model, not a huge array index. */
function normAxis(a: number, rank: number): number {
  if (!Number.isInteger(a) || a < -rank || a >= rank) {
    throw new PruneLensError('shape', `axis ${a} is out of range for rank ${rank}`);
  }
  return a < 0 ? a + rank : a;
}

function clampAxis(a: number, rank: number): number {
  const v = a < 0 ? a + rank : a;
  return Math.max(0, Math.min(rank, v));
}

export function sliceLength(len: number, start: number, end: number, step: number): number {
  if (step === 0) throw new PruneLensError('shape', 'Slice step 0');
  const norm = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v < 0 ? v + len : v));
  if (step > 0) {
    const s = norm(start, 0, len);
    const e = norm(end, 0, len);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  const s = norm(start, -1, len - 1);
  const e = norm(end, -1, len - 1);
  return Math.max(0, Math.ceil((s - e) / -step));
}

/** Beyond this an end means "to the end of the axis" (exporters use INT64_MAX or INT32_MAX). */
const OPEN_END = 2 ** 31 - 1;

/**
 * A slice of a dim: exact for numbers; for a symbolic size only the whole
 * axis, the one form that holds for every size (`0:1` of `N` is 0 when N is).
 */
function sliceDim(len: Dim, start: number, end: number, step: number): Dim {
  if (typeof len === 'number') return sliceLength(len, start, end, step);
  if (step === 1 && start >= 0 && end >= OPEN_END) return start === 0 ? len : UNKNOWN;
  return UNKNOWN;
}

function sliceIndices(len: number, start: number, end: number, step: number): number[] {
  const out: number[] = [];
  if (step === 0) return out;
  if (step > 0) {
    const clamp = (x: number) => Math.max(0, Math.min(len, x < 0 ? x + len : x));
    for (let i = clamp(start); i < clamp(end); i += step) out.push(i);
  } else {
    const clamp = (x: number) => Math.max(-1, Math.min(len - 1, x < 0 ? x + len : x));
    for (let i = clamp(start); i > clamp(end); i += step) out.push(i);
  }
  return out;
}

/** Evaluates small elementwise computations on folded values (shape arithmetic, masks). */
function foldElementwise(op: string, node: NodeProto, ctx: Ctx, outType: number): void {
  const ins = node.input.map((n) => (n ? ctx.dimValues.get(n) : undefined));
  if (ins.some((v) => !v) || !ins.length) return;
  const n = Math.max(...ins.map((v) => v!.length));
  if (ins.some((v) => v!.length !== 1 && v!.length !== n)) return;
  const at = (k: number, i: number) => ins[k]![ins[k]!.length === 1 ? 0 : i];
  const float = FLOATS.has(outType);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const a = at(0, i);
    const b = ins.length > 1 ? at(1, i) : a;
    out.push(foldOne(op, a, b, float, ins.length > 2 ? at(2, i) : undefined));
  }
  if (out.some((v) => v === undefined)) return;
  // Keep origins through ops that pass a dim on unchanged: Where with a folded condition picks one side per entry.
  let origins: (DimOrigin | undefined)[] | undefined;
  if (op === 'Where') {
    const [bo, co] = [ctx.origins.get(node.input[1]), ctx.origins.get(node.input[2])];
    const pick = (o: (DimOrigin | undefined)[] | undefined, k: number, i: number) => o?.[ins[k]!.length === 1 ? 0 : i];
    origins = out.map((_, i) => (at(0, i) ? pick(bo, 1, i) : pick(co, 2, i)));
  }
  setValue(ctx, node.output[0], out as Dim[], origins);
}

function foldOne(op: string, a: Dim, b: Dim, float: boolean, c?: Dim): Dim {
  const both = typeof a === 'number' && typeof b === 'number';
  switch (op) {
    case 'Add': return addDims(a, b);
    case 'Sub': return subDims(a, b);
    case 'Mul': return mulDims(a, b);
    case 'Div':
      if (both) return float ? (a as number) / (b as number) : b === 0 ? UNKNOWN : Math.trunc((a as number) / (b as number));
      if (float) return exactDiv(a, b);
      return typeof b === 'number' && b > 0 ? floorDiv(a, b) : exactDiv(a, b);
    case 'Mod': return both && b !== 0 ? (a as number) % (b as number) : UNKNOWN;
    case 'Max': return both ? Math.max(a as number, b as number) : UNKNOWN;
    case 'Min': return both ? Math.min(a as number, b as number) : UNKNOWN;
    case 'Equal':
      if (a === b && isKnown(a)) return 1;
      if (both) return 0;
      // A symbolic size is never negative.
      if ((typeof a === 'number' && a < 0 && isKnown(b)) || (typeof b === 'number' && b < 0 && isKnown(a))) return 0;
      return UNKNOWN;
    case 'Where':
      if (typeof a !== 'number' || c === undefined) return UNKNOWN;
      return a ? b : c;
    default: return UNKNOWN;
  }
}
