// Reading and writing node attributes by name, with defaults, the way op
// definitions describe them.

import type { AttributeProto, NodeProto, TensorProto } from './schema';
import { AttributeType } from './schema';
import { toNumber } from './tensor';

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a?.i !== undefined ? toNumber(a.i) : dflt;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? a.ints.map(toNumber) : undefined;
}

export function attrFloat(node: NodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a?.f ?? dflt;
}

export function attrString(node: NodeProto, name: string, dflt: string): string {
  const a = attr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : dflt;
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return attr(node, name)?.t;
}

/** Sets (or adds) an INT attribute. */
export function setAttrInt(node: NodeProto, name: string, value: number): void {
  const a = attr(node, name);
  if (a) {
    a.i = value;
    a.type = AttributeType.INT;
  } else {
    node.attribute.push(newAttribute(name, AttributeType.INT, { i: value }));
  }
}

export function setAttrInts(node: NodeProto, name: string, values: number[]): void {
  const a = attr(node, name);
  if (a) {
    a.ints = values.slice();
    a.type = AttributeType.INTS;
  } else {
    node.attribute.push(newAttribute(name, AttributeType.INTS, { ints: values.slice() }));
  }
}

function newAttribute(name: string, type: number, fields: Partial<AttributeProto>): AttributeProto {
  return {
    name, type, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [],
    ...fields,
  };
}
