// The channel groups and default-prune selection the hovers show come straight
// from the structured engine: checked against the Torch-Pruning reference.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { analyzeFile } from '../../../src/analysis';
import { analyzeGroups } from '../../../src/extension/groups';
import { modelPath } from '../../helpers/models';


describe('extension channel groups', () => {
  it('previews the global |γ| prune of digits_vgg_slim_s1e-2 exactly as Torch-Pruning cut it', async () => {
    const file = modelPath('digits_vgg_slim_s1e-2.onnx');
    const reference = JSON.parse(fs.readFileSync(modelPath('digits_vgg_tp_bnscale_50_global_nonorm.json'), 'utf8')) as {
      groups: { root: string; pruned_idxs: number[] }[];
    };
    const table = await analyzeFile(file);
    const groups = await analyzeGroups(file, { method: 'bn-gamma', scope: 'global', ratio: 0.5, normalizer: 'none' });
    for (const g of reference.groups) {
      const layer = table.layers.find((l) => l.displayName === g.root)!;
      assert.deepEqual(groups[layer.name].removed, [...g.pruned_idxs].sort((a, b) => a - b), g.root);
    }
    // The classifier's outputs are the model's: frozen, never cut.
    const last = table.layers[table.layers.length - 1];
    assert.match(groups[last.name].frozen ?? '', /graph output/);
    assert.deepEqual(groups[last.name].removed, []);
  });

  it('couples the residual branches of digits_resnet_slim_s1e-2 into one group', async () => {
    const file = modelPath('digits_resnet_slim_s1e-2.onnx');
    const table = await analyzeFile(file);
    const groups = await analyzeGroups(file);
    const byPath = (p: string) => groups[table.layers.find((l) => l.displayName === p)!.name];
    assert.equal(byPath('layer2.conv2'), byPath('layer2.down.0'));
    assert.deepEqual([...byPath('layer2.conv2').roots].sort(), ['layer2.conv2', 'layer2.down.0']);
    assert.notEqual(byPath('layer2.conv1'), byPath('layer2.conv2'));
    assert.equal(byPath('layer2.conv2').removed, undefined, 'no preview asked, none computed');
  });
});
