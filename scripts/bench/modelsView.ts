// The models view on a model with thousands of layers: a synthetic deep
// network (stages › blocks › Conv+BN+ReLU, module paths like PyTorch's), its
// analysis and the nesting the tree shows. The view parses once per file
// version and builds its items lazily, so these two steps are its whole cost.
//
//   const r = await measureModelsView(3000);   // { layers, bytes, analyzeMs, nestMs }

import { analyzeModel } from '../../src/analysis';
import type { LayerTable } from '../../src/analysis/types';
import { newGraph, newModel, newNode, newValueInfo, floatTensor } from '../../src/onnx/build';
import { parseModel, serializeModel } from '../../src/onnx/model';
import { DataType } from '../../src/onnx/tensor';
import { concatChunks } from '../../src/onnx/wire';
import { nestLayers } from '../../src/extension/treeModel';

const CHANNELS = 4;
const BLOCKS_PER_STAGE = 25;
const CONVS_PER_BLOCK = 4;

/** Bytes of a chain of `layers` Conv(4→4, 1×1)+BN+ReLU, named stageS.blockB.convC. */
export function deepModel(layers: number): Uint8Array {
  const nodes = [];
  const inits = [];
  let x = 'input';
  const perStage = BLOCKS_PER_STAGE * CONVS_PER_BLOCK;
  for (let i = 0; i < layers; i++) {
    const path = `stage${Math.floor(i / perStage)}.block${Math.floor(i / CONVS_PER_BLOCK) % BLOCKS_PER_STAGE}.conv${i % CONVS_PER_BLOCK}`;
    const bn = `${path}.bn`;
    const w = Float32Array.from({ length: CHANNELS * CHANNELS }, (_, k) => Math.sin(i * 7 + k) * 0.5);
    const gamma = Float32Array.from({ length: CHANNELS }, (_, k) => Math.abs(Math.cos(i + k)));
    inits.push(
      floatTensor(`${path}.weight`, [CHANNELS, CHANNELS, 1, 1], w),
      floatTensor(`${bn}.weight`, [CHANNELS], gamma),
      floatTensor(`${bn}.bias`, [CHANNELS], new Float32Array(CHANNELS)),
      floatTensor(`${bn}.running_mean`, [CHANNELS], new Float32Array(CHANNELS)),
      floatTensor(`${bn}.running_var`, [CHANNELS], new Float32Array(CHANNELS).fill(1)),
    );
    nodes.push(
      newNode('Conv', [x, `${path}.weight`], [`${path}.out`], `/${path.replace(/\./g, '/')}/Conv`),
      newNode('BatchNormalization', [`${path}.out`, `${bn}.weight`, `${bn}.bias`, `${bn}.running_mean`, `${bn}.running_var`], [`${bn}.out`]),
      newNode('Relu', [`${bn}.out`], [`${path}.relu`]),
    );
    x = `${path}.relu`;
  }
  nodes.push(newNode('Identity', [x], ['output']));
  const graph = newGraph('deep', nodes, [newValueInfo('input', DataType.FLOAT, ['N', CHANNELS, 8, 8])],
    [newValueInfo('output', DataType.FLOAT, ['N', CHANNELS, 8, 8])], inits);
  return concatChunks(serializeModel(newModel(graph)));
}

export async function measureModelsView(layers = 3000): Promise<{ layers: number; bytes: number; analyzeMs: number; nestMs: number; table: LayerTable }> {
  const bytes = deepModel(layers);
  const t0 = performance.now();
  const table = analyzeModel(parseModel(bytes, 'deep.onnx'));
  const t1 = performance.now();
  nestLayers('deep.onnx', table.layers);
  const t2 = performance.now();
  return { layers: table.layers.length, bytes: bytes.length, analyzeMs: t1 - t0, nestMs: t2 - t1, table };
}
