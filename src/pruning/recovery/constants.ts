// Writing new values into a node's constant input without touching any other
// node: real exports share initializers (resnet18 feeds every BatchNorm of one
// size from a single tensor through Identity nodes), so a tensor is edited in
// place only when this node is its sole reader; otherwise the node gets a copy.

import { newTensor, uniqueName } from '../../onnx/build';
import { PruneLensError } from '../../onnx/errors';
import { GraphIndex } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import type { NodeProto } from '../../onnx/schema';
import { DataType, setTensorFloats, tensorFloats } from '../../onnx/tensor';

/** The float values of node.input[i] (a copy, safe to change). */
export function constantFloats(model: OnnxModel, index: GraphIndex, node: NodeProto, i: number): Float32Array {
  const c = node.input[i] ? index.constant(node.input[i]) : undefined;
  if (!c) throw new PruneLensError('unsupported', `input ${i} of ${index.nameOf(node)} is not a constant`, { node: index.nameOf(node) });
  return tensorFloats(c.tensor, model.external).slice();
}

/**
 * Sets node.input[i] to `values` with `dims`, keeping the tensor's element
 * type. Adds the input (a new initializer) when the node has none there.
 */
export function setConstantFloats(model: OnnxModel, index: GraphIndex, node: NodeProto, i: number, dims: number[],
  values: Float32Array): void {
  const name = node.input[i];
  const c = name ? index.constant(name) : undefined;
  if (name && !c) throw new PruneLensError('unsupported', `input ${i} of ${index.nameOf(node)} is computed, not a constant`, { node: index.nameOf(node) });
  const soleReader = c && c.kind === 'initializer' && c.via.length === 0 && !index.graphInputs.has(name!) &&
    !index.graphOutputs.has(name!) && index.consumers(name!).every((n) => n === node);
  if (c && soleReader) {
    setTensorFloats(c.tensor, dims, values);
    return;
  }
  const fresh = newTensor(uniqueName(model.graph, `${c?.holder ?? index.nameOf(node)}.refit`), c?.tensor.data_type ?? DataType.FLOAT, dims, new Uint8Array(0));
  setTensorFloats(fresh, dims, values);
  model.graph.initializer.push(fresh);
  while (node.input.length <= i) node.input.push('');
  node.input[i] = fresh.name!;
}
