// The Gram matrix XᵀX and cross term XᵀY of least-squares reconstruction, run
// as a two-node ONNX graph (Gemm with transA) in onnxruntime, which uses all
// cores (and MLAS kernels) where the JavaScript loop uses one. Products come
// back in float32 per chunk and are summed in float64 by NormalEquations;
// chunks are a few thousand rows, so the float32 sums stay accurate.

import { requireOrt } from './ortRuntime';
import type { InferenceSession } from 'onnxruntime-node';
import { newGraph, newModel, newNode, newValueInfo } from '../onnx/build';
import { serializeModel } from '../onnx/model';
import { DataType } from '../onnx/tensor';
import { concatChunks } from '../onnx/wire';
import type { GramBackend } from '../pruning/recovery/gram';

/** A GramBackend on onnxruntime (CPU). Release it when done. */
export async function ortGram(): Promise<GramBackend> {
  const ort = requireOrt();
  const graph = newGraph('gram', [
    newNode('Gemm', ['x', 'x'], ['gram'], 'gram', { transA: 1 }),
    newNode('Gemm', ['x', 'y'], ['cross'], 'cross', { transA: 1 }),
  ], [newValueInfo('x', DataType.FLOAT, ['rows', 'd']), newValueInfo('y', DataType.FLOAT, ['rows', 'm'])],
  [newValueInfo('gram', DataType.FLOAT, ['d', 'd']), newValueInfo('cross', DataType.FLOAT, ['d', 'm'])]);
  const session: InferenceSession = await ort.InferenceSession.create(concatChunks(serializeModel(newModel(graph))));
  return {
    name: 'onnxruntime',
    async accumulate(eq, features, targets, rows) {
      const out = await session.run({
        x: new ort.Tensor('float32', features, [rows, eq.d]),
        y: new ort.Tensor('float32', targets, [rows, eq.m]),
      });
      eq.addProducts(out.gram.data as Float32Array, out.cross.data as Float32Array, rows);
    },
    release: () => session.release(),
  };
}
