// The ONNX messages (onnx.proto, IR version 10), as field tables that drive the
// generic codec, and as TypeScript types for the rest of the core. Field
// numbers come from onnx/onnx.proto. Fields the tables do not name are kept as
// unknown bytes and written back untouched.

import type { Int64 } from './wire';

export type ScalarType = 'int64' | 'uint64' | 'int32' | 'float' | 'double' | 'string' | 'bytes';

export interface FieldDesc {
  no: number;
  name: string;
  /** A scalar type, or the name of a message in SCHEMA. */
  type: ScalarType | MessageName;
  repeated?: boolean;
  /** Encoding used when re-encoding a repeated scalar (both are accepted on read). */
  packed?: boolean;
}

export interface MessageDesc {
  name: MessageName;
  fields: FieldDesc[];
  byNo: Map<number, FieldDesc>;
}

export type MessageName =
  | 'ModelProto' | 'OperatorSetIdProto' | 'StringStringEntryProto' | 'GraphProto' | 'NodeProto'
  | 'AttributeProto' | 'ValueInfoProto' | 'TypeProto' | 'TypeProtoTensor' | 'TypeProtoSequence'
  | 'TypeProtoMap' | 'TypeProtoOptional' | 'TypeProtoSparseTensor' | 'TensorShapeProto' | 'Dimension'
  | 'TensorProto' | 'Segment' | 'SparseTensorProto' | 'TensorAnnotation' | 'TrainingInfoProto'
  | 'FunctionProto';

type F = [no: number, name: string, type: FieldDesc['type'], flags?: 'r' | 'rp'];

const TABLES: Record<MessageName, F[]> = {
  ModelProto: [
    [1, 'ir_version', 'int64'], [8, 'opset_import', 'OperatorSetIdProto', 'r'],
    [2, 'producer_name', 'string'], [3, 'producer_version', 'string'], [4, 'domain', 'string'],
    [5, 'model_version', 'int64'], [6, 'doc_string', 'string'], [7, 'graph', 'GraphProto'],
    [14, 'metadata_props', 'StringStringEntryProto', 'r'], [20, 'training_info', 'TrainingInfoProto', 'r'],
    [25, 'functions', 'FunctionProto', 'r'],
  ],
  OperatorSetIdProto: [[1, 'domain', 'string'], [2, 'version', 'int64']],
  StringStringEntryProto: [[1, 'key', 'string'], [2, 'value', 'string']],
  GraphProto: [
    [1, 'node', 'NodeProto', 'r'], [2, 'name', 'string'], [5, 'initializer', 'TensorProto', 'r'],
    [15, 'sparse_initializer', 'SparseTensorProto', 'r'], [10, 'doc_string', 'string'],
    [11, 'input', 'ValueInfoProto', 'r'], [12, 'output', 'ValueInfoProto', 'r'],
    [13, 'value_info', 'ValueInfoProto', 'r'], [14, 'quantization_annotation', 'TensorAnnotation', 'r'],
    [16, 'metadata_props', 'StringStringEntryProto', 'r'],
  ],
  NodeProto: [
    [1, 'input', 'string', 'r'], [2, 'output', 'string', 'r'], [3, 'name', 'string'], [4, 'op_type', 'string'],
    [7, 'domain', 'string'], [8, 'overload', 'string'], [5, 'attribute', 'AttributeProto', 'r'],
    [6, 'doc_string', 'string'], [9, 'metadata_props', 'StringStringEntryProto', 'r'],
  ],
  AttributeProto: [
    [1, 'name', 'string'], [21, 'ref_attr_name', 'string'], [13, 'doc_string', 'string'], [20, 'type', 'int32'],
    [2, 'f', 'float'], [3, 'i', 'int64'], [4, 's', 'bytes'], [5, 't', 'TensorProto'], [6, 'g', 'GraphProto'],
    [22, 'sparse_tensor', 'SparseTensorProto'], [14, 'tp', 'TypeProto'],
    [7, 'floats', 'float', 'r'], [8, 'ints', 'int64', 'r'], [9, 'strings', 'bytes', 'r'],
    [10, 'tensors', 'TensorProto', 'r'], [11, 'graphs', 'GraphProto', 'r'],
    [23, 'sparse_tensors', 'SparseTensorProto', 'r'], [15, 'type_protos', 'TypeProto', 'r'],
  ],
  ValueInfoProto: [
    [1, 'name', 'string'], [2, 'type', 'TypeProto'], [3, 'doc_string', 'string'],
    [4, 'metadata_props', 'StringStringEntryProto', 'r'],
  ],
  TypeProto: [
    [1, 'tensor_type', 'TypeProtoTensor'], [4, 'sequence_type', 'TypeProtoSequence'],
    [5, 'map_type', 'TypeProtoMap'], [9, 'optional_type', 'TypeProtoOptional'],
    [8, 'sparse_tensor_type', 'TypeProtoSparseTensor'], [6, 'denotation', 'string'],
  ],
  TypeProtoTensor: [[1, 'elem_type', 'int32'], [2, 'shape', 'TensorShapeProto']],
  TypeProtoSequence: [[1, 'elem_type', 'TypeProto']],
  TypeProtoMap: [[1, 'key_type', 'int32'], [2, 'value_type', 'TypeProto']],
  TypeProtoOptional: [[1, 'elem_type', 'TypeProto']],
  TypeProtoSparseTensor: [[1, 'elem_type', 'int32'], [2, 'shape', 'TensorShapeProto']],
  TensorShapeProto: [[1, 'dim', 'Dimension', 'r']],
  Dimension: [[1, 'dim_value', 'int64'], [2, 'dim_param', 'string'], [3, 'denotation', 'string']],
  TensorProto: [
    [1, 'dims', 'int64', 'r'], [2, 'data_type', 'int32'], [3, 'segment', 'Segment'],
    [4, 'float_data', 'float', 'rp'], [5, 'int32_data', 'int32', 'rp'], [6, 'string_data', 'bytes', 'r'],
    [7, 'int64_data', 'int64', 'rp'], [8, 'name', 'string'], [12, 'doc_string', 'string'],
    [9, 'raw_data', 'bytes'], [13, 'external_data', 'StringStringEntryProto', 'r'],
    [14, 'data_location', 'int32'], [10, 'double_data', 'double', 'rp'], [11, 'uint64_data', 'uint64', 'rp'],
    [16, 'metadata_props', 'StringStringEntryProto', 'r'],
  ],
  Segment: [[1, 'begin', 'int64'], [2, 'end', 'int64']],
  SparseTensorProto: [[1, 'values', 'TensorProto'], [2, 'indices', 'TensorProto'], [3, 'dims', 'int64', 'r']],
  TensorAnnotation: [[1, 'tensor_name', 'string'], [2, 'quant_parameter_tensor_names', 'StringStringEntryProto', 'r']],
  TrainingInfoProto: [
    [1, 'initialization', 'GraphProto'], [2, 'algorithm', 'GraphProto'],
    [3, 'initialization_binding', 'StringStringEntryProto', 'r'], [4, 'update_binding', 'StringStringEntryProto', 'r'],
  ],
  FunctionProto: [
    [1, 'name', 'string'], [4, 'input', 'string', 'r'], [5, 'output', 'string', 'r'], [6, 'attribute', 'string', 'r'],
    [11, 'attribute_proto', 'AttributeProto', 'r'], [7, 'node', 'NodeProto', 'r'], [8, 'doc_string', 'string'],
    [9, 'opset_import', 'OperatorSetIdProto', 'r'], [10, 'domain', 'string'], [13, 'overload', 'string'],
    [12, 'value_info', 'ValueInfoProto', 'r'], [14, 'metadata_props', 'StringStringEntryProto', 'r'],
  ],
};

export const SCHEMA = {} as Record<MessageName, MessageDesc>;
for (const name of Object.keys(TABLES) as MessageName[]) {
  const fields = TABLES[name].map(([no, fname, type, flags]): FieldDesc => ({
    no, name: fname, type, repeated: flags !== undefined, packed: flags === 'rp',
  }));
  SCHEMA[name] = { name, fields, byNo: new Map(fields.map((f) => [f.no, f])) };
}

export function isMessageType(t: FieldDesc['type']): t is MessageName {
  return t in TABLES;
}

// ---- TypeScript views of the decoded messages --------------------------------

/** Book-keeping the codec attaches to every decoded message. */
export interface Message {
  /** The message's original encoding (a view into the file's bytes). */
  $raw?: Uint8Array;
  /** Fields this tool does not know, with their tags, in order. */
  $unknown?: Uint8Array[];
}

export interface StringStringEntryProto extends Message { key?: string; value?: string }
export interface OperatorSetIdProto extends Message { domain?: string; version?: Int64 }

export interface ModelProto extends Message {
  ir_version?: Int64;
  opset_import: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props: StringStringEntryProto[];
  training_info: TrainingInfoProto[];
  functions: FunctionProto[];
}

export interface GraphProto extends Message {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparse_initializer: SparseTensorProto[];
  doc_string?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
  quantization_annotation: Message[];
  metadata_props: StringStringEntryProto[];
}

export interface NodeProto extends Message {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute: AttributeProto[];
  doc_string?: string;
  metadata_props: StringStringEntryProto[];
}

export const enum AttributeType {
  UNDEFINED = 0, FLOAT = 1, INT = 2, STRING = 3, TENSOR = 4, GRAPH = 5, SPARSE_TENSOR = 11, TYPE_PROTO = 13,
  FLOATS = 6, INTS = 7, STRINGS = 8, TENSORS = 9, GRAPHS = 10, SPARSE_TENSORS = 12, TYPE_PROTOS = 14,
}

export interface AttributeProto extends Message {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  tp?: TypeProto;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  sparse_tensors: SparseTensorProto[];
  type_protos: TypeProto[];
}

export interface ValueInfoProto extends Message {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  metadata_props: StringStringEntryProto[];
}

export interface TypeProto extends Message {
  tensor_type?: TypeProtoTensor;
  sequence_type?: Message & { elem_type?: TypeProto };
  map_type?: Message & { key_type?: number; value_type?: TypeProto };
  optional_type?: Message & { elem_type?: TypeProto };
  sparse_tensor_type?: TypeProtoTensor;
  denotation?: string;
}

export interface TypeProtoTensor extends Message { elem_type?: number; shape?: TensorShapeProto }
export interface TensorShapeProto extends Message { dim: Dimension[] }
export interface Dimension extends Message { dim_value?: Int64; dim_param?: string; denotation?: string }

export interface TensorProto extends Message {
  dims: Int64[];
  data_type?: number;
  segment?: Message & { begin?: Int64; end?: Int64 };
  float_data: number[];
  int32_data: number[];
  string_data: Uint8Array[];
  int64_data: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data: StringStringEntryProto[];
  data_location?: number;
  double_data: number[];
  uint64_data: Int64[];
  metadata_props: StringStringEntryProto[];
}

export interface SparseTensorProto extends Message { values?: TensorProto; indices?: TensorProto; dims: Int64[] }

export interface TrainingInfoProto extends Message {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initialization_binding: StringStringEntryProto[];
  update_binding: StringStringEntryProto[];
}

export interface FunctionProto extends Message {
  name?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attribute_proto: AttributeProto[];
  node: NodeProto[];
  doc_string?: string;
  opset_import: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  value_info: ValueInfoProto[];
  metadata_props: StringStringEntryProto[];
}
