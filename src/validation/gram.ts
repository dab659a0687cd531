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
import type { ProductBackend } from '../pruning/recovery/products';
import type { NodeProto } from '../onnx/schema';

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

/**
 * A ProductBackend on onnxruntime (CPU): float64 Gemm, with transB for A·Bᵀ,
 * multi-threaded MLAS kernels where the JavaScript loop uses one
 * core. Release it when done.
 */
export async function ortProducts(): Promise<ProductBackend> {
  const ort = requireOrt();
  const session = (node: NodeProto) => ort.InferenceSession.create(concatChunks(serializeModel(newModel(newGraph('products', [node],
    [newValueInfo('a', DataType.DOUBLE, ['m', 'k']), newValueInfo('b', DataType.DOUBLE, ['kb', 'nb'])],
    [newValueInfo('c', DataType.DOUBLE, ['m', 'n'])])))));
  const plain = await session(newNode('Gemm', ['a', 'b'], ['c'], 'product'));
  const transposed = await session(newNode('Gemm', ['a', 'b'], ['c'], 'product', { transB: 1 }));
  const minus = await ort.InferenceSession.create(concatChunks(serializeModel(newModel(newGraph('products', [
    newNode('Gemm', ['a', 'b', 'c0'], ['c'], 'product', { alpha: { float: -1 }, beta: { float: 1 } }),
  ], [newValueInfo('a', DataType.DOUBLE, ['m', 'k']), newValueInfo('b', DataType.DOUBLE, ['k', 'n']), newValueInfo('c0', DataType.DOUBLE, ['m', 'n'])],
  [newValueInfo('c', DataType.DOUBLE, ['m', 'n'])])))));
  return {
    name: 'onnxruntime',
    async multiply(a, b, m, k, n, transB = false) {
      if (!m || !n) return new Float64Array(m * n);
      const out = await (transB ? transposed : plain).run({
        a: new ort.Tensor('float64', a, [m, k]),
        b: new ort.Tensor('float64', b, transB ? [n, k] : [k, n]),
      });
      return out.c.data as Float64Array;
    },
    async subtractProduct(c, a, b, m, k, n) {
      if (!m || !n || !k) return;
      const out = await minus.run({
        a: new ort.Tensor('float64', a, [m, k]),
        b: new ort.Tensor('float64', b, [k, n]),
        c0: new ort.Tensor('float64', c, [m, n]),
      });
      c.set(out.c.data as Float64Array);
    },
    async release() {
      await Promise.all([plain.release(), transposed.release(), minus.release()]);
    },
  };
}
