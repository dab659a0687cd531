// PREVIEW FIXTURE ONLY. A throwaway protobuf scan that turns a small ONNX file
// into the LayerTable shape, so the webview preview (and the threshold test)
// can use the real models' weights and gammas before the product's analysis
// (src/analysis) exists. It handles what the digits models contain (Conv, Gemm,
// MatMul, BatchNorm, pools, float32 initializers in raw_data or float_data) and
// nothing more: the product must never import it.

import { readFileSync, statSync } from 'node:fs';
import type { ChannelNorms, LayerInfo, LayerKind, LayerTable } from '../../src/analysis/types';

type Fields = Map<number, (number | Uint8Array)[]>;

/** Field number → values (varints as numbers, length-delimited as bytes); fixed32/64 are skipped. */
function scan(buf: Uint8Array): Fields {
  const fields: Fields = new Map();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 1;
    for (;;) {
      const byte = buf[pos++];
      result += (byte & 0x7f) * shift;
      if (byte < 0x80) return result;
      shift *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let value: number | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint();
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 5) {
      value = new DataView(buf.buffer, buf.byteOffset + pos, 4).getFloat32(0, true);
      pos += 4;
    } else if (wire === 1) {
      pos += 8;
      continue;
    } else throw new Error(`onnx-scan: unsupported wire type ${wire} at byte ${pos}`);
    const list = fields.get(field) ?? [];
    list.push(value);
    fields.set(field, list);
  }
  return fields;
}

const text = (v: number | Uint8Array | undefined) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '');
const bytes = (f: Fields, n: number) => (f.get(n) ?? []).filter((v): v is Uint8Array => v instanceof Uint8Array);

/** Repeated int64: packed (bytes) or one varint per entry. */
function ints(f: Fields, n: number): number[] {
  const out: number[] = [];
  for (const v of f.get(n) ?? []) {
    if (typeof v === 'number') out.push(v);
    else for (const x of scan(prefixPacked(v)).get(1) ?? []) out.push(x as number);
  }
  // Negative int64 varints come back as 2^64 - x.
  return out.map((x) => (x > 2 ** 63 ? x - 2 ** 64 : x));
}

/** Re-frames a packed varint run as repeated field 1 so `scan` can decode it. */
function prefixPacked(packed: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < packed.length; ) {
    out.push(0x08);
    do out.push(packed[i]);
    while (packed[i++] >= 0x80 && i < packed.length);
  }
  return Uint8Array.from(out);
}

interface Tensor {
  dims: number[];
  data: Float32Array;
}

interface Node {
  name: string;
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, number[]>;
}

function readTensor(buf: Uint8Array): { name: string; tensor: Tensor } {
  const f = scan(buf);
  const dims = ints(f, 1);
  const type = (f.get(2)?.[0] as number) ?? 0;
  if (type !== 1) return { name: text(f.get(8)?.[0]), tensor: { dims, data: new Float32Array(0) } };
  const raw = bytes(f, 9)[0];
  let data: Float32Array;
  if (raw) data = new Float32Array(raw.slice().buffer);
  else {
    const packed = bytes(f, 4)[0];
    data = packed ? new Float32Array(packed.slice().buffer) : Float32Array.from((f.get(4) ?? []) as number[]);
  }
  return { name: text(f.get(8)?.[0]), tensor: { dims, data } };
}

function readNode(buf: Uint8Array): Node {
  const f = scan(buf);
  const attrs = new Map<string, number[]>();
  for (const a of bytes(f, 5)) {
    const af = scan(a);
    const name = text(af.get(1)?.[0]);
    const values = [...ints(af, 3), ...ints(af, 8)];
    attrs.set(name, values);
  }
  return { name: text(f.get(3)?.[0]), op: text(f.get(4)?.[0]), inputs: bytes(f, 1).map(text), outputs: bytes(f, 2).map(text), attrs };
}

function readValueInfo(buf: Uint8Array) {
  const f = scan(buf);
  const tensorType = scan(bytes(scan(bytes(f, 2)[0] ?? new Uint8Array()), 1)[0] ?? new Uint8Array());
  const elem = (tensorType.get(1)?.[0] as number) ?? 0;
  const shapeProto = scan(bytes(tensorType, 2)[0] ?? new Uint8Array());
  const shape = bytes(shapeProto, 1).map((d) => {
    const df = scan(d);
    return df.has(1) ? (df.get(1)![0] as number) : text(df.get(2)?.[0]);
  });
  const dtypes: Record<number, string> = { 1: 'float32', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64' };
  return { name: text(f.get(1)?.[0]), shape, dtype: dtypes[elem] ?? `type ${elem}` };
}

function norms(w: Float32Array, rows: number, index: (row: number, j: number) => number, count: number): ChannelNorms {
  const l1: number[] = [];
  const l2: number[] = [];
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < count; j++) {
      const v = w[index(r, j)];
      a += Math.abs(v);
      b += v * v;
    }
    l1.push(a);
    l2.push(Math.sqrt(b));
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  const m1 = mean(l1);
  const m2 = mean(l2);
  return { l1, l2, l1Normalized: l1.map((x) => x / m1), l2Normalized: l2.map((x) => x / m2) };
}

/** The LayerTable of a small float32 ONNX model, from its own bytes. */
export function scanLayerTable(path: string): LayerTable {
  // A plain Uint8Array, not a Buffer: Buffer.slice would not copy, and Float32Array needs aligned copies.
  const model = scan(new Uint8Array(readFileSync(path)));
  const graph = scan(bytes(model, 7)[0]);
  const opset = Math.max(...bytes(model, 8).map((o) => (scan(o).get(2)?.[0] as number) ?? 0));
  const producer = [text(model.get(2)?.[0]), text(model.get(3)?.[0])].filter(Boolean).join(' ');
  const init = new Map<string, Tensor>();
  let modelParams = 0;
  for (const t of bytes(graph, 5)) {
    const { name, tensor } = readTensor(t);
    init.set(name, tensor);
    modelParams += tensor.data.length;
  }
  const nodes = bytes(graph, 1).map(readNode);
  // Identity of an initializer is an alias of it.
  for (const n of nodes) if (n.op === 'Identity' && init.has(n.inputs[0])) init.set(n.outputs[0], init.get(n.inputs[0])!);
  const inputs = bytes(graph, 11).map(readValueInfo).filter((v) => !init.has(v.name));
  const outputs = bytes(graph, 12).map(readValueInfo);

  // Spatial size of each activation, for MACs: enough for convs, pools and elementwise ops.
  const spatial = new Map<string, number[]>();
  for (const i of inputs) spatial.set(i.name, i.shape.slice(2).map(Number));
  const layers: LayerInfo[] = [];
  nodes.forEach((node, index) => {
    const inHW = spatial.get(node.inputs[0]) ?? [];
    let outHW = inHW;
    if (node.op === 'Conv' || node.op === 'MaxPool' || node.op === 'AveragePool') {
      const w = init.get(node.inputs[1]);
      const kernel = node.attrs.get('kernel_shape') ?? w?.dims.slice(2) ?? [];
      const strides = node.attrs.get('strides') ?? kernel.map(() => 1);
      const pads = node.attrs.get('pads') ?? [...kernel, ...kernel].map(() => 0);
      const dil = node.attrs.get('dilations') ?? kernel.map(() => 1);
      outHW = inHW.map((n, d) => Math.floor((n + pads[d] + pads[d + kernel.length] - dil[d] * (kernel[d] - 1) - 1) / strides[d]) + 1);
    } else if (node.op === 'GlobalAveragePool') outHW = inHW.map(() => 1);
    else if (node.op === 'Flatten' || node.op === 'Gemm' || node.op === 'MatMul') outHW = [];
    for (const o of node.outputs) spatial.set(o, outHW);

    const weight = init.get(node.inputs[1]);
    if (!weight || !['Conv', 'Gemm', 'MatMul'].includes(node.op)) return;
    const w = weight.data;
    const dims = weight.dims;
    const bias = node.op === 'Conv' || node.op === 'Gemm' ? init.get(node.inputs[2] ?? '') : undefined;
    let out: ChannelNorms;
    let inn: ChannelNorms;
    let outC: number;
    let inC: number;
    let macs: number;
    const groups = node.attrs.get('group')?.[0] ?? 1;
    if (node.op === 'Conv') {
      const [o, ig] = dims;
      const k = dims.slice(2).reduce((a, b) => a * b, 1);
      outC = o;
      inC = ig * groups;
      out = norms(w, o, (r, j) => r * ig * k + j, ig * k);
      inn = norms(w, ig, (r, j) => Math.floor(j / k) * ig * k + r * k + (j % k), o * k);
      macs = o * ig * k * outHW.reduce((a, b) => a * b, 1);
    } else {
      const transB = node.op === 'Gemm' && (node.attrs.get('transB')?.[0] ?? 0) === 1;
      const [a, b] = dims;
      outC = transB ? a : b;
      inC = transB ? b : a;
      out = transB ? norms(w, a, (r, j) => r * b + j, b) : norms(w, b, (r, j) => j * b + r, a);
      inn = transB ? norms(w, b, (r, j) => j * b + r, a) : norms(w, a, (r, j) => r * b + j, b);
      macs = a * b;
    }
    const bn = nodes.find((n) => n.op === 'BatchNormalization' && n.inputs[0] === node.outputs[0]);
    const gamma = bn ? init.get(bn.inputs[1]) : undefined;
    let zeros = 0;
    for (const v of w) if (v === 0) zeros++;
    const name = node.name || `${node.op}_${index}`;
    layers.push({
      name,
      displayName: node.inputs[1].endsWith('.weight') ? node.inputs[1].slice(0, -'.weight'.length) : name,
      op: node.op as LayerKind,
      weightName: node.inputs[1],
      biasName: bias ? node.inputs[2] : undefined,
      weightShape: dims,
      inChannels: inC,
      outChannels: outC,
      groups,
      out,
      in: inn,
      batchNorm: bn && gamma ? { node: bn.name, scaleName: bn.inputs[1], gamma: Array.from(gamma.data) } : undefined,
      params: w.length + (bias?.data.length ?? 0),
      macs,
      zeros,
      sparsity: zeros / w.length,
    });
  });
  const zeros = layers.reduce((s, l) => s + l.zeros, 0);
  const weights = layers.reduce((s, l) => s + l.weightShape.reduce((a, b) => a * b, 1), 0);
  return {
    file: path,
    producer,
    opset,
    inputs,
    outputs,
    layers,
    totals: { params: modelParams, macs: layers.reduce((s, l) => s + l.macs, 0), zeros, sparsity: zeros / weights, bytes: statSync(path).size },
  };
}
