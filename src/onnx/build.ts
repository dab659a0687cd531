// Constructors for new messages, with every repeated field present, so code
// that creates tensors, nodes and whole models (tests, pruning) stays short.

import type {
  AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto,
} from './schema';
import { AttributeType } from './schema';
import { DataType, floatsToBytes } from './tensor';

/** Per graph, every name in use, so passes that add values (pruning, recovery) never repeat one another's. */
const namesInUse = new WeakMap<GraphProto, Set<string>>();

/**
 * A value name not yet used in `graph`: `base`, else `base_1`, `base_2`, …,
 * and from now on taken. The names in use are read from the graph once (its
 * initializers, node outputs and inputs); every later name a pass adds to the
 * graph must come from here, so that they stay unique across passes.
 */
export function uniqueName(graph: GraphProto, base: string): string {
  let names = namesInUse.get(graph);
  if (!names) {
    names = new Set<string>();
    for (const t of graph.initializer) if (t.name) names.add(t.name);
    for (const n of graph.node) for (const o of n.output) names.add(o);
    for (const v of graph.input) if (v.name) names.add(v.name);
    namesInUse.set(graph, names);
  }
  let name = base;
  for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
  names.add(name);
  return name;
}

export function newTensor(name: string, dataType: number, dims: number[], raw: Uint8Array): TensorProto {
  return {
    name, data_type: dataType, dims: dims.slice(), raw_data: raw,
    float_data: [], int32_data: [], string_data: [], int64_data: [], external_data: [], double_data: [],
    uint64_data: [], metadata_props: [],
  };
}

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  return newTensor(name, DataType.FLOAT, dims, floatsToBytes(Float32Array.from(values), DataType.FLOAT));
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return newTensor(name, DataType.INT64, dims, bytes);
}

export type AttrValue = number | number[] | string | TensorProto | { floats: number[] } | { float: number };

export function newAttribute(name: string, value: AttrValue): AttributeProto {
  const a: AttributeProto = {
    name, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [],
  };
  if (typeof value === 'number') Object.assign(a, { type: AttributeType.INT, i: value });
  else if (Array.isArray(value)) Object.assign(a, { type: AttributeType.INTS, ints: value.slice() });
  else if (typeof value === 'string') Object.assign(a, { type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  else if ('floats' in value) Object.assign(a, { type: AttributeType.FLOATS, floats: value.floats.slice() });
  else if ('float' in value) Object.assign(a, { type: AttributeType.FLOAT, f: value.float });
  else Object.assign(a, { type: AttributeType.TENSOR, t: value });
  return a;
}

export function newNode(opType: string, inputs: string[], outputs: string[], name?: string,
  attrs: Record<string, AttrValue> = {}): NodeProto {
  return {
    op_type: opType, input: inputs.slice(), output: outputs.slice(), name: name ?? outputs[0],
    attribute: Object.entries(attrs).map(([k, v]) => newAttribute(k, v)), metadata_props: [],
  };
}

export function tensorType(elemType: number, dims: (number | string | undefined)[]): TypeProto {
  return {
    tensor_type: {
      elem_type: elemType,
      shape: {
        dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : d === undefined ? {} : { dim_param: d })),
      },
    },
  };
}

export function newValueInfo(name: string, elemType: number, dims: (number | string | undefined)[]): ValueInfoProto {
  return { name, type: tensorType(elemType, dims), metadata_props: [] };
}

export function newGraph(name: string, nodes: NodeProto[], inputs: ValueInfoProto[], outputs: ValueInfoProto[],
  initializers: TensorProto[] = []): GraphProto {
  return {
    name, node: nodes, initializer: initializers, sparse_initializer: [], input: inputs, output: outputs,
    value_info: [], quantization_annotation: [], metadata_props: [],
  };
}

export function newModel(graph: GraphProto, opset = 13, irVersion = 7): ModelProto {
  return {
    ir_version: irVersion, producer_name: 'prune-lens', graph,
    opset_import: [{ domain: '', version: opset }], metadata_props: [], training_info: [], functions: [],
  };
}
