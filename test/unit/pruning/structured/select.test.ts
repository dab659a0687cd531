// Importance criteria and channel selection: scores checked against the
// analysis layer table, Torch-Pruning's counting, caps, and safety guards.

import * as assert from 'node:assert/strict';
import { analyzeModel } from '../../../../src/analysis';
import { loadModelSync } from '../../../../src/onnx/model';
import { buildDependencyGraph, type DepGraph } from '../../../../src/pruning/depgraph';
import { registerCriterion, scoreGroups } from '../../../../src/pruning/importance';
import { applySelection, keptCount, selectChannels } from '../../../../src/pruning/structured';
import { NetBuilder, type Value } from '../../../fixtures/models/builders';
import { modelPath } from '../../../helpers/models';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `[${i}] ${a[i]} vs ${b[i]}`);
};

/** lenet groups by root module path. */
function lenet(): { graph: DepGraph; byRoot: (root: string) => number; m: ReturnType<typeof loadModelSync> } {
  const m = loadModelSync(modelPath('digits_lenet.onnx'));
  const graph = buildDependencyGraph(m);
  return { m, graph, byRoot: (root) => graph.groups.find((g) => g.roots.includes(root))!.id };
}

/** Two groups: a conv of 4 channels and one of 2, then a classifier. */
function twoGroups(): DepGraph {
  const b = new NetBuilder();
  const a = b.relu(b.conv({ name: 'input', channels: 3 }, 4, { name: 'a' }));
  const c = b.relu(b.conv(a, 2, { name: 'c' }));
  b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', c)), 3, 'output');
  return buildDependencyGraph(b.model({ name: 'input', dims: [1, 3, 8, 8] }, [{ name: 'output', dims: [1, 3] }]));
}

describe('importance criteria', () => {
  it('l1 and l2 on the producer side are the filter norms of the analysis table', () => {
    const { m, graph, byRoot } = lenet();
    const table = analyzeModel(m);
    for (const [p, key] of [['l1', 'l1'], ['l2', 'l2']] as const) {
      const scores = scoreGroups(m, graph, p);
      for (const l of table.layers.filter((x) => x.displayName !== 'fc3')) close(scores.get(byRoot(l.displayName))!, l.out[key]);
    }
  });

  it('on the consumer side they are the next layer\'s input-slice norms, summed over a Flatten block', () => {
    const { m, graph, byRoot } = lenet();
    const table = analyzeModel(m);
    const inL1 = (name: string) => table.layers.find((l) => l.displayName === name)!.in.l1;
    const scores = scoreGroups(m, graph, 'l1', { side: 'consumer' });
    close(scores.get(byRoot('conv1'))!, inL1('conv2'));
    // conv2's 16 channels feed fc1 through Flatten: each is a block of 2x2 = 4 inputs.
    const blocks = Array.from({ length: 16 }, (_, c) => inL1('fc1').slice(c * 4, c * 4 + 4).reduce((s, v) => s + v, 0));
    close(scores.get(byRoot('conv2'))!, blocks);
  });

  it('bn-gamma is |gamma| and says nothing about groups without BatchNorm', () => {
    const m = loadModelSync(modelPath('digits_vgg_slim_s1e-2.onnx'));
    const graph = buildDependencyGraph(m);
    const scores = scoreGroups(m, graph, 'bn-gamma');
    const table = analyzeModel(m);
    assert.equal(scores.size, 4);
    for (const l of table.layers.filter((x) => x.batchNorm)) {
      const gid = graph.groups.find((g) => g.roots.includes(l.displayName))!.id;
      close(scores.get(gid)!, l.batchNorm!.gamma.map(Math.abs));
    }
  });

  it('normalizers rescale per group; unknown criteria are named errors; registered ones are used', () => {
    const { m, graph } = lenet();
    for (const s of scoreGroups(m, graph, 'l1', { normalizer: 'max' }).values()) assert.ok(Math.abs(Math.max(...s) - 1) < 1e-6);
    assert.throws(() => scoreGroups(m, graph, 'taylor'), /unknown importance criterion "taylor"; known: l1, l2, bn-gamma, random/);
    registerCriterion('test_index', (g) => Float64Array.from({ length: g.size }, (_, i) => -i));
    const sel = selectChannels(graph, scoreGroups(m, graph, 'test_index'), { ratio: 0.5 });
    const conv1 = graph.groups.find((g) => g.roots.includes('conv1'))!.id;
    assert.deepEqual(sel.remove.get(conv1), [3, 4, 5], 'the highest indices score lowest');
  });

  it('random is seeded: the same seed gives the same scores', () => {
    const { m, graph } = lenet();
    const a = scoreGroups(m, graph, 'random', { seed: 5 });
    const b = scoreGroups(m, graph, 'random', { seed: 5 });
    const c = scoreGroups(m, graph, 'random', { seed: 6 });
    assert.deepEqual([...a.values()], [...b.values()]);
    assert.notDeepEqual([...a.values()], [...c.values()]);
  });
});

describe('channel selection', () => {
  it('keeps int(size * (1 - ratio)) channels, as Torch-Pruning does', () => {
    assert.equal(keptCount(64, 0.5), 32);
    assert.equal(keptCount(10, 0.3), 7);
    assert.equal(keptCount(100, 0.7), 30);
    assert.equal(keptCount(6, 0.5), 3);
  });

  it('global: the n-th smallest score over all groups is the threshold', () => {
    const graph = twoGroups();
    const scores = new Map([[0, Float64Array.from([1, 2, 3, 4])], [1, Float64Array.from([0.5, 5])]]);
    const sel = selectChannels(graph, scores, { scope: 'global', ratio: 0.5 });
    assert.deepEqual([...sel.remove], [[0, [0, 1]], [1, [0]]]);
  });

  it('global: channels tied at the threshold share the remaining count in proportion, so exactly n go', () => {
    const graph = twoGroups();
    // n = 3: score 1 is below the threshold 2; three channels tie at 2 for the last two places.
    const tied = new Map([[0, Float64Array.from([1, 2, 2, 4])], [1, Float64Array.from([2, 5])]]);
    const sel = selectChannels(graph, tied, { scope: 'global', ratio: 0.5 });
    assert.deepEqual([...sel.remove], [[0, [0, 1]], [1, [0]]]);
    // An untrained network: every score equal. Torch-Pruning would empty every group to one channel.
    const flat = new Map([[0, Float64Array.from([1, 1, 1, 1])], [1, Float64Array.from([1, 1])]]);
    const even = selectChannels(graph, flat, { scope: 'global', ratio: 0.5 });
    assert.deepEqual([...even.remove], [[0, [0, 1]], [1, [0]]]);
  });

  it('local: lowest scores go; roundTo, maxRatio and the last channel limit the count', () => {
    const graph = twoGroups();
    const scores = new Map([[0, Float64Array.from([4, 1, 3, 2])], [1, Float64Array.from([2, 1])]]);
    assert.deepEqual(selectChannels(graph, scores, { ratio: 0.5 }).remove.get(0), [1, 3]);
    assert.deepEqual(selectChannels(graph, scores, { ratio: 0.75, roundTo: 2 }).remove.get(0), [1, 3]);
    assert.deepEqual(selectChannels(graph, scores, { ratio: 0.75, maxRatio: 0.25 }).remove.get(0), [1]);
    assert.deepEqual(selectChannels(graph, scores, { ratio: 0.9 }).remove.get(1), [1], 'one channel always stays');
    assert.deepEqual(selectChannels(graph, scores, { perLayer: { c: 0.5 } }).remove.get(1), [1]);
    assert.equal(selectChannels(graph, scores, { perLayer: { c: 0.5 } }).remove.has(0), false);
    assert.throws(() => selectChannels(graph, scores, { ratio: 1 }), /ratio must be a fraction/);
    assert.throws(() => selectChannels(graph, scores, { perLayer: { nothing: 0.5 } }), /no layer matches "nothing"/);
  });

  it('never empties a value that holds part of a group (a Split output)', () => {
    const b = new NetBuilder();
    const a = b.relu(b.conv({ name: 'input', channels: 3 }, 4, { name: 'a' }));
    const [s0, s1] = b.split(a, [1, 3]);
    const t0 = b.relu(b.conv(s0, 2));
    const t1 = b.relu(b.conv(s1, 2));
    const cat: Value = b.concat([t0, t1]);
    b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', cat)), 3, 'output');
    const m = b.model({ name: 'input', dims: [1, 3, 8, 8] }, [{ name: 'output', dims: [1, 3] }]);
    const graph = buildDependencyGraph(m);
    const gid = graph.groups.find((g) => g.roots.includes('a'))!.id;
    const scores = new Map([[gid, Float64Array.from([0, 3, 2, 1])]]);
    const sel = selectChannels(graph, scores, { ratio: 0.5 });
    assert.deepEqual(sel.remove.get(gid), [3], 'channel 0, all of the first split, is put back');
    assert.throws(() => applySelection(m, graph, new Map([[gid, [0]]])), /removes every channel of split/);
  });

  it('putting a channel back says so and keeps roundTo', () => {
    const b = new NetBuilder();
    const a = b.relu(b.conv({ name: 'input', channels: 3 }, 8, { name: 'a' }));
    const [s0, s1] = b.split(a, [2, 6]);
    const cat: Value = b.concat([b.relu(b.conv(s0, 2)), b.relu(b.conv(s1, 2))]);
    b.gemm(b.unary('Flatten', b.unary('GlobalAveragePool', cat)), 3, 'output');
    const graph = buildDependencyGraph(b.model({ name: 'input', dims: [1, 3, 8, 8] }, [{ name: 'output', dims: [1, 3] }]));
    const gid = graph.groups.find((g) => g.roots.includes('a'))!.id;
    // The two channels of the first split score lowest; half of 8 go, in multiples of 2.
    const scores = new Map([[gid, Float64Array.from([0, 1, 5, 2, 6, 3, 7, 8])]]);
    const sel = selectChannels(graph, scores, { ratio: 0.5, roundTo: 2 });
    // 0, 1, 3, 5 would go; 1 comes back for the split, and 5 (the best left) for roundTo: 6 kept.
    assert.deepEqual(sel.remove.get(gid), [0, 3]);
    assert.equal((8 - sel.remove.get(gid)!.length) % 2, 0);
    assert.match(sel.warnings.join('\n'), /would lose every channel: 2 channel\(s\) of a are kept \(1, 5\)/);
  });

  it('refuses to cut a frozen group', () => {
    const { m, graph } = lenet();
    const fc3 = graph.groups.find((g) => g.roots.includes('fc3'))!;
    assert.throws(() => applySelection(m, graph, new Map([[fc3.id, [0]]])), /cannot be removed: it reaches the graph output logits/);
  });
});
