// Embeddings (Gather on a float table) and the layers tied to them. A tied
// lm_head is one parameter in the user's model, but the export may keep it as
// the same initializer (MatMul on Transpose(E), Gemm with transB) or, with
// constant folding, as a separate transposed copy (`onnx::MatMul_520` = Eᵀ).

import type { GraphIndex } from '../onnx/graph';
import type { OnnxModel } from '../onnx/model';
import { attrInt } from '../onnx/attributes';
import { DataType, tensorDims, tensorFloats } from '../onnx/tensor';
import type { PrunableLayer } from './layers';
import { displayName } from './names';
import type { EmbeddingInfo } from './types';

const FLOAT = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

export function findEmbeddings(index: GraphIndex): EmbeddingInfo[] {
  const out: EmbeddingInfo[] = [];
  for (const [position, node] of index.nodes.entries()) {
    if (node.op_type !== 'Gather' || attrInt(node, 'axis', 0) !== 0) continue;
    const table = node.input[0] ? index.constant(node.input[0]) : undefined;
    if (!table || !FLOAT.has(table.tensor.data_type ?? 0)) continue;
    const dims = tensorDims(table.tensor);
    if (dims.length !== 2) continue;
    const name = index.nameOf(node);
    out.push({
      name, displayName: displayName(node, table.holder, name), position, weightName: table.holder,
      rows: dims[0], dim: dims[1], params: dims[0] * dims[1], tiedLayers: [],
    });
  }
  return out;
}

/**
 * Records which layers share an embedding's table: the same tensor, or a copy
 * of it in the layout the layer reads ([dim, rows] for a MatMul weight).
 * Returns layer name → embedding weight name.
 */
export function tieLayers(model: OnnxModel, index: GraphIndex, embeddings: EmbeddingInfo[], layers: PrunableLayer[]): Map<string, string> {
  const tied = new Map<string, string>();
  for (const e of embeddings) {
    const table = index.constant(e.weightName)!.tensor;
    let values: Float32Array | undefined;
    for (const l of layers) {
      let same = l.weight.holder === e.weightName;
      if (!same && l.outAxis !== l.inAxis && l.dims[l.outAxis] === e.rows && l.dims[l.inAxis] === e.dim && l.dims.length === 2) {
        values ??= tensorFloats(table, model.external);
        same = equalTable(values, e.rows, e.dim, tensorFloats(l.weight.tensor, model.external), l.outAxis === 1);
      }
      if (!same) continue;
      e.tiedLayers.push(l.name);
      tied.set(l.name, e.weightName);
    }
  }
  return tied;
}

/** Whether `w` holds the table E[rows, dim], transposed ([dim, rows]) or not. */
function equalTable(e: Float32Array, rows: number, dim: number, w: Float32Array, transposed: boolean): boolean {
  if (w.length !== e.length) return false;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < dim; c++) {
      if (e[r * dim + c] !== w[transposed ? c * rows + r : r * dim + c]) return false;
    }
  }
  return true;
}
