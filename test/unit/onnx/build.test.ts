// New value names: one uniqueName for every pass that adds values to a graph
// (the structured engine's cut copies, recovery's refit constants), so one
// pass never reuses a name another added.
import * as assert from 'node:assert/strict';
import { floatTensor, newGraph, newNode, newValueInfo, uniqueName } from '../../../src/onnx/build';
import { GraphIndex } from '../../../src/onnx/graph';
import type { OnnxModel } from '../../../src/onnx/model';
import { setConstantFloats } from '../../../src/pruning/recovery/constants';
import { NetBuilder } from '../../fixtures/models/builders';

describe('onnx build: unique names', () => {
  it('keeps a free name, and numbers a taken one (initializers, node outputs, inputs)', () => {
    const g = newGraph('g', [newNode('Relu', ['x'], ['y'])], [newValueInfo('x', 1, [1])], [newValueInfo('y', 1, [1])], [floatTensor('w', [1], [1])]);
    assert.equal(uniqueName(g, 'fresh'), 'fresh');
    assert.equal(uniqueName(g, 'fresh'), 'fresh_1', 'a name handed out is taken');
    assert.equal(uniqueName(g, 'w'), 'w_1');
    assert.equal(uniqueName(g, 'w'), 'w_2');
    assert.equal(uniqueName(g, 'y'), 'y_1');
    assert.equal(uniqueName(g, 'x'), 'x_1');
  });

  it('a name recovery adds is taken for the structured engine too', () => {
    // Two convs reading one weight: refitting one of them gives it a copy, <weight>.refit.
    const b = new NetBuilder();
    const x = { name: 'input', channels: 3 };
    const w = b.init('shared.weight', [4, 3, 3, 3]);
    const [a] = b.node('Conv', [x.name, w], { pads: [1, 1, 1, 1] });
    const [c] = b.node('Conv', [x.name, w], { pads: [1, 1, 1, 1] });
    const [sum] = b.node('Add', [a, c]);
    const model: OnnxModel = b.model({ name: 'input', dims: [1, 3, 8, 8] }, [{ name: sum, dims: [1, 4, 8, 8] }]);
    const index = new GraphIndex(model.graph);
    const first = index.nodes.find((n) => n.output[0] === a)!;
    setConstantFloats(model, index, first, 1, [4, 3, 3, 3], new Float32Array(108));
    assert.equal(first.input[1], 'shared.weight.refit');
    assert.equal(uniqueName(model.graph, 'shared.weight.refit'), 'shared.weight.refit_1');
  });
});
