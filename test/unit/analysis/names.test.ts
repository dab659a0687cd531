// Module paths from the names real exporters write: PyTorch scopes (nested
// Sequentials repeat their parent's name), weight names with and without
// constant folding, Paddle's `p2o.Conv.N` nodes with `conv2d_0.w_0` weights.

import { strict as assert } from 'node:assert';
import { analyzeModel, displayName, moduleOfParameter, scopePath } from '../../../src/analysis';
import { floatTensor, newGraph, newModel, newNode, newValueInfo } from '../../../src/onnx/build';
import { OnnxModel } from '../../../src/onnx/model';
import { DataType } from '../../../src/onnx/tensor';

describe('analysis: display names', () => {
  it('a scope component that starts with the previous one plus "." adds only its remainder', () => {
    const cases: [string, string | undefined][] = [
      ['/features/features.1/features.1.0/block/block.0/block.0.0/Conv', 'features.1.0.block.0.0'],
      ['/blocks/blocks.2/mlp/mlp.0/MatMul', 'blocks.2.mlp.0'],
      ['/layer1/layer1.0/conv1/Conv', 'layer1.0.conv1'],
      ['/layers.0/self_attn/q_proj/MatMul', 'layers.0.self_attn.q_proj'],
      ['/model/layers.3/mlp/down_proj/MatMul', 'model.layers.3.mlp.down_proj'],
      // `head` does not start with `head_drop.`: a sibling, not a child's remainder.
      ['/head_drop/head/Gemm', 'head_drop.head'],
      ['/MatMul', undefined],
      ['p2o.Conv.3', undefined],
      ['Conv_12', undefined],
    ];
    for (const [name, expected] of cases) assert.equal(scopePath(name), expected, name);
  });

  it('parameter names: PyTorch `.weight`, Paddle `.w_N`; folded `onnx::` names carry nothing', () => {
    assert.equal(moduleOfParameter('layer1.0.conv1.weight'), 'layer1.0.conv1');
    assert.equal(moduleOfParameter('conv2d_0.w_0'), 'conv2d_0');
    assert.equal(moduleOfParameter('linear_12.w_1'), 'linear_12');
    assert.equal(moduleOfParameter('blocks.0.attn.qkv.bias', ['bias']), 'blocks.0.attn.qkv');
    assert.equal(moduleOfParameter('onnx::MatMul_299'), undefined);
    assert.equal(moduleOfParameter('fc_w'), undefined);
  });

  it('which name wins: weight, then scope, then the bias of the Add after a MatMul, then the node name', () => {
    const n = (name: string) => newNode('Conv', ['x', 'w'], ['y'], name);
    assert.equal(displayName(n('/features/features.0/Conv'), 'features.0.weight', 'x'), 'features.0');
    assert.equal(displayName(n('/features/features.1/features.1.0/block/block.0/block.0.0/Conv'), 'onnx::Conv_301', 'x'), 'features.1.0.block.0.0');
    assert.equal(displayName(n('p2o.Conv.7'), 'conv2d_7.w_0', 'p2o.Conv.7'), 'conv2d_7');
    assert.equal(displayName(n('MatMul_3'), 'onnx::MatMul_9', 'MatMul_3', 'encoder.fc.bias'), 'encoder.fc');
    assert.equal(displayName(n('MatMul_3'), 'onnx::MatMul_9', 'MatMul_3'), 'MatMul_3');
  });

  it('a Paddle-style graph (p2o.Conv.N nodes, weights in Constant nodes) is shown by its weight names', () => {
    const F = DataType.FLOAT;
    const w = (name: string, dims: number[]) => newNode('Constant', [], [name], `p2o.Constant.${name}`, { value: floatTensor(name, dims, new Array(dims.reduce((a, b) => a * b, 1)).fill(0.5)) });
    const nodes = [
      w('conv2d_0.w_0', [4, 3, 3, 3]), w('conv2d_1.w_0', [4, 4, 1, 1]),
      newNode('Conv', ['x', 'conv2d_0.w_0'], ['a'], 'p2o.Conv.0'),
      newNode('Conv', ['a', 'conv2d_1.w_0'], ['y'], 'p2o.Conv.1'),
    ];
    const model = new OnnxModel(newModel(newGraph('g', nodes, [newValueInfo('x', F, ['p2o.DynamicDimension.0', 3, 8, 8])],
      [newValueInfo('y', F, ['p2o.DynamicDimension.0', 4, 6, 6])], []), 9), new Uint8Array(10));
    assert.deepEqual(analyzeModel(model).layers.map((l) => [l.name, l.displayName]), [['p2o.Conv.0', 'conv2d_0'], ['p2o.Conv.1', 'conv2d_1']]);
  });
});
