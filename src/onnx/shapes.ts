// Shape inference for the ops pruning and analysis need. Dims are numbers, or
// strings for symbolic sizes (`N`, `batch`), which are carried, not failed on.
// Small integer tensors (shape computations: Shape → Gather → Concat → Reshape)
// are folded along the way so Reshape and Slice see real numbers.

import { attr, attrInt, attrInts, attrString } from './attributes';
import { PruneLensError } from './errors';
import { GraphIndex } from './graph';
import type { OnnxModel } from './model';
import { opBehaviour } from './ops';
import type { NodeProto, ValueInfoProto } from './schema';
import { DataType, tensorDims, tensorInts, toNumber } from './tensor';

export type Dim = number | string;

export interface ValueShape {
  elemType: number;
  /** undefined when even the rank is unknown. */
  dims?: Dim[];
}

export interface ShapeInfo {
  shapes: Map<string, ValueShape>;
  /** Folded values of small integer tensors. */
  values: Map<string, number[]>;
}

const MAX_FOLD = 64;

export function valueInfoShape(v: ValueInfoProto): ValueShape | undefined {
  const tt = v.type?.tensor_type;
  if (!tt) return undefined;
  const dims = tt.shape ? tt.shape.dim.map((d): Dim => (d.dim_value !== undefined ? toNumber(d.dim_value) : d.dim_param || '?')) : undefined;
  return { elemType: tt.elem_type ?? 0, dims };
}

export function inferShapes(model: OnnxModel, index = new GraphIndex(model.graph)): ShapeInfo {
  const shapes = new Map<string, ValueShape>();
  const values = new Map<string, number[]>();
  const g = model.graph;
  for (const v of g.input) {
    const s = valueInfoShape(v);
    if (v.name && s) shapes.set(v.name, s);
  }
  for (const t of g.initializer) {
    if (!t.name) continue;
    const dims = tensorDims(t);
    shapes.set(t.name, { elemType: t.data_type ?? 0, dims });
    foldConstant(t.name, t.data_type, dims, () => tensorInts(t, model.external), values);
  }
  // value_info from the file: used where our rules have nothing to say.
  const declared = new Map<string, ValueShape>();
  for (const v of [...g.value_info, ...g.output]) {
    const s = valueInfoShape(v);
    if (v.name && s) declared.set(v.name, s);
  }
  const ctx: Ctx = { shapes, values, model };
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
      const s = outs[i] ?? declared.get(o);
      if (s) shapes.set(o, s);
    });
  }
  return { shapes, values };
}

interface Ctx {
  shapes: Map<string, ValueShape>;
  values: Map<string, number[]>;
  model: OnnxModel;
}

function foldConstant(name: string, dt: number | undefined, dims: number[], read: () => number[], values: Map<string, number[]>) {
  const n = dims.reduce((a, b) => a * b, 1);
  if ((dt === DataType.INT64 || dt === DataType.INT32) && n <= MAX_FOLD) values.set(name, read());
}

function inferNode(node: NodeProto, ctx: Ctx): (ValueShape | undefined)[] {
  const op = node.op_type ?? '';
  const kind = opBehaviour(op, node.domain ?? '').shape;
  if (!kind) return [];
  const inS = (i: number) => (node.input[i] ? ctx.shapes.get(node.input[i]) : undefined);
  const inV = (i: number) => (node.input[i] ? ctx.values.get(node.input[i]) : undefined);
  const x = inS(0);
  const et = x?.elemType ?? DataType.FLOAT;
  const same = (dims?: Dim[]) => [{ elemType: et, dims }];
  const opset = ctx.model.opset();

  if (kind === 'constant') {
    const t = attr(node, 'value')?.t;
    const vi = attr(node, 'value_ints');
    const v1 = attr(node, 'value_int');
    if (t) {
      const dims = tensorDims(t);
      foldConstant(node.output[0], t.data_type, dims, () => tensorInts(t, ctx.model.external), ctx.values);
      return [{ elemType: t.data_type ?? 0, dims }];
    }
    if (vi) { ctx.values.set(node.output[0], vi.ints.map(toNumber)); return [{ elemType: DataType.INT64, dims: [vi.ints.length] }]; }
    if (v1) { ctx.values.set(node.output[0], [toNumber(v1.i ?? 0)]); return [{ elemType: DataType.INT64, dims: [] }]; }
    return [];
  }
  if (kind === 'unary') return same(x?.dims);
  if (kind === 'dropout') return [x, x && { elemType: DataType.BOOL, dims: x.dims }];
  if (kind === 'cast') {
    const v = inV(0);
    if (v) ctx.values.set(node.output[0], v);
    return [{ elemType: attrInt(node, 'to', 1), dims: x?.dims }];
  }
  if (kind === 'broadcast') {
    const ins = node.input.map((_, i) => inS(i));
    if (ins.some((s) => !s?.dims)) return [{ elemType: op === 'Where' ? (inS(1)?.elemType ?? et) : et, dims: undefined }];
    const dims = broadcast(ins.map((s) => s!.dims!), node);
    foldArith(op, node, ctx);
    const boolOut = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'].includes(op);
    return [{ elemType: boolOut ? DataType.BOOL : op === 'Where' ? (inS(1)?.elemType ?? et) : et, dims }];
  }
  if (!x?.dims && kind !== 'shape') return [];
  const d = x?.dims ?? [];
  switch (kind) {
    case 'conv': {
      const w = inS(1)?.dims;
      if (!w) return [];
      const k = attrInts(node, 'kernel_shape') ?? w.slice(2).map(num);
      return same([d[0], w[0], ...spatial(node, d.slice(2), k, false)]);
    }
    case 'convTranspose': {
      const w = inS(1)?.dims;
      if (!w) return [];
      const group = attrInt(node, 'group', 1);
      const k = attrInts(node, 'kernel_shape') ?? w.slice(2).map(num);
      const outShape = attrInts(node, 'output_shape');
      const s = attrInts(node, 'strides') ?? k.map(() => 1);
      const dil = attrInts(node, 'dilations') ?? k.map(() => 1);
      const pads = attrInts(node, 'pads') ?? k.map(() => 0).concat(k.map(() => 0));
      const op_ = attrInts(node, 'output_padding') ?? k.map(() => 0);
      const sp = outShape ?? d.slice(2).map((v, i) =>
        typeof v === 'number' ? s[i] * (v - 1) + op_[i] + (k[i] - 1) * dil[i] + 1 - pads[i] - pads[i + k.length] : v);
      return same([d[0], mulDim(w[1], group), ...sp]);
    }
    case 'gemm': {
      const a = d;
      const b = inS(1)?.dims;
      if (!b || a.length !== 2 || b.length !== 2) return [];
      const m = attrInt(node, 'transA', 0) ? a[1] : a[0];
      const n = attrInt(node, 'transB', 0) ? b[0] : b[1];
      return same([m, n]);
    }
    case 'matMul': {
      const b = inS(1)?.dims;
      if (!b) return [];
      return same(matmulShape(d, b, node));
    }
    case 'flatten': {
      let axis = attrInt(node, 'axis', 1);
      if (axis < 0) axis += d.length;
      return same([prodDims(d.slice(0, axis)), prodDims(d.slice(axis))]);
    }
    case 'reshape': {
      const target = inV(1) ?? attrInts(node, 'shape');
      if (!target) return same(undefined);
      return same(reshape(d, target, attrInt(node, 'allowzero', 0) === 1, node));
    }
    case 'transpose': {
      const perm = attrInts(node, 'perm') ?? d.map((_, i) => d.length - 1 - i);
      return same(perm.map((p) => d[p]));
    }
    case 'concat': {
      const axis = normAxis(attrInt(node, 'axis', 0), d.length);
      const ins = node.input.map((_, i) => inS(i)?.dims);
      if (ins.some((s) => !s)) return same(undefined);
      const out = d.slice();
      out[axis] = ins.reduce<Dim>((acc, s) => addDim(acc, s![axis]), 0);
      const vals = node.input.map((_, i) => inV(i));
      if (vals.every((v) => v)) ctx.values.set(node.output[0], vals.flat() as number[]);
      return same(out);
    }
    case 'split': {
      const axis = normAxis(attrInt(node, 'axis', 0), d.length);
      const n = node.output.length;
      const sizes = (opset >= 13 ? inV(1) : attrInts(node, 'split')) ?? attrInts(node, 'split');
      const len = d[axis];
      return node.output.map((_, i) => {
        const out = d.slice();
        if (sizes) out[axis] = sizes[i];
        else if (typeof len === 'number') {
          const chunk = Math.ceil(len / n);
          out[axis] = Math.max(0, Math.min(chunk, len - chunk * i));
        } else out[axis] = `${len}/${n}`;
        return { elemType: et, dims: out };
      });
    }
    case 'slice': {
      const starts = opset >= 10 ? inV(1) : attrInts(node, 'starts');
      const ends = opset >= 10 ? inV(2) : attrInts(node, 'ends');
      if (!starts || !ends) return same(d.map(() => '?'));
      const axes = (opset >= 10 ? inV(3) : attrInts(node, 'axes')) ?? starts.map((_, i) => i);
      const steps = (opset >= 10 ? inV(4) : undefined) ?? starts.map(() => 1);
      const out = d.slice();
      const src = inV(0);
      axes.forEach((a0, i) => {
        const a = normAxis(a0, d.length);
        const len = d[a];
        if (typeof len !== 'number') { out[a] = '?'; return; }
        out[a] = sliceLength(len, starts[i], ends[i], steps[i]);
        if (src && d.length === 1) ctx.values.set(node.output[0], sliceValues(src, starts[i], ends[i], steps[i]));
      });
      return same(out);
    }
    case 'squeeze': {
      const axes = (opset >= 13 ? inV(1) : attrInts(node, 'axes'))?.map((a) => normAxis(a, d.length));
      const out = d.filter((v, i) => (axes ? !axes.includes(i) : v !== 1));
      const v = inV(0);
      if (v) ctx.values.set(node.output[0], v);
      return same(out);
    }
    case 'unsqueeze': {
      const axes = opset >= 13 ? inV(1) : attrInts(node, 'axes');
      if (!axes) return same(undefined);
      const rank = d.length + axes.length;
      const norm = axes.map((a) => normAxis(a, rank)).sort((a, b) => a - b);
      const out = d.slice();
      for (const a of norm) out.splice(a, 0, 1);
      const v = inV(0);
      if (v) ctx.values.set(node.output[0], v);
      return same(out);
    }
    case 'shape': {
      if (!x?.dims) return [{ elemType: DataType.INT64, dims: ['?'] }];
      let start = attrInt(node, 'start', 0);
      let end = attrInt(node, 'end', d.length);
      start = clampAxis(start, d.length);
      end = clampAxis(end, d.length);
      const part = d.slice(start, end);
      if (part.every((v) => typeof v === 'number')) ctx.values.set(node.output[0], part as number[]);
      return [{ elemType: DataType.INT64, dims: [part.length] }];
    }
    case 'gather': {
      const idx = inS(1)?.dims;
      if (!idx) return same(undefined);
      const axis = normAxis(attrInt(node, 'axis', 0), d.length);
      const v = inV(0);
      const iv = inV(1);
      if (v && iv && d.length === 1) ctx.values.set(node.output[0], iv.map((i) => v[i < 0 ? i + v.length : i]));
      return same([...d.slice(0, axis), ...idx, ...d.slice(axis + 1)]);
    }
    case 'resize': {
      const sizes = op === 'Resize' ? inV(3) : undefined;
      if (sizes) return same(sizes);
      // Resize-10 takes (X, scales); roi came before scales at opset 11.
      const scalesInput = op === 'Resize' && opset >= 11 ? 2 : 1;
      const scales = op === 'Upsample' && opset < 9 ? attr(node, 'scales')?.floats : floatValues(node.input[scalesInput], ctx);
      if (!scales || scales.length !== d.length) return same(d.map((v, i) => (i < 2 ? v : '?')));
      return same(d.map((v, i) => (typeof v === 'number' ? Math.floor(v * scales[i]) : v)));
    }
    case 'pad': {
      const pads = opset >= 11 ? inV(1) : attrInts(node, 'pads');
      if (!pads) return same(d.map(() => '?'));
      return same(d.map((v, i) => (typeof v === 'number' ? v + pads[i] + pads[i + d.length] : v)));
    }
    case 'expand': {
      const shape = inV(1);
      if (!shape) return same(undefined);
      return same(broadcast([d, shape], node));
    }
    case 'constantOfShape': {
      const shape = inV(0);
      const t = attr(node, 'value')?.t;
      return [{ elemType: t?.data_type ?? DataType.FLOAT, dims: shape }];
    }
  }
  if (kind === 'pool') {
    const k = attrInts(node, 'kernel_shape') ?? [];
    const outs: ValueShape[] = [{ elemType: et, dims: [d[0], d[1], ...spatial(node, d.slice(2), k, attrInt(node, 'ceil_mode', 0) === 1)] }];
    if (node.output.length > 1) outs.push({ elemType: DataType.INT64, dims: outs[0].dims });
    return outs;
  }
  if (kind === 'globalPool') return same([d[0], d[1], ...d.slice(2).map(() => 1)]);
  if (kind === 'reduce') {
    const keep = attrInt(node, 'keepdims', 1) === 1;
    const isArg = op.startsWith('Arg');
    const axesRaw = isArg ? [attrInt(node, 'axis', 0)] : (opset >= 18 || op === 'ReduceSum' && opset >= 13 ? inV(1) : attrInts(node, 'axes'));
    const axes = (axesRaw ?? d.map((_, i) => i)).map((a) => normAxis(a, d.length));
    const out = keep ? d.map((v, i) => (axes.includes(i) ? 1 : v)) : d.filter((_, i) => !axes.includes(i));
    return [{ elemType: isArg ? DataType.INT64 : et, dims: out }];
  }
  return [];
}

function num(d: Dim): number {
  return typeof d === 'number' ? d : NaN;
}

/** Output spatial sizes of Conv and the pools (explicit pads or auto_pad). */
function spatial(node: NodeProto, inDims: Dim[], k: number[], ceil: boolean): Dim[] {
  const n = inDims.length;
  const s = attrInts(node, 'strides') ?? inDims.map(() => 1);
  const dil = attrInts(node, 'dilations') ?? inDims.map(() => 1);
  const pads = attrInts(node, 'pads') ?? new Array(2 * n).fill(0);
  const auto = attrString(node, 'auto_pad', 'NOTSET');
  return inDims.map((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(k[i])) return '?';
    const eff = (k[i] - 1) * (dil[i] ?? 1) + 1;
    const st = s[i] ?? 1;
    if (st <= 0) throw new PruneLensError('shape', `stride ${st} is not positive`);
    if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') return Math.ceil(v / st);
    if (auto === 'VALID') return Math.ceil((v - eff + 1) / st);
    const total = v + pads[i] + pads[i + n] - eff;
    const out = (ceil ? Math.ceil(total / st) : Math.floor(total / st)) + 1;
    if (out <= 0) throw new PruneLensError('shape', `a ${k.join('x')} window does not fit a spatial size of ${v}`);
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

function reshape(d: Dim[], target: number[], allowZero: boolean, node: NodeProto): Dim[] {
  const out: Dim[] = target.map((t, i) => (t === 0 && !allowZero ? d[i] : t));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    const total = prodDims(d);
    const known = prodDims(out.filter((_, i) => i !== minus));
    out[minus] = typeof total === 'number' && typeof known === 'number' && known > 0 ? total / known : '?';
    if (typeof out[minus] === 'number' && !Number.isInteger(out[minus])) {
      throw new PruneLensError('shape', `cannot reshape [${d.join(',')}] to [${target.join(',')}]`, { node: node.name });
    }
  }
  return out;
}

export function prodDims(d: Dim[]): Dim {
  let p = 1;
  for (const v of d) {
    if (typeof v !== 'number') return d.length === 1 ? v : '?';
    p *= v;
  }
  return p;
}

function addDim(a: Dim, b: Dim): Dim {
  return typeof a === 'number' && typeof b === 'number' ? a + b : '?';
}

function mulDim(a: Dim, k: number): Dim {
  return typeof a === 'number' ? a * k : '?';
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

function sliceValues(v: number[], start: number, end: number, step: number): number[] {
  const len = v.length;
  const out: number[] = [];
  const clamp = (x: number) => Math.max(0, Math.min(len, x < 0 ? x + len : x));
  if (step > 0) for (let i = clamp(start); i < clamp(end); i += step) out.push(v[i]);
  return out;
}

function floatValues(name: string | undefined, ctx: Ctx): number[] | undefined {
  if (!name) return undefined;
  const folded = ctx.values.get(name);
  if (folded) return folded;
  const t = ctx.model.graph.initializer.find((i) => i.name === name)
    ?? ctx.model.graph.node.find((n) => n.op_type === 'Constant' && n.output[0] === name)?.attribute.find((a) => a.name === 'value')?.t;
  if (!t || t.data_type !== DataType.FLOAT) return undefined;
  const dims = tensorDims(t);
  if (dims.reduce((a, b) => a * b, 1) > MAX_FOLD) return undefined;
  return tensorInts(t, ctx.model.external);
}

function foldArith(op: string, node: NodeProto, ctx: Ctx): void {
  const a = ctx.values.get(node.input[0]);
  const b = ctx.values.get(node.input[1]);
  if (!a || !b || !['Add', 'Sub', 'Mul', 'Div'].includes(op)) return;
  const n = Math.max(a.length, b.length);
  if ((a.length !== 1 && a.length !== n) || (b.length !== 1 && b.length !== n)) return;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length === 1 ? 0 : i];
    const y = b[b.length === 1 ? 0 : i];
    out.push(op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : Math.trunc(x / y));
  }
  ctx.values.set(node.output[0], out);
}
