// The models view's nesting, on the real models and on a model with thousands of layers.
import * as assert from 'node:assert/strict';
import { analyzeFile } from '../../../src/analysis';
import { countLayers, nestLayers, type TreeNode } from '../../../src/extension/treeModel';
import { measureModelsView } from '../../../scripts/bench/modelsView';
import { modelPath } from '../../helpers/models';

const label = (n: TreeNode<string>) => (n.kind === 'group' || n.kind === 'layer' ? n.label : n.kind);

/** Every layer under `nodes`, with the dotted path of labels leading to it. */
function flatten(nodes: TreeNode<string>[], prefix = ''): { path: string; name: string }[] {
  return nodes.flatMap((n) => {
    const p = prefix ? `${prefix}.${label(n)}` : label(n);
    if (n.kind === 'layer') return [{ path: p, name: n.layer.displayName }];
    return n.kind === 'group' ? flatten(n.children, p) : [];
  });
}

describe('extension models view nesting', () => {
  it('nests digits_resnet_slim_s1e-2 as stem.0, layer1 › conv1 …, fc, and every label path spells the module path', async () => {
    const table = await analyzeFile(modelPath('digits_resnet_slim_s1e-2.onnx'));
    const top = nestLayers('m', table.layers);
    assert.deepEqual(top.map(label), ['stem.0', 'layer1', 'layer2', 'fc']);
    const layer2 = top[2] as Extract<TreeNode<string>, { kind: 'group' }>;
    assert.deepEqual(layer2.children.map(label), ['down.0', 'conv1', 'conv2']);
    const flat = flatten(top);
    assert.deepEqual(flat.map((f) => f.name), table.layers.map((l) => l.displayName));
    for (const f of flat) assert.equal(f.path, f.name);
  });

  it('keeps a 3000-layer model to its real depth, every layer once', async () => {
    const { table } = await measureModelsView(3000);
    assert.equal(table.layers.length, 3000);
    const top = nestLayers('m', table.layers);
    assert.equal(top.length, 30); // stage0 … stage29
    assert.equal(top.reduce((n, t) => n + countLayers(t), 0), 3000);
    const stage = top[0] as Extract<TreeNode<string>, { kind: 'group' }>;
    assert.equal(stage.children.length, 25);
    const flat = flatten(top);
    assert.equal(new Set(flat.map((f) => f.name)).size, 3000);
    for (const f of flat) assert.equal(f.path, f.name);
  });
});
