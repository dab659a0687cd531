// The property that makes structured pruning trustworthy: channels that
// contribute nothing can be removed without changing any output. For every
// model, zero some channels of every prunable group, then remove exactly those
// channels; onnxruntime must give the same outputs (max abs diff < 1e-5).

import * as assert from 'node:assert/strict';
import { loadModelSync, type OnnxModel } from '../../../../src/onnx/model';
import { buildDependencyGraph } from '../../../../src/pruning/depgraph';
import { applySelection } from '../../../../src/pruning/structured';
import { FIXTURES } from '../../../fixtures/models/builders';
import { bytesOf, digitsVal, maxAbsDiff, randomFeed, run, type Feed } from './helpers';
import { modelPath } from '../../../helpers/models';
import { pickChannels, zeroChannels } from './zero';

async function zeroThenRemove(fresh: () => OnnxModel, feed: Feed, fraction: number, only?: number) {
  const m = fresh();
  const graph = buildDependencyGraph(m);
  const remove = pickChannels(graph, fraction, 11, only);
  zeroChannels(m, graph, remove);
  const zeroed = bytesOf(m);
  applySelection(m, graph, remove);
  const pruned = bytesOf(m);
  const a = await run(zeroed, [feed]);
  const b = await run(pruned, [feed]);
  const diffs = Object.keys(a).map((k) => maxAbsDiff(a[k], b[k]));
  return { graph, remove, diff: Math.max(...diffs), zeroedBytes: zeroed.length, prunedBytes: pruned.length };
}

describe('structured pruning removes zero channels exactly', function () {
  const digits = ['digits_lenet.onnx', 'digits_mlp.onnx', 'digits_vgg_slim_s1e-2.onnx', 'digits_resnet_slim_s1e-2.onnx'];

  for (const name of digits) {
    it(`${name}: each group on its own, then all at once`, async () => {
      const fresh = () => loadModelSync(modelPath(name));
      const feed = digitsVal();
      const groups = buildDependencyGraph(fresh()).groups.filter((g) => !g.frozen);
      assert.ok(groups.length >= 2, 'the model has prunable groups');
      for (const g of groups) {
        const r = await zeroThenRemove(fresh, feed, 0.4, g.id);
        assert.ok(r.diff < 1e-5, `group ${g.roots.join(',')}: outputs moved by ${r.diff}`);
      }
      const all = await zeroThenRemove(fresh, feed, 0.4);
      assert.ok(all.diff < 1e-5, `all groups: outputs moved by ${all.diff}`);
      assert.ok(all.prunedBytes < all.zeroedBytes * 0.8, 'the pruned model is smaller');
    });
  }

  it('resnet18_seed0_bn.onnx: every group at once, random input', async () => {
    const r = await zeroThenRemove(() => loadModelSync(modelPath('resnet18_seed0_bn.onnx')),
      randomFeed('input', [1, 3, 224, 224]), 0.3);
    assert.ok(r.remove.size >= 10, `${r.remove.size} groups cut`);
    assert.ok(r.diff < 1e-5, `outputs moved by ${r.diff}`);
  });

  for (const f of FIXTURES) {
    it(`${f.name} (${f.covers.join(', ')})`, async () => {
      const feed = randomFeed(f.input.name, f.input.dims);
      const groups = buildDependencyGraph(f.build()).groups.filter((g) => !g.frozen);
      assert.ok(groups.length >= 3, `${groups.length} prunable groups`);
      for (const g of groups) {
        const r = await zeroThenRemove(f.build, feed, 0.5, g.id);
        assert.ok(r.diff < 1e-5, `group ${g.roots.join(',')}: outputs moved by ${r.diff}`);
      }
      const all = await zeroThenRemove(f.build, feed, 0.5);
      assert.ok(all.diff < 1e-5, `all groups: outputs moved by ${all.diff}`);
      assert.ok(all.prunedBytes < all.zeroedBytes, 'the pruned model is smaller');
    });
  }
});
